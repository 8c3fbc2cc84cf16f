/* error.c - leap_last_error() and friends. */
#include "error.h"

#include <stdarg.h>
#include <stdio.h>

static _Thread_local char g_last_error[1024];

leap_status lp_error(leap_status s, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(g_last_error, sizeof g_last_error, fmt, ap);
  va_end(ap);
  return s;
}

void lp_error_clear(void) { g_last_error[0] = 0; }

const char *leap_last_error(void) { return g_last_error; }

uint32_t leap_api_version(void) { return LEAP_API_VERSION; }

const char *leap_status_string(leap_status s) {
  switch (s) {
  case LEAP_OK: return "ok";
  case LEAP_ERR_INVALID_ARG: return "invalid argument";
  case LEAP_ERR_IO: return "i/o error";
  case LEAP_ERR_FORMAT: return "bad file format";
  case LEAP_ERR_NO_DEVICE: return "no Vulkan device";
  case LEAP_ERR_VULKAN: return "Vulkan error";
  case LEAP_ERR_NOMEM: return "out of memory";
  case LEAP_ERR_UNSUPPORTED: return "unsupported";
  case LEAP_ERR_NUMERIC: return "non-finite value";
  case LEAP_ERR_INTERRUPTED: return "interrupted";
  }
  return "unknown status";
}
