/*
 * weft_wait_fd for both directions at once (WEFT_READABLE | WEFT_WRITABLE)
 * wakes on whichever comes first: on a socket whose send buffer is full it
 * wakes when the peer drains it, at that instant (virtual time), and when
 * the peer writes to it instead. It also does so queued behind a task that
 * waits to read and one that waits to write on the same socket, each of
 * which still wakes on its own event. At 1, 2 and 4 workers.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "io_support.h"

#define BOUND 100.0 /* virtual seconds: a wait that missed its event ends here */

struct waiter {
    int fd;
    unsigned events; /* 0: weft_read one byte instead */
    int rc;
    double at;    /* weft_now() when it returned */
    int finished; /* atomic */
};

static void *wait_task(void *arg)
{
    struct waiter *w = arg;
    char c;
    size_t got;
    w->rc =
        w->events ? weft_wait_fd(w->fd, w->events, BOUND) : weft_read(w->fd, &c, 1, &got, BOUND);
    w->at = weft_now();
    __atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static weft_task *start(struct waiter *w)
{
    weft_task *t = weft_spawn(wait_task, w);
    settle();
    check(!__atomic_load_n(&w->finished, __ATOMIC_ACQUIRE));
    return t;
}

/* A connected pair whose first end cannot take another byte. */
static void full_pair(int fds[2])
{
    check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
    static char block[65536];
    while (write(fds[0], block, sizeof block) > 0)
        ;
}

/* Everything the peer has to read, so that the full end can write again. */
static void drain(int fd)
{
    static char block[65536];
    while (read(fd, block, sizeof block) > 0)
        ;
}

static void *both_main(void *arg)
{
    (void)arg;
    int fds[2];
    full_pair(fds);
    struct waiter either = {.fd = fds[0], .events = WEFT_READABLE | WEFT_WRITABLE};
    weft_task *t = start(&either);
    double drained = weft_now();
    drain(fds[1]);
    finish(t);
    check_rc(either.rc, 0);
    check(either.at == drained);

    /* The other event wakes it too. */
    weft_close(fds[0]);
    weft_close(fds[1]);
    full_pair(fds);
    either = (struct waiter){.fd = fds[0], .events = WEFT_READABLE | WEFT_WRITABLE};
    t = start(&either);
    double written = weft_now();
    check(write(fds[1], "x", 1) == 1);
    finish(t);
    check_rc(either.rc, 0);
    check(either.at == written);
    weft_close(fds[0]);
    weft_close(fds[1]);
    return (void *)1;
}

static void test_either_direction(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_io_scenario(both_main, NULL);
}

/* Behind a reader and a writer waiting on the same socket. */
static void *queued_main(void *arg)
{
    (void)arg;
    int fds[2];
    full_pair(fds);
    struct waiter reader = {.fd = fds[0]}, writer = {.fd = fds[0], .events = WEFT_WRITABLE};
    struct waiter either = {.fd = fds[0], .events = WEFT_READABLE | WEFT_WRITABLE};
    weft_task *tr = start(&reader), *tw = start(&writer), *te = start(&either);
    double drained = weft_now();
    drain(fds[1]);
    finish(te);
    finish(tw);
    check_rc(either.rc, 0);
    check_rc(writer.rc, 0);
    check(either.at == drained && writer.at == drained);
    check(!__atomic_load_n(&reader.finished, __ATOMIC_ACQUIRE));
    double written = weft_now();
    check(write(fds[1], "x", 1) == 1);
    finish(tr);
    check_rc(reader.rc, 0);
    check(reader.at == written);
    weft_close(fds[0]);
    weft_close(fds[1]);
    return (void *)1;
}

static void test_queued_behind_others(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_io_scenario(queued_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_either_direction),
        cmocka_unit_test(test_queued_behind_others),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
