/* cli_distill.c - `leap distill`: distils a flow-matching DiT teacher into a
 * one-step student on the CPU, by DMD2's distribution matching (--method
 * dmd, the baseline) or DisBack (--method disback: a degradation path is
 * recorded first and the target walks it backwards to the teacher).
 *
 * Files in --out DIR: student.safetensors (a normal leap model: `leap sample
 * --steps 1` runs it), log.jsonl (one JSON line per iteration, with FD when
 * measured), state.safetensors (everything to resume: distill/
 * distill_state.h), and for DisBack path/ (the degradation checkpoints and
 * their manifest path.json). The student, the log and the state are saved
 * every --save-every K iterations, at the end and on Ctrl-C (the state of
 * the last finished iteration), the state landing last; --resume DIR goes
 * on from it, bit for bit as if never stopped. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <math.h>
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "alloc.h"
#include "classifier.h"
#include "cli.h"
#include "cli_args.h"
#include "dataset.h"
#include "default_model.h"
#include "distill_log.h"
#include "distill_state.h"
#include "distill_train.h"
#include "error.h"
#include "fd_metric.h"
#include "file_write.h"
#include "interrupt.h"
#include "output.h"
#include "progress.h"

typedef struct distill_opts {
  lp_distill_cfg cfg;
  const char *teacher, *method, *rule, *out, *classifier, *dtype, *resume;
  int eval_every, eval_n, threads, quiet, save_every;
  uint64_t eval_seed;
  leap_dtype save_dtype;
  const char *given[64]; /* the run's settings named on the command line */
  int ngiven;
} distill_opts;

/* Records that setting `name` was given (a resume checks it against the
 * state). Not inlined: one copy of its bound check, not one per option. */
__attribute__((noinline)) static void given(distill_opts *o, const char *name) {
  if (o->ngiven < (int)(sizeof o->given / sizeof *o->given)) o->given[o->ngiven++] = name;
}

static int was_given(const distill_opts *o, const char *name) {
  for (int i = 0; i < o->ngiven; i++)
    if (!strcmp(o->given[i], name)) return 1;
  return 0;
}

void cli_distill_help(FILE *out) {
  lp_distill_cfg d = lp_distill_cfg_default();
  fprintf(out,
      "usage: leap distill --out DIR [OPTIONS]\n"
      "\n"
      "Distils a flow-matching DiT (the teacher) into a one-step generator on the\n"
      "CPU with DMD2's distribution-matching gradient; DisBack first records a\n"
      "degradation path (the teacher fine-tuned on the initial student's samples)\n"
      "and distils towards it backwards, most degraded checkpoint first.\n"
      "\n"
      "  --teacher M          teacher model (default: the shipped model)\n"
      "  --method NAME        disback (default) or dmd (target = the teacher throughout)\n"
      "  --iters N            student updates (default %d)\n"
      "  --batch N            samples per update (default %d)\n"
      "  --lr X               student learning rate (default %g)\n"
      "  --lr-fake X          fake-score (and path) learning rate (default %g)\n"
      "  --fake-updates N     fake-score updates per student update (default %d)\n"
      "  --cfg X              the target's guidance scale (default %g)\n"
      "  --t-min X, --t-max X noise levels of the matching (default %g..%g)\n"
      "  --seed S             noise, labels and initialisation streams (default 0)\n"
      "\n"
      "DisBack:\n"
      "  --path-checkpoints N degradation checkpoints (default %d)\n"
      "  --path-iters N       fine-tuning steps that record them (default %d)\n"
      "  --switch RULE        interval (default) or converged (fake-score loss settled)\n"
      "  --interval N         iterations per checkpoint with interval (default %d)\n"
      "  --window N, --tolerance X, --min-iters N, --max-iters N\n"
      "                       the converged rule (defaults %d, %g, %d, 0 = no cap)\n"
      "\n"
      "evaluation and files:\n"
      "  --eval-every K       FD of the one-step student against the Fashion-MNIST\n"
      "                       test set every K iterations and at the end (0 = off;\n"
      "                       default 0)\n"
      "  --eval-n N           samples for FD (default 1000), from --eval-seed S\n"
      "                       (default 1000000: disjoint from the training noise)\n"
      "  --classifier C       the FD classifier (default: the shipped one)\n"
      "  --out DIR            output folder (created if missing)\n"
      "  --dtype f32|f16      the student's weights (default f32)\n"
      "  --save-every K       save the student, log.jsonl and state.safetensors (all\n"
      "                       to resume) every K iterations (default 0: only at the\n"
      "                       end and on Ctrl-C)\n"
      "  --resume DIR|STATE   continue the run in DIR from its state.safetensors; the\n"
      "                       settings come from the state (those given must match\n"
      "                       it), --iters may extend the run, the log is appended\n"
      "  --threads N, --quiet\n"
      "\n"
      "A progress line (iteration, losses, it/s, ETA) is shown on stderr when it is a\n"
      "terminal. Ctrl-C stops after the current iteration, writes the student and\n"
      "the state of the last finished iteration, and exits 130.\n",
      d.iters, d.batch, d.lr_student, d.lr_fake, d.fake_updates, d.guidance, d.t_min, d.t_max,
      d.path_checkpoints, d.path_iters, d.schedule.interval, d.schedule.window,
      d.schedule.tolerance, d.schedule.min_iters);
}

static int parse_opts(int argc, char **argv, distill_opts *o) {
  memset(o, 0, sizeof *o);
  o->cfg = lp_distill_cfg_default();
  lp_distill_cfg *c = &o->cfg;
  o->method = "disback";
  o->rule = "interval";
  o->dtype = "f32";
  o->eval_n = 1000;
  o->eval_seed = 1000000;
  cli_args a;
  cli_args_init(&a, argc, argv, cli_distill_help);
  while (cli_next(&a)) {
    /* the settings of the run: a resume checks them against its state */
    if (cli_opt_str(&a, "--teacher", &o->teacher)) continue;
    if (cli_opt_str(&a, "--method", &o->method)) {
      given(o, "method");
      continue;
    }
    if (cli_opt_int(&a, "--iters", 0, 1 << 30, &c->iters)) {
      given(o, "iters");
      continue;
    }
    if (cli_opt_int(&a, "--batch", 2, 4096, &c->batch)) {
      given(o, "batch");
      continue;
    }
    if (cli_opt_double(&a, "--lr", 0, 10, &c->lr_student)) {
      given(o, "lr");
      continue;
    }
    if (cli_opt_double(&a, "--lr-fake", 0, 10, &c->lr_fake)) {
      given(o, "lr-fake");
      continue;
    }
    if (cli_opt_int(&a, "--fake-updates", 1, 100, &c->fake_updates)) {
      given(o, "fake-updates");
      continue;
    }
    if (cli_opt_double(&a, "--cfg", 0, 100, &c->guidance)) {
      given(o, "cfg");
      continue;
    }
    if (cli_opt_double(&a, "--t-min", 1e-6, 1, &c->t_min)) {
      given(o, "t-min");
      continue;
    }
    if (cli_opt_double(&a, "--t-max", 1e-6, 1, &c->t_max)) {
      given(o, "t-max");
      continue;
    }
    if (cli_opt_u64(&a, "--seed", &c->seed)) {
      given(o, "seed");
      continue;
    }
    if (cli_opt_int(&a, "--path-checkpoints", 1, 64, &c->path_checkpoints)) {
      given(o, "path-checkpoints");
      continue;
    }
    if (cli_opt_int(&a, "--path-iters", 1, 1 << 30, &c->path_iters)) {
      given(o, "path-iters");
      continue;
    }
    if (cli_opt_str(&a, "--switch", &o->rule)) {
      given(o, "switch");
      continue;
    }
    if (cli_opt_int(&a, "--interval", 1, 1 << 30, &c->schedule.interval)) {
      given(o, "interval");
      continue;
    }
    if (cli_opt_int(&a, "--window", 1, 1000000, &c->schedule.window)) {
      given(o, "window");
      continue;
    }
    if (cli_opt_double(&a, "--tolerance", 1e-12, 1e6, &c->schedule.tolerance)) {
      given(o, "tolerance");
      continue;
    }
    if (cli_opt_int(&a, "--min-iters", 1, 1 << 30, &c->schedule.min_iters)) {
      given(o, "min-iters");
      continue;
    }
    if (cli_opt_int(&a, "--max-iters", 0, 1 << 30, &c->schedule.max_iters)) {
      given(o, "max-iters");
      continue;
    }
    /* options of this invocation */
    if (cli_opt_int(&a, "--eval-every", 0, 1 << 30, &o->eval_every)) continue;
    if (cli_opt_int(&a, "--eval-n", 2, 1000000, &o->eval_n)) continue;
    if (cli_opt_u64(&a, "--eval-seed", &o->eval_seed)) continue;
    if (cli_opt_str(&a, "--classifier", &o->classifier)) continue;
    if (cli_opt_str(&a, "--out", &o->out)) continue;
    if (cli_opt_str(&a, "--dtype", &o->dtype)) continue;
    if (cli_opt_int(&a, "--save-every", 0, 1 << 30, &o->save_every)) continue;
    if (cli_opt_str(&a, "--resume", &o->resume)) continue;
    if (cli_opt_int(&a, "--threads", 0, 4096, &o->threads)) continue;
    if (cli_opt_flag(&a, "--quiet", &o->quiet)) continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  if (!strcmp(o->method, "dmd")) c->method = LP_DISTILL_DMD;
  else if (!strcmp(o->method, "disback")) c->method = LP_DISTILL_DISBACK;
  else return cli_usage_error(a.cmd, "--method: '%s' is not dmd or disback", o->method);
  if (!strcmp(o->rule, "interval")) c->schedule.rule = LEAP_DISBACK_SWITCH_INTERVAL;
  else if (!strcmp(o->rule, "converged")) c->schedule.rule = LEAP_DISBACK_SWITCH_CONVERGED;
  else return cli_usage_error(a.cmd, "--switch: '%s' is not interval or converged", o->rule);
  if (!strcmp(o->dtype, "f32")) o->save_dtype = LEAP_F32;
  else if (!strcmp(o->dtype, "f16")) o->save_dtype = LEAP_F16;
  else return cli_usage_error(a.cmd, "--dtype: '%s' is not f32 or f16", o->dtype);
  if (!o->resume && (!o->out || !o->out[0])) return cli_usage_error(a.cmd, "--out DIR is required");
  if (o->resume && !o->resume[0]) return cli_usage_error(a.cmd, "--resume: empty path");
  if (!(c->t_min < c->t_max))
    return cli_usage_error(a.cmd, "--t-min %g must be below --t-max %g", c->t_min, c->t_max);
  return -1;
}

/* FD against the test set: its statistics once, the student's per call. */
typedef struct fd_eval {
  lp_classifier *cls;
  int d;
  double *mu_ref, *cov_ref, *mu, *cov;
  float *images;
  int32_t *labels;
} fd_eval;

static void fd_eval_free(fd_eval *e) {
  lp_classifier_destroy(e->cls);
  free(e->mu_ref), free(e->cov_ref), free(e->mu), free(e->cov), free(e->images), free(e->labels);
  memset(e, 0, sizeof *e);
}

static leap_status fd_eval_init(fd_eval *e, const distill_opts *o, int num_classes, size_t img) {
  memset(e, 0, sizeof *e);
  char cpath[4096];
  const char *path = o->classifier;
  leap_status s;
  if (!path) {
    if ((s = cli_default_classifier(cpath, sizeof cpath))) return s;
    path = cpath;
  }
  if ((s = lp_classifier_load(path, &e->cls))) return s;
  e->d = e->cls->arch.hidden;
  const size_t d = (size_t)e->d;
  e->mu_ref = lp_malloc(d * sizeof(double));
  e->cov_ref = lp_malloc(d * d * sizeof(double));
  e->mu = lp_malloc(d * sizeof(double));
  e->cov = lp_malloc(d * d * sizeof(double));
  e->images = lp_malloc((size_t)o->eval_n * img * sizeof(float));
  e->labels = lp_malloc((size_t)o->eval_n * sizeof(int32_t));
  if (!e->mu_ref || !e->cov_ref || !e->mu || !e->cov || !e->images || !e->labels) {
    fd_eval_free(e);
    return lp_error(LEAP_ERR_NOMEM, "distill: out of memory for the evaluation");
  }
  /* labels cycle through the classes, so every class is equally present */
  for (int i = 0; i < o->eval_n; i++) e->labels[i] = num_classes > 0 ? i % num_classes : 0;
  lp_dataset test;
  if ((s = lp_dataset_load("fashion-mnist:test", &test))) {
    fd_eval_free(e);
    return s;
  }
  s = lp_fd_stats(e->cls, test.images, test.n, e->mu_ref, e->cov_ref);
  lp_dataset_free(&test);
  if (s) fd_eval_free(e);
  return s;
}

static leap_status fd_eval_run(fd_eval *e, lp_distill *d, const distill_opts *o, double *fd) {
  leap_status s = lp_distill_generate(d, o->eval_seed, o->eval_n, e->labels, e->images);
  if (s == LEAP_OK) s = lp_fd_stats(e->cls, e->images, o->eval_n, e->mu, e->cov);
  if (s == LEAP_OK) s = lp_fd(e->mu, e->cov, e->mu_ref, e->cov_ref, e->d, fd);
  return s;
}

static int path_progress(void *user, int step, int steps, double loss) {
  cli_progress *p = user;
  if (p->enabled && (cli_now() - p->last_draw > 0.2 || step == steps)) {
    fprintf(stderr, "\rdegradation path: step %d/%d  loss %.4f\033[K", step, steps, loss);
    p->last_draw = cli_now();
    p->drawn = 1;
  }
  return cli_interrupted();
}

static int make_dir(const char *path) {
  if (mkdir(path, 0777) == 0 || errno == EEXIST) {
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) return 1;
  }
  return 0;
}

/* --resume DIR or DIR/state.safetensors: the state file and its folder. */
static int resume_paths(const distill_opts *o, char *state, size_t slen, char *dir, size_t dlen) {
  struct stat st;
  if (stat(o->resume, &st) == 0 && S_ISDIR(st.st_mode)) {
    snprintf(dir, dlen, "%s", o->resume);
    return snprintf(state, slen, "%s/state.safetensors", o->resume) < (int)slen;
  }
  snprintf(state, slen, "%s", o->resume);
  const char *slash = strrchr(o->resume, '/');
  if (!slash) snprintf(dir, dlen, ".");
  else snprintf(dir, dlen, "%.*s", (int)(slash == o->resume ? 1 : slash - o->resume), o->resume);
  return 1;
}

/* A resumed run takes its settings from the state: each one given on the
 * command line must be the state's (a setting the run's method or switch
 * rule does not read is not compared); --iters may extend the run. */
static int merge_resumed(distill_opts *o, const lp_distill_state_info *info, const char *state) {
  for (int i = 0; i < lp_distill_setting_count; i++) {
    const lp_distill_setting *st = &lp_distill_settings[i];
    if (!was_given(o, st->name) || !lp_distill_setting_used(st, &info->cfg) ||
        lp_distill_setting_equal(st, &o->cfg, &info->cfg))
      continue;
    char mine[64], theirs[64];
    lp_distill_setting_format(st, &o->cfg, mine, sizeof mine);
    lp_distill_setting_format(st, &info->cfg, theirs, sizeof theirs);
    return cli_usage_error("distill", "--%s %s differs from the resumed run's %s (%s): a resumed run keeps its "
                           "settings", st->name, mine, theirs, state);
  }
  const int iters = was_given(o, "iters") ? o->cfg.iters : info->cfg.iters;
  if (iters < info->iter)
    return cli_usage_error("distill", "--iters %d: the resumed run is already at iteration %d (%s)", iters,
                           info->iter, state);
  o->cfg = info->cfg;
  o->cfg.iters = iters;
  o->method = lp_distill_method_name(o->cfg.method);
  o->rule = o->cfg.schedule.rule == LEAP_DISBACK_SWITCH_CONVERGED ? "converged" : "interval";
  return -1;
}

/* The files of one run and what they must not replace. */
typedef struct run_files {
  char teacher[4096], dir[4096], student[4200], log[4200], state[4200], path_dir[4200];
  const char *inputs[2];
} run_files;

/* The student, then the log and the state as one unit, the state last:
 * whatever stops a save, the state on disk is a whole earlier one, and the
 * log on disk reaches at least its iteration. */
static leap_status save_run(const run_files *f, lp_distill *d, distill_log *log, leap_dtype dtype,
                            double seconds) {
  leap_status s = lp_distill_save_student(d, f->student, dtype);
  if (s != LEAP_OK) return s;
  lp_out *outs[2] = {NULL, NULL};
  if ((s = distill_log_unit(log, f->inputs, 2, &outs[0])) ||
      (s = lp_distill_state_unit(d, f->state, seconds, f->inputs, 2, &outs[1]))) {
    lp_out_abort(outs[0]);
    return s;
  }
  if ((s = lp_out_commit_all(outs, 2)) == LEAP_OK) log->landed = log->text.len;
  return s;
}

static void log_header(distill_log *log, const distill_opts *o) {
  distill_log_printf(log,
              "{\"distill\": 1, \"method\": \"%s\", \"batch\": %d, \"iters\": %d, \"lr\": %g, "
              "\"lr_fake\": %g, \"fake_updates\": %d, \"cfg\": %g, \"t_min\": %g, \"t_max\": %g, "
              "\"path_checkpoints\": %d, \"path_iters\": %d, \"switch\": \"%s\", \"interval\": %d, "
              "\"seed\": %llu, \"eval_n\": %d, \"eval_seed\": %llu}\n",
              lp_distill_method_name(o->cfg.method), o->cfg.batch, o->cfg.iters, o->cfg.lr_student,
              o->cfg.lr_fake, o->cfg.fake_updates, o->cfg.guidance, o->cfg.t_min, o->cfg.t_max,
              o->cfg.method == LP_DISTILL_DISBACK ? o->cfg.path_checkpoints : 0,
              o->cfg.method == LP_DISTILL_DISBACK ? o->cfg.path_iters : 0, o->rule,
              o->cfg.schedule.interval, (unsigned long long)o->cfg.seed, o->eval_n,
              (unsigned long long)o->eval_seed);
}

/* Every output against the inputs before any work (core/output.h). */
static leap_status check_outputs(const distill_opts *o, const run_files *f, int resumed) {
  leap_status s;
  if ((s = lp_out_check(f->student, LP_OUT_CHECKPOINT, f->inputs, 2)) ||
      (s = lp_out_check(f->log, LP_OUT_DISTILL_LOG, f->inputs, 2)) ||
      (s = lp_out_check(f->state, LP_OUT_TRAIN_STATE, f->inputs, 2)))
    return s;
  if (o->cfg.method != LP_DISTILL_DISBACK || resumed) return LEAP_OK; /* a resumed run reads its path */
  char name[4300];
  snprintf(name, sizeof name, "%s/path.json", f->path_dir);
  if ((s = lp_out_check(name, LP_OUT_DISBACK_PATH, f->inputs, 2))) return s;
  for (int k = 0; k < o->cfg.path_checkpoints; k++) {
    if (!lp_distill_path_file(f->path_dir, k, name, sizeof name))
      return lp_error(LEAP_ERR_INVALID_ARG, "%s: folder name too long", f->path_dir);
    if ((s = lp_out_check(name, LP_OUT_CHECKPOINT, f->inputs, 2))) return s;
  }
  return LEAP_OK;
}

static int run(distill_opts *o) {
  if (o->threads > 0) omp_set_num_threads(o->threads);
  run_files f;
  memset(&f, 0, sizeof f);
  leap_status s;
  lp_distill_state_info info;
  memset(&info, 0, sizeof info);
  if (o->resume) {
    if (!resume_paths(o, f.state, sizeof f.state, f.dir, sizeof f.dir))
      return cli_usage_error("distill", "--resume: path too long");
    if ((s = lp_distill_state_info_read(f.state, &info))) return cli_fail(s);
    if (o->out && !lp_out_same_file(o->out, f.dir))
      return cli_usage_error("distill", "--out %s: a resumed run goes on in its own folder %s (leave --out out)",
                             o->out, f.dir);
    int code = merge_resumed(o, &info, f.state);
    if (code >= 0) return code;
  } else {
    snprintf(f.dir, sizeof f.dir, "%s", o->out);
    snprintf(f.state, sizeof f.state, "%s/state.safetensors", f.dir);
  }
  if (o->teacher) snprintf(f.teacher, sizeof f.teacher, "%s", o->teacher);
  else if (o->resume) snprintf(f.teacher, sizeof f.teacher, "%s", info.teacher);
  else if ((s = cli_default_model(f.teacher, sizeof f.teacher))) return cli_fail(s);
  if (!o->resume && !make_dir(f.dir))
    return cli_fail(lp_error(LEAP_ERR_IO, "%s: cannot create the folder: %s", f.dir, strerror(errno)));
  cli_interrupt_install();
  snprintf(f.student, sizeof f.student, "%s/student.safetensors", f.dir);
  snprintf(f.log, sizeof f.log, "%s/log.jsonl", f.dir);
  snprintf(f.path_dir, sizeof f.path_dir, "%s/path", f.dir);
  f.inputs[0] = f.teacher;
  f.inputs[1] = o->classifier;
  if ((s = check_outputs(o, &f, o->resume != NULL))) return cli_fail(s);
  lp_distill *d = NULL;
  if ((s = lp_distill_create(f.teacher, &o->cfg, &d))) return cli_fail(s);
  if (o->resume && (s = lp_distill_resume(d, f.state, f.path_dir))) {
    lp_distill_destroy(d);
    return cli_fail(s);
  }
  const lp_trainer *st = lp_distill_student(d);
  const lp_dit_arch *a = &st->cfg.arch;
  fd_eval ev;
  memset(&ev, 0, sizeof ev);
  int code = CLI_EXIT_OK;
  distill_log log;
  distill_log_init(&log, f.log);
  cli_progress prog;
  cli_progress_init(&prog, !o->quiet);
  if (o->eval_every > 0 &&
      (s = fd_eval_init(&ev, o, a->num_classes, (size_t)a->in_channels * a->input_size * a->input_size))) {
    code = cli_fail(s);
    goto done;
  }
  const int first = st->step; /* iterations done before this invocation */
  if (o->resume) {
    if ((s = distill_log_resume(&log, f.log, first))) {
      code = cli_fail(s);
      goto done;
    }
    if (log.text.len == 0) log_header(&log, o); /* the log was lost: a new one */
    distill_log_printf(&log, "{\"event\": \"resume\", \"from_iter\": %d, \"iters\": %d, \"eval_every\": %d, "
                       "\"eval_n\": %d, \"eval_seed\": %llu}\n", first, o->cfg.iters, o->eval_every, o->eval_n,
                       (unsigned long long)o->eval_seed);
  } else {
    log_header(&log, o);
  }
  if (!o->quiet) {
    printf("distilling %s (%lld parameters) into a one-step student: %s, batch %d, %d iterations, "
           "%d fake updates each, guidance %g\n",
           f.teacher, (long long)st->L.total, lp_distill_method_name(o->cfg.method), o->cfg.batch,
           o->cfg.iters, o->cfg.fake_updates, o->cfg.guidance);
    if (o->resume) printf("resuming %s at iteration %d\n", f.state, first);
  }
  fflush(stdout);
  /* the log's seconds run on across resumes */
  const double t0 = cli_now() - (o->resume ? info.seconds : 0.0);
  if (o->cfg.method == LP_DISTILL_DISBACK && !o->resume) {
    if (!make_dir(f.path_dir)) {
      code = cli_fail(lp_error(LEAP_ERR_IO, "%s: cannot create the folder", f.path_dir));
      goto done;
    }
    s = lp_distill_record_path(d, f.path_dir, path_progress, &prog);
    if (prog.drawn) fputc('\n', stderr), prog.drawn = 0;
    if (s == LEAP_ERR_INTERRUPTED) {
      fprintf(stderr, "leap: interrupted while recording the degradation path; no state to resume from\n");
      code = CLI_EXIT_INTERRUPTED;
      goto done;
    }
    if (s) {
      code = cli_fail(s);
      goto done;
    }
    distill_log_printf(&log, "{\"event\": \"path\", \"checkpoints\": %d, \"steps\": %d, \"seconds\": %.3f}\n",
                       o->cfg.path_checkpoints, o->cfg.path_iters, cli_now() - t0);
  }
  double fd = NAN;
  if (o->eval_every > 0 && !o->resume) {
    if ((s = fd_eval_run(&ev, d, o, &fd))) {
      code = cli_fail(s);
      goto done;
    }
    distill_log_printf(&log, "{\"iter\": 0, \"fd\": %.6f}\n", fd);
    if (!o->quiet) printf("iteration 0: FD %.3f (the student as initialised)\n", fd);
  }
  double start = cli_now(), last_draw = 0;
  for (;;) {
    if (cli_interrupted()) {
      /* the last finished iteration lands: the student and the state */
      if (prog.enabled) fputc('\n', stderr);
      lp_out_keep_on_stop(1);
      if ((s = save_run(&f, d, &log, o->save_dtype, cli_now() - t0))) {
        code = cli_fail(s);
        goto done;
      }
      fprintf(stderr, "leap: interrupted after iteration %d; the student and the state are written (go on with "
              "--resume %s)\n", st->step, f.dir);
      code = CLI_EXIT_INTERRUPTED;
      goto done;
    }
    if (st->step >= o->cfg.iters) break;
    lp_distill_stats ds;
    if ((s = lp_distill_step(d, &ds))) {
      if (prog.enabled) fputc('\n', stderr);
      code = cli_fail(s);
      goto done;
    }
    const int measure = o->eval_every > 0 && (ds.iter % o->eval_every == 0 || ds.iter == o->cfg.iters);
    fd = NAN;
    if (measure && (s = fd_eval_run(&ev, d, o, &fd))) {
      code = cli_fail(s);
      goto done;
    }
    char fdbuf[48] = "";
    if (measure) snprintf(fdbuf, sizeof fdbuf, ", \"fd\": %.6f", fd);
    distill_log_printf(&log,
                "{\"iter\": %d, \"fake_loss\": %.6g, \"dm_loss\": %.6g, \"grad_norm\": %.6g, "
                "\"target\": %d, \"seconds\": %.3f%s}\n",
                ds.iter, ds.fake_loss, ds.dm_loss, ds.grad_norm, ds.target, cli_now() - t0, fdbuf);
    if (measure && !o->quiet) {
      if (prog.enabled) fprintf(stderr, "\r\033[K");
      if (ds.target == LEAP_DISBACK_TEACHER)
        printf("iteration %d: FD %.3f  (target: the teacher)\n", ds.iter, fd);
      else
        printf("iteration %d: FD %.3f  (target: path checkpoint %d)\n", ds.iter, fd, ds.target);
      fflush(stdout);
    }
    if (prog.enabled && (cli_now() - last_draw > 0.2 || ds.iter == o->cfg.iters)) {
      const double el = cli_now() - start, rate = el > 0 ? (ds.iter - first) / el : 0;
      fprintf(stderr, "\riteration %d/%d  fake %.4f  dm %.4f  %.2f it/s  ETA %.0fs\033[K", ds.iter,
              o->cfg.iters, ds.fake_loss, ds.dm_loss, rate,
              rate > 0 ? (o->cfg.iters - ds.iter) / rate : 0.0);
      last_draw = cli_now();
    }
    if (o->save_every > 0 && ds.iter % o->save_every == 0 && ds.iter < o->cfg.iters) {
      s = save_run(&f, d, &log, o->save_dtype, cli_now() - t0);
      /* stopped while saving: the loop's top saves this iteration again */
      if (s == LEAP_ERR_INTERRUPTED) continue;
      if (s) {
        if (prog.enabled) fputc('\n', stderr);
        code = cli_fail(s);
        goto done;
      }
    }
  }
  if (prog.enabled) fputc('\n', stderr);
  if ((s = save_run(&f, d, &log, o->save_dtype, cli_now() - t0))) {
    if (s == LEAP_ERR_INTERRUPTED) { /* the final save was stopped: once more, as Ctrl-C does */
      lp_out_keep_on_stop(1);
      s = save_run(&f, d, &log, o->save_dtype, cli_now() - t0);
    }
    if (s) {
      code = cli_fail(s);
      goto done;
    }
  }
  if (!o->quiet) {
    const double el = cli_now() - start;
    const int n = st->step - first;
    printf("%d iterations in %.1f s (%.3f it/s) -> %s\n", n, el, el > 0 ? n / el : 0.0, f.student);
  }
done:
  /* the log is the record of what ran: it lands whatever ended the command */
  if (code != CLI_EXIT_OK) {
    lp_out_keep_on_stop(1);
    if ((s = distill_log_land(&log, f.inputs, 2)))
      fprintf(stderr, "leap: %s: the log could not be written: %s\n", f.log, leap_last_error());
  }
  distill_log_free(&log);
  fd_eval_free(&ev);
  lp_distill_destroy(d);
  return code;
}

int cli_distill_main(int argc, char **argv) {
  distill_opts o;
  int code = parse_opts(argc, argv, &o);
  if (code < 0) code = run(&o);
  return code;
}
