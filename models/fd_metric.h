/* fd_metric.h - the sample-quality metric of `leap eval`: the Frechet
 * distance between Gaussian fits of classifier features (the FID recipe,
 * with the small Fashion-MNIST classifier of classifier.h instead of
 * Inception):
 *
 *   FD = |mu1 - mu2|^2 + tr(S1 + S2 - 2 sqrtm(S1 S2))
 *
 * tr sqrtm(S1 S2) is computed as sum sqrt(eig(A S2 A)) with A = sqrtm(S1):
 * A S2 A is similar to S1 S2 and symmetric positive semi-definite, so two
 * symmetric eigendecompositions (LAPACK dsyevd) do it in double precision,
 * with no non-symmetric sqrtm. Tiny negative eigenvalues from rounding are
 * clamped to 0. Internal API. */
#ifndef LP_FD_METRIC_H
#define LP_FD_METRIC_H

#include <stdint.h>

#include "classifier.h"
#include "leap.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Mean mu [d] and covariance cov [d*d] (divided by n - 1) of the rows of
 * feat [n, d], n >= 2. */
leap_status lp_fd_stats_features(const float *feat, int n, int d, double *mu,
                                 double *cov);
/* The same for the classifier's features (d = c->arch.hidden) of images
 * [n, c, h, w] in [-1, 1]. */
leap_status lp_fd_stats(const lp_classifier *c, const float *images, int n,
                        double *mu, double *cov);

/* Streamed statistics: the mean and covariance of feature rows that come
 * a batch at a time, in memory of d*d doubles whatever the number of rows
 * (FD on 50 000 samples and more). Each batch is centred on its own mean
 * (its scatter by dsyrk, as lp_fd_stats_features) and merged with the
 * running state by Chan et al.'s pairwise update:
 *   n = na + nb, delta = mb - ma, mean = ma + delta nb / n,
 *   M2 = M2a + M2b + delta delta^T na nb / n,
 * which has no cancellation between large sums; cov = M2 / (n - 1). Two
 * accumulators merge the same way (shards of one run). */
typedef struct lp_fd_accum {
  int d;
  int64_t n;
  double *mean; /* [d] */
  double *m2;   /* [d*d], both triangles */
} lp_fd_accum;

leap_status lp_fd_accum_init(lp_fd_accum *a, int d);
void lp_fd_accum_free(lp_fd_accum *a);
/* Adds the rows of feat [n, d] (n >= 1); a non-finite feature is
 * LEAP_ERR_NUMERIC and leaves a unchanged. */
leap_status lp_fd_accum_add_features(lp_fd_accum *a, const float *feat, int n);
/* Folds b (same d) into a. */
leap_status lp_fd_accum_merge(lp_fd_accum *a, const lp_fd_accum *b);
/* mu [d] and cov [d*d] (divided by n - 1) of every row added; n >= 2. */
leap_status lp_fd_accum_result(const lp_fd_accum *a, double *mu, double *cov);

/* The symmetric square root of a symmetric positive semi-definite a [d*d]
 * (negative eigenvalues from rounding count as 0) into out [d*d]. */
leap_status lp_sqrtm_psd(const double *a, int d, double *out);
/* tr sqrtm(s1 s2) for symmetric PSD s1, s2. */
leap_status lp_trace_sqrt_product(const double *s1, const double *s2, int d,
                                  double *out);
/* The Frechet distance between N(mu1, cov1) and N(mu2, cov2). */
leap_status lp_fd(const double *mu1, const double *cov1, const double *mu2,
                  const double *cov2, int d, double *out);
/* Its two terms: mean_term = |mu1 - mu2|^2 (where the sets sit) and
 * cov_term = tr(S1 + S2 - 2 sqrtm(S1 S2)) (how they spread); FD is their
 * sum. */
leap_status lp_fd_parts(const double *mu1, const double *cov1, const double *mu2,
                        const double *cov2, int d, double *mean_term,
                        double *cov_term);

/* How far the mean mu moved from a base set's mean mu_base (|mu -
 * mu_base| into *dist) and in which direction relative to the base set's
 * own offset from a reference mean mu_ref: *cos = cos(mu - mu_base, mu_base
 * - mu_ref), +1 straight away from the reference, -1 straight towards it,
 * 0 when either vector is zero. Why: an approximation of the base run
 * (a cached sampler) can score a lower FD to the reference than the base
 * itself by moving in a lucky direction; this tells size and direction
 * apart. */
void lp_fd_drift(const double *mu, const double *mu_base, const double *mu_ref, int d,
                 double *dist, double *cos);

#ifdef __cplusplus
}
#endif

#endif
