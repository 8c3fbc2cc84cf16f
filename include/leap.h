/*
 * leap.h - the only public header of libleap.
 *
 * Conventions (after SQLite and ggml): opaque handles, create/destroy pairs,
 * every call returns a leap_status, and leap_last_error() explains the last
 * failure on the calling thread.
 *
 * struct_size: every public struct starts with uint32_t struct_size, which
 * the caller sets to sizeof the struct it was built with (the _default()
 * functions do), so that later minor versions can append fields without
 * breaking older callers. A struct passed in that is smaller (older) than
 * the library's is read as far as it goes and the fields it lacks take
 * their defaults; a struct filled out gets only its struct_size bytes
 * written. Bytes past the library's own struct (a newer caller's fields)
 * are neither read nor written. struct_size 0 is LEAP_ERR_INVALID_ARG.
 * leap_device_info and leap_model_info, which are filled out, gained their
 * struct_size in 0.2: 0.1 callers of leap_vulkan_device_info and
 * leap_model_get_info must be rebuilt.
 *
 * Frames: image and video models share one layout. A sample is
 * [F, C, H, W] (F frames; F = 1 for an image model), a batch [n, F, C, H, W],
 * and the timestep input one value per frame, t [n, F] (frames of one
 * chunk share their chunk's value); image models are the F = 1 case, so
 * [n, C, H, W] and t [n] are the same arrays.
 *
 * ABI versioning: LEAP_API_VERSION = major * 10000 + minor * 100 + patch.
 * A host checks leap_api_version() / 10000 == LEAP_API_VERSION_MAJOR after
 * dlopen; the soname carries the major version (libleap.so.MAJOR).
 * A host that loads leap at run time finds every call through one symbol,
 * leap_get_api (the "entry point" section at the end).
 *
 * Threads (SQLite's "multi-thread" mode): leap keeps no global state a host
 * sets up, and any thread may use any object, but one object at a time. A
 * context and everything made in it (tensors, models, caches) count as one
 * object: calls on them must not overlap (they share the context's device
 * queue, recorded programs and scratch memory without locks), so the host
 * serialises them. Different contexts may be used at once from different
 * threads (tests/test_api_table.cpp samples on two at once and gets the
 * images of one at a time). Objects outside any context (block schedules,
 * KV policies, DisBack schedules) follow the same rule: one thread at a
 * time per object. Calls that touch no object may run on any thread at
 * any time: leap_get_api, leap_api_version, leap_status_string,
 * leap_last_error, the _default() calls, leap_noise_fill,
 * leap_block_noise_shuffle, the name calls, leap_vulkan_device_count and
 * _info (each opens its own short-lived Vulkan instance) and
 * leap_lcsc_combine with ctx NULL. Callbacks (progress, on_frames, fitness)
 * run inside the call, on the calling thread, and must not call leap on the
 * objects of that call.
 *
 * Lifetimes: pointers the host passes in a desc (labels, noise, paths) are
 * read during the call only; memory given to leap_tensor_wrap_host must
 * outlive the tensor. Destroy a context's tensors, models and caches before
 * the context. Strings leap returns say how long they live at each call.
 */
#ifndef LEAP_H
#define LEAP_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LEAP_API_VERSION_MAJOR 0
#define LEAP_API_VERSION_MINOR 3
#define LEAP_API_VERSION_PATCH 0
#define LEAP_API_VERSION                                                      \
  (LEAP_API_VERSION_MAJOR * 10000 + LEAP_API_VERSION_MINOR * 100 +            \
   LEAP_API_VERSION_PATCH)

#if defined(__GNUC__)
#define LEAP_API __attribute__((visibility("default")))
#else
#define LEAP_API
#endif

typedef enum leap_status {
  LEAP_OK = 0,
  LEAP_ERR_INVALID_ARG = 1, /* a bad argument (null, out of range, wrong shape) */
  LEAP_ERR_IO = 2,          /* a file could not be read or written */
  LEAP_ERR_FORMAT = 3,      /* a file is corrupt, truncated or of the wrong kind */
  LEAP_ERR_NO_DEVICE = 4,   /* no Vulkan device (or no Vulkan at all) */
  LEAP_ERR_VULKAN = 5,      /* a Vulkan call failed */
  LEAP_ERR_NOMEM = 6,       /* out of host or device memory */
  LEAP_ERR_UNSUPPORTED = 7, /* valid, but not supported by this build/model */
  LEAP_ERR_NUMERIC = 8,     /* NaN or Inf where a finite value is required */
  LEAP_ERR_INTERRUPTED = 9  /* a progress callback asked to stop */
} leap_status;

/* The version this library was built with (LEAP_API_VERSION of its header). */
LEAP_API uint32_t leap_api_version(void);
/* A short name for a status, e.g. "invalid argument". Never NULL; a
 * static string, valid while the library is loaded. */
LEAP_API const char *leap_status_string(leap_status s);
/* The message of the last failure on this thread ("" if none). Never NULL.
 * Per thread: a buffer of the calling thread, valid until that thread's next
 * leap call (which may overwrite it) or its exit; copy it to keep it. */
LEAP_API const char *leap_last_error(void);

/* ------------------------------------------------------------------ devices */

typedef enum leap_backend_kind {
  LEAP_BACKEND_CPU = 0,    /* BLAS + OpenMP, no Vulkan needed */
  LEAP_BACKEND_VULKAN = 1  /* Vulkan compute (any vendor, lavapipe included) */
} leap_backend_kind;

typedef enum leap_device_type {
  LEAP_DEVICE_OTHER = 0,
  LEAP_DEVICE_INTEGRATED_GPU = 1,
  LEAP_DEVICE_DISCRETE_GPU = 2,
  LEAP_DEVICE_VIRTUAL_GPU = 3,
  LEAP_DEVICE_CPU = 4
} leap_device_type;

typedef struct leap_device_info {
  uint32_t struct_size;          /* sizeof(leap_device_info); set by the caller (0.2) */
  char name[256];
  leap_device_type type;
  uint32_t vendor_id, device_id;
  uint32_t api_version;          /* VK_MAKE_API_VERSION layout */
  char driver[256];              /* driver name and info */
  uint64_t device_local_bytes;   /* largest device-local heap */
  uint32_t subgroup_size;
  uint32_t max_shared_bytes;     /* maxComputeSharedMemorySize */
  int has_fp16;                  /* shaderFloat16 */
  int has_storage16;             /* storageBuffer16BitAccess */
  int has_coopmat_nv;            /* VK_NV_cooperative_matrix */
  int has_coopmat_khr;           /* VK_KHR_cooperative_matrix */
  int has_timestamps;            /* compute-queue timestamps */
} leap_device_info;

/* Enumerates the Vulkan devices. *count = 0 (and LEAP_OK) when Vulkan works
 * but has no device; LEAP_ERR_NO_DEVICE when there is no Vulkan loader. */
LEAP_API leap_status leap_vulkan_device_count(int *count);
LEAP_API leap_status leap_vulkan_device_info(int index, leap_device_info *out);

/* ------------------------------------------------------------------ context */

typedef struct leap_context leap_context;

typedef struct leap_context_desc {
  uint32_t struct_size;      /* sizeof(leap_context_desc) */
  leap_backend_kind backend;
  /* Vulkan device: index or name substring; NULL = $LEAP_DEVICE, else
   * discrete > integrated > virtual > CPU device. */
  const char *device;
  int threads;               /* CPU threads; 0 = OpenMP default */
  /* Vulkan validation layer: 1 on, 0 off, -1 = $LEAP_VALIDATION ("1" on). */
  int validation;
} leap_context_desc;

/* A leap_context_desc with defaults for the given backend. */
LEAP_API leap_context_desc leap_context_desc_default(leap_backend_kind backend);
LEAP_API leap_status leap_context_create(const leap_context_desc *desc,
                                         leap_context **out);

/* Adopting a host's Vulkan device. Handles are passed as void* / uint64_t so
 * that this header does not need vulkan.h: cast VkInstance, VkPhysicalDevice,
 * VkDevice, VkQueue to void*. leap never destroys adopted objects. The device
 * must have been created with Vulkan 1.2+ and a compute-capable queue. */
typedef struct leap_vulkan_external {
  uint32_t struct_size;  /* sizeof(leap_vulkan_external) */
  void *instance;        /* VkInstance */
  void *physical_device; /* VkPhysicalDevice */
  void *device;          /* VkDevice */
  void *queue;           /* VkQueue (compute) */
  uint32_t queue_family;
  /* vkGetInstanceProcAddr of the host's loader; NULL = the one leap links. */
  void *get_instance_proc_addr;
} leap_vulkan_external;

LEAP_API leap_status leap_context_create_vulkan_external(
    const leap_vulkan_external *ext, leap_context **out);
LEAP_API void leap_context_destroy(leap_context *ctx);
LEAP_API leap_backend_kind leap_context_backend(const leap_context *ctx);
/* The device's name ("cpu" for the CPU backend), valid until the context
 * is destroyed. */
LEAP_API const char *leap_context_device_name(const leap_context *ctx);
/* Number of Vulkan validation messages (warnings and errors) seen so far;
 * 0 when validation is off. Tests fail on any. */
LEAP_API uint64_t leap_context_validation_messages(const leap_context *ctx);

/* ------------------------------------------------------------------ tensors */

typedef enum leap_dtype {
  LEAP_F32 = 0,
  LEAP_F16 = 1,
  LEAP_BF16 = 2,
  LEAP_F64 = 3,
  LEAP_I64 = 4,
  LEAP_I32 = 5
} leap_dtype;

#define LEAP_MAX_DIMS 6
typedef struct leap_tensor leap_tensor;

/* A tensor owned by leap in the context's memory (device memory on Vulkan). */
LEAP_API leap_status leap_tensor_create(leap_context *ctx, leap_dtype dtype,
                                        int ndim, const int64_t *shape,
                                        leap_tensor **out);
/* A tensor over host memory the caller keeps alive (CPU backend only). */
LEAP_API leap_status leap_tensor_wrap_host(leap_context *ctx, leap_dtype dtype,
                                           int ndim, const int64_t *shape,
                                           void *data, leap_tensor **out);
/* A tensor over a host's VkBuffer (+ byte offset) on an adopted device. */
LEAP_API leap_status leap_tensor_wrap_vkbuffer(leap_context *ctx,
                                               leap_dtype dtype, int ndim,
                                               const int64_t *shape,
                                               uint64_t vk_buffer,
                                               uint64_t offset,
                                               leap_tensor **out);
LEAP_API void leap_tensor_destroy(leap_tensor *t);
LEAP_API leap_status leap_tensor_write(leap_tensor *t, const void *src,
                                       size_t bytes);
LEAP_API leap_status leap_tensor_read(const leap_tensor *t, void *dst,
                                      size_t bytes);
LEAP_API int leap_tensor_ndim(const leap_tensor *t);
LEAP_API int64_t leap_tensor_dim(const leap_tensor *t, int i);
LEAP_API leap_dtype leap_tensor_dtype(const leap_tensor *t);
LEAP_API int64_t leap_tensor_numel(const leap_tensor *t);

/* ------------------------------------------------------------------ models */

typedef struct leap_model leap_model;

typedef enum leap_prediction {
  LEAP_PRED_EPS = 0,    /* predicts the noise */
  LEAP_PRED_V = 1,      /* v-prediction on a VP schedule */
  LEAP_PRED_FLOW_V = 2  /* flow matching velocity v = eps - x0 */
} leap_prediction;

typedef struct leap_model_info {
  uint32_t struct_size;   /* sizeof(leap_model_info); set by the caller (0.2) */
  char arch[32];          /* "dit" */
  int input_size;         /* H (the image DiT is square: H = W) */
  int patch_size;
  int in_channels;
  int out_channels;       /* 2 * in_channels with learn_sigma */
  int hidden_size, depth, num_heads;
  double mlp_ratio;
  int num_classes;        /* without the null class */
  int null_class;         /* label that means "no class" (CFG) */
  int learn_sigma;
  leap_prediction prediction;
  double timestep_scale;  /* model timestep = t * timestep_scale (flow) */
  int64_t parameters;
  int tokens;             /* of one forward pass; image DiT: (input_size / patch_size)^2 */
  char weight_dtype[8];   /* dtype of the file's weights: F32, F16, BF16 */
  /* Appended in 0.2: the frame geometry. A forward pass takes
   * [n, clip_frames, C, height, width] and t [n, clip_frames]. */
  int height, width;      /* pixels of one frame */
  int frames_per_chunk;   /* frames sharing one noise level; 1 for images */
  int clip_frames;        /* frames of the clip it was trained on; 1 for images */
} leap_model_info;

LEAP_API leap_status leap_model_load(leap_context *ctx, const char *path,
                                     leap_model **out);
LEAP_API void leap_model_destroy(leap_model *m);
LEAP_API leap_status leap_model_get_info(const leap_model *m,
                                         leap_model_info *out);

/* The model's weights, one tensor each: the architecture's weight list,
 * from which leap loads, hashes (leap_model_id) and trains them. */
#define LEAP_WEIGHT_NAME_MAX 64
typedef struct leap_weight_info {
  uint32_t struct_size;   /* sizeof(leap_weight_info) */
  char name[LEAP_WEIGHT_NAME_MAX]; /* the state-dict name */
  int ndim;
  int64_t shape[4];
  int block;              /* the transformer block it belongs to; -1: none */
  char role[32];          /* what it does, e.g. "attention qkv" */
  int trainable;          /* 0 for fixed tensors (a sin-cos position table) */
} leap_weight_info;

LEAP_API leap_status leap_model_weight_count(const leap_model *m, int *count);
/* Weight index (0..count-1) in state-dict order. */
LEAP_API leap_status leap_model_weight(const leap_model *m, int index,
                                       leap_weight_info *out);

/* The whole forward pass on host arrays: x [n, F, C, H, W] with F =
 * clip_frames (1 for an image model: x [n, C, H, W]), t [n, F] (the
 * model's own timestep input, e.g. 1000 * t for flow; per frame), y [n]
 * labels (null_class for unconditional); out [n, F, out_channels, H, W]. */
LEAP_API leap_status leap_model_forward(leap_model *m, int n, const float *x,
                                        const float *t, const int32_t *y,
                                        float *out);

/* The same pass in three stages, for feature caching (x, t and y as in
 * leap_model_forward): embed writes the hidden states h [n, tokens,
 * hidden] (after patch + position embedding) and the conditioning c
 * [n, hidden]; blocks runs the transformer block stack on
 * h in place; final runs the final layer and unpatchify into out. Between
 * the stages the host may read or replace h through leap_model_hidden (a
 * tensor in the model's context; read/write it with leap_tensor_read/write).
 * A stage must follow the previous one with the same n. The tensor from
 * leap_model_hidden belongs to the model (leap_tensor_destroy ignores it) and
 * is valid until the batch size changes or the model is destroyed. */
LEAP_API leap_status leap_model_embed(leap_model *m, int n, const float *x,
                                      const float *t, const int32_t *y);
LEAP_API leap_status leap_model_blocks(leap_model *m);
LEAP_API leap_status leap_model_final(leap_model *m, float *out);
LEAP_API leap_status leap_model_hidden(leap_model *m, leap_tensor **h);

/* ------------------------------------------------------------------ sampling */

typedef enum leap_schedule_kind {
  LEAP_SCHEDULE_DEFAULT = 0,     /* the model's own: flow linear or VP linear */
  LEAP_SCHEDULE_FLOW = 1,        /* flow matching, t linear 1 -> 0, optional shift */
  LEAP_SCHEDULE_VP_LINEAR = 2,   /* DDPM linear betas, 1000 steps */
  LEAP_SCHEDULE_VP_SCALED = 3,   /* scaled-linear betas (Stable Diffusion) */
  LEAP_SCHEDULE_VP_COSINE = 4,   /* cosine alpha-bar (Nichol & Dhariwal) */
  LEAP_SCHEDULE_KARRAS = 5       /* Karras sigmas over the model's noise range */
} leap_schedule_kind;

typedef enum leap_solver {
  LEAP_SOLVER_EULER = 0,
  LEAP_SOLVER_HEUN = 1,
  LEAP_SOLVER_DDIM = 2,
  LEAP_SOLVER_EULER_ANCESTRAL = 3,
  LEAP_SOLVER_DPMPP_2M = 4
} leap_solver;

/* Called after each step; return non-zero to stop (LEAP_ERR_INTERRUPTED). */
typedef int (*leap_progress_fn)(void *user, int step, int steps);

typedef struct leap_sample_desc {
  uint32_t struct_size;     /* sizeof(leap_sample_desc) */
  int n;                    /* number of images */
  const int32_t *labels;    /* [n]; NULL = unconditional (null class) */
  int steps;
  leap_solver solver;
  leap_schedule_kind schedule;
  double shift;             /* flow schedule shift (SD3); 1 = none */
  double cfg;               /* guidance scale; 1 = no guidance (one pass) */
  double eta;               /* DDIM / ancestral noise; 0 = deterministic */
  uint64_t seed;            /* initial noise (and ancestral noise) */
  const float *noise;       /* [n, F, C, H, W] initial noise; NULL = from seed */
  leap_progress_fn progress;
  void *progress_user;
  /* Appended in 0.1 (callers with a smaller struct_size get NULL): a feature
   * cache (leap_cache_create) made for this run, batched layout (cond rows
   * first); NULL = compute every step. */
  struct leap_cache *cache;
  /* Appended in 0.2: F, the frames of each sample; 0 = the model's
   * clip_frames (1 for an image model, which takes no other). */
  int frames;
  /* Appended in 0.3: the global index of this call's first sample. Sample
   * b draws its initial noise from stream first + b of the seed, and its
   * ancestral noise likewise, so a run split into calls of any size (or
   * into shards on several machines) makes the samples of one big call.
   * first + n must stay below 2^40. 0 = one call for the whole run. */
  uint64_t first;
} leap_sample_desc;

LEAP_API leap_sample_desc leap_sample_desc_default(void);
/* The initial noise leap_sample draws for a seed: n samples of numel
 * (F * C * H * W) unit normals each (sample i from stream i of the seed),
 * so a host running its own loop can start from the same noise. */
LEAP_API leap_status leap_noise_fill(uint64_t seed, int n, size_t numel, float *out);
/* Samples n images (or clips) into out [n, F, in_channels, H, W] (pixels in
 * [-1, 1]; F = 1 for an image model). */
LEAP_API leap_status leap_sample(leap_model *m, const leap_sample_desc *desc,
                                 float *out);

/* Static strings, valid while the library is loaded. */
LEAP_API const char *leap_solver_name(leap_solver s);
LEAP_API const char *leap_schedule_name(leap_schedule_kind s);
/* Parses a name ("euler", "dpmpp_2m", ...); LEAP_ERR_INVALID_ARG if unknown. */
LEAP_API leap_status leap_solver_from_name(const char *name, leap_solver *out);
LEAP_API leap_status leap_schedule_from_name(const char *name,
                                             leap_schedule_kind *out);

/* ------------------------------------------------------------------ LCSC */
/* Linear combination of saved checkpoints: theta = sum_i coefs[i] theta_i
 * over safetensors files of one training run (same tensor names, shapes and
 * model description), and an evolutionary search for the coefficients. */

typedef struct leap_lcsc_combine_desc {
  uint32_t struct_size;      /* sizeof(leap_lcsc_combine_desc) */
  int count;                 /* number of checkpoints (>= 1) */
  const char *const *paths;  /* [count] safetensors files (F32/F16/BF16) */
  const double *coefs;       /* [count] any finite values (need not sum to 1) */
  /* Written atomically (a unique temporary + rename). Never one of paths
   * (compared by identity: ./A, a symlink or a hard link to A is A), and an
   * existing file is replaced only when it is an earlier combination leap
   * wrote; otherwise LEAP_ERR_INVALID_ARG naming it, nothing read. A sum
   * that out_dtype cannot hold (Inf) is LEAP_ERR_NUMERIC, no file. */
  const char *out_path;
  int out_dtype;             /* LEAP_F32, LEAP_F16, LEAP_BF16; -1 = first file's */
  /* Where the sum runs: NULL = the host (fused, straight from the files);
   * a Vulkan context = on its device. */
  leap_context *ctx;
} leap_lcsc_combine_desc;

typedef struct leap_lcsc_combine_stats {
  uint32_t struct_size;      /* sizeof(leap_lcsc_combine_stats) */
  uint64_t bytes_read;       /* tensor bytes read from the inputs */
  uint64_t bytes_written;    /* bytes of the output file */
  double seconds;            /* wall time, opening to rename */
} leap_lcsc_combine_stats;

LEAP_API leap_lcsc_combine_desc leap_lcsc_combine_desc_default(void);
/* Streams the weighted sum tensor by tensor (large tensors in chunks), so
 * only a few tensors are in memory at once. Records the coefficients and
 * sources in the output's __metadata__ (lcsc_coefs, lcsc_sources). Inputs
 * whose tensor names, shapes or model description differ are
 * LEAP_ERR_FORMAT naming the first mismatch. stats may be NULL. */
LEAP_API leap_status leap_lcsc_combine(const leap_lcsc_combine_desc *desc,
                                       leap_lcsc_combine_stats *stats);

/* A candidate's fitness (lower is better, e.g. a Frechet distance). A
 * non-OK status stops the search with that status. */
typedef leap_status (*leap_lcsc_fitness_fn)(void *user, int count,
                                            const double *coefs,
                                            double *fitness);
/* After each evaluated candidate (done of budget); non-zero stops the search
 * (LEAP_ERR_INTERRUPTED; the log keeps what was done). */
typedef int (*leap_lcsc_progress_fn)(void *user, int done, int budget,
                                     double fitness, double best_fitness,
                                     const double *best_coefs);

typedef struct leap_lcsc_search_desc {
  uint32_t struct_size;      /* sizeof(leap_lcsc_search_desc) */
  int count;                 /* number of checkpoints (coefficients) */
  int budget;                /* candidate evaluations in all */
  int population;            /* candidates per generation */
  int elite;                 /* best ones carried over unchanged */
  int tournament;            /* parents: best of this many drawn at random */
  double crossover_rate;     /* chance a child blends two parents */
  /* Mutation: Gaussian noise of this std on the chosen coefficients, made
   * zero-sum so that it moves weight between checkpoints without changing
   * the overall weight scale (to which sample quality is very sensitive),
   * then the scale itself changes by a factor 1 + N(0, sigma / count). */
  double mutation_sigma;
  double mutation_rate;      /* chance each coefficient is mutated (>= 2 are) */
  double ema_decay;          /* EMA-like start: weights decay^(count-1-i) */
  int normalize;             /* 1: coefficients rescaled to sum to 1 */
  uint64_t seed;
  /* JSON-lines log (a header line, then one line per candidate). An
   * existing log with the same settings is resumed: its candidates are not
   * evaluated again; an existing file that is no search log (a folder, a
   * model) is LEAP_ERR_INVALID_ARG and left alone. NULL = no log. */
  const char *log_path;
  leap_lcsc_fitness_fn fitness;
  void *fitness_user;
  leap_lcsc_progress_fn progress; /* may be NULL */
  void *progress_user;
} leap_lcsc_search_desc;

LEAP_API leap_lcsc_search_desc leap_lcsc_search_desc_default(void);
/* Runs the search; best_coefs [count] and best_fitness receive the best
 * candidate seen (best_fitness may be NULL). */
LEAP_API leap_status leap_lcsc_search(const leap_lcsc_search_desc *desc,
                                      double *best_coefs,
                                      double *best_fitness);


/* ------------------------------------------------------------ feature cache */
/*
 * ERTACache (error-rectified, trajectory-aware feature caching) and its
 * baselines, model-agnostic. Per model evaluation (step) and CFG branch the
 * host calls leap_cache_begin with the input of what may be skipped: either
 * the hidden states before the transformer block stack [rows, tokens,
 * hidden] (LEAP_CACHE_HIDDEN) or the model input [rows, C, H, W]
 * (LEAP_CACHE_OUTPUT, for hosts that cannot split their model). leap says
 * whether to compute. On compute the host runs the blocks (or the model)
 * and calls leap_cache_end with the result, and leap stores the residual
 * (after - before). On reuse leap writes before + the rectified cached
 * residual into `out` itself (out may be `in`: the hidden states in place),
 * and leap_cache_step_scale / leap_cache_adjust_schedule give the adjusted
 * step size. Cond and uncond branches never share a residual: a branch
 * index selects that branch's rows, LEAP_CACHE_ALL_BRANCHES a batch with all
 * branches (cond first, as leap_sample batches them). Tensors may live on
 * the CPU or on Vulkan (host VkBuffers included) but must belong to the
 * cache's context. Profiles come from `leap profile` (JSON).
 */
typedef struct leap_cache leap_cache;

typedef enum leap_cache_policy {
  LEAP_CACHE_ERTA = 0,     /* the profile's offline reuse schedule */
  LEAP_CACHE_UNIFORM = 1,  /* compute uniform_computed evenly spaced steps */
  LEAP_CACHE_TEACACHE = 2, /* online: accumulated, polynomial-rescaled relative
                              L1 change of the input (needs a profile) */
  LEAP_CACHE_NONE = 3      /* compute every step (hooks pass through) */
} leap_cache_policy;

typedef enum leap_cache_level {
  LEAP_CACHE_HIDDEN = 0, /* residual of the block stack, channels last */
  LEAP_CACHE_OUTPUT = 1  /* model output minus model input, NCHW */
} leap_cache_level;

#define LEAP_CACHE_ALL_BRANCHES (-1)

typedef struct leap_cache_desc {
  uint32_t struct_size;      /* sizeof(leap_cache_desc) */
  leap_cache_policy policy;
  leap_cache_level level;
  const char *profile;       /* profile JSON path (ERTA, TEACACHE) */
  int setting;               /* ERTA: index of the profile's setting */
  /* ERTA ablation switches. timestep_adjust: 0 off; 1 (default) phi from
   * the endpoint error, applied to the step's velocity (the schedule stays);
   * 2 the paper's phi, applied in time with the rest re-budgeted.
   * rectify: 1 (default) per-step, per-channel linear correction of the
   * cached residual where the profile kept it (leap profile keeps it only
   * when cross-validation on the calibration images finds that it improves
   * the images; otherwise it is off and rectify changes nothing); 0 off. */
  int timestep_adjust;
  int rectify;
  int uniform_computed;      /* UNIFORM: steps computed (evenly spaced) */
  double teacache_threshold; /* TEACACHE: reuse while the sum stays below */
  int branches;              /* 2 with guidance (cond, uncond), else 1 */
  int images;                /* rows per branch */
  /* The run the cache serves, checked against the profile (a mismatch is
   * LEAP_ERR_INVALID_ARG naming the field). model_id: leap_model_id(), or
   * NULL to skip that check (a host's own model). */
  const char *model_id;
  leap_solver solver;
  leap_schedule_kind schedule;
  double shift;
  int steps;
  double cfg;
} leap_cache_desc;

typedef struct leap_cache_stats {
  uint32_t struct_size;      /* sizeof(leap_cache_stats) */
  int evaluations;           /* leap_cache_begin calls */
  int computed, reused;
  double overhead_seconds;   /* wall time inside the hooks; in leap_sample,
                              * whose steps record the cache's ops into one
                              * program, only the host's share (deciding,
                              * TeaCache's indicator): the ops' device time
                              * is part of the step */
  int planned_computed;      /* steps the schedule computes (-1: decided online) */
} leap_cache_stats;

LEAP_API leap_cache_desc leap_cache_desc_default(void);
LEAP_API leap_status leap_cache_create(leap_context *ctx,
                                       const leap_cache_desc *desc,
                                       leap_cache **out);
LEAP_API void leap_cache_destroy(leap_cache *c);
/* Forgets the cached residuals and counters: call before each new run. */
LEAP_API leap_status leap_cache_reset(leap_cache *c);
/* step: 0..steps-1. Sets *compute to 1 (run the blocks, then
 * leap_cache_end) or 0 (out now holds the corrected result). */
LEAP_API leap_status leap_cache_begin(leap_cache *c, int step, int branch,
                                      const leap_tensor *in, leap_tensor *out,
                                      int *compute);
LEAP_API leap_status leap_cache_end(leap_cache *c, int step, int branch,
                                    const leap_tensor *out);
/* The factor phi of step `step` (1 unless the step is reused with
 * timestep adjustment on). *in_time = 0: multiply the step's (guided)
 * velocity by phi, schedule unchanged; 1: scale the step's interval by phi
 * with leap_cache_adjust_schedule. in_time may be NULL. */
LEAP_API leap_status leap_cache_step_scale(const leap_cache *c, int step,
                                           double *phi, int *in_time);
/* Applies the adjustment of step `step` to a flow schedule t[0..steps]
 * (t[steps] = 0): t[step+1] = t[step] + phi (t[step+1] - t[step]) and the
 * later points stretched so the path still ends at t = 0. Call it after
 * the step's evaluation and before its update. */
LEAP_API leap_status leap_cache_adjust_schedule(const leap_cache *c, int step,
                                                double *t, int steps);
LEAP_API leap_status leap_cache_get_stats(const leap_cache *c,
                                          leap_cache_stats *out);
/* A 16-hex-digit hash of the model's description and weights (what a
 * profile is valid for), NUL-terminated into out[size >= 17]. */
LEAP_API leap_status leap_model_id(leap_model *m, char *out, size_t size);


/* ------------------------------------------------------- distillation (DisBack) */
/*
 * Hooks for distilling a many-step teacher into a one-step student with
 * DisBack (distribution backtracking on DMD2's distribution matching), for
 * leap's own trainer (`leap distill`) and for any host trainer.
 *
 * Degradation path: before distillation a copy of the teacher is fine-tuned
 * on the initial student's samples and N checkpoints are saved on the way
 * (0 = first saved, nearest the teacher; N-1 = most degraded). Backtracking
 * then distils towards them in reverse, most degraded first, ending on the
 * teacher. The scheduler says which one is the target at each iteration.
 */
typedef enum leap_disback_switch {
  LEAP_DISBACK_SWITCH_INTERVAL = 0,  /* every `interval` iterations */
  LEAP_DISBACK_SWITCH_CONVERGED = 1  /* when the fake-score loss has settled */
} leap_disback_switch;

/* leap_disback_schedule_target's value once the path is walked. */
#define LEAP_DISBACK_TEACHER (-1)

typedef struct leap_disback_schedule_desc {
  uint32_t struct_size;       /* sizeof(leap_disback_schedule_desc) */
  int n_checkpoints;          /* checkpoints on the degradation path (0: teacher only) */
  leap_disback_switch rule;
  int interval;               /* INTERVAL: iterations per checkpoint */
  /* CONVERGED: switch once the mean fake-score loss of the last `window`
   * iterations differs from that of the `window` before by less than
   * `tolerance` (relative), after at least min_iters (>= 2 * window)
   * iterations on the checkpoint; max_iters > 0 caps a stage. */
  int window;
  double tolerance;
  int min_iters;
  int max_iters;
} leap_disback_schedule_desc;

typedef struct leap_disback_schedule leap_disback_schedule;

LEAP_API leap_disback_schedule_desc leap_disback_schedule_desc_default(void);
LEAP_API leap_status leap_disback_schedule_create(
    const leap_disback_schedule_desc *desc, leap_disback_schedule **out);
LEAP_API void leap_disback_schedule_destroy(leap_disback_schedule *s);
/* Call once per distillation iteration, after it, with that iteration's
 * fake-score loss (ignored by the INTERVAL rule). *switched (may be NULL)
 * is 1 when the target changed for the next iteration. */
LEAP_API leap_status leap_disback_schedule_observe(leap_disback_schedule *s,
                                                   double fake_loss,
                                                   int *switched);
/* The target for the next iteration: a path checkpoint index, or
 * LEAP_DISBACK_TEACHER. */
LEAP_API int leap_disback_schedule_target(const leap_disback_schedule *s);
/* The stage (0 .. n_checkpoints; n_checkpoints = the teacher) and the
 * iteration at which a stage began (-1 if not reached). */
LEAP_API int leap_disback_schedule_stage(const leap_disback_schedule *s);
LEAP_API int64_t leap_disback_schedule_stage_start(
    const leap_disback_schedule *s, int stage);
/* Resuming a run: the stage, the iterations done, and how many of them were
 * in the current stage (the CONVERGED rule restarts its loss windows,
 * unless leap_disback_schedule_restore_window gives them back). */
LEAP_API leap_status leap_disback_schedule_restore(leap_disback_schedule *s,
                                                   int stage, int64_t iter,
                                                   int64_t iters_in_stage);
/* The rest of the observer's state, for a resume that switches at exactly
 * the iteration an uninterrupted run would: the iterations in the current
 * stage, and under CONVERGED the stage's last fake-score losses its windows
 * still read (min(iterations in stage, 2 * window) of them, oldest first;
 * none under INTERVAL). losses may be NULL with cap 0 to ask for *count; a
 * cap below it is LEAP_ERR_INVALID_ARG. */
LEAP_API leap_status leap_disback_schedule_window(const leap_disback_schedule *s,
                                                  int64_t *iters_in_stage,
                                                  double *losses, int cap,
                                                  int *count);
/* After leap_disback_schedule_restore (given the same iters_in_stage):
 * gives the CONVERGED rule its windows back; count must be what
 * leap_disback_schedule_window reported. Under INTERVAL it only checks
 * (count 0). */
LEAP_API leap_status leap_disback_schedule_restore_window(
    leap_disback_schedule *s, int64_t iters_in_stage, const double *losses,
    int count);

/* DMD2's distribution-matching gradient for the student's samples x
 * [n, ...] (F32 tensors of one context, same shape): per sample i,
 *   grad_i = (x0_fake_i - x0_target_i) / max(mean|x_i - x0_target_i|, eps)
 * where x0_target and x0_fake are the target and fake-score models' x0
 * predictions from the noised x. The student's surrogate loss is
 * 0.5 * ||x - stopgrad(x - grad)||^2, whose gradient in x is grad. */
LEAP_API leap_status leap_dmd_gradient(const leap_tensor *x,
                                       const leap_tensor *x0_target,
                                       const leap_tensor *x0_fake,
                                       double eps, leap_tensor *grad);


/* ------------------------------------------------------------ block diffusion */
/*
 * Chunked noise schedules for video: frames are grouped into chunks of
 * frames_per_chunk (the last may be shorter: it is never dropped), every
 * chunk walks the solver's step list on its own, and a schedule says, for
 * each iteration, where every chunk is. A host that runs its own model reads
 * an iteration and: runs the model over the chunks [window_begin,
 * window_end) (earlier chunks are history, present only as keys and values
 * in its KV cache), first running each chunk marked kv_write once at t = 0
 * (clean) so its keys and values enter the cache; then takes one solver
 * step, from step[i] to step[i] + 1, on each chunk marked update.
 */
typedef enum leap_block_family {
  LEAP_BLOCK_SYNCHRONOUS = 0,   /* all chunks at one level (full-sequence sampling) */
  LEAP_BLOCK_AUTOREGRESSIVE = 1,/* one chunk fully denoised, then the next */
  LEAP_BLOCK_PYRAMID = 2,       /* chunk i starts ar_step iterations after chunk i-1 */
  LEAP_BLOCK_PIPELINED = 3      /* up to `window` chunks in flight, `lag` steps apart */
} leap_block_family;

typedef struct leap_block_schedule_desc {
  uint32_t struct_size;   /* sizeof(leap_block_schedule_desc) */
  int frames;             /* frames of the video (>= 1) */
  int frames_per_chunk;   /* >= 1 */
  int steps;              /* solver steps per chunk (>= 1) */
  leap_block_family family;
  int ar_step;            /* PYRAMID: iterations between chunk starts (0 = synchronous) */
  int window;             /* PIPELINED: chunks in flight at most (>= 1) */
  int lag;                /* PIPELINED: iterations between chunk starts (>= 1) */
} leap_block_schedule_desc;

typedef struct leap_block_schedule leap_block_schedule;

/* One iteration. The arrays have one entry per chunk and are the caller's
 * (leap_block_schedule_chunks entries each). step[i]: the chunk's index in
 * the step list (0 = pure noise, steps = clean). */
typedef struct leap_block_iteration {
  uint32_t struct_size;   /* sizeof(leap_block_iteration) */
  int window_begin, window_end; /* chunks the model runs this iteration */
  int updated;            /* chunks taking a step this iteration */
  int *step;              /* [chunks] */
  uint8_t *update;        /* [chunks] 1: takes its step step[i] -> step[i] + 1 */
  uint8_t *kv_write;      /* [chunks] 1: run clean once now to write its keys and values */
} leap_block_iteration;

LEAP_API leap_block_schedule_desc leap_block_schedule_desc_default(void);
LEAP_API leap_status leap_block_schedule_create(
    const leap_block_schedule_desc *desc, leap_block_schedule **out);
LEAP_API void leap_block_schedule_destroy(leap_block_schedule *s);
LEAP_API int leap_block_schedule_chunks(const leap_block_schedule *s);
LEAP_API int leap_block_schedule_iterations(const leap_block_schedule *s);
/* The frames of chunk i: [*first, *first + *count). */
LEAP_API leap_status leap_block_schedule_chunk_frames(
    const leap_block_schedule *s, int chunk, int *first, int *count);
LEAP_API leap_status leap_block_schedule_get(const leap_block_schedule *s,
                                             int iteration,
                                             leap_block_iteration *out);

/* FreeNoise's noise shuffling, in place on noise [frames, per_frame]: for
 * f = window, window + stride, ... the frames [f, f + stride) get the noise
 * of frames [f - window, f - window + stride) in an order drawn from seed
 * (earlier groups first, so a group may copy an already shuffled one). */
LEAP_API leap_status leap_block_noise_shuffle(float *noise, int frames,
                                              size_t per_frame, int window,
                                              int stride, uint64_t seed);


/* Which finished chunks a block-diffusion run keeps as keys and values, and
 * which of them the next chunk attends to: memory is bounded by the policy,
 * not by the video's length. The host keeps the keys and values; the
 * policy keeps chunk indices and, for SPARSE, one summary vector per stored
 * chunk (e.g. its mean key over tokens, per layer or averaged over layers).
 *   KEEP_ALL  every chunk, attended in full (when it fits);
 *   ROLLING   the first `sinks` chunks and the last `window` chunks;
 *   SPARSE    BlockVid-style: at most `store` chunks stored (sinks and the
 *             last `window` always; otherwise the least recently attended
 *             chunk is evicted), and the next chunk attends to the sinks,
 *             the last `window` chunks and the `top_k` stored chunks whose
 *             summaries have the highest cosine similarity to its query
 *             summary (ties: the earlier chunk). */
typedef enum leap_kv_policy_kind {
  LEAP_KV_KEEP_ALL = 0,
  LEAP_KV_ROLLING = 1,
  LEAP_KV_SPARSE = 2
} leap_kv_policy_kind;

typedef struct leap_kv_policy_desc {
  uint32_t struct_size;   /* sizeof(leap_kv_policy_desc) */
  leap_kv_policy_kind kind;
  int sinks;              /* ROLLING, SPARSE: first chunks always kept */
  int window;             /* ROLLING, SPARSE: most recent chunks always kept */
  int store;              /* SPARSE: chunks stored at most (>= sinks + window + top_k) */
  int top_k;              /* SPARSE: similar chunks attended beyond sinks and window */
  int summary_dim;        /* SPARSE: length of a chunk's summary vector */
} leap_kv_policy_desc;

typedef struct leap_kv_policy leap_kv_policy;

LEAP_API leap_kv_policy_desc leap_kv_policy_desc_default(void);
LEAP_API leap_status leap_kv_policy_create(const leap_kv_policy_desc *desc,
                                           leap_kv_policy **out);
LEAP_API void leap_kv_policy_destroy(leap_kv_policy *p);
/* A finished chunk's keys and values were written: chunk indices come in
 * increasing order. summary: [summary_dim] (SPARSE; else may be NULL).
 * *evicted (may be NULL): the chunk whose keys and values the host may now
 * free, or -1. */
LEAP_API leap_status leap_kv_policy_add(leap_kv_policy *p, int chunk,
                                        const float *summary, int *evicted);
/* The stored chunks the next chunk attends to, in increasing order, into
 * chunks[cap]; *count of them. query: [summary_dim] (SPARSE; else may be
 * NULL). */
LEAP_API leap_status leap_kv_policy_select(leap_kv_policy *p,
                                           const float *query, int *chunks,
                                           int cap, int *count);
/* The chunks stored now (at most the policy's bound). */
LEAP_API int leap_kv_policy_stored(const leap_kv_policy *p);


/* ------------------------------------------------------------ video sampling */
/*
 * leap's own block-diffusion sampler for a video model (arch "video_dit"):
 * the schedule above drives the model chunk by chunk, each chunk walking
 * the flow schedule with Euler steps at its own level; finished chunks stay
 * as keys and values under a KV policy, so memory is bounded by the policy,
 * not by the video's length. The synchronous family is full-sequence
 * sampling (every chunk at one level, the whole clip each step).
 *
 * The model must predict flow_v. Each clip has its own KV policy (its
 * conditional and null-class rows share it). SPARSE summarises a stored
 * chunk by its keys before the rotary embedding, averaged over its tokens
 * and the layers (conditional row), and selects with the newest stored
 * chunk's summary as the query (the chunks being denoised are still mostly
 * noise), again each time a chunk is stored. Memory: the chunks in flight
 * (and, with recompute, every finished chunk), the KV store (the policy's
 * bound plus one chunk, per layer and row) and, when shuffling, a ring of
 * shuffle_window + stride frames.
 */

/* Frames [first, first + count) of every clip are final: video
 * [n, count, C, H, W] (pixels in [-1, 1]), valid during the call. Return
 * non-zero to stop the run (LEAP_ERR_INTERRUPTED); what was delivered
 * before stays the caller's. */
typedef int (*leap_video_frames_fn)(void *user, int first, int count,
                                    const float *video);

typedef struct leap_video_desc {
  uint32_t struct_size;     /* sizeof(leap_video_desc) */
  int n;                    /* clips */
  const int32_t *labels;    /* [n]; NULL = unconditional (null class) */
  int frames;               /* frames per clip (>= 1; any length) */
  int steps;                /* Euler steps per chunk */
  double cfg;               /* guidance scale; 1 = no guidance */
  double shift;             /* flow schedule shift; 1 = none */
  uint64_t seed;            /* initial noise: leap_noise_fill(seed, n, F*C*H*W),
                               then clip b shuffled with seed + b */
  leap_block_family family;
  int ar_step;              /* PYRAMID (see leap_block_schedule_desc) */
  int window, lag;          /* PIPELINED */
  int shuffle_window;       /* FreeNoise shuffling of the initial noise, in frames; 0 = none */
  int shuffle_stride;       /* frames per shuffled group (0 = frames_per_chunk) */
  leap_kv_policy_desc kv;   /* which finished chunks are kept and attended;
                               SPARSE: summary_dim 0 (or the model's
                               hidden_size) */
  int recompute;            /* 1: no KV cache; every chunk re-runs its whole
                               visible history (clean) with it: the baseline
                               the cache is measured against (kv KEEP_ALL) */
  leap_progress_fn progress;/* step = frames finished, steps = frames */
  void *progress_user;
  leap_video_frames_fn on_frames; /* NULL: none; frames go to out only */
  void *on_frames_user;
  /* New in 0.3 (a smaller 0.2 struct runs without them): caching
   * inside block diffusion, ERTACache across the schedule's iterations. An
   * iteration whose window has no keys and values to write and whose
   * chunks all have a block-stack residual from the last computed
   * iteration may reuse them: embed and final layer run at the chunks' new
   * timesteps, the blocks are skipped. Which iterations reuse comes from
   * cache_profile, made by `leap video --cache-profile` for this model,
   * family (and ar_step or window and lag), frames, steps, cfg and shift; a
   * profile for another run is LEAP_ERR_INVALID_ARG naming the field.
   * NULL: every iteration computed. recompute must be 0. */
  const char *cache_profile;
  int cache_setting;        /* index of the profile's setting */
  int cache_adjust;         /* 1 (default): the profile's phi scales a reused
                               iteration's velocity; 0: phi = 1 */
  /* NULL, or filled at the end (struct_size set by the caller):
   * evaluations = iterations that ran the model, computed + reused of
   * them, planned_computed = the profile's count (-1 without a cache). */
  leap_cache_stats *cache_stats;
} leap_video_desc;

/* n 1, frames 16, steps 50, cfg 1, shift 1, seed 0, the block schedule's
 * defaults (SYNCHRONOUS, ar_step 5, window 4, lag 8), no shuffling, kv
 * leap_kv_policy_desc_default() (KEEP_ALL), no callbacks, no cache
 * (cache_adjust 1). */
LEAP_API leap_video_desc leap_video_desc_default(void);
/* Samples n clips into out [n, frames, in_channels, H, W] (may be NULL when
 * on_frames takes the frames: a long video need not fit in memory). */
LEAP_API leap_status leap_video_sample(leap_model *m, const leap_video_desc *desc,
                                       float *out);

/* ------------------------------------------------------- frames of any count */

/* leap_model_forward over `frames` frames: x [n, frames, C, H, W],
 * t [n, frames] (one value per chunk, repeated on its frames), y [n];
 * out [n, frames, out_channels, H, W]. A video model (arch "video_dit")
 * runs any frames >= 1, a clip longer or shorter than clip_frames: the
 * rotary embedding is over the absolute frame (0 = the first frame of x)
 * and attention is block-causal, so a chunk's output depends only on it
 * and the chunks before it. This is what a host running its own
 * block-diffusion loop needs to recompute the visible history (see
 * examples/host_video.c). Other models take frames = clip_frames only (1
 * for an image model; LEAP_ERR_UNSUPPORTED otherwise). Same threading as
 * leap_model_forward: one call at a time per model. */
LEAP_API leap_status leap_model_forward_frames(leap_model *m, int n, int frames,
                                               const float *x, const float *t,
                                               const int32_t *y, float *out);


/* ------------------------------------------------------------ entry point */
/*
 * One exported symbol for hosts that load libleap at run time (dlopen +
 * dlsym, like CLAP's clap_entry): leap_get_api fills a table of every
 * public call for an API major version, so a host needs no link-time
 * dependency on leap, only this header for the types:
 *
 *   void *lib = dlopen("libleap.so.0", RTLD_NOW | RTLD_LOCAL);
 *   leap_get_api_fn get = (leap_get_api_fn)dlsym(lib, LEAP_ENTRY_SYMBOL);
 *   leap_api api = {.struct_size = sizeof api};
 *   if (get(LEAP_API_VERSION_MAJOR, &api) != LEAP_OK) ... refused
 *   api.context_create(...);
 *
 * The table is filled like any output struct: only the caller's
 * struct_size bytes are written, so a host built against an older (smaller)
 * leap_api gets the calls it knows, and a host built against a newer header
 * finds the pointers this library lacks untouched: such a host zeroes its
 * table first and checks a newer pointer for NULL (or reads `version`)
 * before calling it. Pointers are appended at the end, never reordered or
 * removed within a major version. Each pointer is the same function as the
 * exported symbol of its name with the leap_ prefix (api.sample is
 * leap_sample), with the same contract; the table stays valid while the
 * library is loaded (until the last dlclose).
 *
 * A major version this library does not serve is LEAP_ERR_UNSUPPORTED
 * with leap_last_error() (of this library: dlsym "leap_last_error") saying
 * which major it serves; then only `version` is written (when struct_size
 * holds it), so the host can report what it found.
 *
 * Threads: leap_get_api may be called from any thread at any time.
 */
typedef struct leap_api {
  uint32_t struct_size;  /* sizeof(leap_api) of the caller; set by the caller */
  uint32_t version;      /* LEAP_API_VERSION of the library that filled it */
  uint32_t (*api_version)(void);
  const char *(*status_string)(leap_status s);
  const char *(*last_error)(void);
  leap_status (*vulkan_device_count)(int *count);
  leap_status (*vulkan_device_info)(int index, leap_device_info *out);
  leap_context_desc (*context_desc_default)(leap_backend_kind backend);
  leap_status (*context_create)(const leap_context_desc *desc,
      leap_context **out);
  leap_status (*context_create_vulkan_external)(const leap_vulkan_external *ext,
      leap_context **out);
  void (*context_destroy)(leap_context *ctx);
  leap_backend_kind (*context_backend)(const leap_context *ctx);
  const char *(*context_device_name)(const leap_context *ctx);
  uint64_t (*context_validation_messages)(const leap_context *ctx);
  leap_status (*tensor_create)(leap_context *ctx, leap_dtype dtype, int ndim,
      const int64_t *shape, leap_tensor **out);
  leap_status (*tensor_wrap_host)(leap_context *ctx, leap_dtype dtype,
      int ndim, const int64_t *shape, void *data, leap_tensor **out);
  leap_status (*tensor_wrap_vkbuffer)(leap_context *ctx, leap_dtype dtype,
      int ndim, const int64_t *shape, uint64_t vk_buffer, uint64_t offset,
      leap_tensor **out);
  void (*tensor_destroy)(leap_tensor *t);
  leap_status (*tensor_write)(leap_tensor *t, const void *src, size_t bytes);
  leap_status (*tensor_read)(const leap_tensor *t, void *dst, size_t bytes);
  int (*tensor_ndim)(const leap_tensor *t);
  int64_t (*tensor_dim)(const leap_tensor *t, int i);
  leap_dtype (*tensor_dtype)(const leap_tensor *t);
  int64_t (*tensor_numel)(const leap_tensor *t);
  leap_status (*model_load)(leap_context *ctx, const char *path,
      leap_model **out);
  void (*model_destroy)(leap_model *m);
  leap_status (*model_get_info)(const leap_model *m, leap_model_info *out);
  leap_status (*model_weight_count)(const leap_model *m, int *count);
  leap_status (*model_weight)(const leap_model *m, int index,
      leap_weight_info *out);
  leap_status (*model_forward)(leap_model *m, int n, const float *x,
      const float *t, const int32_t *y, float *out);
  leap_status (*model_embed)(leap_model *m, int n, const float *x,
      const float *t, const int32_t *y);
  leap_status (*model_blocks)(leap_model *m);
  leap_status (*model_final)(leap_model *m, float *out);
  leap_status (*model_hidden)(leap_model *m, leap_tensor **h);
  leap_sample_desc (*sample_desc_default)(void);
  leap_status (*noise_fill)(uint64_t seed, int n, size_t numel, float *out);
  leap_status (*sample)(leap_model *m, const leap_sample_desc *desc,
      float *out);
  const char *(*solver_name)(leap_solver s);
  const char *(*schedule_name)(leap_schedule_kind s);
  leap_status (*solver_from_name)(const char *name, leap_solver *out);
  leap_status (*schedule_from_name)(const char *name, leap_schedule_kind *out);
  leap_lcsc_combine_desc (*lcsc_combine_desc_default)(void);
  leap_status (*lcsc_combine)(const leap_lcsc_combine_desc *desc,
      leap_lcsc_combine_stats *stats);
  leap_lcsc_search_desc (*lcsc_search_desc_default)(void);
  leap_status (*lcsc_search)(const leap_lcsc_search_desc *desc,
      double *best_coefs, double *best_fitness);
  leap_cache_desc (*cache_desc_default)(void);
  leap_status (*cache_create)(leap_context *ctx, const leap_cache_desc *desc,
      leap_cache **out);
  void (*cache_destroy)(leap_cache *c);
  leap_status (*cache_reset)(leap_cache *c);
  leap_status (*cache_begin)(leap_cache *c, int step, int branch,
      const leap_tensor *in, leap_tensor *out, int *compute);
  leap_status (*cache_end)(leap_cache *c, int step, int branch,
      const leap_tensor *out);
  leap_status (*cache_step_scale)(const leap_cache *c, int step, double *phi,
      int *in_time);
  leap_status (*cache_adjust_schedule)(const leap_cache *c, int step,
      double *t, int steps);
  leap_status (*cache_get_stats)(const leap_cache *c, leap_cache_stats *out);
  leap_status (*model_id)(leap_model *m, char *out, size_t size);
  leap_disback_schedule_desc (*disback_schedule_desc_default)(void);
  leap_status (*disback_schedule_create)(const leap_disback_schedule_desc *desc,
      leap_disback_schedule **out);
  void (*disback_schedule_destroy)(leap_disback_schedule *s);
  leap_status (*disback_schedule_observe)(leap_disback_schedule *s,
      double fake_loss, int *switched);
  int (*disback_schedule_target)(const leap_disback_schedule *s);
  int (*disback_schedule_stage)(const leap_disback_schedule *s);
  int64_t (*disback_schedule_stage_start)(const leap_disback_schedule *s,
      int stage);
  leap_status (*disback_schedule_restore)(leap_disback_schedule *s, int stage,
      int64_t iter, int64_t iters_in_stage);
  leap_status (*dmd_gradient)(const leap_tensor *x,
      const leap_tensor *x0_target, const leap_tensor *x0_fake, double eps,
      leap_tensor *grad);
  leap_block_schedule_desc (*block_schedule_desc_default)(void);
  leap_status (*block_schedule_create)(const leap_block_schedule_desc *desc,
      leap_block_schedule **out);
  void (*block_schedule_destroy)(leap_block_schedule *s);
  int (*block_schedule_chunks)(const leap_block_schedule *s);
  int (*block_schedule_iterations)(const leap_block_schedule *s);
  leap_status (*block_schedule_chunk_frames)(const leap_block_schedule *s,
      int chunk, int *first, int *count);
  leap_status (*block_schedule_get)(const leap_block_schedule *s,
      int iteration, leap_block_iteration *out);
  leap_status (*block_noise_shuffle)(float *noise, int frames,
      size_t per_frame, int window, int stride, uint64_t seed);
  leap_kv_policy_desc (*kv_policy_desc_default)(void);
  leap_status (*kv_policy_create)(const leap_kv_policy_desc *desc,
      leap_kv_policy **out);
  void (*kv_policy_destroy)(leap_kv_policy *p);
  leap_status (*kv_policy_add)(leap_kv_policy *p, int chunk,
      const float *summary, int *evicted);
  leap_status (*kv_policy_select)(leap_kv_policy *p, const float *query,
      int *chunks, int cap, int *count);
  int (*kv_policy_stored)(const leap_kv_policy *p);
  leap_video_desc (*video_desc_default)(void);
  leap_status (*video_sample)(leap_model *m, const leap_video_desc *desc,
      float *out);
  /* Calls declared after this table was made, in the order they came. */
  leap_status (*model_forward_frames)(leap_model *m, int n, int frames,
      const float *x, const float *t, const int32_t *y, float *out);
  leap_status (*disback_schedule_window)(const leap_disback_schedule *s,
      int64_t *iters_in_stage, double *losses, int cap, int *count);
  leap_status (*disback_schedule_restore_window)(leap_disback_schedule *s,
      int64_t iters_in_stage, const double *losses, int count);
} leap_api;

#define LEAP_ENTRY_SYMBOL "leap_get_api"
typedef leap_status (*leap_get_api_fn)(uint32_t major, leap_api *out);
/* major: the API major the host was built for (LEAP_API_VERSION_MAJOR). */
LEAP_API leap_status leap_get_api(uint32_t major, leap_api *out);

#ifdef __cplusplus
}
#endif
#endif /* LEAP_H */
