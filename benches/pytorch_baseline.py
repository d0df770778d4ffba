"""PyTorch baseline for benches/throughput.rs: the same networks as zoo's `mlp`, `cnn`, `lstm`
(item 9's forecaster), `vae` (the convolutional VAE, latent 2) and `gan` (item 6's DCGAN, one
discriminator and one generator update), the same full training step (forward, loss, backward,
Adam), real MNIST images from zoo's embedded extract. Prints `model,batch,samples_per_second,
peak_rss_mb` lines.

    python3 benches/pytorch_baseline.py [--seconds 8] [--threads N] [--case MODEL BATCH]

Without `--case` every case runs in this one process (the peak RSS is then the largest so far);
the zoo bench runs one process per case.
"""
import argparse
import gzip
import os
import resource
import sys
import time
import warnings

warnings.filterwarnings("ignore")
try:
    import torch
    from torch import nn
    import torch.nn.functional as F
except ImportError:
    sys.exit("PyTorch is not installed (pip install torch)")

HERE = os.path.dirname(os.path.abspath(__file__))
ASSETS = os.path.join(HERE, "..", "assets", "mnist")
CASES = [("mlp", 64), ("mlp", 256), ("cnn", 64), ("cnn", 256), ("resnet", 64), ("lstm", 64), ("vae", 128),
         ("gan", 256)]


# Where the networks run: `cpu`, or `cuda` (`--device`); every tensor made without a device
# lands there (torch.set_default_device).
DEVICE = "cpu"


def mnist_batch(n):
    raw = gzip.open(os.path.join(ASSETS, "train-images-idx3-ubyte.gz")).read()[16:]
    labels = gzip.open(os.path.join(ASSETS, "train-labels-idx1-ubyte.gz")).read()[8:]
    images = torch.frombuffer(bytearray(raw), dtype=torch.uint8).float().div(255).view(-1, 1, 28, 28).cpu()
    labels = torch.tensor(list(labels), dtype=torch.long, device="cpu")
    index = torch.arange(n, device="cpu") % len(labels)
    return images[index].to(DEVICE), labels[index].to(DEVICE)


def adam(params, lr=1e-3):
    return torch.optim.Adam(params, lr=lr, eps=1e-7)


class Supervised:
    """One network, one loss, one Adam."""

    def __init__(self, model, loss):
        self.model, self.loss, self.optim = model, loss, adam(model.parameters())

    def step(self):
        self.optim.zero_grad(set_to_none=True)
        loss = self.loss(self.model)
        loss.backward()
        self.optim.step()
        return loss.item()


def classifier(model, batch):
    images, labels = mnist_batch(batch)
    return Supervised(model, lambda m: F.cross_entropy(m(images), labels))


def mlp(batch):
    net = nn.Sequential(nn.Flatten(), nn.Linear(784, 128), nn.ReLU(), nn.Dropout(0.2), nn.Linear(128, 10))
    return classifier(net, batch)


def cnn(batch):
    net = nn.Sequential(
        nn.Conv2d(1, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
        nn.Flatten(), nn.Linear(64 * 5 * 5, 128), nn.ReLU(), nn.Linear(128, 10))
    return classifier(net, batch)


class Block(nn.Module):
    """Item 28's block with batch norm: conv 3x3, BN, ReLU, conv 3x3, BN, + the input (a 1x1
    stride-2 projection with BN when the block halves the side and doubles the width), ReLU."""

    def __init__(self, c_in, c_out, stride):
        super().__init__()
        self.conv1, self.bn1 = nn.Conv2d(c_in, c_out, 3, stride, 1), nn.BatchNorm2d(c_out)
        self.conv2, self.bn2 = nn.Conv2d(c_out, c_out, 3, 1, 1), nn.BatchNorm2d(c_out)
        self.project = None
        if stride != 1 or c_in != c_out:
            self.project = nn.Sequential(nn.Conv2d(c_in, c_out, 1, stride), nn.BatchNorm2d(c_out))

    def forward(self, x):
        y = self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x)))))
        return F.relu(y + (x if self.project is None else self.project(x)))


def resnet(batch):
    """zoo's default `resnet` recipe: stem 32, stages of 2 blocks at 32, 64, 128 filters, the
    article's closing conv, global average pooling, dense 10."""
    layers = [nn.Conv2d(1, 32, 3, 1, 1), nn.BatchNorm2d(32), nn.ReLU()]
    width = 32
    for stage in range(3):
        for b in range(2):
            if stage > 0 and b == 0:
                layers.append(Block(width, width * 2, 2))
                width *= 2
            else:
                layers.append(Block(width, width, 1))
    layers += [nn.Conv2d(width, width, 3, 1, 1), nn.BatchNorm2d(width), nn.ReLU(),
               nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(width, 10)]
    return classifier(nn.Sequential(*layers), batch)


class Forecaster(nn.Module):
    """Item 9: an LSTM of 50 units reads 50 values; a dense layer predicts the next."""

    def __init__(self):
        super().__init__()
        self.lstm, self.out = nn.LSTM(1, 50, batch_first=True), nn.Linear(50, 1)

    def forward(self, windows):
        _, (hidden, _) = self.lstm(windows.unsqueeze(-1))
        return self.out(hidden[-1]).squeeze(-1)


def lstm(batch):
    windows, targets = torch.randn(batch, 50), torch.randn(batch)
    return Supervised(Forecaster(), lambda m: F.mse_loss(m(windows), targets))


class Vae(nn.Module):
    """zoo's conv VAE (Keras' example): 32 and 64 stride-2 convolutions, dense 16, latent 2."""

    def __init__(self, latent=2):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 32, 3, 2, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 2, 1), nn.ReLU(),
            nn.Flatten(), nn.Linear(64 * 7 * 7, 16), nn.ReLU())
        self.mean, self.log_var = nn.Linear(16, latent), nn.Linear(16, latent)
        self.decoder = nn.Sequential(
            nn.Linear(latent, 64 * 7 * 7), nn.ReLU(), nn.Unflatten(1, (64, 7, 7)),
            nn.ConvTranspose2d(64, 64, 3, 2, 1, 1), nn.ReLU(),
            nn.ConvTranspose2d(64, 32, 3, 2, 1, 1), nn.ReLU(),
            nn.ConvTranspose2d(32, 1, 3, 1, 1))

    def loss(self, images):
        features = self.encoder(images)
        mean, log_var = self.mean(features), self.log_var(features)
        code = mean + torch.randn_like(mean) * (0.5 * log_var).exp()
        logits = self.decoder(code)
        reconstruction = F.binary_cross_entropy_with_logits(logits, images, reduction="sum") / len(images)
        kl = -0.5 * (1 + log_var - mean.pow(2) - log_var.exp()).sum() / len(images)
        return reconstruction + kl


def vae(batch):
    images, _ = mnist_batch(batch)
    return Supervised(Vae(), lambda m: m.loss(images))


def generator():
    def up(c_in, c_out, stride):
        return nn.ConvTranspose2d(c_in, c_out, 5, stride, 2, stride - 1, bias=False)
    return nn.Sequential(
        nn.Linear(100, 7 * 7 * 256, bias=False), nn.BatchNorm1d(7 * 7 * 256), nn.LeakyReLU(0.3),
        nn.Unflatten(1, (256, 7, 7)),
        up(256, 128, 1), nn.BatchNorm2d(128), nn.LeakyReLU(0.3),
        up(128, 64, 2), nn.BatchNorm2d(64), nn.LeakyReLU(0.3),
        up(64, 1, 2), nn.Tanh())


def discriminator():
    return nn.Sequential(
        nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
        nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3),
        nn.Flatten(), nn.Linear(128 * 7 * 7, 1))


class Gan:
    """Item 6's DCGAN: a discriminator update on real and detached fake images, then a
    generator update through the same fakes, Adam 1e-4 each."""

    def __init__(self, batch):
        self.real = mnist_batch(batch)[0] * 2 - 1
        self.g, self.d = generator(), discriminator()
        self.opt_g, self.opt_d = adam(self.g.parameters(), 1e-4), adam(self.d.parameters(), 1e-4)

    def step(self):
        batch = len(self.real)
        bce = F.binary_cross_entropy_with_logits
        noise = torch.randn(batch, 100)
        self.opt_d.zero_grad(set_to_none=True)
        fake = self.g(noise)  # one generator pass serves both updates, as in zoo's trainer
        real_logits, fake_logits = self.d(self.real).squeeze(1), self.d(fake.detach()).squeeze(1)
        d_loss = bce(real_logits, torch.ones(batch)) + bce(fake_logits, torch.zeros(batch))
        d_loss.backward()
        self.opt_d.step()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss = bce(self.d(fake).squeeze(1), torch.ones(batch))
        g_loss.backward()
        self.opt_g.step()
        return d_loss.item() + g_loss.item()


BUILD = {"mlp": mlp, "cnn": cnn, "resnet": resnet, "lstm": lstm, "vae": vae, "gan": Gan}


def measure(name, batch, seconds):
    case = BUILD[name](batch)
    for _ in range(3):
        case.step()
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or steps < 3:
        case.step()
        steps += 1
    return steps * batch / (time.perf_counter() - start)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--case", nargs=2, metavar=("MODEL", "BATCH"))
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    args = parser.parse_args()
    global DEVICE
    DEVICE = args.device
    torch.set_default_device(DEVICE)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = [(args.case[0], int(args.case[1]))] if args.case else CASES
    for name, batch in cases:
        rate = measure(name, batch, args.seconds)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name},{batch},{rate:.1f},{peak_mb:.0f}", flush=True)


if __name__ == "__main__":
    main()
