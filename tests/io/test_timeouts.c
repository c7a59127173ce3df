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
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "io_support.h"

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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(never_sends_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(write_timeout_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(connect_timeout_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(pipe_timeout_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(zero_timeout_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(data_before_deadline_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(timeout_scope_main, NULL);
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
