/*
 * weft_close on a descriptor another task waits on: the waiter wakes with
 * EBADF, whatever it waits in (weft_read, weft_write, weft_read_exactly,
 * weft_accept, weft_wait_fd), and a reader and a writer on one socket both
 * wake. The descriptor's number comes back with the next socket; waits on
 * the new socket are woken by its own events, not by the old one's state.
 * Calls on a closed descriptor answer EBADF at once. Under virtual time,
 * where settle() returns once every other task is blocked. At 1, 2 and 4
 * workers.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmocka.h>

#include "weft.h"
#include "weft_io.h"

static unsigned mode_workers;
static int check_failures;
static char check_first[256];

static void check_failed(const char *what, int line)
{
    if (__atomic_fetch_add(&check_failures, 1, __ATOMIC_RELAXED) == 0)
        snprintf(check_first, sizeof check_first, "line %d: %s", line, what);
}

#define check(cond) ((cond) ? (void)0 : check_failed(#cond, __LINE__))
/* An int call's result, named in the failure when it is not the one expected. */
#define check_rc(call, want)                                                                       \
    do {                                                                                           \
        int rc_ = (call);                                                                          \
        if (rc_ != (want)) {                                                                       \
            char what_[200];                                                                       \
            snprintf(what_, sizeof what_, "%s = %s, not %s", #call,                                \
                     rc_ ? strerrorname_np(rc_) : "0", (want) ? strerrorname_np(want) : "0");     \
            check_failed(what_, __LINE__);                                                         \
        }                                                                                          \
    } while (0)

static const unsigned all_workers[] = {1, 2, 4};

#define FOR_EACH_MODE                                                                              \
    for (size_t mode_i = 0; mode_i < 3 && (mode_workers = all_workers[mode_i], 1); mode_i++)

static int open_fds(void)
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

/* Runs main_fn as weft_run's main at the current mode's worker count; every
 * descriptor opened in the run must be closed by its end. */
static inline void run_mode(void *(*main_fn)(void *), void *arg, bool virtual_time)
{
    const weft_config cfg = {.workers = mode_workers, .virtual_time = virtual_time};
    check_failures = 0;
    int fds = open_fds();
    void *result = weft_run(main_fn, arg, &cfg);
    if (check_failures)
        fail_msg("[workers=%u] %d failed checks in tasks, the first at %s", mode_workers,
                 check_failures, check_first);
    if (result != (void *)1)
        fail_msg("[workers=%u] main did not finish", mode_workers);
    if (open_fds() != fds)
        fail_msg("[workers=%u] %d descriptors open before the run, %d after", mode_workers, fds,
                 open_fds());
}

static inline double stress_scale(void)
{
    const char *s = getenv("WEFT_STRESS_SCALE");
    double scale = s ? atof(s) : 1.0;
    return scale > 0 ? scale : 1.0;
}

/* So that many connections fit: the soft descriptor limit up to the hard one. */
static void raise_nofile(void)
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

/* Under virtual time: returns once every other task is blocked. */
static inline void settle(void)
{
    check_rc(weft_sleep(1), 0);
}

enum op { OP_READ, OP_READ_EXACTLY, OP_WRITE, OP_ACCEPT, OP_WAIT_FD };

struct waiter {
    enum op op;
    int fd;
    int rc;
    int finished; /* atomic */
};

static void *wait_on(void *arg)
{
    struct waiter *w = arg;
    char buf[16];
    static char big[1 << 20];
    size_t n;
    int rc = 0, fd;
    switch (w->op) {
    case OP_READ:
        rc = weft_read(w->fd, buf, sizeof buf, &n, WEFT_FOREVER);
        break;
    case OP_READ_EXACTLY:
        rc = weft_read_exactly(w->fd, buf, sizeof buf, WEFT_FOREVER);
        break;
    case OP_WRITE:
        while ((rc = weft_write(w->fd, big, sizeof big, &n, WEFT_FOREVER)) == 0)
            ;
        break;
    case OP_ACCEPT:
        rc = weft_accept(w->fd, &fd, WEFT_FOREVER);
        break;
    case OP_WAIT_FD:
        rc = weft_wait_fd(w->fd, WEFT_READABLE, WEFT_FOREVER);
        break;
    }
    w->rc = rc;
    __atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static weft_task *start_waiting(struct waiter *w)
{
    w->finished = 0;
    weft_task *t = weft_spawn(wait_on, w);
    settle();
    check(!__atomic_load_n(&w->finished, __ATOMIC_ACQUIRE));
    return t;
}

static void close_under(struct waiter *w)
{
    weft_task *t = start_waiting(w);
    check_rc(weft_close(w->fd), 0);
    await_release(t);
    check_rc(w->rc, EBADF);
}

static void *close_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    struct waiter w = {.op = OP_READ, .fd = s};
    close_under(&w);
    weft_close(c);

    tcp_pair(&c, &s);
    check_rc(weft_write_all(c, "abc", 3, WEFT_FOREVER), 0);
    w = (struct waiter){.op = OP_READ_EXACTLY, .fd = s};
    close_under(&w);
    weft_close(c);

    tcp_pair(&c, &s);
    w = (struct waiter){.op = OP_WRITE, .fd = s};
    close_under(&w);
    weft_close(c);

    uint16_t port;
    w = (struct waiter){.op = OP_ACCEPT, .fd = listen_local(&port)};
    close_under(&w);

    int p[2];
    check(pipe(p) == 0);
    w = (struct waiter){.op = OP_WAIT_FD, .fd = p[0]};
    close_under(&w);
    weft_close(p[1]);
    return (void *)1;
}

static void test_close_wakes_waiter(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(close_main, NULL, true);
}

/* A reader and a writer on one socket: one close wakes both. */
static void *both_directions_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    struct waiter r = {.op = OP_READ, .fd = s}, w = {.op = OP_WRITE, .fd = s};
    weft_task *tr = start_waiting(&r), *tw = start_waiting(&w);
    check_rc(weft_close(s), 0);
    await_release(tr);
    await_release(tw);
    check_rc(r.rc, EBADF);
    check_rc(w.rc, EBADF);
    weft_close(c);
    return (void *)1;
}

static void test_close_both_directions(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(both_directions_main, NULL, true);
}

/* The number comes back: the new socket's waits work, and the old socket's
 * readiness (it had unread data) does not leak into them. */
static void *reuse_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    check_rc(weft_write_all(c, "old", 3, WEFT_FOREVER), 0);
    check_rc(weft_wait_fd(s, WEFT_READABLE, WEFT_FOREVER), 0);
    int old_s = s, old_c = c;
    check_rc(weft_close(s), 0);
    check_rc(weft_close(c), 0);
    char buf[8];
    size_t got;
    check_rc(weft_read(old_s, buf, sizeof buf, &got, WEFT_FOREVER), EBADF);
    check_rc(weft_wait_fd(old_s, WEFT_READABLE, WEFT_FOREVER), EBADF);
    for (int round = 0; round < 20; round++) {
        tcp_pair(&c, &s);
        if (round == 0) /* the listener took one old number, the client the other */
            check(c == old_c || c == old_s);
        struct waiter r = {.op = OP_READ, .fd = s};
        weft_task *t = start_waiting(&r);
        check_rc(weft_write_all(c, "new", 3, WEFT_FOREVER), 0);
        await_release(t);
        check_rc(r.rc, 0);
        check_rc(weft_read(s, buf, sizeof buf, &got, 0), ETIMEDOUT);
        check_rc(weft_close(s), 0);
        check_rc(weft_close(c), 0);
    }
    return (void *)1;
}

static void test_number_reused(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(reuse_main, NULL, true);
}

int main(void)
{
    raise_nofile();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_close_wakes_waiter),
        cmocka_unit_test(test_close_both_directions),
        cmocka_unit_test(test_number_reused),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
