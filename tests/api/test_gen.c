/*
 * weft_gen (async generators run inside their consumer): lazy start, values
 * in order, ENODATA at the end and after it, a body's error code, awaits in
 * the body suspending the consumer (other tasks run meanwhile, the clock
 * moves), weft_task_current() in the body being the consumer, driving one
 * generator from several tasks in turn, EBUSY for a second driver while the
 * body awaits and for a body driving itself, aclose (weft_gen_destroy) of a
 * suspended body that cleans up with an await, of one never started and of
 * one finished, a body that ignores the close, the consumer cancelled while
 * the body awaits, weft_gen_throw (athrow), nested generators, bad input,
 * and a stress run of many consumers whose bodies hop between workers.
 *
 * Scenarios run as tasks, where cmocka's asserts must not be used: check()
 * records a failure and the test fails after weft_run, naming the mode.
 * Every scenario runs at 1, 2 and 4 workers under virtual time (where
 * weft_now() is exact) and the ones that need no settling on the real clock
 * too.
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

/* The unit of every sleep: a second under virtual time, 10 ms on the real
 * clock (where nothing checks durations). */
static double unit(void)
{
    return mode.virtual_time ? 1 : 0.01;
}

/* A body's view of what happened to it. */
struct probe {
    int from, to; /* yields from..to-1 */
    double delay; /* sleep before each yield (0: none) */
    int started;
    int yields_done;
    int close_seen; /* ECANCELED from weft_gen_yield */
    int cleaned;    /* cleanup ran to its end */
    int fail_with;  /* return WEFT_ERR(this) at the end, if set */
    weft_task *consumers[8];
};

/* async_range with an optional delay, a cleanup that awaits on close, and
 * an optional failure at the end. */
static void *counting_body(weft_gen *g, void *arg)
{
    struct probe *p = arg;
    p->started++;
    for (int i = p->from; i < p->to; i++) {
        if (p->delay > 0) {
            int rc = weft_sleep(p->delay * unit());
            if (rc)
                return WEFT_ERR(rc);
        }
        if (p->yields_done < 8)
            p->consumers[p->yields_done] = weft_task_current();
        int rc = weft_gen_yield(g, ITEM(i));
        if (rc == ECANCELED) {
            p->close_seen++;
            check(weft_sleep(unit()) == 0); /* cleanup may await: the close is not a cancellation */
            p->cleaned++;
            return NULL;
        }
        check(rc == 0);
        p->yields_done++;
    }
    return p->fail_with ? WEFT_ERR(p->fail_with) : NULL;
}

/* ---- values, lazy start, the end ---- */

static void *values_in_order(void *arg)
{
    (void)arg;
    struct probe p = {.from = 3, .to = 8, .delay = 0.5};
    weft_gen *g = weft_gen_create(counting_body, &p);
    check(g != NULL);
    check(weft_yield() == 0);
    check(p.started == 0); /* lazy: nothing runs before the first step */
    double t0 = weft_now();
    void *v;
    for (int i = 3; i < 8; i++) {
        check(weft_gen_next(g, &v) == 0);
        check(NUM(v) == i);
        check(p.consumers[i - 3] == weft_task_current());
        if (mode.virtual_time)
            check(near(weft_now() - t0, 0.5 * (i - 2)));
    }
    check(weft_gen_next(g, &v) == ENODATA);
    check(weft_gen_next(g, &v) == ENODATA);
    check(weft_gen_next(g, NULL) == ENODATA);
    check(p.started == 1 && p.yields_done == 5 && p.close_seen == 0);
    weft_gen_destroy(g);
    return (void *)1;
}

static void test_values_in_order(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(values_in_order, NULL);
}

static void *body_fails(void *arg)
{
    (void)arg;
    struct probe p = {.from = 0, .to = 2, .fail_with = EIO};
    weft_gen *g = weft_gen_create(counting_body, &p);
    void *v;
    check(weft_gen_next(g, &v) == 0 && NUM(v) == 0);
    check(weft_gen_next(g, &v) == 0 && NUM(v) == 1);
    check(weft_gen_next(g, &v) == EIO);
    check(weft_gen_next(g, &v) == ENODATA); /* a generator that raised is finished */
    weft_gen_destroy(g);

    struct probe empty = {.from = 0, .to = 0};
    g = weft_gen_create(counting_body, &empty);
    check(weft_gen_next(g, &v) == ENODATA);
    weft_gen_destroy(g);
    return (void *)1;
}

static void test_body_error(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(body_fails, NULL);
}

/* ---- the body's awaits suspend the consumer only ---- */

struct ticker {
    int ticks; /* atomic */
    int stop;  /* atomic */
};

static void *tick(void *arg)
{
    struct ticker *t = arg;
    while (!__atomic_load_n(&t->stop, __ATOMIC_ACQUIRE)) {
        __atomic_fetch_add(&t->ticks, 1, __ATOMIC_RELAXED);
        if (weft_sleep(0.1) != 0)
            break;
    }
    return NULL;
}

static void *others_run_meanwhile(void *arg)
{
    (void)arg;
    struct ticker tk = {0};
    weft_task *ticker = weft_spawn(tick, &tk);
    struct probe p = {.from = 0, .to = 4, .delay = 1};
    weft_gen *g = weft_gen_create(counting_body, &p);
    void *v;
    int n = 0;
    while (weft_gen_next(g, &v) == 0)
        check(NUM(v) == n++);
    check(n == 4);
    /* Four seconds of body sleeps: the ticker ran about forty times. */
    check(__atomic_load_n(&tk.ticks, __ATOMIC_RELAXED) >= 30);
    __atomic_store_n(&tk.stop, 1, __ATOMIC_RELEASE);
    weft_await(ticker);
    weft_task_release(ticker);
    weft_gen_destroy(g);
    return (void *)1;
}

static void test_body_awaits_suspend_consumer(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(others_run_meanwhile, NULL);
}

/* ---- several drivers, one at a time; EBUSY for two at once ---- */

struct drive {
    weft_gen *g;
    int rc;
    void *value;
};

static void *drive_once(void *arg)
{
    struct drive *d = arg;
    d->rc = weft_gen_next(d->g, &d->value);
    return NULL;
}

static void *several_drivers(void *arg)
{
    (void)arg;
    struct probe p = {.from = 0, .to = 4, .delay = 1};
    weft_gen *g = weft_gen_create(counting_body, &p);
    struct drive d[3];
    for (int i = 0; i < 3; i++) {
        d[i] = (struct drive){.g = g};
        weft_task *t = weft_spawn(drive_once, &d[i]);
        weft_await(t);
        check(d[i].rc == 0 && NUM(d[i].value) == i);
        check(p.consumers[i] == t); /* the body ran inside each driver in turn */
        weft_task_release(t);
    }
    /* A second driver while the body sleeps inside the first. */
    struct drive first = {.g = g}, second = {.g = g};
    weft_task *a = weft_spawn(drive_once, &first);
    check(weft_sleep(0.5) == 0); /* a is inside the body's sleep */
    weft_task *b = weft_spawn(drive_once, &second);
    weft_await(b);
    check(second.rc == EBUSY);
    weft_gen_destroy(g); /* running: refused, reported, nothing freed */
    weft_await(a);
    check(first.rc == 0 && NUM(first.value) == 3);
    weft_task_release(a);
    weft_task_release(b);
    void *v;
    check(weft_gen_next(g, &v) == ENODATA);
    weft_gen_destroy(g);
    return (void *)1;
}

static void test_several_drivers(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(several_drivers, NULL);
}

static void *drives_itself(weft_gen *g, void *arg)
{
    (void)arg;
    void *v;
    check(weft_gen_next(g, &v) == EBUSY);
    check(weft_gen_throw(g, EIO, &v) == EBUSY);
    return NULL;
}

static void *self_driving(void *arg)
{
    (void)arg;
    weft_gen *g = weft_gen_create(drives_itself, NULL);
    check(weft_gen_next(g, NULL) == ENODATA);
    weft_gen_destroy(g);
    return (void *)1;
}

static void test_body_drives_itself(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(self_driving, NULL);
}

/* ---- aclose ---- */

static void *close_suspended(void *arg)
{
    (void)arg;
    struct probe p = {.from = 0, .to = 100};
    weft_gen *g = weft_gen_create(counting_body, &p);
    void *v;
    check(weft_gen_next(g, &v) == 0 && NUM(v) == 0);
    check(weft_gen_next(g, &v) == 0 && NUM(v) == 1);
    double t0 = weft_now();
    weft_gen_destroy(g); /* the body's cleanup sleeps one second in this task */
    check(p.close_seen == 1 && p.cleaned == 1);
    if (mode.virtual_time)
        check(near(weft_now() - t0, 1));

    struct probe never = {.from = 0, .to = 3};
    weft_gen_destroy(weft_gen_create(counting_body, &never));
    check(never.started == 0);

    struct probe ended = {.from = 0, .to = 1};
    g = weft_gen_create(counting_body, &ended);
    check(weft_gen_next(g, &v) == 0);
    check(weft_gen_next(g, &v) == ENODATA);
    weft_gen_destroy(g);
    check(ended.close_seen == 0);
    weft_gen_destroy(NULL);
    return (void *)1;
}

static void test_close(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(close_suspended, NULL);
}

static int stubborn_yields;

static void *stubborn(weft_gen *g, void *arg)
{
    (void)arg;
    char big[4096]; /* frames left on the abandoned stack */
    for (size_t i = 0; i < sizeof big; i++)
        big[i] = (char)i;
    for (int i = 0;; i++) {
        weft_gen_yield(g, ITEM(i)); /* ignores ECANCELED */
        stubborn_yields++;
        check(big[i % sizeof big] == (char)(i % sizeof big));
    }
    return NULL;
}

static void *ignores_close(void *arg)
{
    (void)arg;
    stubborn_yields = 0;
    for (int round = 0; round < 3; round++) {
        weft_gen *g = weft_gen_create(stubborn, NULL);
        void *v;
        check(weft_gen_next(g, &v) == 0);
        weft_gen_destroy(g); /* resumed once with ECANCELED, yields again: abandoned */
    }
    check(stubborn_yields == 3);
    /* The stacks it left behind serve other generators and tasks. */
    return others_run_meanwhile(NULL);
}

static void test_close_ignored(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(ignores_close, NULL);
}

/* ---- the consumer cancelled while the body awaits ---- */

struct cancelled_consumer {
    struct probe p;
    int rc;
};

static void *consume_slowly(void *arg)
{
    struct cancelled_consumer *c = arg;
    weft_gen *g = weft_gen_create(counting_body, &c->p);
    void *v;
    while ((c->rc = weft_gen_next(g, &v)) == 0)
        ;
    weft_gen_destroy(g);
    return c->rc == ENODATA ? NULL : WEFT_ERR(c->rc);
}

static void *cancel_consumer(void *arg)
{
    (void)arg;
    struct cancelled_consumer c = {.p = {.from = 0, .to = 10, .delay = 1}};
    weft_task *t = weft_spawn(consume_slowly, &c);
    check(weft_sleep(2.5) == 0);
    check(weft_cancel(t));
    void *r = weft_await(t);
    check(weft_error(r) == ECANCELED);
    check(weft_task_cancelled(t));
    check(c.rc == ECANCELED);
    check(c.p.yields_done == 2);
    check(c.p.close_seen == 0); /* it ended by itself, raising ECANCELED */
    weft_task_release(t);
    return (void *)1;
}

static void test_consumer_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cancel_consumer, NULL);
}

/* ---- athrow ---- */

static void *catches(weft_gen *g, void *arg)
{
    int *seen = arg;
    int rc = weft_gen_yield(g, ITEM(1));
    *seen = rc;
    if (rc == EIO)
        return NULL; /* swallowed */
    if (rc == EPIPE)
        return WEFT_ERR(rc); /* re-raised */
    if (rc == ENOENT) {
        check(weft_yield() == 0);        /* may await after catching */
        rc = weft_gen_yield(g, ITEM(2)); /* goes on */
        return rc ? WEFT_ERR(rc) : NULL;
    }
    return NULL;
}

static void *athrow(void *arg)
{
    (void)arg;
    int seen = -1;
    void *v;
    static const int codes[] = {EIO, EPIPE, ENOENT};
    static const int outcome[] = {ENODATA, EPIPE, 0};
    for (int i = 0; i < 3; i++) {
        weft_gen *g = weft_gen_create(catches, &seen);
        check(weft_gen_next(g, &v) == 0 && NUM(v) == 1);
        check(weft_gen_throw(g, codes[i], &v) == outcome[i]);
        check(seen == codes[i]);
        if (outcome[i] == 0)
            check(NUM(v) == 2);
        weft_gen_destroy(g);
    }
    weft_gen *g = weft_gen_create(catches, &seen);
    seen = -1;
    check(weft_gen_throw(g, EIO, &v) == EIO); /* never started: ends raising it */
    check(seen == -1);
    check(weft_gen_next(g, &v) == ENODATA);
    check(weft_gen_throw(g, 0, &v) == EINVAL);
    check(weft_gen_throw(g, 5000, &v) == EINVAL);
    check(weft_gen_throw(NULL, EIO, &v) == EINVAL);
    weft_gen_destroy(g);
    return (void *)1;
}

static void test_throw(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(athrow, NULL);
}

/* ---- nested generators ---- */

static void *doubled(weft_gen *g, void *arg)
{
    weft_gen *inner = weft_gen_create(counting_body, arg);
    void *v;
    int rc;
    while ((rc = weft_gen_next(inner, &v)) == 0) {
        check(weft_yield() == 0);
        int back = weft_gen_yield(g, ITEM(2 * NUM(v)));
        if (back) {
            weft_gen_destroy(inner); /* closing the outer closes the inner */
            return NULL;
        }
    }
    weft_gen_destroy(inner);
    return rc == ENODATA ? NULL : WEFT_ERR(rc);
}

static void *nested(void *arg)
{
    (void)arg;
    struct probe p = {.from = 0, .to = 5, .delay = 0.25};
    weft_gen *g = weft_gen_create(doubled, &p);
    void *v;
    for (int i = 0; i < 5; i++)
        check(weft_gen_next(g, &v) == 0 && NUM(v) == 2 * i);
    check(weft_gen_next(g, &v) == ENODATA);
    weft_gen_destroy(g);

    struct probe q = {.from = 0, .to = 5};
    g = weft_gen_create(doubled, &q);
    check(weft_gen_next(g, &v) == 0 && NUM(v) == 0);
    weft_gen_destroy(g);
    check(q.close_seen == 1 && q.cleaned == 1);
    return (void *)1;
}

static void test_nested(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(nested, NULL);
}

/* ---- bad input ---- */

static void *misplaced_yield(weft_gen *g, void *arg)
{
    weft_gen *other = arg;
    check(weft_gen_yield(other, NULL) == EINVAL); /* not this body's generator */
    check(weft_gen_yield(NULL, NULL) == EINVAL);
    return weft_gen_yield(g, ITEM(7)) == 0 ? NULL : WEFT_ERR(EIO);
}

static void *bad_input(void *arg)
{
    (void)arg;
    void *v;
    check(weft_gen_next(NULL, &v) == EINVAL);
    struct probe p = {.from = 0, .to = 3};
    weft_gen *g = weft_gen_create(counting_body, &p);
    check(weft_gen_yield(g, NULL) == EINVAL); /* not started: nobody's body */
    check(weft_gen_next(g, &v) == 0);
    check(weft_gen_yield(g, NULL) == EINVAL); /* the consumer is not the body */
    weft_gen *h = weft_gen_create(misplaced_yield, g);
    check(weft_gen_next(h, &v) == 0 && NUM(v) == 7);
    check(weft_gen_next(h, &v) == ENODATA);
    weft_gen_destroy(h);
    weft_gen_destroy(g);
    return (void *)1;
}

static void test_bad_input(void **state)
{
    (void)state;
    errno = 0;
    assert_null(weft_gen_create(NULL, NULL));
    assert_int_equal(errno, EINVAL);
    weft_gen *g = weft_gen_create(counting_body, NULL);
    assert_non_null(g);
    void *v;
    assert_int_equal(weft_gen_next(g, &v), EPERM);
    assert_int_equal(weft_gen_yield(g, NULL), EPERM);
    assert_int_equal(weft_gen_throw(g, EIO, &v), EPERM);
    weft_gen_destroy(g); /* never started: freed anywhere */
    FOR_EACH_MODE(all_modes) run_scenario(bad_input, NULL);
}

/* ---- stress ---- */

static void *hopping_body(weft_gen *g, void *arg)
{
    intptr_t n = (intptr_t)arg;
    for (intptr_t i = 0; i < n; i++) {
        if (i % 3 == 0 && weft_yield() != 0)
            return WEFT_ERR(ECANCELED);
        if (i % 7 == 0 && weft_sleep(unit() / 1000) != 0)
            return WEFT_ERR(ECANCELED);
        if (weft_gen_yield(g, ITEM(i)) != 0)
            return NULL;
    }
    return NULL;
}

static void *stress_consumer(void *arg)
{
    intptr_t n = (intptr_t)arg;
    weft_gen *g = weft_gen_create(hopping_body, ITEM(n));
    void *v;
    intptr_t expect = 0;
    int rc;
    while ((rc = weft_gen_next(g, &v)) == 0) {
        check((intptr_t)v == expect);
        expect++;
        if (expect % 5 == 0)
            check(weft_yield() == 0);
    }
    check(rc == ENODATA && expect == n);
    weft_gen_destroy(g);
    /* And one closed half-way. */
    g = weft_gen_create(hopping_body, ITEM(n));
    for (intptr_t i = 0; i < n / 2; i++)
        check(weft_gen_next(g, &v) == 0 && (intptr_t)v == i);
    weft_gen_destroy(g);
    return NULL;
}

static void *stress(void *arg)
{
    (void)arg;
    int consumers = (int)(200 * stress_scale());
    weft_task **t = malloc((size_t)consumers * sizeof *t);
    for (int i = 0; i < consumers; i++)
        t[i] = weft_spawn(stress_consumer, ITEM(50));
    check(weft_gather(t, (size_t)consumers, NULL, 0) == 0);
    for (int i = 0; i < consumers; i++)
        weft_task_release(t[i]);
    free(t);
    return (void *)1;
}

static void test_stress(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(stress, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_values_in_order),
        cmocka_unit_test(test_body_error),
        cmocka_unit_test(test_body_awaits_suspend_consumer),
        cmocka_unit_test(test_several_drivers),
        cmocka_unit_test(test_body_drives_itself),
        cmocka_unit_test(test_close),
        cmocka_unit_test(test_close_ignored),
        cmocka_unit_test(test_consumer_cancelled),
        cmocka_unit_test(test_throw),
        cmocka_unit_test(test_nested),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_stress),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
