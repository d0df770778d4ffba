"""PyTorch baseline for benches/throughput.rs: the same `mlp` and `cnn` (items 1 and 3 of the
source document), the same full training step (forward, cross-entropy, backward, Adam), real
MNIST images from zoo's embedded extract. Prints `model,batch,samples_per_second` lines.

    python3 benches/pytorch_baseline.py [--seconds 8] [--threads N]
"""
import argparse
import gzip
import os
import sys
import time

try:
    import torch
    from torch import nn
except ImportError:
    sys.exit("PyTorch is not installed (pip install torch)")

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(HERE, "..", "assets", "mnist")


def mnist_batch(n):
    raw = gzip.open(os.path.join(ASSETS, "train-images-idx3-ubyte.gz")).read()[16:16 + n * 784]
    labels = gzip.open(os.path.join(ASSETS, "train-labels-idx1-ubyte.gz")).read()[8:8 + n]
    images = torch.frombuffer(bytearray(raw), dtype=torch.uint8).float().div(255).view(n, 1, 28, 28)
    return images, torch.tensor(list(labels), dtype=torch.long)


def mlp():
    return nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))


def cnn():
    return nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))


def measure(model, batch, seconds):
    images, targets = mnist_batch(batch)
    optim = torch.optim.Adam(model.parameters(), lr=1e-3, eps=1e-7)
    loss_fn = nn.CrossEntropyLoss()

    def step():
        optim.zero_grad(set_to_none=True)
        loss = loss_fn(model(images), targets)
        loss.backward()
        optim.step()
        return loss.item()

    for _ in range(3):
        step()
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or steps < 3:
        step()
        steps += 1
    return steps * batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    for name, build in (("mlp", mlp), ("cnn", cnn)):
        for batch in (64, 256):
            print(f"{name},{batch},{measure(build(), batch, args.seconds):.1f}", flush=True)


if __name__ == "__main__":
    main()
