/*
 * weft_gather (asyncio.gather): results in input order whatever the order
 * of completion; the first failure returned as soon as it happens, nobody
 * cancelled, the others finishing on their own; a child cancelled by someone
 * else counting as a failure; WEFT_RETURN_EXCEPTIONS waiting for all, with
 * failures as WEFT_ERR entries; the caller cancelled (every child cancelled,
 * their cleanup run; a child swallowing the cancellation does not hide it);
 * tasks listed twice; tasks already done; n = 0; bad arguments; and a
 * gather of many tasks.
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
#include <string.h>

#include "../harness.h"

/* Sleeps `delay`, then returns `value` or fails with `fail`. Cancelled, it
 * cleans up with an await and ends cancelled, or with `value` if it
 * swallows the cancellation. */
struct job {
    double delay;
    int fail;
    intptr_t value;
    bool swallow;
    int cancelled;
    int cleaned;
};

static void *job(void *arg)
{
    struct job *j = arg;
    int rc = weft_sleep(j->delay);
    if (rc) {
        check(rc == ECANCELED);
        bump(&j->cancelled);
        check(weft_sleep(0.25) == 0);
        bump(&j->cleaned);
        return j->swallow ? (void *)j->value : WEFT_ERR(ECANCELED);
    }
    return j->fail ? weft_fail(j->fail, "job %d", (int)j->value) : (void *)j->value;
}

static void spawn_jobs(weft_task *t[], struct job j[], int n)
{
    for (int i = 0; i < n; i++)
        t[i] = weft_spawn(job, &j[i]);
}

static void release_all(weft_task *t[], int n)
{
    for (int i = 0; i < n; i++)
        weft_task_release(t[i]);
}

/* ---- results in input order ---- */

static void *ordered(void *arg)
{
    (void)arg;
    struct job j[4] = {
        {4, 0, 40, 0, 0, 0}, {1, 0, 10, 0, 0, 0}, {3, 0, 30, 0, 0, 0}, {2, 0, 20, 0, 0, 0}};
    weft_task *t[4];
    void *r[4] = {0};
    spawn_jobs(t, j, 4);
    check(weft_gather(t, 4, r, 0) == 0);
    check(at(4));
    for (int i = 0; i < 4; i++)
        check(r[i] == (void *)j[i].value);
    /* Again, all done now: no time passes, same results. */
    void *again[4] = {0};
    check(weft_gather(t, 4, again, 0) == 0);
    check(at(4));
    check(memcmp(r, again, sizeof r) == 0);
    /* results may be NULL. */
    check(weft_gather(t, 4, NULL, 0) == 0);
    release_all(t, 4);
    return (void *)1;
}

static void test_gather_ordered(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(ordered, NULL);
}

/* ---- tasks listed twice ---- */

static void *duplicates(void *arg)
{
    (void)arg;
    struct job j[2] = {{2, 0, 7, 0, 0, 0}, {1, 0, 8, 0, 0, 0}};
    weft_task *t[2];
    spawn_jobs(t, j, 2);
    weft_task *list[5] = {t[0], t[1], t[0], t[0], t[1]};
    void *r[5] = {0};
    check(weft_gather(list, 5, r, 0) == 0);
    check(at(2));
    check(r[0] == (void *)7 && r[1] == (void *)8 && r[2] == (void *)7 && r[3] == (void *)7 &&
          r[4] == (void *)8);
    /* A failing task listed twice fails the gather once. */
    struct job bad = {1, EIO, 1, 0, 0, 0};
    weft_task *b = weft_spawn(job, &bad);
    weft_task *twice[3] = {b, t[0], b};
    check(weft_gather(twice, 3, r, 0) == EIO);
    check(weft_gather(twice, 3, r, WEFT_RETURN_EXCEPTIONS) == 0);
    check(weft_error(r[0]) == EIO && r[1] == (void *)7 && weft_error(r[2]) == EIO);
    weft_task_release(b);
    release_all(t, 2);
    return (void *)1;
}

static void test_gather_duplicates(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(duplicates, NULL);
}

/* ---- the first failure, as soon as it happens, cancelling nobody ---- */

static void *first_failure(void *arg)
{
    (void)arg;
    struct job j[4] = {
        {3, 0, 1, 0, 0, 0}, {1, EIO, 2, 0, 0, 0}, {2, ENOSPC, 3, 0, 0, 0}, {4, 0, 4, 0, 0, 0}};
    weft_task *t[4];
    void *r[4] = {(void *)-1, (void *)-1, (void *)-1, (void *)-1};
    spawn_jobs(t, j, 4);
    check(weft_gather(t, 4, r, 0) == EIO);
    check(at(1));
    for (int i = 0; i < 4; i++)
        check(r[i] == (void *)-1); /* untouched on failure */
    check(!weft_task_done(t[0]) && !weft_task_done(t[3]));
    /* The others run to their own end. */
    check(weft_sleep(5) == 0);
    check(weft_task_result(t[0]) == (void *)1);
    check(weft_error(weft_task_result(t[2])) == ENOSPC);
    check(weft_task_result(t[3]) == (void *)4);
    for (int i = 0; i < 4; i++)
        check(j[i].cancelled == 0);
    check(strcmp(weft_task_message(t[1]), "job 2") == 0);
    release_all(t, 4);
    return (void *)1;
}

static void test_gather_first_failure(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(first_failure, NULL);
}

/* ---- a child cancelled by someone else ---- */

static void *cancel_later(void *t)
{
    check(weft_sleep(1) == 0);
    check(weft_cancel(t));
    return NULL;
}

static void *child_cancelled(void *arg)
{
    (void)arg;
    struct job j[2] = {{5, 0, 1, 0, 0, 0}, {5, 0, 2, 0, 0, 0}};
    weft_task *t[2];
    void *r[2];
    spawn_jobs(t, j, 2);
    weft_task *c = weft_spawn(cancel_later, t[1]);
    check(weft_gather(t, 2, r, 0) == ECANCELED);
    check(at(1.25)); /* when that child ended cancelled */
    check(!weft_task_done(t[0]) && j[0].cancelled == 0);
    check(weft_error(weft_await(t[0])) == 0);

    /* Returning exceptions, it is an entry like any failure. */
    struct job k[2] = {{5, 0, 1, 0, 0, 0}, {5, 0, 2, 0, 0, 0}};
    weft_task *u[2];
    spawn_jobs(u, k, 2);
    weft_task *d = weft_spawn(cancel_later, u[0]);
    check(weft_gather(u, 2, r, WEFT_RETURN_EXCEPTIONS) == 0);
    check(weft_error(r[0]) == ECANCELED && r[1] == (void *)2);
    check(at(10));
    release_all(t, 2);
    release_all(u, 2);
    weft_task_release(c);
    weft_task_release(d);
    return (void *)1;
}

static void test_gather_child_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(child_cancelled, NULL);
}

/* ---- WEFT_RETURN_EXCEPTIONS ---- */

static void *return_exceptions(void *arg)
{
    (void)arg;
    struct job j[3] = {{1, EIO, 1, 0, 0, 0}, {3, 0, 2, 0, 0, 0}, {2, EPIPE, 3, 0, 0, 0}};
    weft_task *t[3];
    void *r[3];
    spawn_jobs(t, j, 3);
    check(weft_gather(t, 3, r, WEFT_RETURN_EXCEPTIONS) == 0);
    check(at(3)); /* waited for all */
    check(weft_error(r[0]) == EIO && r[1] == (void *)2 && weft_error(r[2]) == EPIPE);
    check(weft_gather(t, 3, r, 0) == EIO); /* without the flag, on the same tasks */
    release_all(t, 3);
    return (void *)1;
}

static void test_gather_return_exceptions(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(return_exceptions, NULL);
}

/* ---- the caller cancelled ---- */

struct gatherer {
    struct job j[3];
    int flags;
    int result;
    double returned_at;
    weft_task *t[3];
};

static void *gatherer(void *arg)
{
    struct gatherer *g = arg;
    spawn_jobs(g->t, g->j, 3);
    g->result = weft_gather(g->t, 3, NULL, g->flags);
    g->returned_at = weft_now();
    return WEFT_ERR(g->result);
}

static void *caller_cancelled(void *arg)
{
    struct gatherer *g = arg;
    weft_task *t = weft_spawn(gatherer, g);
    check(weft_sleep(1) == 0);
    check(weft_cancel(t));
    check(weft_error(weft_await(t)) == ECANCELED);
    check(weft_task_cancelled(t));
    check(g->result == ECANCELED);
    for (int i = 0; i < 3; i++) {
        /* Every child was cancelled and ran its cleanup. asyncio returns as
         * soon as the first child has ended cancelled, or, returning
         * exceptions, once all have. */
        check(weft_error(weft_await(g->t[i])) == (g->j[i].swallow ? 0 : ECANCELED));
        check(g->j[i].cancelled == 1 && g->j[i].cleaned == 1);
        weft_task_release(g->t[i]);
    }
    check(fabs(g->returned_at - 1.25) < 1e-9);
    weft_task_release(t);
    return (void *)1;
}

static void test_gather_caller_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        for (int flags = 0; flags <= WEFT_RETURN_EXCEPTIONS; flags++) {
            struct gatherer g = {.j = {{5, 0, 1, 0, 0, 0}, {6, 0, 2, 0, 0, 0}, {7, 0, 3, 0, 0, 0}},
                                 .flags = flags};
            run_scenario(caller_cancelled, &g);
            /* A child that swallows the cancellation does not hide it: the
             * gather was cancelled (asyncio's _cancel_requested). */
            struct gatherer s = {
                .j = {{5, 0, 1, true, 0, 0}, {6, 0, 2, true, 0, 0}, {7, 0, 3, true, 0, 0}},
                .flags = flags};
            run_scenario(caller_cancelled, &s);
        }
    }
}

/* ---- nothing to gather; bad arguments ---- */

static void *bad_arguments(void *arg)
{
    (void)arg;
    struct job j = {1, 0, 1, 0, 0, 0};
    weft_task *t = weft_spawn(job, &j);
    void *r[2] = {(void *)-1, (void *)-1};
    check(weft_gather(NULL, 0, NULL, 0) == 0);
    check(weft_gather(&t, 0, r, 0) == 0 && r[0] == (void *)-1);
    check(at(0));
    check(weft_gather(NULL, 1, r, 0) == EINVAL);
    weft_task *with_null[2] = {t, NULL};
    check(weft_gather(with_null, 2, r, 0) == EINVAL);
    check(weft_gather(&t, 1, r, 4) == EINVAL);
    weft_task *me = weft_task_current();
    weft_task *with_self[2] = {t, me};
    check(weft_gather(with_self, 2, r, 0) == EDEADLK);
    check(at(0));
    check(weft_gather(&t, 1, r, 0) == 0 && r[0] == (void *)1);
    weft_task_release(t);
    return (void *)1;
}

static void test_gather_bad_arguments(void **state)
{
    (void)state;
    assert_int_equal(weft_gather(NULL, 0, NULL, 0), EPERM);
    FOR_EACH_MODE(virtual_modes)
    run_scenario(bad_arguments, NULL);
}

/* ---- many ---- */

static void *square(void *arg)
{
    intptr_t i = (intptr_t)arg;
    if (weft_yield())
        return WEFT_ERR(ECANCELED);
    return (void *)(i * i);
}

static void *many(void *arg)
{
    int n = *(int *)arg;
    weft_task **t = malloc((size_t)n * sizeof *t);
    void **r = malloc((size_t)n * sizeof *r);
    if (!t || !r) {
        free(t);
        free(r);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        t[i] = weft_spawn(square, (void *)(intptr_t)i);
    check(weft_gather(t, (size_t)n, r, 0) == 0);
    for (int i = 0; i < n; i++) {
        check(r[i] == (void *)((intptr_t)i * i));
        weft_task_release(t[i]);
    }
    free(t);
    free(r);
    return (void *)1;
}

static void test_gather_many(void **state)
{
    (void)state;
    int n = stress_count(3000, 4000);
    FOR_EACH_MODE(virtual_modes)
    run_scenario(many, &n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gather_ordered),
        cmocka_unit_test(test_gather_duplicates),
        cmocka_unit_test(test_gather_first_failure),
        cmocka_unit_test(test_gather_child_cancelled),
        cmocka_unit_test(test_gather_return_exceptions),
        cmocka_unit_test(test_gather_caller_cancelled),
        cmocka_unit_test(test_gather_bad_arguments),
        cmocka_unit_test(test_gather_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
