/* fd_metric.c - Gaussian feature statistics and the Frechet distance (see
 * fd_metric.h for the method). */
#include <cblas.h>
#include <lapacke.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "error.h"
#include "alloc.h"
#include "fd_metric.h"

leap_status lp_fd_stats_features(const float *feat, int n, int d, double *mu,
                                 double *cov) {
  if (!feat || !mu || !cov || n < 2 || d < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_fd_stats: need at least 2 "
                    "feature rows (got %d) of dimension >= 1 (got %d)", n, d);
  double *x = lp_malloc((size_t)n * d * sizeof *x);
  if (!x) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  memset(mu, 0, (size_t)d * sizeof *mu);
  for (int i = 0; i < n; i++)
    for (int j = 0; j < d; j++) mu[j] += feat[(size_t)i * d + j];
  for (int j = 0; j < d; j++) mu[j] /= n;
  for (int i = 0; i < n; i++)
    for (int j = 0; j < d; j++) {
      const double v = feat[(size_t)i * d + j];
      if (!isfinite(v)) {
        free(x);
        return lp_error(LEAP_ERR_NUMERIC, "lp_fd_stats: non-finite feature "
                        "(row %d, column %d)", i, j);
      }
      x[(size_t)i * d + j] = v - mu[j];
    }
  /* cov = x^T x / (n - 1), centred first so no cancellation */
  cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0 / (n - 1), x, d,
              0.0, cov, d);
  for (int i = 0; i < d; i++)
    for (int j = 0; j < i; j++) cov[(size_t)i * d + j] = cov[(size_t)j * d + i];
  free(x);
  return LEAP_OK;
}

leap_status lp_fd_stats(const lp_classifier *c, const float *images, int n,
                        double *mu, double *cov) {
  if (!c || !images || n < 2)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_fd_stats: need a classifier "
                    "and at least 2 images (got %d)", n);
  const int d = c->arch.hidden;
  float *feat = lp_malloc((size_t)n * d * sizeof *feat);
  if (!feat) return lp_error(LEAP_ERR_NOMEM, "out of memory");
  leap_status s = lp_classifier_infer(c, images, n, feat, NULL);
  if (s == LEAP_OK) s = lp_fd_stats_features(feat, n, d, mu, cov);
  free(feat);
  return s;
}

leap_status lp_fd_accum_init(lp_fd_accum *a, int d) {
  memset(a, 0, sizeof *a);
  if (d < 1) return lp_error(LEAP_ERR_INVALID_ARG, "lp_fd_accum_init: dimension %d", d);
  a->d = d;
  a->mean = lp_calloc((size_t)d, sizeof *a->mean);
  a->m2 = lp_calloc((size_t)d * d, sizeof *a->m2);
  if (!a->mean || !a->m2) {
    lp_fd_accum_free(a);
    return lp_error(LEAP_ERR_NOMEM, "out of memory");
  }
  return LEAP_OK;
}

void lp_fd_accum_free(lp_fd_accum *a) {
  free(a->mean);
  free(a->m2);
  a->mean = a->m2 = NULL;
}

/* a += b, where b holds nb rows with mean mb and scatter m2b. */
static void accum_fold(lp_fd_accum *a, int64_t nb, const double *mb, const double *m2b) {
  const int d = a->d;
  const int64_t na = a->n, n = na + nb;
  if (nb == 0) return;
  const double w = (double)na * (double)nb / (double)n, f = (double)nb / (double)n;
  for (int i = 0; i < d; i++) {
    const double di = mb[i] - a->mean[i];
    for (int j = 0; j < d; j++)
      a->m2[(size_t)i * d + j] += m2b[(size_t)i * d + j] + w * di * (mb[j] - a->mean[j]);
  }
  for (int i = 0; i < d; i++) a->mean[i] += (mb[i] - a->mean[i]) * f;
  a->n = n;
}

leap_status lp_fd_accum_add_features(lp_fd_accum *a, const float *feat, int n) {
  if (!a || !a->mean || !feat || n < 1) return lp_error(LEAP_ERR_INVALID_ARG, "lp_fd_accum_add_features: bad argument");
  const int d = a->d;
  double *x = lp_malloc((size_t)n * d * sizeof *x), *mb = lp_calloc((size_t)d, sizeof *mb);
  double *m2b = lp_malloc((size_t)d * d * sizeof *m2b);
  leap_status s = x && mb && m2b ? LEAP_OK : lp_error(LEAP_ERR_NOMEM, "out of memory");
  for (int i = 0; s == LEAP_OK && i < n; i++)
    for (int j = 0; j < d; j++) {
      const double v = feat[(size_t)i * d + j];
      if (!isfinite(v)) {
        s = lp_error(LEAP_ERR_NUMERIC, "lp_fd_accum: non-finite feature (row %lld, column %d)",
                     (long long)(a->n + i), j);
        break;
      }
      mb[j] += v;
    }
  if (s == LEAP_OK) {
    for (int j = 0; j < d; j++) mb[j] /= n;
    for (int i = 0; i < n; i++)
      for (int j = 0; j < d; j++) x[(size_t)i * d + j] = feat[(size_t)i * d + j] - mb[j];
    /* The batch's own scatter, centred first (as lp_fd_stats_features). */
    cblas_dsyrk(CblasRowMajor, CblasUpper, CblasTrans, d, n, 1.0, x, d, 0.0, m2b, d);
    for (int i = 0; i < d; i++)
      for (int j = 0; j < i; j++) m2b[(size_t)i * d + j] = m2b[(size_t)j * d + i];
    accum_fold(a, n, mb, m2b);
  }
  free(x);
  free(mb);
  free(m2b);
  return s;
}

leap_status lp_fd_accum_merge(lp_fd_accum *a, const lp_fd_accum *b) {
  if (!a || !b || !a->mean || !b->mean || a->d != b->d)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_fd_accum_merge: accumulators of different dimensions");
  accum_fold(a, b->n, b->mean, b->m2);
  return LEAP_OK;
}

leap_status lp_fd_accum_result(const lp_fd_accum *a, double *mu, double *cov) {
  if (!a || !a->mean || !mu || !cov || a->n < 2)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_fd_accum_result: need at least 2 rows (got %lld)",
                    a ? (long long)a->n : 0LL);
  const int d = a->d;
  memcpy(mu, a->mean, (size_t)d * sizeof *mu);
  for (size_t k = 0; k < (size_t)d * d; k++) cov[k] = a->m2[k] / (double)(a->n - 1);
  return LEAP_OK;
}

/* Eigen-decomposition of symmetric a: w ascending, v (row-major) columns
 * the eigenvectors. */
static leap_status eig_sym(const double *a, int d, double *w, double *v) {
  memcpy(v, a, (size_t)d * d * sizeof *v);
  lapack_int info = LAPACKE_dsyevd(LAPACK_ROW_MAJOR, 'V', 'U', d, v, d, w);
  if (info != 0)
    return lp_error(LEAP_ERR_NUMERIC, "LAPACKE_dsyevd failed (info %d) on a "
                    "%dx%d covariance: non-finite values?", (int)info, d, d);
  return LEAP_OK;
}

/* Below this fraction of the largest eigenvalue a negative one is rounding
 * noise of a PSD matrix; larger ones mean the input was not PSD. */
#define NEG_EIG_TOL 1e-8

leap_status lp_sqrtm_psd(const double *a, int d, double *out) {
  if (!a || !out || d < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_sqrtm_psd: bad argument");
  double *w = lp_malloc((size_t)d * sizeof *w);
  double *v = lp_malloc((size_t)d * d * sizeof *v);
  double *vs = lp_malloc((size_t)d * d * sizeof *vs);
  leap_status s = w && v && vs ? eig_sym(a, d, w, v)
                               : lp_error(LEAP_ERR_NOMEM, "out of memory");
  if (s == LEAP_OK) {
    const double big = fabs(w[d - 1]) > fabs(w[0]) ? fabs(w[d - 1]) : fabs(w[0]);
    if (w[0] < -NEG_EIG_TOL * big - 1e-300)
      s = lp_error(LEAP_ERR_NUMERIC, "lp_sqrtm_psd: matrix is not positive "
                   "semi-definite (eigenvalue %g, largest %g)", w[0], big);
  }
  if (s == LEAP_OK) {
    /* out = V diag(sqrt(max(w,0))) V^T */
    for (int i = 0; i < d; i++)
      for (int j = 0; j < d; j++)
        vs[(size_t)i * d + j] = v[(size_t)i * d + j] * sqrt(w[j] > 0 ? w[j] : 0.0);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasTrans, d, d, d, 1.0, vs, d, v,
                d, 0.0, out, d);
    /* exact symmetry, for the next dsyevd */
    for (int i = 0; i < d; i++)
      for (int j = 0; j < i; j++) {
        const double m = 0.5 * (out[(size_t)i * d + j] + out[(size_t)j * d + i]);
        out[(size_t)i * d + j] = out[(size_t)j * d + i] = m;
      }
  }
  free(w);
  free(v);
  free(vs);
  return s;
}

leap_status lp_trace_sqrt_product(const double *s1, const double *s2, int d,
                                  double *out) {
  if (!s1 || !s2 || !out || d < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_trace_sqrt_product: bad argument");
  const size_t dd = (size_t)d * d;
  double *a = lp_malloc(dd * sizeof *a), *t = lp_malloc(dd * sizeof *t);
  double *m = lp_malloc(dd * sizeof *m), *v = lp_malloc(dd * sizeof *v);
  double *w = lp_malloc((size_t)d * sizeof *w);
  leap_status s = a && t && m && v && w ? lp_sqrtm_psd(s1, d, a)
                                        : lp_error(LEAP_ERR_NOMEM, "out of memory");
  if (s == LEAP_OK) {
    /* m = A s2 A, symmetrised against rounding */
    cblas_dsymm(CblasRowMajor, CblasLeft, CblasUpper, d, d, 1.0, a, d, s2, d,
                0.0, t, d);
    cblas_dgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, d, d, d, 1.0, t, d,
                a, d, 0.0, m, d);
    for (int i = 0; i < d; i++)
      for (int j = 0; j < i; j++) {
        const double x = 0.5 * (m[(size_t)i * d + j] + m[(size_t)j * d + i]);
        m[(size_t)i * d + j] = m[(size_t)j * d + i] = x;
      }
    s = eig_sym(m, d, w, v);
  }
  if (s == LEAP_OK) {
    double tr = 0;
    for (int i = 0; i < d; i++) tr += w[i] > 0 ? sqrt(w[i]) : 0.0;
    *out = tr;
  }
  free(a);
  free(t);
  free(m);
  free(v);
  free(w);
  return s;
}

leap_status lp_fd_parts(const double *mu1, const double *cov1, const double *mu2,
                        const double *cov2, int d, double *mean_term,
                        double *cov_term) {
  if (!mu1 || !cov1 || !mu2 || !cov2 || !mean_term || !cov_term || d < 1)
    return lp_error(LEAP_ERR_INVALID_ARG, "lp_fd: bad argument");
  double dist = 0, tr = 0, trs = 0;
  for (int i = 0; i < d; i++) {
    const double diff = mu1[i] - mu2[i];
    dist += diff * diff;
    tr += cov1[(size_t)i * d + i] + cov2[(size_t)i * d + i];
  }
  leap_status s = lp_trace_sqrt_product(cov1, cov2, d, &trs);
  if (s != LEAP_OK) return s;
  if (!isfinite(dist) || !isfinite(tr - 2.0 * trs))
    return lp_error(LEAP_ERR_NUMERIC, "lp_fd: non-finite result");
  *mean_term = dist;
  /* Rounding can leave identical distributions a hair below 0. */
  *cov_term = tr - 2.0 * trs > 0 ? tr - 2.0 * trs : 0.0;
  return LEAP_OK;
}

leap_status lp_fd(const double *mu1, const double *cov1, const double *mu2,
                  const double *cov2, int d, double *out) {
  if (!out) return lp_error(LEAP_ERR_INVALID_ARG, "lp_fd: bad argument");
  double m = 0, c = 0;
  leap_status s = lp_fd_parts(mu1, cov1, mu2, cov2, d, &m, &c);
  if (s == LEAP_OK) *out = m + c;
  return s;
}

void lp_fd_drift(const double *mu, const double *mu_base, const double *mu_ref, int d,
                 double *dist, double *cos) {
  double mm = 0, oo = 0, mo = 0;
  for (int i = 0; i < d; i++) {
    const double move = mu[i] - mu_base[i], off = mu_base[i] - mu_ref[i];
    mm += move * move, oo += off * off, mo += move * off;
  }
  if (dist) *dist = sqrt(mm);
  if (cos) *cos = mm > 0 && oo > 0 ? mo / sqrt(mm * oo) : 0.0;
}
