/* cli_merge.c - `leap merge`: the parts that `leap sample --shard i/N
 * --raw-out S.safetensors` jobs wrote, joined into the one samples file a
 * single `leap sample --raw-out` of the same run writes (byte for byte when
 * every shard ran on the same device). The index names the parts; each is
 * checked against it (present, its range, its settings) before it is
 * copied, a batch at a time. */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "cli_args.h"
#include "interrupt.h"
#include "sample_parts.h"

void cli_merge_help(FILE *out) {
  fprintf(out,
          "usage: leap merge INDEX --out FILE [--quiet]\n"
          "\n"
          "Joins the parts of a sharded 'leap sample --raw-out S.safetensors\n"
          "--shard i/N' run into one samples file: INDEX is the\n"
          "S.safetensors.index.json shard 0 wrote, FILE gets tensor `samples`\n"
          "[N,C,H,W] and the run's settings, the same bytes as one run of\n"
          "'leap sample --raw-out' with the same options (when every shard ran on\n"
          "the same device; otherwise metadata 'device' lists them). A missing\n"
          "part, or one whose range, shape or settings differ from the index, is\n"
          "an error naming it, and nothing is written.\n"
          "\n"
          "  --out FILE   the merged samples (.safetensors)\n"
          "  --quiet      no summary line\n");
}

int cli_merge_main(int argc, char **argv) {
  const char *index = NULL, *out = NULL;
  int quiet = 0;
  cli_args a;
  cli_args_init(&a, argc, argv, cli_merge_help);
  while (cli_next(&a)) {
    if (cli_opt_str(&a, "--out", &out)) continue;
    if (cli_opt_flag(&a, "--quiet", &quiet)) continue;
    const char *pos = NULL;
    if (cli_positional(&a, &pos)) {
      if (index) return cli_usage_error(a.cmd, "one INDEX only (got '%s' and '%s')", index, pos);
      index = pos;
      continue;
    }
    cli_unknown(&a);
  }
  if (a.exit_code >= 0) return a.exit_code;
  if (!index) return cli_usage_error(a.cmd, "give the INDEX (S.safetensors.index.json) of the parts");
  if (!out || !out[0]) return cli_usage_error(a.cmd, "give --out FILE");
  cli_interrupt_install();
  return cli_exit_for(cli_raw_merge(index, out, quiet));
}
