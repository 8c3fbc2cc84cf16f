/* dmd_api.c - leap_dmd_gradient: the distribution-matching gradient on a
 * context's tensors, as one op (LP_OP_DMD_GRAD) on its backend. */
#include <limits.h>
#include <string.h>

#include "context.h"
#include "dmd_op.h"
#include "error.h"

static leap_status same(const leap_tensor *a, const leap_tensor *b, const char *name) {
  if (b->ctx != a->ctx)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_dmd_gradient: %s belongs to another context", name);
  if (b->dtype != LEAP_F32)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_dmd_gradient: %s is not F32", name);
  if (b->ndim != a->ndim || memcmp(b->shape, a->shape, (size_t)a->ndim * sizeof a->shape[0]))
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_dmd_gradient: %s's shape differs from x's", name);
  return LEAP_OK;
}

leap_status leap_dmd_gradient(const leap_tensor *x, const leap_tensor *x0_target,
                              const leap_tensor *x0_fake, double eps, leap_tensor *grad) {
  if (!x || !x0_target || !x0_fake || !grad)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_dmd_gradient: NULL tensor");
  if (!(eps > 0) || eps > 1e30)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_dmd_gradient: eps %g must be > 0", eps);
  leap_status s;
  if ((s = same(x, x, "x")) || (s = same(x, x0_target, "x0_target")) ||
      (s = same(x, x0_fake, "x0_fake")) || (s = same(x, grad, "grad")))
    return s;
  if (x->ndim < 1 || x->shape[0] < 1 || x->numel < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "leap_dmd_gradient: x is empty");
  const int64_t n = x->shape[0], per = x->numel / n;
  if (n > INT32_MAX || per > INT32_MAX || x->numel > (int64_t)INT32_MAX * 4)
    return lp_error(LEAP_ERR_UNSUPPORTED, "leap_dmd_gradient: %lld samples of %lld elements is too large",
                    (long long)n, (long long)per);
  if (grad == x || grad == x0_target || grad->buf == x->buf || grad->buf == x0_target->buf)
    return lp_error(LEAP_ERR_INVALID_ARG,
                    "leap_dmd_gradient: grad may replace x0_fake but not x or x0_target");
  lp_op op;
  memset(&op, 0, sizeof op);
  op.kind = LP_OP_DMD_GRAD;
  op.in[0] = (lp_view){x->buf, 0};
  op.in[1] = (lp_view){x0_target->buf, 0};
  op.in[2] = (lp_view){x0_fake->buf, 0};
  op.out = (lp_view){grad->buf, 0};
  op.i[0] = (int32_t)n;
  op.i[1] = (int32_t)per;
  op.f[0] = (float)eps;
  lp_backend *be = x->ctx->be;
  lp_prog prog;
  memset(&prog, 0, sizeof prog);
  if ((s = lp_prog_push(&prog, &op))) return s;
  s = be->vt->prog_run(be, &prog);
  lp_prog_free(be, &prog);
  return s;
}
