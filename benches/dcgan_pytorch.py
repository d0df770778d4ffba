"""TensorFlow's DCGAN tutorial (the source document's item 6) in PyTorch: the same layers (batch
norm per dense feature), glorot-uniform initialisation, Keras' batch-norm settings, Adam 1e-4
(epsilon 1e-7) for both networks, batch 256, and the tutorial's simultaneous updates. Writes a
grid of 64 samples from fixed noise after each epoch (generator in inference mode, as the
tutorial draws them), to compare by eye with zoo's `samples/epoch-NNN.png`:

    python3 benches/dcgan_pytorch.py MNIST_DIR EPOCHS OUT_DIR [JUDGE_EVERY]

With JUDGE_EVERY (e.g. 5), every JUDGE_EVERY-th epoch and the last also write 10,000 samples of
the generator in inference mode as `OUT_DIR/samples-NNN.idx` (MNIST's IDX format, 8-bit), for
zoo's judge: `zoo eval gan --images OUT_DIR/samples-NNN.idx --judge CNN_RUN`.
"""
import gzip, math, os, sys, time, struct, zlib, torch, torch.nn as nn
torch.set_num_threads(2); torch.manual_seed(0)
MNIST, EPOCHS, OUT = sys.argv[1], int(sys.argv[2]), sys.argv[3]
JUDGE_EVERY = int(sys.argv[4]) if len(sys.argv) > 4 else 0
raw = gzip.open(os.path.join(MNIST, 'train-images-idx3-ubyte.gz')).read()[16:]
X = torch.frombuffer(bytearray(raw), dtype=torch.uint8).reshape(-1, 1, 28, 28).float()
X = (X - 127.5) / 127.5
class G(nn.Module):
    def __init__(s):
        super().__init__()
        s.dense = nn.Linear(100, 7 * 7 * 256, bias=False); s.bn0 = nn.BatchNorm1d(7 * 7 * 256, eps=1e-3, momentum=0.01)
        s.up1 = nn.ConvTranspose2d(256, 128, 5, 1, 2, bias=False); s.bn1 = nn.BatchNorm2d(128, eps=1e-3, momentum=0.01)
        s.up2 = nn.ConvTranspose2d(128, 64, 5, 2, 2, 1, bias=False); s.bn2 = nn.BatchNorm2d(64, eps=1e-3, momentum=0.01)
        s.out = nn.ConvTranspose2d(64, 1, 5, 2, 2, 1, bias=False); s.a = nn.LeakyReLU(0.3)
    def forward(s, z):
        x = s.a(s.bn0(s.dense(z))).reshape(-1, 256, 7, 7)
        x = s.a(s.bn1(s.up1(x))); x = s.a(s.bn2(s.up2(x)))
        return torch.tanh(s.out(x))
D = nn.Sequential(nn.Conv2d(1, 64, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3), nn.Conv2d(64, 128, 5, 2, 2), nn.LeakyReLU(0.3), nn.Dropout(0.3), nn.Flatten(), nn.Linear(6272, 1))
g = G()
for m in list(g.modules()) + list(D.modules()):
    if isinstance(m, (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)):
        nn.init.xavier_uniform_(m.weight)
        if m.bias is not None: nn.init.zeros_(m.bias)
og = torch.optim.Adam(g.parameters(), 1e-4, eps=1e-7); od = torch.optim.Adam(D.parameters(), 1e-4, eps=1e-7)
bce = nn.BCEWithLogitsLoss()
fixed = torch.randn(64, 100)
def png(path, imgs, cols=8):
    n, side = imgs.shape[0], 28; rows = math.ceil(n / cols); W, H = cols * 30, rows * 30
    pix = bytearray([255]) * (W * H)
    for i in range(n):
        r, c = divmod(i, cols)
        for y in range(28):
            for x in range(28):
                v = float(imgs[i, 0, y, x]); pix[(r * 30 + 1 + y) * W + c * 30 + 1 + x] = int(255 - max(0, min(1, (v + 1) / 2)) * 255)
    raw = b''.join(b'\x00' + bytes(pix[y * W:(y + 1) * W]) for y in range(H))
    chunk = lambda t, d: struct.pack('>I', len(d)) + t + d + struct.pack('>I', zlib.crc32(t + d) & 0xffffffff)
    open(path, 'wb').write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', W, H, 8, 0, 0, 0, 0)) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))
def idx(path, imgs):
    """Pictures in [-1, 1] as an IDX file of 8-bit 28x28 images (what zoo's judge reads)."""
    pixels = bytes(((imgs.clamp(-1, 1) + 1) / 2 * 255).round().to(torch.uint8).reshape(-1).tolist())
    with open(path + '.tmp', 'wb') as f:
        f.write(struct.pack('>IIII', 0x803, imgs.shape[0], 28, 28) + pixels)
    os.replace(path + '.tmp', path)
os.makedirs(OUT, exist_ok=True)
t0 = time.time()
for epoch in range(1, EPOCHS + 1):
    perm = torch.randperm(X.shape[0])
    for i in range(0, X.shape[0], 256):
        real = X[perm[i:i + 256]]
        z = torch.randn(real.shape[0], 100)
        fake = g(z); ro = D(real); fo = D(fake)
        gl = bce(fo, torch.ones_like(fo)); dl = bce(ro, torch.ones_like(ro)) + bce(fo, torch.zeros_like(fo))
        gg = torch.autograd.grad(gl, list(g.parameters()), retain_graph=True)
        dg = torch.autograd.grad(dl, list(D.parameters()))
        for p, gr in zip(g.parameters(), gg): p.grad = gr
        for p, gr in zip(D.parameters(), dg): p.grad = gr
        og.step(); od.step()
    g.eval()
    with torch.no_grad():
        png(os.path.join(OUT, f'epoch-{epoch:03d}.png'), g(fixed))
        if JUDGE_EVERY and (epoch % JUDGE_EVERY == 0 or epoch == EPOCHS):
            idx(os.path.join(OUT, f'samples-{epoch:03d}.idx'), torch.cat([g(torch.randn(500, 100)) for _ in range(20)]))
    g.train()
    print(f'epoch {epoch} g {gl.item():.3f} d {dl.item():.3f} {time.time() - t0:.0f}s', flush=True)
    torch.save(g.state_dict(), os.path.join(OUT, 'generator.pt'))
