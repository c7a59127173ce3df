/*
 * weft_timeout (asyncio.timeout): a deadline that fires during a sleep (the
 * sleep and the exit report ETIMEDOUT, at the deadline exactly), every later
 * await inside the expired scope failing at once, a scope that never fires
 * (0, and no stray cancellation afterwards), rescheduling (later, never,
 * now, and not once expired), nested scopes where the inner or the outer one
 * fires, a deadline firing during weft_await, weft_gather, weft_wait and
 * weft_wait_for, a zero deadline, a cancellation from outside inside a scope
 * (with and without the deadline firing too), bad arguments, and many short
 * scopes racing their timers across workers.
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

struct probe {
    int started;
    int cancels_seen;
    int cleaned;
};

/* Sleeps until cancelled, then cleans up with an await of its own. */
static void *sleeper(void *arg)
{
    struct probe *p = arg;

    bump(&p->started);
    int rc = weft_sleep(100);
    if (rc == 0)
        return (void *)(intptr_t)7;
    check(rc == ECANCELED);
    bump(&p->cancels_seen);
    check(weft_sleep(0.5) == 0);
    bump(&p->cleaned);
    return WEFT_ERR(ECANCELED);
}

/* ---- fires during a sleep ---- */

static void *fires_during_sleep(void *arg)
{
    (void)arg;
    weft_timeout *tm = weft_timeout_enter(1.5);
    check(tm != NULL);
    check(!weft_timeout_expired(tm));
    check(weft_sleep(10) == ETIMEDOUT);
    check(at(1.5));
    check(weft_timeout_expired(tm));
    check(weft_timeout_exit(tm) == ETIMEDOUT);
    /* Outside the scope nothing is left of it: no pending cancellation. */
    check(weft_yield() == 0);
    check(weft_sleep(1) == 0);
    check(at(2.5));
    return (void *)1;
}

static void test_timeout_fires_during_sleep(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(fires_during_sleep, NULL);
}

/* ---- every later await in the expired scope fails at once ---- */

static void *later_awaits_fail(void *arg)
{
    struct probe *p = arg;
    weft_task *done = weft_spawn(return_arg, (void *)3);
    weft_task *pending = weft_spawn(sleeper, p);
    check(weft_await(done) == (void *)3);
    weft_timeout *tm = weft_timeout_enter(1);
    check(weft_sleep(2) == ETIMEDOUT);
    check(at(1));
    check(weft_yield() == ETIMEDOUT);
    check(weft_sleep(5) == ETIMEDOUT);
    check(weft_error(weft_await(pending)) == ETIMEDOUT);
    check(!weft_task_done(pending)); /* failing at once forwards nothing */
    check(weft_gather(&done, 1, NULL, 0) == ETIMEDOUT);
    check(weft_wait(&done, 1, WEFT_ALL_COMPLETED, WEFT_FOREVER, NULL) == ETIMEDOUT);
    /* A scope opened inside the expired one is expired from the start. */
    weft_timeout *inner = weft_timeout_enter(WEFT_FOREVER);
    check(weft_yield() == ETIMEDOUT);
    check(weft_timeout_exit(inner) == 0);
    check(at(1)); /* nothing waited */
    check(weft_timeout_exit(tm) == ETIMEDOUT);
    check(weft_yield() == 0);
    check(weft_error(weft_await(done)) == 0);
    check(weft_cancel(pending));
    check(weft_error(weft_await(pending)) == ECANCELED);
    weft_task_release(done);
    weft_task_release(pending);
    return (void *)1;
}

static void test_timeout_later_awaits_fail(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        struct probe p = {0};
        run_scenario(later_awaits_fail, &p);
        assert_int_equal(p.cleaned, 1);
    }
}

/* ---- never fires ---- */

static void *never_fires(void *arg)
{
    (void)arg;
    weft_timeout *tm = weft_timeout_enter(5);
    check(weft_sleep(1) == 0);
    check(weft_yield() == 0);
    check(!weft_timeout_expired(tm));
    check(weft_timeout_exit(tm) == 0);
    /* The disarmed timer must neither cancel the task nor move the clock
     * when nothing else is left to wait for. */
    check(weft_sleep(10) == 0);
    check(at(11));
    weft_timeout *forever = weft_timeout_enter(WEFT_FOREVER);
    check(weft_sleep(100) == 0);
    check(weft_timeout_exit(forever) == 0);
    return (void *)1;
}

static void test_timeout_never_fires(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(never_fires, NULL);
}

/* ---- reschedule ---- */

static void *reschedule(void *arg)
{
    (void)arg;
    weft_timeout *tm = weft_timeout_enter(1);
    check(weft_timeout_reschedule(tm, 3) == 0); /* later */
    check(weft_sleep(2) == 0);
    check(weft_timeout_reschedule(tm, WEFT_FOREVER) == 0); /* never */
    check(weft_sleep(5) == 0);
    check(at(7));
    check(weft_timeout_reschedule(tm, 0.5) == 0);
    check(weft_sleep(5) == ETIMEDOUT);
    check(at(7.5));
    /* asyncio: "Cannot change state of expiring Timeout" */
    check(weft_timeout_reschedule(tm, 10) == EINVAL);
    check(weft_timeout_exit(tm) == ETIMEDOUT);

    tm = weft_timeout_enter(10);
    check(weft_timeout_reschedule(tm, 0) == 0); /* now: the next loop turn */
    check(weft_sleep(1) == ETIMEDOUT);
    check(at(7.5));
    check(weft_timeout_exit(tm) == ETIMEDOUT);

    tm = weft_timeout_enter(10);
    check(weft_timeout_reschedule(tm, -2) == 0); /* past already: the next loop turn */
    check(weft_sleep(1) == ETIMEDOUT);
    check(at(7.5));
    check(weft_timeout_exit(tm) == ETIMEDOUT);

    tm = weft_timeout_enter(1);
    check(weft_timeout_reschedule(tm, NAN) == EINVAL);
    check(weft_timeout_reschedule(NULL, 1) == EINVAL);
    check(weft_sleep(2) == ETIMEDOUT); /* the bad calls left it armed */
    check(at(8.5));
    check(weft_timeout_exit(tm) == ETIMEDOUT);
    return (void *)1;
}

static void test_timeout_reschedule(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(reschedule, NULL);
}

/* ---- nested scopes ---- */

static void *nested(void *arg)
{
    (void)arg;
    /* The inner one fires: only it reports the timeout. */
    weft_timeout *outer = weft_timeout_enter(5);
    weft_timeout *inner = weft_timeout_enter(1);
    check(weft_timeout_exit(outer) == EINVAL); /* not the innermost */
    check(weft_sleep(10) == ETIMEDOUT);
    check(at(1));
    check(!weft_timeout_expired(outer));
    check(weft_timeout_exit(inner) == ETIMEDOUT);
    check(weft_sleep(1) == 0); /* the outer scope is still good */
    check(weft_timeout_exit(outer) == 0);

    /* The outer one fires while the inner is open: the inner one's awaits
     * fail, its exit reports nothing, the outer one reports the timeout. */
    outer = weft_timeout_enter(1);
    inner = weft_timeout_enter(5);
    check(weft_sleep(10) == ETIMEDOUT);
    check(at(3));
    check(weft_timeout_expired(outer) && !weft_timeout_expired(inner));
    check(weft_timeout_exit(inner) == 0);
    check(weft_yield() == ETIMEDOUT);
    check(weft_timeout_exit(outer) == ETIMEDOUT);

    /* Both expire at the same time: as in asyncio, where the inner scope
     * lets the CancelledError through because the outer one cancelled too,
     * the inner exit reports a cancellation, the outer one the timeout. */
    outer = weft_timeout_enter(1);
    inner = weft_timeout_enter(1);
    check(weft_sleep(10) == ETIMEDOUT);
    check(at(4));
    check(weft_timeout_exit(inner) == ECANCELED);
    check(weft_timeout_exit(outer) == ETIMEDOUT);
    check(weft_yield() == 0);
    return (void *)1;
}

static void test_timeout_nested(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(nested, NULL);
}

/* ---- a deadline during weft_await, gather, wait and wait_for ----
 * The awaited call is interrupted and the scope reports ETIMEDOUT. What the
 * interrupted call itself returns is ETIMEDOUT for a sleep; the calls that
 * forward the cancellation (to the awaited task, to a future) may return
 * ECANCELED there; either way they fail. */

static bool failed_by_deadline(int err)
{
    return err == ETIMEDOUT || err == ECANCELED;
}

static void *during_await(void *arg)
{
    struct probe *p = arg;
    weft_task *t = weft_spawn(sleeper, p);
    weft_timeout *tm = weft_timeout_enter(1);
    check(failed_by_deadline(weft_error(weft_await(t))));
    check(at(1.5)); /* the awaited task was cancelled, and cleaned up first */
    check(weft_task_cancelled(t));
    check(weft_timeout_exit(tm) == ETIMEDOUT);
    check(weft_yield() == 0);
    weft_task_release(t);
    return (void *)1;
}

static void *during_gather(void *arg)
{
    struct probe *p = arg;
    weft_task *t[3] = {weft_spawn(sleeper, p), weft_spawn(sleeper, p), weft_spawn(sleeper, p)};
    weft_timeout *tm = weft_timeout_enter(1);
    /* Returning exceptions, the gather returns once every child has
     * finished its cleanup. */
    check(failed_by_deadline(weft_gather(t, 3, NULL, WEFT_RETURN_EXCEPTIONS)));
    check(at(1.5));
    for (int i = 0; i < 3; i++)
        check(weft_task_cancelled(t[i]));
    check(weft_timeout_exit(tm) == ETIMEDOUT);
    check(weft_yield() == 0);
    for (int i = 0; i < 3; i++)
        weft_task_release(t[i]);
    return (void *)1;
}

static void *during_wait(void *arg)
{
    struct probe *p = arg;
    weft_task *t = weft_spawn(sleeper, p);
    weft_timeout *tm = weft_timeout_enter(1);
    bool done = true;
    check(failed_by_deadline(weft_wait(&t, 1, WEFT_ALL_COMPLETED, WEFT_FOREVER, &done)));
    check(at(1));
    check(!done && !weft_task_done(t)); /* wait cancels nobody */
    check(weft_timeout_exit(tm) == ETIMEDOUT);
    check(weft_cancel(t));
    check(weft_error(weft_await(t)) == ECANCELED);
    weft_task_release(t);
    return (void *)1;
}

static void *during_wait_for(void *arg)
{
    struct probe *p = arg;
    weft_task *t = weft_spawn(sleeper, p);
    weft_timeout *tm = weft_timeout_enter(1);
    check(failed_by_deadline(weft_error(weft_wait_for(t, 5))));
    check(weft_timeout_exit(tm) == ETIMEDOUT);
    check(weft_error(weft_await(t)) == ECANCELED);
    check(at(1.5));
    weft_task_release(t);
    return (void *)1;
}

static void test_timeout_during_other_awaits(void **state)
{
    (void)state;
    void *(*scenarios[])(void *) = {during_await, during_gather, during_wait, during_wait_for};
    FOR_EACH_MODE(virtual_modes)
    {
        for (size_t i = 0; i < sizeof scenarios / sizeof scenarios[0]; i++) {
            struct probe p = {0};
            run_scenario(scenarios[i], &p);
            if (p.cancels_seen != p.started || p.cleaned != p.started)
                fail_msg("[workers=%u] scenario %zu: started %d, cancelled %d, cleaned %d",
                         mode.workers, i, p.started, p.cancels_seen, p.cleaned);
        }
    }
}

/* ---- a zero deadline: the body runs up to its first await ---- */

static void *zero_deadline(void *arg)
{
    int *reached = arg;
    weft_timeout *tm = weft_timeout_enter(0);
    bump(reached);
    check(weft_sleep(1) == ETIMEDOUT);
    check(at(0));
    check(weft_timeout_exit(tm) == ETIMEDOUT);
    check(weft_sleep(1) == 0);
    return (void *)1;
}

static void test_timeout_zero(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        int reached = 0;
        run_scenario(zero_deadline, &reached);
        assert_int_equal(reached, 1);
    }
}

/* ---- cancelled from outside inside a scope ---- */

static void *scoped_sleeper(void *arg)
{
    int *exit_code = arg;
    weft_timeout *tm = weft_timeout_enter(5);
    int rc = weft_sleep(10);
    *exit_code = weft_timeout_exit(tm);
    return WEFT_ERR(rc);
}

static void *outside_cancel(void *arg)
{
    (void)arg;
    int exit_code = -1;
    weft_task *t = weft_spawn(scoped_sleeper, &exit_code);
    check(weft_sleep(1) == 0);
    check(weft_cancel(t));
    check(weft_error(weft_await(t)) == ECANCELED);
    check(exit_code == 0); /* the deadline did not fire */
    check(at(1));
    weft_task_release(t);
    return (void *)1;
}

static void test_timeout_outside_cancel(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(outside_cancel, NULL);
}

/* Single-thread: the deadline fires, and another task cancels the scope's
 * task before it runs again. asyncio lets that CancelledError through the
 * scope instead of converting it: the exit reports ECANCELED. */
static void *canceller(void *target)
{
    check(weft_sleep(1) == 0);
    check(weft_cancel(target));
    return NULL;
}

static void *both_cancel(void *arg)
{
    (void)arg;
    weft_task *c = weft_spawn(canceller, weft_task_current());
    check(weft_yield() == 0); /* its timer first: it runs first at 1 */
    weft_timeout *tm = weft_timeout_enter(1);
    check(weft_sleep(10) == ETIMEDOUT);
    check(weft_timeout_exit(tm) == ECANCELED);
    check(weft_yield() == 0); /* delivered once, by the exit */
    check(weft_error(weft_await(c)) == 0);
    weft_task_release(c);
    return (void *)1;
}

static void test_timeout_and_outside_cancel(void **state)
{
    (void)state;
    mode = virtual_modes[0];
    run_scenario(both_cancel, NULL);
}

/* ---- bad arguments ---- */

static void *exit_other(void *tm)
{
    check(weft_timeout_exit(tm) == EINVAL);
    return NULL;
}

static void *bad_arguments(void *arg)
{
    (void)arg;
    errno = 0;
    check(weft_timeout_enter(NAN) == NULL && errno == EINVAL && weft_errno() == EINVAL);
    /* A delay <= 0 has expired already. */
    weft_timeout *past = weft_timeout_enter(-2);
    check(past && weft_sleep(1) == ETIMEDOUT);
    check(weft_timeout_exit(past) == ETIMEDOUT);
    check(weft_timeout_exit(NULL) == EINVAL);
    check(!weft_timeout_expired(NULL));
    weft_timeout *tm = weft_timeout_enter(1);
    weft_task *t = weft_spawn(exit_other, tm);
    check(weft_error(weft_await(t)) == 0);
    weft_task_release(t);
    check(weft_timeout_exit(tm) == 0);
    return (void *)1;
}

static void test_timeout_bad_arguments(void **state)
{
    (void)state;
    errno = 0;
    assert_null(weft_timeout_enter(1));
    assert_int_equal(errno, EPERM);
    assert_int_equal(weft_timeout_exit(NULL), EPERM);
    assert_int_equal(weft_timeout_reschedule(NULL, 1), EPERM);
    FOR_EACH_MODE(virtual_modes)
    run_scenario(bad_arguments, NULL);
}

/* ---- many short scopes racing their timers (real time) ---- */

struct race {
    int fired;
    int quiet;
};

static void *short_scopes(void *arg)
{
    struct race *r = arg;
    for (int i = 0; i < 20; i++) {
        weft_timeout *tm = weft_timeout_enter(i % 3 == 0 ? 0 : 1e-6 * (i % 5));
        int rc = weft_yield();
        check(rc == 0 || rc == ETIMEDOUT);
        rc = weft_timeout_exit(tm);
        check(rc == 0 || rc == ETIMEDOUT);
        bump(rc ? &r->fired : &r->quiet);
        /* Whatever the race, the scope leaves nothing behind. */
        check(weft_yield() == 0);
    }
    return NULL;
}

static void *race_main(void *arg)
{
    int n = (int)(200 * stress_scale());
    weft_task **t = malloc((size_t)n * sizeof *t);
    check(t != NULL);
    if (!t)
        return (void *)1;
    for (int i = 0; i < n; i++)
        t[i] = weft_spawn(short_scopes, arg);
    for (int i = 0; i < n; i++) {
        check(weft_error(weft_await(t[i])) == 0);
        weft_task_release(t[i]);
    }
    free(t);
    return (void *)1;
}

static void test_timeout_race(void **state)
{
    (void)state;
    FOR_EACH_MODE(real_modes)
    {
        struct race r = {0};
        run_scenario(race_main, &r);
        assert_int_equal(load(&r.fired) + load(&r.quiet), (int)(200 * stress_scale()) * 20);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_timeout_fires_during_sleep),
        cmocka_unit_test(test_timeout_later_awaits_fail),
        cmocka_unit_test(test_timeout_never_fires),
        cmocka_unit_test(test_timeout_reschedule),
        cmocka_unit_test(test_timeout_nested),
        cmocka_unit_test(test_timeout_during_other_awaits),
        cmocka_unit_test(test_timeout_zero),
        cmocka_unit_test(test_timeout_outside_cancel),
        cmocka_unit_test(test_timeout_and_outside_cancel),
        cmocka_unit_test(test_timeout_bad_arguments),
        cmocka_unit_test(test_timeout_race),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
