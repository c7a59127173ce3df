/*
 * weft_sleep, weft_yield and weft_now: under virtual time the clock starts at
 * 0 and reads exactly the sum of the sleeps, sleepers wake in deadline order,
 * a delay <= 0 is a yield, NaN is EINVAL, an infinite sleep can be
 * cancelled; on the real clock weft_now never goes backwards and a sleep does
 * not return early. weft_yield lets every other ready task run once.
 *
 * Scenarios run as tasks, where cmocka's asserts (a longjmp) must not be
 * used: they record what went wrong with check(), and the test fails after
 * weft_run, naming the mode, if any check did. Every scenario runs
 * single-threaded and with 2 and 4 workers (more than the machine's cores).
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"

static bool near(double a, double b)
{
    return fabs(a - b) <= 1e-9 * fmax(1.0, fabs(b));
}

/* ---- virtual time: exact clock readings ---- */

struct wake {
    double delay;
    double woke_at;
    int ticket; /* order of waking */
};

static int next_ticket;

static void *sleep_and_note(void *arg)
{
    struct wake *w = arg;

    check(weft_sleep(w->delay) == 0);
    w->woke_at = weft_now();
    w->ticket = __atomic_fetch_add(&next_ticket, 1, __ATOMIC_ACQ_REL);
    return NULL;
}

static void *virtual_clock(void *arg)
{
    (void)arg;
    check(weft_now() == 0.0);
    check(weft_sleep(1.5) == 0);
    check(weft_now() == 1.5);
    check(weft_sleep(0.25) == 0);
    check(weft_now() == 1.75);
    check(weft_yield() == 0);
    check(weft_sleep(0) == 0);
    check(weft_sleep(-3) == 0); /* a delay <= 0 is a yield */
    check(weft_now() == 1.75);

    /* Sleepers started together wake at start + delay, in deadline order. */
    static const double delays[] = {0.7, 0.1, 0.9, 0.3, 0.5, 0.2, 0.8, 0.4, 0.6, 1.0};
    enum { N = sizeof delays / sizeof delays[0] };
    struct wake w[N];
    weft_task *t[N];
    next_ticket = 0;
    for (int i = 0; i < N; i++) {
        w[i] = (struct wake){.delay = delays[i]};
        t[i] = weft_spawn(sleep_and_note, &w[i]);
    }
    for (int i = 0; i < N; i++) {
        check(weft_await(t[i]) == NULL);
        weft_task_release(t[i]);
    }
    for (int i = 0; i < N; i++) {
        check(near(w[i].woke_at, 1.75 + w[i].delay));
        check(w[i].ticket == (int)lround(w[i].delay * 10) - 1);
    }
    check(near(weft_now(), 2.75));

    /* Long sleeps cost no real time. */
    check(weft_sleep(1e7) == 0);
    check(near(weft_now(), 2.75 + 1e7));
    return (void *)1;
}

static void test_virtual_clock(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    expect(run_in_mode(virtual_clock, NULL) == (void *)1);
}

/* Many sleepers on one deadline all wake at it. */
static void *same_deadline(void *arg)
{
    enum { N = 1000 };
    static struct wake w[N];
    static weft_task *t[N];

    (void)arg;
    for (int i = 0; i < N; i++) {
        w[i] = (struct wake){.delay = 2.0};
        t[i] = weft_spawn(sleep_and_note, &w[i]);
    }
    check(weft_sleep(1) == 0);
    check(weft_now() == 1.0);
    for (int i = 0; i < N; i++) {
        check(weft_await(t[i]) == NULL);
        check(w[i].woke_at == 2.0);
        weft_task_release(t[i]);
    }
    check(weft_now() == 2.0);
    return (void *)1;
}

static void test_virtual_same_deadline(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    expect(run_in_mode(same_deadline, NULL) == (void *)1);
}

/* Sleeps measured from the moment each is made: a chain of sleeps in one
 * task and in its children add up. */
static void *nested_sleeps(void *arg)
{
    const intptr_t depth = (intptr_t)arg;
    const double start = weft_now();

    check(weft_sleep(0.125) == 0);
    if (depth > 0) {
        weft_task *t = weft_spawn(nested_sleeps, (void *)(depth - 1));
        check(weft_await(t) == (void *)(depth - 1));
        weft_task_release(t);
    }
    check(near(weft_now(), start + 0.125 * (double)(depth + 1)));
    return (void *)depth;
}

static void test_virtual_nested_sleeps(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    expect(run_in_mode(nested_sleeps, (void *)16) == (void *)16);
}

/* ---- bad and extreme delays ---- */

static int infinite_started;

static void *sleep_infinitely(void *arg)
{
    (void)arg;
    bump(&infinite_started);
    return weft_sleep(INFINITY) == ECANCELED ? WEFT_ERR(ECANCELED) : NULL;
}

static void *odd_delays(void *arg)
{
    (void)arg;
    check(weft_sleep(NAN) == EINVAL);
    check(weft_sleep(-NAN) == EINVAL);
    check(weft_sleep(-INFINITY) == 0); /* <= 0: a yield */
    infinite_started = 0;
    weft_task *t = weft_spawn(sleep_infinitely, NULL);
    yield_until(&infinite_started, 1);
    check(weft_cancel(t));
    check(weft_error(weft_await(t)) == ECANCELED);
    check(weft_task_cancelled(t));
    weft_task_release(t);
    if (mode.virtual_time)
        check(weft_now() == 0.0);
    return (void *)1;
}

static void test_odd_delays(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    expect(run_in_mode(odd_delays, NULL) == (void *)1);
}

/* ---- the real clock ---- */

static void *real_clock(void *arg)
{
    (void)arg;
    double prev = weft_now();

    check(isfinite(prev) && prev >= 0);
    for (int i = 0; i < 200; i++) {
        if (i % 50 == 0)
            check(weft_sleep(0.001) == 0);
        else
            check(weft_yield() == 0);
        const double now = weft_now();
        check(now >= prev);
        prev = now;
    }
    /* A sleep does not return early (give or take a clock tick). */
    const double before = weft_now();
    check(weft_sleep(0.02) == 0);
    check(weft_now() - before >= 0.02 - 1e-6);
    return (void *)1;
}

static void test_real_clock(void **state)
{
    (void)state;
    FOR_EACH_MODE(real_modes)
    expect(run_in_mode(real_clock, NULL) == (void *)1);
    const double a = weft_now(), b = weft_now();
    assert_true(isfinite(a) && b >= a); /* outside a run: still monotonic */
}

/* ---- weft_yield: every other ready task runs once ---- */

struct round_robin {
    int steps[4];
};

static void *stepper(void *arg)
{
    int *steps = arg;

    for (int i = 0; i < 3; i++) {
        (*steps)++;
        check(weft_yield() == 0);
    }
    return NULL;
}

static void *yield_rounds(void *arg)
{
    struct round_robin *rr = arg;
    weft_task *t[4];

    for (int i = 0; i < 4; i++)
        t[i] = weft_spawn(stepper, &rr->steps[i]);
    for (int round = 1; round <= 3; round++) {
        check(weft_yield() == 0);
        for (int i = 0; i < 4; i++)
            check(rr->steps[i] == round);
    }
    for (int i = 0; i < 4; i++) {
        check(weft_await(t[i]) == NULL);
        weft_task_release(t[i]);
    }
    return (void *)1;
}

static void test_yield_round_robin(void **state)
{
    (void)state;
    /* Exact in single-thread mode only: with several workers the others run
     * concurrently and may be ahead or behind. */
    mode = (struct mode){1, false};
    struct round_robin rr = {{0}};
    expect(run_in_mode(yield_rounds, &rr) == (void *)1);
    mode = (struct mode){1, true};
    rr = (struct round_robin){{0}};
    expect(run_in_mode(yield_rounds, &rr) == (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_virtual_clock),
        cmocka_unit_test(test_virtual_same_deadline),
        cmocka_unit_test(test_virtual_nested_sleeps),
        cmocka_unit_test(test_odd_delays),
        cmocka_unit_test(test_real_clock),
        cmocka_unit_test(test_yield_round_robin),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
