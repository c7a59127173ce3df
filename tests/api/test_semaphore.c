/*
 * weft_sem (asyncio.Semaphore, 3.11.7): bad input, counting and locked(),
 * the fast path (no await), FIFO hand-off, fairness (a permit handed to a
 * waiter is not taken by a newcomer; cancelled waiters do not make the
 * semaphore look locked), a waiter cancelled while waiting (no trace) and
 * after a permit was handed to it (the permit passes on, none is lost or
 * made up), destroy with a waiter, and a bound on concurrency under
 * contention with cancellations on 2 and 4 workers.
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

/* A task that takes a permit, notes its turn, and gives it back. */
struct taker {
    weft_sem *s;
    int id;
    int rc;
    int *order, *norder; /* atomic index */
    weft_event *go;      /* when set, give the permit back */
};

static void *take(void *arg)
{
    struct taker *tk = arg;
    tk->rc = weft_sem_acquire(tk->s);
    if (tk->rc)
        return NULL;
    tk->order[__atomic_fetch_add(tk->norder, 1, __ATOMIC_RELAXED)] = tk->id;
    if (tk->go)
        (void)weft_event_wait(tk->go);
    check(weft_sem_release(tk->s) == 0);
    return NULL;
}

static weft_task *spawn_waiting(struct taker *tk)
{
    weft_task *t = weft_spawn(take, tk);
    check(t != NULL);
    settle();
    return t;
}

/* How many permits are free: take them all without waiting, give them back. */
static unsigned free_permits(weft_sem *s)
{
    unsigned n = 0;
    while (!weft_sem_locked(s)) {
        check(weft_sem_acquire(s) == 0);
        n++;
    }
    for (unsigned i = 0; i < n; i++)
        check(weft_sem_release(s) == 0);
    return n;
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_sem_acquire(NULL), EINVAL);
    assert_int_equal(weft_sem_release(NULL), EINVAL);
    assert_false(weft_sem_locked(NULL));
    weft_sem_destroy(NULL);
    weft_sem *s = weft_sem_create(0);
    assert_non_null(s);
    assert_true(weft_sem_locked(s));
    assert_int_equal(weft_sem_acquire(s), EPERM); /* outside a task */
    assert_int_equal(weft_sem_release(s), 0);     /* releasing needs no task */
    assert_false(weft_sem_locked(s));
    weft_sem_destroy(s);
    s = weft_sem_create(UINT32_MAX);
    assert_int_equal(weft_sem_release(s), EOVERFLOW);
    weft_sem_destroy(s);
}

static void *counting_main(void *arg)
{
    (void)arg;
    weft_sem *s = weft_sem_create(2);
    check(!weft_sem_locked(s));
    weft_cancel(weft_task_current());
    check(weft_sem_acquire(s) == 0); /* free permits: no await, the cancel stays */
    check(weft_sem_acquire(s) == 0);
    check(weft_sem_locked(s));
    check(weft_sem_acquire(s) == ECANCELED); /* must wait: the await delivers it */
    check(weft_sem_release(s) == 0);
    check(weft_sem_release(s) == 0);
    check(weft_sem_release(s) == 0); /* no bound, as asyncio.Semaphore */
    check(free_permits(s) == 3);
    weft_sem_destroy(s);
    return (void *)1;
}

static void test_counting(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(counting_main, NULL);
}

#define TAKERS 6

/* Waiters are served in order; a newcomer does not take a permit that was
 * handed to a waiter, and queues behind the line. */
static void *fifo_main(void *arg)
{
    (void)arg;
    weft_sem *s = weft_sem_create(0);
    int order[TAKERS + 1], norder = 0;
    struct taker tk[TAKERS];
    weft_task *t[TAKERS];
    for (int i = 0; i < TAKERS; i++) {
        tk[i] = (struct taker){s, i, -1, order, &norder, NULL};
        t[i] = spawn_waiting(&tk[i]);
    }
    /* One permit at a time: each goes to the oldest waiter, which gives
     * it back, and that goes to the next. */
    check(weft_sem_release(s) == 0);
    if (mode.workers == 1)
        check(weft_sem_locked(s));   /* handed over, not yet taken */
    check(weft_sem_acquire(s) == 0); /* behind all of them */
    order[__atomic_fetch_add(&norder, 1, __ATOMIC_RELAXED)] = TAKERS;
    for (int i = 0; i < TAKERS; i++) {
        finish(t[i]);
        check(tk[i].rc == 0);
    }
    check(norder == TAKERS + 1);
    for (int i = 0; i <= TAKERS; i++)
        check(order[i] == i);
    check(weft_sem_release(s) == 0);
    check(free_permits(s) == 1);
    weft_sem_destroy(s);
    return (void *)1;
}

static void test_fifo_fairness(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(fifo_main, NULL);
}

/* Cancelled while waiting: no trace, and cancelled waiters alone do not
 * make the semaphore look locked. */
static void *cancel_waiting_main(void *arg)
{
    (void)arg;
    weft_sem *s = weft_sem_create(0);
    int order[3], norder = 0;
    weft_event *go = weft_event_create();
    struct taker tk[3];
    weft_task *t[3];
    for (int i = 0; i < 3; i++) {
        tk[i] = (struct taker){s, i, -1, order, &norder, go};
        t[i] = spawn_waiting(&tk[i]);
    }
    check(weft_cancel(t[1]));
    finish(t[1]);
    check(tk[1].rc == ECANCELED);
    check(weft_sem_release(s) == 0);
    check(weft_sem_release(s) == 0);
    settle();
    /* Both were woken in order; with several workers they may record
     * their turn in either order. */
    check(norder == 2 && order[0] + order[1] == 2 && order[0] != 1);
    check(weft_sem_locked(s));
    weft_event_set(go);
    finish(t[0]);
    finish(t[2]);
    check(free_permits(s) == 2);

    /* Only cancelled waiters left: not locked. */
    weft_sem *z = weft_sem_create(1);
    check(weft_sem_acquire(z) == 0);
    struct taker c = {z, 9, -1, order, &norder, NULL};
    weft_task *tc = spawn_waiting(&c);
    check(weft_sem_locked(z));
    check(weft_cancel(tc));
    check(weft_sem_release(z) == 0);
    check(!weft_sem_locked(z));
    finish(tc);
    check(c.rc == ECANCELED);
    check(free_permits(z) == 1);
    weft_sem_destroy(z);
    weft_event_destroy(go);
    weft_sem_destroy(s);
    return (void *)1;
}

static void test_cancel_waiting(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cancel_waiting_main, NULL);
}

/* A permit handed to a waiter that is cancelled before it runs goes to the
 * next waiter; none is lost. */
static void *cancel_handed_main(void *arg)
{
    (void)arg;
    weft_sem *s = weft_sem_create(0);
    int order[3], norder = 0;
    struct taker tk[3];
    weft_task *t[3];
    for (int i = 0; i < 3; i++) {
        tk[i] = (struct taker){s, i, -1, order, &norder, NULL};
        t[i] = spawn_waiting(&tk[i]);
    }
    check(weft_sem_release(s) == 0);
    weft_cancel(t[0]);
    for (int i = 0; i < 3; i++)
        finish(t[i]);
    if (tk[0].rc == ECANCELED)
        check(norder == 2 && order[0] == 1 && order[1] == 2);
    else
        check(mode.workers > 1 && norder == 3);
    check(free_permits(s) == 1);
    weft_sem_destroy(s);
    return (void *)1;
}

static void test_cancel_after_handed(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cancel_handed_main, NULL);
}

static void *destroy_main(void *arg)
{
    (void)arg;
    weft_sem *s = weft_sem_create(0);
    int order[1], norder = 0;
    struct taker tk = {s, 0, -1, order, &norder, NULL};
    weft_task *t = spawn_waiting(&tk);
    weft_sem_destroy(s); /* freed when the waiter leaves */
    check(weft_cancel(t));
    finish(t);
    check(tk.rc == ECANCELED);
    return (void *)1;
}

static void test_destroy_with_waiter(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(destroy_main, NULL);
}

/* ---- contention: never more than `permits` inside, none lost ---- */

#define PERMITS 3
#define CONTENDERS 10

struct contention {
    weft_sem *s;
    int rounds;
    int inside, max_inside, started; /* atomic */
};

static void *contender(void *arg)
{
    struct contention *c = arg;
    __atomic_add_fetch(&c->started, 1, __ATOMIC_RELAXED);
    for (int i = 0; i < c->rounds; i++) {
        int rc = weft_sem_acquire(c->s);
        if (rc) {
            check(rc == ECANCELED);
            continue;
        }
        int in = __atomic_add_fetch(&c->inside, 1, __ATOMIC_ACQ_REL);
        check(in <= PERMITS);
        int max = __atomic_load_n(&c->max_inside, __ATOMIC_RELAXED);
        while (in > max && !__atomic_compare_exchange_n(&c->max_inside, &max, in, false,
                                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
            ;
        if (i % 3 == 0)
            (void)weft_yield(); /* a cancel landing here is swallowed */
        __atomic_sub_fetch(&c->inside, 1, __ATOMIC_ACQ_REL);
        check(weft_sem_release(c->s) == 0);
    }
    return NULL;
}

static void *contention_main(void *arg)
{
    struct contention *c = arg;
    weft_task *t[CONTENDERS];
    for (int i = 0; i < CONTENDERS; i++)
        t[i] = weft_spawn(contender, c);
    while (__atomic_load_n(&c->started, __ATOMIC_RELAXED) < CONTENDERS)
        check(weft_yield() == 0);
    for (int k = 0; k < 300; k++) {
        check(weft_yield() == 0);
        weft_cancel(t[k % CONTENDERS]);
    }
    for (int i = 0; i < CONTENDERS; i++)
        finish(t[i]);
    check(free_permits(c->s) == PERMITS);
    return (void *)1;
}

static void test_contention(void **state)
{
    (void)state;
    int rounds = (int)(10000 * stress_scale()) + 1;
    FOR_EACH_MODE(virtual_modes)
    {
        struct contention c = {.s = weft_sem_create(PERMITS), .rounds = rounds};
        run_scenario(contention_main, &c);
        assert_true(c.max_inside <= PERMITS);
        weft_sem_destroy(c.s);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input),           cmocka_unit_test(test_counting),
        cmocka_unit_test(test_fifo_fairness),       cmocka_unit_test(test_cancel_waiting),
        cmocka_unit_test(test_cancel_after_handed), cmocka_unit_test(test_destroy_with_waiter),
        cmocka_unit_test(test_contention),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
