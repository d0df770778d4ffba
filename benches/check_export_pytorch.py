"""Checks a `zoo export cnn` file in PyTorch: loads it with `load_state_dict(strict=True)` into
zoo's cnn architecture (the class of make_weight_fixtures.py, at the widths of the run's
recipe, read from the sidecar JSON) and prints its accuracy on the extract's test images.
Optional, not in CI; needs torch and safetensors.

    python3 benches/check_export_pytorch.py runs/cnn/model.safetensors
"""
import json
import sys

import torch
from safetensors.torch import load_file

from make_weight_fixtures import Cnn, read


def main():
    path = sys.argv[1]
    model = json.load(open(path + ".json"))["model"]
    net = Cnn(model["conv1_channels"], model["conv2_channels"], model["hidden"], model["num_classes"])
    net.load_state_dict(load_file(path), strict=True)
    net.eval()
    x, y = read("t10k")
    with torch.no_grad():
        accuracy = (net(x).argmax(1) == y).float().mean().item()
    print(f"{path}: loaded into PyTorch (strict), accuracy {100 * accuracy:.2f} % on the extract's {len(y)} test images")


if __name__ == "__main__":
    main()
