/*
 * weft_shield (asyncio.shield): the shielded task's result, error or
 * cancellation when the caller is not cancelled; a task already done; the
 * caller cancelled while it waits (it gets ECANCELED at once, the shielded
 * task runs on to its own result, which can still be awaited); the
 * cleanup pattern (a cancelled task shields the await of its save step and
 * is cancelled again meanwhile); cancelling the shielded task itself; bad
 * input.
 *
 * Scenarios run as tasks, where cmocka's asserts must not be used: check()
 * records a failure and the test fails after weft_run, naming the mode.
 * Every scenario runs at 1, 2 and 4 workers under virtual time, where
 * weft_now() is exact and a sleep returns only once the others are blocked.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "../harness.h"

#define ITEM(i) ((void *)(intptr_t)(i))
#define NUM(p) ((int)(intptr_t)(p))

static bool near(double a, double b)
{
    return a - b < 1e-9 && b - a < 1e-9;
}

/* Sleeps `seconds`, then returns 42, or raises what it was told to. */
struct work {
    double seconds;
    int fail_with;
    int finished;  /* atomic */
    int cancelled; /* atomic: its sleep was cancelled */
};

static void *work(void *arg)
{
    struct work *w = arg;
    int rc = weft_sleep(w->seconds);
    if (rc) {
        __atomic_store_n(&w->cancelled, 1, __ATOMIC_RELEASE);
        return WEFT_ERR(rc);
    }
    __atomic_store_n(&w->finished, 1, __ATOMIC_RELEASE);
    return w->fail_with ? WEFT_ERR(w->fail_with) : ITEM(42);
}

/* ---- not cancelled: the inner outcome, whatever it is ---- */

static void *outcomes(void *arg)
{
    (void)arg;
    struct work ok = {.seconds = 1}, bad = {.seconds = 1, .fail_with = EIO};
    struct work doomed = {.seconds = 10};
    weft_task *t = weft_spawn(work, &ok);
    double t0 = weft_now();
    check(NUM(weft_shield(t)) == 42);
    check(near(weft_now() - t0, 1));
    check(NUM(weft_shield(t)) == 42); /* done: at once */
    weft_task_release(t);

    t = weft_spawn(work, &bad);
    check(weft_error(weft_shield(t)) == EIO);
    weft_task_release(t);

    t = weft_spawn(work, &doomed);
    check(weft_sleep(1) == 0);
    check(weft_cancel(t)); /* the inner task cancelled: the shield passes it on */
    check(weft_error(weft_shield(t)) == ECANCELED);
    check(weft_task_cancelled(t));
    weft_task_release(t);
    return (void *)1;
}

static void test_outcomes(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(outcomes, NULL);
}

/* ---- the caller cancelled: the shielded task runs on ---- */

struct caller {
    weft_task *inner;
    void *got;
    double when;
};

static void *shield_caller(void *arg)
{
    struct caller *c = arg;
    c->got = weft_shield(c->inner);
    c->when = weft_now();
    return c->got;
}

static void *caller_cancelled(void *arg)
{
    (void)arg;
    struct work w = {.seconds = 5};
    weft_task *inner = weft_spawn(work, &w);
    struct caller c = {.inner = inner};
    weft_task *outer = weft_spawn(shield_caller, &c);
    check(weft_sleep(1) == 0);
    check(weft_cancel(outer));
    check(weft_error(weft_await(outer)) == ECANCELED);
    check(weft_task_cancelled(outer));
    check(near(c.when, 1)); /* at once, not when the inner task ends */
    check(!weft_task_done(inner));
    check(NUM(weft_await(inner)) == 42); /* it ran on */
    check(near(weft_now(), 5));
    check(__atomic_load_n(&w.finished, __ATOMIC_ACQUIRE) && !w.cancelled);
    weft_task_release(inner);
    weft_task_release(outer);
    return (void *)1;
}

static void test_caller_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(caller_cancelled, NULL);
}

/* ---- the cleanup pattern ---- */

struct saver {
    struct work save;
    int rc_first, rc_shield;
    weft_task *save_task;
};

static void *with_cleanup(void *arg)
{
    struct saver *s = arg;
    s->rc_first = weft_sleep(100);
    /* Cancelled: save our state, and let nothing stop the save. */
    s->save_task = weft_spawn(work, &s->save);
    void *r = weft_shield(s->save_task);
    s->rc_shield = weft_error(r);
    return WEFT_ERR(ECANCELED);
}

static void *cleanup_protected(void *arg)
{
    (void)arg;
    struct saver s = {.save = {.seconds = 2}};
    weft_task *t = weft_spawn(with_cleanup, &s);
    check(weft_sleep(1) == 0);
    check(weft_cancel(t));
    check(weft_sleep(1) == 0);
    check(weft_cancel(t)); /* again, during the shielded save */
    weft_await(t);
    check(s.rc_first == ECANCELED && s.rc_shield == ECANCELED);
    check(!weft_task_done(s.save_task) || s.save.finished);
    check(NUM(weft_await(s.save_task)) == 42);
    check(near(weft_now(), 3));
    weft_task_release(s.save_task);
    weft_task_release(t);
    return (void *)1;
}

static void test_cleanup_protected(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cleanup_protected, NULL);
}

/* ---- several shields on one task ---- */

static void *many_shields(void *arg)
{
    (void)arg;
    struct work w = {.seconds = 3};
    weft_task *inner = weft_spawn(work, &w);
    struct caller c[6];
    weft_task *outer[6];
    for (int i = 0; i < 6; i++) {
        c[i] = (struct caller){.inner = inner};
        outer[i] = weft_spawn(shield_caller, &c[i]);
    }
    check(weft_sleep(1) == 0);
    for (int i = 0; i < 6; i += 2)
        check(weft_cancel(outer[i]));
    for (int i = 0; i < 6; i++) {
        void *r = weft_await(outer[i]);
        if (i % 2 == 0)
            check(weft_error(r) == ECANCELED && near(c[i].when, 1));
        else
            check(NUM(r) == 42 && near(c[i].when, 3));
        weft_task_release(outer[i]);
    }
    weft_task_release(inner);
    return (void *)1;
}

static void test_many_shields(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(many_shields, NULL);
}

/* ---- bad input ---- */

static void *bad_input(void *arg)
{
    (void)arg;
    check(weft_error(weft_shield(NULL)) == EINVAL);
    check(weft_error(weft_shield(weft_task_current())) == EDEADLK);
    return (void *)1;
}

static void test_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_error(weft_shield(NULL)), EPERM);
    FOR_EACH_MODE(virtual_modes) run_scenario(bad_input, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcomes),          cmocka_unit_test(test_caller_cancelled),
        cmocka_unit_test(test_cleanup_protected), cmocka_unit_test(test_many_shields),
        cmocka_unit_test(test_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
