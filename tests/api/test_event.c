/*
 * weft_event (asyncio.Event): bad input, set/clear/is_set, wait on a set
 * event (no await), set waking every waiter (and set-then-clear still
 * waking them, as in asyncio), a waiter cancelled while waiting (no trace:
 * the others still wake), a waiter cancelled after the set (it sees
 * ECANCELED), destroy with a waiter, and many rounds of set/clear across
 * workers.
 *
 * Scenarios run as tasks: check() records failures, which fail the test
 * after weft_run, naming the mode. Every scenario runs at 1, 2 and 4 workers
 * under virtual time, where settle() (a sleep) returns only once every other
 * task is blocked, so that waiters are known to wait.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../harness.h"

struct waiter {
    weft_event *e;
    int rc;
    int done; /* atomic */
};

static void *wait_task(void *arg)
{
    struct waiter *w = arg;
    w->rc = weft_event_wait(w->e);
    __atomic_store_n(&w->done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static weft_task *spawn_waiting(struct waiter *w)
{
    weft_task *t = weft_spawn(wait_task, w);
    check(t != NULL);
    settle();
    return t;
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_event_wait(NULL), EINVAL);
    assert_false(weft_event_is_set(NULL));
    weft_event_set(NULL);
    weft_event_clear(NULL);
    weft_event_destroy(NULL);
    weft_event *e = weft_event_create();
    assert_non_null(e);
    assert_int_equal(weft_event_wait(e), EPERM); /* outside a task */
    assert_false(weft_event_is_set(e));
    weft_event_set(e); /* set and clear need no task */
    assert_true(weft_event_is_set(e));
    weft_event_clear(e);
    assert_false(weft_event_is_set(e));
    weft_event_destroy(e);
}

#define WAITERS 5

static void *set_main(void *arg)
{
    (void)arg;
    weft_event *e = weft_event_create();
    struct waiter w[WAITERS];
    weft_task *t[WAITERS];
    for (int i = 0; i < WAITERS; i++) {
        w[i] = (struct waiter){e, -1, 0};
        t[i] = spawn_waiting(&w[i]);
        check(!__atomic_load_n(&w[i].done, __ATOMIC_ACQUIRE));
    }
    weft_event_set(e);
    weft_event_set(e); /* already set: nothing more */
    check(weft_event_is_set(e));
    weft_event_clear(e); /* too late to stop the waiters woken */
    for (int i = 0; i < WAITERS; i++) {
        finish(t[i]);
        check(w[i].rc == 0);
    }
    /* A set event is waited on without an await. */
    weft_event_set(e);
    weft_cancel(weft_task_current());
    check(weft_event_wait(e) == 0);
    check(weft_yield() == ECANCELED);
    weft_event_destroy(e);
    return (void *)1;
}

static void test_set_wakes_all(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(set_main, NULL);
}

static void *cancel_main(void *arg)
{
    (void)arg;
    weft_event *e = weft_event_create();
    struct waiter w[3] = {{e, -1, 0}, {e, -1, 0}, {e, -1, 0}};
    weft_task *t[3];
    for (int i = 0; i < 3; i++)
        t[i] = spawn_waiting(&w[i]);
    check(weft_cancel(t[1])); /* while waiting */
    finish(t[1]);
    check(w[1].rc == ECANCELED);
    weft_event_set(e);
    weft_cancel(t[2]); /* after the set, before it ran */
    finish(t[0]);
    finish(t[2]);
    check(w[0].rc == 0);
    if (mode.workers == 1)
        check(w[2].rc == ECANCELED);
    else
        check(w[2].rc == ECANCELED || w[2].rc == 0);
    /* Waiting again after a cancel works. */
    weft_event_clear(e);
    struct waiter again = {e, -1, 0};
    weft_task *ta = spawn_waiting(&again);
    weft_event_set(e);
    finish(ta);
    check(again.rc == 0);
    weft_event_destroy(e);
    return (void *)1;
}

static void test_cancel(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cancel_main, NULL);
}

static void *destroy_main(void *arg)
{
    (void)arg;
    weft_event *e = weft_event_create();
    struct waiter w = {e, -1, 0};
    weft_task *t = spawn_waiting(&w);
    weft_event_destroy(e); /* freed when the waiter leaves */
    check(weft_cancel(t));
    finish(t);
    check(w.rc == ECANCELED);
    return (void *)1;
}

static void test_destroy_with_waiter(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(destroy_main, NULL);
}

/* ---- rounds: a coordinator sets and clears, waiters count rounds ---- */

#define ROUNDS_WAITERS 8

struct rounds {
    weft_event *go[2]; /* alternate: one is cleared while the other is used */
    weft_event *ack;
    int rounds;
    int arrived; /* atomic: waiters that finished the current round */
};

static void *round_waiter(void *arg)
{
    struct rounds *r = arg;
    for (int i = 0; i < r->rounds; i++) {
        check(weft_event_wait(r->go[i & 1]) == 0);
        if (__atomic_add_fetch(&r->arrived, 1, __ATOMIC_ACQ_REL) == ROUNDS_WAITERS)
            weft_event_set(r->ack);
    }
    return NULL;
}

static void *rounds_main(void *arg)
{
    struct rounds *r = arg;
    weft_task *t[ROUNDS_WAITERS];
    for (int i = 0; i < ROUNDS_WAITERS; i++)
        t[i] = weft_spawn(round_waiter, r);
    for (int i = 0; i < r->rounds; i++) {
        weft_event_clear(r->go[(i + 1) & 1]);
        weft_event_set(r->go[i & 1]);
        check(weft_event_wait(r->ack) == 0);
        weft_event_clear(r->ack);
        check(__atomic_exchange_n(&r->arrived, 0, __ATOMIC_ACQ_REL) == ROUNDS_WAITERS);
    }
    for (int i = 0; i < ROUNDS_WAITERS; i++)
        finish(t[i]);
    return (void *)1;
}

static void test_rounds(void **state)
{
    (void)state;
    struct rounds r = {.rounds = (int)(2000 * stress_scale()) + 1};
    FOR_EACH_MODE(virtual_modes)
    {
        r.go[0] = weft_event_create();
        r.go[1] = weft_event_create();
        r.ack = weft_event_create();
        r.arrived = 0;
        run_scenario(rounds_main, &r);
        weft_event_destroy(r.go[0]);
        weft_event_destroy(r.go[1]);
        weft_event_destroy(r.ack);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_bad_input), cmocka_unit_test(test_set_wakes_all),
        cmocka_unit_test(test_cancel),    cmocka_unit_test(test_destroy_with_waiter),
        cmocka_unit_test(test_rounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
