/* dmd_grad.c - see dmd_grad.h. The per-sample normaliser is accumulated in
 * double: at 784+ elements per sample a float sum drifts by more than the
 * tolerance the Vulkan twin is held to. */
#include "dmd_grad.h"

#include <math.h>

void lp_dmd_grad_cpu(int64_t n, int64_t per, const float *x, const float *xt, const float *xf,
                     float eps, float *grad) {
#pragma omp parallel for if (n * per > 65536)
  for (int64_t i = 0; i < n; i++) {
    const float *xi = x + i * per, *ti = xt + i * per, *fi = xf + i * per;
    float *gi = grad + i * per;
    double sum = 0;
    for (int64_t k = 0; k < per; k++) sum += fabs((double)xi[k] - (double)ti[k]);
    double norm = sum / (double)per;
    if (!(norm > eps)) norm = eps;
    const float inv = (float)(1.0 / norm);
    for (int64_t k = 0; k < per; k++) gi[k] = (fi[k] - ti[k]) * inv;
  }
}
