/*
 * What the cmocka programs under tests/io share on top of tests/harness.h,
 * so that each piece of it exists once. The harness gives the modes, check()
 * in tasks, run_scenario(), settle() and stress_scale(); this adds what
 * socket tests need around them.
 *
 * run_io_scenario() is run_scenario() that also fails the test when a run
 * leaves a descriptor open (open_fds() counts them before and after), so
 * every scenario shows that weft's calls, cancelled or timed out, leak none.
 * check_rc() is check() for an int call, naming the error codes got and
 * wanted. raise_nofile() lifts the soft descriptor limit to the hard one so
 * that many connections fit; listen_local() and tcp_pair() make a listener
 * and a connected pair on 127.0.0.1 in a task, full_listener() one whose
 * queue is full, so that a connect to it blocks; await_release() awaits a
 * task and hands back its result.
 *
 * The including program defines _GNU_SOURCE first (check_rc uses
 * strerrorname_np). Everything is static: each program is one translation
 * unit.
 */
#ifndef TESTS_IO_SUPPORT_H
#define TESTS_IO_SUPPORT_H

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "../harness.h"
#include "weft_io.h"

/* An int call's result, named in the failure when it is not the one expected. */
#define check_rc(call, want)                                                                       \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (want)) {                                                                       \
            char what_[200];                                                                       \
            snprintf(what_, sizeof what_, "%s = %s, not %s", #call,                                \
                     rc_ ? strerrorname_np(rc_) : "0", (want) ? strerrorname_np(want) : "0");      \
            check_failed(what_, __LINE__);                                                         \
        }                                                                                          \
    } while (0)

/* The descriptors this process has open, or -1 if /proc cannot say. */
static inline int open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    int n = 0;
    if (!d)
        return -1;
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

/* run_scenario in the current mode; every descriptor opened in the run must
 * be closed by its end. */
static inline void run_io_scenario(void *(*main_fn)(void *), void *arg)
{
    int fds = open_fds();
    run_scenario(main_fn, arg);
    if (open_fds() != fds)
        fail_msg(MODE_FMT " %d descriptors open before the run, %d after", MODE_ARGS, fds,
                 open_fds());
}

/* So that many connections fit: the soft descriptor limit up to the hard one. */
static inline void raise_nofile(void)
{
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
}

static inline void *await_release(weft_task *t)
{
    void *r = weft_await(t);
    weft_task_release(t);
    return r;
}

/* A listening socket on 127.0.0.1 and a port of the kernel's choosing. */
static inline int listen_local(uint16_t *port)
{
    int fd = -1;
    check_rc(weft_tcp_listen("127.0.0.1", 0, 0, 0, &fd), 0);
    check_rc(weft_local_port(fd, port), 0);
    return fd;
}

/* In a task: two ends of a TCP connection on 127.0.0.1. */
static inline void tcp_pair(int *client, int *server)
{
    uint16_t port;
    int l = listen_local(&port);
    *client = *server = -1;
    check_rc(weft_tcp_connect("127.0.0.1", port, client, WEFT_FOREVER), 0);
    check_rc(weft_accept(l, server, WEFT_FOREVER), 0);
    check_rc(weft_close(l), 0);
}

/* A listener on 127.0.0.1 with room for one queued connection, that nobody
 * accepts: a second connect waits for an answer that never comes. */
static inline int full_listener(uint16_t *port, int *queued)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    check(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    check(listen(l, 0) == 0);
    check(getsockname(l, (struct sockaddr *)&a, &len) == 0);
    *port = ntohs(a.sin_port);
    check_rc(weft_tcp_connect("127.0.0.1", *port, queued, WEFT_FOREVER), 0);
    return l;
}

#endif
