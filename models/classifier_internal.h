/* classifier_internal.h - the batch workspace shared by the classifier's
 * forward/backward (classifier_net.c), inference and training. */
#ifndef LP_CLASSIFIER_INTERNAL_H
#define LP_CLASSIFIER_INTERNAL_H

#include "classifier.h"

typedef struct lp_cls_ws lp_cls_ws;

/* Buffers for batches of up to `batch` images; backward != 0 adds the
 * gradient buffers. */
leap_status lp_cls_ws_create(const lp_classifier_arch *a, int batch,
                             int backward, lp_cls_ws **out);
void lp_cls_ws_free(lp_cls_ws *w);
/* Runs the forward pass of B <= batch images, keeping every activation. */
void lp_cls_forward(const lp_classifier *c, lp_cls_ws *w, const float *images,
                    int B);
/* After lp_cls_forward: the mean cross-entropy; grad (num_params) is
 * overwritten with its gradient. */
double lp_cls_backward(const lp_classifier *c, lp_cls_ws *w,
                       const int32_t *labels, int B, float *grad);
/* The last forward pass's features [B, hidden] and logits [B, classes]. */
const float *lp_cls_ws_features(const lp_cls_ws *w);
const float *lp_cls_ws_logits(const lp_cls_ws *w);

#endif
