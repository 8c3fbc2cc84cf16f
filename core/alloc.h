/* alloc.h - every allocation leap makes goes through these, so that tests
 * can fail the Nth one (as SQLite's tests do) and check that each caller
 * returns a clear error, leaks nothing and leaves no partial file.
 * Memory from lp_malloc / lp_calloc / lp_realloc / lp_strdup is released
 * with free(). */
#ifndef LEAP_CORE_ALLOC_H
#define LEAP_CORE_ALLOC_H

#include <stddef.h>

void *lp_malloc(size_t n);
void *lp_calloc(size_t count, size_t size);
void *lp_realloc(void *p, size_t n);
void *lp_aligned_alloc(size_t align, size_t n);
char *lp_strdup(const char *s);

/* Fault injection: the nth allocation from now (1 = the next) fails; with
 * persistent set, every one after it fails too. n = 0 switches it off.
 * LEAP_FAIL_ALLOC=N (or N+ for persistent) in the environment sets the same
 * at the first allocation of the process. LEAP_ALLOC_REPORT=1 prints
 * "leap: allocations: N" on stderr at exit, N being lp_alloc_count(). */
void lp_alloc_fail_at(long n, int persistent);
/* Allocations made since the process started (or the counter was reset by
 * lp_alloc_fail_at): a sweep runs a job once to learn how many there are. */
long lp_alloc_count(void);
/* Non-zero once an injected failure has been returned. */
int lp_alloc_failed(void);

#endif
