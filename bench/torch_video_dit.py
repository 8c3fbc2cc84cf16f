#!/usr/bin/python3
"""Plain-PyTorch reference of leap's video DiT (issue 11), and its conformance fixture.

Run with Debian's /usr/bin/python3 (python3-torch). Modes:
  --fixture DIR     write DIR/video_dit_tiny_f32.safetensors (a tiny random model, every weight
                    non-zero but the fixed sin-cos pos_embed) and DIR/video_dit_tiny_io_f64.safetensors
                    (inputs with mixed per-chunk timesteps, the expected outputs computed in float64
                    over the whole clip and chunk by chunk with the KV cache, and block 0's attention
                    intermediates)
  --check DIR       recompute the io file from the model file and say how far it is (exit 1 if off)

The architecture, precisely (the C runtime is written to match this):

Input: a clip x [B, T, C, H, W] (T frames, pixels in [-1, 1]), per-chunk model timesteps
t [B, K] (already multiplied by timestep_scale; K = ceil(T / frames_per_chunk); chunk k holds
frames k*Fc .. min((k+1)*Fc, T) - 1, so the last chunk may be short), class labels y [B].

1. Per-frame patch embedding: each frame goes through the conv `x_embedder.proj` (weight
   [D, C, p, p], stride p), giving P = (H/p)(W/p) tokens per frame in raster order
   (row hi, column wi -> hi*(W/p) + wi). Tokens of the clip are frame-major: token n = f*P + s.
2. Spatial position: `pos_embed` [1, P, D] (fixed 2-D sin-cos, DiT/MAE: channels 0..D/2-1 encode
   the column wi, D/2..D-1 the row hi, each half as [sin(pos*omega), cos(pos*omega)] with
   omega_i = 10000^(-i/(D/4)), i < D/4) is added to every frame's tokens. Nothing else is added:
   time enters only through the rotary embedding below, so no table caps the clip's length.
3. Conditioning per chunk: c[b, k] = TimestepEmbedder(t[b, k]) + y_embedder.embedding_table[y[b]]
   (the image DiT's: 256 frequencies, freqs = exp(-ln(10000) i / 128), emb = [cos(t f), sin(t f)],
   Linear, SiLU, Linear). Every token uses its own chunk's c (adaLN per chunk).
4. depth blocks, each: shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp =
   Linear(SiLU(c)) (blocks.N.adaLN_modulation.1, chunk order as listed) per chunk, then
     h += gate_msa * Attn(LN(h) * (1 + scale_msa) + shift_msa)
     h += gate_mlp * MLP(LN(h) * (1 + scale_mlp) + shift_mlp)
   LN: LayerNorm without affine, eps 1e-6. MLP: fc1, GELU (tanh), fc2; hidden = mlp_ratio * D.
5. Attention: qkv = Linear (blocks.N.attn.qkv), columns split as [3][heads][head_dim]. Rotary
   embedding over time on q and k (not v): a token of frame f (counted from the clip's first
   frame) has its head vector u [head_dim] replaced by u*cos(f w) + rotate_half(u)*sin(f w), where
   w = [w_0 .. w_{hd/2-1}, w_0 .. w_{hd/2-1}], w_i = rope_theta^(-2i/hd), and
   rotate_half(u) = [-u[hd/2:], u[:hd/2]] (the GPT-NeoX / LLaMA layout). q.k then depends on
   frames only through their difference. Scores q k^T / sqrt(hd), block-causal mask: token n
   attends to token m iff chunk(m) <= chunk(n) (its own chunk whole, earlier chunks, no later
   one); softmax, times v, heads concatenated, Linear (blocks.N.attn.proj).
6. Final layer: shift, scale = Linear(SiLU(c)) (final_layer.adaLN_modulation.1) per chunk;
   Linear(LN(h) * (1 + scale) + shift) (final_layer.linear) -> [p*p*C] per token, unpatchified
   per frame as the image DiT ((h, w, p, p, C) -> (C, h*p, w*p)) -> [B, T, C, H, W].

KV cache: keys and values of a finished chunk never change (the mask hides later chunks), so a
sampler denoises chunk k with each block's attention reading the cached k (after the rotary
embedding, at the chunk's absolute frames) and v of chunks 0..k-1, then appends chunk k's. The
forward over chunk k alone with that cache equals rows of chunk k of the whole-clip forward
(leap: LP_OP_BLOCK_ATTENTION / LP_OP_KV_APPEND, plugin/kv_cache.h).

Metadata keys (strings in __metadata__): arch = "video_dit", patch_size, hidden_size, depth,
num_heads, mlp_ratio, frames_per_chunk, clip_frames (the training clip length; not a limit),
input_height, input_width, in_channels, num_classes, null_class (= num_classes, the last
embedding row, for guidance), prediction (flow_v), timestep_scale, rope_theta, learn_sigma.
"""
import argparse
import json
import math
import os
import sys

import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from torch_dit import read_safetensors, write_safetensors  # noqa: E402

MODEL_FILE = "video_dit_tiny_f32.safetensors"
IO_FILE = "video_dit_tiny_io_f64.safetensors"


def pos_embed_2d(hidden, gh, gw):
    """DiT/MAE 2-D sin-cos table [1, gh*gw, hidden]: first half the column, second half the row."""
    def one_axis(d, pos):
        omega = 1.0 / 10000 ** (torch.arange(d // 2, dtype=torch.float64) / (d / 2.0))
        out = pos.reshape(-1, 1) * omega[None]
        return torch.cat([torch.sin(out), torch.cos(out)], dim=1)
    rows, cols = torch.meshgrid(torch.arange(gh, dtype=torch.float64), torch.arange(gw, dtype=torch.float64),
                                indexing="ij")
    return torch.cat([one_axis(hidden // 2, cols), one_axis(hidden // 2, rows)], dim=1)[None]


class VideoDiT:
    """The video DiT forward, op by op from the weights dict (see the module docstring)."""

    def __init__(self, weights, meta, dtype=torch.float64):
        self.w = {k: v.to(dtype) for k, v in weights.items()}
        self.dtype = dtype
        g = lambda k: int(meta[k])  # noqa: E731
        self.patch, self.hidden, self.depth, self.heads = g("patch_size"), g("hidden_size"), g("depth"), g("num_heads")
        self.fc, self.C, self.H, self.W = g("frames_per_chunk"), g("in_channels"), g("input_height"), g("input_width")
        self.rope_theta = float(meta["rope_theta"])
        self.P = (self.H // self.patch) * (self.W // self.patch)
        self.hd = self.hidden // self.heads

    def linear(self, x, name):
        return F.linear(x, self.w[name + ".weight"], self.w[name + ".bias"])

    def timestep_embedding(self, t):
        """t [...] -> [..., D]; the sinusoids in float64 (as bench/torch_dit.py)."""
        half = 128
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float64) / half)
        args = t.to(torch.float64)[..., None] * freqs
        emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1).to(self.dtype)
        return self.linear(F.silu(self.linear(emb, "t_embedder.mlp.0")), "t_embedder.mlp.2")

    def layer_norm(self, x):
        return F.layer_norm(x, (self.hidden,), eps=1e-6)

    def rope(self, u, frames):
        """u [B, heads, N, hd], frames [N] absolute frame index of each token."""
        half = self.hd // 2
        w = self.rope_theta ** (-2.0 * torch.arange(half, dtype=torch.float64) / self.hd)
        ang = frames.to(torch.float64)[:, None] * w[None]
        cos = torch.cat([torch.cos(ang), torch.cos(ang)], dim=1).to(self.dtype)
        sin = torch.cat([torch.sin(ang), torch.sin(ang)], dim=1).to(self.dtype)
        rot = torch.cat([-u[..., half:], u[..., :half]], dim=-1)
        return u * cos + rot * sin

    def chunk_cond(self, t, y):
        """c [B, K, D] from t [B, K] and y [B]."""
        return self.timestep_embedding(t) + self.w["y_embedder.embedding_table.weight"][y][:, None]

    def per_token(self, per_chunk, token_chunk):
        """[B, K, X] -> [B, N, X] by each token's chunk."""
        return per_chunk[:, token_chunk]

    def forward(self, x, t, y, frame0=0, cache=None, acts=None):
        """x [B, T, C, H, W] frames frame0 .. frame0+T-1 of the clip; t [B, K] the timesteps of the
        chunks these frames fall in (frame0 must start a chunk). cache: None for the whole clip
        (block-causal among these frames), or a list of per-block [k, v] lists of earlier chunks'
        keys/values ([B, heads, N_cached, hd], post-rotary) that this call reads and appends to.
        acts: a dict to which block 0's qkv (pre- and post-rotary, [B, N, 3D]) and attention
        output (before proj, [B, N, D]) are written."""
        B, T = x.shape[0], x.shape[1]
        p, D, P = self.patch, self.hidden, self.P
        assert frame0 % self.fc == 0
        frames = frame0 + torch.arange(T * P) // P                 # absolute frame per token
        token_chunk = frames // self.fc - frame0 // self.fc        # chunk index into t
        h = F.conv2d(x.reshape(B * T, self.C, self.H, self.W).to(self.dtype), self.w["x_embedder.proj.weight"],
                     self.w["x_embedder.proj.bias"], stride=p)
        h = (h.flatten(2).transpose(1, 2) + self.w["pos_embed"]).reshape(B, T * P, D)
        c_act = F.silu(self.chunk_cond(t, y))                      # [B, K, D]
        # The mask among the new tokens: block-causal by absolute chunk.
        abs_chunk = frames // self.fc
        allowed_new = abs_chunk[None, :] <= abs_chunk[:, None]     # [N, N]: query row, key column
        for b in range(self.depth):
            pre = f"blocks.{b}"
            mod = self.per_token(self.linear(c_act, pre + ".adaLN_modulation.1"), token_chunk).chunk(6, dim=-1)
            shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp = mod
            a_in = self.layer_norm(h) * (1 + scale_msa) + shift_msa
            qkv = self.linear(a_in, pre + ".attn.qkv")              # [B, N, 3D]
            q, k, v = qkv.reshape(B, T * P, 3, self.heads, self.hd).permute(2, 0, 3, 1, 4)
            q, k = self.rope(q, frames), self.rope(k, frames)
            allowed = allowed_new
            if cache is not None:
                kc, vc = cache[b]
                if kc is not None:
                    # Every cached key belongs to an earlier chunk: visible to every new query.
                    allowed = torch.cat([torch.ones(T * P, kc.shape[2], dtype=torch.bool), allowed_new], dim=1)
                    k_all, v_all = torch.cat([kc, k], dim=2), torch.cat([vc, v], dim=2)
                else:
                    k_all, v_all = k, v
            else:
                k_all, v_all = k, v
            s = (q @ k_all.transpose(-2, -1)) / math.sqrt(self.hd)
            s = s.masked_fill(~allowed, float("-inf"))
            att = (torch.softmax(s, dim=-1) @ v_all).transpose(1, 2).reshape(B, T * P, D)
            if acts is not None and b == 0:
                acts["act.b0.qkv"] = qkv
                roped = torch.cat([t_.transpose(1, 2).reshape(B, T * P, D) for t_ in (q, k, v)], dim=2)
                acts["act.b0.qkv_rope"] = roped
                acts["act.b0.attn"] = att
            if cache is not None:
                cache[b] = [k_all, v_all]
            h = h + gate_msa * self.linear(att, pre + ".attn.proj")
            m = self.layer_norm(h) * (1 + scale_mlp) + shift_mlp
            m = self.linear(F.gelu(self.linear(m, pre + ".mlp.fc1"), approximate="tanh"), pre + ".mlp.fc2")
            h = h + gate_mlp * m
        shift, scale = self.per_token(self.linear(c_act, "final_layer.adaLN_modulation.1"), token_chunk).chunk(2, -1)
        h = self.linear(self.layer_norm(h) * (1 + scale) + shift, "final_layer.linear")
        gh, gw = self.H // p, self.W // p
        h = h.reshape(B * T, gh, gw, p, p, self.C)
        out = torch.einsum("nhwpqc->nchpwq", h).reshape(B, T, self.C, self.H, self.W)
        return out

    def forward_chunked(self, x, t, y):
        """The same clip chunk by chunk with the KV cache; returns the concatenated outputs."""
        T = x.shape[1]
        cache = [[None, None] for _ in range(self.depth)]
        outs = []
        for k, f0 in enumerate(range(0, T, self.fc)):
            f1 = min(f0 + self.fc, T)
            outs.append(self.forward(x[:, f0:f1], t[:, k:k + 1], y, frame0=f0, cache=cache))
        return torch.cat(outs, dim=1)


def tiny_config():
    return {"arch": "video_dit", "patch_size": 4, "hidden_size": 16, "depth": 2, "num_heads": 2,
            "mlp_ratio": 2, "frames_per_chunk": 2, "clip_frames": 4, "input_height": 8, "input_width": 12,
            "in_channels": 1, "num_classes": 3, "null_class": 3, "prediction": "flow_v",
            "timestep_scale": 1000, "rope_theta": 10000, "learn_sigma": "False"}


def random_weights(cfg, gen):
    """Every weight drawn non-zero: uniform in +-bound away from 0 (a zero would hide a wrong
    index), scaled so activations stay O(1) through the blocks."""
    D, C, p = cfg["hidden_size"], cfg["in_channels"], cfg["patch_size"]
    hid = cfg["mlp_ratio"] * D

    def rnd(*shape, scale):
        mag = 0.2 + 0.8 * torch.rand(*shape, generator=gen, dtype=torch.float64)
        sign = torch.where(torch.rand(*shape, generator=gen) < 0.5, -1.0, 1.0).to(torch.float64)
        return (scale * mag * sign).to(torch.float32)

    def lin(name, out_f, in_f, scale=None):
        s = scale if scale is not None else 1.0 / math.sqrt(in_f)
        w[name + ".weight"] = rnd(out_f, in_f, scale=s)
        w[name + ".bias"] = rnd(out_f, scale=0.1)

    w = {}
    w["x_embedder.proj.weight"] = rnd(D, C, p, p, scale=1.0 / p)
    w["x_embedder.proj.bias"] = rnd(D, scale=0.1)
    gh, gw = cfg["input_height"] // p, cfg["input_width"] // p
    w["pos_embed"] = pos_embed_2d(D, gh, gw).to(torch.float32)
    lin("t_embedder.mlp.0", D, 256, scale=0.1)
    lin("t_embedder.mlp.2", D, D)
    w["y_embedder.embedding_table.weight"] = rnd(cfg["num_classes"] + 1, D, scale=0.5)
    for b in range(cfg["depth"]):
        pre = f"blocks.{b}"
        lin(pre + ".attn.qkv", 3 * D, D, scale=1.5 / math.sqrt(D))
        lin(pre + ".attn.proj", D, D)
        lin(pre + ".mlp.fc1", hid, D)
        lin(pre + ".mlp.fc2", D, hid)
        lin(pre + ".adaLN_modulation.1", 6 * D, D, scale=0.5 / math.sqrt(D))
    lin("final_layer.adaLN_modulation.1", 2 * D, D, scale=0.5 / math.sqrt(D))
    lin("final_layer.linear", p * p * C, D)
    return w


def rel_l2(a, b):
    a, b = a.double(), b.double()
    return ((a - b).norm() / b.norm()).item()


def compute_io(model, x, t, y):
    acts = {}
    with torch.no_grad():
        out = model.forward(x, t, y, acts=acts)
        out_chunked = model.forward_chunked(x, t, y)
    return out, out_chunked, acts


def write_fixture(out_dir):
    cfg = tiny_config()
    gen = torch.Generator().manual_seed(11)
    weights = random_weights(cfg, gen)
    for name, v in weights.items():
        if name != "pos_embed":  # the fixed sin-cos table has sin(0) = 0 at position 0
            assert (v != 0).all(), name
    meta = {k: str(v) for k, v in cfg.items()}
    model = VideoDiT(weights, meta, torch.float64)

    # 5 frames in chunks of 2: chunks 0-1 whole, chunk 2 a single frame (not divisible); longer
    # than the training clip (4 frames) on purpose. Mixed per-chunk timesteps, different per item.
    B, T = 2, 5
    K = -(-T // cfg["frames_per_chunk"])
    x = torch.randn(B, T, cfg["in_channels"], cfg["input_height"], cfg["input_width"], generator=gen,
                    dtype=torch.float64)
    t = torch.tensor([[20.0, 700.0, 990.0], [500.0, 0.0, 875.0]], dtype=torch.float64)[:, :K]
    y = torch.tensor([2, 0], dtype=torch.long)
    out, out_chunked, acts = compute_io(model, x, t, y)

    # Self-checks of the reference: the cache path equals the whole clip, and the mask is causal
    # (changing the last chunk's frames leaves every earlier chunk's output alone).
    err = rel_l2(out_chunked, out)
    assert err < 1e-12, f"chunked path differs from the whole clip: {err}"
    x2 = x.clone()
    x2[:, -1] += 1.0
    with torch.no_grad():
        out2 = model.forward(x2, t, y)
    last0 = (K - 1) * cfg["frames_per_chunk"]
    assert torch.equal(out2[:, :last0], out[:, :last0]), "later frames leaked into earlier chunks"
    assert not torch.equal(out2[:, last0:], out[:, last0:])

    os.makedirs(out_dir, exist_ok=True)
    write_safetensors(os.path.join(out_dir, MODEL_FILE), weights, meta)
    io = {"input.x": x, "input.t": t, "output": out, "output.chunked": out_chunked}
    # The attention inputs as the F32 op takes them (halves the file); its output in float64.
    io.update({k: v.contiguous().to(torch.float32 if k != "act.b0.attn" else torch.float64) for k, v in acts.items()})
    write_safetensors(os.path.join(out_dir, IO_FILE), io,
                      {"input.y": json.dumps(y.tolist()), "frames": T, "batch": B,
                       "made_by": "bench/torch_video_dit.py --fixture",
                       "act.note": "block 0: qkv [B, T*P, 3D] from attn.qkv; qkv_rope the same with q and k "
                                   "rotated (the attention op's input), both rounded to F32; attn [B, T*P, D] "
                                   "before attn.proj, F64"})
    print(f"wrote {MODEL_FILE} and {IO_FILE} to {out_dir}; chunked vs whole rel L2 {err:.2e}")
    return 0


def check(out_dir):
    weights, meta = read_safetensors(os.path.join(out_dir, MODEL_FILE))
    io, io_meta = read_safetensors(os.path.join(out_dir, IO_FILE))
    y = torch.tensor(json.loads(io_meta["input.y"]), dtype=torch.long)
    ok = True
    for dtype, bound in [(torch.float64, 1e-12), (torch.float32, 1e-5)]:
        model = VideoDiT(weights, meta, dtype)
        out, out_chunked, acts = compute_io(model, io["input.x"].to(dtype), io["input.t"], y)
        for name, got in [("output", out), ("output.chunked", out_chunked), ("act.b0.attn", acts["act.b0.attn"])]:
            e = rel_l2(got, io[name if name != "output.chunked" else "output"])
            ok &= e <= bound
            print(f"{name:<16} {str(dtype)[6:]:<8} rel L2 {e:.3e}  bound {bound:.0e}  {'ok' if e <= bound else 'FAIL'}")
    return 0 if ok else 1


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--fixture", metavar="DIR", help="write the tiny model and its io file into DIR")
    ap.add_argument("--check", metavar="DIR", help="recompute the io file in DIR and compare")
    args = ap.parse_args()
    if args.fixture:
        return write_fixture(args.fixture)
    if args.check:
        return check(args.check)
    ap.error("--fixture DIR or --check DIR")


if __name__ == "__main__":
    sys.exit(main())
