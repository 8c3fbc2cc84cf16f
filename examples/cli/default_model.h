/* default_model.h - where the files leap ships are found: the default model
 * (for commands run without --model), the default video model and the
 * classifier behind FD. Each is looked up as $ENV_VAR, then in the source
 * tree, then in the installed data folder (share/leap). */
#ifndef LEAP_CLI_DEFAULT_MODEL_H
#define LEAP_CLI_DEFAULT_MODEL_H

#include <stddef.h>

#include "leap.h"

#define LEAP_DEFAULT_MODEL_FILE "leap-fmnist.safetensors"
#define LEAP_CLASSIFIER_FILE "fmnist-classifier.safetensors"
/* The video model `leap video` uses without --model (moving Fashion-MNIST). */
#define LEAP_DEFAULT_VIDEO_MODEL_FILE "leap-mfmnist-video.safetensors"

/* The first candidate that exists, copied into path. LEAP_ERR_IO (and a
 * message listing every place tried) when none does. */
leap_status cli_default_model(char *path, size_t size);
leap_status cli_default_classifier(char *path, size_t size);
leap_status cli_default_video_model(char *path, size_t size);

#endif
