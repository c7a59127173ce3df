/*
 * Running out of descriptors. In a forked child with a low RLIMIT_NOFILE,
 * clients connect (the kernel queues them), the rest of the descriptors are
 * used up, and then: weft_accept answers EMFILE and leaves the connection
 * queued (the next accept, once a descriptor is free, gets it); and
 * examples/server.h's accept loop reports EMFILE (its `overloaded` event and
 * counter, and a line on stderr), backs off, and serves every queued client
 * once descriptors are freed, each client checking its echo. At 1, 2 and 4
 * workers; skipped under valgrind (see test_emfile).
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

#include <fcntl.h>
#include <sys/wait.h>

#include "examples/server.h"

#ifdef WEFT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define RUNNING_ON_VALGRIND 0
#endif

#define CLIENTS 8
#define LIMIT 128

static void echo(int fd, void *ctx)
{
    (void)ctx;
    char buf[256];
    size_t got;
    while (weft_read(fd, buf, sizeof buf, &got, WEFT_FOREVER) == 0 && got > 0)
        if (weft_write_all(fd, buf, got, WEFT_FOREVER) != 0)
            return;
}

struct filler {
    int fds[LIMIT];
    int n;
};

static void use_up_descriptors(struct filler *f)
{
    int fd;
    while (f->n < LIMIT && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
        f->fds[f->n++] = fd;
    check(f->n < LIMIT && errno == EMFILE);
}

static void free_descriptors(struct filler *f, int n)
{
    while (n-- > 0 && f->n > 0)
        close(f->fds[--f->n]);
}

static void *emfile_main(void *arg)
{
    (void)arg;
    uint16_t port;
    int l = listen_local(&port), clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++)
        check_rc(weft_tcp_connect("127.0.0.1", port, &clients[i], WEFT_FOREVER), 0);
    struct filler f = {.n = 0};
    use_up_descriptors(&f);

    /* The call itself: EMFILE, and the connection stays queued. */
    int fd = -1;
    check_rc(weft_accept(l, &fd, WEFT_FOREVER), EMFILE);
    check(fd == -1);
    free_descriptors(&f, 1);
    check_rc(weft_accept(l, &fd, WEFT_FOREVER), 0);
    check_rc(weft_close(fd), 0); /* the first client is done with */
    use_up_descriptors(&f);

    /* The accept loop: reports, backs off, serves again. */
    struct server s;
    server_init(&s, l, echo, NULL);
    s.overloaded = weft_event_create();
    weft_task *accept_task = weft_spawn(server_accept_loop, &s);
    check_rc(weft_event_wait(s.overloaded), 0);
    check(__atomic_load_n(&s.overloads, __ATOMIC_RELAXED) >= 1);
    check(__atomic_load_n(&s.accepted, __ATOMIC_RELAXED) == 0);
    free_descriptors(&f, LIMIT);
    for (int i = 1; i < CLIENTS; i++) {
        char msg[16], back[16];
        int len = snprintf(msg, sizeof msg, "client %d", i);
        check_rc(weft_write_all(clients[i], msg, (size_t)len, WEFT_FOREVER), 0);
        check_rc(weft_read_exactly(clients[i], back, (size_t)len, WEFT_FOREVER), 0);
        check(memcmp(msg, back, (size_t)len) == 0);
    }
    weft_cancel(accept_task);
    check(await_release(accept_task) == NULL);
    check(s.accepted == CLIENTS - 1); /* counted after the spawn: read once it is over */
    weft_event_destroy(s.overloaded);
    for (int i = 0; i < CLIENTS; i++)
        weft_close(clients[i]);
    return (void *)1;
}

static void test_emfile(void **state)
{
    (void)state;
    if (RUNNING_ON_VALGRIND) {
        /* valgrind enforces a lowered limit itself, after the system call:
         * an accept that the kernel completed is closed and turned into
         * EMFILE, which loses the queued connection. */
        skip();
    }
    FOR_EACH_MODE {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct rlimit rl = {LIMIT, LIMIT};
            getrlimit(RLIMIT_NOFILE, &rl);
            rl.rlim_cur = LIMIT;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(3);
            /* Not run_mode: a cmocka failure here would go on with the parent's run. */
            const weft_config cfg = {.workers = mode_workers};
            void *result = weft_run(emfile_main, NULL, &cfg);
            if (check_failures)
                fprintf(stderr, "[workers=%u] %d failed checks, the first at %s\n", mode_workers,
                        check_failures, check_first);
            fflush(NULL);
            _exit(check_failures ? 1 : result == (void *)1 ? 0 : 2);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg("[workers=%u] the child ended with status %#x (its failure is above)",
                     mode_workers, status);
    }
}

int main(void)
{
    raise_nofile();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_emfile),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
