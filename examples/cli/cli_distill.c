/* cli_distill.c - `leap distill`: distils a flow-matching DiT teacher into a
 * one-step student on the CPU, by DMD2's distribution matching (--method
 * dmd, the baseline) or DisBack (--method disback: a degradation path is
 * recorded first and the target walks it backwards to the teacher).
 *
 * Files in --out DIR: student.safetensors (a normal leap model: `leap sample
 * --steps 1` runs it), log.jsonl (one JSON line per iteration, with FD when
 * measured), and for DisBack path/ (the degradation checkpoints and their
 * manifest path.json). Ctrl-C stops after the iteration in progress and
 * writes no student. */
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
#include "distill_train.h"
#include "error.h"
#include "fd_metric.h"
#include "file_write.h"
#include "interrupt.h"
#include "output.h"
#include "progress.h"

typedef struct distill_opts {
  lp_distill_cfg cfg;
  const char *teacher, *method, *rule, *out, *classifier, *dtype;
  int eval_every, eval_n, threads, quiet;
  uint64_t eval_seed;
  leap_dtype save_dtype;
} distill_opts;

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
      "  --threads N, --quiet\n"
      "\n"
      "A progress line (iteration, losses, it/s, ETA) is shown on stderr when it is a\n"
      "terminal. Ctrl-C stops after the current iteration and writes no student.\n",
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
    if (cli_opt_str(&a, "--teacher", &o->teacher)) continue;
    if (cli_opt_str(&a, "--method", &o->method)) continue;
    if (cli_opt_int(&a, "--iters", 0, 1 << 30, &c->iters)) continue;
    if (cli_opt_int(&a, "--batch", 2, 4096, &c->batch)) continue;
    if (cli_opt_double(&a, "--lr", 0, 10, &c->lr_student)) continue;
    if (cli_opt_double(&a, "--lr-fake", 0, 10, &c->lr_fake)) continue;
    if (cli_opt_int(&a, "--fake-updates", 1, 100, &c->fake_updates)) continue;
    if (cli_opt_double(&a, "--cfg", 0, 100, &c->guidance)) continue;
    if (cli_opt_double(&a, "--t-min", 1e-6, 1, &c->t_min)) continue;
    if (cli_opt_double(&a, "--t-max", 1e-6, 1, &c->t_max)) continue;
    if (cli_opt_u64(&a, "--seed", &c->seed)) continue;
    if (cli_opt_int(&a, "--path-checkpoints", 1, 64, &c->path_checkpoints)) continue;
    if (cli_opt_int(&a, "--path-iters", 1, 1 << 30, &c->path_iters)) continue;
    if (cli_opt_str(&a, "--switch", &o->rule)) continue;
    if (cli_opt_int(&a, "--interval", 1, 1 << 30, &c->schedule.interval)) continue;
    if (cli_opt_int(&a, "--window", 1, 1000000, &c->schedule.window)) continue;
    if (cli_opt_double(&a, "--tolerance", 1e-12, 1e6, &c->schedule.tolerance)) continue;
    if (cli_opt_int(&a, "--min-iters", 1, 1 << 30, &c->schedule.min_iters)) continue;
    if (cli_opt_int(&a, "--max-iters", 0, 1 << 30, &c->schedule.max_iters)) continue;
    if (cli_opt_int(&a, "--eval-every", 0, 1 << 30, &o->eval_every)) continue;
    if (cli_opt_int(&a, "--eval-n", 2, 1000000, &o->eval_n)) continue;
    if (cli_opt_u64(&a, "--eval-seed", &o->eval_seed)) continue;
    if (cli_opt_str(&a, "--classifier", &o->classifier)) continue;
    if (cli_opt_str(&a, "--out", &o->out)) continue;
    if (cli_opt_str(&a, "--dtype", &o->dtype)) continue;
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
  if (!o->out || !o->out[0]) return cli_usage_error(a.cmd, "--out DIR is required");
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

/* log.jsonl goes to a temporary (core/output.h) and lands when the command
 * ends, whatever the reason: it is the record of what ran. */
typedef struct jlog {
  lp_out *o;
  int failed;
} jlog;

__attribute__((format(printf, 2, 3))) static void jlog_printf(jlog *l, const char *fmt, ...) {
  char line[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (!l->o || l->failed) return;
  if (n < 0 || n >= (int)sizeof line || !lp_write_all(lp_out_fd(l->o), line, (size_t)n)) l->failed = 1;
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

static int run(distill_opts *o) {
  if (o->threads > 0) omp_set_num_threads(o->threads);
  char teacher[4096], student_path[4096], log_path[4096], path_dir[4096];
  leap_status s;
  if (!o->teacher) {
    if ((s = cli_default_model(teacher, sizeof teacher))) return cli_fail(s);
  } else {
    snprintf(teacher, sizeof teacher, "%s", o->teacher);
  }
  if (!make_dir(o->out))
    return cli_fail(lp_error(LEAP_ERR_IO, "%s: cannot create the folder: %s", o->out, strerror(errno)));
  cli_interrupt_install();
  snprintf(student_path, sizeof student_path, "%s/student.safetensors", o->out);
  snprintf(log_path, sizeof log_path, "%s/log.jsonl", o->out);
  snprintf(path_dir, sizeof path_dir, "%s/path", o->out);
  /* Every output against the inputs before any work (core/output.h). */
  const char *inputs[2] = {teacher, o->classifier};
  typedef struct {
    const char *path;
    lp_out_kind kind;
  } planned_out;
  planned_out outs[2 + 1 + 64] = {{student_path, LP_OUT_CHECKPOINT}, {log_path, LP_OUT_DISTILL_LOG}};
  char names[65][4200];
  int nouts = 2;
  if (o->cfg.method == LP_DISTILL_DISBACK) {
    snprintf(names[0], sizeof names[0], "%s/path.json", path_dir);
    outs[nouts++] = (planned_out){names[0], LP_OUT_DISBACK_PATH};
    for (int k = 0; k < o->cfg.path_checkpoints && k < 64; k++) {
      snprintf(names[k + 1], sizeof names[k + 1], "%s/path_%02d.safetensors", path_dir, k);
      outs[nouts++] = (planned_out){names[k + 1], LP_OUT_CHECKPOINT};
    }
  }
  for (int k = 0; k < nouts; k++)
    if ((s = lp_out_check(outs[k].path, outs[k].kind, inputs, 2))) return cli_fail(s);
  lp_distill *d = NULL;
  if ((s = lp_distill_create(teacher, &o->cfg, &d))) return cli_fail(s);
  const lp_trainer *st = lp_distill_student(d);
  const lp_dit_arch *a = &st->cfg.arch;
  fd_eval ev;
  memset(&ev, 0, sizeof ev);
  int code = CLI_EXIT_OK;
  jlog log = {NULL, 0};
  cli_progress prog;
  cli_progress_init(&prog, !o->quiet);
  if (o->eval_every > 0 &&
      (s = fd_eval_init(&ev, o, a->num_classes, (size_t)a->in_channels * a->input_size * a->input_size))) {
    code = cli_fail(s);
    goto done;
  }
  if ((s = lp_out_begin(log_path, LP_OUT_DISTILL_LOG, inputs, 2, &log.o))) {
    code = cli_fail(s);
    goto done;
  }
  jlog_printf(&log,
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
  if (!o->quiet)
    printf("distilling %s (%lld parameters) into a one-step student: %s, batch %d, %d iterations, "
           "%d fake updates each, guidance %g\n",
           teacher, (long long)st->L.total, lp_distill_method_name(o->cfg.method), o->cfg.batch,
           o->cfg.iters, o->cfg.fake_updates, o->cfg.guidance);
  fflush(stdout);
  double t0 = cli_now();
  if (o->cfg.method == LP_DISTILL_DISBACK) {
    if (!make_dir(path_dir)) {
      code = cli_fail(lp_error(LEAP_ERR_IO, "%s: cannot create the folder", path_dir));
      goto done;
    }
    s = lp_distill_record_path(d, path_dir, path_progress, &prog);
    if (prog.drawn) fputc('\n', stderr), prog.drawn = 0;
    if (s) {
      code = cli_fail(s);
      goto done;
    }
    jlog_printf(&log, "{\"event\": \"path\", \"checkpoints\": %d, \"steps\": %d, \"seconds\": %.3f}\n",
            o->cfg.path_checkpoints, o->cfg.path_iters, cli_now() - t0);
  }
  double fd = NAN;
  if (o->eval_every > 0) {
    if ((s = fd_eval_run(&ev, d, o, &fd))) {
      code = cli_fail(s);
      goto done;
    }
    jlog_printf(&log, "{\"iter\": 0, \"fd\": %.6f}\n", fd);
    if (!o->quiet) printf("iteration 0: FD %.3f (the student as initialised)\n", fd);
  }
  double start = cli_now(), last_draw = 0;
  for (int it = 0; it < o->cfg.iters; it++) {
    if (cli_interrupted()) {
      if (prog.enabled) fputc('\n', stderr);
      fprintf(stderr, "leap: interrupted at iteration %d; no student written (the log keeps what ran)\n", it);
      code = CLI_EXIT_INTERRUPTED;
      goto done;
    }
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
    jlog_printf(&log,
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
      const double el = cli_now() - start, rate = el > 0 ? (it + 1) / el : 0;
      fprintf(stderr, "\riteration %d/%d  fake %.4f  dm %.4f  %.2f it/s  ETA %.0fs\033[K", ds.iter,
              o->cfg.iters, ds.fake_loss, ds.dm_loss, rate,
              rate > 0 ? (o->cfg.iters - it - 1) / rate : 0.0);
      last_draw = cli_now();
    }
  }
  if (prog.enabled) fputc('\n', stderr);
  if ((s = lp_distill_save_student(d, student_path, o->save_dtype))) {
    code = cli_fail(s);
    goto done;
  }
  if (!o->quiet) {
    const double el = cli_now() - start;
    printf("%d iterations in %.1f s (%.3f it/s) -> %s\n", o->cfg.iters, el,
           el > 0 ? o->cfg.iters / el : 0.0, student_path);
  }
done:
  if (log.o) {
    if (log.failed) {
      lp_out_abort(log.o);
      if (code == CLI_EXIT_OK) code = cli_fail(lp_error(LEAP_ERR_IO, "%s: cannot write the log", log_path));
    } else if ((s = lp_out_commit(log.o)) && code == CLI_EXIT_OK) {
      code = cli_fail(s);
    }
  }
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
