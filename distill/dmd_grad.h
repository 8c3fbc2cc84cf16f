/* dmd_grad.h - DMD2's distribution-matching gradient on host memory (the
 * CPU twin of shaders/dmd_grad.comp). */
#ifndef LP_DMD_GRAD_H
#define LP_DMD_GRAD_H

#include <stdint.h>

/* n samples of `per` elements each: grad = (xf - xt) / max(mean|x - xt|, eps)
 * per sample. grad may alias xf. */
void lp_dmd_grad_cpu(int64_t n, int64_t per, const float *x, const float *xt, const float *xf,
                     float eps, float *grad);

#endif
