#!/usr/bin/python3
"""Independent plain-PyTorch DiT (DESIGN.md "Numerical conventions"): the peer baseline for leap.

Run with Debian's /usr/bin/python3 (torch 1.13 CPU). Modes:
  --check-fixture [--fixtures DIR]          reproduce the dit-conformance fixtures, exit 1 if off
  --model M --make-noise N --seed K --out F  write tensor `noise` [N,C,H,W] F32
  --model M --labels 0-9|a,b,.. --n N --steps S --cfg W --seed K [--noise F] [--raw-out F]
            [--threads T] [--time]           flow Euler sampling with classifier-free guidance
"""
import argparse
import json
import math
import os
import struct
import sys
import time

import torch
import torch.nn.functional as F

# Safetensors dtype names <-> torch dtypes (only the float types the design allows).
DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16}
ELEM_SIZE = {"F64": 8, "F32": 4, "F16": 2, "BF16": 2}


def read_safetensors(path):
    """Returns ({name: tensor}, metadata dict). Hand-written so that the baseline depends on
    nothing but torch: 8-byte LE header length, JSON header, then raw little-endian data."""
    with open(path, "rb") as f:
        blob = f.read()
    (header_len,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + header_len])
    data = memoryview(blob)[8 + header_len:]
    meta = header.pop("__metadata__", {}) or {}
    tensors = {}
    for name, info in header.items():
        dtype = info["dtype"]
        if dtype not in DTYPES:
            raise ValueError(f"{path}: tensor {name}: unsupported dtype {dtype}")
        begin, end = info["data_offsets"]
        count = math.prod(info["shape"])
        if end - begin != count * ELEM_SIZE[dtype]:
            raise ValueError(f"{path}: tensor {name}: {end - begin} bytes for shape {info['shape']}")
        # bytearray copy: torch.frombuffer wants a writable buffer, and the tensor must outlive `blob`.
        raw = bytearray(data[begin:end])
        t = torch.frombuffer(raw, dtype=DTYPES[dtype]) if count else torch.empty(0, dtype=DTYPES[dtype])
        tensors[name] = t.reshape(info["shape"])
    return tensors, meta


def write_safetensors(path, tensors, metadata=None):
    names = {v: k for k, v in DTYPES.items()}
    header, chunks, offset = {}, [], 0
    for name, t in tensors.items():
        raw = t.detach().contiguous().cpu().numpy().tobytes() if t.dtype != torch.bfloat16 else \
            t.detach().contiguous().view(torch.int16).numpy().tobytes()
        header[name] = {"dtype": names[t.dtype], "shape": list(t.shape),
                        "data_offsets": [offset, offset + len(raw)]}
        chunks.append(raw)
        offset += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)  # the format pads the header so the data is 8-byte aligned
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for raw in chunks:
            f.write(raw)


class DiT:
    """The class-conditional DiT forward, written out op by op from the weights dict."""

    def __init__(self, weights, meta, dtype=torch.float32):
        self.w = {k: v.to(dtype) for k, v in weights.items()}
        self.dtype = dtype
        self.input_size = int(meta["input_size"])
        self.patch = int(meta["patch_size"])
        self.in_ch = int(meta["in_channels"])
        self.hidden = int(meta["hidden_size"])
        self.depth = int(meta["depth"])
        self.heads = int(meta["num_heads"])
        self.num_classes = int(meta["num_classes"])
        self.learn_sigma = str(meta.get("learn_sigma", "False")).lower() == "true"
        self.out_ch = self.in_ch * 2 if self.learn_sigma else self.in_ch
        self.timestep_scale = float(meta.get("timestep_scale", "1"))
        self.null_class = int(meta.get("null_class", self.num_classes))

    @classmethod
    def load(cls, path, dtype=torch.float32):
        weights, meta = read_safetensors(path)
        return cls(weights, meta, dtype)

    def linear(self, x, name):
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def timestep_embedding(self, t):
        half = 128  # 256 frequencies: cos half then sin half
        # The sinusoids are computed in float64 whatever the model dtype: at t ~ 1000 a float32
        # frequency's rounding moves the argument by ~1e-4 rad and the output by ~1e-5 relative.
        i = torch.arange(half, dtype=torch.float64)
        freqs = torch.exp(-math.log(10000.0) * i / half)
        args = t.to(torch.float64)[:, None] * freqs[None]
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=1).to(self.dtype)
        return self.linear(F.silu(self.linear(emb, "t_embedder.mlp.0")), "t_embedder.mlp.2")

    @staticmethod
    def modulate(x, shift, scale):
        return x * (1 + scale[:, None]) + shift[:, None]

    def layer_norm(self, x):
        return F.layer_norm(x, (self.hidden,), eps=1e-6)  # no affine parameters

    def attention(self, x, prefix):
        n, tokens, d = x.shape
        head_dim = d // self.heads
        qkv = self.linear(x, prefix + ".qkv").reshape(n, tokens, 3, self.heads, head_dim)
        q, k, v = qkv.permute(2, 0, 3, 1, 4)  # each [n, heads, tokens, head_dim]
        att = torch.softmax(q @ k.transpose(-2, -1) / math.sqrt(head_dim), dim=-1)
        out = (att @ v).transpose(1, 2).reshape(n, tokens, d)
        return self.linear(out, prefix + ".proj")

    def forward(self, x, t, y):
        """x [N,C,H,W], t [N] (model timestep, already scaled), y [N] int labels -> [N,out_ch,H,W]."""
        x = x.to(self.dtype)
        p = self.patch
        h = F.conv2d(x, self.w["x_embedder.proj.weight"], self.w["x_embedder.proj.bias"], stride=p)
        h = h.flatten(2).transpose(1, 2) + self.w["pos_embed"]
        c = self.timestep_embedding(t) + self.w["y_embedder.embedding_table.weight"][y]
        c_act = F.silu(c)
        for b in range(self.depth):
            pre = f"blocks.{b}"
            mod = self.linear(c_act, pre + ".adaLN_modulation.1").chunk(6, dim=1)
            shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod
            h = h + gate_msa[:, None] * self.attention(
                self.modulate(self.layer_norm(h), shift_msa, scale_msa), pre + ".attn")
            m = self.modulate(self.layer_norm(h), shift_mlp, scale_mlp)
            m = self.linear(F.gelu(self.linear(m, pre + ".mlp.fc1"), approximate="tanh"), pre + ".mlp.fc2")
            h = h + gate_mlp[:, None] * m
        shift, scale = self.linear(c_act, "final_layer.adaLN_modulation.1").chunk(2, dim=1)
        h = self.linear(self.modulate(self.layer_norm(h), shift, scale), "final_layer.linear")
        # unpatchify (N, h, w, p, p, C) -> (N, C, h*p, w*p)
        n, g = h.shape[0], self.input_size // p
        h = h.reshape(n, g, g, p, p, self.out_ch)
        return torch.einsum("nhwpqc->nchpwq", h).reshape(n, self.out_ch, g * p, g * p)


def euler_cfg(model, x, labels, steps, cfg, timestep_scale):
    """Flow Euler from t=1 to t=0 with CFG; cond and uncond share one batched forward (2N)."""
    n, c = x.shape[0], x.shape[1]
    y = torch.cat([labels, torch.full_like(labels, model.null_class)])
    trajectory = [x]
    for i in range(steps):
        t, t_next = 1.0 - i / steps, 1.0 - (i + 1) / steps
        tt = torch.full((2 * n,), t * timestep_scale, dtype=torch.float64)  # see timestep_embedding
        out = model.forward(torch.cat([x, x]), tt, y)[:, :c]  # v = first C channels
        v_cond, v_uncond = out[:n], out[n:]
        x = x + (t_next - t) * (v_uncond + cfg * (v_cond - v_uncond))
        trajectory.append(x)
    return x, trajectory


def rel_l2(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item()


def check_fixture(fixture_dir):
    """Reproduce io_f64 and euler_cfg_f64 from dit_tiny_*; returns True when every error is in bound."""
    io, io_meta = read_safetensors(os.path.join(fixture_dir, "io_f64.safetensors"))
    x, t, want = io["input.x"], io["input.t"], io["output"]
    y = torch.tensor(json.loads(io_meta["input.y"]), dtype=torch.long)
    ok = True

    def report(what, err, bound):
        nonlocal ok
        passed = err <= bound
        ok &= passed
        print(f"{what:<34} rel L2 {err:.3e}  bound {bound:.0e}  {'ok' if passed else 'FAIL'}")

    # Rounded F16/BF16 weights differ from the F32 ones by about their epsilon: the loose bounds
    # only show that those dtypes decode to the same model.
    cases = [("f32", torch.float64, 1e-10), ("f32", torch.float32, 1e-6),
             ("f16", torch.float64, 2e-3), ("bf16", torch.float64, 1e-2)]
    with torch.no_grad():
        for wname, dtype, bound in cases:
            model = DiT.load(os.path.join(fixture_dir, f"dit_tiny_{wname}.safetensors"), dtype)
            got = model.forward(x, t, y)
            report(f"io_f64 {wname} weights, {str(dtype)[6:]}", rel_l2(got, want), bound)

        eu, eu_meta = read_safetensors(os.path.join(fixture_dir, "euler_cfg_f64.safetensors"))
        labels = torch.tensor(json.loads(eu_meta["labels"]), dtype=torch.long)
        steps, cfg = int(eu_meta["steps"]), float(eu_meta["cfg_scale"])
        scale = float(eu_meta["timestep_scale"])
        for dtype, bound in [(torch.float64, 1e-10), (torch.float32, 1e-6)]:
            model = DiT.load(os.path.join(fixture_dir, "dit_tiny_f32.safetensors"), dtype)
            model.null_class = int(eu_meta["null_class"])
            _, traj = euler_cfg(model, eu["x_init"].to(dtype), labels, steps, cfg, scale)
            report(f"euler_cfg trajectory, {str(dtype)[6:]}", rel_l2(torch.stack(traj), eu["trajectory"]), bound)
    return ok


def parse_labels(spec, n):
    """'0-9' or '1,4,7' (or one number), cycled to n labels."""
    if "-" in spec:
        lo, hi = (int(s) for s in spec.split("-"))
        base = list(range(lo, hi + 1))
    else:
        base = [int(s) for s in spec.split(",")]
    return torch.tensor([base[i % len(base)] for i in range(n)], dtype=torch.long)


def noise_shape(model, n):
    return (n, model.in_ch, model.input_size, model.input_size)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--check-fixture", action="store_true")
    ap.add_argument("--fixtures", default=os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                                      "../../shared/fixtures/dit-conformance"))
    ap.add_argument("--model")
    ap.add_argument("--make-noise", type=int, metavar="N")
    ap.add_argument("--out")
    ap.add_argument("--labels", default="0-9")
    ap.add_argument("--n", type=int, default=10)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--cfg", type=float, default=3.0)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--noise")
    ap.add_argument("--raw-out")
    ap.add_argument("--threads", type=int)
    ap.add_argument("--time", action="store_true")
    args = ap.parse_args()

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.check_fixture:
        return 0 if check_fixture(args.fixtures) else 1
    if not args.model:
        ap.error("--model is required (or --check-fixture)")
    model = DiT.load(args.model, torch.float32)

    if args.make_noise:
        if not args.out:
            ap.error("--make-noise needs --out")
        gen = torch.Generator().manual_seed(args.seed)
        noise = torch.randn(noise_shape(model, args.make_noise), generator=gen, dtype=torch.float32)
        write_safetensors(args.out, {"noise": noise}, {"seed": args.seed})
        return 0

    if args.noise:
        noise = read_safetensors(args.noise)[0]["noise"].to(torch.float32)
        if tuple(noise.shape) != noise_shape(model, args.n):
            sys.exit(f"{args.noise}: noise shape {list(noise.shape)}, model wants {list(noise_shape(model, args.n))}")
    else:
        gen = torch.Generator().manual_seed(args.seed)
        noise = torch.randn(noise_shape(model, args.n), generator=gen, dtype=torch.float32)
    labels = parse_labels(args.labels, args.n)

    with torch.no_grad():
        # One warm-up forward so that allocator and thread-pool start-up stay out of the timing.
        model.forward(torch.cat([noise, noise]), torch.zeros(2 * args.n), torch.cat([labels, labels]))
        start = time.perf_counter()
        samples, _ = euler_cfg(model, noise, labels, args.steps, args.cfg, model.timestep_scale)
        seconds = time.perf_counter() - start

    if args.raw_out:
        write_safetensors(args.raw_out, {"samples": samples.contiguous()},
                          {"impl": "pytorch", "steps": args.steps, "cfg": args.cfg, "labels": labels.tolist()})
    if args.time:
        print(json.dumps({"impl": "pytorch", "images": args.n, "steps": args.steps,
                          "seconds": round(seconds, 4), "images_per_s": round(args.n / seconds, 4)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
