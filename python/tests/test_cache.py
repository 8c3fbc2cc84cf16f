"""leap.Cache (ERTACache's hooks) from Python, without torch: the protocol
on numpy arrays with a stand-in block stack, errors with leap's message,
and a cache handed to Model.sample."""
import ctypes
import os

import numpy as np
import pytest

import leap
from leap import _structs as S

from conftest import DATA, IMAGE, VIDEO  # noqa: F401 (ctx, the fixture, comes from conftest too)


def blocks(h):
    # A stand-in block stack whose residual depends on its input.
    return (2.0 * h + 1.0).astype(np.float32)


def test_cache_desc_mirror_has_the_library_size_and_defaults():
    lib = leap.load_library(os.environ.get("LEAP_LIBRARY"))
    assert lib.leap_cache_desc_default().struct_size == ctypes.sizeof(S.CacheDesc)
    d = leap._default(lib.leap_cache_desc_default, S.CacheDesc)
    # leap_cache_desc_default (plugin/cache.c): fields in their places.
    assert (d.policy, d.level, d.profile, d.setting, d.timestep_adjust, d.rectify) == (0, 0, None, 0, 1, 1)
    assert (d.teacache_threshold, d.branches, d.images, d.model_id) == (0.1, 1, 1, None)
    assert (d.solver, d.schedule, d.shift, d.steps, d.cfg) == (0, 0, 1.0, 50, 1.0)


def test_uniform_cache_protocol_on_numpy_arrays(ctx):
    steps, branches, images = 6, 2, 3
    rng = np.random.default_rng(0)
    with leap.Cache(ctx, policy="uniform", uniform_computed=3, branches=branches, images=images,
                    steps=steps) as c:
        c.reset()
        decisions, last_residual = [], None
        for step in range(steps):
            x = rng.standard_normal((branches * images, 5, 4)).astype(np.float32)
            h = x.copy()
            compute = c.begin(step, h)  # in place, like a host's hidden states
            decisions.append(compute)
            if compute:
                np.testing.assert_array_equal(h, x)  # leap left the input alone
                after = blocks(h)
                c.end(step, after)
                last_residual = after - x
            else:
                # leap wrote x + the residual of the last computed step into h.
                np.testing.assert_allclose(h, x + last_residual, rtol=0, atol=1e-6)
            assert c.step_scale(step) == (1.0, False)  # no profile: no phi
        assert decisions[0] and sum(decisions) == 3
        st = c.stats()
        assert (st["evaluations"], st["computed"], st["reused"], st["planned_computed"]) == (steps, 3, 3, 3)
        assert st["overhead_seconds"] >= 0

        # out= another array: the input stays, out gets the result.
        c.reset()
        x = rng.standard_normal((branches * images, 5, 4)).astype(np.float32)
        assert c.begin(0, x)
        c.end(0, blocks(x))
        reuse_step = decisions.index(False)
        for step in range(1, reuse_step):
            assert c.begin(step, x)
            c.end(step, blocks(x))
        x2 = rng.standard_normal(x.shape).astype(np.float32)
        keep = x2.copy()
        out = np.full_like(x2, np.nan)
        assert not c.begin(reuse_step, x2, out=out)
        np.testing.assert_array_equal(x2, keep)
        np.testing.assert_allclose(out, x2 + (x + 1.0), rtol=0, atol=1e-6)  # residual of blocks(x) - x


def test_branches_keep_their_own_residuals(ctx):
    # Per branch: cond rows and uncond rows each get their own residual.
    with leap.Cache(ctx, policy="uniform", uniform_computed=1, branches=2, images=2, steps=2) as c:
        c.reset()
        cond = np.ones((2, 3, 4), dtype=np.float32)
        unc = np.full((2, 3, 4), 5.0, dtype=np.float32)
        assert c.begin(0, cond, branch=0) and c.begin(0, unc, branch=1)
        c.end(0, cond + 1.0, branch=0)
        c.end(0, unc + 7.0, branch=1)
        z0, z1 = np.zeros_like(cond), np.zeros_like(unc)
        assert not c.begin(1, z0, branch=0) and not c.begin(1, z1, branch=1)
        assert (z0 == 1.0).all() and (z1 == 7.0).all()


def test_cache_errors_carry_leaps_message(ctx):
    with pytest.raises(leap.LeapError) as e:
        leap.Cache(ctx, policy="erta")  # no profile
    assert e.value.call == "leap_cache_create" and "profile" in e.value.message
    with pytest.raises(leap.LeapError) as e:
        leap.Cache(ctx, profile=os.path.join(DATA, "no_such_profile.json"))
    assert "no_such_profile.json" in e.value.message
    with pytest.raises(leap.LeapError) as e:
        leap.Cache(ctx, policy="uniform", uniform_computed=9, steps=4)
    assert "uniform_computed" in e.value.message
    with pytest.raises(ValueError):
        leap.Cache(ctx, policy="sometimes")
    with leap.Cache(ctx, policy="uniform", uniform_computed=2, branches=2, images=2, steps=4) as c:
        c.reset()
        h = np.zeros((4, 3, 8), dtype=np.float32)
        with pytest.raises(leap.LeapError) as e:
            c.end(0, h)
        assert e.value.call == "leap_cache_end" and "did not ask to compute" in e.value.message
        with pytest.raises(leap.LeapError) as e:
            c.begin(0, np.zeros((3, 3, 8), dtype=np.float32))  # 3 rows, the cache serves 4
        assert "rows" in e.value.message
        with pytest.raises(leap.LeapError) as e:
            c.begin(4, h)
        assert "step 4" in e.value.message
        with pytest.raises(ValueError):
            c.begin(0, h.astype(np.float64))
        with pytest.raises(ValueError):
            c.begin(0, np.zeros((4, 8, 3), dtype=np.float32).transpose(0, 2, 1))  # not C-contiguous
        ro = h.copy()
        ro.flags.writeable = False
        with pytest.raises(ValueError):
            c.begin(0, ro)  # leap would write into it
        with pytest.raises(ValueError):
            c.adjust_schedule(0, np.linspace(1, 0, 5).astype(np.float32))
    with pytest.raises(ValueError):
        c.reset()  # closed


def test_adjust_schedule_without_phi_keeps_the_schedule(ctx):
    with leap.Cache(ctx, policy="none", steps=4) as c:
        t = np.linspace(1.0, 0.0, 5)
        assert c.adjust_schedule(1, t) is t
        np.testing.assert_array_equal(t, np.linspace(1.0, 0.0, 5))
        with pytest.raises(leap.LeapError) as e:
            c.adjust_schedule(0, np.linspace(1.0, 0.0, 7))
        assert "steps" in e.value.message


def test_model_id_names_the_weights(ctx):
    with leap.Model(ctx, IMAGE) as a, leap.Model(ctx, IMAGE) as b, leap.Model(ctx, VIDEO) as v:
        assert len(a.id()) == 16 and int(a.id(), 16) >= 0
        assert a.id() == b.id() and a.id() != v.id()


def test_sample_with_a_cache_reuses_steps(ctx):
    # Model.sample(cache=): leap_sample drives the hooks itself.
    with leap.Model(ctx, IMAGE) as m:
        kw = dict(n=2, labels=[1, 3], steps=8, cfg=2.0, seed=4)
        full = m.sample(**kw)
        with leap.Cache(ctx, policy="uniform", uniform_computed=4, branches=2, images=2, steps=8, cfg=2.0) as c:
            cached = m.sample(cache=c, **kw)
            assert c.stats()["computed"] == 4 and c.stats()["reused"] == 4
            assert np.isfinite(cached).all() and np.abs(cached - full).max() > 1e-4
            with leap.Cache(ctx, policy="none", branches=2, images=2, steps=8, cfg=2.0) as none:
                np.testing.assert_allclose(m.sample(cache=none, **kw), full, rtol=0, atol=1e-5)
