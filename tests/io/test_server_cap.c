/*
 * examples/server.h's cap on connections (max_conns, the programs'
 * --max-conn N): with N connections open the accept loop stops accepting and
 * says so (its `full` event and `fulls` counter); the N+1th client, queued by
 * the kernel, is served once one of the N closes, and at no moment are more
 * than N connections being served. At 1, 2 and 4 workers. Also the command
 * line: --max-conn and --port values, good and bad.
 *
 * WAIT_BOUND bounds the waits only so that a loop that never stops at the cap
 * fails the test rather than hanging it.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "examples/server.h"
#include "io_support.h"

#define CAP 3
#define WAIT_BOUND 30.0

/* Connections being served now, and the most at once. */
struct live {
    int now, most; /* atomic */
};

/* Relaxed throughout: the counts are read for themselves, and the test reads
 * `most` only after a round trip with the task that last raised it. */
static void counting_echo(int fd, void *ctx)
{
    struct live *l = ctx;
    int now = __atomic_add_fetch(&l->now, 1, __ATOMIC_RELAXED);
    int most = __atomic_load_n(&l->most, __ATOMIC_RELAXED);
    while (now > most && !__atomic_compare_exchange_n(&l->most, &most, now, true, __ATOMIC_RELAXED,
                                                      __ATOMIC_RELAXED))
        ;
    char buf[64];
    size_t got;
    while (weft_read(fd, buf, sizeof buf, &got, WEFT_FOREVER) == 0 && got > 0)
        if (weft_write_all(fd, buf, got, WEFT_FOREVER) != 0)
            break;
    /* Before server.h closes the descriptor and gives the permit back. */
    __atomic_sub_fetch(&l->now, 1, __ATOMIC_RELAXED);
}

static void round_trip(int fd, const char *msg)
{
    char back[16];
    size_t len = strlen(msg);
    check_rc(weft_write_all(fd, msg, len, WAIT_BOUND), 0);
    check_rc(weft_read_exactly(fd, back, len, WAIT_BOUND), 0);
    check(memcmp(back, msg, len) == 0);
}

static void *cap_main(void *arg)
{
    (void)arg;
    struct live live = {0, 0};
    uint16_t port;
    struct server s;
    server_init(&s, listen_local(&port), counting_echo, &live);
    s.max_conns = CAP;
    s.full = weft_event_create();
    weft_task *accept_task = weft_spawn(server_accept_loop, &s);
    int c[CAP + 1];
    for (int i = 0; i < CAP; i++) {
        check_rc(weft_tcp_connect("127.0.0.1", port, &c[i], WAIT_BOUND), 0);
        round_trip(c[i], "served");
    }
    weft_timeout *bound = weft_timeout_enter(WAIT_BOUND);
    check_rc(weft_event_wait(s.full), 0);
    check_rc(weft_timeout_exit(bound), 0);

    /* The kernel completes the connection; the loop, parked until a permit
     * comes back, has not accepted it and cannot. */
    check_rc(weft_tcp_connect("127.0.0.1", port, &c[CAP], WAIT_BOUND), 0);
    check_rc(weft_write_all(c[CAP], "late", 4, WAIT_BOUND), 0);
    check(__atomic_load_n(&s.accepted, __ATOMIC_RELAXED) == CAP);
    check(__atomic_load_n(&s.fulls, __ATOMIC_RELAXED) >= 1);

    check_rc(weft_close(c[0]), 0);
    char back[4];
    check_rc(weft_read_exactly(c[CAP], back, 4, WAIT_BOUND), 0);
    check(memcmp(back, "late", 4) == 0);
    check(__atomic_load_n(&live.most, __ATOMIC_RELAXED) == CAP);
    for (int i = 1; i <= CAP; i++)
        check_rc(weft_close(c[i]), 0);
    weft_cancel(accept_task);
    check(await_release(accept_task) == NULL);
    check(s.accepted == CAP + 1);
    weft_event_destroy(s.full);
    return (void *)1;
}

static void test_cap(void **state)
{
    (void)state;
    FOR_EACH_MODE(real_modes) run_io_scenario(cap_main, NULL);
}

static void serve_nothing(int fd, void *ctx)
{
    (void)fd;
    (void)ctx;
}

/* server_parse_args on argv: its result, and p as it left it. */
static int parse(struct server_program *p, char *const args[])
{
    char *argv[8] = {"server"};
    int argc = 1;
    while (args[argc - 1])
        argv[argc] = args[argc - 1], argc++;
    *p = (struct server_program){.default_port = 8080, .serve = serve_nothing};
    return server_parse_args(p, argc, argv);
}

static void test_options(void **state)
{
    (void)state;
    struct server_program p;
    assert_int_equal(parse(&p, (char *[]){NULL}), -1);
    assert_int_equal(p.max_conns, 0); /* no cap unless asked */
    assert_int_equal(p.port, 8080);
    assert_int_equal(parse(&p, (char *[]){"--max-conn", "3", "--port", "0", NULL}), -1);
    assert_int_equal(p.max_conns, 3);
    assert_int_equal(p.port, 0);
    assert_int_equal(parse(&p, (char *[]){"--max-conn", "4294967295", NULL}), -1);
    assert_int_equal(p.max_conns, 4294967295u);
    /* Each bad one says so on stderr. */
    const char *bad[] = {"-1", "", "x", "3x", " 3", "4294967296", "1e3"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_int_equal(parse(&p, (char *[]){"--max-conn", (char *)bad[i], NULL}), 2);
    assert_int_equal(parse(&p, (char *[]){"--port", "65536", NULL}), 2);
    assert_int_equal(parse(&p, (char *[]){"--max-conn", NULL}), 2);
    assert_int_equal(parse(&p, (char *[]){"--nonsense", "1", NULL}), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cap),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
