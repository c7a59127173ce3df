/*
 * The poller finds a descriptor's handle in a table of pages of 1,024
 * handles, each page made when the first descriptor in it is seen. Here
 * several tasks on different workers give the poller their first
 * descriptors of a fresh page at the same moment, page after page, run
 * after run (every weft_run starts with an empty table). Each then waits to
 * read, and weft_close must wake every one of them with EBADF at the instant
 * it closes (virtual time): a handle lost to a page made twice is one that
 * weft_close cannot find, so its waiter would sleep until its own timeout,
 * and the lost page would be a leak (LeakSanitizer, valgrind). At 2 and 4
 * workers; the number of runs scales with WEFT_STRESS_SCALE.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "io_support.h"

#define PAGE 1024
#define READERS 8
#define TIMEOUT 1000.0 /* virtual seconds: only a reader weft_close missed gets there */

struct reader {
    int fd;
    int rc;
    double at; /* weft_now() when its read returned */
};

static int arrived, go; /* atomic */

static void *read_once(void *arg)
{
    struct reader *r = arg;
    char c;
    size_t got;
    bump(&arrived);
    yield_until(&go, 1);
    r->rc = weft_read(r->fd, &c, 1, &got, TIMEOUT);
    r->at = weft_now();
    return NULL;
}

/* A socket pair with its ends moved to the numbers at and at + 1. */
static void pair_at(int at, int fds[2])
{
    int made[2];
    check(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, made) == 0);
    for (int i = 0; i < 2; i++) {
        fds[i] = fcntl(made[i], F_DUPFD_CLOEXEC, at + i);
        check(fds[i] == at + i);
        close(made[i]);
    }
}

/* Page by page: every reader registers its first descriptor there at once. */
static void *pages_main(void *arg)
{
    int pages = *(int *)arg;
    for (int page = 1; page <= pages; page++) {
        struct reader readers[READERS];
        int peers[READERS];
        weft_task *tasks[READERS];
        arrived = go = 0;
        for (int i = 0; i < READERS; i++) {
            int fds[2];
            pair_at(page * PAGE + 2 * i, fds);
            readers[i] = (struct reader){.fd = fds[0], .rc = -1};
            peers[i] = fds[1];
            tasks[i] = weft_spawn(read_once, &readers[i]);
        }
        yield_until(&arrived, READERS);
        __atomic_store_n(&go, 1, __ATOMIC_RELEASE);
        settle(); /* every reader waits */
        double closed_at = weft_now();
        for (int i = 0; i < READERS; i++)
            check_rc(weft_close(readers[i].fd), 0);
        for (int i = 0; i < READERS; i++) {
            finish(tasks[i]);
            check_rc(readers[i].rc, EBADF);
            check(readers[i].at == closed_at);
            close(peers[i]);
        }
    }
    return (void *)1;
}

static void test_fresh_pages(void **state)
{
    (void)state;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0 || rl.rlim_cur < 2 * PAGE)
        skip(); /* no page beyond the first fits under the limit */
    int pages = (int)(rl.rlim_cur / PAGE) - 1;
    if (pages > 16)
        pages = 16;
    static const struct mode modes[] = {{2, true}, {4, true}};
    int runs = stress_count(40, 40);
    for (int run = 0; run < (runs > 0 ? runs : 1); run++)
        FOR_EACH_MODE(modes) run_io_scenario(pages_main, &pages);
}

int main(void)
{
    raise_nofile();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fresh_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
