"""Makes the weight fixtures of tests/zoo/weights.rs, once, with PyTorch (in a throwaway
virtual environment: `python3 -m venv /tmp/t && /tmp/t/bin/pip install torch safetensors`).

zoo's `cnn` architecture (narrowed: 8 and 16 filters, dense 32, so the files stay small) is
trained briefly by PyTorch on the MNIST extract zoo ships, then saved as a PyTorch state dict
(`cnn.pth`, and `cnn-checkpoint.pth` with it under a `state_dict` key) and as safetensors
(`cnn.safetensors`), with its logits on the first 8 test images of the extract
(`cnn-logits.json`): zoo must load both files and give the same logits. And a VGG16 with
torchvision's parameter names, narrowed 32 times (`vgg16-narrow.*`), with its logits on a
fixed input: a torchvision `vgg16` weights file must load the same way.

    python3 benches/make_weight_fixtures.py [OUT_DIR]      (default tests/fixtures/weights)
"""
import gzip
import json
import os
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F
from safetensors.torch import save_file

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(HERE, "..", "assets", "mnist")


def read(split):
    images = gzip.open(os.path.join(ASSETS, f"{split}-images-idx3-ubyte.gz")).read()[16:]
    labels = gzip.open(os.path.join(ASSETS, f"{split}-labels-idx1-ubyte.gz")).read()[8:]
    x = torch.frombuffer(bytearray(images), dtype=torch.uint8).float().div(255).view(-1, 1, 28, 28)
    return x, torch.tensor(list(labels), dtype=torch.long)


class Cnn(nn.Module):
    """zoo's `cnn` (crates/models/src/cnn.rs) with its parameter names: conv1, conv2, hidden,
    output; valid 3x3 convolutions, 2x2 max pooling, ReLU."""

    def __init__(self, c1=8, c2=16, hidden=32, classes=10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, c1, 3)
        self.conv2 = nn.Conv2d(c1, c2, 3)
        self.hidden = nn.Linear(c2 * 5 * 5, hidden)
        self.output = nn.Linear(hidden, classes)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        x = F.max_pool2d(F.relu(self.conv2(x)), 2)
        return self.output(F.relu(self.hidden(x.flatten(1))))


def vgg16(width=1 / 32, classes=10):
    """torchvision's `vgg16` module layout and names (features.N, avgpool, classifier.N), every
    layer's width times `width`, built without torchvision."""
    layers, channels = [], 3
    for convolutions, filters in [(2, 64), (2, 128), (3, 256), (3, 512), (3, 512)]:
        filters = max(1, round(filters * width))
        for _ in range(convolutions):
            layers += [nn.Conv2d(channels, filters, 3, padding=1), nn.ReLU(inplace=True)]
            channels = filters
        layers.append(nn.MaxPool2d(2, 2))
    hidden = max(1, round(4096 * width))
    net = nn.Module()
    net.features = nn.Sequential(*layers)
    net.avgpool = nn.AdaptiveAvgPool2d((7, 7))
    net.classifier = nn.Sequential(
        nn.Linear(channels * 7 * 7, hidden), nn.ReLU(True), nn.Dropout(),
        nn.Linear(hidden, hidden), nn.ReLU(True), nn.Dropout(), nn.Linear(hidden, classes))
    net.forward = lambda x: net.classifier(torch.flatten(net.avgpool(net.features(x)), 1))
    return net


def vgg_fixture(out):
    """A width-reduced VGG16 (1/32, 10 classes) with torchvision's names, random weights, as a
    state dict and as safetensors, with its logits on a fixed 2x3x32x32 input: sin(0.1 i)."""
    torch.manual_seed(1)
    net = vgg16()
    net.eval()
    x = torch.sin(torch.arange(2 * 3 * 32 * 32, dtype=torch.float32) * 0.1).view(2, 3, 32, 32)
    with torch.no_grad():
        logits = net.forward(x)
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    torch.save(state, os.path.join(out, "vgg16-narrow.pth"))
    save_file(state, os.path.join(out, "vgg16-narrow.safetensors"))
    with open(os.path.join(out, "vgg16-narrow-logits.json"), "w") as f:
        json.dump({"input": "sin(0.1 i) for i in 0..6144 as [2, 3, 32, 32]", "width": 1 / 32, "classes": 10,
                   "keys": list(state.keys()), "logits": logits.tolist()}, f, indent=1)


def main():
    out = sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, "..", "tests", "fixtures", "weights")
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    x, y = read("train")
    net = Cnn()
    optimizer = torch.optim.Adam(net.parameters(), lr=1e-3)
    for epoch in range(2):
        order = torch.randperm(len(y))
        for start in range(0, len(y), 64):
            batch = order[start:start + 64]
            optimizer.zero_grad()
            F.cross_entropy(net(x[batch]), y[batch]).backward()
            optimizer.step()
    net.eval()
    test_x, test_y = read("t10k")
    with torch.no_grad():
        accuracy = (net(test_x).argmax(1) == test_y).float().mean().item()
        logits = net(test_x[:8])
    state = {k: v.contiguous() for k, v in net.state_dict().items()}
    torch.save(state, os.path.join(out, "cnn.pth"))
    torch.save({"state_dict": state, "epoch": 2}, os.path.join(out, "cnn-checkpoint.pth"))
    save_file(state, os.path.join(out, "cnn.safetensors"))
    with open(os.path.join(out, "cnn-logits.json"), "w") as f:
        json.dump({"images": "first 8 test images of assets/mnist", "test_accuracy": accuracy,
                   "conv1_channels": 8, "conv2_channels": 16, "hidden": 32,
                   "logits": logits.tolist()}, f, indent=1)
    vgg_fixture(out)
    print(f"wrote {out}: test accuracy {accuracy:.4f} on the extract")


if __name__ == "__main__":
    main()
