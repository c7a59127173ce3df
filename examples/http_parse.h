/*
 * The request side of HTTP/1.1 for examples/http_hello.c: where each request
 * head in a connection's byte stream ends, and what it asks for. Nothing here
 * does I/O or knows weft, so that tests/fuzz/fuzz_http_parse.c can feed it
 * any bytes, split any way.
 *
 * struct http_input is a connection's read buffer. The server reads into its
 * free space (http_input_space, then http_input_added) and takes requests out
 * with http_input_next until it answers HTTP_NEED_MORE. A request body
 * (Content-Length) is skipped; a head must fit the buffer, or it is bad.
 *
 * Lines end with CRLF and nothing else. A bare LF, or a CR followed by
 * anything but LF, makes the request bad (400) as soon as it arrives, not when
 * a blank line that may never come does. RFC 9112 lets a server take a bare LF
 * as a line end; we refuse it because a front proxy and this server that
 * disagree on where a line or head ends is how requests are smuggled, because
 * every HTTP client library sends CRLF (a bare LF comes from a hand-typed
 * `nc` session or from a broken or hostile client), and because a prompt 400
 * tells that client what is wrong where waiting would not.
 *
 * The invariant the fuzz target checks: the answers do not depend on how the
 * bytes were split into reads. The head scan resumes where the last read's
 * bytes ended (in.scanned) and looks at no byte after the one it judges,
 * except that a CR is judged only once the byte after it has arrived.
 */
#ifndef WEFT_EXAMPLE_HTTP_PARSE_H
#define WEFT_EXAMPLE_HTTP_PARSE_H

#include <assert.h>
#include <ctype.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <strings.h>

/* What http_input_next found. */
enum http_next {
    HTTP_NEED_MORE,       /* no complete head yet: read more */
    HTTP_REQUEST,         /* a well-formed head, described by *r */
    HTTP_BAD_REQUEST,     /* malformed, a bare CR or LF, or too long for the buffer: 400 */
    HTTP_NOT_IMPLEMENTED, /* Transfer-Encoding: 501 */
};

struct http_request {
    bool head; /* HEAD: no body in the answer */
    bool http10;
    bool close, keep_alive; /* Connection: options */
    size_t body;            /* Content-Length */
};

struct http_input {
    char *buf;
    size_t size;
    size_t start; /* buf[start, len): read, not consumed yet */
    size_t len;
    size_t scanned; /* buf[start, scanned) holds no head end, bare CR or bare LF */
    size_t skip;    /* body bytes still to come */
};

static inline void http_input_init(struct http_input *in, char *buf, size_t size)
{
    *in = (struct http_input){.buf = buf, .size = size};
}

/* Where the next read puts its bytes, and how many fit (0 only while a head
 * too long for the buffer is waiting to be reported by http_input_next). */
static inline char *http_input_space(struct http_input *in, size_t *room)
{
    if (in->start > 0) {
        memmove(in->buf, in->buf + in->start, in->len - in->start);
        in->len -= in->start;
        in->scanned -= in->start;
        in->start = 0;
    }
    *room = in->size - in->len;
    return in->buf + in->len;
}

static inline void http_input_added(struct http_input *in, size_t n)
{
    assert(n <= in->size - in->len);
    in->len += n;
}

/* Has a request head begun and not ended? (Its bytes are on a deadline.) */
static inline bool http_input_in_head(const struct http_input *in)
{
    return in->skip == 0 && in->len > in->start;
}

/* RFC 9110 token characters. */
static inline bool http_is_tchar(char c)
{
    return isalnum((unsigned char)c) || (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* "GET /path HTTP/1.1": the request line, without its CRLF. */
static inline enum http_next http_parse_request_line(const char *p, const char *end,
                                                     struct http_request *r)
{
    const char *method = p;
    while (p < end && http_is_tchar(*p))
        p++;
    if (p == method || p == end || *p != ' ')
        return HTTP_BAD_REQUEST;
    r->head = p - method == 4 && memcmp(method, "HEAD", 4) == 0;
    const char *target = ++p;
    while (p < end && *p != ' ' && (unsigned char)*p > ' ' && *p != 0x7f)
        p++;
    if (p == target || p == end || *p != ' ')
        return HTTP_BAD_REQUEST;
    p++;
    if (end - p != 8 || memcmp(p, "HTTP/1.", 7) != 0 || !isdigit((unsigned char)p[7]))
        return HTTP_BAD_REQUEST;
    r->http10 = p[7] == '0';
    return HTTP_REQUEST;
}

/* Is token (case-insensitive) one of the comma-separated options in value? */
static inline bool http_has_option(const char *value, const char *end, const char *token)
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

/* "Name: value", without its CRLF. */
static inline enum http_next http_parse_header(const char *p, const char *end,
                                               struct http_request *r, bool *have_length)
{
    const char *name = p;
    while (p < end && http_is_tchar(*p))
        p++;
    if (p == name || p == end || *p != ':')
        return HTTP_BAD_REQUEST; /* also obsolete line folding, which starts with a space */
    size_t name_len = (size_t)(p - name);
    for (const char *c = ++p; c < end; c++)
        if ((*c < ' ' && *c != '\t') || *c == 0x7f)
            return HTTP_BAD_REQUEST;
    while (p < end && (*p == ' ' || *p == '\t'))
        p++;
    while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
        end--;
    if (name_len == 14 && strncasecmp(name, "Content-Length", 14) == 0) {
        size_t length = 0;
        if (p == end)
            return HTTP_BAD_REQUEST;
        for (const char *d = p; d < end; d++) {
            if (!isdigit((unsigned char)*d) || length > (SIZE_MAX - 9) / 10)
                return HTTP_BAD_REQUEST;
            length = length * 10 + (size_t)(*d - '0');
        }
        if (*have_length && length != r->body)
            return HTTP_BAD_REQUEST; /* two different lengths: a smuggling attempt */
        *have_length = true;
        r->body = length;
    } else if (name_len == 17 && strncasecmp(name, "Transfer-Encoding", 17) == 0) {
        return HTTP_NOT_IMPLEMENTED;
    } else if (name_len == 10 && strncasecmp(name, "Connection", 10) == 0) {
        r->close |= http_has_option(p, end, "close");
        r->keep_alive |= http_has_option(p, end, "keep-alive");
    }
    return HTTP_REQUEST;
}

/* A head as the scan below delimits it: lines that each end in CRLF (and
 * hold no other CR or LF), the last one empty; end points just past it. */
static inline enum http_next http_parse_request(const char *p, const char *end,
                                                struct http_request *r)
{
    *r = (struct http_request){0};
    bool have_length = false;
    end -= 2; /* the blank line's CRLF */
    for (bool first = true;; first = false) {
        const char *eol = memchr(p, '\r', (size_t)(end - p) + 1);
        assert(eol && eol[1] == '\n');
        if (eol == p) /* the blank line: the start line cannot be it */
            return first ? HTTP_BAD_REQUEST : HTTP_REQUEST;
        enum http_next v =
            first ? http_parse_request_line(p, eol, r) : http_parse_header(p, eol, r, &have_length);
        if (v != HTTP_REQUEST)
            return v;
        p = eol + 2;
    }
}

enum http_scan { HTTP_SCAN_MORE, HTTP_SCAN_END, HTTP_SCAN_BAD };

/* Looks on from in->scanned for the end of the head at in->start: END (and
 * *end, just past its blank line), BAD at a bare CR or LF, or MORE. */
static inline enum http_scan http_scan_head(struct http_input *in, size_t *end)
{
    const char *b = in->buf;
    for (size_t i = in->scanned; i < in->len; i++) {
        if (b[i] == '\r') {
            if (i + 1 == in->len) {
                in->scanned = i; /* the byte after it, still to come, decides */
                return HTTP_SCAN_MORE;
            }
            if (b[i + 1] != '\n')
                return HTTP_SCAN_BAD;
        } else if (b[i] == '\n') {
            if (i == in->start || b[i - 1] != '\r')
                return HTTP_SCAN_BAD;
            if (i - in->start >= 3 && b[i - 2] == '\n' && b[i - 3] == '\r') {
                *end = i + 1;
                return HTTP_SCAN_END;
            }
        }
    }
    in->scanned = in->len;
    return HTTP_SCAN_MORE;
}

/* The next request in the bytes read so far, skipping the body of the one
 * before. After anything but HTTP_NEED_MORE and HTTP_REQUEST the stream
 * cannot be followed further: answer, and close the connection. */
static inline enum http_next http_input_next(struct http_input *in, struct http_request *r)
{
    size_t body = in->len - in->start < in->skip ? in->len - in->start : in->skip;
    in->start += body;
    in->skip -= body;
    if (in->scanned < in->start)
        in->scanned = in->start;
    if (in->skip > 0)
        return HTTP_NEED_MORE;
    size_t end;
    switch (http_scan_head(in, &end)) {
    case HTTP_SCAN_BAD:
        return HTTP_BAD_REQUEST;
    case HTTP_SCAN_MORE:
        return in->start == 0 && in->len == in->size ? HTTP_BAD_REQUEST : HTTP_NEED_MORE;
    case HTTP_SCAN_END:
        break;
    }
    enum http_next v = http_parse_request(in->buf + in->start, in->buf + end, r);
    in->start = in->scanned = end;
    if (v == HTTP_REQUEST)
        in->skip = r->body;
    return v;
}

#endif
