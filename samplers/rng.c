/* rng.c - the deterministic RNG behind initial and ancestral noise.
 *
 * xoshiro256** (Blackman & Vigna) is fast and has no known statistical flaw
 * at this scale; seeding through splitmix64 spreads nearby seeds and stream
 * numbers over the whole state. Normals come from Box-Muller in double, so
 * the sequence is identical on every platform with IEEE doubles. */
#include "sampler.h"

#include <math.h>

static uint64_t splitmix64(uint64_t *x) {
  uint64_t z = (*x += UINT64_C(0x9E3779B97F4A7C15));
  z = (z ^ (z >> 30)) * UINT64_C(0xBF58476D1CE4E5B9);
  z = (z ^ (z >> 27)) * UINT64_C(0x94D049BB133111EB);
  return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

void lp_rng_seed(lp_rng *r, uint64_t seed, uint64_t stream) {
  /* Hash seed and stream separately before combining, so that (seed, stream)
   * pairs do not alias the way seed + stream would. */
  uint64_t a = seed, b = stream ^ UINT64_C(0xD1B54A32D192ED03);
  uint64_t sm = splitmix64(&a) ^ rotl(splitmix64(&b), 17);
  for (int i = 0; i < 4; i++) r->s[i] = splitmix64(&sm);
  if (!(r->s[0] | r->s[1] | r->s[2] | r->s[3])) r->s[0] = 1; /* never all 0 */
  r->spare = 0.0;
  r->has_spare = 0;
}

uint64_t lp_rng_next_u64(lp_rng *r) {
  uint64_t *s = r->s;
  const uint64_t result = rotl(s[1] * 5, 7) * 9;
  const uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

double lp_rng_uniform(lp_rng *r) {
  return (double)(lp_rng_next_u64(r) >> 11) * 0x1.0p-53;
}

double lp_rng_normal(lp_rng *r) {
  if (r->has_spare) {
    r->has_spare = 0;
    return r->spare;
  }
  const double two_pi = 6.283185307179586476925286766559;
  double u1 = 1.0 - lp_rng_uniform(r); /* (0, 1]: log(u1) is finite */
  double u2 = lp_rng_uniform(r);
  double rad = sqrt(-2.0 * log(u1));
  r->spare = rad * sin(two_pi * u2);
  r->has_spare = 1;
  return rad * cos(two_pi * u2);
}

void lp_noise_fill(uint64_t seed, int n_images, size_t numel, float *out) {
  lp_noise_fill_at(seed, 0, n_images, numel, out);
}

void lp_noise_fill_at(uint64_t seed, uint64_t first, int n_images, size_t numel, float *out) {
  for (int i = 0; i < n_images; i++) {
    lp_rng r;
    lp_rng_seed(&r, seed, first + (uint64_t)i);
    float *o = out + (size_t)i * numel;
    for (size_t k = 0; k < numel; k++) o[k] = (float)lp_rng_normal(&r);
  }
}
