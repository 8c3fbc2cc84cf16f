/* output.h - the one rule by which leap lands every file it writes.
 *
 * An output never names an input of its job, nor an existing file that leap
 * did not make for the same purpose:
 *   - inputs are compared by identity, not spelling: device and inode after
 *     resolving links, so `./m`, `../dir/m`, a symlink or a hard link to an
 *     input are all the input;
 *   - an existing output may be replaced only when it is a regular file (not
 *     a folder, FIFO, device or socket) that is recognisably leap's earlier
 *     output of the same kind (the kind table in output.c: a PNG with leap's
 *     tEXt Software chunk, safetensors whose __metadata__ has
 *     "leap.output" = the kind, a profile JSON with its format field, a
 *     search log with its header line). Anything else is a clear error that
 *     names the file, and the file is left alone. LP_OUT_ANY (internal
 *     writers that are given no kind, such as tests' own fixtures) skips
 *     the recognition but keeps every other check.
 * The bytes go to a temporary with a unique name in the output's folder
 * (created O_EXCL, so nothing existing is ever opened), registered in a
 * fixed table that the SIGINT / SIGTERM handler can unlink from
 * (async-signal-safe); commit fsyncs, renames onto the output and fsyncs
 * the folder; abort unlinks. Private work folders (lp_out_workdir) are in
 * the same table, so a signal removes them too.
 *
 * Ctrl-C and SIGTERM: lp_out_signals_install makes the first of either set
 * a flag (lp_out_stop_requested) that long jobs and writers poll between
 * steps, so they stop, remove their temporaries and write nothing; a second
 * signal removes every registered temporary at once and ends the process
 * with that signal's default action. */
#ifndef LEAP_CORE_OUTPUT_H
#define LEAP_CORE_OUTPUT_H

#include <stddef.h>

#include "leap.h"

typedef enum lp_out_kind {
  LP_OUT_ANY = 0,        /* no recognition (internal writers given no kind) */
  LP_OUT_PNG,            /* `leap sample --out` grid */
  LP_OUT_SAMPLES,        /* `leap sample --raw-out` safetensors */
  LP_OUT_CHECKPOINT,     /* `leap train` weights (step and EMA files) */
  LP_OUT_TRAIN_STATE,    /* `leap train` resumable state */
  LP_OUT_COMBINED,       /* `leap lcsc combine` / search --out weights */
  LP_OUT_CLASSIFIER,     /* `leap train-classifier` weights */
  LP_OUT_PROFILE,        /* `leap profile` JSON */
  LP_OUT_LCSC_LOG,       /* `leap lcsc search --log` JSON lines (appended) */
  LP_OUT_DISTILL_LOG,    /* `leap distill` log.jsonl */
  LP_OUT_DISBACK_PATH,   /* `leap distill` path/path.json, the degradation path's manifest */
  LP_OUT_VIDEO,          /* `leap video --out` GIF, APNG, MP4 or WebM (comment leap.output=video) */
  LP_OUT_SAMPLES_INDEX,  /* `leap sample --raw-out` index of samples shards (JSON) */
  LP_OUT_KIND_COUNT
} lp_out_kind;

/* The kind's name: the "leap.output" metadata value of safetensors kinds. */
const char *lp_out_kind_name(lp_out_kind kind);
/* Non-zero for kinds whose float tensors must be finite before they land
 * (weights: a file of Inf that leap then refuses to load is no output). */
int lp_out_kind_needs_finite(lp_out_kind kind);
/* The safetensors __metadata__ key that names the kind. */
#define LP_OUT_META_KEY "leap.output"

/* Checks path as an output of `kind` for a job reading inputs[0..ninputs)
 * (NULL entries are skipped): LEAP_ERR_INVALID_ARG with a message naming
 * the file when the rule refuses it. Commands call it before long work, so
 * that a refused output costs nothing; lp_out_begin and lp_out_commit
 * check again. */
leap_status lp_out_check(const char *path, lp_out_kind kind, const char *const *inputs, int ninputs);
/* Non-zero when a and b name the same file: by identity when both exist,
 * else by their folders' identity and the final name. For two outputs of
 * one job (`--out X --raw-out X`). */
int lp_out_same_file(const char *a, const char *b);

typedef struct lp_out lp_out;

/* Checks the rule, then creates the temporary (registered for signals).
 * inputs are copied: they need not outlive the call. */
leap_status lp_out_begin(const char *path, lp_out_kind kind, const char *const *inputs, int ninputs,
                         lp_out **out);
/* The temporary's descriptor (write with lp_write_all) and its name. */
int lp_out_fd(const lp_out *o);
const char *lp_out_temp(const lp_out *o);
const char *lp_out_path(const lp_out *o);
/* fsync + close, the rule once more (the target may have appeared since
 * begin), rename onto the target, fsync of the folder. Frees o; on failure
 * the temporary is removed and the target untouched. */
leap_status lp_out_commit(lp_out *o);
/* Several outputs as one unit: every temporary is synced and every target
 * checked before the first rename, so a failure (a full disk, a refused
 * target) lands none of them. Frees all; on failure removes every
 * temporary. (Renames that fail after the first succeeded cannot be undone:
 * a rename into one folder fails only when the folder itself goes away.) */
leap_status lp_out_commit_all(lp_out **outs, int count);
/* Removes the temporary and frees o (NULL is fine). */
void lp_out_abort(lp_out *o);
/* A whole output at once: begin, data[0..len) into the temporary, commit
 * (on a failed write, "PATH: writing the WHAT failed: ..." and no file). */
leap_status lp_out_write_bytes(const char *path, lp_out_kind kind, const char *const *inputs, int ninputs,
                               const void *data, size_t len, const char *what);

/* A private work folder: a fresh, unique folder (mkdtemp, mode 0700) named
 * after `prefix` inside `parent` (NULL or "" = the current folder; made
 * when missing, and then removed again when empty), registered so that a
 * signal removes it and the files named in it. parent naming a file is an
 * error. leap never deletes a file it did not create:
 * lp_out_workdir_remove unlinks only the names passed to
 * lp_out_workdir_file, then the folders. */
typedef struct lp_out_workdir lp_out_workdir;
leap_status lp_out_workdir_create(const char *parent, const char *prefix, lp_out_workdir **out);
/* The path of `name` in the folder (written into buf), registered for
 * removal; NULL when it does not fit. */
const char *lp_out_workdir_file(lp_out_workdir *w, const char *name, char *buf, size_t len);
const char *lp_out_workdir_path(const lp_out_workdir *w);
void lp_out_workdir_remove(lp_out_workdir *w);

/* For jobs that keep what they finished when stopped (`leap video`: the
 * frames done so far): while on, a stop request no longer refuses
 * lp_out_begin and the commits, so the finished part lands. A second
 * signal still removes every temporary and ends the process. */
void lp_out_keep_on_stop(int on);

/* SIGINT and SIGTERM handlers (see above); idempotent. */
void lp_out_signals_install(void);
/* Non-zero once SIGINT or SIGTERM has arrived (after install). */
int lp_out_stop_requested(void);

#endif
