/* error.h - the thread-local last-error message behind leap_last_error(). */
#ifndef LEAP_ERROR_H
#define LEAP_ERROR_H

#include "leap.h"

/* Records a printf-style message for this thread and returns s, so that a
 * failing path reads: return lp_error(LEAP_ERR_IO, "%s: %s", path, why); */
leap_status lp_error(leap_status s, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Clears the message (successful public calls do not have to). */
void lp_error_clear(void);

#endif
