/*
 * What examples/echo_server.c and examples/http_hello.c share: a TCP server
 * with one task per connection, in the shape of asyncio.start_server.
 *
 * The accept loop (server_accept_loop, a task) owns every connection: it
 * keeps each connection's task handle and record, reaps the finished ones as
 * it goes, and is the only task that touches that list, so no lock is
 * needed. A connection task calls the program's serve() and closes its
 * descriptor when serve() returns; a connection task cancelled before it
 * ever ran leaves its descriptor to the accept loop to close.
 *
 * Running out of descriptors (EMFILE, ENFILE) or of kernel memory (ENOBUFS,
 * ENOMEM) does not stop the server: the pending connection stays queued,
 * the loop says so on stderr once, sleeps (5 ms, doubling up to 1 s: Go's
 * net/http backoff) and tries again, and says when it serves again. The
 * retry calls accept itself rather than waiting for readiness, since the
 * queued connection will not announce itself a second time.
 *
 * Shutdown is cancellation: cancelling the accept loop's task makes it
 * close the listening socket, cancel every connection task (their next or
 * current await point answers ECANCELED), wait until each has finished and
 * free everything. server_main() wires that to SIGINT and SIGTERM: the
 * signals are blocked in every thread (workers inherit the mask of the thread
 * that calls weft_run) and read from a signalfd by a task with weft_read.
 */
#ifndef WEFT_EXAMPLE_SERVER_H
#define WEFT_EXAMPLE_SERVER_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "weft.h"
#include "weft_io.h"

/* Serves one connection; runs in the connection's own task. fd is closed
 * when it returns. ECANCELED from an await point means: shut down now. */
typedef void server_serve_fn(int fd, void *ctx);

struct server_conn {
    struct server *server;
    int fd;          /* atomic: -1 once the connection task has closed it */
    weft_task *task;
};

struct server {
    int listen_fd;
    server_serve_fn *serve;
    void *ctx;
    double backoff_min, backoff_max; /* seconds, between accepts that ran out */
    weft_event *overloaded;          /* optional: set when an accept runs out */
    /* Counters, readable by other tasks. */
    unsigned long accepted;          /* atomic */
    unsigned long overloads;         /* atomic: accepts that ran out of something */
    /* The accept loop's own. */
    struct server_conn **conns;
    size_t nconns, cap;
};

static inline void server_init(struct server *s, int listen_fd, server_serve_fn *serve, void *ctx)
{
    *s = (struct server){.listen_fd = listen_fd, .serve = serve, .ctx = ctx,
                         .backoff_min = 0.005, .backoff_max = 1.0};
}

/* A listening socket on host (NULL: every address) and port (0: any); says
 * `listening on port N` on stderr. 0 or an errno code. */
static inline int server_listen(const char *host, uint16_t port, int *fd)
{
    int err = weft_tcp_listen(host, port, 4096, 0, fd);
    if (err) {
        fprintf(stderr, "listen on port %u: %s\n", (unsigned)port, strerror(err));
        return err;
    }
    uint16_t bound = port;
    weft_local_port(*fd, &bound);
    fprintf(stderr, "listening on port %u\n", (unsigned)bound);
    return 0;
}

static inline void *server_conn_main(void *arg)
{
    struct server_conn *c = arg;
    c->server->serve(c->fd, c->server->ctx);
    int fd = c->fd;
    __atomic_store_n(&c->fd, -1, __ATOMIC_RELEASE);
    weft_close(fd);
    return NULL;
}

/* Frees a finished connection's record (closing a descriptor whose task
 * never ran). */
static inline void server_conn_free(struct server_conn *c)
{
    int fd = __atomic_load_n(&c->fd, __ATOMIC_ACQUIRE);
    if (fd >= 0)
        weft_close(fd);
    weft_task_release(c->task);
    free(c);
}

/* Drop the finished connections; make room for one more. */
static inline int server_reap(struct server *s)
{
    size_t kept = 0;
    for (size_t i = 0; i < s->nconns; i++) {
        struct server_conn *c = s->conns[i];
        if (weft_task_done(c->task))
            server_conn_free(c);
        else
            s->conns[kept++] = c;
    }
    s->nconns = kept;
    if (s->cap && kept <= s->cap / 2)
        return 0; /* growing only when more than half stay keeps this O(1) per accept */
    size_t cap = s->cap ? s->cap * 2 : 64;
    struct server_conn **grown = realloc(s->conns, cap * sizeof *grown);
    if (!grown)
        return kept < s->cap ? 0 : ENOMEM;
    s->conns = grown;
    s->cap = cap;
    return 0;
}

static inline int server_start_conn(struct server *s, int fd)
{
    if (s->nconns == s->cap && server_reap(s) != 0)
        return ENOMEM;
    struct server_conn *c = malloc(sizeof *c);
    if (!c)
        return ENOMEM;
    *c = (struct server_conn){.server = s, .fd = fd};
    c->task = weft_spawn(server_conn_main, c);
    if (!c->task) {
        free(c);
        return errno;
    }
    s->conns[s->nconns++] = c;
    __atomic_add_fetch(&s->accepted, 1, __ATOMIC_RELAXED);
    return 0;
}

/* Stop: close the listening socket, cancel every connection, wait for all. */
static inline void server_stop(struct server *s)
{
    weft_close(s->listen_fd);
    s->listen_fd = -1;
    for (size_t i = 0; i < s->nconns; i++)
        weft_cancel(s->conns[i]->task);
    for (size_t i = 0; i < s->nconns; i++) {
        /* A second cancel of this task only interrupts one await. */
        while (!weft_task_done(s->conns[i]->task))
            weft_await(s->conns[i]->task);
        server_conn_free(s->conns[i]);
    }
    free(s->conns);
    s->conns = NULL;
    s->nconns = s->cap = 0;
}

static inline bool server_out_of_resources(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* The accept loop, a task: serves until cancelled, then stops everything
 * (server_stop) and returns NULL; WEFT_ERR(code) if accept failed for good. */
static inline void *server_accept_loop(void *arg)
{
    struct server *s = arg;
    double backoff = 0;
    int err;
    for (;;) {
        int fd;
        err = weft_accept(s->listen_fd, &fd, WEFT_FOREVER);
        if (err == 0) {
            if (backoff > 0)
                fprintf(stderr, "accept: serving again\n");
            backoff = 0;
            if ((err = server_start_conn(s, fd)) != 0) {
                weft_close(fd); /* the client sees the connection closed */
                fprintf(stderr, "accept: cannot start a connection task: %s\n", strerror(err));
            }
            continue;
        }
        if (!server_out_of_resources(err))
            break;
        if (backoff == 0)
            fprintf(stderr, "accept: %s; retrying from %g ms, backing off up to %g ms\n",
                    strerror(err), s->backoff_min * 1e3, s->backoff_max * 1e3);
        __atomic_add_fetch(&s->overloads, 1, __ATOMIC_RELAXED);
        if (s->overloaded)
            weft_event_set(s->overloaded);
        backoff = backoff == 0 ? s->backoff_min : backoff * 2;
        if (backoff > s->backoff_max)
            backoff = s->backoff_max;
        if ((err = weft_sleep(backoff)) != 0)
            break;
    }
    if (err != ECANCELED)
        fprintf(stderr, "accept: %s; stopping\n", strerror(err));
    server_stop(s);
    return err == ECANCELED ? NULL : WEFT_ERR(err);
}

/* --- the program around it: options and signals ---------------------------------- */

struct server_program {
    const char *name;
    const char *host;    /* NULL: every address */
    uint16_t port;
    server_serve_fn *serve;
    void *ctx;
    int sigfd;
    weft_task *accept_task;
    bool failed_to_listen;
};

/* Reads the signalfd: the first SIGINT or SIGTERM cancels the accept loop,
 * a second one ends the process at once. */
static inline void *server_signal_task(void *arg)
{
    struct server_program *p = arg;
    struct signalfd_siginfo si;
    for (unsigned seen = 0; weft_read_exactly(p->sigfd, &si, sizeof si, WEFT_FOREVER) == 0;) {
        if (seen++) {
            fprintf(stderr, "%s: %s again, exiting now\n", p->name, strsignal((int)si.ssi_signo));
            _exit(1);
        }
        fprintf(stderr, "%s: %s, shutting down\n", p->name, strsignal((int)si.ssi_signo));
        weft_cancel(p->accept_task);
    }
    return NULL;
}

static inline void *server_program_main(void *arg)
{
    struct server_program *p = arg;
    int fd;
    int err = server_listen(p->host, p->port, &fd);
    if (err) {
        p->failed_to_listen = true;
        return WEFT_ERR(err);
    }
    struct server s;
    server_init(&s, fd, p->serve, p->ctx);
    p->accept_task = weft_spawn(server_accept_loop, &s);
    weft_task *signals = p->accept_task ? weft_spawn(server_signal_task, p) : NULL;
    if (!signals) {
        err = errno;
        if (p->accept_task) {
            weft_cancel(p->accept_task);
            weft_await(p->accept_task);
            weft_task_release(p->accept_task);
        } else {
            weft_close(fd);
        }
        return WEFT_ERR(err);
    }
    void *result = weft_await(p->accept_task);
    weft_cancel(signals); /* the loop may have stopped on its own */
    weft_await(signals);
    weft_task_release(signals);
    weft_task_release(p->accept_task);
    return result;
}

static inline void server_usage(const char *name, uint16_t default_port)
{
    fprintf(stderr,
            "usage: %s [--port N] [--host ADDR]\n"
            "  --port N     TCP port (default %u; 0: any free port, printed on stderr)\n"
            "  --host ADDR  address to listen on (default: every address)\n"
            "WEFT_WORKERS=N picks the number of worker threads.\n",
            name, (unsigned)default_port);
}

/* Parses the options, blocks SIGINT and SIGTERM, serves until one arrives.
 * The exit status for main(). */
static inline int server_main(int argc, char **argv, uint16_t default_port,
                              server_serve_fn *serve, void *ctx)
{
    struct server_program p = {.name = argv[0], .port = default_port, .serve = serve,
                               .ctx = ctx};
    for (int i = 1; i < argc; i++) {
        const char *value = i + 1 < argc ? argv[i + 1] : NULL;
        char *end;
        if (strcmp(argv[i], "--port") == 0 && value) {
            errno = 0;
            unsigned long port = strtoul(value, &end, 10);
            if (errno || *end || !*value || port > 65535) {
                fprintf(stderr, "%s: bad port '%s'\n", argv[0], value);
                return 2;
            }
            p.port = (uint16_t)port;
            i++;
        } else if (strcmp(argv[i], "--host") == 0 && value) {
            p.host = value;
            i++;
        } else {
            server_usage(argv[0], default_port);
            return strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0 ? 0 : 2;
        }
    }
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int err = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (err || (p.sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "%s: signalfd: %s\n", argv[0], strerror(err ? err : errno));
        return 1;
    }
    void *result = weft_run(server_program_main, &p, NULL);
    close(p.sigfd);
    if (weft_error(result)) {
        if (!p.failed_to_listen)
            fprintf(stderr, "%s: %s\n", argv[0], strerror(weft_error(result)));
        return 1;
    }
    return 0;
}

#endif
