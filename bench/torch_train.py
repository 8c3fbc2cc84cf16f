#!/usr/bin/env python3
"""PyTorch peer for `leap train`: the same DiT (bench/torch_dit.py's forward), the same
objective (flow_v: x_t = (1-t) x0 + t eps, target eps - x0, t = sigmoid(N(0,1)), 10% label
dropout), AdamW with grad-norm clipping, on Fashion-MNIST, timed per step after warm-up.

usage: /usr/bin/python3 bench/torch_train.py --hidden 128 --depth 6 --heads 4 --patch 4 \
           --batch 128 --steps 10 --threads 2
prints one JSON line: {"impl": "pytorch", "samples_per_s": ..., "seconds_per_step": ...}
"""
import argparse, gzip, json, math, os, sys, time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_dit import DiT  # noqa: E402

FMNIST = "/usr/share/datasets/fashion-mnist"


def load_fmnist():
    with gzip.open(os.path.join(FMNIST, "train-images-idx3-ubyte.gz")) as f:
        images = np.frombuffer(f.read(), np.uint8, offset=16).reshape(-1, 1, 28, 28)
    with gzip.open(os.path.join(FMNIST, "train-labels-idx1-ubyte.gz")) as f:
        labels = np.frombuffer(f.read(), np.uint8, offset=8)
    x = torch.from_numpy(images.astype(np.float32) / 127.5 - 1.0)
    return x, torch.from_numpy(labels.astype(np.int64))


def pos_embed_2d(hidden, grid):
    """Fixed 2-D sin-cos position embedding (MAE/DiT): half the channels for each axis."""
    def one_axis(d, pos):
        omega = 1.0 / 10000 ** (np.arange(d // 2, dtype=np.float64) / (d / 2.0))
        out = np.outer(pos.reshape(-1), omega)
        return np.concatenate([np.sin(out), np.cos(out)], axis=1)
    gh, gw = np.meshgrid(np.arange(grid, dtype=np.float64), np.arange(grid, dtype=np.float64), indexing="ij")
    emb = np.concatenate([one_axis(hidden // 2, gw), one_axis(hidden // 2, gh)], axis=1)
    return torch.from_numpy(emb.astype(np.float32))[None]


def init_weights(hidden, depth, patch, classes, mlp_ratio=4):
    """DiT's init: xavier-uniform linears and patch conv, normal(0.02) embeddings, zero adaLN."""
    def xavier(out_f, in_f):
        bound = math.sqrt(6.0 / (in_f + out_f))
        return torch.empty(out_f, in_f).uniform_(-bound, bound)
    w = {}
    d, f = hidden, hidden * mlp_ratio
    w["x_embedder.proj.weight"] = xavier(d, patch * patch).reshape(d, 1, patch, patch)
    w["x_embedder.proj.bias"] = torch.zeros(d)
    w["t_embedder.mlp.0.weight"] = torch.randn(d, 256) * 0.02
    w["t_embedder.mlp.0.bias"] = torch.zeros(d)
    w["t_embedder.mlp.2.weight"] = torch.randn(d, d) * 0.02
    w["t_embedder.mlp.2.bias"] = torch.zeros(d)
    w["y_embedder.embedding_table.weight"] = torch.randn(classes + 1, d) * 0.02
    for b in range(depth):
        p = f"blocks.{b}."
        for name, (o, i) in {"attn.qkv": (3 * d, d), "attn.proj": (d, d), "mlp.fc1": (f, d), "mlp.fc2": (d, f)}.items():
            w[p + name + ".weight"] = xavier(o, i)
            w[p + name + ".bias"] = torch.zeros(o)
        w[p + "adaLN_modulation.1.weight"] = torch.zeros(6 * d, d)
        w[p + "adaLN_modulation.1.bias"] = torch.zeros(6 * d)
    w["final_layer.adaLN_modulation.1.weight"] = torch.zeros(2 * d, d)
    w["final_layer.adaLN_modulation.1.bias"] = torch.zeros(2 * d)
    w["final_layer.linear.weight"] = torch.zeros(patch * patch, d)
    w["final_layer.linear.bias"] = torch.zeros(patch * patch)
    return w


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--hidden", type=int, default=128)
    ap.add_argument("--depth", type=int, default=6)
    ap.add_argument("--heads", type=int, default=4)
    ap.add_argument("--patch", type=int, default=2)
    ap.add_argument("--batch", type=int, default=256)
    ap.add_argument("--steps", type=int, default=10, help="timed steps (after 2 warm-up steps)")
    ap.add_argument("--lr", type=float, default=3e-4)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    a = ap.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    images, labels = load_fmnist()
    meta = dict(input_size=28, patch_size=a.patch, in_channels=1, hidden_size=a.hidden, depth=a.depth,
                num_heads=a.heads, num_classes=10, learn_sigma="False", timestep_scale=1000, null_class=10)
    weights = init_weights(a.hidden, a.depth, a.patch, 10)
    weights["pos_embed"] = pos_embed_2d(a.hidden, 28 // a.patch)
    model = DiT(weights, meta)
    params = [v.requires_grad_() for k, v in model.w.items() if k != "pos_embed"]
    opt = torch.optim.AdamW(params, lr=a.lr, weight_decay=0.0)

    def step():
        idx = torch.randint(0, images.shape[0], (a.batch,))
        x0, y = images[idx], labels[idx].clone()
        y[torch.rand(a.batch) < 0.1] = 10  # label dropout -> null class
        t = torch.sigmoid(torch.randn(a.batch))
        eps = torch.randn_like(x0)
        xt = (1 - t)[:, None, None, None] * x0 + t[:, None, None, None] * eps
        loss = torch.mean((model.forward(xt, t * 1000, y) - (eps - x0)) ** 2)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        return loss.item()

    for _ in range(2):
        step()
    t0 = time.perf_counter()
    for _ in range(a.steps):
        loss = step()
    dt = (time.perf_counter() - t0) / a.steps
    print(json.dumps({"impl": "pytorch " + torch.__version__, "batch": a.batch, "seconds_per_step": round(dt, 4),
                      "samples_per_s": round(a.batch / dt, 2), "last_loss": round(loss, 4)}))


if __name__ == "__main__":
    main()
