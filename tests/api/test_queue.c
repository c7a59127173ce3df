/*
 * weft_queue (asyncio.Queue with 3.13's shutdown): every call and its bad
 * input, FIFO order of items and of waiting getters and putters, a bounded
 * queue's back-pressure, cancellation at each await point (a waiting getter,
 * a waiting putter, a joiner, a getter or putter cancelled right after it was
 * woken: nothing is lost, the wake-up passes on), close and destroy with
 * waiters, join and task_done, a ping-pong over two capacity-1 queues, and a
 * stress run of many producers and consumers (each item delivered exactly
 * once, in order per producer).
 *
 * Scenarios run as tasks, where cmocka's asserts must not be used: check()
 * records a failure and the test fails after weft_run, naming the mode.
 * Every scenario runs at 1, 2 and 4 workers under virtual time, where
 * settle() (a sleep) returns only once every other task is blocked: that is
 * how a scenario knows its waiters are queued, in a known order.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../harness.h"

#define ITEM(i) ((void *)(intptr_t)(i))
#define NUM(p) ((int)(intptr_t)(p))

/* A task that gets one item from a queue, or puts one. */
struct op {
    weft_queue *q;
    void *item; /* put: what; get: what came */
    int rc;
    int done; /* atomic */
};

static void *getter(void *arg)
{
    struct op *op = arg;
    op->rc = weft_queue_get(op->q, &op->item);
    __atomic_store_n(&op->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *putter(void *arg)
{
    struct op *op = arg;
    op->rc = weft_queue_put(op->q, op->item);
    __atomic_store_n(&op->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *joiner(void *arg)
{
    struct op *op = arg;
    op->rc = weft_queue_join(op->q);
    __atomic_store_n(&op->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

/* Spawn fn(op) and settle, so that tasks spawned this way wait in order. */
static weft_task *spawn_waiting(void *(*fn)(void *), struct op *op)
{
    weft_task *t = weft_spawn(fn, op);
    check(t != NULL);
    settle();
    return t;
}

/* ---- arguments and the calls that do not wait ---- */

static void test_bad_input_outside_tasks(void **state)
{
    (void)state;
    void *item;
    assert_int_equal(weft_queue_put(NULL, NULL), EINVAL);
    assert_int_equal(weft_queue_get(NULL, &item), EINVAL);
    assert_int_equal(weft_queue_put_nowait(NULL, NULL), EINVAL);
    assert_int_equal(weft_queue_get_nowait(NULL, &item), EINVAL);
    assert_int_equal(weft_queue_task_done(NULL), EINVAL);
    assert_int_equal(weft_queue_join(NULL), EINVAL);
    assert_int_equal(weft_queue_size(NULL), 0);
    weft_queue_close(NULL);
    weft_queue_destroy(NULL);

    weft_queue *q = weft_queue_create(2);
    assert_non_null(q);
    /* Awaits need a task; the _nowait calls do not. */
    assert_int_equal(weft_queue_put(q, ITEM(1)), EPERM);
    assert_int_equal(weft_queue_get(q, &item), EPERM);
    assert_int_equal(weft_queue_join(q), EPERM);
    assert_int_equal(weft_queue_get_nowait(q, NULL), EINVAL);
    assert_int_equal(weft_queue_get_nowait(q, &item), EAGAIN);
    assert_int_equal(weft_queue_put_nowait(q, ITEM(1)), 0);
    assert_int_equal(weft_queue_put_nowait(q, ITEM(2)), 0);
    assert_int_equal(weft_queue_put_nowait(q, ITEM(3)), EAGAIN);
    assert_int_equal(weft_queue_size(q), 2);
    assert_int_equal(weft_queue_get_nowait(q, &item), 0);
    assert_int_equal(NUM(item), 1);
    assert_int_equal(weft_queue_task_done(q), 0);
    assert_int_equal(weft_queue_task_done(q), 0); /* item 2 was put, not yet got: allowed */
    assert_int_equal(weft_queue_task_done(q), EINVAL);
    weft_queue_close(q);
    assert_int_equal(weft_queue_put_nowait(q, ITEM(4)), EPIPE);
    assert_int_equal(weft_queue_get_nowait(q, &item), 0);
    assert_int_equal(NUM(item), 2);
    assert_int_equal(weft_queue_get_nowait(q, &item), ENODATA);
    weft_queue_destroy(q);
}

/* ---- FIFO and growth ---- */

static void *fifo_main(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(0);
    int n = 5000; /* several growths of the ring buffer */
    void *item;
    check(weft_queue_join(q) == 0); /* nothing unfinished: no wait */
    for (int i = 0; i < n; i++) {
        check(weft_queue_put(q, ITEM(i)) == 0);
        if (i % 3 == 0) { /* wrap the ring around */
            check(weft_queue_get(q, &item) == 0);
            check(NUM(item) == i / 3);
        }
    }
    int next = (n - 1) / 3 + 1;
    check(weft_queue_size(q) == (size_t)(n - next));
    while (weft_queue_get_nowait(q, &item) == 0)
        check(NUM(item) == next++);
    check(next == n);
    check(weft_queue_size(q) == 0);
    weft_queue_destroy(q);
    return (void *)1;
}

static void test_fifo(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(fifo_main, NULL);
}

/* ---- waiting getters and putters are served in order ---- */

#define WAITERS 6

static void *getters_in_order_main(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(0);
    struct op ops[WAITERS];
    weft_task *t[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        ops[i] = (struct op){.q = q};
        t[i] = spawn_waiting(getter, &ops[i]);
    }
    /* One item at a time: the oldest waiting getter is the one woken. (A
     * burst wakes the oldest ones in order too, but with several workers
     * they may then resume in any order.) */
    for (int i = 0; i < WAITERS / 2; i++) {
        check(weft_queue_put_nowait(q, ITEM(100 + i)) == 0);
        finish(t[i]);
        check(ops[i].rc == 0 && NUM(ops[i].item) == 100 + i);
    }
    for (int i = WAITERS / 2; i < WAITERS; i++)
        check(weft_queue_put_nowait(q, ITEM(100 + i)) == 0);
    for (int i = WAITERS / 2; i < WAITERS; i++) {
        finish(t[i]);
        check(ops[i].rc == 0);
        if (mode.workers == 1)
            check(NUM(ops[i].item) == 100 + i);
    }
    weft_queue_destroy(q);
    return (void *)1;
}

static void test_waiting_getters_fifo(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(getters_in_order_main, NULL);
}

static void *putters_in_order_main(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(2);
    check(weft_queue_put(q, ITEM(0)) == 0);
    check(weft_queue_put(q, ITEM(1)) == 0);
    struct op ops[WAITERS];
    weft_task *t[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        ops[i] = (struct op){.q = q, .item = ITEM(2 + i)};
        t[i] = spawn_waiting(putter, &ops[i]);
        check(!__atomic_load_n(&ops[i].done, __ATOMIC_ACQUIRE));
    }
    check(weft_queue_size(q) == 2);
    /* Each get frees one slot, which goes to the oldest waiting putter. */
    for (int i = 0; i < WAITERS + 2; i++) {
        void *item;
        check(weft_queue_get(q, &item) == 0);
        check(NUM(item) == i);
        settle();
        check(weft_queue_size(q) <= 2);
    }
    for (int i = 0; i < WAITERS; i++) {
        finish(t[i]);
        check(ops[i].rc == 0);
    }
    weft_queue_destroy(q);
    return (void *)1;
}

static void test_waiting_putters_fifo(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(putters_in_order_main, NULL);
}

/* ---- back-pressure: a bounded queue never holds more than maxsize ---- */

struct flow {
    weft_queue *q;
    int n;
    int max_seen;
};

static void *slow_consumer(void *arg)
{
    struct flow *f = arg;
    for (int i = 0; i < f->n; i++) {
        void *item;
        int size = (int)weft_queue_size(f->q);
        if (size > f->max_seen)
            f->max_seen = size;
        check(weft_sleep(0.5) == 0);
        check(weft_queue_get(f->q, &item) == 0);
        check(NUM(item) == i);
    }
    return NULL;
}

static void *backpressure_main(void *arg)
{
    (void)arg;
    struct flow f = {.q = weft_queue_create(3), .n = 40};
    weft_task *c = weft_spawn(slow_consumer, &f);
    double t0 = weft_now();
    for (int i = 0; i < f.n; i++) {
        check(weft_queue_put(f.q, ITEM(i)) == 0);
        check(weft_queue_size(f.q) <= 3);
    }
    /* The producer could only run ahead of the consumer by 3 items plus
     * the one it holds. */
    check(weft_now() - t0 >= 0.5 * (f.n - 4) - 1e-9);
    finish(c);
    check(f.max_seen <= 3);
    weft_queue_destroy(f.q);
    return (void *)1;
}

static void test_bounded_backpressure(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(backpressure_main, NULL);
}

/* ---- cancellation ---- */

/* A getter cancelled while waiting leaves no trace: the next item goes to
 * the getter behind it. */
static void *cancel_waiting_getter_main(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(0);
    struct op a = {.q = q}, b = {.q = q};
    weft_task *ta = spawn_waiting(getter, &a);
    weft_task *tb = spawn_waiting(getter, &b);
    check(weft_cancel(ta));
    finish(ta);
    check(a.rc == ECANCELED);
    check(weft_queue_put_nowait(q, ITEM(7)) == 0);
    finish(tb);
    check(b.rc == 0 && NUM(b.item) == 7);
    check(weft_queue_size(q) == 0);
    weft_queue_destroy(q);
    return (void *)1;
}

static void test_cancel_waiting_getter(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cancel_waiting_getter_main, NULL);
}

/* A getter woken for an item and cancelled before it ran: asyncio leaves the
 * item in the queue until the getter takes it, so the cancelled getter wakes
 * the next one and the item is not lost. With several workers the getter may
 * have taken the item before the cancel: then it is delivered to it. */
static void *cancel_woken_getter_main(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(0);
    struct op a = {.q = q}, b = {.q = q};
    weft_task *ta = spawn_waiting(getter, &a);
    weft_task *tb = spawn_waiting(getter, &b);
    check(weft_queue_put_nowait(q, ITEM(7)) == 0);
    weft_cancel(ta);
    finish(ta);
    if (a.rc == 0) {
        check(mode.workers > 1 && NUM(a.item) == 7);
        weft_cancel(tb);
        finish(tb);
        check(b.rc == ECANCELED);
    } else {
        check(a.rc == ECANCELED);
        finish(tb);
        check(b.rc == 0 && NUM(b.item) == 7);
    }
    check(weft_queue_size(q) == 0);
    weft_queue_destroy(q);
    return (void *)1;
}

static void test_cancel_woken_getter(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cancel_woken_getter_main, NULL);
}

/* A putter cancelled while waiting does not put its item; one cancelled
 * right after a slot was freed for it passes the slot to the next putter. */
static void *cancel_putters_main(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(1);
    check(weft_queue_put(q, ITEM(0)) == 0);
    struct op a = {.q = q, .item = ITEM(1)}, b = {.q = q, .item = ITEM(2)},
              c = {.q = q, .item = ITEM(3)};
    weft_task *ta = spawn_waiting(putter, &a);
    weft_task *tb = spawn_waiting(putter, &b);
    weft_task *tc = spawn_waiting(putter, &c);
    check(weft_cancel(ta)); /* waiting */
    finish(ta);
    check(a.rc == ECANCELED);
    void *item;
    check(weft_queue_get_nowait(q, &item) == 0 && NUM(item) == 0); /* wakes b */
    weft_cancel(tb);                                               /* before it ran */
    finish(tb);
    check(weft_queue_get(q, &item) == 0); /* frees the slot for c, if b took it */
    finish(tc);
    check(c.rc == 0);
    if (b.rc == 0) {
        check(mode.workers > 1 && NUM(item) == 2);
        check(weft_queue_get(q, &item) == 0 && NUM(item) == 3);
    } else {
        check(b.rc == ECANCELED);
        check(NUM(item) == 3);
    }
    check(weft_queue_size(q) == 0);
    weft_queue_destroy(q);
    return (void *)1;
}

static void test_cancel_putters(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cancel_putters_main, NULL);
}

/* A cancel requested while the task runs is delivered by a put or get that
 * must wait, and not by one that need not (it does not suspend). */
static void *pending_cancel_task(void *arg)
{
    weft_queue *q = arg;
    void *item;
    weft_cancel(weft_task_current());
    check(weft_queue_put(q, ITEM(1)) == 0);         /* room: no await */
    check(weft_queue_put(q, ITEM(2)) == ECANCELED); /* full: the await delivers it */
    check(weft_queue_size(q) == 1);
    weft_cancel(weft_task_current());
    check(weft_queue_get(q, &item) == 0 && NUM(item) == 1);
    check(weft_queue_get(q, &item) == ECANCELED);
    check(weft_queue_put(q, ITEM(3)) == 0);
    weft_cancel(weft_task_current());
    check(weft_queue_join(q) == ECANCELED);
    check(weft_queue_get(q, &item) == 0 && NUM(item) == 3);
    check(weft_queue_task_done(q) == 0 && weft_queue_task_done(q) == 0);
    weft_cancel(weft_task_current());
    check(weft_queue_join(q) == 0); /* nothing unfinished: no await */
    check(weft_yield() == ECANCELED);
    return NULL;
}

static void *pending_cancel_main(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(1);
    finish(weft_spawn(pending_cancel_task, q));
    weft_queue_destroy(q);
    return (void *)1;
}

static void test_pending_cancel(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(pending_cancel_main, NULL);
}

/* ---- join and task_done ---- */

struct workers_state {
    weft_queue *q;
    int processed; /* atomic */
};

static void *worker_task(void *arg)
{
    struct workers_state *ws = arg;
    void *item;
    while (weft_queue_get(ws->q, &item) == 0) {
        check(weft_sleep(0.01 * (NUM(item) % 5)) == 0);
        __atomic_add_fetch(&ws->processed, 1, __ATOMIC_RELAXED);
        check(weft_queue_task_done(ws->q) == 0);
    }
    return NULL;
}

static void *join_main(void *arg)
{
    (void)arg;
    struct workers_state ws = {.q = weft_queue_create(0)};
    weft_task *w[3];
    for (int i = 0; i < 3; i++)
        w[i] = weft_spawn(worker_task, &ws);
    for (int i = 0; i < 50; i++)
        check(weft_queue_put(ws.q, ITEM(i)) == 0);
    struct op j1 = {.q = ws.q}, j2 = {.q = ws.q};
    weft_task *tj1 = weft_spawn(joiner, &j1);
    weft_task *tj2 = weft_spawn(joiner, &j2);
    check(weft_queue_join(ws.q) == 0);
    check(__atomic_load_n(&ws.processed, __ATOMIC_RELAXED) == 50);
    finish(tj1);
    finish(tj2);
    check(j1.rc == 0 && j2.rc == 0);
    check(weft_queue_task_done(ws.q) == EINVAL);
    /* A cancelled joiner leaves no trace; the others still finish. */
    check(weft_queue_put(ws.q, ITEM(100)) == 0);
    struct op j3 = {.q = ws.q};
    weft_task *tj3 = weft_spawn(joiner, &j3);
    check(weft_cancel(tj3));
    finish(tj3);
    check(j3.rc == ECANCELED || j3.rc == 0);
    check(weft_queue_join(ws.q) == 0);
    weft_queue_close(ws.q);
    for (int i = 0; i < 3; i++)
        finish(w[i]);
    weft_queue_destroy(ws.q);
    return (void *)1;
}

static void test_join_task_done(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(join_main, NULL);
}

/* ---- close and destroy with waiters ---- */

static void *close_main(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(0);
    struct op g[3] = {{.q = q}, {.q = q}, {.q = q}};
    weft_task *tg[3];
    for (int i = 0; i < 3; i++)
        tg[i] = spawn_waiting(getter, &g[i]);
    check(weft_queue_put_nowait(q, ITEM(5)) == 0);
    weft_queue_close(q);
    for (int i = 0; i < 3; i++)
        finish(tg[i]);
    /* The item put before close is still delivered, once. */
    int got = 0;
    for (int i = 0; i < 3; i++) {
        if (g[i].rc == 0) {
            got++;
            check(NUM(g[i].item) == 5);
        } else {
            check(g[i].rc == ENODATA);
        }
    }
    check(got == 1);
    check(weft_queue_put(q, ITEM(6)) == EPIPE);
    void *item;
    check(weft_queue_get(q, &item) == ENODATA);

    /* Waiting putters see EPIPE; getters drain what is left first. */
    weft_queue *b = weft_queue_create(1);
    check(weft_queue_put(b, ITEM(1)) == 0);
    struct op p[2] = {{.q = b, .item = ITEM(2)}, {.q = b, .item = ITEM(3)}};
    weft_task *tp[2] = {spawn_waiting(putter, &p[0]), spawn_waiting(putter, &p[1])};
    weft_queue_close(b);
    for (int i = 0; i < 2; i++) {
        finish(tp[i]);
        check(p[i].rc == EPIPE);
    }
    check(weft_queue_get(b, &item) == 0 && NUM(item) == 1);
    check(weft_queue_get(b, &item) == ENODATA);
    check(weft_queue_get_nowait(b, &item) == ENODATA);
    weft_queue_close(b); /* twice is fine */
    weft_queue_destroy(b);
    weft_queue_destroy(q);
    return (void *)1;
}

static void test_close_with_waiters(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(close_main, NULL);
}

static void *destroy_main(void *arg)
{
    (void)arg;
    weft_queue *empty = weft_queue_create(0), *fullq = weft_queue_create(1);
    check(weft_queue_put(fullq, ITEM(1)) == 0);
    struct op g[2] = {{.q = empty}, {.q = empty}};
    struct op p[2] = {{.q = fullq, .item = ITEM(2)}, {.q = fullq, .item = ITEM(3)}};
    struct op j = {.q = fullq};
    weft_task *t[5] = {
        spawn_waiting(getter, &g[0]), spawn_waiting(getter, &g[1]), spawn_waiting(putter, &p[0]),
        spawn_waiting(putter, &p[1]), spawn_waiting(joiner, &j),
    };
    weft_queue_destroy(empty); /* freed by the last getter to leave */
    weft_queue_destroy(fullq);
    for (int i = 0; i < 5; i++)
        finish(t[i]);
    check(g[0].rc == ENODATA && g[1].rc == ENODATA);
    check(p[0].rc == EPIPE && p[1].rc == EPIPE);
    check(j.rc == EPIPE);
    return (void *)1;
}

static void test_destroy_with_waiters(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(destroy_main, NULL);
}

/* A waiter cancelled just before destroy leaves with ECANCELED, and the
 * queue is still freed once the last waiter has left. */
static void *destroy_leftover_main(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(0);
    struct op g[3] = {{.q = q}, {.q = q}, {.q = q}};
    weft_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = spawn_waiting(getter, &g[i]);
    check(weft_cancel(t[0]));
    weft_queue_destroy(q);
    for (int i = 0; i < 3; i++)
        finish(t[i]);
    check(g[0].rc == ECANCELED || g[0].rc == ENODATA);
    check(g[1].rc == ENODATA && g[2].rc == ENODATA);
    return (void *)1;
}

static void test_destroy_with_cancelled_waiter(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(destroy_leftover_main, NULL);
}

/* ---- ping-pong over two capacity-1 queues ---- */

struct pingpong {
    weft_queue *there, *back;
    int rounds;
};

static void *ponger(void *arg)
{
    struct pingpong *pp = arg;
    for (int i = 0; i < pp->rounds; i++) {
        void *item;
        check(weft_queue_get(pp->there, &item) == 0);
        check(NUM(item) == 2 * i);
        check(weft_queue_put(pp->back, ITEM(NUM(item) + 1)) == 0);
    }
    return NULL;
}

static void *pingpong_main(void *arg)
{
    (void)arg;
    struct pingpong pp = {weft_queue_create(1), weft_queue_create(1),
                          (int)(20000 * stress_scale()) + 1};
    weft_task *t = weft_spawn(ponger, &pp);
    for (int i = 0; i < pp.rounds; i++) {
        void *item;
        check(weft_queue_put(pp.there, ITEM(2 * i)) == 0);
        check(weft_queue_get(pp.back, &item) == 0);
        check(NUM(item) == 2 * i + 1);
    }
    finish(t);
    weft_queue_destroy(pp.there);
    weft_queue_destroy(pp.back);
    return (void *)1;
}

static void test_pingpong(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(pingpong_main, NULL);
}

/* ---- stress: producers and consumers on every worker ---- */

#define PRODUCERS 4
#define CONSUMERS 4

struct stress {
    weft_queue *q;
    int per_producer;
    unsigned char *seen; /* one per item, atomic */
    int received;        /* atomic */
};

struct producer {
    struct stress *s;
    int id;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    for (int i = 0; i < p->s->per_producer; i++) {
        /* item: producer in the low bits, sequence above; never NULL */
        intptr_t item = ((intptr_t)i << 3 | p->id) + 1;
        check(weft_queue_put(p->s->q, (void *)item) == 0);
    }
    return NULL;
}

static void *consume(void *arg)
{
    struct stress *s = arg;
    int last[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        last[i] = -1;
    void *item;
    int rc;
    while ((rc = weft_queue_get(s->q, &item)) == 0) {
        intptr_t v = (intptr_t)item - 1;
        int id = (int)(v & 7), seq = (int)(v >> 3);
        check(id < PRODUCERS && seq < s->per_producer);
        check(seq > last[id]); /* FIFO per producer */
        last[id] = seq;
        check(__atomic_fetch_add(&s->seen[seq * PRODUCERS + id], 1, __ATOMIC_RELAXED) == 0);
        __atomic_add_fetch(&s->received, 1, __ATOMIC_RELAXED);
    }
    check(rc == ENODATA);
    return NULL;
}

static void *stress_main(void *arg)
{
    struct stress *s = arg;
    weft_task *c[CONSUMERS], *p[PRODUCERS];
    struct producer ps[PRODUCERS];
    for (int i = 0; i < CONSUMERS; i++)
        c[i] = weft_spawn(consume, s);
    for (int i = 0; i < PRODUCERS; i++) {
        ps[i] = (struct producer){s, i};
        p[i] = weft_spawn(produce, &ps[i]);
    }
    for (int i = 0; i < PRODUCERS; i++)
        finish(p[i]);
    weft_queue_close(s->q); /* consumers drain, then see ENODATA */
    for (int i = 0; i < CONSUMERS; i++)
        finish(c[i]);
    return (void *)1;
}

static void run_stress(size_t maxsize)
{
    int total = (int)(200000 * stress_scale());
    if (total < PRODUCERS)
        total = PRODUCERS;
    struct stress s = {.per_producer = total / PRODUCERS};
    total = s.per_producer * PRODUCERS;
    s.seen = calloc((size_t)total, 1);
    assert_non_null(s.seen);
    FOR_EACH_MODE(virtual_modes)
    {
        s.q = weft_queue_create(maxsize);
        s.received = 0;
        for (int i = 0; i < total; i++)
            s.seen[i] = 0;
        run_scenario(stress_main, &s);
        assert_int_equal(s.received, total);
        for (int i = 0; i < total; i++)
            assert_int_equal(s.seen[i], 1);
        weft_queue_destroy(s.q);
    }
    free(s.seen);
}

static void test_stress_bounded(void **state)
{
    (void)state;
    run_stress(16);
}

static void test_stress_unbounded(void **state)
{
    (void)state;
    run_stress(0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input_outside_tasks),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_waiting_getters_fifo),
        cmocka_unit_test(test_waiting_putters_fifo),
        cmocka_unit_test(test_bounded_backpressure),
        cmocka_unit_test(test_cancel_waiting_getter),
        cmocka_unit_test(test_cancel_woken_getter),
        cmocka_unit_test(test_cancel_putters),
        cmocka_unit_test(test_pending_cancel),
        cmocka_unit_test(test_join_task_done),
        cmocka_unit_test(test_close_with_waiters),
        cmocka_unit_test(test_destroy_with_waiters),
        cmocka_unit_test(test_destroy_with_cancelled_waiter),
        cmocka_unit_test(test_pingpong),
        cmocka_unit_test(test_stress_bounded),
        cmocka_unit_test(test_stress_unbounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
