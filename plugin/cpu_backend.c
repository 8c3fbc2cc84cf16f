/* cpu_backend.c - buffers in host memory and a program interpreter. */
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "backend.h"
#include "alloc.h"
#include "error.h"

struct lp_buf {
  lp_buf_head head; /* first: see backend.h */
  void *data;
  size_t bytes;
  int owned;
};

typedef struct cpu_backend {
  lp_backend base;
  int threads;
  lp_cpu_op_fn run_op; /* lp_cpu_pick_ops() at creation */
} cpu_backend;

void *lp_cpu_buf_data(lp_buf *b) { return b->data; }

static leap_status cpu_alloc(lp_backend *be, size_t bytes, lp_buf **out) {
  (void)be;
  lp_buf *b = lp_calloc(1, sizeof *b);
  /* 64-byte alignment for vector loads; never zero bytes. */
  size_t rounded = (bytes + 63) & ~(size_t)63;
  if (b) b->data = lp_aligned_alloc(64, rounded ? rounded : 64);
  if (!b || !b->data) {
    free(b);
    return lp_error(LEAP_ERR_NOMEM, "cpu backend: out of memory (%zu bytes)", bytes);
  }
  memset(b->data, 0, rounded ? rounded : 64);
  b->head.serial = lp_buf_new_serial();
  b->bytes = bytes;
  b->owned = 1;
  *out = b;
  return LEAP_OK;
}

leap_status lp_cpu_buf_wrap(lp_backend *be, void *data, size_t bytes, lp_buf **out) {
  (void)be;
  lp_buf *b = lp_calloc(1, sizeof *b);
  if (!b) return lp_error(LEAP_ERR_NOMEM, "cpu backend: out of memory");
  b->head.serial = lp_buf_new_serial();
  b->data = data;
  b->bytes = bytes;
  *out = b;
  return LEAP_OK;
}

static void cpu_free(lp_backend *be, lp_buf *b) {
  (void)be;
  if (!b) return;
  if (b->owned) free(b->data);
  free(b);
}

static leap_status cpu_write(lp_backend *be, lp_buf *b, size_t off, const void *src,
                             size_t bytes) {
  (void)be;
  if (off + bytes > b->bytes || off + bytes < off)
    return lp_error(LEAP_ERR_INVALID_ARG, "buffer write of %zu bytes at %zu past its end (%zu)",
                    bytes, off, b->bytes);
  memcpy((char *)b->data + off, src, bytes);
  return LEAP_OK;
}

static leap_status cpu_read(lp_backend *be, lp_buf *b, size_t off, void *dst, size_t bytes) {
  (void)be;
  if (off + bytes > b->bytes || off + bytes < off)
    return lp_error(LEAP_ERR_INVALID_ARG, "buffer read of %zu bytes at %zu past its end (%zu)",
                    bytes, off, b->bytes);
  memcpy(dst, (const char *)b->data + off, bytes);
  return LEAP_OK;
}

static leap_status cpu_run(lp_backend *be, lp_prog *prog) {
  cpu_backend *cb = (cpu_backend *)be;
  int saved = 0;
  if (cb->threads > 0) {
    saved = omp_get_max_threads();
    omp_set_num_threads(cb->threads);
  }
  leap_status s = LEAP_OK;
  for (int k = 0; s == LEAP_OK && k < prog->n; k++) s = cb->run_op(&prog->ops[k]);
  if (cb->threads > 0) omp_set_num_threads(saved);
  return s;
}

static void cpu_release(lp_backend *be, lp_prog *prog) {
  (void)be;
  prog->exec = NULL;
}

static void cpu_destroy(lp_backend *be) { free(be); }

static const lp_backend_vt cpu_vt = {
    "cpu", cpu_alloc, cpu_free, cpu_write, cpu_read, cpu_run, cpu_release, cpu_destroy,
};

leap_status lp_cpu_backend_create(int threads, lp_backend **out) {
  cpu_backend *cb = lp_calloc(1, sizeof *cb);
  if (!cb) return lp_error(LEAP_ERR_NOMEM, "cpu backend: out of memory");
  cb->base.vt = &cpu_vt;
  cb->threads = threads;
  cb->run_op = lp_cpu_pick_ops();
  *out = &cb->base;
  return LEAP_OK;
}

leap_status lp_prog_push(lp_prog *p, const lp_op *op) {
  if (p->n == p->cap) {
    int cap = p->cap ? p->cap * 2 : 64;
    lp_op *ops = lp_realloc(p->ops, (size_t)cap * sizeof *ops);
    if (!ops) return lp_error(LEAP_ERR_NOMEM, "program: out of memory");
    p->ops = ops;
    p->cap = cap;
  }
  p->ops[p->n++] = *op;
  return LEAP_OK;
}

void lp_prog_free(lp_backend *be, lp_prog *p) {
  if (p->exec && be) be->vt->prog_release(be, p);
  free(p->ops);
  memset(p, 0, sizeof *p);
}
