/*
 * Sockets for tasks (api/weft_io.h): try the system call; on EAGAIN park on
 * the poller (sched/poller.h) and try again.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "sched/poller.h"
#include "sched/runtime.h"
#include "weft_io.h"

/* The running task and the absolute deadline for a timeout, or an error. */
static int begin(double timeout, struct weft_task **self, double *deadline)
{
    *self = task_self();
    if (!*self)
        return EPERM;
    if (isnan(timeout))
        return EINVAL;
    /* A timeout <= 0 has already expired: the deadline is now, or the
     * clock's start (0), so that a wait fails at once; -1 is "none". */
    *deadline = timeout == WEFT_FOREVER ? -1 : fmax(runtime_now((*self)->rt) + timeout, 0);
    return 0;
}

/* One call on a descriptor: its task and deadline, and the handle and
 * incarnation of the descriptor, taken once, before the first system call.
 * Every system call on the number is made between io_enter and io_leave,
 * so a weft_close meanwhile never hands the number to another connection
 * under the call (sched/poller.h). */
struct call {
    struct weft_task *self;
    double deadline;
    struct io_handle *h;
    unsigned gen;
};

/* The handle of fd, which the first call on each incarnation registers:
 * non-blocking from here on. */
static int call_attach(struct call *c, int fd)
{
    int err;
    c->h = poller_handle(c->self->rt, fd, &c->gen, &err);
    return c->h ? 0 : err;
}

/* begin(), then the call's own argument checks (args_ok), then the handle. */
static int call_begin(struct call *c, int fd, double timeout, bool args_ok)
{
    int err = begin(timeout, &c->self, &c->deadline);
    if (!err && !args_ok)
        err = EINVAL;
    return err ? err : call_attach(c, fd);
}

/* Park until the descriptor may be ready in one of dirs, or the deadline
 * passes. */
static int wait_ready(struct call *c, unsigned dirs)
{
    if (c->deadline >= 0 && runtime_now(c->self->rt) >= c->deadline)
        return ETIMEDOUT;
    return io_wait(c->self, c->h, dirs, c->gen, c->deadline);
}

/* One system call's outcome: >= 0 done, or -errno. */
typedef ssize_t io_op(int fd, void *buf, size_t len);

static ssize_t op_read(int fd, void *buf, size_t len)
{
    ssize_t n = read(fd, buf, len);
    return n < 0 ? -errno : n;
}

/* write(2) to a pipe whose reader is gone raises SIGPIPE, which would kill
 * the process: block it around the call and swallow the one it raised. */
static ssize_t write_without_sigpipe(int fd, const void *buf, size_t len)
{
    sigset_t pipe_only, old, pending;
    sigemptyset(&pipe_only);
    sigaddset(&pipe_only, SIGPIPE);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_only, &old);
    ssize_t n = write(fd, buf, len);
    int err = errno;
    if (n < 0 && err == EPIPE && !was_pending) {
        const struct timespec none = {0, 0};
        sigtimedwait(&pipe_only, NULL, &none);
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = err;
    return n;
}

static ssize_t op_write(int fd, void *buf, size_t len)
{
    ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
    if (n < 0 && errno == ENOTSOCK)
        n = write_without_sigpipe(fd, buf, len);
    return n < 0 ? -errno : n;
}

/* op until it moves a byte or fails: 0 and *done, or an error. */
static int transfer(struct call *c, int fd, void *buf, size_t len, size_t *done, io_op *op,
                    unsigned dir)
{
    for (;;) {
        int err = io_enter(c->h, c->gen);
        if (err)
            return err;
        ssize_t n = op(fd, buf, len);
        io_leave(c->h);
        if (n >= 0) {
            *done = (size_t)n;
            return 0;
        }
        if (n != -EAGAIN && n != -EWOULDBLOCK && n != -EINTR)
            return (int)-n;
        if (n != -EINTR && (err = wait_ready(c, dir)))
            return err;
    }
}

int weft_read(int fd, void *buf, size_t len, size_t *got, double timeout)
{
    struct call c;
    size_t n = 0;
    int err = call_begin(&c, fd, timeout, buf || !len);
    if (!err)
        err = transfer(&c, fd, buf, len, &n, op_read, IO_READABLE);
    if (got)
        *got = n;
    return err;
}

int weft_write(int fd, const void *buf, size_t len, size_t *put, double timeout)
{
    struct call c;
    size_t n = 0;
    int err = call_begin(&c, fd, timeout, buf || !len);
    if (!err)
        err = transfer(&c, fd, (void *)buf, len, &n, op_write, IO_WRITABLE);
    if (put)
        *put = n;
    return err;
}

/* One call to the end, on one incarnation: a close between two reads ends
 * it rather than letting the next read reach a new connection. */
int weft_read_exactly(int fd, void *buf, size_t len, double timeout)
{
    struct call c;
    int err = call_begin(&c, fd, timeout, buf || !len);
    for (size_t off = 0; !err && off < len;) {
        size_t got = 0;
        err = transfer(&c, fd, (char *)buf + off, len - off, &got, op_read, IO_READABLE);
        if (!err && got == 0)
            err = ENODATA;
        off += got;
    }
    return err;
}

int weft_write_all(int fd, const void *buf, size_t len, double timeout)
{
    struct call c;
    int err = call_begin(&c, fd, timeout, buf || !len);
    for (size_t off = 0; !err && off < len;) {
        size_t put = 0;
        err = transfer(&c, fd, (char *)buf + off, len - off, &put, op_write, IO_WRITABLE);
        off += put;
    }
    return err;
}

int weft_wait_fd(int fd, unsigned events, double timeout)
{
    struct call c;
    int err = call_begin(&c, fd, timeout,
                         events && !(events & ~(unsigned)(WEFT_READABLE | WEFT_WRITABLE)));
    if (err)
        return err;
    struct pollfd p = {.fd = fd,
                       .events = (short)((events & WEFT_READABLE ? POLLIN : 0) |
                                         (events & WEFT_WRITABLE ? POLLOUT : 0))};
    /* The poller reports edges; the level is the kernel's to tell. */
    unsigned dirs =
        (events & WEFT_READABLE ? IO_READABLE : 0) | (events & WEFT_WRITABLE ? IO_WRITABLE : 0);
    for (;;) {
        if ((err = io_enter(c.h, c.gen)))
            return err;
        int n = poll(&p, 1, 0);
        int poll_err = errno;
        io_leave(c.h);
        if (n < 0 && poll_err != EINTR)
            return poll_err;
        if (n > 0)
            return p.revents & POLLNVAL ? EBADF : 0;
        if ((err = wait_ready(&c, dirs)))
            return err;
    }
}

int weft_accept(int listen_fd, int *fd, double timeout)
{
    struct call c;
    int err = call_begin(&c, listen_fd, timeout, fd != NULL);
    if (err)
        return err;
    for (;;) {
        if ((err = io_enter(c.h, c.gen)))
            return err;
        int s = accept4(listen_fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        int accept_err = errno;
        io_leave(c.h);
        if (s >= 0) {
            int one = 1;
            setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            *fd = s;
            return 0;
        }
        if (accept_err == ECONNABORTED || accept_err == EINTR)
            continue;
        if (accept_err != EAGAIN && accept_err != EWOULDBLOCK)
            return accept_err;
        if ((err = wait_ready(&c, IO_READABLE)))
            return err;
    }
}

static int resolve(const char *host, uint16_t port, int passive, struct addrinfo **list)
{
    char service[8];
    snprintf(service, sizeof service, "%u", (unsigned)port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = passive ? AI_PASSIVE : 0};
    int rc = getaddrinfo(host, service, &hints, list);
    if (rc == 0)
        return 0;
    return rc == EAI_SYSTEM ? errno : rc == EAI_MEMORY ? ENOMEM : EADDRNOTAVAIL;
}

int weft_tcp_listen(const char *host, uint16_t port, int backlog, unsigned flags, int *fd)
{
    if (!fd || backlog < 0 || (flags & ~(unsigned)WEFT_REUSEPORT))
        return EINVAL;
    struct addrinfo *list;
    int err = resolve(host ? host : "::", port, 1, &list);
    if (err && !host)
        err = resolve("0.0.0.0", port, 1, &list); /* no IPv6 on this machine */
    if (err)
        return err;
    err = EADDRNOTAVAIL;
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        int s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (s < 0) {
            err = errno;
            continue;
        }
        int one = 1, zero = 0;
        setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (flags & WEFT_REUSEPORT)
            setsockopt(s, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
        if (ai->ai_family == AF_INET6 && !host)
            setsockopt(s, IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero);
        if (bind(s, ai->ai_addr, ai->ai_addrlen) == 0 &&
            listen(s, backlog ? backlog : SOMAXCONN) == 0) {
            *fd = s;
            err = 0;
            break;
        }
        err = errno;
        close(s);
    }
    freeaddrinfo(list);
    return err;
}

int weft_local_port(int fd, uint16_t *port)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof ss;
    if (!port)
        return EINVAL;
    if (getsockname(fd, (struct sockaddr *)&ss, &len) != 0)
        return errno;
    if (ss.ss_family == AF_INET)
        *port = ntohs(((struct sockaddr_in *)&ss)->sin_port);
    else if (ss.ss_family == AF_INET6)
        *port = ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    else
        return EAFNOSUPPORT;
    return 0;
}

/* A connect in progress on s: its outcome. Nobody else knows s yet, so
 * its system calls need no io_enter. */
static int connect_wait(struct call *c, int s, const struct addrinfo *ai)
{
    int err = call_attach(c, s);
    if (err)
        return err;
    do {
        if ((err = wait_ready(c, IO_WRITABLE)))
            return err;
        socklen_t len = sizeof err;
        if (getsockopt(s, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
            err = errno;
        else if (err == 0 && connect(s, ai->ai_addr, ai->ai_addrlen) != 0 && errno != EISCONN)
            err = errno;
    } while (err == EINPROGRESS || err == EALREADY);
    return err;
}

/* Connect one address: 0 and *fd, or an error. */
static int connect_one(struct call *c, const struct addrinfo *ai, int *fd)
{
    int s = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (s < 0)
        return errno;
    int err = connect(s, ai->ai_addr, ai->ai_addrlen) == 0 ? 0 : errno;
    if (err == EINPROGRESS)
        err = connect_wait(c, s, ai);
    if (err) {
        weft_close(s);
        return err;
    }
    int one = 1;
    setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    *fd = s;
    return 0;
}

int weft_tcp_connect(const char *host, uint16_t port, int *fd, double timeout)
{
    struct call c;
    int err = begin(timeout, &c.self, &c.deadline);
    if (err)
        return err;
    if (!host || !fd)
        return EINVAL;
    struct addrinfo *list;
    if ((err = resolve(host, port, 0, &list)))
        return err;
    err = EADDRNOTAVAIL;
    for (struct addrinfo *ai = list; ai; ai = ai->ai_next) {
        err = connect_one(&c, ai, fd);
        if (!err || err == ECANCELED || err == ETIMEDOUT)
            break;
    }
    freeaddrinfo(list);
    return err;
}

int weft_shutdown(int fd, int how)
{
    return shutdown(fd, how) == 0 ? 0 : errno;
}

int weft_close(int fd)
{
    struct worker *w = worker_self();
    if (!w)
        return close(fd) == 0 ? 0 : errno;
    return poller_close(w->rt, fd);
}
