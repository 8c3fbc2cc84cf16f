/* clock.h - a monotonic clock for the timings the library reports (cache
 * overhead, LCSC search cost, Vulkan pipeline creation). */
#ifndef LEAP_CLOCK_H
#define LEAP_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (an arbitrary origin: take differences). */
double lp_now_seconds(void);

#endif
