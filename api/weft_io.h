/*
 * weft I/O: sockets and other descriptors for weft tasks.
 *
 * Words as in weft.h's legend. The calls with a timeout are Task only
 * (EPERM elsewhere) and an await point when they have to wait: the task
 * parks until the descriptor is ready and its worker runs other tasks
 * meanwhile; a call that need not wait neither suspends nor sees a pending
 * cancellation. Each takes a timeout in seconds (WEFT_FOREVER: none; NaN:
 * EINVAL) and answers ETIMEDOUT when it passes, ECANCELED when the task is
 * cancelled, EINVAL for a NULL pointer argument (a NULL buf is fine for
 * len 0), ENOMEM, otherwise 0 or the system call's own errno (ECONNRESET,
 * EPIPE without a SIGPIPE, ...). Closing a descriptor with weft_close wakes
 * the tasks waiting on it with EBADF. A descriptor a call hands out is the
 * caller's, to close with weft_close.
 * Descriptors given to these calls are made non-blocking before the first
 * system call on them (blocking ones made elsewhere, such as a pipe() or a
 * listening socket from a parent process, included); a regular file, which
 * is never waited for, is read and written as it is.
 */
#ifndef WEFT_IO_H
#define WEFT_IO_H

#include <stddef.h>
#include <stdint.h>

#include "weft.h"

#ifdef __cplusplus
extern "C" {
#endif

enum { WEFT_REUSEPORT = 1 };          /* weft_tcp_listen flags */
enum { WEFT_READABLE = 1, WEFT_WRITABLE = 2 };

/* A listening TCP socket on host (an IPv4 or IPv6 address or name; NULL:
 * every address, IPv6 and IPv4) and port (0: any; see weft_local_port);
 * backlog 0: SOMAXCONN. Any thread; not an await point: resolving a name
 * blocks the thread (getaddrinfo). 0 and *fd; EINVAL (NULL fd, a negative
 * backlog, an unknown flag), EADDRNOTAVAIL (a name that does not resolve),
 * ENOMEM, or socket(2)'s, bind(2)'s or listen(2)'s errno (EADDRINUSE, ...). */
int weft_tcp_listen(const char *host, uint16_t port, int backlog, unsigned flags, int *fd);
/* The port fd is bound to. Any thread. 0, EINVAL for a NULL port,
 * EAFNOSUPPORT for a socket not IPv4 or IPv6, or getsockname(2)'s errno. */
int weft_local_port(int fd, uint16_t *port);

/* Await point: the next connection, non-blocking, with TCP_NODELAY. EMFILE
 * and ENFILE are returned as they are: the pending connection stays queued
 * for a later call. */
int weft_accept(int listen_fd, int *fd, double timeout);

/* Await point: a connected TCP socket to host:port, with TCP_NODELAY; each
 * address of host in turn, the last one's error if none connects, or
 * EADDRNOTAVAIL when host does not resolve. Resolving a name blocks the
 * worker (getaddrinfo), outside the timeout. */
int weft_tcp_connect(const char *host, uint16_t port, int *fd, double timeout);

/* Await point: read at least one byte; *got = 0 means end of file. */
int weft_read(int fd, void *buf, size_t len, size_t *got, double timeout);
/* Await point: read exactly len bytes; ENODATA if the peer ends first
 * (asyncio's IncompleteReadError). */
int weft_read_exactly(int fd, void *buf, size_t len, double timeout);
/* Await point: write at least one byte (*put of them). */
int weft_write(int fd, const void *buf, size_t len, size_t *put, double timeout);
/* Await point: write all len bytes. */
int weft_write_all(int fd, const void *buf, size_t len, double timeout);
/* Await point: wait until fd is readable or writable, whichever of events
 * (WEFT_READABLE, WEFT_WRITABLE, or both; else EINVAL) comes first. An
 * error or hang-up on fd counts as ready; EBADF for an fd not open. */
int weft_wait_fd(int fd, unsigned events, double timeout);

/* shutdown(2): SHUT_RD, SHUT_WR, SHUT_RDWR; 0 or its errno. Any thread. */
int weft_shutdown(int fd, int how);
/* Close fd; tasks waiting on it wake with EBADF. A call running on fd in
 * another task meanwhile ends with EBADF or finishes on fd as it was, never
 * on a descriptor that takes the number next: the number is freed (and the
 * close(2) done) once no call is inside a system call on it. EBADF if fd
 * is being closed already, else 0 or close(2)'s errno. Use it instead of
 * close(2) for every descriptor given to these calls, from tasks: from
 * threads that are no runtime's workers it is close(2). Any thread; not an
 * await point. */
int weft_close(int fd);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_IO_H */
