/*
 * weft's socket calls end to end: bad input (EINVAL, EPERM outside a task,
 * EBADF), a connection refused, IPv6 loopback where the machine has it, and
 * many concurrent clients (1,000 at scale 1) through an echo server built on
 * examples/server.h's accept loop, each checking that the bytes it gets back
 * are its own, over several rounds of messages of different sizes.
 *
 * Every scenario runs at 1, 2 and 4 workers; check() records failures in
 * tasks, which fail the test after weft_run, naming the mode.
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

#include "examples/server.h"

static void *bad_input_main(void *arg)
{
    (void)arg;
    char buf[8] = {0};
    size_t n;
    int fd;
    check_rc(weft_read(-1, buf, sizeof buf, &n, WEFT_FOREVER), EBADF);
    check_rc(weft_write(-1, buf, sizeof buf, &n, WEFT_FOREVER), EBADF);
    check_rc(weft_read(0, NULL, 1, &n, WEFT_FOREVER), EINVAL);
    check_rc(weft_read(0, buf, 1, &n, -2.0), EINVAL);
    check_rc(weft_read(0, buf, 1, &n, NAN), EINVAL);
    check_rc(weft_write(1, NULL, 1, &n, WEFT_FOREVER), EINVAL);
    check_rc(weft_read_exactly(0, buf, 1, -0.5), EINVAL);
    check_rc(weft_write_all(1, buf, 1, -0.5), EINVAL);
    check_rc(weft_wait_fd(0, 0, WEFT_FOREVER), EINVAL);
    check_rc(weft_wait_fd(0, 4, WEFT_FOREVER), EINVAL);
    check_rc(weft_accept(0, NULL, WEFT_FOREVER), EINVAL);
    check_rc(weft_accept(-1, &fd, WEFT_FOREVER), EBADF);
    check_rc(weft_tcp_connect(NULL, 80, &fd, WEFT_FOREVER), EINVAL);
    check_rc(weft_tcp_connect("127.0.0.1", 80, NULL, WEFT_FOREVER), EINVAL);
    check_rc(weft_tcp_listen("127.0.0.1", 0, 0, 0, NULL), EINVAL);
    check_rc(weft_tcp_listen("127.0.0.1", 0, -1, 0, &fd), EINVAL);
    check_rc(weft_tcp_listen("127.0.0.1", 0, 0, 0x10, &fd), EINVAL);
    check_rc(weft_local_port(0, NULL), EINVAL);
    check_rc(weft_close(-1), EBADF);
    check_rc(weft_shutdown(-1, SHUT_RDWR), EBADF);
    return (void *)1;
}

static void test_bad_input(void **state)
{
    (void)state;
    char buf[8];
    size_t n;
    int fd;
    assert_int_equal(weft_read(0, buf, 1, &n, WEFT_FOREVER), EPERM);
    assert_int_equal(weft_write(1, buf, 1, &n, WEFT_FOREVER), EPERM);
    assert_int_equal(weft_read_exactly(0, buf, 1, WEFT_FOREVER), EPERM);
    assert_int_equal(weft_write_all(1, buf, 1, WEFT_FOREVER), EPERM);
    assert_int_equal(weft_wait_fd(0, WEFT_READABLE, WEFT_FOREVER), EPERM);
    assert_int_equal(weft_accept(0, &fd, WEFT_FOREVER), EPERM);
    assert_int_equal(weft_tcp_connect("127.0.0.1", 1, &fd, WEFT_FOREVER), EPERM);
    assert_int_equal(weft_close(-1), EBADF); /* no task needed */
    FOR_EACH_MODE run_mode(bad_input_main, NULL, false);
}

/* Nothing listens on a port just released. */
static void *refused_main(void *arg)
{
    (void)arg;
    uint16_t port;
    int l = listen_local(&port), fd = -1;
    check_rc(weft_close(l), 0);
    check_rc(weft_tcp_connect("127.0.0.1", port, &fd, WEFT_FOREVER), ECONNREFUSED);
    check(fd == -1);
    check_rc(weft_tcp_connect("no-such-host.invalid", port, &fd, 5.0), EADDRNOTAVAIL);
    return (void *)1;
}

static void test_refused(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(refused_main, NULL, false);
}

static void *ipv6_main(void *arg)
{
    (void)arg;
    int l, c, s;
    int err = weft_tcp_listen("::1", 0, 0, 0, &l);
    if (err == EADDRNOTAVAIL || err == EAFNOSUPPORT)
        return (void *)1; /* no IPv6 loopback here */
    check_rc(err, 0);
    uint16_t port;
    check_rc(weft_local_port(l, &port), 0);
    check_rc(weft_tcp_connect("::1", port, &c, WEFT_FOREVER), 0);
    check_rc(weft_accept(l, &s, WEFT_FOREVER), 0);
    char buf[6];
    check_rc(weft_write_all(c, "hello", 6, WEFT_FOREVER), 0);
    check_rc(weft_read_exactly(s, buf, 6, WEFT_FOREVER), 0);
    check(memcmp(buf, "hello", 6) == 0);
    weft_close(c);
    weft_close(s);
    weft_close(l);
    return (void *)1;
}

static void test_ipv6(void **state)
{
    (void)state;
    FOR_EACH_MODE run_mode(ipv6_main, NULL, false);
}

/* --- many clients through an echo server ------------------------------------------ */

static void echo(int fd, void *ctx)
{
    (void)ctx;
    char buf[4096];
    for (;;) {
        size_t got;
        if (weft_read(fd, buf, sizeof buf, &got, WEFT_FOREVER) != 0 || got == 0)
            return;
        if (weft_write_all(fd, buf, got, WEFT_FOREVER) != 0)
            return;
    }
}

#define ROUNDS 3
#define MAX_MESSAGE 6000

struct client {
    uint16_t port;
    unsigned id;
    int ok; /* atomic */
};

static unsigned char pattern(unsigned id, unsigned round, size_t i)
{
    return (unsigned char)(id * 131u + round * 17u + i * 7u + (i >> 8));
}

static void *client_main(void *arg)
{
    struct client *c = arg;
    int fd;
    int err = weft_tcp_connect("127.0.0.1", c->port, &fd, WEFT_FOREVER);
    check_rc(err, 0);
    if (err)
        return NULL;
    unsigned char out[MAX_MESSAGE], in[MAX_MESSAGE];
    bool ok = true;
    for (unsigned r = 0; r < ROUNDS && ok; r++) {
        size_t len = 1 + (c->id * 7919u + r * 104729u) % MAX_MESSAGE;
        for (size_t i = 0; i < len; i++)
            out[i] = pattern(c->id, r, i);
        check_rc(weft_write_all(fd, out, len, WEFT_FOREVER), 0);
        check_rc(err = weft_read_exactly(fd, in, len, WEFT_FOREVER), 0);
        ok = err == 0 && memcmp(in, out, len) == 0;
    }
    /* The server closes once we have said we are done. */
    check_rc(weft_shutdown(fd, SHUT_WR), 0);
    size_t got = 1;
    check_rc(weft_read(fd, in, sizeof in, &got, WEFT_FOREVER), 0);
    check(got == 0);
    check_rc(weft_close(fd), 0);
    __atomic_store_n(&c->ok, ok, __ATOMIC_RELEASE);
    return NULL;
}

static void *many_clients_main(void *arg)
{
    size_t n = *(size_t *)arg;
    uint16_t port;
    struct server s;
    server_init(&s, listen_local(&port), echo, NULL);
    weft_task *accept_task = weft_spawn(server_accept_loop, &s);
    struct client *clients = calloc(n, sizeof *clients);
    weft_task **tasks = calloc(n, sizeof *tasks);
    for (size_t i = 0; i < n; i++) {
        clients[i] = (struct client){.port = port, .id = (unsigned)i};
        tasks[i] = weft_spawn(client_main, &clients[i]);
        check(tasks[i] != NULL);
    }
    check_rc(weft_gather(tasks, n, NULL, 0), 0);
    size_t ok = 0;
    for (size_t i = 0; i < n; i++) {
        ok += __atomic_load_n(&clients[i].ok, __ATOMIC_ACQUIRE);
        weft_task_release(tasks[i]);
    }
    check(ok == n);
    weft_cancel(accept_task);
    check(await_release(accept_task) == NULL);
    check(s.accepted == n); /* counted after the spawn: read once the loop is over */
    check(s.overloads == 0);
    free(tasks);
    free(clients);
    return (void *)1;
}

static void test_many_clients(void **state)
{
    (void)state;
    size_t n = (size_t)(1000 * stress_scale());
#if defined(__SANITIZE_THREAD__)
    if (n > 2000)
        n = 2000; /* two tasks a connection, under TSan's fiber limit */
#endif
    FOR_EACH_MODE run_mode(many_clients_main, &n, false);
}

int main(void)
{
    raise_nofile();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_refused),
        cmocka_unit_test(test_ipv6),
        cmocka_unit_test(test_many_clients),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
