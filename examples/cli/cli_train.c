/* cli_train.c - `leap train`: trains a DiT on the CPU (models/train.h) on
 * Fashion-MNIST or an image folder, writing checkpoints that `leap sample`
 * loads directly, and a state file to resume from.
 *
 * Every file is written atomically (temporary + rename). Ctrl-C finishes the
 * step in progress, writes nothing, and exits 130: the last complete
 * checkpoint stays intact. */
#define _POSIX_C_SOURCE 200809L
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_args.h"
#include "interrupt.h"
#include "data_moving_fmnist.h"
#include "dataset.h"
#include "error.h"
#include "output.h"
#include "progress.h"
#include "train.h"

typedef struct train_opts {
  lp_train_cfg cfg;
  const char *data, *objective, *out, *resume, *dtype, *arch, *init;
  int steps_given, data_given, lr_given, model_opts_given, patch_given, arch_given;
  int save_every, threads, quiet;
  leap_dtype save_dtype;
} train_opts;

void cli_train_help(FILE *out) {
  lp_train_cfg d = lp_train_cfg_default();
  fprintf(out,
      "usage: leap train [OPTIONS]\n"
      "\n"
      "Trains a class-conditional DiT on the CPU (AdamW, EMA, MSE loss) and writes\n"
      "checkpoints that 'leap sample --model' loads.\n"
      "\n"
      "data and model:\n"
      "  --arch NAME          dit (default: images) or video_dit (moving Fashion-MNIST\n"
      "                       clips, %dx%d canvas; Diffusion Forcing: an independent\n"
      "                       noise level per chunk, block-causal attention)\n"
      "  --data SPEC          fashion-mnist (default), fashion-mnist:test, or a folder\n"
      "                       of images with one subfolder per class; for video_dit the\n"
      "                       garments the clips move (28x28, one channel)\n"
      "  --clip-frames N      video_dit: frames per training clip, 1..%d (default %d)\n"
      "  --frames-per-chunk N video_dit: frames per chunk, dividing the clip (default 4)\n"
      "  --hidden N           hidden size (default 128)\n"
      "  --depth N            transformer blocks (default 6)\n"
      "  --heads N            attention heads (default 4)\n"
      "  --patch N            patch size (default 2; 4 for video_dit)\n"
      "  --mlp-ratio R        MLP width / hidden (default 4)\n"
      "  --objective NAME     flow_v (default: rectified flow, logit-normal t) or eps\n"
      "                       (VP linear betas, t uniform in 0..999)\n"
      "\n"
      "optimisation:\n"
      "  --batch N            images (clips) per step (default %d)\n"
      "  --steps N            total steps (default %d)\n"
      "  --lr X               AdamW learning rate (default %g)\n"
      "  --warmup N           linear warm-up steps (default 0)\n"
      "  --weight-decay X     decoupled weight decay on matrices (default 0)\n"
      "  --clip X             global gradient-norm clip, 0 = off (default %g)\n"
      "  --ema X              EMA decay of the weights (default %g)\n"
      "  --label-dropout P    probability a label becomes the null class, for\n"
      "                       classifier-free guidance (default %g)\n"
      "  --seed S             weights, batches and noise (default 0)\n"
      "\n"
      "files:\n"
      "  --out PREFIX         checkpoint prefix (default dit): PREFIX_step%%06d.safetensors\n"
      "                       (the weights), PREFIX_ema.safetensors (the EMA weights),\n"
      "                       PREFIX_state.safetensors (everything to resume)\n"
      "  --save-every K       write the three files every K steps and at the end\n"
      "                       (default 1000)\n"
      "  --dtype f32|f16      weight dtype of the model checkpoints (default f32;\n"
      "                       the state is always f32)\n"
      "  --resume STATE       continue from a state file; the model and optimiser\n"
      "                       settings come from it (only --steps, --lr, --data,\n"
      "                       --out, --save-every, --dtype, --threads, --quiet may\n"
      "                       be given; --lr continues at that rate from here on)\n"
      "  --init MODEL         start from a model file's weights (its EMA too) with a\n"
      "                       fresh optimiser at step 0: a fine-tune; the architecture\n"
      "                       (and a video DiT's clip geometry) comes from the file,\n"
      "                       the optimisation options from the command line\n"
      "\n"
      "  --threads N          CPU threads (default: OpenMP's)\n"
      "  --quiet              no progress line or log lines\n"
      "\n"
      "A progress line (step, loss, samples/s, ETA) is shown on stderr when it\n"
      "is a terminal. Ctrl-C finishes the current step and exits 130 without\n"
      "writing; the last complete checkpoint stays intact.\n",
      LP_MFMNIST_CANVAS, LP_MFMNIST_CANVAS, LP_MFMNIST_TRAIN_FRAMES, LP_MFMNIST_TRAIN_FRAMES,
      d.batch, d.steps, d.lr, d.clip, d.ema, d.label_dropout);
}

static int parse_opts(int argc, char **argv, train_opts *o) {
  memset(o, 0, sizeof *o);
  o->cfg = lp_train_cfg_default();
  lp_train_cfg *c = &o->cfg;
  c->arch = (lp_dit_arch){.patch = 2, .hidden = 128, .depth = 6, .heads = 4, .mlp_ratio = 4.0};
  o->data = "fashion-mnist";
  o->objective = "flow_v";
  o->out = "dit";
  o->dtype = "f32";
  o->arch = "dit";
  o->save_every = 1000;
  c->clip_frames = LP_MFMNIST_TRAIN_FRAMES;
  c->frames_per_chunk = 4;
  cli_args a;
  cli_args_init(&a, argc, argv, cli_train_help);
  while (cli_next(&a)) {
    /* options that fix the architecture: from the model file with --init */
    if (cli_opt_int(&a, "--hidden", 4, 65536, &c->arch.hidden) || cli_opt_int(&a, "--depth", 1, 1000, &c->arch.depth) ||
        cli_opt_int(&a, "--heads", 1, 4096, &c->arch.heads) || cli_opt_str(&a, "--arch", &o->arch) ||
        cli_opt_int(&a, "--clip-frames", 1, LP_MFMNIST_TRAIN_FRAMES, &c->clip_frames) ||
        cli_opt_int(&a, "--frames-per-chunk", 1, LP_MFMNIST_TRAIN_FRAMES, &c->frames_per_chunk) ||
        cli_opt_double(&a, "--mlp-ratio", 0.01, 64, &c->arch.mlp_ratio) ||
        cli_opt_str(&a, "--objective", &o->objective)) {
      o->arch_given++, o->model_opts_given++;
      continue;
    }
    if (cli_opt_int(&a, "--patch", 1, 1024, &c->arch.patch)) {
      o->patch_given = 1, o->arch_given++, o->model_opts_given++;
      continue;
    }
    /* ... and the optimiser's: both are the state's with --resume */
    if (cli_opt_int(&a, "--batch", 1, 1 << 20, &c->batch) || cli_opt_int(&a, "--warmup", 0, 1 << 30, &c->warmup) ||
        cli_opt_double(&a, "--weight-decay", 0, 10, &c->weight_decay) ||
        cli_opt_double(&a, "--clip", 0, 1e12, &c->clip) || cli_opt_double(&a, "--ema", 0, 1, &c->ema) ||
        cli_opt_double(&a, "--label-dropout", 0, 1, &c->label_dropout) || cli_opt_u64(&a, "--seed", &c->seed)) {
      o->model_opts_given++;
      continue;
    }
    /* --lr may also continue a resumed run at another rate (a step decay) */
    if (cli_opt_double(&a, "--lr", 0, 10, &c->lr)) {
      o->lr_given = 1;
      continue;
    }
    /* options of this invocation */
    if (cli_opt_int(&a, "--steps", 0, 1 << 30, &c->steps)) {
      o->steps_given = 1;
      continue;
    }
    if (cli_opt_str(&a, "--data", &o->data)) {
      o->data_given = 1;
      continue;
    }
    if (cli_opt_str(&a, "--out", &o->out)) continue;
    if (cli_opt_int(&a, "--save-every", 1, 1 << 30, &o->save_every)) continue;
    if (cli_opt_str(&a, "--dtype", &o->dtype)) continue;
    if (cli_opt_str(&a, "--resume", &o->resume)) continue;
    if (cli_opt_str(&a, "--init", &o->init)) continue;
    if (cli_opt_int(&a, "--threads", 0, 4096, &o->threads)) continue;
    if (cli_opt_flag(&a, "--quiet", &o->quiet)) continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  if (!strcmp(o->arch, "video_dit")) {
    if (!o->patch_given) c->arch.patch = 4;
    if (c->clip_frames % c->frames_per_chunk)
      return cli_usage_error(a.cmd, "--clip-frames %d is not whole chunks of --frames-per-chunk %d",
                             c->clip_frames, c->frames_per_chunk);
    if ((c->arch.hidden / c->arch.heads) % 2)
      return cli_usage_error(a.cmd, "video_dit: --hidden / --heads must be even (the rotary embedding pairs them)");
  } else if (strcmp(o->arch, "dit") != 0) {
    return cli_usage_error(a.cmd, "--arch: '%s' is not dit or video_dit", o->arch);
  } else {
    c->clip_frames = c->frames_per_chunk = 0; /* an image DiT */
  }
  if (lp_objective_from_name(o->objective, &c->objective) != LEAP_OK)
    return cli_usage_error(a.cmd, "--objective: '%s' is not flow_v or eps", o->objective);
  if (!strcmp(o->dtype, "f32")) o->save_dtype = LEAP_F32;
  else if (!strcmp(o->dtype, "f16")) o->save_dtype = LEAP_F16;
  else return cli_usage_error(a.cmd, "--dtype: '%s' is not f32 or f16", o->dtype);
  if (!o->out[0]) return cli_usage_error(a.cmd, "--out: empty prefix");
  if (o->init && o->resume)
    return cli_usage_error(a.cmd, "--init starts a run from a model's weights, --resume continues one: "
                                  "give one of them");
  if (o->init && o->arch_given)
    return cli_usage_error(a.cmd, "with --init the architecture comes from the model file; --arch, "
                                  "--hidden, --depth, --heads, --patch, --mlp-ratio, --objective, "
                                  "--clip-frames and --frames-per-chunk may not be given");
  if (o->resume && o->model_opts_given)
    return cli_usage_error(a.cmd, "with --resume the model and optimiser settings come from the "
                                  "state file; only --steps, --lr, --data, --out, --save-every, "
                                  "--dtype, --threads and --quiet may be given");
  if (c->arch.hidden % c->arch.heads)
    return cli_usage_error(a.cmd, "--hidden %d is not divisible by --heads %d", c->arch.hidden,
                           c->arch.heads);
  if (c->arch.hidden % 4)
    return cli_usage_error(a.cmd, "--hidden %d must be a multiple of 4 (2-D sin-cos positions)",
                           c->arch.hidden);
  return -1;
}


/* The three files of a checkpoint as one unit (lp_trainer_save_checkpoint):
 * a failed or interrupted save leaves the previous checkpoint whole. */
static leap_status save_all(const train_opts *o, const lp_trainer *t) {
  /* the weights started from are an input of every weight file, as a resumed state is */
  return lp_trainer_save_checkpoint(t, o->out, o->save_dtype, o->resume ? o->resume : o->init);
}

/* The output rule (core/output.h) for the files every save replaces, before
 * any training: a refused name costs nothing. */
static leap_status check_outputs(const train_opts *o) {
  lp_train_paths p;
  lp_trainer_checkpoint_paths(o->out, 0, &p);
  const char *in[2];
  int n_in = 0;
  if (o->resume) in[n_in++] = o->resume;
  if (o->init) in[n_in++] = o->init;
  leap_status s = lp_out_check(p.ema, LP_OUT_CHECKPOINT, in, n_in);
  if (s == LEAP_OK) s = lp_out_check(p.state, LP_OUT_TRAIN_STATE, NULL, 0);
  return s;
}

static void progress_line(const lp_trainer *t, int first, double start, int steps) {
  const double el = cli_now() - start, done = t->step - first;
  const double rate = el > 0 ? done / el : 0;
  const double eta = rate > 0 ? (steps - t->step) / rate : 0;
  fprintf(stderr, "\rstep %d/%d  loss %.4f  %.1f samples/s  ETA %.0fs\033[K", t->step, steps,
          t->loss, rate * t->cfg.batch, eta);
  fflush(stderr);
}

static int train_loop(const train_opts *o, lp_trainer *t, const lp_dataset *data) {
  const int steps = t->cfg.steps, first = t->step;
  const int tty = !o->quiet && isatty(STDERR_FILENO);
  double start = cli_now(), last_draw = 0;
  leap_status s;
  while (t->step < steps) {
    if (cli_interrupted()) {
      if (tty) fputc('\n', stderr);
      fprintf(stderr, "leap: interrupted at step %d; nothing written since the last checkpoint\n",
              t->step);
      return CLI_EXIT_INTERRUPTED;
    }
    if ((s = lp_trainer_step(t, data))) {
      if (tty) fputc('\n', stderr);
      return cli_fail(s);
    }
    const int save = t->step % o->save_every == 0 || t->step == steps;
    if (save && !cli_interrupted()) {
      if ((s = save_all(o, t))) {
        if (tty) fputc('\n', stderr);
        if (s == LEAP_ERR_INTERRUPTED) {
          fprintf(stderr, "leap: interrupted while saving step %d; the last complete checkpoint is intact\n",
                  t->step);
          return CLI_EXIT_INTERRUPTED;
        }
        return cli_fail(s);
      }
      if (!o->quiet) {
        if (tty) fprintf(stderr, "\r\033[K");
        printf("step %d  loss %.5f  grad norm %.3g  lr %.3g  -> %s_step%06d.safetensors\n",
               t->step, t->loss, t->grad_norm, t->lr_now, o->out, t->step);
        fflush(stdout);
      }
    }
    if (tty && (cli_now() - last_draw > 0.2 || t->step == steps)) {
      progress_line(t, first, start, steps);
      last_draw = cli_now();
    }
  }
  if (tty) fputc('\n', stderr);
  const double el = cli_now() - start;
  if (!o->quiet && t->step > first)
    printf("%d steps in %.1f s: %.1f samples/s (batch %d, %d threads)\n", t->step - first, el,
           el > 0 ? (t->step - first) * (double)t->cfg.batch / el : 0.0, t->cfg.batch,
           omp_get_max_threads());
  return CLI_EXIT_OK;
}

static int train(train_opts *o) {
  if (o->threads > 0) omp_set_num_threads(o->threads);
  leap_status s = check_outputs(o);
  if (s != LEAP_OK) return cli_fail(s);
  cli_interrupt_install();
  lp_trainer *t = NULL;
  lp_dataset data;
  memset(&data, 0, sizeof data);
  const char *spec = o->data;
  if (o->init && (s = lp_train_cfg_from_model(o->init, &o->cfg))) return cli_fail(s);
  if (o->resume) {
    if ((s = lp_trainer_resume(o->resume, &t))) return cli_fail(s);
    if (o->steps_given) t->cfg.steps = o->cfg.steps;
    if (o->lr_given) t->cfg.lr = o->cfg.lr;
    if (o->data_given) snprintf(t->cfg.data, sizeof t->cfg.data, "%s", o->data);
    spec = t->cfg.data;
  }
  if ((s = lp_dataset_load(spec, &data))) {
    lp_trainer_destroy(t);
    return cli_fail(s);
  }
  if (!t && o->cfg.clip_frames > 0) {
    /* the video DiT: clips of the garments on the moving Fashion-MNIST canvas */
    lp_train_cfg *c = &o->cfg;
    c->arch.input_size = LP_MFMNIST_CANVAS;
    c->arch.in_channels = 1;
    c->arch.num_classes = data.num_classes;
    snprintf(c->data, sizeof c->data, "%s", spec);
    if (LP_MFMNIST_CANVAS % c->arch.patch) {
      lp_dataset_free(&data);
      return cli_usage_error("train", "--patch %d does not divide the %d-pixel frames", c->arch.patch,
                             LP_MFMNIST_CANVAS);
    }
    if ((s = lp_trainer_create(c, &t))) {
      lp_dataset_free(&data);
      return cli_fail(s);
    }
  }
  if (!t) {
    lp_train_cfg *c = &o->cfg;
    if (data.height != data.width) {
      lp_dataset_free(&data);
      return cli_fail(lp_error(LEAP_ERR_UNSUPPORTED, "%s: images are %dx%d; the DiT needs square images",
                               spec, data.height, data.width));
    }
    c->arch.input_size = data.height;
    c->arch.in_channels = data.channels;
    c->arch.num_classes = data.num_classes;
    snprintf(c->data, sizeof c->data, "%s", spec);
    if (data.height % c->arch.patch) {
      const int size = data.height; /* lp_dataset_free clears data */
      lp_dataset_free(&data);
      return cli_usage_error("train", "--patch %d does not divide the image size %d", c->arch.patch, size);
    }
    if ((s = lp_trainer_create(c, &t))) {
      lp_dataset_free(&data);
      return cli_fail(s);
    }
  }
  int code;
  if (o->init && (s = lp_trainer_load_weights(t, o->init))) {
    code = cli_fail(s);
  } else if ((s = lp_trainer_check_data(t, &data))) {
    code = cli_fail(s);
  } else {
    if (!o->quiet && t->L.video)
      printf("training a video DiT (%lld parameters, hidden %d, depth %d, patch %d) on moving clips of %s "
             "garments: %d frames of %dx%d in chunks of %d, %d classes; %s per chunk, batch %d clips, "
             "steps %d..%d\n",
             (long long)t->L.total, t->cfg.arch.hidden, t->cfg.arch.depth, t->cfg.arch.patch, spec,
             t->L.frames, t->cfg.arch.input_size, t->cfg.arch.input_size, t->L.Fc, t->cfg.arch.num_classes,
             lp_objective_name(t->cfg.objective), t->cfg.batch, t->step, t->cfg.steps);
    else if (!o->quiet)
      printf("training a DiT (%lld parameters, hidden %d, depth %d, patch %d) on %s: %d images "
             "%dx%dx%d, %d classes; %s, batch %d, steps %d..%d\n",
             (long long)t->L.total, t->cfg.arch.hidden, t->cfg.arch.depth, t->cfg.arch.patch,
             spec, data.n, data.channels, data.height, data.width, data.num_classes,
             lp_objective_name(t->cfg.objective), t->cfg.batch, t->step, t->cfg.steps);
    fflush(stdout);
    code = train_loop(o, t, &data);
  }
  lp_trainer_destroy(t);
  lp_dataset_free(&data);
  return code;
}

int cli_train_main(int argc, char **argv) {
  train_opts o;
  int code = parse_opts(argc, argv, &o);
  if (code < 0) code = train(&o);
  return code;
}
