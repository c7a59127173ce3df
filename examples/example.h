/*
 * What every example shares: say() prints one line of output. Under virtual
 * time (WEFT_VIRTUAL_TIME set, and not "0") it starts the line with the
 * clock, "%.3f ", so that the output can be compared exactly with what the
 * Python original printed under virtual time (tests/examples/); otherwise it
 * prints the line as the Python program would.
 */
#ifndef WEFT_EXAMPLE_H
#define WEFT_EXAMPLE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "weft.h"

static inline bool virtual_time_on(void)
{
    const char *v = getenv("WEFT_VIRTUAL_TIME");
    return v && *v && strcmp(v, "0") != 0;
}

static inline __attribute__((format(printf, 1, 2))) void say(const char *fmt, ...)
{
    va_list ap;

    if (virtual_time_on())
        printf("%.3f ", weft_now());
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

#endif
