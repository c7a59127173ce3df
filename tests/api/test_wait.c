/*
 * weft_wait (asyncio.wait): WEFT_ALL_COMPLETED, WEFT_FIRST_COMPLETED
 * (several tasks finishing together are all reported done) and
 * WEFT_FIRST_EXCEPTION (past successes; a cancelled task is not an
 * exception; a task already failed returns at once); a timeout that returns
 * 0 and cancels nobody; a zero timeout; the done[] snapshot (NULL allowed);
 * tasks listed twice; tasks already done; the caller cancelled while it
 * waits (ECANCELED, the tasks untouched); bad arguments; many tasks.
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

/* Sleeps `delay`, then returns `value` or fails with `fail`. */
struct job {
    double delay;
    int fail;
    intptr_t value;
};

static void *job(void *arg)
{
    const struct job *j = arg;
    int rc = weft_sleep(j->delay);
    if (rc)
        return WEFT_ERR(rc);
    return j->fail ? WEFT_ERR(j->fail) : (void *)j->value;
}

static void spawn_jobs(weft_task *t[], const struct job j[], int n)
{
    for (int i = 0; i < n; i++)
        t[i] = weft_spawn(job, (void *)&j[i]);
}

static void finish_all(weft_task *t[], int n)
{
    for (int i = 0; i < n; i++) {
        weft_await(t[i]);
        weft_task_release(t[i]);
    }
}

static bool done_is(const bool done[], const char *expected)
{
    for (size_t i = 0; expected[i]; i++)
        if (done[i] != (expected[i] == '1'))
            return false;
    return true;
}

/* ---- each `when` ---- */

static void *each_when(void *arg)
{
    (void)arg;
    static const struct job j[4] = {{3, 0, 1}, {1, 0, 2}, {1, 0, 3}, {2, 0, 4}};
    weft_task *t[4];
    bool done[4];
    spawn_jobs(t, j, 4);
    check(weft_wait(t, 4, WEFT_FIRST_COMPLETED, WEFT_FOREVER, done) == 0);
    check(at(1));
    /* Both that finished at 1; with other workers the second may still be
     * running when the first has released the waiter. */
    check(mode.workers == 1 ? done_is(done, "0110") : (done[1] || done[2]) && !done[0] && !done[3]);
    check(weft_wait(t, 4, WEFT_FIRST_EXCEPTION, WEFT_FOREVER, done) == 0);
    check(at(3)); /* no exception: it is ALL_COMPLETED */
    check(done_is(done, "1111"));
    /* All done already: no time passes whatever `when`. */
    for (int when = WEFT_ALL_COMPLETED; when <= WEFT_FIRST_EXCEPTION; when++) {
        memset(done, 0, sizeof done);
        check(weft_wait(t, 4, (enum weft_when)when, WEFT_FOREVER, done) == 0);
        check(done_is(done, "1111"));
    }
    check(at(3));
    for (int i = 0; i < 4; i++)
        check(weft_task_result(t[i]) == (void *)j[i].value);
    finish_all(t, 4);

    spawn_jobs(t, j, 4);
    check(weft_wait(t, 4, WEFT_ALL_COMPLETED, WEFT_FOREVER, NULL) == 0);
    check(at(6));
    finish_all(t, 4);
    return (void *)1;
}

static void test_wait_each_when(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(each_when, NULL);
}

/* ---- FIRST_EXCEPTION ---- */

static void *cancel_at(void *t)
{
    check(weft_sleep(1) == 0);
    check(weft_cancel(t));
    return NULL;
}

static void *first_exception(void *arg)
{
    (void)arg;
    static const struct job j[4] = {{1, 0, 1}, {3, EIO, 2}, {2, 0, 3}, {5, 0, 4}};
    weft_task *t[4];
    bool done[4];
    spawn_jobs(t, j, 4);
    /* A cancelled task is not an exception. */
    weft_task *c = weft_spawn(cancel_at, t[3]);
    check(weft_wait(t, 4, WEFT_FIRST_EXCEPTION, WEFT_FOREVER, done) == 0);
    check(at(3));
    check(done_is(done, "1111"));
    check(weft_task_cancelled(t[3]));
    /* Already failed: at once. */
    check(weft_wait(t, 4, WEFT_FIRST_EXCEPTION, WEFT_FOREVER, done) == 0);
    check(at(3));
    finish_all(t, 4);
    weft_task_release(c);

    static const struct job k[3] = {{1, EPIPE, 1}, {4, 0, 2}, {1, 0, 3}};
    spawn_jobs(t, k, 3);
    check(weft_wait(t, 3, WEFT_FIRST_EXCEPTION, WEFT_FOREVER, done) == 0);
    check(at(4));
    check(mode.workers == 1 ? done_is(done, "101") : done[0] && !done[1]);
    check(weft_error(weft_task_result(t[0])) == EPIPE);
    finish_all(t, 3);
    return (void *)1;
}

static void test_wait_first_exception(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(first_exception, NULL);
}

/* ---- timeouts cancel nobody ---- */

static void *timeouts(void *arg)
{
    (void)arg;
    static const struct job j[3] = {{1, 0, 1}, {3, 0, 2}, {4, 0, 3}};
    weft_task *t[3];
    bool done[3] = {true, true, true};
    spawn_jobs(t, j, 3);
    check(weft_wait(t, 3, WEFT_ALL_COMPLETED, 2, done) == 0);
    check(at(2));
    check(done_is(done, "100"));
    for (int i = 0; i < 3; i++)
        check(!weft_task_cancelled(t[i]));
    /* Zero: a look at the tasks after one turn of the loop. */
    check(weft_wait(t, 3, WEFT_FIRST_COMPLETED, 0, done) == 0);
    check(at(2));
    check(done_is(done, "100"));
    check(weft_wait(t, 3, WEFT_FIRST_EXCEPTION, 1.5, done) == 0);
    check(at(3.5));
    check(done_is(done, "110"));
    /* The timer of a wait that ended early does not fire later. */
    check(weft_wait(&t[2], 1, WEFT_ALL_COMPLETED, 100, done) == 0);
    check(at(4) && done[0]);
    check(weft_sleep(200) == 0);
    for (int i = 0; i < 3; i++)
        check(weft_task_result(t[i]) == (void *)j[i].value);
    finish_all(t, 3);
    return (void *)1;
}

static void test_wait_timeout(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(timeouts, NULL);
}

/* ---- tasks listed twice ---- */

static void *duplicates(void *arg)
{
    (void)arg;
    static const struct job j[2] = {{1, 0, 1}, {2, 0, 2}};
    weft_task *t[2];
    spawn_jobs(t, j, 2);
    weft_task *list[5] = {t[1], t[0], t[1], t[1], t[0]};
    bool done[5];
    check(weft_wait(list, 5, WEFT_FIRST_COMPLETED, WEFT_FOREVER, done) == 0);
    check(at(1));
    check(done_is(done, "01001"));
    check(weft_wait(list, 5, WEFT_ALL_COMPLETED, WEFT_FOREVER, done) == 0);
    check(at(2));
    check(done_is(done, "11111"));
    finish_all(t, 2);
    return (void *)1;
}

static void test_wait_duplicates(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(duplicates, NULL);
}

/* ---- the caller cancelled ---- */

struct waiter_run {
    weft_task *t[2];
    int result;
    bool done[2];
};

static void *waiter(void *arg)
{
    struct waiter_run *w = arg;
    w->result = weft_wait(w->t, 2, WEFT_ALL_COMPLETED, 10, w->done);
    return WEFT_ERR(w->result);
}

static void *caller_cancelled(void *arg)
{
    (void)arg;
    static const struct job j[2] = {{1, 0, 1}, {5, 0, 2}};
    struct waiter_run w = {.done = {true, true}};
    spawn_jobs(w.t, j, 2);
    weft_task *t = weft_spawn(waiter, &w);
    check(weft_sleep(2) == 0);
    check(weft_cancel(t));
    check(weft_error(weft_await(t)) == ECANCELED);
    check(at(2)); /* at once: wait waits for nobody's cleanup */
    check(w.result == ECANCELED);
    check(w.done[0] && !w.done[1]);
    check(!weft_task_done(w.t[1])); /* untouched */
    check(weft_await(w.t[1]) == (void *)2);
    check(at(5));
    weft_task_release(t);
    finish_all(w.t, 2);
    return (void *)1;
}

static void test_wait_caller_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(caller_cancelled, NULL);
}

/* ---- bad arguments ---- */

static void *bad_arguments(void *arg)
{
    (void)arg;
    static const struct job j = {1, 0, 1};
    weft_task *t = weft_spawn(job, (void *)&j);
    bool done[2];
    check(weft_wait(&t, 0, WEFT_ALL_COMPLETED, WEFT_FOREVER, done) == EINVAL);
    check(weft_wait(NULL, 1, WEFT_ALL_COMPLETED, WEFT_FOREVER, done) == EINVAL);
    weft_task *with_null[2] = {t, NULL};
    check(weft_wait(with_null, 2, WEFT_ALL_COMPLETED, WEFT_FOREVER, done) == EINVAL);
    check(weft_wait(&t, 1, (enum weft_when)7, WEFT_FOREVER, done) == EINVAL);
    check(weft_wait(&t, 1, WEFT_ALL_COMPLETED, NAN, done) == EINVAL);
    /* A timeout <= 0 has expired already: one turn of the loop, nothing done. */
    done[0] = true;
    check(weft_wait(&t, 1, WEFT_ALL_COMPLETED, -2, done) == 0 && !done[0]);
    done[0] = true;
    check(weft_wait(&t, 1, WEFT_ALL_COMPLETED, -INFINITY, done) == 0 && !done[0]);
    weft_task *with_self[2] = {t, weft_task_current()};
    check(weft_wait(with_self, 2, WEFT_ALL_COMPLETED, WEFT_FOREVER, done) == EDEADLK);
    check(at(0));
    check(weft_wait(&t, 1, WEFT_ALL_COMPLETED, WEFT_FOREVER, done) == 0 && done[0]);
    weft_task_release(t);
    return (void *)1;
}

static void test_wait_bad_arguments(void **state)
{
    (void)state;
    weft_task *none = NULL;
    assert_int_equal(weft_wait(&none, 1, WEFT_ALL_COMPLETED, WEFT_FOREVER, NULL), EPERM);
    FOR_EACH_MODE(virtual_modes)
    run_scenario(bad_arguments, NULL);
}

/* ---- many ---- */

static void *nap(void *arg)
{
    return weft_sleep((double)(intptr_t)arg / 1000) ? WEFT_ERR(ECANCELED) : arg;
}

static void *many(void *arg)
{
    int n = *(int *)arg;
    weft_task **t = malloc((size_t)n * sizeof *t);
    bool *done = malloc((size_t)n * sizeof *done);
    if (!t || !done) {
        free(t);
        free(done);
        return NULL;
    }
    for (int i = 0; i < n; i++)
        t[i] = weft_spawn(nap, (void *)(intptr_t)(n - i));
    check(weft_wait(t, (size_t)n, WEFT_FIRST_COMPLETED, WEFT_FOREVER, done) == 0);
    check(at(0.001));
    for (int i = 0; i < n; i++)
        check(done[i] == (i == n - 1));
    check(weft_wait(t, (size_t)n, WEFT_ALL_COMPLETED, WEFT_FOREVER, done) == 0);
    for (int i = 0; i < n; i++) {
        check(done[i]);
        weft_task_release(t[i]);
    }
    free(t);
    free(done);
    return (void *)1;
}

static void test_wait_many(void **state)
{
    (void)state;
    int n = stress_count(2000, 4000);
    FOR_EACH_MODE(virtual_modes)
    run_scenario(many, &n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wait_each_when),
        cmocka_unit_test(test_wait_first_exception),
        cmocka_unit_test(test_wait_timeout),
        cmocka_unit_test(test_wait_duplicates),
        cmocka_unit_test(test_wait_caller_cancelled),
        cmocka_unit_test(test_wait_bad_arguments),
        cmocka_unit_test(test_wait_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
