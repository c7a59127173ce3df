/*
 * An HTTP/1.1 "Hello, World!" server, the `http` workload of the benchmarks:
 * keep-alive, pipelining, one task per connection, on every worker
 * (WEFT_WORKERS=N).
 *
 *   http_hello [--port N] [--host ADDR]     (port 8000 by default; 0: any)
 *
 * Each read may bring several pipelined requests: every complete one in the
 * buffer (its head ends with a blank line) is answered, and the answers go
 * out in one write. Request bodies (Content-Length) are skipped; Transfer-
 * Encoding is not supported (501); anything that does not parse gets a 400
 * and the connection is closed. `Connection: close` (or an HTTP/1.0 request
 * without keep-alive) closes the connection after the answer, lingering
 * until the client has read it. SIGINT or SIGTERM stop the server cleanly
 * (examples/server.h).
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <stdbool.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "server.h"

#define IN_SIZE 8192           /* a request head must fit */
#define OUT_SIZE 16384
#define IDLE_TIMEOUT 60.0      /* seconds for a client to send its next request or read */
#define LINGER_TIMEOUT 2.0     /* after the last answer, for the client to close */

#define HELLO "Hello, World!"
static const char ok_keep_alive[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n";
static const char ok_close[] =
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n";
static const char ok_keep_alive_10[] = /* HTTP/1.0 clients must be told */
    "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n"
    "Connection: keep-alive\r\n\r\n";
static const char bad_request[] =
    "HTTP/1.1 400 Bad Request\r\nContent-Length: 11\r\nContent-Type: text/plain\r\n"
    "Connection: close\r\n\r\nBad Request";
static const char not_implemented[] =
    "HTTP/1.1 501 Not Implemented\r\nContent-Length: 15\r\nContent-Type: text/plain\r\n"
    "Connection: close\r\n\r\nNot Implemented";

enum verdict { REQ_OK, REQ_BAD, REQ_UNSUPPORTED };

struct request {
    bool head;            /* HEAD: no body in the answer */
    bool http10;
    bool close, keep_alive; /* Connection: options */
    size_t body;          /* Content-Length */
};

/* RFC 9110 token characters. */
static bool is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "GET /path HTTP/1.1": the request line, up to its CRLF. */
static enum verdict parse_request_line(const char *p, const char *end, struct request *r)
{
    const char *method = p;
    while (p < end && is_tchar(*p))
        p++;
    if (p == method || p == end || *p != ' ')
        return REQ_BAD;
    r->head = p - method == 4 && memcmp(method, "HEAD", 4) == 0;
    const char *target = ++p;
    while (p < end && *p != ' ' && (unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    if (p == target || p == end || *p != ' ')
        return REQ_BAD;
    p++;
    if (end - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)p[7]))
        return REQ_BAD;
    r->http10 = p[7] == '0';
    return REQ_OK;
}

/* Is token (case-insensitive) one of the comma-separated options in value? */
static bool has_option(const char *value, const char *end, const char *token)
{
    size_t n = strlen(token);
    for (const char *p = value; p < end;) {
        while (p < end && (*p == ' ' || *p == '\t' || *p == ','))
            p++;
        const char *start = p;
        while (p < end && *p != ',')
            p++;
        const char *stop = p;
        while (stop > start && (stop[-1] == ' ' || stop[-1] == '\t'))
            stop--;
        if ((size_t)(stop - start) == n && strncasecmp(start, token, n) == 0)
            return true;
    }
    return false;
}

static enum verdict parse_header(const char *p, const char *end, struct request *r,
                                 bool *have_length)
{
    const char *name = p;
    while (p < end && is_tchar(*p))
        p++;
    if (p == name || p == end || *p != ':')
        return REQ_BAD; /* also obsolete line folding, which starts with a space */
    size_t name_len = (size_t)(p - name);
    for (const char *c = ++p; c < end; c++)
        if ((*c < ' ' && *c != '\t') || *c == 0x7f)
            return REQ_BAD;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (name_len == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
        size_t length = 0;
        if (p == end)
            return REQ_BAD;
        for (const char *d = p; d < end; d++) {
            if (!isdigit((unsigned char)*d) || length > (SIZE_MAX - 9) / 10)
                return REQ_BAD;
            length = length * 10 + (size_t)(*d - '0');
        }
        if (*have_length && length != r->body)
            return REQ_BAD; /* two different lengths: a smuggling attempt */
        *have_length = true;
        r->body = length;
    } else if (name_len == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
        return REQ_UNSUPPORTED;
    } else if (name_len == 10 && strncasecmp(name, "Connection", 10) == 0) {
        r->close |= has_option(p, end, "close");
        r->keep_alive |= has_option(p, end, "keep-alive");
    }
    return REQ_OK;
}

/* A request head: the request line and header lines, each ending in CRLF,
 * then the blank line (end points just past it). */
static enum verdict parse_request(const char *p, const char *end, struct request *r)
{
    *r = (struct request){0};
    bool have_length = false;
    end -= 2; /* the blank line's CRLF */
    bool first = true;
    while (p < end) {
        const char *eol = memchr(p, '\r', (size_t)(end - p));
        if (!eol || eol[1] != '\n')
            return REQ_BAD; /* a bare CR or LF */
        if (memchr(p, '\n', (size_t)(eol - p)))
            return REQ_BAD;
        enum verdict v = first ? parse_request_line(p, eol, r) : parse_header(p, eol, r, &have_length);
        if (v != REQ_OK)
            return v;
        first = false;
        p = eol + 2;
    }
    return first ? REQ_BAD : REQ_OK;
}

struct output {
    int fd;
    char buf[OUT_SIZE];
    size_t len;
};

static int flush(struct output *out)
{
    int err = weft_write_all(out->fd, out->buf, out->len, IDLE_TIMEOUT);
    out->len = 0;
    return err;
}

static int put(struct output *out, const char *text, size_t len)
{
    int err = 0;
    if (out->len + len > sizeof out->buf)
        err = flush(out);
    memcpy(out->buf + out->len, text, len);
    out->len += len;
    return err;
}

/* Answer one request; false once the connection must close after it. */
static bool answer(struct output *out, enum verdict v, const struct request *r, int *err)
{
    if (v == REQ_BAD) {
        *err = put(out, bad_request, sizeof bad_request - 1);
        return false;
    }
    if (v == REQ_UNSUPPORTED) {
        *err = put(out, not_implemented, sizeof not_implemented - 1);
        return false;
    }
    bool keep = !r->close && (!r->http10 || r->keep_alive);
    const char *head = !keep ? ok_close : r->http10 ? ok_keep_alive_10 : ok_keep_alive;
    *err = put(out, head, strlen(head));
    if (!*err && !r->head)
        *err = put(out, HELLO, sizeof HELLO - 1);
    return keep;
}

/* After the last answer: stop sending, and read until the client closes, so
 * that unread requests do not make the kernel reset the connection (which
 * could destroy the answer before the client reads it). */
static void linger(int fd, char *buf, size_t size)
{
    weft_shutdown(fd, SHUT_WR);
    double deadline = weft_now() + LINGER_TIMEOUT;
    for (size_t total = 0; total < 16 * IN_SIZE;) {
        double left = deadline - weft_now();
        size_t got;
        if (left <= 0 || weft_read(fd, buf, size, &got, left) != 0 || got == 0)
            return;
        total += got;
    }
}

static void serve_http(int fd, void *ctx)
{
    (void)ctx;
    char in[IN_SIZE];
    struct output out = {.fd = fd};
    size_t len = 0, scanned = 0, skip = 0;
    for (;;) {
        size_t got;
        if (weft_read(fd, in + len, sizeof in - len, &got, IDLE_TIMEOUT) != 0 || got == 0)
            return; /* ECANCELED (shutdown), ETIMEDOUT, ECONNRESET, or end of file */
        len += got;
        size_t pos = 0;
        bool keep = true;
        int err = 0;
        while (keep && !err) {
            size_t body = skip < len - pos ? skip : len - pos; /* a body arriving */
            pos += body;
            skip -= body;
            if (skip)
                break;
            size_t from = scanned > pos + 3 ? scanned - 3 : pos;
            char *blank = memmem(in + from, len - from, "\r\n\r\n", 4);
            if (!blank) {
                scanned = len; /* the next search starts near here */
                break;
            }
            char *end = blank + 4;
            scanned = (size_t)(end - in);
            struct request r;
            enum verdict v = parse_request(in + pos, end, &r);
            keep = answer(&out, v, &r, &err);
            pos = (size_t)(end - in);
            skip = v == REQ_OK ? r.body : 0;
        }
        if (!err && out.len)
            err = flush(&out);
        if (err)
            return;
        if (!keep) {
            linger(fd, in, sizeof in);
            return;
        }
        memmove(in, in + pos, len - pos);
        len -= pos;
        scanned = scanned > pos ? scanned - pos : 0;
        if (len == sizeof in) { /* a head longer than the buffer */
            if (put(&out, bad_request, sizeof bad_request - 1) == 0 && flush(&out) == 0)
                linger(fd, in, sizeof in);
            return;
        }
    }
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, 8000, serve_http, NULL);
}
