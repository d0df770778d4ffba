"""PyTorch's nn.LSTM on zoo's character-LSTM recipe (`zoo config char-lstm`): the same split of
Moby Dick (first 90 % trains), the same batches (128 contiguous streams evenly spaced from a
random offset each epoch, windows of 64 characters, state carried between windows), Adam with
a cosine rate and gradient clipping; prints the mean training loss of each epoch of 140 steps.

This is how zoo's recipe was checked against PyTorch's learning curve (README, language models):
    python3 benches/char_lstm_pytorch.py                 # embedding 256 + 2 x 256 LSTM
    python3 benches/char_lstm_pytorch.py --one-hot       # one-hot characters into the LSTM
Needs only torch; reads assets/text/moby_dick.txt.gz.
"""
import argparse
import gzip
import math
import pathlib
import time

import torch
import torch.nn as nn

ROOT = pathlib.Path(__file__).resolve().parent.parent


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--lr", type=float, default=4e-3)
    p.add_argument("--epochs", type=int, default=20, help="epochs the cosine schedule spans")
    p.add_argument("--run-epochs", type=int, default=2, help="epochs actually run")
    p.add_argument("--one-hot", action="store_true", help="feed one-hot characters, no embedding")
    p.add_argument("--threads", type=int, default=2)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    text = gzip.open(ROOT / "assets/text/moby_dick.txt.gz", "rt", encoding="utf-8").read()
    train = text[: round(len(text) * 0.9)]
    vocab = sorted(set(train))
    index = {c: i for i, c in enumerate(vocab)}
    data = torch.tensor([index[c] for c in train])
    V, B, T, steps = len(vocab), 128, 64, 140

    class CharLstm(nn.Module):
        def __init__(self):
            super().__init__()
            if a.one_hot:
                self.embed = nn.Embedding(V, V)
                self.embed.weight.data = torch.eye(V)
                self.embed.weight.requires_grad_(False)
            else:
                self.embed = nn.Embedding(V, a.hidden)
            self.lstm = nn.LSTM(self.embed.embedding_dim, a.hidden, a.layers, batch_first=True)
            self.out = nn.Linear(a.hidden, V)

        def forward(self, x, state):
            y, state = self.lstm(self.embed(x), state)
            return self.out(y), state

    model = CharLstm()
    opt = torch.optim.Adam([q for q in model.parameters() if q.requires_grad], lr=a.lr)
    total = a.epochs * steps
    sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: 0.5 * (1 + math.cos(math.pi * k / total)))
    last = len(data) - T - 1
    g = torch.Generator().manual_seed(1)
    start = time.time()
    for epoch in range(a.run_epochs):
        offset = int(torch.randint(0, last + 1, (1,), generator=g))
        starts = [(offset + b * (last + 1) // B) % (last + 1) for b in range(B)]
        state, loss_sum = None, 0.0
        for _ in range(steps):
            x = torch.stack([data[s : s + T] for s in starts])
            y = torch.stack([data[s + 1 : s + T + 1] for s in starts])
            starts = [(s + T) % (last + 1) for s in starts]
            logits, state = model(x, state)
            state = tuple(t.detach() for t in state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), 5.0)
            opt.step()
            sched.step()
            loss_sum += loss.item()
        seconds = time.time() - start
        chars = (epoch + 1) * steps * B * T
        print(f"epoch {epoch + 1}: mean training loss {loss_sum / steps:.4f} nats/char, {seconds:.0f} s, {chars / seconds:,.0f} characters/s", flush=True)


if __name__ == "__main__":
    main()
