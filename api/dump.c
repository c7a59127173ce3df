/*
 * weft_dump: every task of the running runtime (or, from a thread that runs
 * no task, of every running one) written to a descriptor, in the format of
 * sched/inspect.c. The text is built in memory first and written after the
 * runtimes are let go, so that a slow reader of fd holds nothing up.
 */
#include <errno.h>
#include <poll.h>
#include <stdlib.h>
#include <unistd.h>

#include "sched/inspect.h"
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
    int err = runtime_dump_for_caller(&text, &len);
    if (!err)
        err = write_all(fd, text, len);
    free(text);
    return err;
}
