/*
 * libFuzzer target for the public API's argument checking: each input is a
 * program of calls with hostile arguments (NULL handles and arrays, NaN,
 * negative, infinite and huge timeouts, out-of-range enums and flags, bad
 * descriptors, zero and huge sizes), run inside weft_run at 1 worker under
 * virtual time, so that it is deterministic and no wait costs real time.
 * Every call must answer one of the results its header documents, never
 * crash (the sanitizers watch), and weft_run must come back with main's
 * value. Handles are used only while they are live: a released or destroyed
 * handle aborts by design (tests/api/test_handle_misuse.c).
 *
 * Build and run: see tests/fuzz/ in CONTRIBUTING.md (ctest runs a short
 * fixed number of inputs as fuzz/api_args).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include "weft.h"
#include "weft_io.h"

/* A documented-result check that fails loudly: libFuzzer saves the input. */
#define want(cond)                                                                                 \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz_api_args: %s:%d: %s\n", __FILE__, __LINE__, #cond);             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

struct input {
    const uint8_t *data;
    size_t size, at;
};

static unsigned byte(struct input *in)
{
    return in->at < in->size ? in->data[in->at++] : 0;
}

static const double timeouts[] = {NAN, -INFINITY, -1e300, -2.0, -1.0, -0.0, 0.0, 1e-9, 0.001,
                                  0.5, 3.0, 1e300, INFINITY};

static double timeout(struct input *in)
{
    return timeouts[byte(in) % (sizeof timeouts / sizeof timeouts[0])];
}

/* A timeout for a call that may wait for nothing: under virtual time a
 * far deadline is reached a day at a time (asyncio's longest select), so
 * waits are kept to seconds. */
static double wait_timeout(struct input *in)
{
    double t = timeout(in);
    return t > 10 ? 2.0 : t;
}

enum { NTASKS = 6 };

struct state {
    struct input in;
    weft_task *tasks[NTASKS]; /* live handles owned here, or NULL */
    int sv[2];                /* a socketpair for the I/O calls */
};

static void *ret_arg(void *arg)
{
    return arg;
}

static void *fail_eio(void *arg)
{
    (void)arg;
    return weft_fail(EIO, "fuzz");
}

static void *sleeps(void *arg)
{
    int rc = weft_sleep((double)(uintptr_t)arg / 8);
    want(rc == 0 || rc == ECANCELED);
    return rc ? WEFT_ERR(rc) : arg;
}

static void *(*const bodies[])(void *) = {ret_arg, fail_eio, sleeps};

/* A handle from the table (maybe NULL), and its slot. */
static weft_task *pick(struct state *s, size_t *slot)
{
    *slot = byte(&s->in) % NTASKS;
    return s->tasks[*slot];
}

static void drop(struct state *s, size_t slot)
{
    if (s->tasks[slot]) {
        weft_task_release(s->tasks[slot]);
        s->tasks[slot] = NULL;
    }
}

static bool is_code(void *r)
{
    return weft_error(r) != 0;
}

static void op_spawn(struct state *s)
{
    size_t slot = byte(&s->in) % NTASKS;
    unsigned how = byte(&s->in);
    void *(*fn)(void *) = how % 4 == 3 ? NULL : bodies[how % 3];
    weft_task *t = weft_spawn(fn, (void *)(uintptr_t)(byte(&s->in) % 16));
    if (!fn) {
        want(!t && weft_errno() == EINVAL);
        return;
    }
    want(t != NULL);
    drop(s, slot);
    s->tasks[slot] = t;
}

static void op_await(struct state *s)
{
    size_t slot;
    weft_task *t = pick(s, &slot);
    void *r = weft_await(t);
    if (!t)
        want(weft_error(r) == EINVAL);
    else
        want(weft_task_done(t) || weft_error(r) == ECANCELED);
}

static void op_cancel_and_accessors(struct state *s)
{
    size_t slot;
    weft_task *t = pick(s, &slot);
    bool cancelled = weft_cancel(t);
    want(!cancelled || t);
    bool done = weft_task_done(t);
    want(!weft_task_cancelled(t) || done);
    void *r = weft_task_result(t);
    want(t ? (done || weft_error(r) == EAGAIN) : weft_error(r) == EINVAL);
    const char *m = weft_task_message(t);
    want(!m || (done && is_code(r)));
    if (byte(&s->in) % 2)
        drop(s, slot);
}

static void op_sleep(struct state *s)
{
    double d = wait_timeout(&s->in);
    int rc = weft_sleep(d);
    want(isnan(d) ? rc == EINVAL : (rc == 0 || rc == ECANCELED));
}

/* The table's entries (NULL included) in the order the input says. */
static size_t pick_many(struct state *s, weft_task **out)
{
    size_t n = byte(&s->in) % (NTASKS + 1);
    for (size_t i = 0; i < n; i++) {
        size_t slot;
        out[i] = pick(s, &slot);
    }
    return n;
}

static bool any_null(weft_task *const ts[], size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!ts[i])
            return true;
    return false;
}

static void op_gather(struct state *s)
{
    weft_task *ts[NTASKS];
    void *results[NTASKS];
    size_t n = pick_many(s, ts);
    int flags = (int)(byte(&s->in) % 3);
    bool null_array = byte(&s->in) % 4 == 0;
    int rc = weft_gather(null_array ? NULL : ts, n, results, flags);
    if ((null_array && n) || any_null(ts, n))
        want(rc == EINVAL);
    else
        want(rc == 0 || rc == EIO || rc == ECANCELED || rc == EINVAL);
}

static void op_wait(struct state *s)
{
    weft_task *ts[NTASKS];
    bool done[NTASKS];
    size_t n = pick_many(s, ts);
    int when = (int)(byte(&s->in) % 4); /* 3 is no enum weft_when */
    double t = wait_timeout(&s->in);
    int rc = weft_wait(ts, n, (enum weft_when)when, t, byte(&s->in) % 2 ? done : NULL);
    if (n == 0 || any_null(ts, n) || when == 3 || isnan(t))
        want(rc == EINVAL);
    else
        want(rc == 0 || rc == ECANCELED);
}

static void op_wait_for(struct state *s)
{
    size_t slot;
    weft_task *t = pick(s, &slot);
    double d = wait_timeout(&s->in);
    void *r = weft_wait_for(t, d);
    if (!t || isnan(d))
        want(weft_error(r) == EINVAL);
    else
        want(weft_task_done(t) || weft_error(r) == ECANCELED);
}

static void op_queue(struct state *s)
{
    size_t sizes[] = {0, 1, 2, SIZE_MAX};
    weft_queue *q = byte(&s->in) % 5 == 0 ? NULL : weft_queue_create(sizes[byte(&s->in) % 4]);
    void *item = NULL;
    if (!q) {
        want(weft_queue_put_nowait(NULL, NULL) == EINVAL);
        want(weft_queue_get_nowait(NULL, &item) == EINVAL);
        want(weft_queue_put(NULL, NULL) == EINVAL);
        want(weft_queue_get(NULL, &item) == EINVAL);
        want(weft_queue_size(NULL) == 0);
        weft_queue_close(NULL);
        weft_queue_destroy(NULL);
        return;
    }
    for (unsigned n = byte(&s->in) % 4; n; n--) {
        int rc = weft_queue_put_nowait(q, &item);
        want(rc == 0 || rc == EAGAIN);
    }
    want(weft_queue_get_nowait(q, NULL) == EINVAL);
    int rc = weft_queue_get_nowait(q, &item);
    want(rc == 0 || rc == EAGAIN);
    rc = weft_queue_task_done(q);
    want(rc == 0 || rc == EINVAL);
    if (byte(&s->in) % 2) {
        weft_queue_close(q);
        want(weft_queue_put_nowait(q, NULL) == EPIPE);
    }
    weft_queue_destroy(q);
}

static void op_sync(struct state *s)
{
    weft_event *e = weft_event_create();
    weft_lock *l = weft_lock_create();
    weft_sem *m = weft_sem_create(byte(&s->in) % 3);
    want(e && l && m);
    want(weft_event_wait(NULL) == EINVAL && !weft_event_is_set(NULL));
    want(weft_lock_acquire(NULL) == EINVAL && weft_lock_release(NULL) == EINVAL);
    want(weft_sem_acquire(NULL) == EINVAL && weft_sem_release(NULL) == EINVAL);
    weft_event_set(NULL);
    weft_event_clear(NULL);
    want(weft_lock_release(l) == EPERM); /* not locked */
    if (byte(&s->in) % 2) {
        weft_event_set(e);
        want(weft_event_wait(e) == 0);
    }
    want(weft_lock_acquire(l) == 0 && weft_lock_locked(l) && weft_lock_release(l) == 0);
    if (!weft_sem_locked(m))
        want(weft_sem_acquire(m) == 0 && weft_sem_release(m) == 0);
    weft_event_destroy(e);
    weft_lock_destroy(l);
    weft_sem_destroy(m);
    weft_event_destroy(NULL);
    weft_lock_destroy(NULL);
    weft_sem_destroy(NULL);
}

static void op_timeout(struct state *s)
{
    double d = timeout(&s->in);
    weft_timeout *tm = weft_timeout_enter(d);
    if (isnan(d)) {
        want(!tm && weft_errno() == EINVAL);
        return;
    }
    want(tm != NULL);
    int rc = weft_timeout_reschedule(tm, timeout(&s->in));
    want(rc == 0 || rc == EINVAL);
    rc = weft_sleep(wait_timeout(&s->in));
    want(rc == 0 || rc == ETIMEDOUT || rc == ECANCELED || rc == EINVAL);
    want(weft_timeout_exit(NULL) == EINVAL);
    rc = weft_timeout_exit(tm);
    want(rc == 0 || rc == ETIMEDOUT || rc == ECANCELED);
}

static void *gen_body(weft_gen *g, void *arg)
{
    for (uintptr_t i = 0; i < (uintptr_t)arg; i++)
        if (weft_gen_yield(g, (void *)i) != 0)
            break;
    return NULL;
}

static void op_gen(struct state *s)
{
    want(!weft_gen_create(NULL, NULL) && weft_errno() == EINVAL);
    void *v;
    want(weft_gen_next(NULL, &v) == EINVAL);
    weft_gen *g = weft_gen_create(gen_body, (void *)(uintptr_t)(byte(&s->in) % 4));
    want(g != NULL);
    for (unsigned n = byte(&s->in) % 5; n; n--) {
        int rc = weft_gen_next(g, &v);
        want(rc == 0 || rc == ENODATA);
    }
    int code = (int)byte(&s->in) * 20 - 100; /* negative, zero, valid, > 4095 */
    int rc = weft_gen_throw(g, code, &v);
    want(rc == 0 || rc == ENODATA || rc == EINVAL || rc == code);
    weft_gen_destroy(g);
    weft_gen_destroy(NULL);
}

static void op_io(struct state *s)
{
    static const int bad_fds[] = {-1, -1000, 1 << 30};
    char buf[16];
    size_t n;
    int fd = byte(&s->in) % 4 == 0 ? bad_fds[byte(&s->in) % 3] : s->sv[byte(&s->in) % 2];
    double t = wait_timeout(&s->in);
    size_t len = byte(&s->in) % 2 ? sizeof buf : 0;
    void *p = byte(&s->in) % 5 == 0 ? NULL : buf;
    int rc;
    switch (byte(&s->in) % 5) {
    case 0:
        rc = weft_read(fd, p, len, &n, t);
        break;
    case 1:
        rc = weft_write(fd, p, len, &n, t);
        break;
    case 2:
        rc = weft_read_exactly(fd, p, len, t);
        break;
    case 3:
        rc = weft_write_all(fd, p, len, t);
        break;
    default:
        rc = weft_wait_fd(fd, byte(&s->in) % 5, t);
        break;
    }
    want(rc == 0 || rc == EINVAL || rc == EBADF || rc == ETIMEDOUT || rc == ECANCELED ||
         rc == ENODATA);
}

static void op_config_misuse(struct state *s)
{
    (void)s;
    want(weft_error(weft_run(ret_arg, NULL, NULL)) == EBUSY);
    want(weft_yield() == 0 || weft_yield() == ECANCELED);
}

static void (*const ops[])(struct state *) = {
    op_spawn, op_await, op_cancel_and_accessors, op_sleep, op_gather, op_wait, op_wait_for,
    op_queue, op_sync,  op_timeout, op_gen,       op_io,    op_config_misuse,
};

static void *fuzz_main(void *arg)
{
    struct state *s = arg;
    for (unsigned steps = 0; steps < 64 && s->in.at < s->in.size; steps++)
        ops[byte(&s->in) % (sizeof ops / sizeof ops[0])](s);
    for (size_t i = 0; i < NTASKS; i++) {
        if (s->tasks[i]) {
            weft_cancel(s->tasks[i]);
            weft_await(s->tasks[i]);
        }
        drop(s, i);
    }
    return (void *)1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct state s = {.in = {data, size, 0}};
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, s.sv) != 0)
        abort();
    const weft_config cfg = {.workers = 1, .virtual_time = true};
    void *r = weft_run(fuzz_main, &s, &cfg);
    want(r == (void *)1);
    close(s.sv[0]);
    close(s.sv[1]);
    return 0;
}
