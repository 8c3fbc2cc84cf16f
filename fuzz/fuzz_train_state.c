/* fuzz_train_state.c - a training state's description and step, checked
 * against its tensors (lp_train_state_read_cfg, what 'leap train --resume'
 * reads before it sizes the trainer). */
#include <stddef.h>
#include <stdint.h>

#include "safetensors.h"
#include "train.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  lp_st_file *f;
  if (lp_st_open_memory(data, len, "fuzz.safetensors", &f) != LEAP_OK) return 0;
  lp_train_cfg c;
  int step;
  lp_train_state_read_cfg(f, &c, &step);
  lp_st_close(f);
  return 0;
}
