/* cli_bench.c - `leap bench NAME`: dispatch to the benchmarks, each in its
 * own file (cli_bench_erta.c, cli_bench_sample.c). */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"

void cli_bench_help(FILE *out) {
  fprintf(out,
      "usage: leap bench NAME [OPTIONS]\n"
      "\n"
      "benchmarks:\n"
      "  sample   sampling throughput at several batch sizes (model load and\n"
      "           pipeline compilation excluded)\n"
      "  erta     ERTACache against full compute, uniform reuse and a\n"
      "           TeaCache-style rule (needs a profile from 'leap profile')\n"
      "\n"
      "Run 'leap bench NAME --help' for a benchmark's options.\n");
}

int cli_bench_main(int argc, char **argv) {
  if (argc >= 2 && strcmp(argv[1], "erta") == 0) return cli_bench_erta_main(argc - 1, argv + 1);
  if (argc >= 2 && strcmp(argv[1], "sample") == 0) return cli_bench_sample_main(argc - 1, argv + 1);
  if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
    cli_bench_help(stdout);
    return CLI_EXIT_OK;
  }
  return cli_usage_error("bench", "expected a benchmark name: sample or erta");
}
