/*
 * libFuzzer target for examples/http_parse.h, the request side of
 * examples/http_hello.c. The input's first byte picks the size of the read
 * buffer: the server's 8192 bytes when its top bit is set, else 8 to 135
 * bytes, so that heads too long for the buffer come often. The rest is the
 * byte stream a client sends. The stream is fed through
 * struct http_input the way the server feeds it, three times: as much as fits
 * at each read, one byte per read, and in reads of sizes drawn from the input
 * itself. Beyond the sanitizers' checks (the buffer is a heap block of exactly
 * its size), each run requires:
 * - the same requests and verdicts, at the same stream offsets, however the
 *   stream was split into reads;
 * - the buffer's bookkeeping in bounds after every call, and room for the
 *   next read whenever more bytes are asked for;
 * - each request taken as well-formed to be one by a second, independent
 *   reading of its bytes (below): it starts where the body of the one before
 *   ends, its head ends at the first blank line, every line ends in CRLF,
 *   its request line has the HTTP/1.x shape, and the fields the parser
 *   reports (HEAD, HTTP/1.0, Content-Length) are what the bytes say;
 * - a Transfer-Encoding verdict only where such a field is;
 * - parsing a head again, copied to a block of its exact size, gives the
 *   same answer.
 * A failed requirement aborts with a message; libFuzzer keeps the input.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "examples/http_parse.h"

#define require(cond)                                                                              \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "%s:%d: requirement failed: %s\n", __FILE__, __LINE__, #cond);         \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct event {
    enum http_next next;
    size_t start, end; /* where its head lies in the stream */
    struct http_request r;
};

struct run {
    struct event *events;
    size_t nevents;
    bool ended_in_head; /* the stream ran out with a head begun (unless it stopped at a bad one) */
};

enum split { AS_MUCH_AS_FITS, ONE_BYTE, DRAWN };

static size_t read_size(enum split how, const uint8_t *data, size_t n, size_t fed, size_t reads)
{
    switch (how) {
    case AS_MUCH_AS_FITS:
        return SIZE_MAX;
    case ONE_BYTE:
        return 1;
    case DRAWN:
        break;
    }
    return 1 + data[(fed * 31 + reads * 7) % n] % 23;
}

static void require_bookkeeping(const struct http_input *in)
{
    require(in->start <= in->scanned && in->scanned <= in->len && in->len <= in->size);
}

/* Takes out what the bytes read so far complete, as the server does; false
 * once the stream cannot be followed further. dropped: where buf[0] is in the
 * stream. */
static bool take_requests(struct http_input *in, size_t dropped, struct run *run)
{
    for (;;) {
        struct http_request r;
        size_t head_start = dropped + in->start + in->skip; /* once the body is skipped */
        enum http_next next = http_input_next(in, &r);
        require_bookkeeping(in);
        if (next == HTTP_NEED_MORE)
            return true;
        run->events[run->nevents++] =
            (struct event){.next = next, .start = head_start, .end = dropped + in->start, .r = r};
        if (next != HTTP_REQUEST)
            return false;
    }
}

/* Feeds data through a buffer of size bytes, read sizes by `how`. */
static void feed(const uint8_t *data, size_t n, size_t size, enum split how, struct run *run)
{
    char *buf = malloc(size);
    require(buf);
    struct http_input in;
    http_input_init(&in, buf, size);
    size_t fed = 0, dropped = 0, reads = 0;
    run->nevents = 0;
    run->ended_in_head = false;
    while (take_requests(&in, dropped, run)) {
        if (fed == n) {
            run->ended_in_head = http_input_in_head(&in);
            break;
        }
        dropped += in.start;
        size_t room;
        char *space = http_input_space(&in, &room);
        require(room > 0 && space == buf + in.len && in.start == 0);
        size_t k = read_size(how, data, n, fed, reads++);
        k = k < room ? k : room;
        k = k < n - fed ? k : n - fed;
        memcpy(space, data + fed, k);
        http_input_added(&in, k);
        fed += k;
    }
    free(buf);
}

static bool same_request(const struct http_request *a, const struct http_request *b)
{
    return a->head == b->head && a->http10 == b->http10 && a->close == b->close &&
           a->keep_alive == b->keep_alive && a->body == b->body;
}

static void require_same(const struct run *a, const struct run *b)
{
    require(a->nevents == b->nevents && a->ended_in_head == b->ended_in_head);
    for (size_t i = 0; i < a->nevents; i++) {
        const struct event *x = &a->events[i], *y = &b->events[i];
        require(x->next == y->next && x->start == y->start && x->end == y->end);
        require(x->next != HTTP_REQUEST || same_request(&x->r, &y->r));
    }
}

static bool is_tchar(uint8_t c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

/* Does the line h[0, len) start with the field name `name` and a colon? */
static bool names(const uint8_t *h, size_t len, const char *name)
{
    size_t n = strlen(name);
    return len > n && h[n] == ':' && strncasecmp((const char *)h, name, n) == 0;
}

/* The second reading of a head taken as well-formed: h[0, len). */
static void require_well_formed(const uint8_t *h, size_t len, const struct http_request *r)
{
    require(len >= 4 && memcmp(h + len - 4, "\r\n\r\n", 4) == 0);
    for (size_t i = 0; i < len; i++) {
        require(h[i] != '\n' || (i > 0 && h[i - 1] == '\r'));
        require(h[i] != '\r' || (i + 1 < len && h[i + 1] == '\n'));
        require(i + 4 >= len || memcmp(h + i, "\r\n\r\n", 4) != 0); /* the first blank line */
    }
    /* METHOD SP TARGET SP HTTP/1.d */
    size_t i = 0;
    while (is_tchar(h[i]))
        i++;
    require(i > 0 && h[i] == ' ');
    require(r->head == (i == 4 && memcmp(h, "HEAD", 4) == 0));
    size_t target = ++i;
    while (h[i] > ' ' && h[i] != 0x7f)
        i++;
    require(i > target && h[i] == ' ' && i + 10 < len);
    require(memcmp(h + i + 1, "HTTP/1.", 7) == 0 && h[i + 8] >= '0' && h[i + 8] <= '9');
    require(h[i + 9] == '\r');
    require(r->http10 == (h[i + 8] == '0'));
    /* Each field line: a name, a colon; Content-Length is r->body (0 without one). */
    size_t body = 0;
    for (i += 11; i < len - 2;) {
        const uint8_t *line = h + i;
        size_t n = (size_t)((const uint8_t *)memchr(line, '\r', len - i) - line);
        size_t name = 0;
        while (name < n && is_tchar(line[name]))
            name++;
        require(name > 0 && name < n && line[name] == ':');
        require(!names(line, n, "Transfer-Encoding"));
        if (names(line, n, "Content-Length")) {
            size_t v = 15, length = 0;
            while (line[v] == ' ' || line[v] == '\t')
                v++;
            for (; line[v] >= '0' && line[v] <= '9'; v++)
                length = length * 10 + (size_t)(line[v] - '0');
            body = length;
        }
        i += n + 2;
    }
    require(r->body == body);
}

/* A Transfer-Encoding verdict: such a field ends the head, CRLF before it. */
static void require_transfer_encoding(const uint8_t *h, size_t len)
{
    bool found = false;
    for (size_t i = 2; i < len && !found; i++)
        found = h[i - 2] == '\r' && h[i - 1] == '\n' && names(h + i, len - i, "Transfer-Encoding");
    require(found);
}

static void require_consistent(const struct run *run, const uint8_t *data, size_t n)
{
    size_t next_start = 0;
    for (size_t i = 0; i < run->nevents; i++) {
        const struct event *e = &run->events[i];
        require(e->start == next_start && e->start <= e->end && e->end <= n);
        if (e->next == HTTP_REQUEST) {
            require_well_formed(data + e->start, e->end - e->start, &e->r);
            uint8_t *copy = malloc(e->end - e->start);
            require(copy);
            memcpy(copy, data + e->start, e->end - e->start);
            struct http_request again;
            require(http_parse_request((char *)copy, (char *)copy + (e->end - e->start), &again) ==
                        HTTP_REQUEST &&
                    same_request(&again, &e->r));
            free(copy);
            next_start = e->end + e->r.body;
        } else if (e->next == HTTP_NOT_IMPLEMENTED) {
            require(e->end - e->start >= 4);
            require_transfer_encoding(data + e->start, e->end - e->start);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *input, size_t size)
{
    if (size < 2)
        return 0;
    size_t buffer = input[0] & 0x80 ? 8192 : 8 + (size_t)input[0];
    const uint8_t *data = input + 1;
    size_t n = size - 1;
    /* Each event but the last ends a head, of four bytes at least. */
    size_t most = n / 4 + 2;
    struct event *events = malloc(3 * most * sizeof *events);
    require(events);
    struct run runs[3] = {
        {.events = events}, {.events = events + most}, {.events = events + 2 * most}};
    feed(data, n, buffer, AS_MUCH_AS_FITS, &runs[0]);
    feed(data, n, buffer, ONE_BYTE, &runs[1]);
    feed(data, n, buffer, DRAWN, &runs[2]);
    require_same(&runs[0], &runs[1]);
    require_same(&runs[0], &runs[2]);
    require_consistent(&runs[0], data, n);
    free(events);
    return 0;
}
