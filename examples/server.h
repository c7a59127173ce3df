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
 * A cap on connections (max_conns, the programs' --max-conn N) makes the
 * loop stop accepting while N connection tasks are alive: it takes one of N
 * permits (a weft_sem) before each accept, and each connection task gives its
 * permit back once it has closed its descriptor. The connections beyond the
 * cap wait in the kernel's listen queue and are served, in order, as others
 * end. We chose that over accepting and closing at once because a burst just
 * above the cap is then served late rather than failed, a connection over the
 * cap costs no descriptor and no work, and a cap set below the descriptor
 * limit keeps the server out of EMFILE. What it costs is that a client beyond
 * the cap sees a connection that the kernel accepted but nobody answers yet;
 * the servers' own timeouts (the HTTP header deadline, the idle timeouts)
 * bound how long each permit can be held, and so that wait.
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
#include <limits.h>
#include <math.h>
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
    unsigned max_conns;              /* connection tasks alive at once; 0: no cap */
    weft_event *overloaded;          /* optional: set when an accept runs out */
    weft_event *full;                /* optional: set when the loop waits at max_conns */
    /* Counters, readable by other tasks. */
    unsigned long accepted;          /* atomic */
    unsigned long overloads;         /* atomic: accepts that ran out of something */
    unsigned long fulls;             /* atomic: times the loop waited at max_conns */
    /* The accept loop's own, but for the permits that connection tasks give back. */
    weft_sem *permits;               /* max_conns of them; NULL without a cap */
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
    if (c->server->permits) /* after the close: the cap bounds descriptors too */
        weft_sem_release(c->server->permits);
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
        int err = weft_errno(); /* not errno: this task may have moved threads */
        free(c);
        return err;
    }
    char name[32]; /* what weft_dump and weft's messages call it */
    snprintf(name, sizeof name, "conn-fd%d", fd);
    weft_task_set_name(c->task, name); /* out of memory, it keeps its Task-N */
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
    if (s->permits) /* no connection task is left to give one back */
        weft_sem_destroy(s->permits);
    s->permits = NULL;
}

static inline bool server_out_of_resources(int err)
{
    return err == EMFILE || err == ENFILE || err == ENOBUFS || err == ENOMEM;
}

/* Await point: a permit for one more connection, waiting at the cap for a
 * connection task to end (the first time, says so on stderr). */
static inline int server_take_permit(struct server *s)
{
    if (weft_sem_locked(s->permits)) {
        /* Relaxed: a statistic, which orders nothing else. */
        if (__atomic_fetch_add(&s->fulls, 1, __ATOMIC_RELAXED) == 0)
            fprintf(stderr, "accept: %u connections open, the cap; the next ones wait\n",
                    s->max_conns);
        if (s->full)
            weft_event_set(s->full);
    }
    return weft_sem_acquire(s->permits);
}

/* The accept loop, a task: serves until cancelled, then stops everything
 * (server_stop) and returns NULL; WEFT_ERR(code) if accept failed for good. */
static inline void *server_accept_loop(void *arg)
{
    struct server *s = arg;
    double backoff = 0;
    bool permit = false; /* taken for the next connection */
    int err = 0;
    if (s->max_conns && !(s->permits = weft_sem_create(s->max_conns)))
        err = weft_errno();
    while (!err) {
        if (s->permits && !permit) {
            if ((err = server_take_permit(s)) != 0)
                break;
            permit = true;
        }
        int fd;
        err = weft_accept(s->listen_fd, &fd, WEFT_FOREVER);
        if (err == 0) {
            if (backoff > 0)
                fprintf(stderr, "accept: serving again\n");
            backoff = 0;
            if ((err = server_start_conn(s, fd)) == 0) {
                permit = false; /* the connection task gives it back */
            } else {
                weft_close(fd); /* the client sees the connection closed */
                fprintf(stderr, "accept: cannot start a connection task: %s\n", strerror(err));
                err = 0;
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

/* A program's own option beside --port, --host and --max-conn; it takes a value. */
struct server_option {
    const char *name; /* "--header-timeout" */
    const char *arg;  /* the value's name in the usage: "S" */
    const char *help; /* the rest of its line in the usage */
    bool (*set)(const char *value, void *ctx); /* false: a bad value */
};

struct server_program {
    /* Set by the program. */
    uint16_t default_port;
    server_serve_fn *serve;
    void *ctx;                           /* for serve() and the options' set() */
    const struct server_option *options; /* noptions of them */
    size_t noptions;
    /* Set from the command line. */
    const char *name;
    const char *host; /* NULL: every address */
    uint16_t port;
    unsigned max_conns;
    /* While it runs. */
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
    s.max_conns = p->max_conns;
    p->accept_task = weft_spawn(server_accept_loop, &s);
    weft_task *signals = p->accept_task ? weft_spawn(server_signal_task, p) : NULL;
    if (signals) {
        weft_task_set_name(p->accept_task, "accept");
        weft_task_set_name(signals, "signals");
    }
    if (!signals) {
        err = weft_errno();
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

static inline void server_usage(const struct server_program *p)
{
    fprintf(stderr,
            "usage: %s [--port N] [--host ADDR] [--max-conn N]%s\n"
            "  --port N           TCP port (default %u; 0: any free port, printed on stderr)\n"
            "  --host ADDR        address to listen on (default: every address)\n"
            "  --max-conn N       connections served at once; the next ones wait to be\n"
            "                     accepted (default 0: no cap)\n",
            p->name, p->noptions ? " [OPTION VALUE]..." : "", (unsigned)p->default_port);
    for (size_t i = 0; i < p->noptions; i++) {
        char synopsis[64];
        snprintf(synopsis, sizeof synopsis, "%s %s", p->options[i].name, p->options[i].arg);
        fprintf(stderr, "  %-18s %s\n", synopsis, p->options[i].help);
    }
    fprintf(stderr, "WEFT_WORKERS=N picks the number of worker threads.\n");
}

/* A whole decimal number from 0 to max. */
static inline bool server_parse_count(const char *text, unsigned long max, unsigned long *value)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(text, &end, 10);
    if (errno || *end || !(*text >= '0' && *text <= '9') || v > max)
        return false;
    *value = v;
    return true;
}

/* A number of seconds, more than 0 and finite. */
static inline bool server_parse_seconds(const char *text, double *value)
{
    char *end;
    errno = 0;
    double v = strtod(text, &end);
    if (errno || *end || end == text || !(v > 0) || !isfinite(v))
        return false;
    *value = v;
    return true;
}

/* Reads the command line into p: -1 to go on and serve, else the exit
 * status (0 after --help, 2 after a bad option or value). */
static inline int server_parse_args(struct server_program *p, int argc, char **argv)
{
    p->name = argv[0];
    p->port = p->default_port;
    for (int i = 1; i < argc; i++) {
        const char *option = argv[i], *value = i + 1 < argc ? argv[i + 1] : NULL;
        const struct server_option *own = NULL;
        for (size_t k = 0; k < p->noptions && !own; k++)
            if (strcmp(option, p->options[k].name) == 0)
                own = &p->options[k];
        unsigned long number;
        bool good;
        if (!value || !(own || strcmp(option, "--port") == 0 || strcmp(option, "--host") == 0 ||
                        strcmp(option, "--max-conn") == 0)) {
            server_usage(p);
            return strcmp(option, "--help") == 0 || strcmp(option, "-h") == 0 ? 0 : 2;
        } else if (own) {
            good = own->set(value, p->ctx);
        } else if (strcmp(option, "--port") == 0) {
            if ((good = server_parse_count(value, 65535, &number)))
                p->port = (uint16_t)number;
        } else if (strcmp(option, "--max-conn") == 0) {
            if ((good = server_parse_count(value, UINT_MAX, &number)))
                p->max_conns = (unsigned)number;
        } else {
            good = true;
            p->host = value;
        }
        if (!good) {
            fprintf(stderr, "%s: bad value '%s' for %s\n", argv[0], value, option);
            return 2;
        }
        i++;
    }
    return -1;
}

/* Parses the options, blocks SIGINT and SIGTERM, serves until one arrives.
 * The exit status for main(). */
static inline int server_program_run(struct server_program *p, int argc, char **argv)
{
    int status = server_parse_args(p, argc, argv);
    if (status >= 0)
        return status;
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGTERM);
    int err = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (err || (p->sigfd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC)) < 0) {
        fprintf(stderr, "%s: signalfd: %s\n", argv[0], strerror(err ? err : errno));
        return 1;
    }
    void *result = weft_run(server_program_main, p, NULL);
    close(p->sigfd);
    if (weft_error(result)) {
        if (!p->failed_to_listen)
            fprintf(stderr, "%s: %s\n", argv[0], strerror(weft_error(result)));
        return 1;
    }
    return 0;
}

/* server_program_run for a program with no options of its own. */
static inline int server_main(int argc, char **argv, uint16_t default_port,
                              server_serve_fn *serve, void *ctx)
{
    struct server_program p = {.default_port = default_port, .serve = serve, .ctx = ctx};
    return server_program_run(&p, argc, argv);
}

#endif
