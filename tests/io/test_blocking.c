/*
 * Descriptors made outside weft in blocking mode: a socketpair(), a pipe()
 * and a listening socket such as a parent process hands down. weft_read,
 * weft_write_all and weft_accept on them park only their own task: each
 * answers ETIMEDOUT at its deadline (virtual time, to the bit) while
 * another task keeps ticking on a timer meanwhile. A worker stuck in a
 * blocking system call would never come back; a watchdog alarm fails the
 * test then, naming the call. And a regular file, which epoll refuses to
 * watch: weft_write, weft_read and weft_wait_fd on it answer at once, as
 * read(2) and write(2) do. At 1 and 2 workers.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "io_support.h"

#define TIMEOUT 0.2
#define WATCHDOG 30 /* real seconds: far beyond what a run takes, even under valgrind */

enum call { READ_SOCKETPAIR, READ_PIPE, WRITE_SOCKETPAIR, WRITE_PIPE, ACCEPT, CALLS };

static const char *const names[CALLS] = {
    "weft_read on a blocking socketpair",         "weft_read on a blocking pipe",
    "weft_write_all on a blocking socketpair",    "weft_write_all on a blocking pipe",
    "weft_accept on a blocking listening socket",
};

static enum call current;
static int ticks, stop; /* atomic */

static void watchdog(int sig)
{
    (void)sig;
    static const char hung[] = "hung: ";
    ssize_t ignored = write(2, hung, sizeof hung - 1);
    ignored = write(2, names[current], strlen(names[current]));
    ignored = write(2, "\n", 1);
    (void)ignored;
    _exit(1);
}

static void *ticker(void *arg)
{
    (void)arg;
    while (!load(&stop)) {
        bump(&ticks);
        check_rc(weft_sleep(TIMEOUT / 20), 0);
    }
    return NULL;
}

/* A listening TCP socket in blocking mode, as socket(2) makes it. */
static int blocking_listener(void)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    check(bind(l, (struct sockaddr *)&a, sizeof a) == 0);
    check(listen(l, 8) == 0);
    return l;
}

/* The call under test on a fresh blocking descriptor; its result. */
static int blocking_call(enum call call)
{
    static char big[4 << 20];
    int fds[2], rc = -1, fd = -1;
    char c;
    size_t got;
    if (call == ACCEPT) {
        fds[0] = fds[1] = blocking_listener();
    } else if (call == READ_PIPE || call == WRITE_PIPE) {
        check(pipe2(fds, O_CLOEXEC) == 0);
    } else {
        check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
    }
    check(!(fcntl(fds[0], F_GETFL) & O_NONBLOCK));
    switch (call) {
    case READ_SOCKETPAIR:
    case READ_PIPE:
        rc = weft_read(fds[0], &c, 1, &got, TIMEOUT);
        break;
    case WRITE_SOCKETPAIR:
        rc = weft_write_all(fds[0], big, sizeof big, TIMEOUT);
        break;
    case WRITE_PIPE:
        rc = weft_write_all(fds[1], big, sizeof big, TIMEOUT);
        break;
    case ACCEPT:
        rc = weft_accept(fds[0], &fd, TIMEOUT);
        check(fd == -1);
        break;
    case CALLS:
        break;
    }
    check_rc(weft_close(fds[0]), 0);
    if (fds[1] != fds[0])
        check_rc(weft_close(fds[1]), 0);
    return rc;
}

static void *blocking_main(void *arg)
{
    (void)arg;
    __atomic_store_n(&ticks, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&stop, 0, __ATOMIC_RELAXED);
    weft_task *t = weft_spawn(ticker, NULL);
    check_rc(weft_yield(), 0);
    int before = load(&ticks);
    double start = weft_now();
    check_rc(blocking_call(current), ETIMEDOUT);
    check(weft_now() == start + TIMEOUT);
    check(load(&ticks) > before);
    __atomic_store_n(&stop, 1, __ATOMIC_RELEASE);
    finish(t);
    return (void *)1;
}

static void test_blocking_descriptors(void **state)
{
    (void)state;
    static const struct mode modes[] = {{1, true}, {2, true}};
    signal(SIGALRM, watchdog);
    for (current = 0; current < CALLS; current++) {
        FOR_EACH_MODE(modes)
        {
            alarm(WATCHDOG);
            run_io_scenario(blocking_main, NULL);
            alarm(0);
        }
    }
}

static void *file_main(void *arg)
{
    (void)arg;
    char path[] = "/tmp/weft-io-file-XXXXXX";
    int fd = mkostemp(path, O_CLOEXEC);
    check(fd >= 0);
    unlink(path);
    size_t n = 0;
    check_rc(weft_write(fd, "file", 4, &n, TIMEOUT), 0);
    check(n == 4);
    check(lseek(fd, 0, SEEK_SET) == 0);
    check_rc(weft_wait_fd(fd, WEFT_READABLE | WEFT_WRITABLE, TIMEOUT), 0);
    char buf[8];
    check_rc(weft_read_exactly(fd, buf, 4, TIMEOUT), 0);
    check(memcmp(buf, "file", 4) == 0);
    check_rc(weft_read(fd, buf, sizeof buf, &n, TIMEOUT), 0);
    check(n == 0); /* the end of the file */
    check_rc(weft_close(fd), 0);
    return (void *)1;
}

static void test_regular_file(void **state)
{
    (void)state;
    static const struct mode modes[] = {{1, true}, {2, true}};
    FOR_EACH_MODE(modes) run_io_scenario(file_main, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_blocking_descriptors),
        cmocka_unit_test(test_regular_file),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
