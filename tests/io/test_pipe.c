/*
 * weft_wait_fd and reads on pipes: a task waits for the read end until
 * another task writes; for the write end of a full pipe until a reader
 * drains it; for either event (readable wins when data is there); a closed
 * write end makes the read end readable (end of file). weft_read_exactly
 * with fewer bytes than asked before end of file answers ENODATA (asyncio's
 * IncompleteReadError), on a pipe and on a socket. In single-thread mode the
 * place of a readiness wake-up in the loop is checked against asyncio's. Under virtual time; at 1, 2 and
 * 4 workers.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "io_support.h"

struct pipe_end {
    int fd;
    unsigned events;
    int rc;    /* atomic */
    double at; /* weft_now() when the wait ended */
};

static void *wait_task(void *arg)
{
    struct pipe_end *e = arg;
    int rc = weft_wait_fd(e->fd, e->events, WEFT_FOREVER);
    e->at = weft_now();
    __atomic_store_n(&e->rc, rc, __ATOMIC_RELEASE);
    return NULL;
}

static void *pipe_main(void *arg)
{
    (void)arg;
    int p[2];
    check(pipe2(p, O_CLOEXEC) == 0);
    /* Readable once written. */
    struct pipe_end r = {.fd = p[0], .events = WEFT_READABLE, .rc = -1};
    weft_task *t = weft_spawn(wait_task, &r);
    settle();
    double written = weft_now();
    check(write(p[1], "x", 1) == 1);
    await_release(t);
    check_rc(r.rc, 0);
    check(r.at == written);
    char c;
    check(read(p[0], &c, 1) == 1);

    /* A full pipe's write end waits for a reader. */
    check_rc(weft_wait_fd(p[1], WEFT_WRITABLE, 0), 0);
    check(fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
    static char block[65536];
    size_t filled = 0;
    ssize_t n;
    while ((n = write(p[1], block, sizeof block)) > 0)
        filled += (size_t)n;
    check(filled > 0);
    struct pipe_end w = {.fd = p[1], .events = WEFT_WRITABLE, .rc = -1};
    t = weft_spawn(wait_task, &w);
    settle();
    check(__atomic_load_n(&w.rc, __ATOMIC_ACQUIRE) == -1);
    while (filled > 0) {
        check_rc(weft_read_exactly(p[0], block, filled < sizeof block ? filled : sizeof block,
                                   WEFT_FOREVER), 0);
        filled -= filled < sizeof block ? filled : sizeof block;
    }
    await_release(t);
    check_rc(w.rc, 0);

    /* Either event: the read end is never writable; data makes it ready. */
    struct pipe_end either = {.fd = p[0], .events = WEFT_READABLE | WEFT_WRITABLE, .rc = -1};
    t = weft_spawn(wait_task, &either);
    settle();
    check(__atomic_load_n(&either.rc, __ATOMIC_ACQUIRE) == -1);
    check(write(p[1], "y", 1) == 1);
    await_release(t);
    check_rc(either.rc, 0);

    /* Closing the write end: readable, and then the end of the data. */
    check_rc(weft_close(p[1]), 0);
    check_rc(weft_wait_fd(p[0], WEFT_READABLE, WEFT_FOREVER), 0);
    char buf[4];
    check_rc(weft_read_exactly(p[0], buf, 3, WEFT_FOREVER), ENODATA); /* "y", then the end */
    size_t got = 99;
    check_rc(weft_read(p[0], buf, sizeof buf, &got, WEFT_FOREVER), 0);
    check(got == 0);
    check_rc(weft_close(p[0]), 0);
    return (void *)1;
}

static void test_pipe_wait_fd(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_io_scenario(pipe_main, NULL);
}

/* Single-thread mode puts a readiness wake-up where asyncio's selector loop
 * does: the reader callback (add_reader(fd, fut.set_result)) is queued
 * after the steps already queued when the loop polls, and the task's own
 * wake-up comes one iteration later. The twin:
 *
 *   async def waiter(r):
 *       fut = loop.create_future(); loop.add_reader(r, fut.set_result, None)
 *       log('a waits'); await fut; loop.remove_reader(r); log('a woke')
 *   async def other():
 *       for i in range(5): log(f'b{i}'); await asyncio.sleep(0)
 *   async def main():
 *       a = create_task(waiter(r)); await asyncio.sleep(0)
 *       b = create_task(other()); await asyncio.sleep(0)
 *       log('write'); os.write(w, b'x'); await a; log('main'); await b
 *
 * prints "a waits b0 write b1 b2 a woke b3 main b4" under CPython 3.11. */
static char order[128];

static void order_log(const char *what)
{
    if (order[0])
        strcat(order, " ");
    strcat(order, what);
}

static void *ordered_waiter(void *arg)
{
    int fd = *(int *)arg;
    order_log("a waits");
    check_rc(weft_wait_fd(fd, WEFT_READABLE, WEFT_FOREVER), 0);
    order_log("a woke");
    return NULL;
}

static void *ordered_other(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        char name[4] = {'b', (char)('0' + i), 0};
        order_log(name);
        check_rc(weft_yield(), 0);
    }
    return NULL;
}

static void *order_main(void *arg)
{
    (void)arg;
    int p[2];
    check(pipe2(p, O_CLOEXEC) == 0);
    weft_task *a = weft_spawn(ordered_waiter, &p[0]);
    check_rc(weft_yield(), 0);
    weft_task *b = weft_spawn(ordered_other, NULL);
    check_rc(weft_yield(), 0);
    order_log("write");
    check(write(p[1], "x", 1) == 1);
    await_release(a);
    order_log("main");
    await_release(b);
    check(strcmp(order, "a waits b0 write b1 b2 a woke b3 main b4") == 0);
    weft_close(p[0]);
    weft_close(p[1]);
    return (void *)1;
}

static void test_single_thread_order(void **state)
{
    (void)state;
    mode = (struct mode){.workers = 1, .virtual_time = false};
    order[0] = 0;
    run_io_scenario(order_main, NULL);
    if (strcmp(order, "a waits b0 write b1 b2 a woke b3 main b4") != 0)
        fail_msg("order: %s", order);
}

/* read_exactly on a socket whose peer ends early. */
static void *incomplete_main(void *arg)
{
    (void)arg;
    int c, s;
    tcp_pair(&c, &s);
    check_rc(weft_write_all(c, "12345", 5, WEFT_FOREVER), 0);
    check_rc(weft_shutdown(c, SHUT_WR), 0);
    char buf[16];
    check_rc(weft_read_exactly(s, buf, 8, WEFT_FOREVER), ENODATA);
    check(memcmp(buf, "12345", 5) == 0);
    check_rc(weft_read_exactly(s, buf, 0, WEFT_FOREVER), 0); /* nothing asked, nothing read */
    check_rc(weft_read_exactly(s, buf, 1, WEFT_FOREVER), ENODATA);
    weft_close(c);
    weft_close(s);
    return (void *)1;
}

static void test_read_exactly_eof(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_io_scenario(incomplete_main, NULL);
}

int main(void)
{
    raise_nofile();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pipe_wait_fd),
        cmocka_unit_test(test_single_thread_order),
        cmocka_unit_test(test_read_exactly_eof),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
