/* cli_train_classifier.c - `leap train-classifier`: trains the small CNN of
 * models/classifier.h on a data set and writes it (atomically) with its
 * test accuracy, for `leap eval`'s FD metric and conditional accuracy. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "classifier.h"
#include "cli.h"
#include "cli_args.h"
#include "output.h"
#include "dataset.h"
#include "error.h"
#include "progress.h"

typedef struct train_cls_opts {
  const char *out, *data, *test;
  int epochs, batch, threads, quiet;
  double lr;
  uint64_t seed;
  int no_augment;
} train_cls_opts;

void cli_train_classifier_help(FILE *out) {
  lp_classifier_train_desc d = lp_classifier_train_desc_default();
  fprintf(out,
      "usage: leap train-classifier --out PATH [OPTIONS]\n"
      "\n"
      "Trains the small CNN (conv 16, conv 32, fc 128, fc classes) whose\n"
      "128-d penultimate features 'leap eval' uses for the Frechet distance,\n"
      "and writes it as .safetensors with its test accuracy in the metadata.\n"
      "\n"
      "  --out PATH       output file (written atomically)\n"
      "  --data SPEC      training set: fashion-mnist (default) or a folder with\n"
      "                   one subfolder of PNG/JPEG images per label\n"
      "  --test SPEC      test set for the reported accuracy (default\n"
      "                   fashion-mnist:test with --data fashion-mnist; none for\n"
      "                   a folder)\n"
      "  --epochs N       passes over the training set (default %d)\n"
      "  --batch N        minibatch size (default %d)\n"
      "  --lr LR          Adam learning rate, cosine-decayed (default %g)\n"
      "  --seed S         initialisation, shuffling, augmentation (default 0)\n"
      "  --no-augment     no random flips and 2-pixel shifts\n"
      "  --threads N      CPU threads (default: OpenMP's)\n"
      "  --quiet          no per-epoch lines\n",
      d.epochs, d.batch, d.lr);
}

static int on_epoch(void *user, int epoch, int epochs, double loss) {
  const double *t0 = user;
  fprintf(stderr, "epoch %d/%d: loss %.4f (%.0f s)\n", epoch, epochs, loss,
          cli_now() - *t0);
  return 0;
}

static int run(const train_cls_opts *o) {
  lp_dataset train = {0}, test = {0};
  leap_status s = lp_dataset_load(o->data, &train);
  if (s != LEAP_OK) return cli_fail(s);
  const char *test_spec = o->test;
  if (!test_spec && strcmp(o->data, "fashion-mnist") == 0)
    test_spec = "fashion-mnist:test";
  if (test_spec && (s = lp_dataset_load(test_spec, &test)) != LEAP_OK) {
    lp_dataset_free(&train);
    return cli_fail(s);
  }
  lp_classifier_arch arch = lp_classifier_arch_fmnist();
  arch.channels = train.channels;
  arch.height = train.height;
  arch.width = train.width;
  arch.num_classes = train.num_classes;
  lp_classifier *c = NULL;
  double t0 = cli_now(), acc = -1;
  s = lp_classifier_create(&arch, o->seed, &c);
  if (s == LEAP_OK) {
    lp_classifier_train_desc d = lp_classifier_train_desc_default();
    d.epochs = o->epochs;
    d.batch = o->batch;
    d.lr = o->lr;
    d.seed = o->seed;
    d.augment = !o->no_augment;
    d.on_epoch = o->quiet ? NULL : on_epoch;
    d.user = &t0;
    s = lp_classifier_train(c, &train, &d);
  }
  const double seconds = cli_now() - t0;
  if (s == LEAP_OK && test.n > 0) {
    if (test.channels != arch.channels || test.height != arch.height ||
        test.width != arch.width)
      s = lp_error(LEAP_ERR_INVALID_ARG, "--test %s: images [%d,%d,%d] do not "
                   "match the training set's [%d,%d,%d]", test_spec,
                   test.channels, test.height, test.width, arch.channels,
                   arch.height, arch.width);
    else
      s = lp_classifier_accuracy(c, test.images, test.labels, test.n, &acc);
  }
  if (s == LEAP_OK) {
    char acc_s[32], ep[32], bs[32], lr[32], seed[32], secs[32];
    snprintf(acc_s, sizeof acc_s, acc >= 0 ? "%.4f" : "unknown", acc);
    snprintf(ep, sizeof ep, "%d", o->epochs);
    snprintf(bs, sizeof bs, "%d", o->batch);
    snprintf(lr, sizeof lr, "%g", o->lr);
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)o->seed);
    snprintf(secs, sizeof secs, "%.0f", seconds);
    const char *meta[] = {"train_data", o->data,
                          "test_data", test_spec ? test_spec : "none",
                          "test_accuracy", acc_s, "epochs", ep, "batch", bs,
                          "lr", lr, "seed", seed,
                          "augment", o->no_augment ? "none" : "flip+shift2",
                          "train_seconds", secs};
    s = lp_classifier_save(c, o->out, meta, (int)(sizeof meta / sizeof *meta / 2));
  }
  int code = s == LEAP_OK ? CLI_EXIT_OK : cli_fail(s);
  if (code == CLI_EXIT_OK && !o->quiet) {
    if (acc >= 0)
      printf("test accuracy %.4f on %d images; ", acc, test.n);
    printf("trained in %.1f s -> %s\n", seconds, o->out);
  }
  lp_classifier_destroy(c);
  lp_dataset_free(&train);
  lp_dataset_free(&test);
  return code;
}

int cli_train_classifier_main(int argc, char **argv) {
  lp_classifier_train_desc d = lp_classifier_train_desc_default();
  train_cls_opts o = {.data = "fashion-mnist", .epochs = d.epochs,
                      .batch = d.batch, .lr = d.lr, .seed = d.seed};
  cli_args a;
  cli_args_init(&a, argc, argv, cli_train_classifier_help);
  while (cli_next(&a)) {
    if (cli_opt_str(&a, "--out", &o.out)) continue;
    if (cli_opt_str(&a, "--data", &o.data)) continue;
    if (cli_opt_str(&a, "--test", &o.test)) continue;
    if (cli_opt_int(&a, "--epochs", 1, 100000, &o.epochs)) continue;
    if (cli_opt_int(&a, "--batch", 1, 65536, &o.batch)) continue;
    if (cli_opt_double(&a, "--lr", 1e-8, 10.0, &o.lr)) continue;
    if (cli_opt_u64(&a, "--seed", &o.seed)) continue;
    if (cli_opt_flag(&a, "--no-augment", &o.no_augment)) continue;
    if (cli_opt_int(&a, "--threads", 0, 4096, &o.threads)) continue;
    if (cli_opt_flag(&a, "--quiet", &o.quiet)) continue;
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  if (!o.out || !o.out[0]) return cli_usage_error(a.cmd, "--out PATH is required");
  /* The output rule (core/output.h) before the training, not after. */
  leap_status s = lp_out_check(o.out, LP_OUT_CLASSIFIER, NULL, 0);
  if (s != LEAP_OK) return cli_fail(s);
  if (o.threads > 0) omp_set_num_threads(o.threads);
  return run(&o);
}
