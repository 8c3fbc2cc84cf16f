"""pytest tests of python/leap over libleap.so ($LEAP_LIBRARY) and the
fixtures of tests/data ($LEAP_TEST_DATA; default: the repository's)."""
import ctypes
import os
import threading

import numpy as np
import pytest

import leap
from leap import _structs as S

from conftest import DATA, IMAGE, VIDEO  # noqa: F401 (ctx, the fixture, comes from conftest too)


def test_struct_mirrors_have_the_library_sizes():
    # Each _default() writes the C sizeof into struct_size: the mirrors
    # (python/leap/_structs.py) must be as large, or fields are misplaced.
    lib = leap.load_library(os.environ.get("LEAP_LIBRARY"))
    pairs = [(lambda: lib.leap_context_desc_default(0), S.ContextDesc),
             (lib.leap_sample_desc_default, S.SampleDesc),
             (lib.leap_block_schedule_desc_default, S.BlockScheduleDesc),
             (lib.leap_kv_policy_desc_default, S.KvPolicyDesc),
             (lib.leap_video_desc_default, S.VideoDesc)]
    for fn, cls in pairs:
        assert fn().struct_size == ctypes.sizeof(cls), cls.__name__
    # ... and fields in the right places: the documented defaults.
    v = leap._default(lib.leap_video_desc_default, S.VideoDesc)
    assert (v.n, v.frames, v.steps, v.cfg, v.shift, v.family) == (1, 16, 50, 1.0, 1.0, 0)
    assert (v.ar_step, v.window, v.lag, v.recompute) == (5, 4, 8, 0)
    assert (v.cache_profile, v.cache_setting, v.cache_adjust, bool(v.cache_stats)) == (None, 0, 1, False)
    assert v.kv.struct_size == ctypes.sizeof(S.KvPolicyDesc)
    b = leap._default(lib.leap_block_schedule_desc_default, S.BlockScheduleDesc)
    assert (b.frames, b.frames_per_chunk, b.steps, b.ar_step, b.window, b.lag) == (16, 4, 50, 5, 4, 8)
    assert leap.api_version() // 10000 == 0


def test_model_info(ctx):
    with leap.Model(ctx, IMAGE) as m:
        i = m.info
        assert (i["arch"], i["input_size"], i["in_channels"], i["num_classes"], i["null_class"]) == ("dit", 8, 3, 5, 5)
        assert (i["height"], i["width"], i["clip_frames"], i["frames_per_chunk"]) == (8, 8, 1, 1)
        assert i["prediction"] == "eps" and i["weight_dtype"] == "F32" and i["parameters"] > 0
    with leap.Model(ctx, VIDEO) as v:
        assert (v.info["arch"], v.info["frames_per_chunk"], v.info["clip_frames"]) == ("video_dit", 2, 4)
        assert (v.info["height"], v.info["width"], v.info["prediction"]) == (8, 12, "flow_v")
    assert ctx.backend == "cpu" and ctx.device_name == "cpu"


def test_errors_carry_leap_last_error(ctx):
    with pytest.raises(leap.LeapError) as e:
        leap.Model(ctx, os.path.join(DATA, "no_such_model.safetensors"))
    assert "no_such_model.safetensors" in e.value.message and e.value.status == 2  # LEAP_ERR_IO
    assert e.value.call == "leap_model_load"
    with leap.Model(ctx, IMAGE) as m:
        with pytest.raises(leap.LeapError) as e:
            m.sample(n=1, steps=0)
        assert e.value.status == 1 and "steps" in e.value.message
        with pytest.raises(leap.LeapError) as e:
            m.sample(n=1, solver="rk4")
        assert "rk4" in e.value.message
    with pytest.raises(leap.LeapError) as e:
        leap.BlockSchedule(frames=0, frames_per_chunk=2, steps=3)
    assert "frames" in e.value.message


def test_sample_fills_numpy_in_place_and_uses_noise_fill(ctx):
    with leap.Model(ctx, IMAGE) as m:
        a = m.sample(n=2, labels=[1, 3], steps=6, cfg=2.0, seed=5)
        assert a.shape == (2, 1, 3, 8, 8) and a.dtype == np.float32 and np.isfinite(a).all()
        # Same seed, same bits; an out= array is filled in place.
        out = np.full_like(a, np.nan)
        b = m.sample(n=2, labels=[1, 3], steps=6, cfg=2.0, seed=5, out=out)
        assert b is out and np.array_equal(a, out)
        # The seed's noise is noise_fill's: passing it explicitly gives the same images.
        z = leap.noise_fill(5, 2, 3 * 8 * 8)
        c = m.sample(n=2, labels=[1, 3], steps=6, cfg=2.0, noise=z, seed=99)
        assert np.array_equal(a, c)
        d = m.sample(n=2, labels=[1, 3], steps=6, cfg=2.0, seed=6)
        assert np.abs(a - d).max() > 1e-2
        with pytest.raises(ValueError):
            m.sample(n=2, out=np.empty((2, 1, 3, 8, 8), dtype=np.float64))


def test_noise_fill_streams():
    z = leap.noise_fill(3, 4, 1000)
    assert z.shape == (4, 1000)
    assert np.array_equal(z[1], leap.noise_fill(3, 2, 1000)[1])  # sample i is stream i
    assert abs(float(z.mean())) < 0.1 and abs(float(z.std()) - 1) < 0.1


def test_block_schedule_every_chunk_takes_every_step_once():
    for family in ("synchronous", "autoregressive", "pyramid", "pipelined"):
        s = leap.BlockSchedule(frames=9, frames_per_chunk=2, steps=3, family=family, ar_step=1, window=3, lag=2)
        assert s.chunks == 5 and s.chunk_frames(4) == (8, 1)
        taken = np.zeros((s.chunks, 3), dtype=int)
        for it in s:
            for c in np.nonzero(it.update)[0]:
                taken[c, it.step[c]] += 1
                assert it.window_begin <= c < it.window_end
        assert (taken == 1).all(), family
        s.close()


def test_video_own_loop_equals_video_sample(ctx):
    # Synchronous Euler with guidance over forward(): leap_video_sample's clips.
    with leap.Model(ctx, VIDEO) as m:
        n, frames, steps, cfg, shift, seed = 2, 7, 3, 2.0, 2.0, 11
        want = m.video_sample(n=n, labels=[0, 2], frames=frames, steps=steps, cfg=cfg, shift=shift, seed=seed,
                              shuffle_window=4)
        i = m.info
        per = i["in_channels"] * i["height"] * i["width"]
        z = leap.noise_fill(seed, n, frames * per).reshape(n, frames, per)
        for b in range(n):
            leap.block_noise_shuffle(z[b], 4, i["frames_per_chunk"], seed + b)
        t = np.array([1.0 - k / steps for k in range(steps)] + [0.0])
        sigma = shift * t / (1 + (shift - 1) * t)
        x = z.astype(np.float64) * sigma[0]
        y = np.array([0, 2, i["null_class"], i["null_class"]], dtype=np.int32)
        for k in range(steps):
            xin = np.concatenate([x, x]).astype(np.float32)
            tin = np.full((2 * n, frames), sigma[k] * i["timestep_scale"], dtype=np.float32)
            out = m.forward(xin, tin, y, frames=frames).reshape(2 * n, frames, per).astype(np.float64)
            x += (sigma[k + 1] - sigma[k]) * (out[n:] + cfg * (out[:n] - out[n:]))
        got = x.astype(np.float32).reshape(want.shape)
        assert np.abs(got - want).max() < 1e-5


def test_tensor_wraps_numpy_memory(ctx):
    a = np.arange(12, dtype=np.float32).reshape(3, 4)
    t = leap.Tensor.wrap_host(ctx, a)
    a[1, 2] = 42.0  # leap sees the array itself
    assert t.read()[1, 2] == 42.0
    t.close()


def test_two_contexts_on_two_threads():
    # leap.h: different contexts may run at once (ctypes drops the GIL).
    results, errors = {}, []

    def run(seed):
        try:
            with leap.Context("cpu", threads=1) as c, leap.Model(c, IMAGE) as m:
                results[seed] = m.sample(n=2, labels=[0, 1], steps=5, cfg=1.5, seed=seed)
        except Exception as e:  # reported below, on the main thread
            errors.append(e)

    threads = [threading.Thread(target=run, args=(s,)) for s in (1, 2)]
    for th in threads:
        th.start()
    for th in threads:
        th.join()
    assert not errors
    with leap.Context("cpu", threads=1) as c, leap.Model(c, IMAGE) as m:
        for s in (1, 2):
            assert np.array_equal(results[s], m.sample(n=2, labels=[0, 1], steps=5, cfg=1.5, seed=s))
