/* cli_main.c - `leap`: dispatches to a subcommand and owns the exit codes.
 * A new subcommand is one row in kCommands plus its cli_X_main/cli_X_help. */
#define _POSIX_C_SOURCE 200809L /* setenv, execv */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "cli_args.h"

typedef struct cli_command {
  const char *name;
  const char *summary;
  cli_main_fn main;
  cli_help_fn help;
} cli_command;

static const cli_command kCommands[] = {
    {"sample", "sample images from a model into a PNG grid", cli_sample_main,
     cli_sample_help},
    {"video", "sample video clips (block diffusion) into GIF, APNG, MP4, WebM or PNG",
     cli_video_main, cli_video_help},
    {"devices", "list the Vulkan devices and the CPU backend", cli_devices_main,
     cli_devices_help},
    {"info", "describe a model file", cli_info_main, cli_info_help},
    {"train", "train a DiT on the CPU (Fashion-MNIST or an image folder)",
     cli_train_main, cli_train_help},
    {"distill", "distil a teacher into a one-step student (DMD2, DisBack)",
     cli_distill_main, cli_distill_help},
    {"train-classifier", "train the classifier behind 'leap eval'",
     cli_train_classifier_main, cli_train_classifier_help},
    {"lcsc", "combine checkpoints; search and evaluate LCSC coefficients",
     cli_lcsc_main, cli_lcsc_help},
    {"eval", "measure sample quality (FD, conditional accuracy)",
     cli_eval_main, cli_eval_help},
    {"merge", "join the raw parts of a sharded 'leap sample' run into one file",
     cli_merge_main, cli_merge_help},
    {"profile", "profile a model for ERTACache (leap sample --cache)",
     cli_profile_main, cli_profile_help},
    {"bench", "benchmarks: 'leap bench erta' (ERTACache vs baselines)",
     cli_bench_main, cli_bench_help},
};
enum { kCommandCount = sizeof kCommands / sizeof kCommands[0] };

static const cli_command *find_command(const char *name) {
  for (int i = 0; i < kCommandCount; i++)
    if (strcmp(kCommands[i].name, name) == 0) return &kCommands[i];
  return NULL;
}

static void print_help(FILE *out) {
  fprintf(out,
          "usage: leap COMMAND [OPTIONS]\n"
          "       leap help COMMAND | leap --help | leap --version\n"
          "\n"
          "Cheaper diffusion sampling on Vulkan (any vendor) or the CPU.\n"
          "\n"
          "commands:\n");
  for (int i = 0; i < kCommandCount; i++)
    fprintf(out, "  %-17s %s\n", kCommands[i].name, kCommands[i].summary);
  fprintf(out,
          "\n"
          "Run 'leap COMMAND --help' for a command's options.\n"
          "\n"
          "exit codes:\n"
          "  0    success\n"
          "  1    runtime error (the message is on stderr, after \"leap: \")\n"
          "  2    usage error (bad or unknown option or argument)\n"
          "  3    no Vulkan device (when the Vulkan backend was asked for)\n"
          "  4    out of host or device memory (nothing was written)\n"
          "  130  interrupted by Ctrl-C or SIGTERM (nothing was written; leap video\n"
          "       keeps the frames it finished)\n"
          "\n"
          "environment:\n"
          "  LEAP_DEVICE          Vulkan device (index or name substring)\n"
          "  LEAP_VALIDATION=1    enable the Vulkan validation layer\n"
          "  LEAP_DEFAULT_MODEL   model used by 'leap sample' without --model\n"
          "  LEAP_DEFAULT_VIDEO_MODEL  model used by 'leap video' without --model\n");
}

int cli_fail(leap_status s) {
  const char *msg = leap_last_error();
  fprintf(stderr, "leap: %s\n", msg[0] ? msg : leap_status_string(s));
  if (s == LEAP_ERR_NO_DEVICE) return CLI_EXIT_NO_DEVICE;
  if (s == LEAP_ERR_NOMEM) return CLI_EXIT_NOMEM;
  if (s == LEAP_ERR_INTERRUPTED) return CLI_EXIT_INTERRUPTED;
  return CLI_EXIT_ERROR;
}

static int help_command(int argc, char **argv) {
  if (argc < 3) {
    print_help(stdout);
    return CLI_EXIT_OK;
  }
  const cli_command *c = argc == 3 ? find_command(argv[2]) : NULL;
  if (!c) {
    fprintf(stderr, "leap help: %s\nTry 'leap --help'.\n",
            argc > 3 ? "expected one command name" : "unknown command");
    return CLI_EXIT_USAGE;
  }
  c->help(stdout);
  return CLI_EXIT_OK;
}

/* OpenMP threads that spin at the end of each parallel region steal the
 * core from the thread they wait for whenever the machine is busy: measured
 * on 2 loaded cores, 2 spinning threads ran 2.8x slower than 1, passive
 * ones as fast as or faster than 1. libgomp reads OMP_WAIT_POLICY once, when
 * it is loaded, so the CLI sets it and re-executes itself unless the user
 * chose a policy. (Hosts that load libleap set their own environment.) */
static void prefer_passive_openmp(char **argv) {
  if (getenv("OMP_WAIT_POLICY")) return;
  if (setenv("OMP_WAIT_POLICY", "passive", 1) != 0) return;
  execv("/proc/self/exe", argv); /* returns only on failure: run as we are */
}

int main(int argc, char **argv) {
  prefer_passive_openmp(argv);
  if (argc < 2) {
    print_help(stderr);
    return CLI_EXIT_USAGE;
  }
  const char *arg = argv[1];
  if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
    print_help(stdout);
    return CLI_EXIT_OK;
  }
  if (strcmp(arg, "--version") == 0 || strcmp(arg, "-V") == 0) {
    uint32_t v = leap_api_version();
    printf("leap %u.%u.%u\n", (unsigned)(v / 10000), (unsigned)(v / 100 % 100),
           (unsigned)(v % 100));
    return CLI_EXIT_OK;
  }
  if (strcmp(arg, "help") == 0) return help_command(argc, argv);
  const cli_command *c = find_command(arg);
  if (!c) {
    fprintf(stderr, "leap: unknown %s '%s'\nTry 'leap --help'.\n",
            arg[0] == '-' ? "option" : "command", arg);
    return CLI_EXIT_USAGE;
  }
  int code = c->main(argc - 1, argv + 1);
  /* Reports and JSON lines go to stdout: a full disk or a closed pipe there
   * is a failed run, not a silent one. */
  if (fflush(stdout) != 0 || ferror(stdout)) {
    fprintf(stderr, "leap: cannot write the standard output: %s\n", strerror(errno));
    if (code == CLI_EXIT_OK) code = CLI_EXIT_ERROR;
  }
  return code;
}
