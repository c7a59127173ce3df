/*
 * weft_wait_for (asyncio.wait_for, 3.11): a task that finishes in time (its
 * value, or its own error); one that does not (cancelled, its cleanup run
 * before ETIMEDOUT returns); one that swallows the cancellation and returns
 * a value (that value) or fails (that error); a zero timeout on a done and
 * on a pending task; WEFT_FOREVER; the caller cancelled while it waits (the
 * task cancelled and waited for, ECANCELED) and while it waits for the
 * cleanup after a timeout (ECANCELED at once); the timer of a finished call
 * never firing later; bad arguments; many calls at once.
 *
 * Scenarios run as tasks, where cmocka's asserts (a longjmp) must not be
 * used: they record what went wrong with check(), and the test fails after
 * weft_run, naming the mode. Every scenario runs at 1, 2 and 4 workers under
 * virtual time, where weft_now() is exact.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../harness.h"

/* Sleeps `delay`, then returns `value` or fails with `fail`. Cancelled, it
 * cleans up for `cleanup` seconds, then ends cancelled, or with `value`
 * (swallow), or with `fail` (swallow and fail). */
struct job {
    double delay;
    int fail;
    intptr_t value;
    bool swallow;
    double cleanup;
    int started;
    int cancelled;
    int cleaned;
};

static void *job(void *arg)
{
    struct job *j = arg;
    bump(&j->started);
    int rc = weft_sleep(j->delay);
    if (rc) {
        check(rc == ECANCELED);
        bump(&j->cancelled);
        check(weft_sleep(j->cleanup) == 0);
        bump(&j->cleaned);
        if (!j->swallow)
            return WEFT_ERR(ECANCELED);
    }
    return j->fail ? WEFT_ERR(j->fail) : (void *)j->value;
}

/* Let j's task reach its sleep (other workers may take a while). */
static void yield_until_started(struct job *j)
{
    while (!__atomic_load_n(&j->started, __ATOMIC_ACQUIRE))
        check(weft_yield() == 0);
    check(weft_yield() == 0);
}

/* ---- in time ---- */

static void *in_time(void *arg)
{
    (void)arg;
    struct job ok = {.delay = 1, .value = 5}, bad = {.delay = 1, .fail = EIO};
    weft_task *t = weft_spawn(job, &ok);
    check(weft_wait_for(t, 2) == (void *)5);
    check(at(1));
    check(ok.cancelled == 0);
    weft_task_release(t);
    t = weft_spawn(job, &bad);
    check(weft_error(weft_wait_for(t, 2)) == EIO);
    check(at(2));
    /* The timer of a call that ended early does not fire later. */
    check(weft_sleep(5) == 0);
    check(at(7));
    weft_task_release(t);
    return (void *)1;
}

static void test_wait_for_in_time(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(in_time, NULL);
}

/* ---- times out: cleanup before the return ---- */

static void *times_out(void *arg)
{
    (void)arg;
    struct job slow = {.delay = 10, .value = 1, .cleanup = 0.5};
    weft_task *t = weft_spawn(job, &slow);
    check(weft_error(weft_wait_for(t, 1)) == ETIMEDOUT);
    check(at(1.5));
    check(slow.cleaned == 1);
    check(weft_task_done(t) && weft_task_cancelled(t));
    check(weft_yield() == 0); /* the caller is not cancelled */
    weft_task_release(t);
    return (void *)1;
}

static void test_wait_for_times_out(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(times_out, NULL);
}

/* ---- the task swallows the cancellation ---- */

static void *swallows(void *arg)
{
    (void)arg;
    struct job value = {.delay = 10, .value = 42, .swallow = true, .cleanup = 0.5};
    weft_task *t = weft_spawn(job, &value);
    check(weft_wait_for(t, 1) == (void *)42);
    check(at(1.5));
    check(!weft_task_cancelled(t));
    weft_task_release(t);

    struct job error = {.delay = 10, .fail = EPIPE, .swallow = true, .cleanup = 0.5};
    t = weft_spawn(job, &error);
    check(weft_error(weft_wait_for(t, 1)) == EPIPE);
    check(at(3));
    weft_task_release(t);
    return (void *)1;
}

static void test_wait_for_swallows(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(swallows, NULL);
}

/* ---- zero timeout; no timeout ---- */

static void *zero_and_forever(void *arg)
{
    (void)arg;
    struct job quick = {.delay = 0, .value = 3};
    weft_task *t = weft_spawn(job, &quick);
    check(weft_await(t) == (void *)3);
    check(weft_wait_for(t, 0) == (void *)3); /* done: its result */
    weft_task_release(t);

    /* Pending: cancelled and waited for; one not started yet never runs. */
    struct job pending = {.delay = 1, .value = 4, .cleanup = 0.5};
    t = weft_spawn(job, &pending);
    check(weft_error(weft_wait_for(t, 0)) == ETIMEDOUT);
    check(weft_task_cancelled(t));
    if (mode.workers == 1)
        check(pending.started == 0);
    check(pending.cleaned == pending.started);
    weft_task_release(t);

    struct job started = {.delay = 1, .value = 4, .cleanup = 0.5};
    t = weft_spawn(job, &started);
    yield_until_started(&started);
    double t0 = weft_now();
    check(weft_error(weft_wait_for(t, 0)) == ETIMEDOUT);
    check(at(t0 + 0.5) && started.cleaned == 1);
    weft_task_release(t);

    struct job swallow = {.delay = 1, .value = 8, .swallow = true, .cleanup = 0.5};
    t = weft_spawn(job, &swallow);
    yield_until_started(&swallow);
    check(weft_wait_for(t, 0) == (void *)8);
    weft_task_release(t);

    struct job slow = {.delay = 100, .value = 9};
    t = weft_spawn(job, &slow);
    t0 = weft_now();
    check(weft_wait_for(t, WEFT_FOREVER) == (void *)9);
    check(at(t0 + 100));
    weft_task_release(t);
    return (void *)1;
}

static void test_wait_for_zero_and_forever(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(zero_and_forever, NULL);
}

/* ---- the caller cancelled ---- */

struct caller {
    struct job j;
    weft_task *t;
    void *result;
};

static void *call_wait_for(void *arg)
{
    struct caller *c = arg;
    c->t = weft_spawn(job, &c->j);
    c->result = weft_wait_for(c->t, 5);
    return c->result;
}

static void *caller_cancelled(void *arg)
{
    (void)arg;
    struct caller c = {.j = {.delay = 10, .value = 1, .cleanup = 0.5}};
    weft_task *w = weft_spawn(call_wait_for, &c);
    check(weft_sleep(1) == 0);
    check(weft_cancel(w));
    check(weft_error(weft_await(w)) == ECANCELED);
    check(weft_task_cancelled(w));
    check(at(1.5)); /* the task's cleanup ran first */
    check(weft_error(c.result) == ECANCELED);
    check(weft_task_cancelled(c.t) && c.j.cleaned == 1);
    weft_task_release(c.t);
    weft_task_release(w);

    /* Cancelled while the task cleans up after a timeout: as in asyncio's
     * _cancel_and_wait, the call returns ECANCELED at once; the task goes
     * on with its cleanup. */
    struct caller d = {.j = {.delay = 10, .value = 1, .cleanup = 2}};
    w = weft_spawn(call_wait_for, &d);
    check(weft_sleep(6) == 0); /* timed out at 6.5, cleaning up until 8.5 */
    check(weft_cancel(w));
    check(weft_error(weft_await(w)) == ECANCELED);
    check(at(7.5));
    check(!weft_task_done(d.t));
    check(weft_error(weft_await(d.t)) == ECANCELED);
    check(at(8.5) && d.j.cleaned == 1);
    weft_task_release(d.t);
    weft_task_release(w);
    return (void *)1;
}

static void test_wait_for_caller_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(caller_cancelled, NULL);
}

/* ---- bad arguments ---- */

static void *bad_arguments(void *arg)
{
    (void)arg;
    struct job j = {.delay = 1, .value = 2};
    weft_task *t = weft_spawn(job, &j);
    check(weft_error(weft_wait_for(NULL, 1)) == EINVAL);
    check(weft_error(weft_wait_for(t, NAN)) == EINVAL);
    check(weft_error(weft_wait_for(weft_task_current(), 1)) == EDEADLK);
    check(at(0) && !weft_task_done(t));
    check(weft_wait_for(t, 5) == (void *)2);
    weft_task_release(t);
    /* A timeout <= 0 has expired already (asyncio: timeout <= 0 cancels a
     * task that is not done); -1 is no longer "forever". */
    for (double timeout = 0; timeout >= -2; timeout -= 1) {
        t = weft_spawn(job, &j);
        check(weft_error(weft_wait_for(t, timeout)) == ETIMEDOUT);
        check(weft_task_cancelled(t));
        weft_task_release(t);
    }
    check(at(1));
    return (void *)1;
}

static void test_wait_for_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(weft_error(weft_wait_for(NULL, 1)), EPERM);
    FOR_EACH_MODE(virtual_modes)
    run_scenario(bad_arguments, NULL);
}

/* ---- many at once ---- */

static void *bounded(void *arg)
{
    struct job *j = arg;
    weft_task *t = weft_spawn(job, j);
    void *r = weft_wait_for(t, 1);
    weft_task_release(t);
    return r;
}

static void *many(void *arg)
{
    int n = *(int *)arg;
    struct job *j = calloc((size_t)n, sizeof *j);
    weft_task **t = malloc((size_t)n * sizeof *t);
    if (!j || !t) {
        free(j);
        free(t);
        return NULL;
    }
    for (int i = 0; i < n; i++) {
        j[i].delay = i % 2 ? 0.5 : 2; /* odd ones in time */
        j[i].value = i;
        j[i].cleanup = 0.25;
        t[i] = weft_spawn(bounded, &j[i]);
    }
    for (int i = 0; i < n; i++) {
        void *r = weft_await(t[i]);
        check(i % 2 ? r == (void *)(intptr_t)i : weft_error(r) == ETIMEDOUT);
        check(j[i].cleaned == (i % 2 ? 0 : 1));
        weft_task_release(t[i]);
    }
    check(at(1.25));
    free(j);
    free(t);
    return (void *)1;
}

static void test_wait_for_many(void **state)
{
    (void)state;
    int n = stress_count(1000, 2000);
    FOR_EACH_MODE(virtual_modes)
    run_scenario(many, &n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_for_in_time),
        cmocka_unit_test(test_wait_for_times_out),
        cmocka_unit_test(test_wait_for_swallows),
        cmocka_unit_test(test_wait_for_zero_and_forever),
        cmocka_unit_test(test_wait_for_caller_cancelled),
        cmocka_unit_test(test_wait_for_bad_arguments),
        cmocka_unit_test(test_wait_for_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
