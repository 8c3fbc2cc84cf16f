/* sample_parts.h - raw samples of runs of any size: the metadata of a
 * samples file, its shards (parts) and their index, and reading any of them
 * back a batch at a time.
 *
 * A samples file holds tensor "samples" [count, C, H, W] F32 and string
 * metadata: the run's settings (cli_raw_setting_keys, in that order), "n"
 * (images in the whole run; "batch" among the settings: the images
 * depend on the batch composition at float rounding level), for a part also "first", "count" and "shard"
 * ("i/N"), and "labels" (the labels of the file's images, comma-separated)
 * when count <= CLI_RAW_LABELS_MAX; "label_cycle" (a setting) gives them for
 * any count: image j of the run has label_cycle[j % len] ("none":
 * unconditional).
 *
 * `leap sample --raw-out S.safetensors --shard i/N` writes part i as
 * S-0000i-of-0000N.safetensors, and shard 0 also the index
 * S.safetensors.index.json: {"format": "leap-samples-index", ...} with n,
 * the image shape, the settings and every part's file (relative to the
 * index), first and count. Everything in a part is fixed by the run's
 * settings, n and N, so the index is known before any part exists; reading
 * checks each part against it (a missing part, other counts or settings
 * are errors naming the part). Merging the parts (cli_raw_merge) writes the
 * bytes a one-process `--raw-out` of the same run writes. */
#ifndef LEAP_CLI_SAMPLE_PARTS_H
#define LEAP_CLI_SAMPLE_PARTS_H

#include <stddef.h>
#include <stdint.h>

#include "leap.h"
#include "output.h"

/* The settings every file of a run carries, in metadata order. */
enum {
  CLI_RAW_MODEL, CLI_RAW_SAMPLER, CLI_RAW_SCHEDULE, CLI_RAW_STEPS, CLI_RAW_CFG, CLI_RAW_SHIFT,
  CLI_RAW_ETA, CLI_RAW_SEED, CLI_RAW_NOISE, CLI_RAW_BATCH, CLI_RAW_DEVICE, CLI_RAW_LABEL_CYCLE,
  CLI_RAW_SETTINGS
};
extern const char *const cli_raw_setting_keys[CLI_RAW_SETTINGS];

/* The most images of a run (noise streams stay below 2^40). */
#define CLI_RAW_MAX_N ((INT64_C(1) << 40) - 1)

/* Files of more images than this carry no "labels" list (label_cycle
 * gives them): a header stays small for a run of any size. */
enum { CLI_RAW_LABELS_MAX = 65536 };

/* A file's metadata pairs (pointers into the struct and the settings). */
enum { CLI_RAW_META_MAX = CLI_RAW_SETTINGS + 5 };
typedef struct cli_raw_meta {
  const char *key[CLI_RAW_META_MAX], *val[CLI_RAW_META_MAX];
  int pairs;
  char n[24], first[24], count[24], shard[48];
  char *labels; /* owned */
} cli_raw_meta;

/* The metadata of a file of images [first, first + count) of a run of n
 * (shard_n = 0: the whole run, first 0 and count n, no part keys). */
leap_status cli_raw_meta_make(cli_raw_meta *m, const char *const *settings, int64_t n, int64_t first,
                              int64_t count, int64_t shard_i, int64_t shard_n);
void cli_raw_meta_free(cli_raw_meta *m);

/* "0,1,2" text of a label list (count >= 1) -> malloc'ed labels; NULL
 * list for "none". LEAP_ERR_FORMAT naming `where` on bad text. */
leap_status cli_raw_parse_cycle(const char *where, const char *text, int32_t **list, int *count);

/* Part i of N of the raw output `path` (S.safetensors or S):
 * S-0000i-of-0000N.safetensors; the index: S.safetensors.index.json. 0
 * when the name does not fit. */
int cli_raw_part_name(const char *path, int64_t i, int64_t count, char *buf, size_t len);
int cli_raw_index_name(const char *path, char *buf, size_t len);

/* Writes the index of a run of n [c, h, w] images in batches of `batch`,
 * in `parts` parts (shard.h's ranges) named after raw_path (a job reading
 * inputs[0..ninputs)). */
leap_status cli_raw_index_write(const char *raw_path, const char *const *settings, int64_t n, int64_t batch,
                                int c, int h, int w, int64_t parts, const char *const *inputs, int ninputs);

/* A streaming writer of one samples file (core/output.h's rule, kind
 * LP_OUT_SAMPLES): the header first, images appended as they come. */
typedef struct cli_raw_writer cli_raw_writer;
leap_status cli_raw_writer_open(const char *path, const cli_raw_meta *m, int64_t count, int c, int h, int w,
                                const char *const *inputs, int ninputs, cli_raw_writer **out);
leap_status cli_raw_writer_append(cli_raw_writer *w, const float *x, int64_t images);
/* Checks that every image came, lands the file; frees w either way. */
leap_status cli_raw_writer_finish(cli_raw_writer *w);
/* The same, but returns the written file unlanded in *out, to land with
 * others (lp_out_commit_all); frees w either way. */
leap_status cli_raw_writer_finish_unit(cli_raw_writer *w, lp_out **out);
void cli_raw_writer_abort(cli_raw_writer *w);

/* Samples read back a batch at a time from a samples file, an index (a
 * .json file) or the parts it lists, checked as they are opened. */
typedef struct cli_samples_src cli_samples_src;
leap_status cli_samples_open(const char *path, cli_samples_src **out);
/* Images of the whole set, and their shape. */
int64_t cli_samples_n(const cli_samples_src *s);
void cli_samples_shape(const cli_samples_src *s, int *c, int *h, int *w);
/* Non-zero when labels are known (a "labels" list or a label_cycle that
 * is not "none"). */
int cli_samples_has_labels(const cli_samples_src *s);
/* Up to max images (and their labels, when labels is not NULL and they
 * are known) into x; *got = 0 at the end. */
leap_status cli_samples_next(cli_samples_src *s, int max, float *x, int32_t *labels, int *got);
void cli_samples_close(cli_samples_src *s);

/* One samples file of the whole set `src` names (an index, or a file): the
 * bytes `leap sample --raw-out` writes for the same run in one process. */
leap_status cli_raw_merge(const char *src, const char *out, int quiet);

#endif
