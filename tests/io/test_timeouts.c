/*
 * Timeouts of the socket calls under virtual time, where weft_now() is
 * exact: a client that never sends (the server's read answers ETIMEDOUT at
 * the deadline, to the bit), accept with nobody connecting, connect to a
 * listener whose queue is full (loopback connects do block: the kernel drops
 * the SYN), a write the peer never reads, read_exactly that got part of its
 * bytes, weft_wait_fd on a pipe, a zero timeout (look, never wait), data
 * that comes before the deadline (no timeout), and an asyncio.timeout scope
 * (weft_timeout_enter) around a read with no timeout of its own. At 1, 2 and
 * 4 workers.
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

/* A listener on 127.0.0.1 with room for one queued connection, that nobody
 * accepts: a second connect waits for an answer that never comes. */
static int full_listener(uint16_t *port, int *queued)
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

static void *never_sends_main(void *arg)
{
    (void)arg;
    uint16_t port;
    int l = listen_local(&port), c, s;
    check_rc(weft_tcp_connect("127.0.0.1", port, &c, WEFT_FOREVER), 0);
    double t0 = weft_now();
    check_rc(weft_accept(l, &s, 1.0), 0);
    check(weft_now() == t0); /* the connection was there */
    char buf[16];
    size_t got = 99;
    check_rc(weft_read(s, buf, sizeof buf, &got, 2.5), ETIMEDOUT);
    check(weft_now() == t0 + 2.5);
    check(got == 0);
    /* The socket is still fine: the client speaks at last. */
    check_rc(weft_write_all(c, "hi", 2, WEFT_FOREVER), 0);
    check_rc(weft_read_exactly(s, buf, 2, 1.0), 0);
    check(memcmp(buf, "hi", 2) == 0);
    /* Part of what read_exactly wants, then nothing. */
    check_rc(weft_write_all(c, "abc", 3, WEFT_FOREVER), 0);
    t0 = weft_now();
    check_rc(weft_read_exactly(s, buf, 10, 4.0), ETIMEDOUT);
    check(weft_now() == t0 + 4.0);
    /* Nobody connects. */
    t0 = weft_now();
    int none = -1;
    check_rc(weft_accept(l, &none, 3.0), ETIMEDOUT);
    check(weft_now() == t0 + 3.0 && none == -1);
    weft_close(c);
    weft_close(s);
    weft_close(l);
    return (void *)1;
}

static void test_never_sends(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(never_sends_main, NULL, true);
}

static void *write_timeout_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    size_t len = 64 << 20;
    char *big = calloc(1, len);
    double t0 = weft_now();
    check_rc(weft_write_all(s, big, len, 1.5), ETIMEDOUT);
    check(weft_now() == t0 + 1.5);
    free(big);
    weft_close(c);
    weft_close(s);
    return (void *)1;
}

static void test_write_timeout(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(write_timeout_main, NULL, true);
}

static void *connect_timeout_main(void *arg)
{
    (void)arg;
    uint16_t port;
    int queued;
    int l = full_listener(&port, &queued);
    int fd = -1;
    double t0 = weft_now();
    check_rc(weft_tcp_connect("127.0.0.1", port, &fd, 2.0), ETIMEDOUT);
    check(weft_now() == t0 + 2.0);
    check(fd == -1); /* and the socket tried is closed: the run checks for leaks */
    weft_close(queued);
    close(l);
    return (void *)1;
}

static void test_connect_timeout(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(connect_timeout_main, NULL, true);
}

static void *pipe_timeout_main(void *arg)
{
    (void)arg;
    int p[2];
    check(pipe(p) == 0);
    double t0 = weft_now();
    check_rc(weft_wait_fd(p[0], WEFT_READABLE, 0.75), ETIMEDOUT);
    check(weft_now() == t0 + 0.75);
    check_rc(weft_wait_fd(p[1], WEFT_WRITABLE, 0.75), 0); /* an empty pipe has room */
    check(weft_now() == t0 + 0.75);
    weft_close(p[0]);
    weft_close(p[1]);
    return (void *)1;
}

static void test_pipe_timeout(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(pipe_timeout_main, NULL, true);
}

/* A zero timeout looks and never waits. */
static void *zero_timeout_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    char buf[4];
    size_t got;
    double t0 = weft_now();
    check_rc(weft_read(s, buf, sizeof buf, &got, 0), ETIMEDOUT);
    check_rc(weft_wait_fd(s, WEFT_READABLE, 0), ETIMEDOUT);
    check_rc(weft_write_all(c, "ok", 2, 0), 0);
    check_rc(weft_wait_fd(s, WEFT_READABLE, WEFT_FOREVER), 0);
    check_rc(weft_read(s, buf, sizeof buf, &got, 0), 0);
    check(got == 2 && weft_now() == t0);
    weft_close(c);
    weft_close(s);
    return (void *)1;
}

static void test_zero_timeout(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(zero_timeout_main, NULL, true);
}

/* The answer comes at t0 + 4, well before the deadline at t0 + 10. */
struct late {
    int fd;
};

static void *late_writer(void *arg)
{
    struct late *w = arg;
    check_rc(weft_sleep(4), 0);
    check_rc(weft_write_all(w->fd, "late", 4, WEFT_FOREVER), 0);
    return NULL;
}

static void *data_before_deadline_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    double t0 = weft_now();
    struct late w = {c};
    weft_task *t = weft_spawn(late_writer, &w);
    char buf[8];
    check_rc(weft_read_exactly(s, buf, 4, 10.0), 0);
    check(weft_now() == t0 + 4);
    check(memcmp(buf, "late", 4) == 0);
    await_release(t);
    weft_close(c);
    weft_close(s);
    return (void *)1;
}

static void test_data_before_deadline(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(data_before_deadline_main, NULL, true);
}

/* async with asyncio.timeout(1.5): await reader.read() */
static void *timeout_scope_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    double t0 = weft_now();
    weft_timeout *tm = weft_timeout_enter(1.5);
    check(tm != NULL);
    char buf[4];
    size_t got;
    check_rc(weft_read(s, buf, sizeof buf, &got, WEFT_FOREVER), ETIMEDOUT);
    check(weft_now() == t0 + 1.5);
    check_rc(weft_timeout_exit(tm), ETIMEDOUT);
    /* The earlier of the two deadlines wins. */
    tm = weft_timeout_enter(100);
    check_rc(weft_read(s, buf, sizeof buf, &got, 0.5), ETIMEDOUT);
    check(weft_now() == t0 + 2.0);
    check_rc(weft_timeout_exit(tm), 0);
    weft_close(c);
    weft_close(s);
    return (void *)1;
}

static void test_timeout_scope(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(timeout_scope_main, NULL, true);
}

int main(void)
{
    raise_nofile();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_never_sends),
        cmocka_unit_test(test_write_timeout),
        cmocka_unit_test(test_connect_timeout),
        cmocka_unit_test(test_pipe_timeout),
        cmocka_unit_test(test_zero_timeout),
        cmocka_unit_test(test_data_before_deadline),
        cmocka_unit_test(test_timeout_scope),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
