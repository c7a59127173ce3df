/*
 * weft_lock (asyncio.Lock): bad input, the fast path (no await), FIFO
 * hand-off with no queue jumping, a waiter cancelled while waiting (no
 * trace), a waiter cancelled after the lock was released to it (the lock
 * passes on), a line of cancelled waiters that a newcomer may skip, destroy
 * with a waiter still there, and mutual exclusion under contention with
 * cancellations on 2 and 4 workers.
 *
 * Scenarios run as tasks: check() records failures, which fail the test
 * after weft_run, naming the mode. Every scenario runs at 1, 2 and 4 workers
 * under virtual time, where settle() (a sleep) returns only once every other
 * task is blocked, so that waiters queue up in a known order.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../harness.h"

/* A task that takes the lock, notes its turn, and lets it go. */
struct taker {
    weft_lock *l;
    int id;
    int rc;
    int *order, *norder; /* written while holding l */
    int held_rc;         /* the await made while holding it */
};

static void *take(void *arg)
{
    struct taker *tk = arg;
    tk->rc = weft_lock_acquire(tk->l);
    if (tk->rc)
        return NULL;
    tk->order[(*tk->norder)++] = tk->id;
    tk->held_rc = weft_yield(); /* hold it across an await */
    check(weft_lock_release(tk->l) == 0);
    return NULL;
}

static weft_task *spawn_waiting(struct taker *tk)
{
    weft_task *t = weft_spawn(take, tk);
    check(t != NULL);
    settle();
    return t;
}

/* ---- bad input and the fast path ---- */

static void test_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_lock_acquire(NULL), EINVAL);
    assert_int_equal(weft_lock_release(NULL), EINVAL);
    assert_false(weft_lock_locked(NULL));
    weft_lock_destroy(NULL);
    weft_lock *l = weft_lock_create();
    assert_non_null(l);
    assert_int_equal(weft_lock_acquire(l), EPERM); /* outside a task */
    assert_int_equal(weft_lock_release(l), EPERM); /* not locked */
    assert_false(weft_lock_locked(l));
    weft_lock_destroy(l);
}

static void *fast_path_main(void *arg)
{
    (void)arg;
    weft_lock *l = weft_lock_create();
    check(!weft_lock_locked(l));
    /* A free lock is taken without an await: a pending cancel stays. */
    weft_cancel(weft_task_current());
    check(weft_lock_acquire(l) == 0);
    check(weft_lock_locked(l));
    check(weft_lock_release(l) == 0);
    check(weft_lock_release(l) == EPERM);
    check(weft_yield() == ECANCELED);
    weft_lock_destroy(l);
    return (void *)1;
}

static void test_fast_path(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(fast_path_main, NULL);
}

/* ---- FIFO, and a newcomer queues behind the waiters ---- */

#define TAKERS 6

static void *fifo_main(void *arg)
{
    (void)arg;
    weft_lock *l = weft_lock_create();
    int order[TAKERS + 1], norder = 0;
    struct taker tk[TAKERS];
    weft_task *t[TAKERS];
    check(weft_lock_acquire(l) == 0);
    for (int i = 0; i < TAKERS; i++) {
        tk[i] = (struct taker){l, i, -1, order, &norder, 0};
        t[i] = spawn_waiting(&tk[i]);
    }
    check(weft_lock_release(l) == 0);
    if (mode.workers == 1)
        check(!weft_lock_locked(l));  /* released to the first waiter, not yet taken */
    check(weft_lock_acquire(l) == 0); /* waits for its turn, behind all of them */
    order[norder++] = TAKERS;
    check(weft_lock_release(l) == 0);
    for (int i = 0; i < TAKERS; i++) {
        finish(t[i]);
        check(tk[i].rc == 0 && tk[i].held_rc == 0);
    }
    check(norder == TAKERS + 1);
    for (int i = 0; i <= TAKERS; i++)
        check(order[i] == i);
    weft_lock_destroy(l);
    return (void *)1;
}

static void test_fifo_no_queue_jumping(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(fifo_main, NULL);
}

/* ---- cancellation ---- */

static void *cancel_waiting_main(void *arg)
{
    (void)arg;
    weft_lock *l = weft_lock_create();
    int order[4], norder = 0;
    struct taker tk[4];
    weft_task *t[4];
    check(weft_lock_acquire(l) == 0);
    for (int i = 0; i < 4; i++) {
        tk[i] = (struct taker){l, i, -1, order, &norder, 0};
        t[i] = spawn_waiting(&tk[i]);
    }
    check(weft_cancel(t[0])); /* the first in line */
    check(weft_cancel(t[2])); /* one in the middle */
    finish(t[0]);
    finish(t[2]);
    check(tk[0].rc == ECANCELED && tk[2].rc == ECANCELED);
    check(weft_lock_locked(l));
    check(weft_lock_release(l) == 0);
    finish(t[1]);
    finish(t[3]);
    check(norder == 2 && order[0] == 1 && order[1] == 3);
    check(!weft_lock_locked(l));
    weft_lock_destroy(l);
    return (void *)1;
}

static void test_cancel_waiting(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cancel_waiting_main, NULL);
}

/* Released to a waiter that is then cancelled before it runs: the lock
 * passes to the next one. With several workers the waiter may have taken
 * it already. */
static void *cancel_handed_main(void *arg)
{
    (void)arg;
    weft_lock *l = weft_lock_create();
    int order[3], norder = 0;
    struct taker tk[3];
    weft_task *t[3];
    check(weft_lock_acquire(l) == 0);
    for (int i = 0; i < 3; i++) {
        tk[i] = (struct taker){l, i, -1, order, &norder, 0};
        t[i] = spawn_waiting(&tk[i]);
    }
    check(weft_lock_release(l) == 0);
    weft_cancel(t[0]);
    for (int i = 0; i < 3; i++)
        finish(t[i]);
    if (tk[0].rc == ECANCELED) {
        check(norder == 2 && order[0] == 1 && order[1] == 2);
    } else {
        /* it took the lock first; the cancel landed while it held it */
        check(mode.workers > 1 && tk[0].rc == 0 && tk[0].held_rc == ECANCELED);
        check(norder == 3 && order[0] == 0 && order[1] == 1 && order[2] == 2);
    }
    check(!weft_lock_locked(l));
    weft_lock_destroy(l);
    return (void *)1;
}

static void test_cancel_after_handed(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cancel_handed_main, NULL);
}

/* Only cancelled waiters in line: a newcomer takes the lock at once. */
static void *all_cancelled_main(void *arg)
{
    (void)arg;
    weft_lock *l = weft_lock_create();
    int order[2], norder = 0;
    struct taker tk[2];
    weft_task *t[2];
    check(weft_lock_acquire(l) == 0);
    for (int i = 0; i < 2; i++) {
        tk[i] = (struct taker){l, i, -1, order, &norder, 0};
        t[i] = spawn_waiting(&tk[i]);
    }
    check(weft_cancel(t[0]) && weft_cancel(t[1]));
    check(weft_lock_release(l) == 0);
    weft_cancel(weft_task_current());
    check(weft_lock_acquire(l) == 0); /* no await: the cancel stays pending */
    check(weft_yield() == ECANCELED);
    check(weft_lock_release(l) == 0);
    for (int i = 0; i < 2; i++) {
        finish(t[i]);
        check(tk[i].rc == ECANCELED);
    }
    check(norder == 0 && !weft_lock_locked(l));
    weft_lock_destroy(l);
    return (void *)1;
}

static void test_all_waiters_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(all_cancelled_main, NULL);
}

/* Destroyed with a task waiting: freed when that task leaves (here: when it
 * is cancelled). */
static void *destroy_main(void *arg)
{
    (void)arg;
    weft_lock *l = weft_lock_create();
    int order[1], norder = 0;
    struct taker tk = {l, 0, -1, order, &norder, 0};
    check(weft_lock_acquire(l) == 0);
    weft_task *t = spawn_waiting(&tk);
    weft_lock_destroy(l);
    check(weft_cancel(t));
    finish(t);
    check(tk.rc == ECANCELED && norder == 0);
    return (void *)1;
}

static void test_destroy_with_waiter(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(destroy_main, NULL);
}

/* ---- contention: mutual exclusion with cancellations ---- */

struct contention {
    weft_lock *l;
    int rounds;
    long counter;  /* plain: the lock guards it */
    int inside;    /* atomic: must be 0 on entry */
    int started;   /* atomic */
    int cancelled; /* atomic */
};

static void *contender(void *arg)
{
    struct contention *c = arg;
    __atomic_add_fetch(&c->started, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < c->rounds; i++) {
        int rc = weft_lock_acquire(c->l);
        if (rc) {
            check(rc == ECANCELED);
            __atomic_add_fetch(&c->cancelled, 1, __ATOMIC_RELAXED);
            continue;
        }
        check(__atomic_fetch_add(&c->inside, 1, __ATOMIC_ACQ_REL) == 0);
        long v = c->counter;
        if (i % 7 == 0)
            (void)weft_yield(); /* a cancel landing here is swallowed */
        c->counter = v + 1;
        __atomic_sub_fetch(&c->inside, 1, __ATOMIC_ACQ_REL);
        check(weft_lock_release(c->l) == 0);
    }
    return NULL;
}

#define CONTENDERS 8

static void *contention_main(void *arg)
{
    struct contention *c = arg;
    weft_task *t[CONTENDERS];
    for (int i = 0; i < CONTENDERS; i++)
        t[i] = weft_spawn(contender, c);
    while (__atomic_load_n(&c->started, __ATOMIC_RELAXED) < CONTENDERS)
        check(weft_yield() == 0); /* a task cancelled before it starts skips its rounds */
    /* Cancel contenders now and then, wherever they are. */
    for (int k = 0; k < 200; k++) {
        check(weft_yield() == 0);
        weft_cancel(t[k % CONTENDERS]);
    }
    for (int i = 0; i < CONTENDERS; i++)
        finish(t[i]);
    check(!weft_lock_locked(c->l));
    check(weft_lock_acquire(c->l) == 0); /* nothing was left behind */
    check(weft_lock_release(c->l) == 0);
    return (void *)1;
}

static void test_contention(void **state)
{
    (void)state;
    int rounds = (int)(20000 * stress_scale()) + 1;
    FOR_EACH_MODE(virtual_modes)
    {
        struct contention c = {.l = weft_lock_create(), .rounds = rounds};
        run_scenario(contention_main, &c);
        /* A cancel that lands on the yield inside is swallowed there. */
        assert_true(c.counter + c.cancelled == (long)rounds * CONTENDERS);
        weft_lock_destroy(c.l);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_fast_path),
        cmocka_unit_test(test_fifo_no_queue_jumping),
        cmocka_unit_test(test_cancel_waiting),
        cmocka_unit_test(test_cancel_after_handed),
        cmocka_unit_test(test_all_waiters_cancelled),
        cmocka_unit_test(test_destroy_with_waiter),
        cmocka_unit_test(test_contention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
