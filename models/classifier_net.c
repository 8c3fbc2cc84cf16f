/* classifier_net.c - the classifier's forward and backward passes on a
 * batch (see classifier.h for the layers). Activations are NHWC so each
 * 3x3 convolution is one im2col (columns ky,kx,c) and one SGEMM; max-pool
 * remembers its arg-max so the backward pass can route gradients. */
#include <cblas.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "alloc.h"
#include "classifier_internal.h"
#include "error.h"

/* Loops over fewer elements than this run on one thread: a parallel
 * region's fork/join costs more than the work (and far more on a busy
 * machine), which matters for small batches and the gradient check. */
#define PAR_MIN 32768

/* All activations of one batch, kept for the backward pass. */
struct lp_cls_ws {
  int cap; /* batch capacity */
  float *x, *col1, *a1, *p1, *col2, *a2, *p2, *h3, *logits;
  int32_t *idx1, *idx2;
  /* backward */
  float *dlogits, *dh3, *dp2, *da2, *dcol2, *dp1, *da1;
};

static void shapes(const lp_classifier_arch *a, size_t *s) {
  const size_t hw = (size_t)a->height * a->width;
  s[0] = hw * a->channels;           /* x (NHWC) */
  s[1] = hw * 9 * a->channels;       /* col1 */
  s[2] = hw * a->conv1;              /* a1 */
  s[3] = hw / 4 * a->conv1;          /* p1 */
  s[4] = hw / 4 * 9 * a->conv1;      /* col2 */
  s[5] = hw / 4 * a->conv2;          /* a2 */
  s[6] = hw / 16 * a->conv2;         /* p2 */
  s[7] = (size_t)a->hidden;          /* h3 */
  s[8] = (size_t)a->num_classes;     /* logits */
}

void lp_cls_ws_free(lp_cls_ws *w) {
  if (!w) return;
  float **f[] = {&w->x, &w->col1, &w->a1, &w->p1, &w->col2, &w->a2, &w->p2,
                 &w->h3, &w->logits, &w->dlogits, &w->dh3, &w->dp2, &w->da2,
                 &w->dcol2, &w->dp1, &w->da1};
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) free(*f[i]);
  free(w->idx1);
  free(w->idx2);
  free(w);
}

leap_status lp_cls_ws_create(const lp_classifier_arch *a, int batch,
                             int backward, lp_cls_ws **out) {
  *out = NULL;
  lp_cls_ws *w = lp_calloc(1, sizeof *w);
  if (!w) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  w->cap = batch;
  size_t s[9];
  shapes(a, s);
  const size_t B = (size_t)batch;
  float **fwd[] = {&w->x, &w->col1, &w->a1, &w->p1, &w->col2, &w->a2, &w->p2,
                   &w->h3, &w->logits};
  int ok = 1;
  for (int i = 0; i < 9; i++) ok &= (*fwd[i] = lp_malloc(B * s[i] * sizeof(float))) != NULL;
  ok &= (w->idx1 = lp_malloc(B * s[3] * sizeof(int32_t))) != NULL;
  ok &= (w->idx2 = lp_malloc(B * s[6] * sizeof(int32_t))) != NULL;
  if (backward) {
    ok &= (w->dlogits = lp_malloc(B * s[8] * sizeof(float))) != NULL;
    ok &= (w->dh3 = lp_malloc(B * s[7] * sizeof(float))) != NULL;
    ok &= (w->dp2 = lp_malloc(B * s[6] * sizeof(float))) != NULL;
    ok &= (w->da2 = lp_malloc(B * s[5] * sizeof(float))) != NULL;
    ok &= (w->dcol2 = lp_malloc(B * s[4] * sizeof(float))) != NULL;
    ok &= (w->dp1 = lp_malloc(B * s[3] * sizeof(float))) != NULL;
    ok &= (w->da1 = lp_malloc(B * s[2] * sizeof(float))) != NULL;
  }
  if (!ok) {
    lp_cls_ws_free(w);
    return lp_error(LEAP_ERR_NOMEM, "classifier: out of memory for a batch "
                    "of %d", batch);
  }
  *out = w;
  return LEAP_OK;
}

/* [B,H,W,C] -> rows (b,y,x), columns (ky,kx,c), zero padding 1. */
static void im2col(const float *x, int B, int H, int W, int C, float *col) {
  const long rows = (long)B * H * W;
  const int K = 9 * C;
#pragma omp parallel for schedule(static) if (rows * K > PAR_MIN)
  for (long r = 0; r < rows; r++) {
    const int b = (int)(r / ((long)H * W)), y = (int)(r / W % H), xx = (int)(r % W);
    float *dst = col + (size_t)r * K;
    for (int ky = 0; ky < 3; ky++)
      for (int kx = 0; kx < 3; kx++) {
        const int iy = y + ky - 1, ix = xx + kx - 1;
        float *d = dst + (ky * 3 + kx) * C;
        if (iy < 0 || iy >= H || ix < 0 || ix >= W)
          memset(d, 0, (size_t)C * sizeof *d);
        else
          memcpy(d, x + (((size_t)b * H + iy) * W + ix) * C, (size_t)C * sizeof *d);
      }
  }
}

/* The adjoint of im2col: sums column gradients back into dx [B,H,W,C].
 * One image per iteration, so threads never write the same pixel. */
static void col2im(const float *col, int B, int H, int W, int C, float *dx) {
  const int K = 9 * C;
#pragma omp parallel for schedule(static) if ((size_t)B * H * W * C * 9 > PAR_MIN)
  for (int b = 0; b < B; b++) {
    float *img = dx + (size_t)b * H * W * C;
    memset(img, 0, (size_t)H * W * C * sizeof *img);
    for (int y = 0; y < H; y++)
      for (int xx = 0; xx < W; xx++) {
        const float *src = col + (((size_t)b * H + y) * W + xx) * K;
        for (int ky = 0; ky < 3; ky++)
          for (int kx = 0; kx < 3; kx++) {
            const int iy = y + ky - 1, ix = xx + kx - 1;
            if (iy < 0 || iy >= H || ix < 0 || ix >= W) continue;
            float *d = img + ((size_t)iy * W + ix) * C;
            const float *s = src + (ky * 3 + kx) * C;
            for (int c = 0; c < C; c++) d[c] += s[c];
          }
      }
  }
}

/* y [rows, N] = relu(x [rows, K] w^T + b), w [N, K]. */
static void dense_relu(const float *x, const float *w, const float *b, int rows,
                       int N, int K, int relu, float *y) {
  cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, rows, N, K, 1.0f, x, K,
              w, K, 0.0f, y, N);
#pragma omp parallel for schedule(static) if ((size_t)rows * N > PAR_MIN)
  for (int r = 0; r < rows; r++) {
    float *row = y + (size_t)r * N;
    for (int n = 0; n < N; n++) {
      const float v = row[n] + b[n];
      row[n] = relu && v < 0.0f ? 0.0f : v;
    }
  }
}

/* Backward of dense_relu given dy (already masked by the ReLU): dw += dy^T x,
 * db += sum dy, and dx = dy w when dx is not NULL. */
static void dense_back(const float *x, const float *w, const float *dy, int rows,
                       int N, int K, float *dw, float *db, float *dx) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, N, K, rows, 1.0f, dy, N,
              x, K, 1.0f, dw, K);
  for (int r = 0; r < rows; r++)
    for (int n = 0; n < N; n++) db[n] += dy[(size_t)r * N + n];
  if (dx)
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, rows, K, N, 1.0f, dy,
                N, w, K, 0.0f, dx, K);
}

/* 2x2 max-pool of [B,H,W,C]; idx holds the flat index of each maximum. */
static void maxpool(const float *a, int B, int H, int W, int C, float *p,
                    int32_t *idx) {
  const int H2 = H / 2, W2 = W / 2;
  const long count = (long)B * H2 * W2 * C;
#pragma omp parallel for schedule(static) if (count > PAR_MIN)
  for (long o = 0; o < count; o++) {
    const int c = (int)(o % C);
    const long pix = o / C;
    const int x2 = (int)(pix % W2), y2 = (int)(pix / W2 % H2), b = (int)(pix / ((long)W2 * H2));
    int32_t best = (int32_t)((((size_t)b * H + 2 * y2) * W + 2 * x2) * C + c);
    for (int dy = 0; dy < 2; dy++)
      for (int dx = 0; dx < 2; dx++) {
        const int32_t k = (int32_t)((((size_t)b * H + 2 * y2 + dy) * W + 2 * x2 + dx) * C + c);
        if (a[k] > a[best]) best = k;
      }
    p[o] = a[best];
    idx[o] = best;
  }
}

static void unpool(const float *dp, const int32_t *idx, long count, float *da,
                   size_t da_count) {
  memset(da, 0, da_count * sizeof *da);
  for (long o = 0; o < count; o++) da[idx[o]] += dp[o];
}

void lp_cls_forward(const lp_classifier *c, lp_cls_ws *w, const float *images,
                    int B) {
  const lp_classifier_arch *a = &c->arch;
  const int C = a->channels, H = a->height, W = a->width;
  const int H2 = H / 2, W2 = W / 2, H4 = H / 4, W4 = W / 4;
  const int F = H4 * W4 * a->conv2;
  /* NCHW -> NHWC */
#pragma omp parallel for schedule(static) if ((size_t)B * C * H * W > PAR_MIN)
  for (int b = 0; b < B; b++)
    for (int ch = 0; ch < C; ch++)
      for (int p = 0; p < H * W; p++)
        w->x[((size_t)b * H * W + p) * C + ch] = images[((size_t)b * C + ch) * H * W + p];
  im2col(w->x, B, H, W, C, w->col1);
  dense_relu(w->col1, c->w1, c->b1, B * H * W, a->conv1, 9 * C, 1, w->a1);
  maxpool(w->a1, B, H, W, a->conv1, w->p1, w->idx1);
  im2col(w->p1, B, H2, W2, a->conv1, w->col2);
  dense_relu(w->col2, c->w2, c->b2, B * H2 * W2, a->conv2, 9 * a->conv1, 1, w->a2);
  maxpool(w->a2, B, H2, W2, a->conv2, w->p2, w->idx2);
  dense_relu(w->p2, c->w3, c->b3, B, a->hidden, F, 1, w->h3);
  dense_relu(w->h3, c->w4, c->b4, B, a->num_classes, a->hidden, 0, w->logits);
}

const float *lp_cls_ws_features(const lp_cls_ws *w) { return w->h3; }
const float *lp_cls_ws_logits(const lp_cls_ws *w) { return w->logits; }

/* Mean cross-entropy; writes dlogits = (softmax - onehot) / B. */
static double softmax_xent(const float *logits, const int32_t *labels, int B,
                           int K, float *dlogits) {
  double loss = 0;
  for (int b = 0; b < B; b++) {
    const float *z = logits + (size_t)b * K;
    double m = z[0], sum = 0;
    for (int k = 1; k < K; k++) m = z[k] > m ? z[k] : m;
    for (int k = 0; k < K; k++) sum += exp(z[k] - m);
    loss += log(sum) + m - z[labels[b]];
    for (int k = 0; k < K; k++)
      dlogits[(size_t)b * K + k] =
          (float)((exp(z[k] - m) / sum - (k == labels[b])) / B);
  }
  return loss / B;
}

static void relu_mask(const float *act, float *g, size_t count) {
#pragma omp parallel for schedule(static) if (count > PAR_MIN)
  for (size_t i = 0; i < count; i++)
    if (act[i] <= 0.0f) g[i] = 0.0f;
}

double lp_cls_backward(const lp_classifier *c, lp_cls_ws *w,
                       const int32_t *labels, int B, float *grad) {
  const lp_classifier_arch *a = &c->arch;
  const int C = a->channels, H = a->height, W = a->width;
  const int H2 = H / 2, W2 = W / 2, H4 = H / 4, W4 = W / 4;
  const int F = H4 * W4 * a->conv2;
  /* grad mirrors params, so the same offsets give each block's gradient */
  float *g = grad;
  float *gw1 = g + (c->w1 - c->params), *gb1 = g + (c->b1 - c->params);
  float *gw2 = g + (c->w2 - c->params), *gb2 = g + (c->b2 - c->params);
  float *gw3 = g + (c->w3 - c->params), *gb3 = g + (c->b3 - c->params);
  float *gw4 = g + (c->w4 - c->params), *gb4 = g + (c->b4 - c->params);
  memset(grad, 0, c->num_params * sizeof *grad);

  const double loss = softmax_xent(w->logits, labels, B, a->num_classes, w->dlogits);
  dense_back(w->h3, c->w4, w->dlogits, B, a->num_classes, a->hidden, gw4, gb4, w->dh3);
  relu_mask(w->h3, w->dh3, (size_t)B * a->hidden);
  dense_back(w->p2, c->w3, w->dh3, B, a->hidden, F, gw3, gb3, w->dp2);
  const size_t n_a2 = (size_t)B * H2 * W2 * a->conv2;
  unpool(w->dp2, w->idx2, (long)B * F, w->da2, n_a2);
  relu_mask(w->a2, w->da2, n_a2);
  dense_back(w->col2, c->w2, w->da2, B * H2 * W2, a->conv2, 9 * a->conv1, gw2,
             gb2, w->dcol2);
  col2im(w->dcol2, B, H2, W2, a->conv1, w->dp1);
  const size_t n_a1 = (size_t)B * H * W * a->conv1;
  unpool(w->dp1, w->idx1, (long)B * H2 * W2 * a->conv1, w->da1, n_a1);
  relu_mask(w->a1, w->da1, n_a1);
  dense_back(w->col1, c->w1, w->da1, B * H * W, a->conv1, 9 * C, gw1, gb1, NULL);
  return loss;
}

leap_status lp_classifier_loss_grad(const lp_classifier *c, const float *images,
                                    const int32_t *labels, int n, double *loss,
                                    float *grad) {
  if (!c || !images || !labels || n <= 0 || !grad || !loss)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_classifier_loss_grad: bad argument");
  for (int i = 0; i < n; i++)
    if (labels[i] < 0 || labels[i] >= c->arch.num_classes)
      return lp_error(LEAP_ERR_INVALID_ARG, "lp_classifier_loss_grad: label "
                      "%d of item %d is not in 0..%d", labels[i], i,
                      c->arch.num_classes - 1);
  lp_cls_ws *w;
  leap_status s = lp_cls_ws_create(&c->arch, n, 1, &w);
  if (s != LEAP_OK) return s;
  lp_cls_forward(c, w, images, n);
  *loss = lp_cls_backward(c, w, labels, n, grad);
  lp_cls_ws_free(w);
  return LEAP_OK;
}
