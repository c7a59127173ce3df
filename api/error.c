/*
 * Errors as values: WEFT_ERR(code) pointers (the kernel's ERR_PTR idiom) and
 * the message a task may attach to the error it returns.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/fail.h"
#include "sched/runtime.h"
#include "weft.h"

int weft_error(const void *result)
{
    return result_error(result);
}

void *weft_fail(int code, const char *fmt, ...)
{
    if (code <= 0 || code > WEFT_MAX_ERRNO)
        code = EINVAL;
    struct weft_task *self = task_self();
    if (self && fmt) {
        char *text = NULL;
        va_list ap;
        va_start(ap, fmt);
        if (vasprintf(&text, fmt, ap) < 0)
            text = NULL;
        va_end(ap);
        free(self->message);
        self->message = text;
    }
    return WEFT_ERR(code);
}

void *fail_errno(int code)
{
    struct weft_task *self = task_self();
    if (self)
        self->last_errno = code;
    errno = code;
    return NULL;
}

int weft_errno(void)
{
    struct weft_task *self = task_self();
    return self ? self->last_errno : errno;
}
