/* train_dit_impl.h - the DiT forward pass with saved activations and its
 * backward pass, over the ops of train_ops_impl.h (same `real` macros; see
 * there). The forward follows dit_plan.c op for op (DESIGN.md's numerical
 * conventions), so a trained model samples the same in the runtime. */

/* Saved activations of one forward pass (per block where noted) and the
 * backward pass's scratch, all in one allocation. */
struct NM(lp_tws) {
  const lp_tlayout *L;
  int cap, B;
  real *mem;
  /* Conditioning is per group (an image, or a chunk of a clip: G = B*K
   * groups of Tg = Fc*T tokens), tokens are rows of frames (B*frames*T). */
  int32_t *y;                        /* [cap*K] labels of the last forward, per group */
  real *temb, *t1pre, *t1, *c, *sc;  /* [G,256], [G,D] x4 */
  real *patches;                     /* [BT, cpp] */
  /* per block l: the stream entering it, its adaLN output and the rest */
  real **hin, **mod, **mean1, **rstd1, **a1, **qkv, **att, **proj, **hmid, **mean2, **rstd2,
      **a2, **fc1, **gel, **fc2;
  real *hL, *fmod, *meanf, *rstdf, *af, *fout; /* final layer */
  /* backward scratch */
  real *dh, *dt, *dt2, *dqkv, *dF, *dmod, *dsc, *dsct, *dc, *dt1, *dfout;
  real **ptrs; /* the per-block pointer tables */
};

void NM(lp_tws_free)(NM(lp_tws) *w) {
  if (!w) return;
  free(w->mem);
  free(w->y);
  free(w->ptrs);
  free(w);
}

leap_status NM(lp_tws_create)(const lp_tlayout *L, int batch, NM(lp_tws) **out) {
  *out = NULL;
  if (batch < 1) return lp_error(LEAP_ERR_INVALID_ARG, "train: batch %d must be >= 1", batch);
  NM(lp_tws) *w = lp_calloc(1, sizeof *w);
  if (!w) return lp_error(LEAP_ERR_NOMEM, "train: out of memory");
  w->L = L;
  w->cap = batch;
  /* B: groups (conditioning rows); BT: token rows */
  const size_t B = (size_t)batch * L->K, D = L->D, F = L->F, T = L->T, cpp = L->cpp;
  const size_t BT = (size_t)batch * L->frames * T;
  const int depth = L->a.depth;
  /* Two passes over the same list: the first sums the sizes, the second
   * hands out pointers into one allocation. */
  enum { PER_BLOCK = 15 };
  w->ptrs = lp_calloc((size_t)depth * PER_BLOCK, sizeof(real *));
  w->y = lp_calloc(B, sizeof(int32_t));
  if (!w->ptrs || !w->y) {
    NM(lp_tws_free)(w);
    return lp_error(LEAP_ERR_NOMEM, "train: out of memory");
  }
  real ***tabs[PER_BLOCK] = {&w->hin, &w->mod,  &w->mean1, &w->rstd1, &w->a1,
                             &w->qkv, &w->att,  &w->proj,  &w->hmid,  &w->mean2,
                             &w->rstd2, &w->a2, &w->fc1,   &w->gel,   &w->fc2};
  const size_t blk_sz[PER_BLOCK] = {BT * D, B * 6 * D, BT, BT, BT * D, BT * 3 * D, BT * D, BT * D,
                                    BT * D, BT, BT, BT * D, BT * F, BT * F, BT * D};
  for (int k = 0; k < PER_BLOCK; k++) *tabs[k] = w->ptrs + (size_t)k * depth;
  struct {
    real **p;
    size_t n;
  } flat[] = {{&w->temb, B * LP_TRAIN_FREQ_DIM}, {&w->t1pre, B * D}, {&w->t1, B * D},
              {&w->c, B * D}, {&w->sc, B * D}, {&w->patches, BT * cpp}, {&w->hL, BT * D},
              {&w->fmod, B * 2 * D}, {&w->meanf, BT}, {&w->rstdf, BT}, {&w->af, BT * D},
              {&w->fout, BT * cpp}, {&w->dh, BT * D}, {&w->dt, BT * D}, {&w->dt2, BT * D},
              {&w->dqkv, BT * 3 * D}, {&w->dF, BT * F}, {&w->dmod, B * 6 * D}, {&w->dsc, B * D},
              {&w->dsct, B * D}, {&w->dc, B * D}, {&w->dt1, B * D}, {&w->dfout, BT * cpp}};
  const size_t nflat = sizeof flat / sizeof *flat;
  size_t total = 0;
  for (size_t i = 0; i < nflat; i++) total += flat[i].n;
  for (int k = 0; k < PER_BLOCK; k++) total += blk_sz[k] * depth;
  w->mem = lp_malloc(total * sizeof(real));
  if (!w->mem) {
    NM(lp_tws_free)(w);
    return lp_error(LEAP_ERR_NOMEM, "train: out of memory for the activations of batch %d "
                    "(%.1f MiB)", batch, (double)total * sizeof(real) / 1048576.0);
  }
  real *p = w->mem;
  for (size_t i = 0; i < nflat; i++) {
    *flat[i].p = p;
    p += flat[i].n;
  }
  for (int k = 0; k < PER_BLOCK; k++)
    for (int l = 0; l < depth; l++, p += blk_sz[k]) (*tabs[k])[l] = p;
  *out = w;
  return LEAP_OK;
}

leap_status NM(lp_tdit_forward)(NM(lp_tws) *w, const real *P, int B, const real *x,
                                const real *t, const int32_t *y, real *out) {
  const lp_tlayout *L = w->L;
  const int D = L->D, F = L->F, T = L->T, C = L->a.in_channels, p = L->a.patch;
  const int Hh = L->a.input_size, cpp = L->cpp, K = L->a.num_classes;
  if (B < 1 || B > w->cap)
    return lp_error(LEAP_ERR_INVALID_ARG, "train forward: batch %d outside 1..%d", B, w->cap);
  /* NF frames; G conditioning groups of Tg tokens; attention over
   * sequences of S tokens (a clip) in chunks of Tg. An image: NF = G = B,
   * Tg = S = T. */
  const int NF = B * L->frames, G = B * L->K, Tg = L->Fc * T, S = L->frames * T, BT = NF * T;
  if (K > 0) {
    for (int b = 0; b < B; b++)
      if (y[b] < 0 || y[b] > K)
        return lp_error(LEAP_ERR_INVALID_ARG, "train forward: label %d of image %d outside 0..%d",
                        (int)y[b], b, K);
    for (int g = 0; g < G; g++) w->y[g] = y[g / L->K];
  }
  w->B = B;
  leap_status s;
  /* conditioning: c = MLP(timestep features) + class row; sc = silu(c) */
  NM(lp_top_timestep_features)(G, t, w->temb);
  NM(lp_top_linear_fwd)(G, D, LP_TRAIN_FREQ_DIM, w->temb, P + L->t_w0, P + L->t_b0, w->t1pre);
  NM(lp_top_silu_fwd)((size_t)G * D, w->t1pre, w->t1);
  NM(lp_top_linear_fwd)(G, D, D, w->t1, P + L->t_w2, P + L->t_b2, w->c);
  if (K > 0) NM(lp_top_embed_fwd)(G, D, P + L->y_tab, w->y, w->c);
  NM(lp_top_silu_fwd)((size_t)G * D, w->c, w->sc);
  /* patch embedding (conv p x p stride p as im2col + GEMM) + fixed pos_embed */
  real *h = w->hin[0];
  NM(lp_top_im2col)(NF, C, Hh, p, x, w->patches);
  NM(lp_top_linear_fwd)(BT, D, cpp, w->patches, P + L->x_w, P + L->x_b, h);
  const real *pos = P + L->pos;
#pragma omp parallel for schedule(static) PAR_IF((size_t)BT * D)
  for (int r = 0; r < BT; r++)
    for (int d = 0; d < D; d++) h[(size_t)r * D + d] += pos[(size_t)(r % T) * D + d];

  for (int l = 0; l < L->a.depth; l++) {
    const lp_tblock_off *o = &L->blk[l];
    real *mod = w->mod[l], *hout = l + 1 < L->a.depth ? w->hin[l + 1] : w->hL;
    /* mod = [shift_msa, scale_msa, gate_msa, shift_mlp, scale_mlp, gate_mlp] */
    NM(lp_top_linear_fwd)(G, 6 * D, D, w->sc, P + o->ada_w, P + o->ada_b, mod);
    NM(lp_top_ln_mod_fwd)(G, Tg, D, w->hin[l], mod, mod + D, 6 * D, w->a1[l], w->mean1[l],
                          w->rstd1[l]);
    NM(lp_top_linear_fwd)(BT, 3 * D, D, w->a1[l], P + o->qkv_w, P + o->qkv_b, w->qkv[l]);
    /* qkv is kept after the rotation: the attention's backward reads it,
     * the qkv linear's backward does not */
    if (L->video)
      NM(lp_top_rope_fwd)(BT, S, T, D, L->a.heads, L->rope_cos, L->rope_sin, w->qkv[l]);
    if ((s = NM(lp_top_battn_fwd)(B, S, Tg, D, L->a.heads, w->qkv[l], w->att[l]))) return s;
    NM(lp_top_linear_fwd)(BT, D, D, w->att[l], P + o->proj_w, P + o->proj_b, w->proj[l]);
    memcpy(w->hmid[l], w->hin[l], (size_t)BT * D * sizeof(real));
    NM(lp_top_gated_add_fwd)(G, Tg, D, w->proj[l], mod + 2 * D, 6 * D, w->hmid[l]);
    NM(lp_top_ln_mod_fwd)(G, Tg, D, w->hmid[l], mod + 3 * D, mod + 4 * D, 6 * D, w->a2[l],
                          w->mean2[l], w->rstd2[l]);
    NM(lp_top_linear_fwd)(BT, F, D, w->a2[l], P + o->fc1_w, P + o->fc1_b, w->fc1[l]);
    NM(lp_top_gelu_fwd)((size_t)BT * F, w->fc1[l], w->gel[l]);
    NM(lp_top_linear_fwd)(BT, D, F, w->gel[l], P + o->fc2_w, P + o->fc2_b, w->fc2[l]);
    memcpy(hout, w->hmid[l], (size_t)BT * D * sizeof(real));
    NM(lp_top_gated_add_fwd)(G, Tg, D, w->fc2[l], mod + 5 * D, 6 * D, hout);
  }

  /* final layer: [shift, scale] = Linear(silu(c)); Linear(modulate(LN(h))) */
  NM(lp_top_linear_fwd)(G, 2 * D, D, w->sc, P + L->f_ada_w, P + L->f_ada_b, w->fmod);
  NM(lp_top_ln_mod_fwd)(G, Tg, D, w->hL, w->fmod, w->fmod + D, 2 * D, w->af, w->meanf, w->rstdf);
  NM(lp_top_linear_fwd)(BT, cpp, D, w->af, P + L->f_w, P + L->f_b, w->fout);
  NM(lp_top_unpatchify_fwd)(NF, C, Hh, p, w->fout, out);
  return LEAP_OK;
}

static void NM(add_into)(size_t n, const real *a, real *y) {
  for (size_t i = 0; i < n; i++) y[i] += a[i];
}

leap_status NM(lp_tdit_backward)(NM(lp_tws) *w, const real *P, const real *dout, real *G) {
  const lp_tlayout *L = w->L;
  const int Bc = w->B, D = L->D, F = L->F, T = L->T, C = L->a.in_channels, p = L->a.patch;
  const int Hh = L->a.input_size, cpp = L->cpp;
  if (Bc < 1) return lp_error(LEAP_ERR_INVALID_ARG, "train backward: no forward pass to go back through");
  /* as in the forward; B here counts conditioning groups */
  const int NF = Bc * L->frames, B = Bc * L->K, Tg = L->Fc * T, S = L->frames * T, BT = NF * T;
  leap_status s;
  const size_t nBD = (size_t)B * D, nBTD = (size_t)BT * D;

  /* final layer */
  NM(lp_top_unpatchify_bwd)(NF, C, Hh, p, dout, w->dfout);
  NM(lp_top_linear_bwd)(BT, cpp, D, w->af, P + L->f_w, w->dfout, w->dt, G + L->f_w, G + L->f_b);
  memset(w->dh, 0, nBTD * sizeof(real));
  memset(w->dmod, 0, (size_t)B * 2 * D * sizeof(real));
  NM(lp_top_ln_mod_bwd)(B, Tg, D, w->hL, w->fmod + D, 2 * D, w->meanf, w->rstdf, w->dt, w->dh,
                        w->dmod, w->dmod + D);
  NM(lp_top_linear_bwd)(B, 2 * D, D, w->sc, P + L->f_ada_w, w->dmod, w->dsc, G + L->f_ada_w,
                        G + L->f_ada_b);

  for (int l = L->a.depth - 1; l >= 0; l--) {
    const lp_tblock_off *o = &L->blk[l];
    const real *mod = w->mod[l];
    memset(w->dmod, 0, (size_t)B * 6 * D * sizeof(real));
    /* MLP branch: hout = hmid + gate_mlp * fc2(gelu(fc1(a2))) */
    NM(lp_top_gated_add_bwd)(B, Tg, D, w->fc2[l], mod + 5 * D, 6 * D, w->dh, w->dt, w->dmod + 5 * D);
    NM(lp_top_linear_bwd)(BT, D, F, w->gel[l], P + o->fc2_w, w->dt, w->dF, G + o->fc2_w, G + o->fc2_b);
    NM(lp_top_gelu_bwd)((size_t)BT * F, w->fc1[l], w->dF, w->dF);
    NM(lp_top_linear_bwd)(BT, F, D, w->a2[l], P + o->fc1_w, w->dF, w->dt, G + o->fc1_w, G + o->fc1_b);
    NM(lp_top_ln_mod_bwd)(B, Tg, D, w->hmid[l], mod + 4 * D, 6 * D, w->mean2[l], w->rstd2[l], w->dt,
                          w->dh, w->dmod + 3 * D, w->dmod + 4 * D);
    /* attention branch: hmid = hin + gate_msa * proj(attn(qkv(a1))) */
    NM(lp_top_gated_add_bwd)(B, Tg, D, w->proj[l], mod + 2 * D, 6 * D, w->dh, w->dt, w->dmod + 2 * D);
    NM(lp_top_linear_bwd)(BT, D, D, w->att[l], P + o->proj_w, w->dt, w->dt2, G + o->proj_w,
                          G + o->proj_b);
    if ((s = NM(lp_top_battn_bwd)(Bc, S, Tg, D, L->a.heads, w->qkv[l], w->dt2, w->dqkv))) return s;
    if (L->video)
      NM(lp_top_rope_bwd)(BT, S, T, D, L->a.heads, L->rope_cos, L->rope_sin, w->dqkv);
    NM(lp_top_linear_bwd)(BT, 3 * D, D, w->a1[l], P + o->qkv_w, w->dqkv, w->dt, G + o->qkv_w,
                          G + o->qkv_b);
    NM(lp_top_ln_mod_bwd)(B, Tg, D, w->hin[l], mod + D, 6 * D, w->mean1[l], w->rstd1[l], w->dt,
                          w->dh, w->dmod, w->dmod + D);
    /* adaLN: mod = Linear(sc) */
    NM(lp_top_linear_bwd)(B, 6 * D, D, w->sc, P + o->ada_w, w->dmod, w->dsct, G + o->ada_w,
                          G + o->ada_b);
    NM(add_into)(nBD, w->dsct, w->dsc);
  }

  /* patch embedding (pos_embed is fixed: no gradient) */
  NM(lp_top_linear_bwd)(BT, D, cpp, w->patches, P + L->x_w, w->dh, NULL, G + L->x_w, G + L->x_b);
  /* conditioning */
  NM(lp_top_silu_bwd)(nBD, w->c, w->dsc, w->dc);
  if (L->a.num_classes > 0) NM(lp_top_embed_bwd)(B, D, w->y, w->dc, G + L->y_tab);
  NM(lp_top_linear_bwd)(B, D, D, w->t1, P + L->t_w2, w->dc, w->dt1, G + L->t_w2, G + L->t_b2);
  NM(lp_top_silu_bwd)(nBD, w->t1pre, w->dt1, w->dt1);
  NM(lp_top_linear_bwd)(B, D, LP_TRAIN_FREQ_DIM, w->temb, P + L->t_w0, w->dt1, NULL, G + L->t_w0,
                        G + L->t_b0);
  return LEAP_OK;
}
