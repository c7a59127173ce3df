/*
 * Tasks: weft_spawn and weft_await (a value, an error, an already finished
 * task, many awaiters, chains), the weft_task_* accessors before and after a
 * task ends, weft_task_current, weft_task_release (the task keeps running),
 * weft_fail and weft_task_message, and the misuse answers inside a task
 * (EDEADLK, EINVAL).
 *
 * Scenarios run as tasks, where cmocka's asserts (a longjmp) must not be
 * used: they record what went wrong with check(), and the test fails after
 * weft_run, naming the mode, if any check did. Every scenario runs
 * single-threaded and with 2 and 4 workers (more than the machine's cores),
 * with virtual time and on the real clock.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"

/* ---- spawn and await ---- */

static void *times_three(void *arg)
{
    const intptr_t i = (intptr_t)arg;

    if (i % 3 == 1)
        check(weft_yield() == 0);
    else if (i % 3 == 2)
        check(weft_sleep(0.001 * (double)(i % 5)) == 0);
    return (void *)(i * 3);
}

static void *spawn_and_await_many(void *arg)
{
    enum { N = 200 };
    weft_task *t[N];

    (void)arg;
    for (intptr_t i = 0; i < N; i++)
        check((t[i] = weft_spawn(times_three, (void *)i)) != NULL);
    for (intptr_t i = N; i-- > 0;) {
        check(weft_await(t[i]) == (void *)(i * 3));
        check(weft_task_done(t[i]));
        check(!weft_task_cancelled(t[i]));
        check(weft_task_result(t[i]) == (void *)(i * 3));
        check(weft_task_message(t[i]) == NULL);
        weft_task_release(t[i]);
    }
    return (void *)1;
}

static void test_spawn_and_await_values(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    expect(run_in_mode(spawn_and_await_many, NULL) == (void *)1);
}

static void *round_trip_values(void *arg)
{
    static int object;
    void *const values[] = {NULL, &object, (void *)(intptr_t)-4096, (void *)(uintptr_t)1};

    (void)arg;
    for (size_t i = 0; i < sizeof values / sizeof values[0]; i++) {
        weft_task *t = weft_spawn(return_arg, values[i]);
        void *r = weft_await(t);
        check(r == values[i]);
        check(weft_error(r) == 0);
        check(weft_task_result(t) == values[i]);
        check(weft_task_message(t) == NULL);
        weft_task_release(t);
    }
    return (void *)1;
}

static void test_await_round_trips_any_value(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    expect(run_in_mode(round_trip_values, NULL) == (void *)1);
}

/* A chain of tasks, each spawning and awaiting the next. */
static void *chain(void *arg)
{
    const intptr_t depth = (intptr_t)arg;

    if (depth == 0)
        return (void *)0;
    check(weft_yield() == 0);
    weft_task *t = weft_spawn(chain, (void *)(depth - 1));
    void *r = weft_await(t);
    weft_task_release(t);
    return (void *)((intptr_t)r + 1);
}

static void test_await_chain(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    expect(run_in_mode(chain, (void *)200) == (void *)200);
}

/* ---- errors ---- */

static void *fail_plain(void *arg)
{
    check(weft_yield() == 0);
    return WEFT_ERR((intptr_t)arg);
}

static void *fail_with_message(void *arg)
{
    (void)arg;
    check(weft_yield() == 0);
    return weft_fail(EIO, "reading %s at offset %d", "data.bin", 4096);
}

static void *fail_twice(void *arg)
{
    (void)arg;
    weft_fail(EIO, "first");
    check(weft_yield() == 0);
    return weft_fail(EPROTO, "second, %s", "final");
}

static void *fail_then_succeed(void *arg)
{
    (void)arg;
    weft_fail(EIO, "not raised after all");
    check(weft_yield() == 0);
    return (void *)5;
}

static char long_text[3000];

static void *fail_long(void *arg)
{
    (void)arg;
    return weft_fail(E2BIG, "%s", long_text);
}

static void *errors(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn(fail_plain, (void *)(intptr_t)ENOENT);
    check(weft_error(weft_await(t)) == ENOENT);
    check(weft_task_done(t));
    check(!weft_task_cancelled(t));
    check(weft_error(weft_task_result(t)) == ENOENT);
    check(weft_task_message(t) && strcmp(weft_task_message(t), strerror(ENOENT)) == 0);
    check(weft_error(weft_await(t)) == ENOENT); /* awaiting again gives the same */
    weft_task_release(t);

    t = weft_spawn(fail_with_message, NULL);
    check(weft_error(weft_await(t)) == EIO);
    check(weft_error(weft_task_result(t)) == EIO);
    check(weft_task_message(t) &&
          strcmp(weft_task_message(t), "reading data.bin at offset 4096") == 0);
    weft_task_release(t);

    t = weft_spawn(fail_twice, NULL);
    check(weft_error(weft_await(t)) == EPROTO);
    check(weft_task_message(t) && strcmp(weft_task_message(t), "second, final") == 0);
    weft_task_release(t);

    t = weft_spawn(fail_then_succeed, NULL);
    check(weft_await(t) == (void *)5);
    check(weft_task_message(t) == NULL); /* it did not fail */
    weft_task_release(t);

    t = weft_spawn(fail_long, NULL);
    check(weft_error(weft_await(t)) == E2BIG);
    const char *m = weft_task_message(t);
    check(m && strncmp(m, long_text, 200) == 0); /* may be truncated, never garbled */
    weft_task_release(t);

    /* main's own weft_fail is its message too, and weft_run returns the error */
    return weft_fail(EPERM, "main gives up");
}

static void test_errors_and_messages(void **state)
{
    (void)state;
    memset(long_text, 'x', sizeof long_text - 1);
    FOR_EACH_MODE(all_modes)
    expect(weft_error(run_in_mode(errors, NULL)) == EPERM);
}

/* ---- awaiting a finished task, and many awaiters ---- */

struct gate {
    int open;
    int waiting;
    weft_task *task;
};

static void *gate_task(void *arg)
{
    struct gate *g = arg;

    while (!load(&g->open))
        check(weft_yield() == 0);
    return (void *)77;
}

static void *gate_awaiter(void *arg)
{
    struct gate *g = arg;

    bump(&g->waiting);
    void *r = weft_await(g->task);
    check(weft_task_done(g->task));
    return r;
}

static void *await_finished_and_shared(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn(return_arg, (void *)11);
    while (!weft_task_done(t))
        check(weft_yield() == 0);
    check(weft_await(t) == (void *)11);
    check(weft_await(t) == (void *)11);
    weft_task_release(t);

    enum { N = 50 };
    struct gate g = {0};
    weft_task *w[N];
    g.task = weft_spawn(gate_task, &g);
    for (int i = 0; i < N; i++)
        w[i] = weft_spawn(gate_awaiter, &g);
    yield_until(&g.waiting, N);
    check(!weft_task_done(g.task));
    __atomic_store_n(&g.open, 1, __ATOMIC_RELEASE);
    check(weft_await(g.task) == (void *)77);
    for (int i = 0; i < N; i++) {
        check(weft_await(w[i]) == (void *)77);
        weft_task_release(w[i]);
    }
    weft_task_release(g.task);
    return (void *)1;
}

static void test_await_finished_and_many_awaiters(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    expect(run_in_mode(await_finished_and_shared, NULL) == (void *)1);
}

/* ---- accessors before a task ends ---- */

static void *accessors_while_running(void *arg)
{
    struct gate g = {0};

    (void)arg;
    weft_task *t = weft_spawn(gate_task, &g);
    for (int i = 0; i < 3; i++) {
        check(!weft_task_done(t));
        check(!weft_task_cancelled(t));
        check(weft_error(weft_task_result(t)) == EAGAIN);
        check(weft_task_message(t) == NULL);
        check(weft_yield() == 0);
    }
    __atomic_store_n(&g.open, 1, __ATOMIC_RELEASE);
    check(weft_await(t) == (void *)77);
    check(weft_task_done(t));
    check(weft_task_result(t) == (void *)77);
    weft_task_release(t);
    return (void *)1;
}

static void test_accessors_before_done(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    expect(run_in_mode(accessors_while_running, NULL) == (void *)1);
}

/* ---- weft_task_current ---- */

static void *report_current(void *arg)
{
    weft_task **slot = arg;
    weft_task *me = weft_task_current();

    check(me != NULL);
    for (int i = 0; i < 5; i++) {
        check(weft_sleep(i % 2 ? 0.001 : 0) == 0);
        check(weft_task_current() == me); /* it follows the task across workers */
    }
    *slot = me;
    return NULL;
}

static void *current_is_the_handle(void *arg)
{
    enum { N = 16 };
    weft_task *t[N], *seen[N] = {0};
    weft_task *me = weft_task_current();

    (void)arg;
    check(me != NULL);
    for (int i = 0; i < N; i++)
        t[i] = weft_spawn(report_current, &seen[i]);
    for (int i = 0; i < N; i++) {
        check(weft_await(t[i]) == NULL);
        check(seen[i] == t[i]);
        check(weft_task_current() == me);
        weft_task_release(t[i]);
    }
    return (void *)1;
}

static void test_current(void **state)
{
    (void)state;
    assert_null(weft_task_current());
    FOR_EACH_MODE(all_modes)
    {
        expect(run_in_mode(current_is_the_handle, NULL) == (void *)1);
        expect(weft_task_current() == NULL);
    }
}

/* ---- weft_task_release: the task keeps running ---- */

struct released {
    int started, finished;
};

static void *released_worker(void *arg)
{
    struct released *r = arg;

    bump(&r->started);
    for (int i = 0; i < 3; i++)
        check(weft_yield() == 0);
    check(weft_sleep(0.001) == 0);
    bump(&r->finished);
    return NULL;
}

static void *release_early(void *arg)
{
    enum { N = 100 };
    struct released *r = arg;

    for (int i = 0; i < N; i++) {
        weft_task *t = weft_spawn(released_worker, r);
        check(t != NULL);
        weft_task_release(t); /* before it ever ran, in single-thread mode */
    }
    /* The released tasks hold no handle anyone can await: wait for them by
     * their counter; sleeping lets the virtual clock move. */
    while (load(&r->finished) < N)
        check(weft_sleep(0.001) == 0);
    return (void *)1;
}

static void test_release_keeps_running(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct released r = {0};
        expect(run_in_mode(release_early, &r) == (void *)1);
        expect(r.started == 100 && r.finished == 100);
    }
}

/* ---- misuse inside a task ---- */

static void *misuse_inside(void *arg)
{
    (void)arg;
    check(weft_error(weft_await(weft_task_current())) == EDEADLK);
    check(weft_error(weft_await(NULL)) == EINVAL);
    errno = 0;
    check(weft_spawn(NULL, NULL) == NULL);
    check(errno == EINVAL);
    check(!weft_cancel(NULL));
    check(weft_sleep(NAN) == EINVAL);
    /* none of that hurt the task */
    check(weft_yield() == 0);
    check(weft_await(weft_spawn(return_arg, (void *)4)) == (void *)4);
    return (void *)1;
}

static void test_misuse_inside_task(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    expect(run_in_mode(misuse_inside, NULL) == (void *)1);
}

/* ---- idle workers take up work a busy one spawned ---- */

enum { SPREAD_CHILDREN = 8 };
static int spread_ran;

static void *count_run(void *arg)
{
    (void)arg;
    bump(&spread_ran);
    return NULL;
}

/* Spawns children and never awaits while they are due: only other workers
 * can run them, so they must be woken for work that appeared on a busy
 * worker's deque, every child after the first included: when a push onto a
 * non-empty deque skipped the wake-up check, a thief could take the item
 * that was there while the last searcher parked, and the new child waited
 * for its spinning owner. A lost wake-up hangs here, and ctest's timeout
 * fails the test. */
static void *spawn_then_spin(void *arg)
{
    (void)arg;
    weft_task *kids[SPREAD_CHILDREN];
    for (int i = 0; i < SPREAD_CHILDREN; i++)
        check((kids[i] = weft_spawn(count_run, NULL)) != NULL);
    while (load(&spread_ran) < SPREAD_CHILDREN)
        ; /* busy: this worker runs nothing else meanwhile */
    for (int i = 0; i < SPREAD_CHILDREN; i++) {
        check(weft_await(kids[i]) == NULL);
        weft_task_release(kids[i]);
    }
    return NULL;
}

static void *spread_main(void *arg)
{
    (void)arg;
    for (int round = 0; round < 200; round++) {
        __atomic_store_n(&spread_ran, 0, __ATOMIC_RELEASE);
        weft_task *t = weft_spawn(spawn_then_spin, NULL);
        check(t != NULL);
        check(weft_await(t) == NULL);
        weft_task_release(t);
        if (round % 2)
            check(weft_sleep(0.0001) == 0); /* let the other workers park */
    }
    return (void *)1;
}

static void test_work_spreads_from_a_busy_worker(void **state)
{
    (void)state;
    static const struct mode parallel_modes[] = {{2, false}, {4, false}, {2, true}, {4, true}};
    FOR_EACH_MODE(parallel_modes)
    expect(run_in_mode(spread_main, NULL) == (void *)1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spawn_and_await_values),
        cmocka_unit_test(test_await_round_trips_any_value),
        cmocka_unit_test(test_await_chain),
        cmocka_unit_test(test_errors_and_messages),
        cmocka_unit_test(test_await_finished_and_many_awaiters),
        cmocka_unit_test(test_accessors_before_done),
        cmocka_unit_test(test_current),
        cmocka_unit_test(test_release_keeps_running),
        cmocka_unit_test(test_misuse_inside_task),
        cmocka_unit_test(test_work_spreads_from_a_busy_worker),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
