/* alloc.c - the allocation wrappers and their failure switch. */
#include "alloc.h"

#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_long count;    /* allocations since the last reset */
static atomic_long fail_at;  /* 0: off */
static atomic_int persistent;
static atomic_int failed;
static atomic_int env_read;

/* LEAP_ALLOC_REPORT=1: how a sweep learns the number of failure points of a
 * run (tests/fault/alloc_sweep.sh). */
static void report_count(void) {
  fprintf(stderr, "leap: allocations: %ld\n", atomic_load(&count));
}

static void read_env(void) {
  if (atomic_exchange(&env_read, 1)) return;
  const char *r = getenv("LEAP_ALLOC_REPORT");
  if (r && strcmp(r, "1") == 0) atexit(report_count);
  const char *s = getenv("LEAP_FAIL_ALLOC");
  if (!s || !*s) return;
  char *end = NULL;
  long n = strtol(s, &end, 10);
  if (n <= 0) return;
  atomic_store(&persistent, end && *end == '+');
  atomic_store(&fail_at, n);
}

/* Non-zero when this allocation is to fail. */
static int should_fail(void) {
  if (!atomic_load_explicit(&env_read, memory_order_relaxed)) read_env();
  long k = atomic_fetch_add(&count, 1) + 1;
  long at = atomic_load(&fail_at);
  if (at <= 0) return 0;
  if (k == at || (k > at && atomic_load(&persistent))) {
    atomic_store(&failed, 1);
    return 1;
  }
  return 0;
}

void *lp_malloc(size_t n) { return should_fail() ? NULL : malloc(n); }

void *lp_calloc(size_t count_, size_t size) {
  return should_fail() ? NULL : calloc(count_, size);
}

void *lp_realloc(void *p, size_t n) { return should_fail() ? NULL : realloc(p, n); }

void *lp_aligned_alloc(size_t align, size_t n) {
  return should_fail() ? NULL : aligned_alloc(align, n);
}

char *lp_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *d = lp_malloc(n);
  if (d) memcpy(d, s, n);
  return d;
}

void lp_alloc_fail_at(long n, int persist) {
  atomic_store(&env_read, 1);
  atomic_store(&count, 0);
  atomic_store(&failed, 0);
  atomic_store(&persistent, persist != 0);
  atomic_store(&fail_at, n > 0 ? n : 0);
}

long lp_alloc_count(void) { return atomic_load(&count); }

int lp_alloc_failed(void) { return atomic_load(&failed); }
