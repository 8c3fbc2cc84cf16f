"""The PyTorch host (examples/python/torch_host.py) against the leap CLI:
its own loop around a torch DiT gives `leap sample`'s images for the same
seed, uncached and with `leap sample --cache PROFILE` (ERTACache driven from
Python), and the same PSNR of cached against uncached.

Needs torch (Debian: python3-torch, which .ci/install-deps installs only
with --bench) and the `leap` CLI beside libleap.so ($LEAP_CLI overrides):
each test skips, saying which is missing."""
import json
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

torch = pytest.importorskip(
    "torch", reason=f"{sys.executable} cannot import torch (Debian: python3-torch, installed by "
                    ".ci/install-deps --bench); the PyTorch host is not tested")

ROOT = os.path.normpath(os.path.join(os.path.dirname(__file__), "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "examples", "python"))
import torch_host  # noqa: E402

MODEL = torch_host.DEFAULT_MODEL
N, STEPS, CFG, SEED, COMPUTED = 2, 50, 3.0, 5, 25
# tests/test_dit.cpp's bound between leap and the PyTorch reference: the
# relative L2 error of a 10-step guided Euler run (leap in float32 against
# float64); the largest pixel difference gets 1e-4 (a wrong cache decision,
# residual or phi moves pixels by 1e-2 or more, as host_cache.c notes).
REL_L2_TOL, MAX_ABS_TOL = 1e-5, 1e-4


def cli_path():
    lib = os.environ.get("LEAP_LIBRARY")
    path = os.environ.get("LEAP_CLI") or (os.path.join(os.path.dirname(lib), "leap") if lib else shutil.which("leap"))
    if not path or not os.access(path, os.X_OK):
        pytest.skip(f"no leap CLI to compare with (looked at {path}; set $LEAP_CLI)")
    return path


def read_samples(path):
    # `leap sample --raw-out`: safetensors, tensor `samples` [N, C, H, W] F32.
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    info = json.loads(blob[8:8 + n])["samples"]
    assert info["dtype"] == "F32"
    begin, end = info["data_offsets"]
    return np.frombuffer(blob[8 + n + begin:8 + n + end], dtype=np.float32).reshape(info["shape"])


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    """One profile, the CLI's images uncached and cached, and the torch
    host's, all for the same seed."""
    cli, tmp = cli_path(), tmp_path_factory.mktemp("torch_host")
    run = dict(check=True, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    common = ["--model", MODEL, "--steps", str(STEPS), "--cfg", str(CFG), "--backend", "cpu", "--quiet"]
    profile = str(tmp / "p.json")
    # A small profile (2 calibration images on the profile's own seed, not
    # SEED; no rectification candidates): it keeps the test short.
    subprocess.run([cli, "profile", *common, "--images", "2", "--folds", "2", "--shrink", "0",
                    "--computed", str(COMPUTED), "--out", profile], **run)
    sample = [cli, "sample", *common, "--n", str(N), "--labels", "0-9", "--seed", str(SEED)]
    subprocess.run(sample + ["--out", str(tmp / "full.png"), "--raw-out", str(tmp / "full.st")], **run)
    subprocess.run(sample + ["--cache", profile, "--out", str(tmp / "cached.png"), "--raw-out", str(tmp / "cached.st")],
                   **run)
    model, ctx, model_id = torch_host.load(MODEL, 0)
    noise, labels = torch_host.noise_for(model, SEED, N), np.arange(N) % model.num_classes
    cache = torch_host.make_cache(ctx, profile, 0, model_id, N, STEPS, CFG)
    r = {"cli_full": read_samples(tmp / "full.st").reshape(N, -1),
         "cli_cached": read_samples(tmp / "cached.st").reshape(N, -1),
         "py_full": torch_host.sample(model, noise, labels, STEPS, CFG).reshape(N, -1),
         "py_cached": torch_host.sample(model, noise, labels, STEPS, CFG, cache=cache).reshape(N, -1),
         "stats": cache.stats()}
    cache.close()
    ctx.close()
    return r


def assert_close(got, want):
    rel = np.linalg.norm(got.astype(np.float64) - want) / np.linalg.norm(want.astype(np.float64))
    err = float(np.abs(got - want).max())
    assert rel <= REL_L2_TOL and err <= MAX_ABS_TOL, f"relative L2 {rel:.3g}, max abs {err:.3g}"


def test_uncached_equals_leap_sample(runs):
    assert_close(runs["py_full"], runs["cli_full"])


def test_cached_equals_leap_sample_cache(runs):
    st = runs["stats"]
    assert (st["computed"], st["planned_computed"], st["evaluations"]) == (COMPUTED, COMPUTED, STEPS)
    assert_close(runs["py_cached"], runs["cli_cached"])
    # Not vacuous: the cache moved the images far beyond the tolerance.
    assert np.abs(runs["py_cached"] - runs["py_full"]).max() > 100 * MAX_ABS_TOL


def test_psnr_from_python_equals_the_clis(runs):
    py = torch_host.psnr(runs["py_cached"], runs["py_full"])
    cli = torch_host.psnr(runs["cli_cached"], runs["cli_full"])
    assert 20 < py < 90 and abs(py - cli) <= 0.1, f"Python {py:.3f} dB, CLI {cli:.3f} dB"
