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
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "examples/server.h"
#include "io_support.h"

static void *bad_input_main(void *arg)
{
    (void)arg;
    char buf[8] = {0};
    size_t n;
    int fd;
    check_rc(weft_read(-1, buf, sizeof buf, &n, WEFT_FOREVER), EBADF);
    check_rc(weft_write(-1, buf, sizeof buf, &n, WEFT_FOREVER), EBADF);
    check_rc(weft_read(0, NULL, 1, &n, WEFT_FOREVER), EINVAL);
    check_rc(weft_read(0, buf, 1, &n, NAN), EINVAL);
    check_rc(weft_write(1, NULL, 1, &n, WEFT_FOREVER), EINVAL);
    check_rc(weft_read_exactly(0, buf, 1, NAN), EINVAL);
    check_rc(weft_write_all(1, buf, 1, NAN), EINVAL);
    /* A timeout <= 0 has expired already: a call that would wait fails at
     * once (-1.0 is not "forever": that is WEFT_FOREVER, +inf). */
    int sv[2];
    check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv) == 0);
    check_rc(weft_read(sv[0], buf, 1, &n, -2.0), ETIMEDOUT);
    check_rc(weft_read(sv[0], buf, 1, &n, -1.0), ETIMEDOUT);
    check_rc(weft_read(sv[0], buf, 1, &n, 0), ETIMEDOUT);
    check_rc(weft_read_exactly(sv[0], buf, 1, -INFINITY), ETIMEDOUT);
    check_rc(weft_wait_fd(sv[0], WEFT_READABLE, -0.5), ETIMEDOUT);
    check_rc(weft_write_all(sv[1], "x", 1, -1.0), 0); /* no need to wait */
    check_rc(weft_read(sv[0], buf, 1, &n, -1.0), 0);
    check(n == 1 && buf[0] == 'x');
    weft_close(sv[0]);
    weft_close(sv[1]);
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
    FOR_EACH_MODE(real_modes) run_io_scenario(bad_input_main, NULL);
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
    FOR_EACH_MODE(real_modes) run_io_scenario(refused_main, NULL);
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
    FOR_EACH_MODE(real_modes) run_io_scenario(ipv6_main, NULL);
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
    /* Two tasks a connection: at most 2,000 under TSan's fiber limit. Two
     * descriptors a connection: no more than the descriptor limit allows. */
    size_t n = (size_t)stress_count(1000, 2000);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
        n > (rl.rlim_cur - 64) / 2)
        n = (rl.rlim_cur - 64) / 2;
    FOR_EACH_MODE(real_modes) run_io_scenario(many_clients_main, &n);
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
