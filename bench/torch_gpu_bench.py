#!/usr/bin/env python3
"""PyTorch peer for `leap bench sample` on a CUDA GPU: the same model file, the same job
(flow Euler, classifier-free guidance with both branches in one batch of 2N), timed the same
way (the first run at each batch size is a warm-up; best and median of --repeat runs, with
torch.cuda.synchronize() around each). The model code is bench/torch_dit.py's plain DiT.

usage: torch_gpu_bench.py --model M [--batch 1,16,256] [--steps 50] [--cfg 3] [--repeat 5]
                          [--dtype fp32|bf16] [--compile] [--json]
"""
import argparse
import json
import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_dit import DiT  # noqa: E402


class CudaDiT(DiT):
    """torch_dit.DiT with its weights on a device and the sinusoids built there (float64)."""

    def __init__(self, weights, meta, device, dtype):
        super().__init__(weights, meta, torch.float32)
        self.w = {k: v.to(device=device, dtype=torch.float32) for k, v in self.w.items()}
        self.device = device
        half = 128
        i = torch.arange(half, dtype=torch.float64, device=device)
        self.freqs = torch.exp(-math.log(10000.0) * i / half)
        self.autocast = dtype

    def timestep_embedding(self, t):
        args = t.to(torch.float64)[:, None] * self.freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1).to(torch.float32)
        return self.linear(torch.nn.functional.silu(self.linear(emb, "t_embedder.mlp.0")), "t_embedder.mlp.2")


def sample(model, forward, x, labels, steps, cfg):
    n, c = x.shape[0], x.shape[1]
    y = torch.cat([labels, torch.full_like(labels, model.null_class)])
    for i in range(steps):
        t, t_next = 1.0 - i / steps, 1.0 - (i + 1) / steps
        tt = torch.full((2 * n,), t * model.timestep_scale, dtype=torch.float64, device=x.device)
        out = forward(torch.cat([x, x]), tt, y)[:, :c].float()
        v_cond, v_uncond = out[:n], out[n:]
        x = x + (t_next - t) * (v_uncond + cfg * (v_cond - v_uncond))
    return x


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", required=True)
    ap.add_argument("--batch", default="1,16,256")
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--dtype", choices=["fp32", "bf16"], default="fp32")
    ap.add_argument("--compile", action="store_true", help="torch.compile(mode='reduce-overhead')")
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--device", default="cuda", help="cuda (default) or cpu (a smoke test)")
    args = ap.parse_args()
    device = torch.device(args.device)
    sync = torch.cuda.synchronize if device.type == "cuda" else (lambda: None)
    from torch_dit import read_safetensors
    weights, meta = read_safetensors(args.model)
    model = CudaDiT(weights, meta, device, args.dtype)
    forward = torch.compile(model.forward, mode="reduce-overhead") if args.compile else model.forward
    name = torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu"
    label = f"torch {torch.__version__} {args.dtype}{' compile' if args.compile else ' eager'}"
    if not args.json:
        print(f"model {args.model}, {name}, {label}, euler {args.steps} steps, cfg {args.cfg}, "
              f"best and median of {args.repeat}\n")
        print("| batch | best s | median s | images/s |\n| --- | --- | --- | --- |")
    for n in [int(b) for b in args.batch.split(",")]:
        g = torch.Generator(device="cpu").manual_seed(0)
        x0 = torch.randn((n, model.in_ch, model.input_size, model.input_size), generator=g).to(device)
        labels = (torch.arange(n) % max(model.num_classes, 1)).to(device)
        times = []
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=args.dtype == "bf16"):
            for r in range(args.repeat + 1):
                sync()
                t0 = time.perf_counter()
                sample(model, forward, x0, labels, args.steps, args.cfg)
                sync()
                if r:  # run 0 is the warm-up
                    times.append(time.perf_counter() - t0)
        best, median = min(times), statistics.median(times)
        if args.json:
            print(json.dumps({"bench": "sample", "impl": label, "device": name, "batch": n,
                              "steps": args.steps, "best_s": best, "median_s": median}))
        else:
            print(f"| {n} | {best:.4f} | {median:.4f} | {n / best:.1f} |")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
