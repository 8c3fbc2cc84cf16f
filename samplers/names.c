/* names.c - solver and schedule names for the CLI, profiles and reports. */
#include <string.h>

#include "error.h"
#include "leap.h"

static const char *const k_solver_names[] = {"euler", "heun", "ddim",
                                             "euler_a", "dpmpp_2m"};
static const char *const k_schedule_names[] = {
    "default", "flow", "vp_linear", "vp_scaled", "vp_cosine", "karras"};
#define COUNT(a) ((int)(sizeof(a) / sizeof((a)[0])))

const char *leap_solver_name(leap_solver s) {
  if ((int)s < 0 || (int)s >= COUNT(k_solver_names)) return "unknown";
  return k_solver_names[s];
}

const char *leap_schedule_name(leap_schedule_kind s) {
  if ((int)s < 0 || (int)s >= COUNT(k_schedule_names)) return "unknown";
  return k_schedule_names[s];
}

leap_status leap_solver_from_name(const char *name, leap_solver *out) {
  if (!name || !out)
    return lp_error(LEAP_ERR_INVALID_ARG, "solver name: %s is NULL",
                    name ? "out" : "name");
  for (int i = 0; i < COUNT(k_solver_names); i++)
    if (!strcmp(name, k_solver_names[i])) {
      *out = (leap_solver)i;
      return LEAP_OK;
    }
  if (!strcmp(name, "euler_ancestral")) { /* k-diffusion's spelling */
    *out = LEAP_SOLVER_EULER_ANCESTRAL;
    return LEAP_OK;
  }
  return lp_error(LEAP_ERR_INVALID_ARG,
                  "unknown solver '%s' (expected euler, heun, ddim, euler_a "
                  "or dpmpp_2m)", name);
}

leap_status leap_schedule_from_name(const char *name,
                                    leap_schedule_kind *out) {
  if (!name || !out)
    return lp_error(LEAP_ERR_INVALID_ARG, "schedule name: %s is NULL",
                    name ? "out" : "name");
  for (int i = 0; i < COUNT(k_schedule_names); i++)
    if (!strcmp(name, k_schedule_names[i])) {
      *out = (leap_schedule_kind)i;
      return LEAP_OK;
    }
  return lp_error(LEAP_ERR_INVALID_ARG,
                  "unknown schedule '%s' (expected default, flow, vp_linear, "
                  "vp_scaled, vp_cosine or karras)", name);
}
