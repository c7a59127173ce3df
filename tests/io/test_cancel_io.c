/*
 * Cancelling a task blocked in a socket call: in weft_read, weft_read_exactly
 * (with part of its bytes read), weft_write (the peer does not read),
 * weft_accept, weft_tcp_connect (to a listener whose one-connection queue is
 * full: loopback connects then wait for an answer that never comes) and
 * weft_wait_fd. Each answers ECANCELED; the descriptor stays usable (the
 * next wait on it, by this task or another, is woken as usual), a cancelled
 * connect leaves no socket behind (the run checks that every descriptor
 * opened is closed), and a cancellation that arrives while the call need not
 * wait stays pending until the next wait, as asyncio's does. Under virtual
 * time, where settle() returns once every other task is blocked. At 1, 2
 * and 4 workers.
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

#include <arpa/inet.h>
#include <netinet/in.h>

enum op { OP_READ, OP_READ_EXACTLY, OP_WRITE, OP_ACCEPT, OP_CONNECT, OP_WAIT_FD };

struct blocked {
    enum op op;
    int fd;
    uint16_t port;
    int rc;
    int result_fd;
    size_t done;
    int finished; /* atomic */
};

static void *blocked_call(void *arg)
{
    struct blocked *b = arg;
    char buf[16];
    static char big[1 << 20];
    b->result_fd = -1;
    switch (b->op) {
    case OP_READ:
        b->rc = weft_read(b->fd, buf, sizeof buf, &b->done, WEFT_FOREVER);
        break;
    case OP_READ_EXACTLY:
        b->rc = weft_read_exactly(b->fd, buf, sizeof buf, WEFT_FOREVER);
        break;
    case OP_WRITE: {
        /* Fill every buffer, then wait for room. */
        int rc;
        do
            rc = weft_write(b->fd, big, sizeof big, &b->done, WEFT_FOREVER);
        while (rc == 0);
        b->rc = rc;
        break;
    }
    case OP_ACCEPT:
        b->rc = weft_accept(b->fd, &b->result_fd, WEFT_FOREVER);
        break;
    case OP_CONNECT:
        b->rc = weft_tcp_connect("127.0.0.1", b->port, &b->result_fd, WEFT_FOREVER);
        break;
    case OP_WAIT_FD:
        b->rc = weft_wait_fd(b->fd, WEFT_READABLE, WEFT_FOREVER);
        break;
    }
    __atomic_store_n(&b->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Start the call in its own task, let it block, cancel it. */
static void cancel_blocked(struct blocked *b)
{
    b->finished = 0;
    weft_task *t = weft_spawn(blocked_call, b);
    settle();
    check(!__atomic_load_n(&b->finished, __ATOMIC_ACQUIRE)); /* still blocked */
    check(weft_cancel(t));
    await_release(t);
    check_rc(b->rc, ECANCELED);
    check(b->result_fd == -1);
}

static void *read_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    struct blocked b = {.op = OP_READ, .fd = s};
    cancel_blocked(&b);
    /* Part of what read_exactly wants, then the cancel. */
    check_rc(weft_write_all(c, "0123", 4, WEFT_FOREVER), 0);
    b.op = OP_READ_EXACTLY;
    cancel_blocked(&b);
    /* The socket works on: another task's read is woken by new data. */
    check_rc(weft_write_all(c, "next", 4, WEFT_FOREVER), 0);
    char buf[4];
    check_rc(weft_read_exactly(s, buf, 4, WEFT_FOREVER), 0);
    check(memcmp(buf, "next", 4) == 0);
    b.op = OP_READ;
    weft_task *t = weft_spawn(blocked_call, &b);
    settle();
    check_rc(weft_write_all(c, "more", 4, WEFT_FOREVER), 0);
    await_release(t);
    check_rc(b.rc, 0);
    check(b.done == 4);
    weft_close(c);
    weft_close(s);
    return (void *)1;
}

static void test_cancel_read(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(read_main, NULL, true);
}

static void *write_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    struct blocked b = {.op = OP_WRITE, .fd = s};
    cancel_blocked(&b);
    /* Once the peer reads, writing works again. */
    static char buf[1 << 16];
    size_t got, total = 0;
    while (weft_wait_fd(s, WEFT_WRITABLE, 0) == ETIMEDOUT) {
        check_rc(weft_read(c, buf, sizeof buf, &got, WEFT_FOREVER), 0);
        total += got;
    }
    check(total > 0);
    check_rc(weft_write_all(s, "x", 1, WEFT_FOREVER), 0);
    weft_close(c);
    weft_close(s);
    return (void *)1;
}

static void test_cancel_write(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(write_main, NULL, true);
}

static void *accept_main(void *arg)
{
    (void)arg;
    uint16_t port;
    int l = listen_local(&port);
    struct blocked b = {.op = OP_ACCEPT, .fd = l};
    cancel_blocked(&b);
    /* The listener works on: a new accept waits for and gets a client. */
    weft_task *t = weft_spawn(blocked_call, &b);
    settle();
    int c;
    check_rc(weft_tcp_connect("127.0.0.1", port, &c, WEFT_FOREVER), 0);
    await_release(t);
    check_rc(b.rc, 0);
    check(b.result_fd >= 0);
    weft_close(b.result_fd);
    weft_close(c);
    weft_close(l);
    return (void *)1;
}

static void test_cancel_accept(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(accept_main, NULL, true);
}

static void *connect_main(void *arg)
{
    (void)arg;
    /* A queue with room for one connection, which nobody accepts. */
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    check(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    check(listen(l, 0) == 0);
    check(getsockname(l, (struct sockaddr *)&a, &len) == 0);
    int queued;
    check_rc(weft_tcp_connect("127.0.0.1", ntohs(a.sin_port), &queued, WEFT_FOREVER), 0);
    struct blocked b = {.op = OP_CONNECT, .port = ntohs(a.sin_port)};
    cancel_blocked(&b);
    weft_close(queued);
    close(l);
    return (void *)1;
}

static void test_cancel_connect(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(connect_main, NULL, true);
}

static void *wait_fd_main(void *arg)
{
    (void)arg;
    int p[2];
    check(pipe(p) == 0);
    struct blocked b = {.op = OP_WAIT_FD, .fd = p[0]};
    cancel_blocked(&b);
    check(write(p[1], "x", 1) == 1);
    check_rc(weft_wait_fd(p[0], WEFT_READABLE, WEFT_FOREVER), 0);
    weft_close(p[0]);
    weft_close(p[1]);
    return (void *)1;
}

static void test_cancel_wait_fd(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(wait_fd_main, NULL, true);
}

/* asyncio: a cancel is delivered at the next await that suspends; reading
 * what is already there does not suspend. */
static void *pending_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    check_rc(weft_write_all(c, "ab", 2, WEFT_FOREVER), 0);
    check_rc(weft_wait_fd(s, WEFT_READABLE, WEFT_FOREVER), 0);
    weft_cancel(weft_task_current());
    char buf[4];
    size_t got;
    check_rc(weft_read(s, buf, 1, &got, WEFT_FOREVER), 0);
    check_rc(weft_read(s, buf, 1, &got, WEFT_FOREVER), 0);
    check_rc(weft_read(s, buf, 1, &got, WEFT_FOREVER), ECANCELED);
    /* Consumed: the next wait is an ordinary one. */
    check_rc(weft_read(s, buf, 1, &got, 0), ETIMEDOUT);
    weft_close(c);
    weft_close(s);
    return (void *)1;
}

static void test_cancel_pending(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(pending_main, NULL, true);
}

int main(void)
{
    raise_nofile();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_read),
        cmocka_unit_test(test_cancel_write),
        cmocka_unit_test(test_cancel_accept),
        cmocka_unit_test(test_cancel_connect),
        cmocka_unit_test(test_cancel_wait_fd),
        cmocka_unit_test(test_cancel_pending),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
