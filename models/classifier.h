/* classifier.h - a small CNN image classifier trained by leap itself, for
 * the sample-quality metric (fd_metric.h): its penultimate activation is the
 * feature space of the Frechet distance, its logits give the conditional
 * accuracy of class-conditional samples.
 *
 *   x [c,h,w] -> conv3x3(conv1) ReLU -> maxpool2 -> conv3x3(conv2) ReLU ->
 *   maxpool2 -> fc(hidden) ReLU = features -> fc(classes) = logits
 *
 * Convolutions are 'same' (zero padding 1); h and w must be multiples of 4.
 * Activations are NHWC inside, so each convolution is im2col + one SGEMM.
 * Pixels are in [-1, 1] as everywhere in leap. Internal API. */
#ifndef LP_CLASSIFIER_H
#define LP_CLASSIFIER_H

#include <stddef.h>
#include <stdint.h>

#include "dataset.h"
#include "leap.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct lp_classifier_arch {
  int channels, height, width, num_classes;
  int conv1, conv2, hidden; /* widths; hidden = the feature dimension */
} lp_classifier_arch;

/* The architecture of the shipped Fashion-MNIST classifier. */
lp_classifier_arch lp_classifier_arch_fmnist(void);

typedef struct lp_classifier {
  lp_classifier_arch arch;
  size_t num_params;
  float *params; /* all weights, one block: w1 b1 w2 b2 w3 b3 w4 b4 */
  /* Views into params. w1 [conv1, 9*channels] (columns ky,kx,c), w2
   * [conv2, 9*conv1], w3 [hidden, (h/4)*(w/4)*conv2] (columns y,x,c),
   * w4 [classes, hidden]; b* the biases. */
  float *w1, *b1, *w2, *b2, *w3, *b3, *w4, *b4;
} lp_classifier;

/* He-normal weights, zero biases, from seed. */
leap_status lp_classifier_create(const lp_classifier_arch *arch, uint64_t seed,
                                 lp_classifier **out);
void lp_classifier_destroy(lp_classifier *c);

/* Loads / writes (atomically) a .safetensors file: tensors conv1.weight
 * conv1.bias conv2.weight conv2.bias fc1.weight fc1.bias fc2.weight fc2.bias
 * (F32) and metadata arch="leap-cnn" plus the sizes. meta: extra key/value
 * pairs (meta_count pairs) written with it. */
leap_status lp_classifier_load(const char *path, lp_classifier **out);
leap_status lp_classifier_save(const lp_classifier *c, const char *path,
                               const char *const *meta, int meta_count);

/* Forward pass in batches: features [n, hidden] and/or logits [n, classes]
 * (either may be NULL). images [n, channels, height, width]. */
leap_status lp_classifier_infer(const lp_classifier *c, const float *images,
                                int n, float *features, float *logits);
/* Fraction of images whose arg-max logit is their label. */
leap_status lp_classifier_accuracy(const lp_classifier *c, const float *images,
                                   const int32_t *labels, int n, double *acc);

/* Mean softmax cross-entropy of a batch and its gradient with respect to
 * every parameter (grad: num_params floats, laid out like params). */
leap_status lp_classifier_loss_grad(const lp_classifier *c, const float *images,
                                    const int32_t *labels, int n, double *loss,
                                    float *grad);

typedef struct lp_classifier_train_desc {
  int epochs, batch;
  double lr;       /* Adam learning rate (cosine-decayed to 0) */
  uint64_t seed;   /* shuffling and augmentation */
  int augment;     /* random horizontal flips and 2-pixel shifts */
  /* Called after each epoch with the mean training loss; non-zero stops
   * (LEAP_ERR_INTERRUPTED). */
  int (*on_epoch)(void *user, int epoch, int epochs, double loss);
  void *user;
} lp_classifier_train_desc;

lp_classifier_train_desc lp_classifier_train_desc_default(void);
leap_status lp_classifier_train(lp_classifier *c, const lp_dataset *train,
                                const lp_classifier_train_desc *desc);

#ifdef __cplusplus
}
#endif

#endif
