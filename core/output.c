/* output.c - see output.h. */
#define _POSIX_C_SOURCE 200809L
#include "output.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "error.h"
#include "file_write.h"

/* ------------------------------------------------------------ the kinds */

typedef int (*sniff_fn)(const unsigned char *head, size_t len, const char *name);

/* A PNG whose tEXt chunks (before the image data) hold Software = leap. */
static int sniff_png(const unsigned char *h, size_t len, const char *name) {
  (void)name;
  static const unsigned char sig[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (len < 8 || memcmp(h, sig, 8) != 0) return 0;
  size_t at = 8;
  while (at + 8 <= len) {
    const size_t n = (size_t)h[at] << 24 | (size_t)h[at + 1] << 16 | (size_t)h[at + 2] << 8 | h[at + 3];
    const unsigned char *type = h + at + 4, *data = h + at + 8;
    if (!memcmp(type, "IDAT", 4) || !memcmp(type, "IEND", 4) || n > len - at - 8) return 0;
    if (!memcmp(type, "tEXt", 4) && n >= 13 && !memcmp(data, "Software\0leap", 13)) return 1;
    at += 12 + n;
  }
  return 0;
}

/* safetensors whose __metadata__ holds "leap.output":"<name>", as leap's
 * writers put it (no spaces; the metadata comes first in the header). */
static int sniff_safetensors(const unsigned char *h, size_t len, const char *name) {
  if (len < 10) return 0;
  uint64_t n = 0;
  for (int i = 0; i < 8; i++) n |= (uint64_t)h[i] << (8 * i);
  if (h[8] != '{' || n < 2) return 0;
  char want[96];
  snprintf(want, sizeof want, "\"" LP_OUT_META_KEY "\":\"%s\"", name);
  const size_t wl = strlen(want), end = n < len - 8 ? (size_t)n + 8 : len;
  for (size_t i = 8; i + wl <= end; i++)
    if (h[i] == '"' && memcmp(h + i, want, wl) == 0) return 1;
  return 0;
}

/* A profile JSON (leap profile's ERTACache profile, leap video
 * --cache-profile's block-cache profile): an object whose first field is
 * its format. */
static int sniff_profile(const unsigned char *h, size_t len, const char *name) {
  (void)name;
  static const char *const want[] = {"{\n  \"format\": \"leap-erta-profile\"",
                                     "{\n  \"format\": \"leap-video-cache-profile\""};
  for (size_t k = 0; k < sizeof want / sizeof want[0]; k++)
    if (len >= strlen(want[k]) && memcmp(h, want[k], strlen(want[k])) == 0) return 1;
  return 0;
}

/* an LCSC search log: its header line first (or nothing yet: a log whose
 * header was never written, which holds nothing to lose). */
static int sniff_lcsc_log(const unsigned char *h, size_t len, const char *name) {
  (void)name;
  if (len == 0) return 1;
  static const char want[] = "{\"lcsc_search\": 1";
  return len >= sizeof want - 1 && memcmp(h, want, sizeof want - 1) == 0;
}

/* leap distill's log: its first line names it. */
static int sniff_distill_log(const unsigned char *h, size_t len, const char *name) {
  (void)name;
  static const char want[] = "{\"distill\": 1";
  return len >= sizeof want - 1 && memcmp(h, want, sizeof want - 1) == 0;
}

/* DisBack's degradation-path manifest: an object whose first field is its format. */
static int sniff_disback_path(const unsigned char *h, size_t len, const char *name) {
  (void)name;
  static const char want[] = "{\"format\": \"leap-disback-path\"";
  return len >= sizeof want - 1 && memcmp(h, want, sizeof want - 1) == 0;
}

/* The index of a sharded samples output (examples/cli/sample_parts.c):
 * an object whose first field is its format. */
static int sniff_samples_index(const unsigned char *h, size_t len, const char *name) {
  (void)name;
  static const char want[] = "{\"format\": \"leap-samples-index\"";
  return len >= sizeof want - 1 && memcmp(h, want, sizeof want - 1) == 0;
}

/* A video leap wrote (examples/cli/video_file.c): a GIF, PNG, MP4 or
 * Matroska file whose comment, in the container's header (a GIF comment
 * extension, a PNG tEXt chunk, the MP4 or WebM comment tag), reads
 * leap.output=video. */
static int sniff_video(const unsigned char *h, size_t len, const char *name) {
  static const unsigned char png[8] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  static const unsigned char ebml[4] = {0x1a, 0x45, 0xdf, 0xa3};
  const int container = (len >= 6 && (!memcmp(h, "GIF87a", 6) || !memcmp(h, "GIF89a", 6))) ||
                        (len >= 8 && !memcmp(h, png, 8)) || (len >= 8 && !memcmp(h + 4, "ftyp", 4)) ||
                        (len >= 4 && !memcmp(h, ebml, 4));
  if (!container) return 0;
  char want[64];
  snprintf(want, sizeof want, LP_OUT_META_KEY "=%s", name);
  const size_t wl = strlen(want);
  for (size_t i = 0; i + wl <= len; i++)
    if (h[i] == 'l' && memcmp(h + i, want, wl) == 0) return 1;
  return 0;
}

static const struct {
  const char *name;   /* the marker value, and the name in messages */
  const char *what;   /* what an existing file must be to be replaced */
  sniff_fn sniff;     /* NULL: no recognition */
  int finite;         /* float tensors must be finite */
} kKinds[LP_OUT_KIND_COUNT] = {
    [LP_OUT_ANY] = {"file", "a file", NULL, 0},
    [LP_OUT_PNG] = {"png", "a PNG leap wrote (tEXt Software: leap)", sniff_png, 0},
    [LP_OUT_SAMPLES] = {"samples", "a samples file leap wrote", sniff_safetensors, 0},
    [LP_OUT_CHECKPOINT] = {"checkpoint", "a training checkpoint leap wrote", sniff_safetensors, 1},
    [LP_OUT_TRAIN_STATE] = {"train-state", "a training state leap wrote", sniff_safetensors, 1},
    [LP_OUT_COMBINED] = {"lcsc-combined", "an LCSC combination leap wrote", sniff_safetensors, 1},
    [LP_OUT_CLASSIFIER] = {"classifier", "a classifier leap wrote", sniff_safetensors, 1},
    [LP_OUT_PROFILE] = {"profile", "a profile leap wrote", sniff_profile, 0},
    [LP_OUT_LCSC_LOG] = {"lcsc-log", "an LCSC search log", sniff_lcsc_log, 0},
    [LP_OUT_DISTILL_LOG] = {"distill-log", "a leap distill log", sniff_distill_log, 0},
    [LP_OUT_DISBACK_PATH] = {"disback-path", "a DisBack path manifest leap wrote", sniff_disback_path, 0},
    [LP_OUT_VIDEO] = {"video", "a video leap wrote (comment leap.output=video)", sniff_video, 0},
    [LP_OUT_SAMPLES_INDEX] = {"samples-index", "a samples index leap wrote", sniff_samples_index, 0},
};

const char *lp_out_kind_name(lp_out_kind k) {
  return (unsigned)k < LP_OUT_KIND_COUNT ? kKinds[k].name : "file";
}

int lp_out_kind_needs_finite(lp_out_kind k) { return (unsigned)k < LP_OUT_KIND_COUNT && kKinds[k].finite; }

/* Enough of the head of a file for every sniffer: leap's writers put the
 * mark first (the safetensors marker leads __metadata__, the PNG tEXt
 * chunk follows IHDR, JSON starts with its format). */
enum { SNIFF_BYTES = 64 << 10 };

/* 1 recognised, 0 not, -1 out of memory. */
static int recognised(const char *path, lp_out_kind kind) {
  if (!kKinds[kind].sniff) return 1;
  int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  if (fd < 0) return 0;
  unsigned char *h = lp_malloc(SNIFF_BYTES);
  if (!h) {
    close(fd);
    return -1;
  }
  size_t len = 0;
  while (h && len < SNIFF_BYTES) {
    ssize_t k = read(fd, h + len, SNIFF_BYTES - len);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) break;
    len += (size_t)k;
  }
  close(fd);
  const int ok = kKinds[kind].sniff(h, len, kKinds[kind].name);
  free(h);
  return ok;
}

/* ------------------------------------------------------------ the rule */

static int same_id(const struct stat *a, const struct stat *b) {
  return a->st_dev == b->st_dev && a->st_ino == b->st_ino;
}

leap_status lp_out_check(const char *path, lp_out_kind kind, const char *const *inputs, int ninputs) {
  if (!path || !*path) return lp_error(LEAP_ERR_INVALID_ARG, "no output path");
  if ((unsigned)kind >= LP_OUT_KIND_COUNT) return lp_error(LEAP_ERR_INVALID_ARG, "%s: bad output kind", path);
  struct stat ls, st;
  if (lstat(path, &ls) != 0) {
    if (errno == ENOENT) return LEAP_OK; /* a new file; its folder is checked when it is created */
    return lp_error(LEAP_ERR_IO, "output %s: %s", path, strerror(errno));
  }
  if (stat(path, &st) != 0)
    return lp_error(LEAP_ERR_INVALID_ARG, "output %s is a symbolic link to nothing (%s); leap will not replace it",
                    path, strerror(errno));
  for (int i = 0; i < ninputs; i++) {
    struct stat is;
    if (inputs && inputs[i] && stat(inputs[i], &is) == 0 && same_id(&is, &st))
      return lp_error(LEAP_ERR_INVALID_ARG,
                      "output %s is the input %s (the same file); leap will not overwrite its input", path,
                      inputs[i]);
  }
  /* LEAP_ERR_IO with the readers' words (core/file_read.c) */
  if (S_ISDIR(st.st_mode)) return lp_error(LEAP_ERR_IO, "output %s is not a regular file: a folder", path);
  if (!S_ISREG(st.st_mode))
    return lp_error(LEAP_ERR_IO, "output %s is not a regular file: a FIFO, device or socket", path);
  const int known = recognised(path, kind);
  if (known < 0) return lp_error(LEAP_ERR_NOMEM, "output %s: out of memory", path);
  if (!known)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "output %s exists and is not %s; leap replaces only its own earlier output of the same "
                    "kind (remove the file or choose another name)",
                    path, kKinds[kind].what);
  return LEAP_OK;
}

/* The folder of a path, as stat-able text ("." for a bare name). */
static char *folder_of(const char *path) {
  const char *slash = strrchr(path, '/');
  if (!slash) return lp_strdup(".");
  if (slash == path) return lp_strdup("/");
  size_t n = (size_t)(slash - path);
  char *d = lp_malloc(n + 1);
  if (d) memcpy(d, path, n), d[n] = 0;
  return d;
}

static const char *base_of(const char *path) {
  const char *slash = strrchr(path, '/');
  return slash ? slash + 1 : path;
}

int lp_out_same_file(const char *a, const char *b) {
  if (!a || !b) return 0;
  struct stat sa, sb;
  const int ea = stat(a, &sa) == 0, eb = stat(b, &sb) == 0;
  if (ea && eb) return same_id(&sa, &sb);
  if (ea != eb) return 0;
  if (strcmp(base_of(a), base_of(b)) != 0) return 0;
  char *da = folder_of(a), *db = folder_of(b);
  const int same = da && db && stat(da, &sa) == 0 && stat(db, &sb) == 0 && same_id(&sa, &sb);
  free(da);
  free(db);
  return same;
}

/* ------------------------------------------------------------ the signal table */

enum { SLOTS = 64, SLOT_PATH = 4096 };
enum { SLOT_FREE = 0, SLOT_BUSY, SLOT_FILE, SLOT_DIR };

static struct {
  atomic_int state;
  char path[SLOT_PATH];
} g_slots[SLOTS];

static volatile sig_atomic_t g_stop;
/* lp_out_keep_on_stop: a stop request lets outputs land (set from the main thread) */
static int g_keep_on_stop;

/* Returns the slot index, or -1 when the table is full or the path too long. */
static int slot_add(const char *path, int type) {
  const size_t n = strlen(path);
  if (n >= SLOT_PATH) return -1;
  for (int i = 0; i < SLOTS; i++) {
    int expect = SLOT_FREE;
    if (atomic_compare_exchange_strong(&g_slots[i].state, &expect, SLOT_BUSY)) {
      memcpy(g_slots[i].path, path, n + 1);
      atomic_store(&g_slots[i].state, type); /* visible to the handler only now */
      return i;
    }
  }
  return -1;
}

static void slot_drop(int i) {
  if (i >= 0) atomic_store(&g_slots[i].state, SLOT_FREE);
}

/* Async-signal-safe: unlink and rmdir only. Files first, then folders,
 * twice (a folder leap made to hold a work folder empties in the first). */
static void remove_registered(void) {
  for (int i = 0; i < SLOTS; i++)
    if (atomic_load(&g_slots[i].state) == SLOT_FILE) unlink(g_slots[i].path);
  for (int pass = 0; pass < 2; pass++)
    for (int i = 0; i < SLOTS; i++)
      if (atomic_load(&g_slots[i].state) == SLOT_DIR) rmdir(g_slots[i].path);
}

static void on_signal(int sig) {
  if (g_stop) { /* the second: stop now, leaving nothing behind */
    const int e = errno;
    remove_registered();
    signal(sig, SIG_DFL);
    raise(sig);
    errno = e;
    return;
  }
  g_stop = sig;
}

void lp_out_signals_install(void) {
  struct sigaction sa;
  memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_signal;
  sa.sa_flags = SA_RESTART;
  sigemptyset(&sa.sa_mask);
  sigaddset(&sa.sa_mask, SIGINT);
  sigaddset(&sa.sa_mask, SIGTERM);
  sigaction(SIGINT, &sa, NULL);
  sigaction(SIGTERM, &sa, NULL);
}

int lp_out_stop_requested(void) { return g_stop != 0; }
void lp_out_keep_on_stop(int on) { g_keep_on_stop = on != 0; }

/* ------------------------------------------------------------ one output */

struct lp_out {
  char *path, *tmp;
  lp_out_kind kind;
  char **inputs;
  int ninputs;
  int fd, slot;
};

static atomic_uint g_counter; /* temporaries of one process */

void lp_out_abort(lp_out *o) {
  if (!o) return;
  if (o->fd >= 0) close(o->fd);
  if (o->tmp && o->slot != -2) unlink(o->tmp);
  slot_drop(o->slot);
  for (int i = 0; i < o->ninputs; i++) free(o->inputs[i]);
  free(o->inputs);
  free(o->tmp);
  free(o->path);
  free(o);
}

leap_status lp_out_begin(const char *path, lp_out_kind kind, const char *const *inputs, int ninputs,
                         lp_out **out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_out_begin: out is NULL");
  *out = NULL;
  if (ninputs < 0 || (ninputs && !inputs)) return lp_error(LEAP_ERR_INVALID_ARG, "lp_out_begin: bad inputs");
  leap_status s = lp_out_check(path, kind, inputs, ninputs);
  if (s != LEAP_OK) return s;
  if (lp_out_stop_requested() && !g_keep_on_stop)
    return lp_error(LEAP_ERR_INTERRUPTED, "%s: interrupted; nothing written", path);
  lp_out *o = lp_calloc(1, sizeof *o);
  if (!o) return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  o->fd = -1;
  o->slot = -2; /* -2: no temporary yet */
  o->kind = kind;
  o->path = lp_strdup(path);
  o->inputs = lp_calloc((size_t)ninputs + 1, sizeof *o->inputs);
  char *dir = folder_of(path);
  const size_t tl = strlen(path) + 64;
  o->tmp = lp_malloc(tl);
  int oom = !o->path || !o->inputs || !dir || !o->tmp;
  for (int i = 0; !oom && i < ninputs; i++)
    if (inputs[i] && !(o->inputs[o->ninputs++] = lp_strdup(inputs[i]))) oom = 1;
  if (oom) {
    free(dir);
    lp_out_abort(o);
    return lp_error(LEAP_ERR_NOMEM, "%s: out of memory", path);
  }
  /* <folder>/.<name>.leap-tmp-<pid>-<n>: in the target's folder, so the
   * rename never crosses filesystems; O_EXCL never opens an existing file. */
  int e = 0;
  for (int tries = 0; tries < 100; tries++) {
    snprintf(o->tmp, tl, "%s/.%s.leap-tmp-%ld-%u", dir, base_of(path), (long)getpid(),
             atomic_fetch_add(&g_counter, 1u));
    o->fd = open(o->tmp, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (o->fd >= 0 || (e = errno) != EEXIST) break;
  }
  free(dir);
  if (o->fd < 0) {
    s = lp_error(LEAP_ERR_IO, "cannot create a temporary file for %s: %s", path, strerror(e));
    lp_out_abort(o);
    return s;
  }
  o->slot = slot_add(o->tmp, SLOT_FILE);
  if (o->slot < 0) {
    lp_out_abort(o);
    return lp_error(LEAP_ERR_IO, "%s: too many files open for writing at once (or the path is too long)", path);
  }
  *out = o;
  return LEAP_OK;
}

int lp_out_fd(const lp_out *o) { return o ? o->fd : -1; }
const char *lp_out_temp(const lp_out *o) { return o ? o->tmp : ""; }
const char *lp_out_path(const lp_out *o) { return o ? o->path : ""; }

/* Everything before the rename: data durable, file closed, target allowed. */
static leap_status prepare(lp_out *o) {
  if (o->fd >= 0) {
    int bad = fsync(o->fd) != 0;
    int e = errno;
    if (close(o->fd) != 0 && !bad) bad = 1, e = errno;
    o->fd = -1;
    if (bad) return lp_error(LEAP_ERR_IO, "cannot write %s (for %s): %s", o->tmp, o->path, strerror(e));
  }
  if (lp_out_stop_requested() && !g_keep_on_stop)
    return lp_error(LEAP_ERR_INTERRUPTED, "%s: interrupted; nothing written", o->path);
  return lp_out_check(o->path, o->kind, (const char *const *)o->inputs, o->ninputs);
}

static leap_status land(lp_out *o) {
  if (rename(o->tmp, o->path) != 0)
    return lp_error(LEAP_ERR_IO, "cannot rename %s onto %s: %s", o->tmp, o->path, strerror(errno));
  slot_drop(o->slot);
  o->slot = -2; /* renamed: nothing to remove */
  lp_sync_folder(o->path);
  return LEAP_OK;
}

leap_status lp_out_commit(lp_out *o) { return lp_out_commit_all(&o, 1); }

leap_status lp_out_commit_all(lp_out **outs, int count) {
  leap_status s = LEAP_OK;
  if (count < 0 || (count && !outs)) s = lp_error(LEAP_ERR_INVALID_ARG, "lp_out_commit_all: bad list");
  for (int i = 0; s == LEAP_OK && i < count; i++)
    if (!outs[i]) s = lp_error(LEAP_ERR_INVALID_ARG, "lp_out_commit_all: output %d is NULL", i);
  for (int i = 0; s == LEAP_OK && i < count; i++) s = prepare(outs[i]);
  for (int i = 0; s == LEAP_OK && i < count; i++) s = land(outs[i]);
  for (int i = 0; outs && i < count; i++) lp_out_abort(outs[i]);
  return s;
}

/* ------------------------------------------------------------ work folders */

enum { WORK_FILES = 8 };

struct lp_out_workdir {
  char *path;
  int slot;
  char *made_parent; /* the parent, when leap created it (removed if left empty) */
  int parent_slot;
  int files[WORK_FILES]; /* slots of the files named in it */
  int nfiles;
};

leap_status lp_out_workdir_create(const char *parent, const char *prefix, lp_out_workdir **out) {
  if (!out || !prefix || strchr(prefix, '/'))
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_out_workdir_create: bad argument");
  *out = NULL;
  if (!parent || !*parent) parent = ".";
  struct stat st;
  int made = 0;
  if (stat(parent, &st) != 0) {
    /* a new folder: leap makes it, and removes it again when it is empty */
    if (errno != ENOENT || mkdir(parent, 0777) != 0 || stat(parent, &st) != 0)
      return lp_error(LEAP_ERR_IO, "work folder %s: %s", parent, strerror(errno));
    made = 1;
  }
  if (!S_ISDIR(st.st_mode))
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "work folder %s is not a folder (leap makes its own scratch folder inside it and never "
                    "deletes files it did not create)",
                    parent);
  lp_out_workdir *w = lp_calloc(1, sizeof *w);
  const size_t n = strlen(parent) + strlen(prefix) + 32;
  char *p = lp_malloc(n);
  if (w) w->slot = w->parent_slot = -1;
  if (w && made && (w->made_parent = lp_strdup(parent))) w->parent_slot = slot_add(parent, SLOT_DIR);
  if (!w || !p || (made && (!w->made_parent || w->parent_slot < 0))) {
    if (made) rmdir(parent);
    if (w) slot_drop(w->parent_slot), free(w->made_parent);
    free(w);
    free(p);
    return lp_error(LEAP_ERR_NOMEM, "out of memory");
  }
  snprintf(p, n, "%s/.leap-work-%s-XXXXXX", parent, prefix);
  if (!mkdtemp(p)) {
    leap_status s = lp_error(LEAP_ERR_IO, "cannot create a work folder in %s: %s", parent, strerror(errno));
    free(p);
    lp_out_workdir_remove(w);
    return s;
  }
  w->path = p;
  w->slot = slot_add(p, SLOT_DIR);
  if (w->slot < 0) {
    lp_out_workdir_remove(w);
    return lp_error(LEAP_ERR_IO, "work folder in %s: too many temporaries at once", parent);
  }
  *out = w;
  return LEAP_OK;
}

const char *lp_out_workdir_path(const lp_out_workdir *w) { return w ? w->path : ""; }

const char *lp_out_workdir_file(lp_out_workdir *w, const char *name, char *buf, size_t len) {
  if (!w || !name || strchr(name, '/') || w->nfiles == WORK_FILES) return NULL;
  const int k = snprintf(buf, len, "%s/%s", w->path, name);
  if (k < 0 || (size_t)k >= len) return NULL;
  const int slot = slot_add(buf, SLOT_FILE);
  if (slot < 0) return NULL;
  w->files[w->nfiles++] = slot;
  return buf;
}

void lp_out_workdir_remove(lp_out_workdir *w) {
  if (!w) return;
  for (int i = 0; i < w->nfiles; i++) {
    unlink(g_slots[w->files[i]].path);
    slot_drop(w->files[i]);
  }
  if (w->path) rmdir(w->path);
  slot_drop(w->slot);
  if (w->made_parent) rmdir(w->made_parent); /* only if empty: nothing but leap's */
  slot_drop(w->parent_slot);
  free(w->made_parent);
  free(w->path);
  free(w);
}

leap_status lp_out_write_bytes(const char *path, lp_out_kind kind, const char *const *inputs, int ninputs,
                               const void *data, size_t len, const char *what) {
  lp_out *o = NULL;
  leap_status s = lp_out_begin(path, kind, inputs, ninputs, &o);
  if (s != LEAP_OK) return s;
  if (!lp_write_all(lp_out_fd(o), data, len)) {
    s = lp_error(LEAP_ERR_IO, "%s: writing the %s failed: %s", path, what, strerror(errno));
    lp_out_abort(o);
    return s;
  }
  return lp_out_commit(o);
}
