/*
 * weft_dump: every task of the running runtime (or, from a thread that runs
 * no task, of every running one) written to a descriptor, in the format of
 * sched/inspect.c. The text is built in memory first and written after the
 * runtimes are let go, so that a slow reader of fd holds nothing up.
 */
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "sched/backtrace.h"
#include "sched/inspect.h"
#include "sched/runtime.h"
#include "weft.h"

static int write_all(int fd, const char *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
            /* A non-blocking descriptor: wait here, the dump is not an await point. */
            struct pollfd pfd = {.fd = fd, .events = POLLOUT};
            if (poll(&pfd, 1, -1) < 0 && errno != EINTR)
                return errno;
            continue;
        }
        if (n < 0)
            return errno;
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int weft_dump(int fd)
{
    if (fd < 0)
        return EBADF;
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return ENOMEM;
    struct symbolizer *sym = symbolizer_open(); /* NULL: addresses without names */
    int err = 0;
    runtime_running_lock();
    struct worker *w = worker_self();
    struct runtime *rt = w ? w->rt : runtime_running_first();
    if (!rt)
        err = ESRCH;
    for (; rt && !err; rt = w ? NULL : rt->running_next)
        err = runtime_describe(rt, out, sym, false);
    runtime_running_unlock();
    symbolizer_close(sym);
    if (fclose(out) != 0 && !err)
        err = ENOMEM;
    if (!err)
        err = write_all(fd, text, len);
    free(text);
    return err;
}
