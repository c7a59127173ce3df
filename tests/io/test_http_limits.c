/*
 * How long a client can hold a connection of examples/http_serve.h, over real
 * sockets, at 1, 2 and 4 workers:
 * - a client that drips a request head one byte at a time, faster than any
 *   idle timeout, gets a 408 and is cut at the header deadline (0.3 s here);
 * - a keep-alive client idle between requests for longer than that deadline
 *   is served on: the deadline runs from a request's first byte;
 * - a request whose lines end in a bare LF, or hold a bare CR, gets a 400
 *   and the connection closes, whether or not a blank line ever comes,
 *   and after the answers to the good requests pipelined before it.
 * Also the --header-timeout values the program takes and refuses.
 *
 * WAIT_BOUND (30 s, half the idle timeout) bounds every wait only so that a
 * server that holds on fails the test rather than hanging it.
 */
#define _GNU_SOURCE
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "examples/http_serve.h"
#include "io_support.h"

#define WAIT_BOUND 30.0
#define SHORT_DEADLINE 0.3
#define DRIP_INTERVAL 0.02

static const char get[] = "GET / HTTP/1.1\r\nHost: test\r\n\r\n";
static const char ok[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\nHello, World!";

struct http_server {
    struct server s;
    struct http_options opt;
    weft_task *accept_task;
    uint16_t port;
};

static void server_start(struct http_server *h, double header_timeout)
{
    h->opt = (struct http_options){.header_timeout = header_timeout};
    server_init(&h->s, listen_local(&h->port), http_serve, &h->opt);
    h->accept_task = weft_spawn(server_accept_loop, &h->s);
}

static void server_end(struct http_server *h)
{
    weft_cancel(h->accept_task);
    check(await_release(h->accept_task) == NULL);
}

static int connect_to(const struct http_server *h)
{
    int fd = -1;
    check_rc(weft_tcp_connect("127.0.0.1", h->port, &fd, WAIT_BOUND), 0);
    return fd;
}

/* Reads until the server closes (true) or WAIT_BOUND passes (false). */
static bool read_to_end(int fd, char *buf, size_t size, size_t *len)
{
    double bound = weft_now() + WAIT_BOUND;
    for (;;) {
        double left = bound - weft_now();
        size_t got;
        if (left <= 0 || weft_read(fd, buf + *len, size - 1 - *len, &got, left) != 0)
            return false;
        *len += got;
        buf[*len] = 0;
        if (got == 0)
            return true;
    }
}

static void *drip_main(void *arg)
{
    (void)arg;
    struct http_server h;
    server_start(&h, SHORT_DEADLINE);
    int fd = connect_to(&h);
    const char start[] = "GET / HTTP/1.1\r\nX-Drip: ";
    check_rc(weft_write_all(fd, start, sizeof start - 1, WAIT_BOUND), 0);
    char answer[512];
    size_t len = 0;
    double bound = weft_now() + WAIT_BOUND;
    /* One byte, then a short wait for an answer, until one begins. */
    while (len == 0 && weft_now() < bound) {
        check_rc(weft_write_all(fd, "a", 1, WAIT_BOUND), 0);
        int err = weft_read(fd, answer, sizeof answer - 1, &len, DRIP_INTERVAL);
        check(err == 0 || err == ETIMEDOUT);
        answer[len] = 0;
    }
    bool closed = len > 0 && read_to_end(fd, answer, sizeof answer, &len);
    check(closed);
    check(strncmp(answer, "HTTP/1.1 408 Request Timeout\r\n", 30) == 0);
    check_rc(weft_close(fd), 0);
    server_end(&h);
    return (void *)1;
}

static void test_drip_cut_at_deadline(void **state)
{
    (void)state;
    FOR_EACH_MODE(real_modes) run_io_scenario(drip_main, NULL);
}

static void *idle_between_requests_main(void *arg)
{
    (void)arg;
    struct http_server h;
    server_start(&h, SHORT_DEADLINE);
    int fd = connect_to(&h);
    char answer[sizeof ok];
    for (int i = 0; i < 3; i++) {
        /* The gap is the scenario, longer than the deadline; nothing waits on it. */
        check_rc(weft_sleep(3 * SHORT_DEADLINE), 0);
        check_rc(weft_write_all(fd, get, sizeof get - 1, WAIT_BOUND), 0);
        check_rc(weft_read_exactly(fd, answer, sizeof ok - 1, WAIT_BOUND), 0);
        check(memcmp(answer, ok, sizeof ok - 1) == 0);
    }
    check_rc(weft_close(fd), 0);
    server_end(&h);
    return (void *)1;
}

static void test_idle_between_requests(void **state)
{
    (void)state;
    FOR_EACH_MODE(real_modes) run_io_scenario(idle_between_requests_main, NULL);
}

static const char answer_400[] = "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\n"
                                 "Content-Type: text/plain\r\nConnection: close\r\n\r\nBad Request";

/* Each is sent at once; the answer is ok once per good request before it,
 * then answer_400, then the end of the connection. */
static const struct {
    const char *request;
    int good_before;
} bare_line_ends[] = {
    {"GET / HTTP/1.1\nHost: test\n\n", 0},
    {"GET / HTTP/1.1\r\nHost: test\n", 0}, /* and no blank line ever */
    {"GET / HTTP/1.1\r\nHost: test\rX", 0},
    {"GET / HTTP/1.1\r\n\n", 0},
    {"\n", 0},
    {"GET / HTTP/1.1\r\nHost: test\r\n\r\nGET / HTTP/1.1\r\nHost: test\r\n\r\nGET / HTTP/1.1\n", 2},
};

static void *bare_line_end_main(void *arg)
{
    (void)arg;
    struct http_server h;
    /* As long as the idle timeout: only the bare line end can end it early. */
    server_start(&h, HTTP_IDLE_TIMEOUT);
    for (size_t i = 0; i < sizeof bare_line_ends / sizeof bare_line_ends[0]; i++) {
        int fd = connect_to(&h);
        const char *request = bare_line_ends[i].request;
        check_rc(weft_write_all(fd, request, strlen(request), WAIT_BOUND), 0);
        char answer[512], expected[512] = "";
        size_t len = 0;
        check(read_to_end(fd, answer, sizeof answer, &len));
        for (int k = 0; k < bare_line_ends[i].good_before; k++)
            strcat(expected, ok);
        strcat(expected, answer_400);
        if (strcmp(answer, expected) != 0) {
            char what[160];
            snprintf(what, sizeof what, "request %zu answered '%.100s'", i, answer);
            check_failed(what, __LINE__);
        }
        check_rc(weft_close(fd), 0);
    }
    server_end(&h);
    return (void *)1;
}

static void test_bare_line_end(void **state)
{
    (void)state;
    FOR_EACH_MODE(real_modes) run_io_scenario(bare_line_end_main, NULL);
}

static void test_options(void **state)
{
    (void)state;
    struct http_options opt = {.header_timeout = HTTP_HEADER_TIMEOUT};
    struct server_program p = {.default_port = 8000,
                               .serve = http_serve,
                               .ctx = &opt,
                               .options = http_program_options,
                               .noptions = 1};
    char *good[] = {"http", "--header-timeout", "0.25", "--max-conn", "7"};
    assert_int_equal(server_parse_args(&p, 5, good), -1);
    assert_true(opt.header_timeout == 0.25);
    assert_int_equal(p.max_conns, 7);
    /* Each bad one says so on stderr. */
    const char *bad[] = {"0", "-1", "nan", "inf", "1s", ""};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char *argv[] = {"http", "--header-timeout", (char *)bad[i]};
        assert_int_equal(server_parse_args(&p, 3, argv), 2);
    }
    assert_true(opt.header_timeout == 0.25);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_drip_cut_at_deadline),
        cmocka_unit_test(test_idle_between_requests),
        cmocka_unit_test(test_bare_line_end),
        cmocka_unit_test(test_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
