/* default_model.c - the default model lookup; see default_model.h. */
#define _POSIX_C_SOURCE 200809L
#include "default_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "error.h"

#ifndef LEAP_SOURCE_DIR
#define LEAP_SOURCE_DIR "."
#endif
#ifndef LEAP_DATA_INSTALL_DIR
#define LEAP_DATA_INSTALL_DIR "/usr/local/share/leap"
#endif

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

leap_status cli_default_model(char *path, size_t size) {
  const char *env = getenv("LEAP_DEFAULT_MODEL");
  const char *candidates[3] = {
      env && env[0] ? env : NULL,
      LEAP_SOURCE_DIR "/models/default/" LEAP_DEFAULT_MODEL_FILE,
      LEAP_DATA_INSTALL_DIR "/" LEAP_DEFAULT_MODEL_FILE,
  };
  for (int i = 0; i < 3; i++) {
    if (!candidates[i] || !is_file(candidates[i])) continue;
    if (strlen(candidates[i]) >= size)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: path too long", candidates[i]);
    strcpy(path, candidates[i]);
    return LEAP_OK;
  }
  return lp_error(LEAP_ERR_IO,
                  "no default model found (tried $LEAP_DEFAULT_MODEL=%s, %s, "
                  "%s); pass --model PATH",
                  env && env[0] ? env : "(unset)", candidates[1],
                  candidates[2]);
}
