"""ctypes mirrors of leap.h's public structs, field for field.

Each struct starts with struct_size, which the package sets to the ctypes
size: a library newer than these mirrors reads them as an older caller's
(its extra fields keep their defaults), so the package keeps working when
the library grows. tests/test_leap.py checks each size against the C
sizeof that the library's _default() call writes into struct_size.
"""
import ctypes as C

PROGRESS_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int, C.c_int)
FRAMES_FN = C.CFUNCTYPE(C.c_int, C.c_void_p, C.c_int, C.c_int, C.POINTER(C.c_float))


class ContextDesc(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("backend", C.c_int), ("device", C.c_char_p),
                ("threads", C.c_int), ("validation", C.c_int)]


class ModelInfo(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("arch", C.c_char * 32), ("input_size", C.c_int),
                ("patch_size", C.c_int), ("in_channels", C.c_int), ("out_channels", C.c_int),
                ("hidden_size", C.c_int), ("depth", C.c_int), ("num_heads", C.c_int),
                ("mlp_ratio", C.c_double), ("num_classes", C.c_int), ("null_class", C.c_int),
                ("learn_sigma", C.c_int), ("prediction", C.c_int), ("timestep_scale", C.c_double),
                ("parameters", C.c_int64), ("tokens", C.c_int), ("weight_dtype", C.c_char * 8),
                ("height", C.c_int), ("width", C.c_int), ("frames_per_chunk", C.c_int),
                ("clip_frames", C.c_int)]


class SampleDesc(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("n", C.c_int), ("labels", C.POINTER(C.c_int32)),
                ("steps", C.c_int), ("solver", C.c_int), ("schedule", C.c_int), ("shift", C.c_double),
                ("cfg", C.c_double), ("eta", C.c_double), ("seed", C.c_uint64),
                ("noise", C.POINTER(C.c_float)), ("progress", PROGRESS_FN), ("progress_user", C.c_void_p),
                ("cache", C.c_void_p), ("frames", C.c_int), ("first", C.c_uint64)]


class BlockScheduleDesc(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("frames", C.c_int), ("frames_per_chunk", C.c_int),
                ("steps", C.c_int), ("family", C.c_int), ("ar_step", C.c_int), ("window", C.c_int),
                ("lag", C.c_int)]


class BlockIteration(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("window_begin", C.c_int), ("window_end", C.c_int),
                ("updated", C.c_int), ("step", C.POINTER(C.c_int)), ("update", C.POINTER(C.c_uint8)),
                ("kv_write", C.POINTER(C.c_uint8))]


class KvPolicyDesc(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("kind", C.c_int), ("sinks", C.c_int), ("window", C.c_int),
                ("store", C.c_int), ("top_k", C.c_int), ("summary_dim", C.c_int)]


class CacheDesc(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("policy", C.c_int), ("level", C.c_int), ("profile", C.c_char_p),
                ("setting", C.c_int), ("timestep_adjust", C.c_int), ("rectify", C.c_int),
                ("uniform_computed", C.c_int), ("teacache_threshold", C.c_double), ("branches", C.c_int),
                ("images", C.c_int), ("model_id", C.c_char_p), ("solver", C.c_int), ("schedule", C.c_int),
                ("shift", C.c_double), ("steps", C.c_int), ("cfg", C.c_double)]


class CacheStats(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("evaluations", C.c_int), ("computed", C.c_int),
                ("reused", C.c_int), ("overhead_seconds", C.c_double), ("planned_computed", C.c_int)]


class VideoDesc(C.Structure):
    _fields_ = [("struct_size", C.c_uint32), ("n", C.c_int), ("labels", C.POINTER(C.c_int32)),
                ("frames", C.c_int), ("steps", C.c_int), ("cfg", C.c_double), ("shift", C.c_double),
                ("seed", C.c_uint64), ("family", C.c_int), ("ar_step", C.c_int), ("window", C.c_int),
                ("lag", C.c_int), ("shuffle_window", C.c_int), ("shuffle_stride", C.c_int),
                ("kv", KvPolicyDesc), ("recompute", C.c_int), ("progress", PROGRESS_FN),
                ("progress_user", C.c_void_p), ("on_frames", FRAMES_FN), ("on_frames_user", C.c_void_p),
                # 0.3: caching inside block diffusion
                ("cache_profile", C.c_char_p), ("cache_setting", C.c_int), ("cache_adjust", C.c_int),
                ("cache_stats", C.POINTER(CacheStats))]
