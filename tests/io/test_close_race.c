/*
 * weft_close racing a call that is running on the same descriptor, made
 * deterministic by holding the call inside its system call. This program
 * interposes read(2), close(2) and epoll_ctl(2) (its own definitions win
 * over libc's for the weft code linked into it) and passes every call on,
 * except that a read of the watched descriptor can be held on its worker
 * thread until the test lets it go.
 *
 * - No bytes cross connections: a task is held inside weft_read when
 *   another task closes the descriptor and makes a new connection, which
 *   would take the same number if it were free, and writes to it. The read
 *   must not see those bytes: it answers EBADF, and the old connection's
 *   peer sees it closed.
 * - No number is left unwatched: the close is held between the poller's
 *   forgetting the descriptor and close(2) until the running read has
 *   waited again (or finished); and a call that starts while the close
 *   waits for a held read answers EBADF. Each time the number then comes
 *   back with a new connection, and a read on it must wake when data
 *   comes, at that instant (virtual time), not at its timeout.
 *
 * A held thread is a worker thread, so these run at 2 and 4 workers; every
 * hold ends after HOLD_MAX seconds at most, failing the test, so that a
 * broken protocol fails instead of hanging.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <sched.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "../harness.h"
#include "io_support.h"

#define BOUND 10.0  /* virtual seconds: a read that missed its wake-up ends here */
#define HOLD_MAX 10 /* real seconds */

/* ---- the interposed calls ---- */

enum hold { IDLE, ARMED, HELD, RELEASED };

static int watched = -1;  /* atomic: the descriptor the hooks look at */
static int read_hold;     /* atomic: enum hold, for the next read of watched */
static int close_hold;    /* atomic: whether close(watched) waits for the held read */
static int added;         /* atomic: epoll_ctl added watched since armed */
static int reader_done;   /* atomic: the racing task's call returned */
static int hold_timeouts; /* atomic: holds that gave up */

/* The definition this program's own hides (libc's, or a sanitizer's). */
static void *next_symbol(const char *name)
{
    void *f = dlsym(RTLD_NEXT, name);
    if (!f)
        abort();
    return f;
}

/* On a worker's own thread: wait for done() to hold, HOLD_MAX at most. */
static void hold_until(bool (*done)(void))
{
    struct timespec start, now;
    clock_gettime(CLOCK_MONOTONIC, &start);
    while (!done()) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec - start.tv_sec > HOLD_MAX) {
            bump(&hold_timeouts);
            return;
        }
        sched_yield();
    }
}

static bool read_released(void)
{
    return load(&read_hold) == RELEASED;
}

ssize_t read(int fd, void *buf, size_t len)
{
    static ssize_t (*next)(int, void *, size_t);
    if (!next)
        *(void **)&next = next_symbol("read");
    int armed = ARMED;
    if (fd == load(&watched) && __atomic_compare_exchange_n(&read_hold, &armed, HELD, false,
                                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        hold_until(read_released);
    return next(fd, buf, len);
}

static bool reader_moved_on(void)
{
    return load(&added) || load(&reader_done);
}

int close(int fd)
{
    static int (*next)(int);
    if (!next)
        *(void **)&next = next_symbol("close");
    int held = HELD;
    if (fd == load(&watched) && load(&close_hold) &&
        __atomic_compare_exchange_n(&read_hold, &held, RELEASED, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        hold_until(reader_moved_on);
    return next(fd);
}

int epoll_ctl(int epfd, int op, int fd, struct epoll_event *event)
{
    static int (*next)(int, int, int, struct epoll_event *);
    if (!next)
        *(void **)&next = next_symbol("epoll_ctl");
    if (op == EPOLL_CTL_ADD && fd == load(&watched))
        __atomic_store_n(&added, 1, __ATOMIC_RELEASE);
    return next(epfd, op, fd, event);
}

/* ---- the racing reader ---- */

struct reader {
    int fd;
    int rc;
    size_t got;
    char buf[16];
    double at; /* weft_now() when it returned */
};

static void *read_task(void *arg)
{
    struct reader *r = arg;
    r->rc = weft_read(r->fd, r->buf, sizeof r->buf, &r->got, BOUND);
    r->at = weft_now();
    __atomic_store_n(&reader_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Hold the next read of fd, the one of a task started now, and return once
 * it is held. */
static weft_task *start_held_read(struct reader *r, int fd)
{
    *r = (struct reader){.fd = fd, .rc = -1};
    __atomic_store_n(&reader_done, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&added, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&read_hold, ARMED, __ATOMIC_RELAXED);
    __atomic_store_n(&watched, fd, __ATOMIC_RELEASE);
    weft_task *t = weft_spawn(read_task, r);
    while (load(&read_hold) == ARMED)
        check_rc(weft_yield(), 0);
    return t;
}

static void release_and_finish(weft_task *t)
{
    int held = HELD;
    __atomic_compare_exchange_n(&read_hold, &held, RELEASED, false, __ATOMIC_ACQ_REL,
                                __ATOMIC_ACQUIRE);
    finish(t);
    __atomic_store_n(&watched, -1, __ATOMIC_RELEASE);
    __atomic_store_n(&close_hold, 0, __ATOMIC_RELEASE);
    __atomic_store_n(&read_hold, IDLE, __ATOMIC_RELEASE);
}

/* A new connection, made before the number `at` may be free: move_to
 * gives its first end the lowest free number from `at` on, `at` itself if
 * it is free, as the next socket the program made would take. */
static void new_pair(int fds[2])
{
    check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, fds) == 0);
}

static void move_to(int at, int fds[2])
{
    int moved = fcntl(fds[0], F_DUPFD_CLOEXEC, at);
    check(moved >= at);
    close(fds[0]);
    fds[0] = moved;
}

/* ---- the scenarios ---- */

static void *no_crossing_main(void *arg)
{
    (void)arg;
    int old[2], fresh[2];
    new_pair(old);
    new_pair(fresh);
    struct reader r;
    weft_task *t = start_held_read(&r, old[0]);
    check_rc(weft_close(old[0]), 0);
    move_to(old[0], fresh);
    check(write(fresh[1], "new", 3) == 3);
    release_and_finish(t);
    check_rc(r.rc, EBADF);
    check(r.got == 0);
    char c;
    check(read(old[1], &c, 1) == 0); /* the old connection was closed */
    check_rc(weft_close(fresh[0]), 0);
    close(fresh[1]);
    close(old[1]);
    return (void *)1;
}

static void test_no_bytes_cross(void **state)
{
    (void)state;
    static const struct mode modes[] = {{2, true}, {4, true}};
    FOR_EACH_MODE(modes) run_io_scenario(no_crossing_main, NULL);
    expect(!hold_timeouts);
}

/* The number comes back with the second end of fresh: a read on it must
 * wake when its data comes, not at its timeout. */
static void expect_watched(int number, int fresh[2])
{
    move_to(number, fresh);
    check(fresh[0] == number);
    struct reader r = {.fd = fresh[0]};
    weft_task *t = weft_spawn(read_task, &r);
    settle();
    double written = weft_now();
    check(write(fresh[1], "new", 3) == 3);
    finish(t);
    check_rc(r.rc, 0);
    check(r.got == 3 && memcmp(r.buf, "new", 3) == 0);
    check(r.at == written);
    check_rc(weft_close(fresh[0]), 0);
    close(fresh[1]);
}

/* A read held in its system call when the close begins, and the close held
 * before its close(2) until that read has waited again (or finished). */
static void *rewatched_main(void *arg)
{
    (void)arg;
    int old[2], fresh[2];
    new_pair(old);
    new_pair(fresh);
    /* The poller watches the descriptor: a read has waited on it. */
    struct reader r = {.fd = old[0]};
    weft_task *t = weft_spawn(read_task, &r);
    settle();
    check(write(old[1], "x", 1) == 1);
    finish(t);
    check_rc(r.rc, 0);

    t = start_held_read(&r, old[0]);
    __atomic_store_n(&close_hold, 1, __ATOMIC_RELEASE);
    double closed = weft_now();
    check_rc(weft_close(old[0]), 0);
    release_and_finish(t);
    check_rc(r.rc, EBADF);
    check(r.at == closed);
    close(old[1]);
    expect_watched(old[0], fresh);
    return (void *)1;
}

/* A call that starts while the close waits for a held one to leave: it must
 * neither touch the number nor register it (close(2) would then drop the
 * registration, and the number's next descriptor would go unwatched). */
static void *late_call_main(void *arg)
{
    (void)arg;
    int old[2], fresh[2];
    new_pair(old);
    new_pair(fresh);
    struct reader held, late = {.fd = old[0]};
    weft_task *t = start_held_read(&held, old[0]);
    check_rc(weft_close(old[0]), 0);
    weft_task *t_late = weft_spawn(read_task, &late);
    finish(t_late);
    check_rc(late.rc, EBADF);
    release_and_finish(t);
    check_rc(held.rc, EBADF);
    close(old[1]);
    expect_watched(old[0], fresh);
    return (void *)1;
}

static void test_number_stays_watched(void **state)
{
    (void)state;
    static const struct mode modes[] = {{2, true}, {4, true}};
    FOR_EACH_MODE(modes)
    {
        run_io_scenario(rewatched_main, NULL);
        run_io_scenario(late_call_main, NULL);
    }
    expect(!hold_timeouts);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_bytes_cross),
        cmocka_unit_test(test_number_stays_watched),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
