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
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "io_support.h"

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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(read_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(write_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(accept_main, NULL);
}

static void *connect_main(void *arg)
{
    (void)arg;
    uint16_t port;
    int queued;
    int l = full_listener(&port, &queued);
    struct blocked b = {.op = OP_CONNECT, .port = port};
    cancel_blocked(&b);
    weft_close(queued);
    close(l);
    return (void *)1;
}

static void test_cancel_connect(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_io_scenario(connect_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(wait_fd_main, NULL);
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
    FOR_EACH_MODE(virtual_modes) run_io_scenario(pending_main, NULL);
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
