"""leap from Python: a ctypes binding of libleap.so (include/leap.h).

Contexts, models, their description, the forward pass, image and video
sampling into numpy arrays, leap's initial noise, and the block-diffusion
schedule API, and ERTACache's hooks (Cache) for a host that runs its own
model and sampling loop. Every failing call raises LeapError carrying leap's
status and leap_last_error()'s message.

The library is found at the first call: $LEAP_LIBRARY, else
"libleap.so.0" on the dynamic loader's path (load_library() picks another).

Arrays: outputs are numpy float32 arrays that leap writes into directly (no
intermediate buffer, whatever the backend); an `out=` array, C-contiguous
float32 of the right shape, is filled in place. Tensor.wrap_host gives a
leap tensor over a numpy array's own memory (CPU backend).

Threads: as leap.h says, one context (and its models and tensors) is used by
one thread at a time; ctypes releases the GIL during each call, so separate
contexts may run on separate Python threads at once.
"""
import ctypes as C
import os

import numpy as np

from . import _structs as S

__all__ = ["LeapError", "load_library", "api_version", "Context", "Model", "Tensor", "BlockSchedule",
           "BlockIteration", "Cache", "ALL_BRANCHES", "noise_fill", "block_noise_shuffle"]

_BACKENDS = {"cpu": 0, "vulkan": 1}
_FAMILIES = {"synchronous": 0, "autoregressive": 1, "pyramid": 2, "pipelined": 3}
_KV_KINDS = {"keep_all": 0, "rolling": 1, "sparse": 2}
_PREDICTIONS = {0: "eps", 1: "v", 2: "flow_v"}
_CACHE_POLICIES = {"erta": 0, "uniform": 1, "teacache": 2, "none": 3}
_CACHE_LEVELS = {"hidden": 0, "output": 1}
ALL_BRANCHES = -1  # LEAP_CACHE_ALL_BRANCHES: a batch with every branch, cond rows first
_DTYPES = {np.dtype(np.float32): 0, np.dtype(np.float16): 1, np.dtype(np.float64): 3,
           np.dtype(np.int64): 4, np.dtype(np.int32): 5}

_lib = None


class LeapError(Exception):
    """A leap call failed: .status (leap_status), .status_name, .message
    (leap_last_error() of the calling thread) and .call."""

    def __init__(self, status, status_name, message, call):
        super().__init__(f"{call}: {status_name}: {message}")
        self.status, self.status_name, self.message, self.call = status, status_name, message, call


def _padded(cls):
    # A struct returned by value is written whole by the library, at the
    # library's size: room for a newer library's appended fields.
    return type(cls.__name__ + "Ret", (C.Structure,), {"_fields_": cls._fields_ + [("_room", C.c_uint8 * 512)]})


def _signatures(lib):
    P, I, U32, U64, SZ = C.c_void_p, C.c_int, C.c_uint32, C.c_uint64, C.c_size_t
    F, I32 = C.POINTER(C.c_float), C.POINTER(C.c_int32)
    sig = {
        "leap_api_version": (U32, []),
        "leap_status_string": (C.c_char_p, [I]),
        "leap_last_error": (C.c_char_p, []),
        "leap_context_desc_default": (_padded(S.ContextDesc), [I]),
        "leap_context_create": (I, [C.POINTER(S.ContextDesc), C.POINTER(P)]),
        "leap_context_destroy": (None, [P]),
        "leap_context_backend": (I, [P]),
        "leap_context_device_name": (C.c_char_p, [P]),
        "leap_tensor_wrap_host": (I, [P, I, I, C.POINTER(C.c_int64), P, C.POINTER(P)]),
        "leap_tensor_destroy": (None, [P]),
        "leap_tensor_read": (I, [P, P, SZ]),
        "leap_tensor_write": (I, [P, P, SZ]),
        "leap_model_load": (I, [P, C.c_char_p, C.POINTER(P)]),
        "leap_model_destroy": (None, [P]),
        "leap_model_get_info": (I, [P, C.POINTER(S.ModelInfo)]),
        "leap_model_forward": (I, [P, I, F, F, I32, F]),
        "leap_model_forward_frames": (I, [P, I, I, F, F, I32, F]),
        "leap_sample_desc_default": (_padded(S.SampleDesc), []),
        "leap_noise_fill": (I, [U64, I, SZ, F]),
        "leap_sample": (I, [P, C.POINTER(S.SampleDesc), F]),
        "leap_solver_from_name": (I, [C.c_char_p, C.POINTER(I)]),
        "leap_schedule_from_name": (I, [C.c_char_p, C.POINTER(I)]),
        "leap_block_schedule_desc_default": (_padded(S.BlockScheduleDesc), []),
        "leap_block_schedule_create": (I, [C.POINTER(S.BlockScheduleDesc), C.POINTER(P)]),
        "leap_block_schedule_destroy": (None, [P]),
        "leap_block_schedule_chunks": (I, [P]),
        "leap_block_schedule_iterations": (I, [P]),
        "leap_block_schedule_chunk_frames": (I, [P, I, C.POINTER(I), C.POINTER(I)]),
        "leap_block_schedule_get": (I, [P, I, C.POINTER(S.BlockIteration)]),
        "leap_block_noise_shuffle": (I, [F, I, SZ, I, I, U64]),
        "leap_kv_policy_desc_default": (_padded(S.KvPolicyDesc), []),
        "leap_video_desc_default": (_padded(S.VideoDesc), []),
        "leap_video_sample": (I, [P, C.POINTER(S.VideoDesc), F]),
        "leap_model_id": (I, [P, C.c_char_p, SZ]),
        "leap_cache_desc_default": (_padded(S.CacheDesc), []),
        "leap_cache_create": (I, [P, C.POINTER(S.CacheDesc), C.POINTER(P)]),
        "leap_cache_destroy": (None, [P]),
        "leap_cache_reset": (I, [P]),
        "leap_cache_begin": (I, [P, I, I, P, P, C.POINTER(I)]),
        "leap_cache_end": (I, [P, I, I, P]),
        "leap_cache_step_scale": (I, [P, I, C.POINTER(C.c_double), C.POINTER(I)]),
        "leap_cache_adjust_schedule": (I, [P, I, C.POINTER(C.c_double), I]),
        "leap_cache_get_stats": (I, [P, C.POINTER(S.CacheStats)]),
    }
    for name, (res, args) in sig.items():
        fn = getattr(lib, name)
        fn.restype, fn.argtypes = res, args


def load_library(path=None):
    """Loads libleap (path, else $LEAP_LIBRARY, else "libleap.so.0") and
    checks its API major against the one this package was written for (0)."""
    global _lib
    lib = C.CDLL(path or os.environ.get("LEAP_LIBRARY") or "libleap.so.0")
    _signatures(lib)
    major = lib.leap_api_version() // 10000
    if major != 0:
        raise LeapError(7, "unsupported", f"the library is API major {major}; this package serves major 0",
                        "load_library")
    _lib = lib
    return lib


def _L():
    return _lib if _lib is not None else load_library()


def _check(status, call):
    if status != 0:
        lib = _L()
        raise LeapError(status, lib.leap_status_string(status).decode(), lib.leap_last_error().decode(), call)


def _default(fn, cls):
    # The library's defaults, as this package's struct (struct_size: ours).
    got = fn()
    ours = cls()
    C.memmove(C.addressof(ours), C.addressof(got), C.sizeof(cls))
    ours.struct_size = C.sizeof(cls)
    return ours


def _fptr(a):
    return a.ctypes.data_as(C.POINTER(C.c_float))


def _out_array(out, shape, what):
    if out is None:
        return np.empty(shape, dtype=np.float32)
    if not isinstance(out, np.ndarray) or out.dtype != np.float32 or not out.flags.c_contiguous or \
            not out.flags.writeable or tuple(out.shape) != tuple(shape):
        raise ValueError(f"{what}: out must be a writeable C-contiguous float32 array of shape {tuple(shape)}")
    return out


def _floats(a, count, what):
    a = np.ascontiguousarray(a, dtype=np.float32)
    if a.size != count:
        raise ValueError(f"{what}: {a.size} values, want {count}")
    return a


def _labels(labels, n, what):
    if labels is None:
        return None
    y = np.ascontiguousarray(labels, dtype=np.int32)
    if y.shape != (n,):
        raise ValueError(f"{what}: labels must be {n} integers")
    return y


def api_version():
    """LEAP_API_VERSION of the library: major * 10000 + minor * 100 + patch."""
    return int(_L().leap_api_version())


class _Handle:
    """A leap handle owned by a Python object: close() (or leaving a with
    block, or garbage collection) calls the class's leap_*_destroy once."""

    _destroy = None  # name of the library's destroy call

    def close(self):
        if getattr(self, "_h", None):
            getattr(_L(), self._destroy)(self._h)
            self._h = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        self.close()


class Context(_Handle):
    """A device to run on: backend "cpu" or "vulkan" (device: index or name
    substring; None = $LEAP_DEVICE or the best one). Close it (or use it as a
    context manager) after the models made in it."""

    _destroy = "leap_context_destroy"

    def __init__(self, backend="cpu", device=None, threads=0, validation=-1):
        lib = _L()
        if backend not in _BACKENDS:
            raise ValueError(f"backend must be one of {sorted(_BACKENDS)}")
        d = _default(lambda: lib.leap_context_desc_default(_BACKENDS[backend]), S.ContextDesc)
        self._device = device.encode() if isinstance(device, str) else device
        d.device, d.threads, d.validation = self._device, int(threads), int(validation)
        h = C.c_void_p()
        _check(lib.leap_context_create(C.byref(d), C.byref(h)), "leap_context_create")
        self._h = h

    @property
    def handle(self):
        if not self._h:
            raise ValueError("the context is closed")
        return self._h

    @property
    def backend(self):
        """"cpu" or "vulkan"."""
        return "vulkan" if _L().leap_context_backend(self.handle) == 1 else "cpu"

    @property
    def device_name(self):
        return _L().leap_context_device_name(self.handle).decode()



class Model(_Handle):
    """A model file (safetensors) loaded into a context; keep the context
    open while the model lives."""

    _destroy = "leap_model_destroy"

    def __init__(self, ctx, path):
        self._ctx = ctx  # the model's context must outlive it
        h = C.c_void_p()
        _check(_L().leap_model_load(ctx.handle, os.fsencode(path), C.byref(h)), "leap_model_load")
        self._h = h
        info = S.ModelInfo()
        info.struct_size = C.sizeof(S.ModelInfo)
        _check(_L().leap_model_get_info(h, C.byref(info)), "leap_model_get_info")
        self.info = {name: getattr(info, name) for name, _ in S.ModelInfo._fields_ if name != "struct_size"}
        for k in ("arch", "weight_dtype"):
            self.info[k] = self.info[k].decode()
        self.info["prediction"] = _PREDICTIONS.get(self.info["prediction"], self.info["prediction"])


    def id(self):
        """leap_model_id: 16 hex digits hashing the model's description and
        weights, what a cache profile is valid for (Cache(model_id=...))."""
        buf = C.create_string_buffer(17)
        _check(_L().leap_model_id(self._h, buf, len(buf)), "leap_model_id")
        return buf.value.decode()

    def _frame_shape(self):
        i = self.info
        return (i["in_channels"], i["height"], i["width"])

    def forward(self, x, t, y=None, frames=None):
        """The model's output for x [n, frames, C, H, W] (an image model: F =
        1, [n, C, H, W] also works), t [n, frames] (the model's own timestep
        input) and labels y [n] (None: the null class). frames: default the
        model's clip_frames; a video model takes any count
        (leap_model_forward_frames). Returns [n, frames, out_channels, H, W]."""
        i = self.info
        F = i["clip_frames"] if frames is None else int(frames)
        x = np.ascontiguousarray(x, dtype=np.float32)
        per = int(np.prod(self._frame_shape()))
        if x.size % (F * per):
            raise ValueError(f"forward: x has {x.size} values, not a multiple of {F} frames of {per}")
        n = x.size // (F * per)
        t = _floats(t, n * F, "forward: t")
        yy = _labels(y, n, "forward") if y is not None else np.full(n, i["null_class"], dtype=np.int32)
        out = np.empty((n, F, i["out_channels"], i["height"], i["width"]), dtype=np.float32)
        _check(_L().leap_model_forward_frames(self._h, n, F, _fptr(x), _fptr(t),
                                              yy.ctypes.data_as(C.POINTER(C.c_int32)), _fptr(out)),
               "leap_model_forward_frames")
        return out

    def sample(self, n=1, labels=None, steps=50, solver="euler", schedule="default", shift=1.0, cfg=1.0,
               eta=0.0, seed=0, noise=None, frames=0, cache=None, out=None):
        """leap_sample: n images (or clips) [n, F, C, H, W], pixels in [-1,
        1]. labels [n] (None: unconditional); noise [n, F, C, H, W] (None:
        from seed, noise_fill's numbers); cache: a Cache made for this run
        (branches 2 when cfg != 1, images n, the same steps and cfg), what
        `leap sample --cache` runs (leap resets it first); out: an array to
        fill in place."""
        lib = _L()
        d = _default(lib.leap_sample_desc_default, S.SampleDesc)
        solver_id, schedule_id = C.c_int(), C.c_int()
        _check(lib.leap_solver_from_name(solver.encode(), C.byref(solver_id)), "leap_solver_from_name")
        _check(lib.leap_schedule_from_name(schedule.encode(), C.byref(schedule_id)), "leap_schedule_from_name")
        F = int(frames) or self.info["clip_frames"]
        shape = (int(n), F) + self._frame_shape()
        y = _labels(labels, int(n), "sample")
        z = _floats(noise, int(np.prod(shape)), "sample: noise") if noise is not None else None
        d.n, d.steps, d.solver, d.schedule = int(n), int(steps), solver_id.value, schedule_id.value
        d.shift, d.cfg, d.eta, d.seed, d.frames = float(shift), float(cfg), float(eta), int(seed), int(frames)
        d.labels = y.ctypes.data_as(C.POINTER(C.c_int32)) if y is not None else None
        d.noise = _fptr(z) if z is not None else None
        d.cache = cache.handle if cache is not None else None
        out = _out_array(out, shape, "sample")
        _check(lib.leap_sample(self._h, C.byref(d), _fptr(out)), "leap_sample")
        return out

    def video_sample(self, n=1, labels=None, frames=16, steps=50, cfg=1.0, shift=1.0, seed=0,
                     family="synchronous", ar_step=5, window=4, lag=8, shuffle_window=0, shuffle_stride=0,
                     kv="keep_all", kv_sinks=0, kv_window=0, kv_store=0, kv_top_k=0, recompute=False,
                     cache_profile=None, cache_setting=0, out=None):
        """leap_video_sample (a video model, block diffusion): n clips
        [n, frames, C, H, W]. family: synchronous, autoregressive, pyramid
        (ar_step), pipelined (window, lag); kv: keep_all, rolling or sparse
        (kv_sinks, kv_window, kv_store, kv_top_k); recompute: no KV cache;
        cache_profile: a block-cache profile (`leap video --cache-profile`)
        and cache_setting its setting, to reuse the block stack's residual."""
        lib = _L()
        if family not in _FAMILIES or kv not in _KV_KINDS:
            raise ValueError(f"family must be one of {sorted(_FAMILIES)}, kv one of {sorted(_KV_KINDS)}")
        d = _default(lib.leap_video_desc_default, S.VideoDesc)
        y = _labels(labels, int(n), "video_sample")
        d.n, d.frames, d.steps, d.cfg, d.shift, d.seed = int(n), int(frames), int(steps), float(cfg), float(
            shift), int(seed)
        d.labels = y.ctypes.data_as(C.POINTER(C.c_int32)) if y is not None else None
        d.family, d.ar_step, d.window, d.lag = _FAMILIES[family], int(ar_step), int(window), int(lag)
        d.shuffle_window, d.shuffle_stride, d.recompute = int(shuffle_window), int(shuffle_stride), int(bool(recompute))
        d.kv.kind = _KV_KINDS[kv]
        if kv != "keep_all":
            d.kv.sinks, d.kv.window, d.kv.store, d.kv.top_k = int(kv_sinks), int(kv_window), int(kv_store), int(
                kv_top_k)
        if cache_profile is not None:
            d.cache_profile, d.cache_setting = os.fsencode(cache_profile), int(cache_setting)
        out = _out_array(out, (int(n), int(frames)) + self._frame_shape(), "video_sample")
        _check(lib.leap_video_sample(self._h, C.byref(d), _fptr(out)), "leap_video_sample")
        return out


class Tensor(_Handle):
    """A leap tensor over a numpy array's own memory (leap_tensor_wrap_host,
    CPU backend): leap reads and writes the array itself, no copy. The
    tensor keeps the array alive; close it before its context."""

    _destroy = "leap_tensor_destroy"

    def __init__(self, ctx, array):
        if not isinstance(array, np.ndarray) or not array.flags.c_contiguous or array.dtype not in _DTYPES:
            raise ValueError("Tensor: a C-contiguous float32/float16/float64/int32/int64 numpy array")
        self.array, self._ctx = array, ctx
        shape = (C.c_int64 * array.ndim)(*array.shape)
        h = C.c_void_p()
        _check(_L().leap_tensor_wrap_host(ctx.handle, _DTYPES[array.dtype], array.ndim, shape,
                                          C.c_void_p(array.ctypes.data), C.byref(h)), "leap_tensor_wrap_host")
        self._h = h

    wrap_host = classmethod(lambda cls, ctx, array: cls(ctx, array))

    def read(self):
        """A copy of the tensor's contents through leap_tensor_read."""
        out = np.empty_like(self.array)
        _check(_L().leap_tensor_read(self._h, C.c_void_p(out.ctypes.data), out.nbytes), "leap_tensor_read")
        return out



def _enum(table, value, what):
    if value not in table:
        raise ValueError(f"{what} must be one of {sorted(table)}")
    return table[value]


class Cache(_Handle):
    """ERTACache (leap_cache_*) for a host that runs its own model and
    sampling loop: per step, begin() on the hidden states before the block
    stack says whether to compute; if so the host runs its blocks and hands
    the result to end(); if not, leap has written the rectified cached
    result into `out` itself. step_scale() then gives the step's phi.

    ctx: the Context the tensors belong to. profile: JSON from `leap
    profile` (policies "erta" and "teacache"); setting: which of its
    settings. policy: "erta", "uniform" (uniform_computed evenly spaced
    steps), "teacache" (teacache_threshold) or "none". level: "hidden"
    ([rows, tokens, hidden], the block stack's residual) or "output"
    ([rows, C, H, W], the whole model's). timestep_adjust: 0 off, 1 phi on
    the velocity, 2 the paper's phi in time (adjust_schedule); rectify: the
    profile's per-channel correction where it kept one. The run the cache
    serves, checked against the profile (a mismatch raises LeapError naming
    the field): branches (2 with guidance: cond rows first, then uncond),
    images (rows per branch), model_id (Model.id(); None skips that check,
    for a host's own model), solver, schedule, shift, steps, cfg.

    Tensors: begin() and end() take a leap Tensor or a C-contiguous float32
    numpy array, which is wrapped for the call (leap_tensor_wrap_host, CPU
    backend: leap reads and writes the array's own memory, no copy; a torch
    CPU tensor's .numpy() is such an array). reset() before each run."""

    _destroy = "leap_cache_destroy"

    def __init__(self, ctx, profile=None, setting=0, policy="erta", level="hidden", timestep_adjust=1,
                 rectify=True, uniform_computed=0, teacache_threshold=0.1, branches=1, images=1, model_id=None,
                 solver="euler", schedule="default", shift=1.0, steps=50, cfg=1.0):
        lib = _L()
        d = _default(lib.leap_cache_desc_default, S.CacheDesc)
        d.policy = _enum(_CACHE_POLICIES, policy, "policy")
        d.level = _enum(_CACHE_LEVELS, level, "level")
        solver_id, schedule_id = C.c_int(), C.c_int()
        _check(lib.leap_solver_from_name(solver.encode(), C.byref(solver_id)), "leap_solver_from_name")
        _check(lib.leap_schedule_from_name(schedule.encode(), C.byref(schedule_id)), "leap_schedule_from_name")
        # The desc's strings are read during leap_cache_create only.
        d.profile = os.fsencode(profile) if profile is not None else None
        d.model_id = model_id.encode() if model_id is not None else None
        d.setting, d.timestep_adjust, d.rectify = int(setting), int(timestep_adjust), int(bool(rectify))
        d.uniform_computed, d.teacache_threshold = int(uniform_computed), float(teacache_threshold)
        d.branches, d.images, d.steps = int(branches), int(images), int(steps)
        d.solver, d.schedule, d.shift, d.cfg = solver_id.value, schedule_id.value, float(shift), float(cfg)
        self._ctx = ctx  # the cache's context must outlive it
        h = C.c_void_p()
        _check(lib.leap_cache_create(ctx.handle, C.byref(d), C.byref(h)), "leap_cache_create")
        self._h = h
        self.steps, self.branches, self.images = d.steps, d.branches, d.images

    @property
    def handle(self):
        if not self._h:
            raise ValueError("the cache is closed")
        return self._h

    def reset(self):
        """Forgets the cached residuals and counters: call before each run."""
        _check(_L().leap_cache_reset(self.handle), "leap_cache_reset")

    def _tensor(self, x, what, call, owned, written=False):
        # A leap Tensor as it is; a numpy array wrapped over its own memory
        # for this call (the wrapper goes into `owned` to be destroyed after).
        if isinstance(x, Tensor):
            return x._h
        if not isinstance(x, np.ndarray) or x.dtype != np.float32 or not x.flags.c_contiguous:
            raise ValueError(f"{call}: {what} must be a leap.Tensor or a C-contiguous float32 numpy array")
        if written and not x.flags.writeable:
            raise ValueError(f"{call}: {what} must be writeable (leap writes into it)")
        shape = (C.c_int64 * x.ndim)(*x.shape)
        h = C.c_void_p()
        _check(_L().leap_tensor_wrap_host(self._ctx.handle, 0, x.ndim, shape, C.c_void_p(x.ctypes.data),
                                          C.byref(h)), "leap_tensor_wrap_host")
        owned.append(h)
        return h

    def begin(self, step, x, out=None, branch=ALL_BRANCHES):
        """leap_cache_begin for step (0..steps-1) and branch (ALL_BRANCHES or
        a branch index) on x, the input of what may be skipped. True: compute
        (run the blocks, then end()). False: `out` (default x itself, in
        place) now holds x + the rectified cached residual."""
        lib, owned = _L(), []
        try:
            in_place = out is None or out is x
            hin = self._tensor(x, "x", "Cache.begin", owned, written=in_place)
            hout = hin if in_place else self._tensor(out, "out", "Cache.begin", owned, written=True)
            compute = C.c_int()
            _check(lib.leap_cache_begin(self.handle, int(step), int(branch), hin, hout, C.byref(compute)),
                   "leap_cache_begin")
        finally:
            for h in owned:
                lib.leap_tensor_destroy(h)
        return bool(compute.value)

    def end(self, step, result, branch=ALL_BRANCHES):
        """leap_cache_end: result, what the blocks made of begin()'s x (same
        shape); leap keeps result - x as the residual to reuse."""
        lib, owned = _L(), []
        try:
            h = self._tensor(result, "result", "Cache.end", owned)
            _check(lib.leap_cache_end(self.handle, int(step), int(branch), h), "leap_cache_end")
        finally:
            for t in owned:
                lib.leap_tensor_destroy(t)

    def step_scale(self, step):
        """(phi, in_time) of a step: phi is 1 unless the step reused with
        timestep adjustment. in_time False: multiply the step's guided
        velocity by phi; True: call adjust_schedule(step, t) instead."""
        phi, in_time = C.c_double(), C.c_int()
        _check(_L().leap_cache_step_scale(self.handle, int(step), C.byref(phi), C.byref(in_time)),
               "leap_cache_step_scale")
        return phi.value, bool(in_time.value)

    def adjust_schedule(self, step, t):
        """leap_cache_adjust_schedule on t, the flow schedule t[0..steps]
        (a writeable C-contiguous float64 numpy array, changed in place and
        returned): after the step's evaluation, before its update."""
        if not isinstance(t, np.ndarray) or t.dtype != np.float64 or not t.flags.c_contiguous or \
                not t.flags.writeable or t.ndim != 1:
            raise ValueError("Cache.adjust_schedule: t must be a writeable C-contiguous float64 array [steps + 1]")
        _check(_L().leap_cache_adjust_schedule(self.handle, int(step), t.ctypes.data_as(C.POINTER(C.c_double)),
                                               t.size - 1), "leap_cache_adjust_schedule")
        return t

    def stats(self):
        """leap_cache_get_stats since the last reset: evaluations (begin
        calls), computed, reused, overhead_seconds (wall time inside the
        hooks) and planned_computed (-1: decided online)."""
        st = S.CacheStats()
        st.struct_size = C.sizeof(S.CacheStats)
        _check(_L().leap_cache_get_stats(self.handle, C.byref(st)), "leap_cache_get_stats")
        return {name: getattr(st, name) for name, _ in S.CacheStats._fields_ if name != "struct_size"}


def noise_fill(seed, n, numel):
    """leap_noise_fill: the initial noise leap_sample draws for a seed, n
    samples of numel unit normals each, as a float32 array [n, numel]."""
    out = np.empty((int(n), int(numel)), dtype=np.float32)
    _check(_L().leap_noise_fill(int(seed), int(n), int(numel), _fptr(out)), "leap_noise_fill")
    return out


def block_noise_shuffle(noise, window, stride, seed):
    """leap_block_noise_shuffle (FreeNoise), in place on noise [frames,
    ...] (a writeable C-contiguous float32 array); returns it."""
    if not isinstance(noise, np.ndarray) or noise.dtype != np.float32 or not noise.flags.c_contiguous or \
            not noise.flags.writeable or noise.ndim < 1:
        raise ValueError("block_noise_shuffle: noise must be a writeable C-contiguous float32 array [frames, ...]")
    frames = noise.shape[0]
    per = noise.size // frames if frames else 0
    _check(_L().leap_block_noise_shuffle(_fptr(noise), frames, per, int(window), int(stride), int(seed)),
           "leap_block_noise_shuffle")
    return noise


class BlockIteration:
    """One iteration of a block schedule: window_begin, window_end (the
    chunks the model runs), updated (how many step), and per chunk: step
    (int32, 0 = pure noise .. steps = clean), update and kv_write (bool)."""

    def __init__(self, window_begin, window_end, updated, step, update, kv_write):
        self.window_begin, self.window_end, self.updated = window_begin, window_end, updated
        self.step, self.update, self.kv_write = step, update, kv_write

    def __repr__(self):
        return (f"BlockIteration(window=[{self.window_begin}, {self.window_end}), updated={self.updated}, "
                f"step={self.step.tolist()})")


class BlockSchedule(_Handle):
    """leap_block_schedule_*: per iteration of a chunked video sampler,
    where every chunk is. Iterate it, or get(i)."""

    _destroy = "leap_block_schedule_destroy"

    def __init__(self, frames, frames_per_chunk, steps, family="synchronous", ar_step=5, window=4, lag=8):
        lib = _L()
        if family not in _FAMILIES:
            raise ValueError(f"family must be one of {sorted(_FAMILIES)}")
        d = _default(lib.leap_block_schedule_desc_default, S.BlockScheduleDesc)
        d.frames, d.frames_per_chunk, d.steps, d.family = int(frames), int(frames_per_chunk), int(steps), _FAMILIES[
            family]
        d.ar_step, d.window, d.lag = int(ar_step), int(window), int(lag)
        h = C.c_void_p()
        _check(lib.leap_block_schedule_create(C.byref(d), C.byref(h)), "leap_block_schedule_create")
        self._h = h
        self.chunks = int(lib.leap_block_schedule_chunks(h))
        self.iterations = int(lib.leap_block_schedule_iterations(h))

    def chunk_frames(self, chunk):
        """(first, count): the frames of a chunk."""
        first, count = C.c_int(), C.c_int()
        _check(_L().leap_block_schedule_chunk_frames(self._h, int(chunk), C.byref(first), C.byref(count)),
               "leap_block_schedule_chunk_frames")
        return first.value, count.value

    def get(self, iteration):
        step = np.empty(self.chunks, dtype=np.int32)
        update = np.empty(self.chunks, dtype=np.uint8)
        kv_write = np.empty(self.chunks, dtype=np.uint8)
        it = S.BlockIteration()
        it.struct_size = C.sizeof(S.BlockIteration)
        it.step = step.ctypes.data_as(C.POINTER(C.c_int))
        it.update = update.ctypes.data_as(C.POINTER(C.c_uint8))
        it.kv_write = kv_write.ctypes.data_as(C.POINTER(C.c_uint8))
        _check(_L().leap_block_schedule_get(self._h, int(iteration), C.byref(it)), "leap_block_schedule_get")
        return BlockIteration(it.window_begin, it.window_end, it.updated, step, update.astype(bool),
                              kv_write.astype(bool))

    def __iter__(self):
        return (self.get(i) for i in range(self.iterations))

    def __len__(self):
        return self.iterations

