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
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "io_support.h"

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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(close_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(both_directions_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(reuse_main, NULL);
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
