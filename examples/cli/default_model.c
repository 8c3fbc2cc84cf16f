/* default_model.c - the shipped-file lookup; see default_model.h. */
#define _POSIX_C_SOURCE 200809L
#include "default_model.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "error.h"

#ifndef LEAP_SOURCE_DIR
#define LEAP_SOURCE_DIR "."
#endif
#ifndef LEAP_DATA_FROM_BIN
#define LEAP_DATA_FROM_BIN "../share/leap"
#endif
#ifndef LEAP_DATA_INSTALL_DIR
#define LEAP_DATA_INSTALL_DIR "/usr/local/share/leap"
#endif

static int is_file(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* DIR_OF_EXE/LEAP_DATA_FROM_BIN/file into out ("" when /proc/self/exe cannot be read). */
static void beside_exe(const char *file, char *out, size_t size) {
  char exe[4096];
  out[0] = 0;
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  exe[n] = 0;
  char *slash = strrchr(exe, '/');
  if (!slash) return;
  *slash = 0;
  snprintf(out, size, "%s/%s/%s", exe, LEAP_DATA_FROM_BIN, file);
}

/* $env_var, else LEAP_SOURCE_DIR/source_rel, else beside the executable
 * (BINDIR/../share/leap/file, wherever the install was moved), else
 * LEAP_DATA_INSTALL_DIR/file. */
static leap_status find_shipped(const char *env_var, const char *source_rel, const char *file,
                                const char *what, const char *hint, char *path, size_t size) {
  const char *env = getenv(env_var);
  char in_source[4096], relocated[8192], installed[4096];
  snprintf(in_source, sizeof in_source, "%s/%s", LEAP_SOURCE_DIR, source_rel);
  beside_exe(file, relocated, sizeof relocated);
  snprintf(installed, sizeof installed, "%s/%s", LEAP_DATA_INSTALL_DIR, file);
  const char *candidates[4] = {env && env[0] ? env : NULL, in_source, relocated[0] ? relocated : NULL, installed};
  for (int i = 0; i < 4; i++) {
    if (!candidates[i] || !is_file(candidates[i])) continue;
    if (strlen(candidates[i]) >= size)
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: path too long", candidates[i]);
    strcpy(path, candidates[i]);
    return LEAP_OK;
  }
  return lp_error(LEAP_ERR_IO, "no %s found (tried $%s=%s, %s, %s%s%s); %s", what, env_var,
                  env && env[0] ? env : "(unset)", in_source, relocated, relocated[0] ? ", " : "", installed, hint);
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

leap_status cli_default_video_model(char *path, size_t size) {
  return find_shipped("LEAP_DEFAULT_VIDEO_MODEL", "models/default/" LEAP_DEFAULT_VIDEO_MODEL_FILE,
                      LEAP_DEFAULT_VIDEO_MODEL_FILE, "default video model", "pass --model PATH", path, size);
}
