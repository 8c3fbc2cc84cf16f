/* dit_plan.c - the DiT forward pass as three op programs (see backend.h),
 * following DESIGN.md's numerical conventions op for op. */
#include <math.h>
#include <string.h>

#include "dit.h"
#include "error.h"

static lp_view V(lp_buf *b, size_t off) { return (lp_view){b, off}; }
static const lp_view NONE = {0, 0};

static leap_status linear(lp_prog *p, lp_buf *x, lp_buf *w, lp_buf *b, lp_buf *y, int M, int N,
                          int K, lp_act act) {
  lp_op op = {.kind = LP_OP_LINEAR, .in = {V(x, 0), V(w, 0), b ? V(b, 0) : NONE}, .out = V(y, 0),
              .i = {M, N, K, act}};
  return lp_prog_push(p, &op);
}

static leap_status ln_modulate(lp_prog *p, lp_buf *x, lp_buf *mod, size_t shift_off,
                               size_t scale_off, int stride, lp_buf *y, int B, int T, int D) {
  lp_op op = {.kind = LP_OP_LN_MODULATE,
              .in = {V(x, 0), V(mod, shift_off), V(mod, scale_off)},
              .out = V(y, 0),
              .i = {B, T, D, stride},
              .f = {1e-6f}};
  return lp_prog_push(p, &op);
}

static leap_status gated_add(lp_prog *p, lp_buf *y, lp_buf *mod, size_t gate_off, int stride,
                             lp_buf *h, int B, int T, int D) {
  lp_op op = {.kind = LP_OP_GATED_ADD, .in = {V(y, 0), V(mod, gate_off)}, .out = V(h, 0),
              .i = {B, T, D, stride}};
  return lp_prog_push(p, &op);
}

static leap_status build_embed(lp_dit *m, lp_dit_plan *pl) {
  const leap_model_info *d = &m->info;
  const int n = pl->n, D = d->hidden_size, T = d->tokens, C = d->in_channels, p = d->patch_size;
  const int H = d->input_size;
  lp_prog *g = &pl->embed;
  leap_status s;
  /* c = MLP(timestep features) + class embedding; sc = silu(c) feeds every adaLN. */
  if ((s = linear(g, pl->temb, m->t_w0, m->t_b0, pl->t1, n, D, LP_DIT_FREQ_DIM, LP_ACT_SILU)) ||
      (s = linear(g, pl->t1, m->t_w2, m->t_b2, pl->c, n, D, D, LP_ACT_NONE)))
    return s;
  if (m->y_table) {
    lp_op op = {.kind = LP_OP_EMBED_ADD, .in = {V(pl->c, 0), V(m->y_table, 0), V(pl->labels, 0)},
                .out = V(pl->c, 0), .i = {n, D, d->num_classes + 1}};
    if ((s = lp_prog_push(g, &op))) return s;
  }
  lp_op silu = {.kind = LP_OP_SILU, .in = {V(pl->c, 0)}, .out = V(pl->sc, 0), .i = {n * D}};
  lp_op patch = {.kind = LP_OP_PATCHIFY, .in = {V(pl->x_in, 0)}, .out = V(pl->patches, 0),
                 .i = {n, C, H, H, p}};
  lp_op pos = {.kind = LP_OP_ADD_ROWS, .in = {V(m->pos, 0)}, .out = V(pl->h, 0), .i = {n * T, T, D}};
  if ((s = lp_prog_push(g, &silu)) || (s = lp_prog_push(g, &patch)) ||
      (s = linear(g, pl->patches, m->x_w, m->x_b, pl->h, n * T, D, C * p * p, LP_ACT_NONE)) ||
      (s = lp_prog_push(g, &pos)))
    return s;
  return LEAP_OK;
}

static leap_status build_blocks(lp_dit *m, lp_dit_plan *pl) {
  const leap_model_info *d = &m->info;
  const int n = pl->n, D = d->hidden_size, T = d->tokens, F = m->mlp_hidden, R = n * T;
  lp_prog *g = &pl->blocks;
  leap_status s;
  for (int i = 0; i < d->depth; i++) {
    const lp_dit_block *b = &m->blocks[i];
    /* mod = [shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp] */
    lp_op att = {.kind = LP_OP_ATTENTION, .in = {V(pl->qkv, 0)}, .out = V(pl->att, 0),
                 .i = {n, T, D, d->num_heads}, .f = {(float)(1.0 / sqrt((double)D / d->num_heads))}};
    if ((s = linear(g, pl->sc, b->ada_w, b->ada_b, pl->mod, n, 6 * D, D, LP_ACT_NONE)) ||
        (s = ln_modulate(g, pl->h, pl->mod, 0, D, 6 * D, pl->a, n, T, D)) ||
        (s = linear(g, pl->a, b->qkv_w, b->qkv_b, pl->qkv, R, 3 * D, D, LP_ACT_NONE)) ||
        (s = lp_prog_push(g, &att)) ||
        (s = linear(g, pl->att, b->proj_w, b->proj_b, pl->proj, R, D, D, LP_ACT_NONE)) ||
        (s = gated_add(g, pl->proj, pl->mod, 2 * D, 6 * D, pl->h, n, T, D)) ||
        (s = ln_modulate(g, pl->h, pl->mod, 3 * D, 4 * D, 6 * D, pl->a, n, T, D)) ||
        (s = linear(g, pl->a, b->fc1_w, b->fc1_b, pl->mlp, R, F, D, LP_ACT_GELU_TANH)) ||
        (s = linear(g, pl->mlp, b->fc2_w, b->fc2_b, pl->proj, R, D, F, LP_ACT_NONE)) ||
        (s = gated_add(g, pl->proj, pl->mod, 5 * D, 6 * D, pl->h, n, T, D)))
      return s;
  }
  return LEAP_OK;
}

static leap_status build_final(lp_dit *m, lp_dit_plan *pl) {
  const leap_model_info *d = &m->info;
  const int n = pl->n, D = d->hidden_size, T = d->tokens, p = d->patch_size;
  const int Co = d->out_channels, H = d->input_size;
  lp_prog *g = &pl->final;
  leap_status s;
  lp_op unp = {.kind = LP_OP_UNPATCHIFY, .in = {V(pl->fout, 0)}, .out = V(pl->out, 0),
               .i = {n, Co, H, H, p}};
  /* final adaLN: [shift, scale] */
  if ((s = linear(g, pl->sc, m->f_ada_w, m->f_ada_b, pl->mod, n, 2 * D, D, LP_ACT_NONE)) ||
      (s = ln_modulate(g, pl->h, pl->mod, 0, D, 2 * D, pl->a, n, T, D)) ||
      (s = linear(g, pl->a, m->f_w, m->f_b, pl->fout, n * T, p * p * Co, D, LP_ACT_NONE)) ||
      (s = lp_prog_push(g, &unp)))
    return s;
  return LEAP_OK;
}

void lp_dit_plan_free(lp_dit *m) {
  lp_dit_plan *pl = &m->plan;
  lp_prog_cache_free(&pl->steps);
  lp_prog_free(m->be, &pl->embed);
  lp_prog_free(m->be, &pl->blocks);
  lp_prog_free(m->be, &pl->final);
  lp_buf **bufs[] = {&pl->x_in, &pl->temb, &pl->labels, &pl->t1, &pl->c, &pl->sc,
                     &pl->patches, &pl->h, &pl->mod, &pl->a, &pl->qkv, &pl->att,
                     &pl->proj, &pl->mlp, &pl->fout, &pl->out, &pl->gout};
  for (size_t i = 0; i < sizeof bufs / sizeof *bufs; i++)
    if (*bufs[i]) m->be->vt->buf_free(m->be, *bufs[i]);
  memset(pl, 0, sizeof *pl);
  m->stage = 0;
}

leap_status lp_dit_plan_ensure(lp_dit *m, int n) {
  if (m->plan.n == n) return LEAP_OK;
  lp_dit_plan_free(m);
  const leap_model_info *d = &m->info;
  const size_t N = (size_t)n, D = d->hidden_size, T = d->tokens, C = d->in_channels;
  const size_t p = d->patch_size, HW = (size_t)d->input_size * d->input_size, F = m->mlp_hidden;
  lp_dit_plan *pl = &m->plan;
  pl->n = n;
  pl->steps.be = m->be;
  struct {
    lp_buf **b;
    size_t elems;
  } want[] = {
      {&pl->x_in, N * C * HW},   {&pl->temb, N * LP_DIT_FREQ_DIM}, {&pl->labels, N},
      {&pl->t1, N * D},          {&pl->c, N * D},                  {&pl->sc, N * D},
      {&pl->patches, N * T * C * p * p}, {&pl->h, N * T * D},      {&pl->mod, N * 6 * D},
      {&pl->a, N * T * D},       {&pl->qkv, N * T * 3 * D},        {&pl->att, N * T * D},
      {&pl->proj, N * T * D},    {&pl->mlp, N * T * F},
      {&pl->fout, N * T * p * p * d->out_channels}, {&pl->out, N * d->out_channels * HW},
  };
  leap_status s = LEAP_OK;
  for (size_t i = 0; s == LEAP_OK && i < sizeof want / sizeof *want; i++)
    s = m->be->vt->buf_alloc(m->be, want[i].elems * 4, want[i].b);
  if (s == LEAP_OK) s = build_embed(m, pl);
  if (s == LEAP_OK) s = build_blocks(m, pl);
  if (s == LEAP_OK) s = build_final(m, pl);
  if (s != LEAP_OK) {
    lp_dit_plan_free(m);
    return s;
  }
  const int64_t hshape[3] = {n, d->tokens, d->hidden_size};
  lp_tensor_init_view(&m->hidden, m->ctx, pl->h, LEAP_F32, 3, hshape);
  return LEAP_OK;
}

void lp_dit_timestep_features(int n, const float *t, float *out) {
  const int half = LP_DIT_FREQ_DIM / 2;
  double freq[LP_DIT_FREQ_DIM / 2];
  for (int i = 0; i < half; i++) freq[i] = exp(-log(10000.0) * i / half);
  for (int b = 0; b < n; b++) {
    float *row = out + (size_t)b * LP_DIT_FREQ_DIM;
    /* A sampler gives every image the same t: 2 * half transcendentals per
     * row were ~10 ms per step at batch 4000, more than a GPU's reused step. */
    if (b > 0 && memcmp(&t[b], &t[b - 1], sizeof *t) == 0) {
      memcpy(row, row - LP_DIT_FREQ_DIM, LP_DIT_FREQ_DIM * sizeof *row);
      continue;
    }
    for (int i = 0; i < half; i++) {
      const double arg = (double)t[b] * freq[i];
      row[i] = (float)cos(arg);
      row[half + i] = (float)sin(arg);
    }
  }
}
