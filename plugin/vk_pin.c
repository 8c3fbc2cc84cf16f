/* vk_pin.c - keep the libraries a Vulkan instance loaded (the driver, its
 * helpers, layers) loaded after the instance is destroyed.
 *
 * Why: the loader dlopens the ICD at vkCreateInstance and dlcloses it at
 * vkDestroyInstance. NVIDIA's driver pulls in libnvidia-tls, which uses
 * static TLS; glibc never returns static TLS surplus on dlclose, so every
 * create/destroy cycle leaks some of it, and after a few dozen contexts in
 * one process the driver no longer loads ("cannot allocate memory in static
 * TLS block", then "Found no drivers"). Seen on an H200 running the test
 * suite. Marking the libraries the instance brought in RTLD_NODELETE keeps
 * them (and their TLS) for the life of the process, as a host that keeps
 * one instance would. Libraries loaded before the instance are left alone,
 * so a host can still unload its own plugins (and leap itself). */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <link.h>
#include <stdlib.h>
#include <string.h>

#include "vk_internal.h"
#include "alloc.h"

typedef struct names {
  char **v;
  size_t n, cap;
  int failed;
} names;

static int collect(struct dl_phdr_info *info, size_t size, void *user) {
  (void)size;
  names *l = user;
  if (!info->dlpi_name || !info->dlpi_name[0]) return 0; /* the main program, the vDSO */
  if (l->n == l->cap) {
    const size_t cap = l->cap ? 2 * l->cap : 64;
    char **v = lp_realloc(l->v, cap * sizeof *v);
    if (!v) return l->failed = 1;
    l->v = v, l->cap = cap;
  }
  if (!(l->v[l->n] = lp_strdup(info->dlpi_name))) return l->failed = 1;
  l->n++;
  return 0;
}

static void names_free(names *l) {
  for (size_t i = 0; i < l->n; i++) free(l->v[i]);
  free(l->v);
  memset(l, 0, sizeof *l);
}

void *lp_vk_pin_begin(void) {
  names *l = lp_calloc(1, sizeof *l);
  if (!l) return NULL;
  dl_iterate_phdr(collect, l);
  if (l->failed) {
    names_free(l);
    free(l);
    return NULL;
  }
  return l;
}

void lp_vk_pin_end(void *before, int pin) {
  names *b = before;
  if (!b) return;
  if (pin) {
    names now = {0};
    dl_iterate_phdr(collect, &now);
    for (size_t i = 0; i < now.n; i++) {
      int seen = 0;
      for (size_t j = 0; j < b->n && !seen; j++) seen = !strcmp(now.v[i], b->v[j]);
      if (seen) continue;
      /* NOLOAD: only takes a reference to what is already loaded. */
      void *h = dlopen(now.v[i], RTLD_NOW | RTLD_NOLOAD | RTLD_NODELETE);
      if (h) dlclose(h); /* NODELETE outlives the handle */
    }
    names_free(&now);
  }
  names_free(b);
  free(b);
}
