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
#include <fcntl.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"
#include "examples/server.h"
#include "io_support.h"

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
    FOR_EACH_MODE(real_modes)
    {
        fflush(NULL);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            struct rlimit rl = {LIMIT, LIMIT};
            getrlimit(RLIMIT_NOFILE, &rl);
            rl.rlim_cur = LIMIT;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
                _exit(3);
            /* Not run_io_scenario: a cmocka failure here would go on with the parent's run. */
            const weft_config cfg = mode_config();
            void *result = weft_run(emfile_main, NULL, &cfg);
            if (check_failures)
                fprintf(stderr, MODE_FMT " %d failed checks, the first at %s\n", MODE_ARGS,
                        check_failures, check_first);
            fflush(NULL);
            _exit(check_failures ? 1 : result == (void *)1 ? 0 : 2);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
            fail_msg(MODE_FMT " the child ended with status %#x (its failure is above)", MODE_ARGS,
                     status);
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
