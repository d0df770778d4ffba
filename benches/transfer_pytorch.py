"""PyTorch reference of zoo's transfer experiment (benches/transfer_experiment.sh), same recipe
and metric: zoo's `cnn` pretrained on MNIST digits 0-4 (Adam 1e-3, eps 1e-7, batch 64, 5
epochs, cosine decay, 10 % held out); then on digits 5-9 with a share of their labels (the same
share of each class, 10 % of it held out), the article's head (Flatten -> Dense 1024 ReLU ->
Dense 5) on the frozen backbone against the same network trained from scratch (batch 32, cosine
decay, 30 / 10 / 3 epochs at 1 / 10 / 100 %); accuracy on the test images of digits 5-9, three
seeds.

    python3 benches/transfer_pytorch.py MNIST_DIR [--threads 2] [--shares 1]
"""
import argparse
import gzip
import math
import os

import torch
import torch.nn as nn
import torch.nn.functional as F


def idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    return opener(path, "rb").read()


def load(directory, split):
    prefix = "train" if split == "train" else "t10k"
    names = os.listdir(directory)
    find = lambda kind: os.path.join(directory, next(n for n in names if n.startswith(f"{prefix}-{kind}")))
    images = torch.frombuffer(bytearray(idx(find("images"))[16:]), dtype=torch.uint8).float().div(255).view(-1, 1, 28, 28)
    labels = torch.tensor(list(idx(find("labels"))[8:]), dtype=torch.long)
    return images, labels


def only(images, labels, classes):
    keep = torch.isin(labels, torch.tensor(classes))
    relabel = torch.full((10,), -1, dtype=torch.long)
    relabel[torch.tensor(classes)] = torch.arange(len(classes))
    return images[keep], relabel[labels[keep]]


class Base(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1, self.conv2 = nn.Conv2d(1, 32, 3), nn.Conv2d(32, 64, 3)

    def forward(self, x):
        x = F.max_pool2d(F.relu(self.conv1(x)), 2)
        return F.max_pool2d(F.relu(self.conv2(x)), 2).flatten(1)  # [batch, 1600]


def train(params, forward, x, y, epochs, batch, generator):
    optimizer = torch.optim.Adam(params, lr=1e-3, eps=1e-7)
    steps = epochs * math.ceil(len(y) / batch)
    schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, steps)
    for _ in range(epochs):
        order = torch.randperm(len(y), generator=generator)
        for start in range(0, len(y), batch):
            b = order[start:start + batch]
            optimizer.zero_grad()
            F.cross_entropy(forward(x[b]), y[b]).backward()
            optimizer.step()
            schedule.step()


def accuracy(forward, x, y):
    with torch.no_grad():
        return 100.0 * sum((forward(x[i:i + 1000]).argmax(1) == y[i:i + 1000]).sum().item()
                           for i in range(0, len(y), 1000)) / len(y)


def held_out(n, generator, fraction=0.1):
    order = torch.randperm(n, generator=generator)
    valid = round(n * fraction)
    return order[valid:]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("mnist")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--shares", type=float, nargs="+", default=[1.0, 10.0, 100.0])
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    train_x, train_y = load(args.mnist, "train")
    test_x, test_y = load(args.mnist, "test")
    # Pretraining on digits 0-4: the conv base and zoo's cnn head (dense 128, 5 classes).
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)
    x, y = only(train_x, train_y, [0, 1, 2, 3, 4])
    keep = held_out(len(y), g)
    base = Base()
    top = nn.Sequential(nn.Linear(1600, 128), nn.ReLU(), nn.Linear(128, 5))
    train(list(base.parameters()) + list(top.parameters()), lambda b: top(base(b)), x[keep], y[keep], 5, 64, g)
    px, py = only(test_x, test_y, [0, 1, 2, 3, 4])
    print(f"pretrained on digits 0-4: {accuracy(lambda b: top(base(b)), px, py):.2f} % on their test images")
    x, y = only(train_x, train_y, [5, 6, 7, 8, 9])
    tx, ty = only(test_x, test_y, [5, 6, 7, 8, 9])
    epochs = {1.0: 30, 10.0: 10, 100.0: 3}
    print("labels  start    test accuracy per seed (1 2 3), mean ± spread")
    for share in args.shares:
        for start in ["frozen", "scratch"]:
            scores = []
            for seed in [1, 2, 3]:
                torch.manual_seed(seed)
                g = torch.Generator().manual_seed(seed)
                chosen = []
                for c in range(5):
                    members = (y == c).nonzero().flatten()
                    members = members[torch.randperm(len(members), generator=g)]
                    chosen.append(members[:max(1, round(len(members) * share / 100))])
                chosen = torch.cat(chosen)
                chosen = chosen[held_out(len(chosen), g)]
                head = nn.Sequential(nn.Linear(1600, 1024), nn.ReLU(), nn.Linear(1024, 5))
                if start == "frozen":
                    frozen = base.eval()
                    for p in frozen.parameters():
                        p.requires_grad_(False)

                    def forward(b, frozen=frozen, head=head):
                        with torch.no_grad():
                            features = frozen(b)
                        return head(features)
                    params = list(head.parameters())
                else:
                    fresh = Base()
                    forward = lambda b, fresh=fresh, head=head: head(fresh(b))
                    params = list(fresh.parameters()) + list(head.parameters())
                train(params, forward, x[chosen], y[chosen], epochs.get(share, 30), 32, g)
                scores.append(accuracy(forward, tx, ty))
            mean = sum(scores) / 3
            spread = math.sqrt(sum((s - mean) ** 2 for s in scores) / 2)
            print(f"{share:g} %    {start:8} {' '.join(f'{s:.2f}' for s in scores)} {mean:.2f} ± {spread:.2f}", flush=True)


if __name__ == "__main__":
    main()
