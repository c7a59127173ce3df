/*
 * Graceful shutdown with connections open, through examples/server.h:
 * cancelling the accept loop closes the listener (new connects are
 * refused), cancels every connection task (each may still await: these say
 * "bye" before closing) and returns once all have finished, leaving no
 * descriptor open; also right after the clients connected, before their
 * connection tasks ran. Then the whole program: server_main in a forked
 * child, told `--port 0`, says `listening on port N` on stderr, serves, and
 * on SIGTERM or SIGINT says bye to every client and exits 0. At 1, 2 and 4
 * workers.
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

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/wait.h>

#include "examples/server.h"

#define CLIENTS 16

/* Echo; told to stop, say so first. */
static void polite_echo(int fd, void *ctx)
{
    (void)ctx;
    char buf[256];
    for (;;) {
        size_t got;
        int err = weft_read(fd, buf, sizeof buf, &got, WEFT_FOREVER);
        if (err == ECANCELED)
            weft_write_all(fd, "bye\n", 4, 5.0);
        if (err || got == 0 || weft_write_all(fd, buf, got, WEFT_FOREVER) != 0)
            return;
    }
}

/* What a client of a server that shut down reads: bye, then the end. */
static void check_bye(int fd)
{
    char buf[8];
    size_t got;
    check_rc(weft_read_exactly(fd, buf, 4, WEFT_FOREVER), 0);
    check(memcmp(buf, "bye\n", 4) == 0);
    check_rc(weft_read(fd, buf, sizeof buf, &got, WEFT_FOREVER), 0);
    check(got == 0);
}

static void *shutdown_main(void *arg)
{
    bool at_once = *(bool *)arg;
    uint16_t port;
    struct server s;
    server_init(&s, listen_local(&port), polite_echo, NULL);
    weft_task *accept_task = weft_spawn(server_accept_loop, &s);
    int c[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        check_rc(weft_tcp_connect("127.0.0.1", port, &c[i], WEFT_FOREVER), 0);
        if (!at_once) { /* served: the connection task is running */
            char buf[4];
            check_rc(weft_write_all(c[i], "ping", 4, WEFT_FOREVER), 0);
            check_rc(weft_read_exactly(c[i], buf, 4, WEFT_FOREVER), 0);
        }
    }
    weft_cancel(accept_task);
    check(await_release(accept_task) == NULL);
    if (!at_once) {
        check(s.accepted == CLIENTS);
        for (int i = 0; i < CLIENTS; i++)
            check_bye(c[i]);
    } else {
        /* Accepted or not, served or not: every client sees the end. */
        for (int i = 0; i < CLIENTS; i++) {
            char buf[8];
            size_t got, total = 0;
            int err;
            while ((err = weft_read(c[i], buf, sizeof buf, &got, WEFT_FOREVER)) == 0 && got)
                total += got;
            check(err == 0 || err == ECONNRESET);
            check(total == 0 || total == 4);
        }
    }
    int late;
    check_rc(weft_tcp_connect("127.0.0.1", port, &late, WEFT_FOREVER), ECONNREFUSED);
    for (int i = 0; i < CLIENTS; i++)
        weft_close(c[i]);
    return (void *)1;
}

static void test_shutdown_with_connections(void **state)
{
    (void)state;
    bool at_once = false;
    FOR_EACH_MODE run_mode(shutdown_main, &at_once, false);
}

static void test_shutdown_at_once(void **state)
{
    (void)state;
    bool at_once = true;
    FOR_EACH_MODE run_mode(shutdown_main, &at_once, false);
}

/* --- the program: server_main and a signal ----------------------------------------- */

/* Reads the child's stderr until `listening on port N`; 0 if it never came. */
static uint16_t read_port(int fd, char *log, size_t size)
{
    size_t len = 0;
    unsigned port;
    while (len + 1 < size) {
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, 10000) <= 0)
            return 0;
        ssize_t n = read(fd, log + len, size - 1 - len);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        log[len] = 0;
        const char *line = strstr(log, "listening on port ");
        if (line && strchr(line, '\n') && sscanf(line, "listening on port %u", &port) == 1)
            return (uint16_t)port;
    }
    return 0;
}

static int connect_blocking(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct timeval tv = {.tv_sec = 10};
    assert_int_equal(setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv), 0);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    return fd;
}

static void read_all(int fd, char *buf, size_t len)
{
    size_t got = 0;
    while (got < len) {
        ssize_t n = read(fd, buf + got, len - got);
        assert_true(n > 0);
        got += (size_t)n;
    }
}

static void run_program(int signo)
{
    int err_pipe[2];
    assert_int_equal(pipe2(err_pipe, O_CLOEXEC), 0);
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        dup2(err_pipe[1], STDERR_FILENO);
        char workers[16];
        snprintf(workers, sizeof workers, "%u", mode_workers);
        setenv("WEFT_WORKERS", workers, 1);
        char *argv[] = {"server", "--port", "0", "--host", "127.0.0.1", NULL};
        _exit(server_main(5, argv, 8080, polite_echo, NULL));
    }
    close(err_pipe[1]);
    char log[4096];
    uint16_t port = read_port(err_pipe[0], log, sizeof log);
    if (!port) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        fail_msg("[workers=%u] no port on the server's stderr: '%s'", mode_workers, log);
    }
    int c[CLIENTS];
    char buf[8];
    for (int i = 0; i < CLIENTS; i++) {
        c[i] = connect_blocking(port);
        assert_int_equal(write(c[i], "ping", 4), 4);
        read_all(c[i], buf, 4);
        assert_memory_equal(buf, "ping", 4);
    }
    assert_int_equal(kill(pid, signo), 0);
    for (int i = 0; i < CLIENTS; i++) {
        read_all(c[i], buf, 4);
        assert_memory_equal(buf, "bye\n", 4);
        assert_int_equal(read(c[i], buf, sizeof buf), 0);
        close(c[i]);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    size_t len = strlen(log);
    ssize_t n;
    while (len + 1 < sizeof log && (n = read(err_pipe[0], log + len, sizeof log - 1 - len)) > 0)
        len += (size_t)n;
    log[len] = 0;
    close(err_pipe[0]);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("[workers=%u] the server ended with status %#x; its stderr: '%s'", mode_workers,
                 status, log);
    assert_non_null(strstr(log, "shutting down"));
}

static void test_program_sigterm(void **state)
{
    (void)state;
    FOR_EACH_MODE run_program(SIGTERM);
}

static void test_program_sigint(void **state)
{
    (void)state;
    FOR_EACH_MODE run_program(SIGINT);
}

int main(void)
{
    raise_nofile();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_shutdown_with_connections),
        cmocka_unit_test(test_shutdown_at_once),
        cmocka_unit_test(test_program_sigterm),
        cmocka_unit_test(test_program_sigint),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
