"""PyTorch baseline for benches/throughput.rs: the same networks as zoo's `mlp`, `cnn`, `resnet`,
`lstm` (item 9's forecaster), `vae` (the convolutional VAE, latent 2), `gan` (item 6's DCGAN, one
discriminator and one generator update), `char-lstm` (and `char-lstm-512`, its LSTMs at 2 x 512),
`gpt`, `multitask` and `crossmodal`, the same full training step (forward, loss, backward,
gradient clipping where the recipe clips, Adam with the recipe's moments and epsilon), real MNIST
images from zoo's embedded extract and real Moby Dick text. Prints `model,batch,
samples_per_second,peak_rss_mb` lines; a character model's sample is one window of text (64
characters for `char-lstm`, 128 for `gpt`).

    python3 benches/pytorch_baseline.py [--seconds 8] [--threads N] [--case MODEL BATCH]
    python3 benches/pytorch_baseline.py --flops [--case MODEL BATCH]

Without `--case` every case runs in this one process (the peak RSS is then the largest so far);
the zoo bench runs one process per case.

`--flops` prints `model,batch,flops` instead: the floating-point operations of one training step,
forward and backward (not the optimiser), as `torch.utils.flop_counter.FlopCounterMode` counts
them: the matrix products, convolutions and attention of every layer, from their shapes (no
element-wise work; `gpt`'s attention as two products, see `GptBlock`). It counts on the CPU
whatever `--device` says, with oneDNN off (its fused LSTM has no formula there and would count 0;
without it PyTorch's LSTM runs as matrix products, which it counts).
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
MOBY_DICK = os.path.join(HERE, "..", "assets", "text", "moby_dick.txt.gz")
CASES = [("mlp", 64), ("mlp", 256), ("cnn", 64), ("cnn", 256), ("resnet", 64), ("lstm", 64), ("vae", 128),
         ("gan", 256), ("char-lstm", 128), ("char-lstm-512", 128), ("gpt", 32), ("multitask", 64),
         ("crossmodal", 64)]


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


def adam(params, lr=1e-3, eps=1e-7, betas=(0.9, 0.999)):
    return torch.optim.Adam(params, lr=lr, betas=betas, eps=eps)


def clip_each(params, max_norm):
    """Burn's `GradientClipping::Norm`, which zoo's recipes use: each parameter's gradient scaled
    down to norm `max_norm` on its own (not torch's `clip_grad_norm_`, one norm over all)."""
    grads = [p.grad for p in params if p.grad is not None]
    tiny = torch.finfo(torch.float32).tiny
    for grad, norm in zip(grads, torch._foreach_norm(grads)):
        grad.mul_((max_norm / (norm + tiny)).clamp(max=1.0))


class Supervised:
    """One network, one loss, one Adam (the recipe's learning rate, moments and epsilon; zoo's
    older cases all 1e-3 and 1e-7), gradients clipped per parameter where the recipe clips."""

    def __init__(self, model, loss, lr=1e-3, eps=1e-7, betas=(0.9, 0.999), clip=None):
        self.model, self.loss, self.clip = model, loss, clip
        self.params = list(model.parameters())
        self.optim = adam(self.params, lr, eps, betas)

    def step(self, update=True):
        """Forward, loss and backward; then (`update`) the clipping and Adam's update."""
        self.optim.zero_grad(set_to_none=True)
        loss = self.loss(self.model)
        loss.backward()
        if update:
            if self.clip is not None:
                clip_each(self.params, self.clip)
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

    def step(self, update=True):
        batch = len(self.real)
        bce = F.binary_cross_entropy_with_logits
        noise = torch.randn(batch, 100)
        self.opt_d.zero_grad(set_to_none=True)
        fake = self.g(noise)  # one generator pass serves both updates, as in zoo's trainer
        real_logits, fake_logits = self.d(self.real).squeeze(1), self.d(fake.detach()).squeeze(1)
        d_loss = bce(real_logits, torch.ones(batch)) + bce(fake_logits, torch.zeros(batch))
        d_loss.backward()
        if update:
            self.opt_d.step()
        self.opt_g.zero_grad(set_to_none=True)
        g_loss = bce(self.d(fake).squeeze(1), torch.ones(batch))
        g_loss.backward()
        if update:
            self.opt_g.step()
        return d_loss.item() + g_loss.item()


def moby_dick_batch(batch, context):
    """`batch` windows of `context` characters of Moby Dick and the next character of every
    position, as benches/throughput.rs takes them: consecutive windows from the start of the
    training part. zoo's `Corpus`: the first 90 % of the characters train (`fit.valid_fraction`
    0.1), the tokeniser is their distinct characters in code-point order from id 1, id 0 for
    unknown ones (crates/data/src/text.rs `CharTokenizer`); returns (inputs `[batch, context]`,
    targets `[batch * context]`, vocabulary size, 84)."""
    text = gzip.open(MOBY_DICK).read().decode("utf-8")
    train = text[:int(len(text) * 0.9 + 0.5)]
    index = {c: i + 1 for i, c in enumerate(sorted(set(train)))}
    ids = [index[train[i % len(train)]] for i in range(batch * context + 1)]
    ids = torch.tensor(ids, dtype=torch.long)
    return ids[:-1].view(batch, context), ids[1:].clone(), len(index) + 1


class CharLstm(nn.Module):
    """crates/models/src/lstm.rs `CharLstm` as crates/train/src/language.rs `CharLstmRecipe` sets it:
    an embedding of its own width (`embedding` 256, whatever `hidden` is), stacked LSTMs over the
    whole window from zero states (no dropout), a dense layer to the vocabulary at every position.
    zoo's layer has one bias per gate where PyTorch's has two (b_ih + b_hh): the same product."""

    def __init__(self, vocab, hidden, layers=2, embedding=256):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding)
        self.lstm = nn.LSTM(embedding, hidden, layers, batch_first=True)
        self.output = nn.Linear(hidden, vocab)

    def forward(self, ids):
        out, _ = self.lstm(self.embedding(ids))  # [batch, len, hidden]
        return self.output(out)  # [batch, len, vocab]


def language(model, inputs, targets, **optimiser):
    """A character model's step: the cross-entropy of every next character of the windows."""
    def loss(m):
        logits = m(inputs)
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets)
    return Supervised(model, loss, **optimiser)


def char_lstm(batch, hidden=256):
    """`char-lstm`'s default recipe: windows of 64, 2 x 256, Adam eps 1e-7 lr 4e-3, clipping 5."""
    inputs, targets, vocab = moby_dick_batch(batch, 64)
    return language(CharLstm(vocab, hidden), inputs, targets, lr=4e-3, eps=1e-7, clip=5.0)


class GptBlock(nn.Module):
    """One of Burn's `TransformerEncoderLayer`s as crates/models/src/transformer.rs `encoder` makes
    them (norm first, d_ff 4 d_model, exact GELU, no dropout): `x + attention(LN(x))`, then
    `x + MLP(LN(x))`. Burn's attention has separate query, key and value dense layers with biases
    (one `[d, 3 d]` product here: the same FLOPs), `softmax(Q K^T / sqrt(d_k))` under the causal
    mask, and an output dense layer with bias. Timed, the attention is PyTorch's fused
    `scaled_dot_product_attention`; counted (`--flops`, `FUSED_ATTENTION` off), the same
    attention as Burn computes it, in two batched products: `FlopCounterMode` counts the fused
    kernel's backward pass with the scores computed again (five products where Burn, which keeps
    the attention weights, runs four)."""

    FUSED_ATTENTION = True

    def __init__(self, d_model, heads):
        super().__init__()
        self.heads = heads
        self.norm_attention, self.norm_mlp = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.qkv, self.out = nn.Linear(d_model, 3 * d_model), nn.Linear(d_model, d_model)
        self.mlp = nn.Sequential(nn.Linear(d_model, 4 * d_model), nn.GELU(), nn.Linear(4 * d_model, d_model))

    def forward(self, x):
        b, t, d = x.shape
        qkv = self.qkv(self.norm_attention(x)).view(b, t, 3, self.heads, d // self.heads)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [b, heads, t, d_k]
        if GptBlock.FUSED_ATTENTION:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:
            scores = q @ k.transpose(-2, -1) / (d // self.heads) ** 0.5  # [b, heads, t, t]
            future = torch.ones(t, t, dtype=torch.bool).triu(1)
            y = scores.masked_fill(future, -1e4).softmax(-1) @ v
        x = x + self.out(y.transpose(1, 2).reshape(b, t, d))
        return x + self.mlp(self.norm_mlp(x))


class Gpt(nn.Module):
    """crates/models/src/transformer.rs `CharTransformer`: token embedding plus a learned position
    table (normal, std 0.02), the blocks under a causal mask, a last layer norm, a dense read-out
    with bias (not tied to the embedding)."""

    def __init__(self, vocab, context=128, d_model=128, heads=4, layers=4):
        super().__init__()
        self.tokens = nn.Embedding(vocab, d_model)
        self.positions = nn.Parameter(torch.randn(context, d_model) * 0.02)
        self.blocks = nn.Sequential(*[GptBlock(d_model, heads) for _ in range(layers)])
        self.norm, self.output = nn.LayerNorm(d_model), nn.Linear(d_model, vocab)

    def forward(self, ids):
        x = self.tokens(ids) + self.positions[:ids.shape[1]]
        return self.output(self.norm(self.blocks(x)))


def gpt(batch):
    """`gpt`'s default recipe: context 128, d_model 128, 4 heads, 4 layers; Adam betas (0.9, 0.99)
    eps 1e-5 lr 2e-3, clipping 1."""
    inputs, targets, vocab = moby_dick_batch(batch, 128)
    return language(Gpt(vocab), inputs, targets, lr=2e-3, eps=1e-5, betas=(0.9, 0.99), clip=1.0)


class MultiTask(nn.Module):
    """crates/models/src/multitask.rs `MultiTask` (default config): stages of `conv 3x3 same ->
    batch norm -> ReLU` at 16, 32, 64, 128 filters with a 2x2 max-pool between them (64 px ->
    an 8x8 map); the class head reads the map's maximum over positions (dense 128 ReLU, dense
    10), the box head the whole flattened map (dense 128 ReLU, dense 4, sigmoid)."""

    def __init__(self, classes=10, side=64, stages=(16, 32, 64, 128), head_hidden=128):
        super().__init__()
        layers, c_in = [], 1
        for i, c in enumerate(stages):
            if i > 0:
                layers.append(nn.MaxPool2d(2))
            layers += [nn.Conv2d(c_in, c, 3, 1, 1), nn.BatchNorm2d(c), nn.ReLU()]
            c_in = c
        self.trunk = nn.Sequential(*layers)
        s = side // 2 ** (len(stages) - 1)
        self.class_head = nn.Sequential(nn.Linear(c_in, head_hidden), nn.ReLU(), nn.Linear(head_hidden, classes))
        self.box_head = nn.Sequential(
            nn.Flatten(), nn.Linear(c_in * s * s, head_hidden), nn.ReLU(), nn.Linear(head_hidden, 4), nn.Sigmoid())

    def forward(self, images):
        features = self.trunk(images)  # [batch, 128, 8, 8]
        return self.class_head(features.amax(dim=(2, 3))), self.box_head(features)


def giou_loss(predicted, truth):
    """crates/train/src/multitask.rs `iou_giou`: `1 - GIoU`, mean over the batch; a predicted box's
    corners taken in whichever order they come."""
    px0, px1 = torch.minimum(predicted[:, 0], predicted[:, 2]), torch.maximum(predicted[:, 0], predicted[:, 2])
    py0, py1 = torch.minimum(predicted[:, 1], predicted[:, 3]), torch.maximum(predicted[:, 1], predicted[:, 3])
    tx0, ty0, tx1, ty1 = truth.unbind(1)
    inter = ((torch.minimum(px1, tx1) - torch.maximum(px0, tx0)).clamp(min=0)
             * (torch.minimum(py1, ty1) - torch.maximum(py0, ty0)).clamp(min=0))
    union = (px1 - px0) * (py1 - py0) + (tx1 - tx0) * (ty1 - ty0) - inter + 1e-7
    enclosing = ((torch.maximum(px1, tx1) - torch.minimum(px0, tx0))
                 * (torch.maximum(py1, ty1) - torch.minimum(py0, ty0)) + 1e-7)
    giou = inter / union - (enclosing - union) / enclosing
    return (1 - giou).mean()


def multitask(batch):
    """`multitask`'s default recipe: cross-entropy plus the GIoU box loss (weights 1 and 1), Adam
    eps 1e-5 lr 1e-3. The canvases: MNIST digits pasted at their 28 px into 64x64 canvases at
    seeded places, the box their frame (zoo scales each digit to 14-48 px first; the step costs
    the same)."""
    digits, labels = mnist_batch(batch)
    places = torch.randint(0, 64 - 28 + 1, (batch, 2), generator=torch.Generator().manual_seed(0), device="cpu")
    canvases = torch.zeros(batch, 1, 64, 64)
    for i, (x, y) in enumerate(places.tolist()):
        canvases[i, :, y:y + 28, x:x + 28] = digits[i]
    boxes = torch.cat([places, places + 28], 1).float().to(DEVICE) / 64

    def loss(m):
        logits, predicted = m(canvases)
        return F.cross_entropy(logits, labels) + giou_loss(predicted, boxes)
    return Supervised(MultiTask(), loss, eps=1e-5)


class CrossModal(nn.Module):
    """crates/models/src/crossmodal.rs `CrossModal` (default config, vocab 59): text tower
    `embedding 64 -> LSTM 128` (its state after the last of the 12 left-padded tokens), image
    tower `conv 32 3x3 valid -> ReLU -> max-pool 2 -> conv 64 3x3 valid -> ReLU -> max-pool 2 ->
    flatten` (28 -> 13 -> 5: 1600 features); both concatenated, dense 128 ReLU, dense 1 (a
    logit)."""

    def __init__(self, vocab=59, embedding=64, text_hidden=128, conv1=32, conv2=64, hidden=128):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding)
        self.lstm = nn.LSTM(embedding, text_hidden, batch_first=True)
        self.image = nn.Sequential(
            nn.Conv2d(1, conv1, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(conv1, conv2, 3), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten())
        self.joint = nn.Sequential(nn.Linear(conv2 * 5 * 5 + text_hidden, hidden), nn.ReLU(), nn.Linear(hidden, 1))

    def forward(self, images, tokens):
        _, (h, _) = self.lstm(self.embedding(tokens))
        return self.joint(torch.cat([self.image(images), h[-1]], 1)).squeeze(1)


def crossmodal(batch):
    """`crossmodal`'s default recipe: one (image, caption) pair per digit of the batch, half of
    the captions naming another digit (no in-batch negatives), binary cross-entropy of the match
    logit, Adam eps 1e-5 lr 1e-3. The captions here are random tokens filling all 12 places (zoo's
    are a few words padded before to 12; its LSTM reads all 12 places either way)."""
    images, _ = mnist_batch(batch)
    generator = torch.Generator().manual_seed(0)
    tokens = torch.randint(2, 59, (batch, 12), generator=generator, device="cpu").to(DEVICE)
    matches = (torch.arange(batch, device="cpu") % 2).float().to(DEVICE)
    return Supervised(CrossModal(), lambda m: F.binary_cross_entropy_with_logits(m(images, tokens), matches),
                      eps=1e-5)


BUILD = {"mlp": mlp, "cnn": cnn, "resnet": resnet, "lstm": lstm, "vae": vae, "gan": Gan,
         "char-lstm": char_lstm, "char-lstm-512": lambda batch: char_lstm(batch, hidden=512), "gpt": gpt,
         "multitask": multitask, "crossmodal": crossmodal}


def measure(name, batch, seconds):
    case = BUILD[name](batch)
    for _ in range(3):
        case.step()
    start, steps = time.perf_counter(), 0
    while time.perf_counter() - start < seconds or steps < 3:
        case.step()
        steps += 1
    return steps * batch / (time.perf_counter() - start)


def count_flops(name, batch):
    """The FLOPs of one step of a case, forward and backward (the optimiser's update left out), as
    `FlopCounterMode` counts them; on the CPU with oneDNN off (see the module's note)."""
    from torch.utils.flop_counter import FlopCounterMode
    GptBlock.FUSED_ATTENTION = False
    case = BUILD[name](batch)
    with torch.backends.mkldnn.flags(enabled=False), FlopCounterMode(display=False) as counter:
        case.step(update=False)
    return counter.get_total_flops()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=8.0)
    parser.add_argument("--threads", type=int, default=os.cpu_count())
    parser.add_argument("--case", nargs=2, metavar=("MODEL", "BATCH"))
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--flops", action="store_true",
                        help="print model,batch,flops: one step's forward and backward FLOPs (on the CPU)")
    args = parser.parse_args()
    global DEVICE
    DEVICE = "cpu" if args.flops else args.device
    torch.set_default_device(DEVICE)
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    cases = [(args.case[0], int(args.case[1]))] if args.case else CASES
    unknown = [name for name, _ in cases if name not in BUILD]
    if unknown:
        sys.exit(f"unknown model {unknown[0]} (one of {', '.join(BUILD)})")
    if args.flops:
        for name, batch in cases:
            print(f"{name},{batch},{count_flops(name, batch)}", flush=True)
        return
    for name, batch in cases:
        rate = measure(name, batch, args.seconds)
        peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"{name},{batch},{rate:.1f},{peak_mb:.0f}", flush=True)


if __name__ == "__main__":
    main()
