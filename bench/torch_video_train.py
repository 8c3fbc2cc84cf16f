#!/usr/bin/python3
"""PyTorch peer for `leap train --arch video_dit`: the same video DiT (bench/torch_video_dit.py's
docstring: per-frame patch embedding, 2-D sin-cos table per frame, adaLN per chunk, rotary time on
q and k, block-causal attention), the same objective (Diffusion Forcing: flow_v with an independent
t = sigmoid(N(0,1)) per chunk, x_t = (1-t) x0 + t eps, target eps - x0, 10% label dropout per clip),
AdamW with grad-norm clipping, on moving Fashion-MNIST clips (a 16x16 garment bouncing on a 32x32
canvas), timed per step after warm-up. The model is an nn.Module written for speed as a PyTorch
user would: fused qkv linear, batched attention with the block-causal mask (Debian's torch 1.13
has no scaled_dot_product_attention).

usage: OMP_NUM_THREADS=2 /usr/bin/python3 bench/torch_video_train.py --hidden 64 --depth 4 \
           --heads 4 --patch 4 --clip-frames 16 --frames-per-chunk 4 --batch 8 --seconds 60
prints one JSON line: {"impl": "pytorch", "samples_per_s": ..., "seconds_per_step": ...}
(samples = clips)
"""
import argparse, gzip, json, math, os, sys, time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_video_dit import pos_embed_2d  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"
CANVAS, GARMENT = 32, 16


def load_garments():
    with gzip.open(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)
    x = F.interpolate(x, size=(GARMENT, GARMENT), mode="area")
    return x, torch.from_numpy(labels.astype(np.int64))


def make_clips(garments, labels, n, frames, g):
    """n clips: a garment at constant velocity (1..3 px/frame) bouncing off the canvas edges."""
    idx = torch.randint(len(garments), (n,), generator=g)
    room = CANVAS - GARMENT
    pos = torch.rand(n, 2, generator=g) * room
    speed = 1 + 2 * torch.rand(n, generator=g)
    ang = 2 * math.pi * torch.rand(n, generator=g)
    vel = torch.stack([speed * torch.cos(ang), speed * torch.sin(ang)], 1)
    clips = torch.full((n, frames, 1, CANVAS, CANVAS), -1.0)
    for f in range(frames):
        for i in range(n):
            x0, y0 = int(round(pos[i, 0].item())), int(round(pos[i, 1].item()))
            clips[i, f, 0, y0:y0 + GARMENT, x0:x0 + GARMENT] = garments[idx[i], 0]
        pos = pos + vel
        for a in range(2):
            lo, hi = pos[:, a] < 0, pos[:, a] > room
            pos[lo, a] = -pos[lo, a]
            pos[hi, a] = 2 * room - pos[hi, a]
            vel[lo | hi, a] = -vel[lo | hi, a]
    return clips, labels[idx]


class Block(nn.Module):
    def __init__(self, d, heads, mlp):
        super().__init__()
        self.heads = heads
        self.ada = nn.Linear(d, 6 * d)
        self.qkv = nn.Linear(d, 3 * d)
        self.proj = nn.Linear(d, d)
        self.fc1 = nn.Linear(d, mlp)
        self.fc2 = nn.Linear(mlp, d)

    def forward(self, h, c, cos, sin, mask, tok_chunk):
        B, N, D = h.shape
        hd = D // self.heads
        mod = self.ada(c)[:, tok_chunk]  # [B, N, 6D] per chunk
        sh1, sc1, g1, sh2, sc2, g2 = mod.chunk(6, -1)
        a = F.layer_norm(h, (D,), eps=1e-6) * (1 + sc1) + sh1
        q, k, v = self.qkv(a).reshape(B, N, 3, self.heads, hd).permute(2, 0, 3, 1, 4)

        def rope(u):
            return u * cos + torch.cat([-u[..., hd // 2:], u[..., :hd // 2]], -1) * sin
        s = (rope(q) @ rope(k).transpose(-2, -1)) * (1.0 / math.sqrt(hd))
        att = torch.softmax(s.masked_fill(~mask, float("-inf")), -1) @ v
        h = h + g1 * self.proj(att.transpose(1, 2).reshape(B, N, D))
        m = F.layer_norm(h, (D,), eps=1e-6) * (1 + sc2) + sh2
        return h + g2 * self.fc2(F.gelu(self.fc1(m), approximate="tanh"))


class VideoDiT(nn.Module):
    def __init__(self, hidden, depth, heads, patch, classes, frames, fc, mlp_ratio=4):
        super().__init__()
        self.p, self.d, self.frames, self.fc = patch, hidden, frames, fc
        self.P = (CANVAS // patch) ** 2
        self.x_embedder = nn.Conv2d(1, hidden, patch, patch)
        self.register_buffer("pos", pos_embed_2d(hidden, CANVAS // patch, CANVAS // patch).float())
        self.t_mlp = nn.Sequential(nn.Linear(256, hidden), nn.SiLU(), nn.Linear(hidden, hidden))
        self.y_table = nn.Embedding(classes + 1, hidden)
        self.blocks = nn.ModuleList([Block(hidden, heads, int(hidden * mlp_ratio)) for _ in range(depth)])
        self.f_ada = nn.Linear(hidden, 2 * hidden)
        self.f_lin = nn.Linear(hidden, patch * patch)
        hd = hidden // heads
        fr = torch.arange(frames * self.P) // self.P
        w = 10000.0 ** (-2.0 * torch.arange(hd // 2, dtype=torch.float64) / hd)
        ang = fr.double()[:, None] * w[None]
        self.register_buffer("cos", torch.cat([ang.cos(), ang.cos()], 1).float())
        self.register_buffer("sin", torch.cat([ang.sin(), ang.sin()], 1).float())
        chunk = fr // fc
        self.register_buffer("tok_chunk", chunk)
        self.register_buffer("mask", chunk[None, :] <= chunk[:, None])
        freqs = torch.exp(-math.log(10000.0) * torch.arange(128, dtype=torch.float64) / 128)
        self.register_buffer("freqs", freqs)

    def forward(self, x, t, y):
        """x [B, F, 1, H, W], t [B, K] model timesteps per chunk, y [B]."""
        B, Fr = x.shape[:2]
        h = self.x_embedder(x.reshape(B * Fr, 1, CANVAS, CANVAS)).flatten(2).transpose(1, 2) + self.pos
        h = h.reshape(B, Fr * self.P, self.d)
        args = t.double()[..., None] * self.freqs
        temb = torch.cat([args.cos(), args.sin()], -1).float()
        c = F.silu(self.t_mlp(temb) + self.y_table(y)[:, None])  # [B, K, D]
        for blk in self.blocks:
            h = blk(h, c, self.cos, self.sin, self.mask, self.tok_chunk)
        sh, sc = self.f_ada(c)[:, self.tok_chunk].chunk(2, -1)
        h = self.f_lin(F.layer_norm(h, (self.d,), eps=1e-6) * (1 + sc) + sh)
        g, p = CANVAS // self.p, self.p
        h = h.reshape(B * Fr, g, g, p, p, 1)
        return torch.einsum("nhwpqc->nchpwq", h).reshape(B, Fr, 1, CANVAS, CANVAS)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=64)
    ap.add_argument("--depth", type=int, default=4)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--patch", type=int, default=4)
    ap.add_argument("--clip-frames", type=int, default=16)
    ap.add_argument("--frames-per-chunk", type=int, default=4)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--seconds", type=float, default=60, help="time the steps after 2 warm-up steps for this long")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    garments, labels = load_garments()
    K = a.clip_frames // a.frames_per_chunk
    model = VideoDiT(a.hidden, a.depth, a.heads, a.patch, 10, a.clip_frames, a.frames_per_chunk)
    opt = torch.optim.AdamW(model.parameters(), lr=a.lr, weight_decay=0.0)
    g = torch.Generator().manual_seed(a.seed)

    def step():
        x0, y = make_clips(garments, labels, a.batch, a.clip_frames, g)
        y = torch.where(torch.rand(a.batch, generator=g) < 0.1, torch.full_like(y, 10), y)
        tt = torch.sigmoid(torch.randn(a.batch, K, generator=g))
        tf = tt.repeat_interleave(a.frames_per_chunk, 1)[:, :, None, None, None]
        eps = torch.randn(x0.shape, generator=g)
        xt = (1 - tf) * x0 + tf * eps
        loss = F.mse_loss(model(xt, tt * 1000, y), eps - x0)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
        return loss.item()

    for _ in range(2):
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < a.seconds:
        t0 = time.perf_counter()
        loss = step()
        n += 1
        print(f"step {n}: {time.perf_counter() - t0:.2f} s, loss {loss:.4f}", file=sys.stderr, flush=True)
    el = time.perf_counter() - start
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "threads": a.threads, "batch": a.batch,
                      "hidden": a.hidden, "depth": a.depth, "heads": a.heads, "patch": a.patch,
                      "clip_frames": a.clip_frames, "frames_per_chunk": a.frames_per_chunk, "steps": n,
                      "seconds_per_step": el / n, "samples_per_s": n * a.batch / el, "last_loss": loss}))


if __name__ == "__main__":
    main()
