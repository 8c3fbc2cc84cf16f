/* struct_size.c - see struct_size.h. */
#include <stdint.h>
#include <string.h>

#include "struct_size.h"
#include "error.h"

static leap_status caller_size(const void *s, const char *what, uint32_t *out) {
  memcpy(out, s, sizeof *out);
  if (*out < sizeof(uint32_t))
    return lp_error(LEAP_ERR_INVALID_ARG, "%s: struct_size is %u; set it to the struct's sizeof", what, *out);
  return LEAP_OK;
}

leap_status lp_struct_check(const void *s, const char *what) {
  uint32_t have;
  return caller_size(s, what, &have);
}

leap_status lp_struct_in(void *dst, size_t size, const void *src, const char *what) {
  uint32_t have;
  leap_status s = caller_size(src, what, &have);
  if (s != LEAP_OK) return s;
  memcpy(dst, src, have < size ? have : size);
  const uint32_t ours = (uint32_t)size;
  memcpy(dst, &ours, sizeof ours);
  return LEAP_OK;
}

leap_status lp_struct_out(void *dst, const void *src, size_t size, const char *what) {
  uint32_t have;
  leap_status s = caller_size(dst, what, &have);
  if (s != LEAP_OK) return s;
  memcpy((char *)dst + sizeof have, (const char *)src + sizeof have,
         (have < size ? have : size) - sizeof have);
  return LEAP_OK;
}
