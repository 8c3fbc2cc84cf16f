/* video_meta.h - the settings `leap video --raw-out` writes next to the
 * clips (safetensors __metadata__): every sampling setting, what was done
 * (frames finished, whether the run was stopped), the model's geometry
 * (canvas height and width, frames per chunk, its clip length and, when
 * its metadata says, the garment size) and the device. */
#ifndef LEAP_CLI_VIDEO_META_H
#define LEAP_CLI_VIDEO_META_H

#include <stddef.h>

#include "leap.h"

enum { VIDEO_META_MAX = 40 };

typedef struct video_meta {
  const char *pairs[2 * VIDEO_META_MAX]; /* key, value, key, value, ... */
  int count;                             /* pairs */
  char text[4096];                       /* the formatted values */
  size_t used;
  char *labels;                          /* malloc'ed */
} video_meta;

/* Fills m for a run of d on the model at model_path (family and kv: the
 * option names) that finished done frames of each clip. */
leap_status video_meta_build(video_meta *m, const leap_video_desc *d, const leap_model_info *info,
                             const char *model_path, const char *device, const char *family, const char *kv,
                             int done);
void video_meta_free(video_meta *m);

#endif
