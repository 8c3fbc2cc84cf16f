#!/usr/bin/python3
"""torch_host.py - a PyTorch image generator that uses leap from Python.

The host owns the model and the sampling loop: leap's image DiT
(models/default/leap-fmnist.safetensors) loaded into bench/torch_dit.py's
plain PyTorch DiT, its own Euler flow loop with classifier-free guidance
(cond and uncond rows in one batch, cond first). From leap it takes the
initial noise (leap.noise_fill: the noise `leap sample --seed S` draws) and
ERTACache, hooked where diffusers or ComfyUI hook a cache: after the patch
embedding, around the transformer block stack. Per step:

    h, c = embed(x, t, y)                  # patch + position, conditioning
    if cache.begin(step, h):               # leap: compute this step?
        h = blocks(h, c)                   # the torch block stack
        cache.end(step, h)                 # leap keeps h_after - h_before
    # else leap wrote h + the rectified cached residual into h itself
    v = final(h, c); v = guidance(v)
    phi, in_time = cache.step_scale(step)  # velocity * phi (or t adjusted)

The hidden states cross to leap without copies: a torch CPU tensor's
.numpy() shares its memory, and leap.Cache wraps that (leap_tensor_wrap_host).

    /usr/bin/python3 examples/python/torch_host.py [--profile P.json] [--n 32]
        [--steps 50] [--cfg 3] [--seed 0] [--out grid.png] [--cached-out grid.png]

Without --profile it samples once, uncached. With one (from `leap profile`
for the same model, steps and cfg) it samples uncached and cached from the
same seed and prints the cached images' PSNR against the uncached ones and
the hooks' share of the step time (time inside leap's calls / step time).
"""
import argparse
import math
import os
import sys
import time

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "bench"))
sys.path.insert(0, os.path.join(ROOT, "python"))
sys.path.insert(0, HERE)
import leap  # noqa: E402
import png_out  # noqa: E402
from torch_dit import DiT  # noqa: E402

DEFAULT_MODEL = os.path.join(ROOT, "models", "default", "leap-fmnist.safetensors")


class StagedDiT(DiT):
    """bench/torch_dit.py's DiT with its forward in the three stages a cache
    hooks between (the same ops in the same order as DiT.forward)."""

    def embed(self, x, t, y):
        """x [N,C,H,W], t [N] (model timestep), y [N] -> hidden states
        [N, tokens, hidden] (C-contiguous) and the activated conditioning."""
        h = F.conv2d(x.to(self.dtype), self.w["x_embedder.proj.weight"], self.w["x_embedder.proj.bias"],
                     stride=self.patch)
        h = h.flatten(2).transpose(1, 2) + self.w["pos_embed"]
        c = self.timestep_embedding(t) + self.w["y_embedder.embedding_table.weight"][y]
        # contiguous: the add may keep the transposed strides, and leap
        # reads the tensor's memory as [N, tokens, hidden] rows.
        return h.contiguous(), F.silu(c)

    def blocks(self, h, c_act):
        for b in range(self.depth):
            pre = f"blocks.{b}"
            shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = \
                self.linear(c_act, pre + ".adaLN_modulation.1").chunk(6, dim=1)
            h = h + gate_msa[:, None] * self.attention(
                self.modulate(self.layer_norm(h), shift_msa, scale_msa), pre + ".attn")
            m = self.modulate(self.layer_norm(h), shift_mlp, scale_mlp)
            m = self.linear(F.gelu(self.linear(m, pre + ".mlp.fc1"), approximate="tanh"), pre + ".mlp.fc2")
            h = h + gate_mlp[:, None] * m
        return h.contiguous()

    def final(self, h, c_act):
        shift, scale = self.linear(c_act, "final_layer.adaLN_modulation.1").chunk(2, dim=1)
        h = self.linear(self.modulate(self.layer_norm(h), shift, scale), "final_layer.linear")
        n, g, p = h.shape[0], self.input_size // self.patch, self.patch
        h = h.reshape(n, g, g, p, p, self.out_ch)
        return torch.einsum("nhwpqc->nchpwq", h).reshape(n, self.out_ch, g * p, g * p)


class HookClock:
    """Time inside leap's calls (the hooks, wrapping included) and in whole
    steps: wall time, and the process's CPU time (all threads), which a
    busy machine inflates less than wall time (waiting for a core is not
    counted)."""

    def __init__(self):
        self.hooks = self.steps = self.hooks_cpu = self.steps_cpu = 0.0

    def call(self, fn, *args):
        t0, c0 = time.perf_counter(), time.process_time()
        try:
            return fn(*args)
        finally:
            self.hooks += time.perf_counter() - t0
            self.hooks_cpu += time.process_time() - c0


def sample(model, noise, labels, steps, cfg, cache=None, clock=None, progress=None):
    """The host's own loop: flow Euler from t = 1 to 0 with guidance cfg.
    noise [n, C, H, W] float32, labels [n]; cache: a leap.Cache for this run
    (branches 2, images n, these steps and cfg) or None. Returns the images
    [n, C, H, W] float32."""
    clock = clock or HookClock()
    n, ch = noise.shape[0], model.in_ch
    y = torch.cat([torch.as_tensor(labels, dtype=torch.long), torch.full((n,), model.null_class, dtype=torch.long)])
    # The schedule and the state in float64, the model in float32, as leap's
    # sampler keeps them (examples/host_cache.c does the same).
    t = np.array([1.0 - i / steps for i in range(steps)] + [0.0])
    x = torch.from_numpy(noise.astype(np.float64))
    if cache is not None:
        clock.call(cache.reset)
    with torch.no_grad():
        for i in range(steps):
            t0, c0 = time.perf_counter(), time.process_time()
            xin = torch.cat([x, x]).to(torch.float32)
            # leap's timestep input is a float: round it the same way.
            tt = torch.full((2 * n,), float(np.float32(t[i] * model.timestep_scale)), dtype=torch.float64)
            h, c_act = model.embed(xin, tt, y)
            compute = True if cache is None else clock.call(cache.begin, i, h.numpy())
            if compute:
                h = model.blocks(h, c_act)
                if cache is not None:
                    clock.call(cache.end, i, h.numpy())
            out = model.final(h, c_act)[:, :ch]
            phi, in_time = (1.0, False) if cache is None else clock.call(cache.step_scale, i)
            if in_time:
                clock.call(cache.adjust_schedule, i, t)
            pv = 1.0 if in_time else phi
            v = float(pv) * (out[n:] + float(cfg) * (out[:n] - out[n:]))
            x = x + (t[i + 1] - t[i]) * v.to(torch.float64)
            clock.steps += time.perf_counter() - t0
            clock.steps_cpu += time.process_time() - c0
            if progress:
                progress(i + 1, steps)
    return x.to(torch.float32).numpy()


def psnr(a, b):
    """Mean over images of each image's PSNR against its reference, pixels
    in [-1, 1] (peak-to-peak 2): `leap bench erta`'s definition (99 dB for
    an identical image)."""
    a = a.reshape(a.shape[0], -1).astype(np.float64)
    b = b.reshape(b.shape[0], -1).astype(np.float64)
    mse = ((a - b) ** 2).mean(axis=1)
    return float(np.mean([10 * math.log10(4.0 / m) if m > 0 else 99.0 for m in mse]))


def load(model_path, threads):
    """The torch model and a leap CPU context (and leap's model handle, for
    its id, which a profile is checked against)."""
    if threads:
        torch.set_num_threads(threads)
    ctx = leap.Context("cpu", threads=threads or 0)
    with leap.Model(ctx, model_path) as lm:
        model_id, info = lm.id(), lm.info
    if info["prediction"] != "flow_v" or info["num_classes"] < 1 or info["arch"] != "dit":
        raise SystemExit(f"torch_host: {model_path} is not a class-conditional flow image DiT")
    return StagedDiT.load(model_path, torch.float32), ctx, model_id


def make_cache(ctx, profile, setting, model_id, n, steps, cfg):
    return leap.Cache(ctx, profile=profile, setting=setting, branches=2, images=n, steps=steps, cfg=cfg,
                      model_id=model_id)


def noise_for(model, seed, n):
    numel = model.in_ch * model.input_size * model.input_size
    return leap.noise_fill(seed, n, numel).reshape(n, model.in_ch, model.input_size, model.input_size)


def _progress_line(what, quiet):
    if quiet or not sys.stderr.isatty():
        return None

    def show(done, total):
        sys.stderr.write(f"\r{what}: step {done}/{total}")
        if done == total:
            sys.stderr.write("\n")
        sys.stderr.flush()
    return show


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default=DEFAULT_MODEL)
    ap.add_argument("--profile", help="ERTACache profile (leap profile) for this model, steps and cfg")
    ap.add_argument("--setting", type=int, default=0, help="which setting of the profile (default 0)")
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--steps", type=int, default=50)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--threads", type=int, default=0, help="CPU threads for torch and leap (0: their default)")
    ap.add_argument("--out", default="torch_host.png", help="PNG grid of the uncached images")
    ap.add_argument("--cached-out", help="PNG grid of the cached images (default torch_host_cached.png)")
    ap.add_argument("--cached-only", action="store_true",
                    help="with --profile: only the cached run (its hook share; no PSNR, no --out)")
    ap.add_argument("--quiet", action="store_true")
    a = ap.parse_args(argv)
    if a.n < 1 or a.steps < 1:
        ap.error("--n and --steps must be at least 1")
    if a.cached_only and not a.profile:
        ap.error("--cached-only needs --profile")
    inputs = [a.model, a.profile]
    cached_out = a.cached_out or "torch_host_cached.png"
    try:  # refuse a bad output before the long work
        if not a.cached_only:
            png_out.check(a.out, inputs)
        if a.profile:
            png_out.check(cached_out, inputs)
    except ValueError as e:
        raise SystemExit(f"torch_host: {e}")
    model, ctx, model_id = load(a.model, a.threads)
    labels = np.arange(a.n) % model.num_classes
    noise = noise_for(model, a.seed, a.n)
    try:
        cache = make_cache(ctx, a.profile, a.setting, model_id, a.n, a.steps, a.cfg) if a.profile else None
    except leap.LeapError as e:
        raise SystemExit(f"torch_host: {e}")
    full = None
    if not a.cached_only:
        full_clock = HookClock()
        full = sample(model, noise, labels, a.steps, a.cfg, clock=full_clock,
                      progress=_progress_line("uncached", a.quiet))
        png_out.write(a.out, full, inputs)
        if not a.quiet:
            print(f"torch_host: {a.n} images, {a.steps} steps, uncached {full_clock.steps:.2f} s -> {a.out}")
    if cache is None:
        return 0
    clock = HookClock()
    cached = sample(model, noise, labels, a.steps, a.cfg, cache=cache, clock=clock,
                    progress=_progress_line("cached", a.quiet))
    st = cache.stats()
    png_out.write(cached_out, cached, inputs)
    if not a.quiet:
        against = f", PSNR {psnr(cached, full):.3f} dB against uncached" if full is not None else ""
        print(f"torch_host: cached {clock.steps:.2f} s, {st['computed']} of {a.steps} steps computed{against} "
              f"-> {cached_out}")
        print(f"torch_host: hooks {1e3 * clock.hooks / a.steps:.3f} ms a step of {1e3 * clock.steps / a.steps:.1f} ms "
              f"({100 * clock.hooks / clock.steps:.3f}% of the step; leap's own count inside the hooks: "
              f"{1e3 * st['overhead_seconds'] / a.steps:.3f} ms a step)")
        print(f"torch_host: hooks' CPU time {1e3 * clock.hooks_cpu / a.steps:.3f} ms a step of "
              f"{1e3 * clock.steps_cpu / a.steps:.1f} ms ({100 * clock.hooks_cpu / clock.steps_cpu:.3f}% of the step)")
    cache.close()
    ctx.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
