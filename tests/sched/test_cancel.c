/*
 * weft_cancel in every state of the target: not started (the body never
 * runs), ready after a yield, sleeping, awaiting another task (which is
 * cancelled too, and may swallow it so that the awaiter gets a value), already
 * done (false); cancelling twice (delivered once), a cancel swallowed with a
 * value, awaiting again after catching it, a second cancel once the first was
 * consumed, a task cancelling itself, and a child cancelling the task that
 * awaits it.
 *
 * Scenarios run as tasks, where cmocka's asserts (a longjmp) must not be
 * used: they record what went wrong with check(), and the test fails after
 * weft_run, naming the mode, if any check did. Every scenario runs
 * single-threaded and with 2 and 4 workers (more than the machine's cores).
 * Scenarios that need the target to be settled in a state wait with
 * settle(): a sleep under virtual time, which returns only once every other
 * task is blocked (the clock moves only then), so they run under virtual
 * time; the others run on the real clock too.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"

struct probe {
    int started;
    int cancels_seen; /* ECANCELED returns observed by the target */
    int cleaned;      /* its cleanup code ran to the end */
    intptr_t spins;
};

/* Sleeps until cancelled, then cleans up with an await of its own. */
static void *sleeper(void *arg)
{
    struct probe *p = arg;
    int rc;

    bump(&p->started);
    while ((rc = weft_sleep(1e9)) == 0)
        ;
    check(rc == ECANCELED);
    bump(&p->cancels_seen);
    if (mode.virtual_time)
        check(weft_now() < 1e9);
    check(weft_yield() == 0); /* the request was consumed */
    bump(&p->cleaned);
    return WEFT_ERR(ECANCELED);
}

static void check_ended_cancelled(weft_task *t, void *awaited)
{
    check(weft_error(awaited) == ECANCELED);
    check(weft_task_done(t));
    check(weft_task_cancelled(t));
    check(weft_error(weft_task_result(t)) == ECANCELED);
    check(!weft_cancel(t));
}

/* ---- not started: the body never runs ---- */

static void *cancel_before_start(void *arg)
{
    struct probe *p = arg;
    weft_task *t[8];

    for (int i = 0; i < 8; i++)
        t[i] = weft_spawn(sleeper, p);
    for (int i = 0; i < 8; i++)
        check(weft_cancel(t[i]));
    for (int i = 0; i < 8; i++) {
        check_ended_cancelled(t[i], weft_await(t[i]));
        weft_task_release(t[i]);
    }
    return (void *)1;
}

static void test_cancel_not_started(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct probe p = {0};
        expect(run_in_mode(cancel_before_start, &p) == (void *)1);
        if (mode.workers == 1)
            expect(p.started == 0);
        /* Other workers may have started some before the cancel: those saw
         * it at their first await. */
        expect(p.cancels_seen == p.started && p.cleaned == p.started);
    }
}

/* ---- ready after a yield ---- */

static void *spinner(void *arg)
{
    struct probe *p = arg;
    int rc;

    bump(&p->started);
    while ((rc = weft_yield()) == 0)
        p->spins++;
    check(rc == ECANCELED);
    bump(&p->cancels_seen);
    check(weft_yield() == 0);
    bump(&p->cleaned);
    return WEFT_ERR(ECANCELED);
}

static void *cancel_ready(void *arg)
{
    struct probe *p = arg;
    weft_task *t = weft_spawn(spinner, p);

    yield_until(&p->started, 1);
    check(weft_cancel(t));
    check(!weft_task_done(t)); /* delivered at its next await, not here */
    check_ended_cancelled(t, weft_await(t));
    weft_task_release(t);
    return (void *)1;
}

static void test_cancel_ready(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct probe p = {0};
        expect(run_in_mode(cancel_ready, &p) == (void *)1);
        expect(p.started == 1 && p.cancels_seen == 1 && p.cleaned == 1);
        if (mode.workers == 1)
            expect(p.spins == 0); /* main's one yield let it run one step */
    }
}

/* ---- sleeping ---- */

static void *cancel_sleeping(void *arg)
{
    struct probe *p = arg;
    weft_task *t = weft_spawn(sleeper, p);

    yield_until(&p->started, 1);
    check(weft_cancel(t));
    check_ended_cancelled(t, weft_await(t));
    if (mode.virtual_time)
        check(weft_now() == 0.0); /* the cancelled timer never moved the clock */
    weft_task_release(t);
    return (void *)1;
}

static void test_cancel_sleeping(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct probe p = {0};
        expect(run_in_mode(cancel_sleeping, &p) == (void *)1);
        expect(p.started == 1 && p.cancels_seen == 1 && p.cleaned == 1);
    }
}

/* ---- awaiting another task: that one is cancelled too ---- */

struct nested {
    bool swallow;
    weft_task *inner;
    int inner_cancelled; /* the inner task saw ECANCELED */
    int inner_cleaned;
    int outer_resumed;
    int inner_done_when_outer_resumed;
};

static void *inner(void *arg)
{
    struct nested *n = arg;

    if (weft_sleep(1e9) == 0) {
        check(!"the inner task woke up by itself");
        return NULL;
    }
    bump(&n->inner_cancelled);
    check(weft_sleep(0.5) == 0); /* the outer task waits for this cleanup */
    bump(&n->inner_cleaned);
    return n->swallow ? (void *)42 : WEFT_ERR(ECANCELED);
}

static void *outer(void *arg)
{
    struct nested *n = arg;

    n->inner = weft_spawn(inner, n);
    void *r = weft_await(n->inner);
    bump(&n->outer_resumed);
    if (weft_task_done(n->inner))
        bump(&n->inner_done_when_outer_resumed);
    if (n->swallow) {
        check(r == (void *)42);
        check(weft_yield() == 0); /* the cancel went to the inner task */
        return (void *)43;
    }
    check(weft_error(r) == ECANCELED);
    return r;
}

static void *cancel_awaiting(void *arg)
{
    struct nested *n = arg;
    weft_task *t = weft_spawn(outer, n);

    settle();
    check(weft_cancel(t));
    const double cancelled_at = weft_now();
    void *r = weft_await(t);
    check(at(cancelled_at + 0.5));
    check(weft_task_done(n->inner));
    if (n->swallow) {
        check(r == (void *)43);
        check(!weft_task_cancelled(t));
        check(!weft_task_cancelled(n->inner));
        check(weft_task_result(n->inner) == (void *)42);
    } else {
        check_ended_cancelled(t, r);
        check(weft_task_cancelled(n->inner));
    }
    weft_task_release(n->inner);
    weft_task_release(t);
    return (void *)1;
}

static void test_cancel_awaiting_another_task(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        for (int swallow = 0; swallow < 2; swallow++) {
            struct nested n = {.swallow = swallow};
            expect(run_in_mode(cancel_awaiting, &n) == (void *)1);
            expect(n.inner_cancelled == 1 && n.inner_cleaned == 1);
            expect(n.outer_resumed == 1 && n.inner_done_when_outer_resumed == 1);
        }
    }
}

/* Cancelling one of several tasks awaiting the same task cancels that task,
 * so every awaiter sees ECANCELED from weft_await; none of them is cancelled
 * itself, not even the one the cancel was aimed at (it went to the target),
 * as in asyncio. */
struct shared_target {
    weft_task *target;
    int saw_cancelled;
    int not_cancelled;
};

static void *await_shared(void *arg)
{
    struct shared_target *s = arg;
    void *r = weft_await(s->target);

    if (weft_error(r) == ECANCELED)
        bump(&s->saw_cancelled);
    if (weft_yield() == 0 && weft_sleep(0.25) == 0)
        bump(&s->not_cancelled);
    return NULL;
}

static void *cancel_one_of_many_awaiters(void *arg)
{
    static struct probe p;
    struct shared_target *s = arg;
    weft_task *w[5];

    p = (struct probe){0};
    s->target = weft_spawn(sleeper, &p);
    for (int i = 0; i < 5; i++)
        w[i] = weft_spawn(await_shared, s);
    settle();
    check(weft_cancel(w[2]));
    for (int i = 0; i < 5; i++) {
        check(weft_await(w[i]) == NULL);
        weft_task_release(w[i]);
    }
    check(weft_task_cancelled(s->target));
    check(p.cancels_seen == 1 && p.cleaned == 1);
    weft_task_release(s->target);
    return (void *)1;
}

static void test_cancel_one_of_many_awaiters(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        struct shared_target s = {0};
        expect(run_in_mode(cancel_one_of_many_awaiters, &s) == (void *)1);
        expect(s.saw_cancelled == 5);
        expect(s.not_cancelled == 5);
    }
}

/* The task awaiting a task that someone else cancels is not cancelled. */
static void *cancel_later(void *arg)
{
    settle();
    check(weft_cancel(arg));
    return NULL;
}

static void *awaiter_of_cancelled(void *arg)
{
    struct probe *p = arg;
    weft_task *victim = weft_spawn(sleeper, p);
    weft_task *killer = weft_spawn(cancel_later, victim);

    check_ended_cancelled(victim, weft_await(victim));
    check(weft_yield() == 0);
    check(weft_sleep(0.1) == 0);
    check(weft_await(killer) == NULL);
    weft_task_release(killer);
    weft_task_release(victim);
    return (void *)1;
}

static void test_awaiter_of_cancelled_task(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        struct probe p = {0};
        expect(run_in_mode(awaiter_of_cancelled, &p) == (void *)1);
        expect(p.cancels_seen == 1 && p.cleaned == 1);
    }
}

/* ---- already done ---- */

static void *fail_enoent(void *arg)
{
    (void)arg;
    return WEFT_ERR(ENOENT);
}

static void *cancel_done(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn(return_arg, (void *)5);
    check(weft_await(t) == (void *)5);
    check(!weft_cancel(t));
    check(!weft_task_cancelled(t));
    check(weft_task_result(t) == (void *)5);
    check(weft_await(t) == (void *)5);
    check(weft_yield() == 0); /* nothing was delivered to anyone */
    weft_task_release(t);

    t = weft_spawn(fail_enoent, NULL);
    check(weft_error(weft_await(t)) == ENOENT);
    check(!weft_cancel(t));
    check(!weft_task_cancelled(t));
    check(weft_error(weft_task_result(t)) == ENOENT);
    weft_task_release(t);
    return (void *)1;
}

static void test_cancel_done(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    expect(run_in_mode(cancel_done, NULL) == (void *)1);
}

/* ---- twice: delivered once ---- */

static void *sleep_catch_once(void *arg)
{
    struct probe *p = arg;

    bump(&p->started);
    if (weft_sleep(1e9) != ECANCELED)
        return NULL;
    bump(&p->cancels_seen);
    if (weft_sleep(0.01) == ECANCELED || weft_yield() == ECANCELED) {
        bump(&p->cancels_seen);
        return WEFT_ERR(ECANCELED);
    }
    bump(&p->cleaned);
    return (void *)7;
}

static void *cancel_twice(void *arg)
{
    struct probe *p = arg;
    weft_task *t = weft_spawn(sleep_catch_once, p);

    yield_until(&p->started, 1);
    check(weft_cancel(t));
    check(weft_cancel(t)); /* not done yet: true again */
    void *r = weft_await(t);
    if (mode.workers == 1) {
        check(r == (void *)7);
        check(!weft_task_cancelled(t));
    } else {
        /* Another worker may have resumed it between the two calls, so that
         * the second was a new request. */
        check(r == (void *)7 || weft_task_cancelled(t));
    }
    weft_task_release(t);
    return (void *)1;
}

static void test_cancel_twice(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct probe p = {0};
        expect(run_in_mode(cancel_twice, &p) == (void *)1);
        if (mode.workers == 1)
            expect(p.cancels_seen == 1 && p.cleaned == 1);
    }
}

/* ---- swallowed: ends with a value ---- */

static void *swallow(void *arg)
{
    struct probe *p = arg;

    bump(&p->started);
    if (weft_sleep(1e9) == ECANCELED)
        bump(&p->cancels_seen);
    return (void *)5;
}

static void *cancel_swallowed(void *arg)
{
    struct probe *p = arg;
    weft_task *t = weft_spawn(swallow, p);

    yield_until(&p->started, 1);
    check(weft_cancel(t));
    check(weft_await(t) == (void *)5);
    check(weft_task_done(t));
    check(!weft_task_cancelled(t));
    check(weft_task_result(t) == (void *)5);
    check(weft_task_message(t) == NULL);
    weft_task_release(t);
    return (void *)1;
}

static void test_cancel_swallowed(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct probe p = {0};
        expect(run_in_mode(cancel_swallowed, &p) == (void *)1);
        expect(p.cancels_seen == 1);
    }
}

/* ---- awaiting again after catching it, then re-raising ---- */

static void *catch_await_reraise(void *arg)
{
    struct probe *p = arg;

    bump(&p->started);
    if (weft_sleep(1e9) != ECANCELED)
        return NULL;
    bump(&p->cancels_seen);
    const double caught_at = weft_now();
    check(weft_sleep(0.5) == 0);
    if (mode.virtual_time)
        check(at(caught_at + 0.5));
    check(weft_yield() == 0);
    weft_task *helper = weft_spawn(return_arg, (void *)9);
    check(weft_await(helper) == (void *)9);
    weft_task_release(helper);
    bump(&p->cleaned);
    return WEFT_ERR(ECANCELED);
}

static void *cancel_then_cleanup_awaits(void *arg)
{
    struct probe *p = arg;
    weft_task *t = weft_spawn(catch_await_reraise, p);

    yield_until(&p->started, 1);
    check(weft_cancel(t));
    check_ended_cancelled(t, weft_await(t));
    weft_task_release(t);
    return (void *)1;
}

static void test_cancel_then_await_again(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct probe p = {0};
        expect(run_in_mode(cancel_then_cleanup_awaits, &p) == (void *)1);
        expect(p.cancels_seen == 1 && p.cleaned == 1);
    }
}

/* ---- a second cancel once the first was consumed ---- */

static void *catch_twice(void *arg)
{
    struct probe *p = arg;

    if (weft_sleep(1e9) == ECANCELED)
        bump(&p->cancels_seen);
    if (weft_sleep(1e9) == ECANCELED)
        bump(&p->cancels_seen);
    return WEFT_ERR(ECANCELED);
}

static void *cancel_again_later(void *arg)
{
    struct probe *p = arg;
    weft_task *t = weft_spawn(catch_twice, p);

    settle();
    check(weft_cancel(t));
    settle();
    check(load(&p->cancels_seen) == 1);
    check(!weft_task_done(t));
    check(weft_cancel(t));
    check_ended_cancelled(t, weft_await(t));
    weft_task_release(t);
    return (void *)1;
}

static void test_cancel_again_after_consumed(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        struct probe p = {0};
        expect(run_in_mode(cancel_again_later, &p) == (void *)1);
        expect(p.cancels_seen == 2);
    }
}

/* ---- a task cancelling itself ---- */

static void *self_cancel(void *arg)
{
    struct probe *p = arg;

    check(weft_cancel(weft_task_current()));
    bump(&p->started); /* still running: delivered at the next await */
    if (weft_yield() == ECANCELED)
        bump(&p->cancels_seen);
    check(weft_yield() == 0);
    return WEFT_ERR(ECANCELED);
}

static void *run_self_cancel(void *arg)
{
    weft_task *t = weft_spawn(self_cancel, arg);

    check_ended_cancelled(t, weft_await(t));
    weft_task_release(t);
    return (void *)1;
}

static void test_cancel_self(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct probe p = {0};
        expect(run_in_mode(run_self_cancel, &p) == (void *)1);
        expect(p.started == 1 && p.cancels_seen == 1);
    }
}

/* ---- a child cancelling the task that awaits it ---- */

static void *cancel_my_parent(void *parent)
{
    settle(); /* the parent is now blocked awaiting this task */
    check(weft_cancel(parent));
    /* The parent's cancel went to the task it awaits: this one, which is
     * running, and sees it at its next await. */
    if (weft_sleep(1) != ECANCELED) {
        check(!"the child was not cancelled");
        return NULL;
    }
    return WEFT_ERR(ECANCELED);
}

static void *parent(void *arg)
{
    (void)arg;
    weft_task *child = weft_spawn(cancel_my_parent, weft_task_current());

    check_ended_cancelled(child, weft_await(child));
    check(weft_yield() == 0); /* the parent itself was not cancelled */
    weft_task_release(child);
    return (void *)1;
}

static void test_child_cancels_parent(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    expect(run_in_mode(parent, NULL) == (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cancel_not_started),
        cmocka_unit_test(test_cancel_ready),
        cmocka_unit_test(test_cancel_sleeping),
        cmocka_unit_test(test_cancel_awaiting_another_task),
        cmocka_unit_test(test_cancel_one_of_many_awaiters),
        cmocka_unit_test(test_awaiter_of_cancelled_task),
        cmocka_unit_test(test_cancel_done),
        cmocka_unit_test(test_cancel_twice),
        cmocka_unit_test(test_cancel_swallowed),
        cmocka_unit_test(test_cancel_then_await_again),
        cmocka_unit_test(test_cancel_again_after_consumed),
        cmocka_unit_test(test_cancel_self),
        cmocka_unit_test(test_child_cancels_parent),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
