/* default_model.h - where the shipped default model is found, for commands
 * run without --model: $LEAP_DEFAULT_MODEL, then the source tree's
 * models/default/, then the installed data folder (share/leap). */
#ifndef LEAP_CLI_DEFAULT_MODEL_H
#define LEAP_CLI_DEFAULT_MODEL_H

#include "leap.h"

#define LEAP_DEFAULT_MODEL_FILE "leap-fmnist.safetensors"

/* The first candidate that exists, copied into path. LEAP_ERR_IO (and a
 * message listing every place tried) when none does. */
leap_status cli_default_model(char *path, size_t size);

#endif
