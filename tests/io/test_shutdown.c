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
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"
#include "examples/server.h"
#include "io_support.h"

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
    FOR_EACH_MODE(real_modes) run_io_scenario(shutdown_main, &at_once);
}

static void test_shutdown_at_once(void **state)
{
    (void)state;
    bool at_once = true;
    FOR_EACH_MODE(real_modes) run_io_scenario(shutdown_main, &at_once);
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
        snprintf(workers, sizeof workers, "%u", mode.workers);
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
        fail_msg(MODE_FMT " no port on the server's stderr: '%s'", MODE_ARGS, log);
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
        fail_msg(MODE_FMT " the server ended with status %#x; its stderr: '%s'", MODE_ARGS, status,
                 log);
    assert_non_null(strstr(log, "shutting down"));
}

static void test_program_sigterm(void **state)
{
    (void)state;
    FOR_EACH_MODE(real_modes) run_program(SIGTERM);
}

static void test_program_sigint(void **state)
{
    (void)state;
    FOR_EACH_MODE(real_modes) run_program(SIGINT);
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
