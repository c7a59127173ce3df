/*
 * The C half of tests/order: each <name>.c is the twin of <name>.py, line for
 * line. vtime_run() is vtime.run() (one worker, virtual time) and vtime_log()
 * is vtime.log(): the virtual clock with three decimals, then the text, so
 * that the program's stdout can be compared byte for byte with <name>.out,
 * which the Python program generated.
 */
#ifndef ORDER_VTIME_H
#define ORDER_VTIME_H

#include <stdarg.h>
#include <stdio.h>

#include "weft.h"

static inline __attribute__((format(printf, 1, 2))) void vtime_log(const char *fmt, ...)
{
    va_list ap;

    printf("%.3f ", weft_now());
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
}

/* The exit status: 0 when main returned a value, 1 when it raised. */
static inline int vtime_run(void *(*main_task)(void *))
{
    const weft_config cfg = {.workers = 1, .virtual_time = true};
    void *result = weft_run(main_task, NULL, &cfg);

    fflush(stdout);
    if (weft_error(result)) {
        fprintf(stderr, "main failed: error %d\n", weft_error(result));
        return 1;
    }
    return 0;
}

#endif
