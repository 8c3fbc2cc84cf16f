/* fuzz_safetensors.c - the safetensors reader and the model metadata: a
 * file that opens hands out only tensors inside it (each is converted to
 * float), and the DiT description reader accepts or refuses it cleanly. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "alloc.h"
#include "dit.h"
#include "safetensors.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len) {
  lp_st_file *f;
  if (lp_st_open_memory(data, len, "fuzz.safetensors", &f) != LEAP_OK) return 0;
  for (int i = 0; i < lp_st_count(f); i++) {
    const lp_st_tensor *t = lp_st_at(f, i);
    /* numel * element size equals the bytes inside the input, so this is
     * bounded by the input's length. */
    float *dst = lp_malloc((size_t)t->numel * sizeof *dst + 1);
    if (dst) lp_st_read_f32(f, t, dst);
    free(dst);
  }
  for (int i = 0; i < lp_st_meta_count(f); i++) (void)lp_st_meta(f, lp_st_meta_key(f, i));
  leap_model_info info;
  lp_dit_read_description(f, &info);
  lp_st_close(f);
  return 0;
}
