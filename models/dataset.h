/* dataset.h - image classification data sets held in memory: Fashion-MNIST
 * (Debian's dataset-fashion-mnist, IDX files read with zlib) or a folder of
 * PNG/JPEG images with one subfolder per label. Used by the classifier
 * trainer, the FD metric and the DiT trainer. Internal API. */
#ifndef LP_DATASET_H
#define LP_DATASET_H

#include <stdint.h>

#include "leap.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lp_dataset {
  int n, channels, height, width, num_classes;
  float *images;   /* [n, c, h, w] in [-1, 1] */
  int32_t *labels; /* [n] in 0..num_classes-1 */
} lp_dataset;

/* Frees the arrays and zeroes *d (safe on a zeroed or freed dataset). */
void lp_dataset_free(lp_dataset *d);

/* spec: "fashion-mnist" (train split) / "fashion-mnist:test", or a folder of
 * PNG/JPEG images with one subfolder per label (sorted subfolder names ->
 * labels 0..K-1; all images the same size and channel count, else a clear
 * error). Fashion-MNIST is read from $LEAP_FMNIST_DIR, else
 * /usr/share/datasets/fashion-mnist. On failure *out is zeroed. */
leap_status lp_dataset_load(const char *spec, lp_dataset *out);

/* The two loaders behind lp_dataset_load. test: 0 = train, 1 = t10k. */
leap_status lp_dataset_load_fmnist(const char *dir, int test, lp_dataset *out);
leap_status lp_dataset_load_folder(const char *dir, lp_dataset *out);
/* Fashion-MNIST's pair of gzip'ed IDX files (labels, then the 28x28 images
 * they label); expect_n < 0 takes any count up to 10 million. */
leap_status lp_dataset_load_idx(const char *labels_path, const char *images_path, int expect_n,
                                lp_dataset *out);

#ifdef __cplusplus
}
#endif

#endif
