/* default_model.c - the shipped-file lookup; see default_model.h. */
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

/* $env_var, else LEAP_SOURCE_DIR/source_rel, else LEAP_DATA_INSTALL_DIR/file. */
static leap_status find_shipped(const char *env_var, const char *source_rel, const char *file,
                                const char *what, const char *hint, char *path, size_t size) {
  const char *env = getenv(env_var);
  char in_source[4096], installed[4096];
  snprintf(in_source, sizeof in_source, "%s/%s", LEAP_SOURCE_DIR, source_rel);
  snprintf(installed, sizeof installed, "%s/%s", LEAP_DATA_INSTALL_DIR, file);
  const char *candidates[3] = {env && env[0] ? env : NULL, in_source, installed};
  for (int i = 0; i < 3; i++) {
    if (!candidates[i] || !is_file(candidates[i])) continue;
    if (strlen(candidates[i]) >= size)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: path too long", candidates[i]);
    strcpy(path, candidates[i]);
    return LEAP_OK;
  }
  return lp_error(LEAP_ERR_IO, "no %s found (tried $%s=%s, %s, %s); %s", what, env_var,
                  env && env[0] ? env : "(unset)", in_source, installed, hint);
}

leap_status cli_default_model(char *path, size_t size) {
  return find_shipped("LEAP_DEFAULT_MODEL", "models/default/" LEAP_DEFAULT_MODEL_FILE,
                      LEAP_DEFAULT_MODEL_FILE, "default model", "pass --model PATH", path, size);
}

leap_status cli_default_classifier(char *path, size_t size) {
  return find_shipped("LEAP_CLASSIFIER", "models/classifier/" LEAP_CLASSIFIER_FILE,
                      LEAP_CLASSIFIER_FILE, "classifier",
                      "pass --classifier PATH or make one with 'leap train-classifier'", path,
                      size);
}
