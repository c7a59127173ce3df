/*
 * One HTTP/1.1 connection of examples/http_hello.c: read requests
 * (examples/http_parse.h), answer each "Hello, World!", keep the connection
 * alive and pipelined, and bound how long a client may hold it. A header so
 * that tests/io/test_http_limits.c can run it on its own sockets, and the
 * options that set those bounds.
 *
 * Every complete request a read brings is answered, and the answers go out in
 * one write. A bad request gets a 400, Transfer-Encoding a 501, and the
 * connection closes after either. `Connection: close` (or an HTTP/1.0
 * request without keep-alive) closes it after the answer, lingering until
 * the client has read it.
 *
 * Two clocks bound a client. The idle timeout (60 s) is for each read and
 * write. The header deadline (http_options.header_timeout, 10 s by default)
 * runs from the read that brought the first byte of a request to the end of
 * its head: without it a client sending a byte every 59 s, just inside the
 * idle timeout, would hold the connection until its head filled the 8 KiB
 * buffer, some 134 hours.
 * When it passes, the client gets a 408 and the connection closes. A body,
 * which this server skips, is bounded only by the idle timeout.
 */
#ifndef WEFT_EXAMPLE_HTTP_SERVE_H
#define WEFT_EXAMPLE_HTTP_SERVE_H

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "http_parse.h"
#include "server.h"
#include "weft_io.h"

#define HTTP_IN_SIZE 8192 /* a request head must fit */
#define HTTP_OUT_SIZE 16384
#define HTTP_IDLE_TIMEOUT 60.0   /* seconds for a client to send its next request or read */
#define HTTP_LINGER_TIMEOUT 2.0  /* after the last answer, for the client to close */
#define HTTP_HEADER_TIMEOUT 10.0 /* the default http_options.header_timeout */

struct http_options {
    double header_timeout; /* seconds from a request's first byte to the end of its head */
};

static inline bool http_set_header_timeout(const char *value, void *ctx)
{
    struct http_options *opt = ctx;
    return server_parse_seconds(value, &opt->header_timeout);
}

/* The program's options beside server.h's; ctx is a struct http_options. */
static const struct server_option http_program_options[] = {
    {"--header-timeout", "S",
     "seconds from a request's first byte to the end of its head (default 10)",
     http_set_header_timeout},
};

#define HTTP_HELLO "Hello, World!"
static const char http_ok_keep_alive[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n";
static const char http_ok_close[] = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: "
                                    "text/plain\r\nConnection: close\r\n\r\n";
static const char http_ok_keep_alive_10[] = /* HTTP/1.0 clients must be told */
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n"
    "Connection: keep-alive\r\n\r\n";
static const char http_bad_request[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n"
    "Connection: close\r\n\r\nBad Request";
static const char http_request_timeout[] =
    "HTTP/1.1 408 Request Timeout\r\nContent-Length: 15\r\nContent-Type: text/plain\r\n"
    "Connection: close\r\n\r\nRequest Timeout";
static const char http_not_implemented[] =
    "HTTP/1.1 501 Not Implemented\r\nContent-Length: 15\r\nContent-Type: text/plain\r\n"
    "Connection: close\r\n\r\nNot Implemented";

struct http_output {
    int fd;
    char buf[HTTP_OUT_SIZE];
    size_t len;
};

static inline int http_flush(struct http_output *out)
{
    int err = weft_write_all(out->fd, out->buf, out->len, HTTP_IDLE_TIMEOUT);
    out->len = 0;
    return err;
}

static inline int http_put(struct http_output *out, const char *text, size_t len)
{
    int err = 0;
    if (out->len + len > sizeof out->buf)
        err = http_flush(out);
    memcpy(out->buf + out->len, text, len);
    out->len += len;
    return err;
}

/* Answer one request; false once the connection must close after it. */
static inline bool http_answer(struct http_output *out, enum http_next v,
                               const struct http_request *r, int *err)
{
    if (v == HTTP_BAD_REQUEST) {
        *err = http_put(out, http_bad_request, sizeof http_bad_request - 1);
        return false;
    }
    if (v == HTTP_NOT_IMPLEMENTED) {
        *err = http_put(out, http_not_implemented, sizeof http_not_implemented - 1);
        return false;
    }
    bool keep = !r->close && (!r->http10 || r->keep_alive);
    const char *head = !keep       ? http_ok_close
                       : r->http10 ? http_ok_keep_alive_10
                                   : http_ok_keep_alive;
    *err = http_put(out, head, strlen(head));
    if (!*err && !r->head)
        *err = http_put(out, HTTP_HELLO, sizeof HTTP_HELLO - 1);
    return keep;
}

/* After the last answer: stop sending, and read until the client closes, so
 * that unread requests do not make the kernel reset the connection (which
 * could destroy the answer before the client reads it). */
static inline void http_linger(int fd, char *buf, size_t size)
{
    weft_shutdown(fd, SHUT_WR);
    double deadline = weft_now() + HTTP_LINGER_TIMEOUT;
    for (size_t total = 0; total < 16 * HTTP_IN_SIZE;) {
        double left = deadline - weft_now();
        size_t got;
        if (left <= 0 || weft_read(fd, buf, size, &got, left) != 0 || got == 0)
            return;
        total += got;
    }
}

/* Answers what the last read completed; false once the connection is over
 * (closed after an answer, or a write failed). *answered counts requests. */
static inline bool http_answer_all(struct http_input *in, struct http_output *out, size_t *answered)
{
    bool keep = true;
    int err = 0;
    struct http_request r = {0}; /* read only after HTTP_REQUEST, which fills it */
    enum http_next next;
    while (keep && !err && (next = http_input_next(in, &r)) != HTTP_NEED_MORE) {
        keep = http_answer(out, next, &r, &err);
        ++*answered;
    }
    if (!err && out->len)
        err = http_flush(out);
    if (err)
        return false;
    if (!keep)
        http_linger(out->fd, in->buf, in->size);
    return keep;
}

/* server_serve_fn for examples/server.h; ctx is a struct http_options. */
static inline void http_serve(int fd, void *ctx)
{
    const struct http_options *opt = ctx;
    char buf[HTTP_IN_SIZE];
    struct http_input in;
    http_input_init(&in, buf, sizeof buf);
    struct http_output out = {.fd = fd};
    double head_deadline = INFINITY; /* for the head under way, if one is */
    for (;;) {
        size_t room, got;
        char *space = http_input_space(&in, &room);
        double head_left = head_deadline - weft_now();
        bool on_deadline = head_left < HTTP_IDLE_TIMEOUT;
        double timeout = !on_deadline ? HTTP_IDLE_TIMEOUT : head_left > 0 ? head_left : 0;
        int err = weft_read(fd, space, room, &got, timeout);
        if (err == ETIMEDOUT && on_deadline) {
            if (http_put(&out, http_request_timeout, sizeof http_request_timeout - 1) == 0 &&
                http_flush(&out) == 0)
                http_linger(fd, buf, sizeof buf);
            return;
        }
        if (err || got == 0)
            return; /* ECANCELED (shutdown), ETIMEDOUT, ECONNRESET, or end of file */
        double arrived = weft_now();
        http_input_added(&in, got);
        size_t answered = 0;
        if (!http_answer_all(&in, &out, &answered))
            return;
        /* A head left unfinished began in this read unless it was there before
         * and no request ended since. */
        if (!http_input_in_head(&in))
            head_deadline = INFINITY;
        else if (head_deadline == INFINITY || answered > 0)
            head_deadline = arrived + opt->header_timeout;
    }
}

#endif
