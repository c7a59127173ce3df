/*
 * weft_run, asyncio.run's twin: main's result comes back, cfg may be NULL
 * (then WEFT_WORKERS and WEFT_VIRTUAL_TIME decide), a bad configuration is an
 * error and main never runs, weft_run inside a task is EBUSY, and when main
 * returns every task still alive is cancelled and run to completion: its
 * cleanup code runs, awaits included. Also the calls that are misused outside
 * any task (EPERM) and the WEFT_ERR/weft_error encoding.
 *
 * Scenarios run as tasks, where cmocka's asserts (a longjmp) must not be
 * used: they record what went wrong with check(), and the test fails after
 * weft_run, naming the mode, if any check did. Every behavioural scenario
 * runs single-threaded and with 2 and 4 workers (more than the machine's
 * cores), with virtual time, and most also on the real clock.
 */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"

/* ---- main's result ---- */

struct main_record {
    pthread_t thread;
    void *arg;
};

static void *record_and_return(void *arg)
{
    struct main_record *rec = arg;

    rec->thread = pthread_self();
    check(weft_task_current() != NULL);
    check(weft_yield() == 0);
    check(weft_sleep(0.001) == 0);
    return (char *)arg + 1;
}

static void *fail_with_eio(void *arg)
{
    (void)arg;
    check(weft_yield() == 0);
    return WEFT_ERR(EIO);
}

static void test_run_returns_main_result(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct main_record rec = {0};
        void *r = run_in_mode(record_and_return, &rec);
        expect(r == (char *)&rec + 1);
        if (mode.workers == 1)
            expect(pthread_equal(rec.thread, pthread_self())); /* runs on the calling thread */
        r = run_in_mode(fail_with_eio, NULL);
        expect(weft_error(r) == EIO);
    }
}

/* ---- cfg == NULL: the environment decides ---- */

static void *spawn_a_few(void *arg)
{
    weft_task *t[8];

    for (int i = 0; i < 8; i++)
        check((t[i] = weft_spawn(fail_with_eio, NULL)) != NULL);
    for (int i = 0; i < 8; i++) {
        check(weft_error(weft_await(t[i])) == EIO);
        weft_task_release(t[i]);
    }
    return arg;
}

static void *virtual_clock_from_env(void *arg)
{
    (void)arg;
    if (weft_now() != 0.0) {
        check(!"WEFT_VIRTUAL_TIME=1 with a NULL cfg gives a virtual clock starting at 0");
        return NULL;
    }
    check(weft_sleep(5) == 0);
    check(weft_now() == 5.0);
    return (void *)1;
}

static char *dup_env(const char *name)
{
    const char *v = getenv(name);
    return v ? strdup(v) : NULL;
}

static void restore_env(const char *name, char *value)
{
    if (value)
        setenv(name, value, 1);
    else
        unsetenv(name);
    free(value);
}

static void test_run_null_config(void **state)
{
    char *workers = dup_env("WEFT_WORKERS"), *virtual_time = dup_env("WEFT_VIRTUAL_TIME");
    int x;
    struct main_record rec = {0};

    (void)state;
    mode = (struct mode){0, false};
    unsetenv("WEFT_WORKERS");
    unsetenv("WEFT_VIRTUAL_TIME");
    check_failures = 0;
    assert_ptr_equal(weft_run(spawn_a_few, &x, NULL), &x);

    setenv("WEFT_WORKERS", "1", 1);
    assert_ptr_equal(weft_run(record_and_return, &rec, NULL), (char *)&rec + 1);
    assert_true(pthread_equal(rec.thread, pthread_self()));

    setenv("WEFT_WORKERS", "3", 1);
    assert_ptr_equal(weft_run(spawn_a_few, &x, NULL), &x);

    setenv("WEFT_VIRTUAL_TIME", "1", 1);
    assert_ptr_equal(weft_run(virtual_clock_from_env, NULL, NULL), (void *)1);
    setenv("WEFT_WORKERS", "1", 1);
    assert_ptr_equal(weft_run(virtual_clock_from_env, NULL, NULL), (void *)1);
    if (check_failures)
        fail_msg("%d failed checks, the first at %s", check_failures, check_first);

    restore_env("WEFT_WORKERS", workers);
    restore_env("WEFT_VIRTUAL_TIME", virtual_time);
}

/* ---- a bad configuration: an error, and main never runs ---- */

static int bad_main_ran;

static void *mark_ran(void *arg)
{
    bad_main_ran = 1;
    return arg;
}

static void test_run_bad_config(void **state)
{
    char *workers = dup_env("WEFT_WORKERS");
    weft_config cfg = {.workers = 1, .stack_size = SIZE_MAX};
    void *r;

    (void)state;
    unsetenv("WEFT_WORKERS");

    r = weft_run(NULL, NULL, NULL);
    assert_int_equal(weft_error(r), EINVAL);

    bad_main_ran = 0;
    r = weft_run(mark_ran, NULL, &cfg); /* a stack that cannot be rounded up to pages */
    assert_true(weft_error(r) == EINVAL || weft_error(r) == ENOMEM);
    assert_int_equal(bad_main_ran, 0);

    /* Too small is rounded up, as the header says, not refused. */
    for (size_t size = 1; size < 64 * 1024; size = size * 7 + 1) {
        cfg = (weft_config){.workers = 1, .stack_size = size};
        bad_main_ran = 0;
        r = weft_run(mark_ran, (void *)1, &cfg);
        assert_ptr_equal(r, (void *)1);
        assert_int_equal(bad_main_ran, 1);
    }

    cfg = (weft_config){.workers = UINT_MAX};
    bad_main_ran = 0;
    r = weft_run(mark_ran, NULL, &cfg);
    assert_int_not_equal(weft_error(r), 0);
    assert_int_equal(bad_main_ran, 0);

    setenv("WEFT_WORKERS", "lots", 1);
    r = weft_run(mark_ran, NULL, NULL);
    assert_int_equal(weft_error(r), EINVAL);
    assert_int_equal(bad_main_ran, 0);

    restore_env("WEFT_WORKERS", workers);

    /* And the runtime still works afterwards. */
    cfg = (weft_config){.workers = 2, .virtual_time = true};
    assert_ptr_equal(weft_run(mark_ran, &cfg, &cfg), &cfg);
    assert_int_equal(bad_main_ran, 1);
}

/* ---- weft_run inside a task: EBUSY ---- */

static int nested_main_ran;

static void *nested_main(void *arg)
{
    nested_main_ran = 1;
    return arg;
}

static void *run_again(void *arg)
{
    const weft_config cfg = mode_config();

    (void)arg;
    check(weft_error(weft_run(nested_main, NULL, &cfg)) == EBUSY);
    check(weft_error(weft_run(nested_main, NULL, NULL)) == EBUSY);
    check(weft_yield() == 0);
    return (void *)7;
}

static void *nested_runs(void *arg)
{
    weft_task *t = weft_spawn(run_again, NULL);

    check(run_again(arg) == (void *)7);
    check(t != NULL && weft_await(t) == (void *)7);
    weft_task_release(t);
    return (void *)8;
}

static void test_run_nested_is_ebusy(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        nested_main_ran = 0;
        expect(run_in_mode(nested_runs, NULL) == (void *)8);
        expect(nested_main_ran == 0);
    }
}

/* ---- leftover tasks: cancelled and run to completion when main returns ---- */

struct leftovers {
    int started; /* tasks that began their body */
    int sleepers_cancelled;
    int cleanup_awaited; /* cleanups whose own await went undisturbed */
    int spinners_cancelled;
    int gate_cancelled;
    int awaiter_cancelled;
    int swallower_done;
};

enum { N_SLEEPERS = 6, N_SPINNERS = 3 };

static void *leftover_sleeper(void *arg)
{
    struct leftovers *lo = arg;

    bump(&lo->started);
    if (weft_sleep(1e9) != ECANCELED) {
        check(!"a leftover sleeper woke up");
        return NULL;
    }
    bump(&lo->sleepers_cancelled);
    if (weft_sleep(0.001) == 0 && weft_yield() == 0)
        bump(&lo->cleanup_awaited);
    return WEFT_ERR(ECANCELED);
}

static void *leftover_spinner(void *arg)
{
    struct leftovers *lo = arg;

    bump(&lo->started);
    while (weft_yield() == 0)
        ;
    bump(&lo->spinners_cancelled);
    return WEFT_ERR(ECANCELED);
}

static void *leftover_gate(void *arg)
{
    struct leftovers *lo = arg;

    bump(&lo->started);
    if (weft_sleep(1e9) == ECANCELED)
        bump(&lo->gate_cancelled);
    return WEFT_ERR(ECANCELED);
}

struct awaiter_arg {
    struct leftovers *lo;
    weft_task *gate;
};

static void *leftover_awaiter(void *arg)
{
    struct awaiter_arg *a = arg;

    bump(&a->lo->started);
    void *r = weft_await(a->gate);
    check(weft_error(r) == ECANCELED);
    check(weft_task_done(a->gate)); /* resumes only once the awaited task finished */
    if (weft_error(r) == ECANCELED)
        bump(&a->lo->awaiter_cancelled);
    return r;
}

static void *leftover_swallower(void *arg)
{
    struct leftovers *lo = arg;

    bump(&lo->started);
    check(weft_sleep(1e9) == ECANCELED);
    check(weft_sleep(0.002) == 0);
    bump(&lo->swallower_done);
    return (void *)99;
}

static void *leave_leftovers(void *arg)
{
    static struct awaiter_arg a;
    struct leftovers *lo = arg;
    weft_task *t;

    for (int i = 0; i < N_SLEEPERS; i++) {
        t = weft_spawn(leftover_sleeper, lo);
        if (i % 2)
            weft_task_release(t); /* released handles are leftovers all the same */
    }
    for (int i = 0; i < N_SPINNERS; i++)
        weft_task_release(weft_spawn(leftover_spinner, lo));
    a = (struct awaiter_arg){lo, weft_spawn(leftover_gate, lo)};
    weft_spawn(leftover_awaiter, &a);
    weft_task_release(weft_spawn(leftover_swallower, lo));
    yield_until(&lo->started, N_SLEEPERS + N_SPINNERS + 3);
    return (void *)42;
}

static void test_run_cancels_leftovers(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct leftovers lo = {0};
        expect(run_in_mode(leave_leftovers, &lo) == (void *)42);
        expect(lo.sleepers_cancelled == N_SLEEPERS);
        expect(lo.cleanup_awaited == N_SLEEPERS);
        expect(lo.spinners_cancelled == N_SPINNERS);
        expect(lo.gate_cancelled == 1);
        expect(lo.awaiter_cancelled == 1);
        expect(lo.swallower_done == 1);
    }
}

/* A leftover chain: each task awaits the next, the last one sleeps. All of
 * them end, innermost first. */
struct chain {
    int depth, finished, order_ok;
    int next_to_finish;
};

static void *chain_link(void *arg)
{
    struct chain *c = arg;
    const int my_depth = __atomic_fetch_add(&c->depth, 1, __ATOMIC_ACQ_REL);
    void *r;

    if (my_depth < 20)
        r = weft_await(weft_spawn(chain_link, c));
    else
        r = weft_sleep(1e9) == ECANCELED ? WEFT_ERR(ECANCELED) : NULL;
    check(weft_error(r) == ECANCELED);
    check(__atomic_fetch_sub(&c->next_to_finish, 1, __ATOMIC_ACQ_REL) == my_depth);
    bump(&c->finished);
    return r;
}

static void *leave_a_chain(void *arg)
{
    struct chain *c = arg;

    weft_spawn(chain_link, c);
    yield_until(&c->depth, 21);
    return NULL;
}

static void test_run_cancels_leftover_chain(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        struct chain c = {.next_to_finish = 20};
        expect(run_in_mode(leave_a_chain, &c) == NULL);
        expect(c.finished == 21);
    }
}

/* ---- misuse outside any task ---- */

static void *never_called(void *arg)
{
    return arg;
}

static void check_outside_task(weft_task *some_task)
{
    errno = 0;
    check(weft_spawn(never_called, NULL) == NULL);
    check(errno == EPERM);
    check(weft_sleep(0.01) == EPERM);
    check(weft_sleep(0) == EPERM);
    check(weft_yield() == EPERM);
    check(weft_task_current() == NULL);
    if (some_task)
        check(weft_error(weft_await(some_task)) == EPERM);
    int e = weft_error(weft_await(NULL));
    check(e == EPERM || e == EINVAL);
    check(weft_error(weft_fail(EIO, "outside %d", 1)) == EIO);
    check(isfinite(weft_now()));
}

static void test_misuse_before_run(void **state)
{
    (void)state;
    mode = (struct mode){0, false};
    check_failures = 0;
    check_outside_task(NULL);
    assert_false(weft_cancel(NULL));
    if (check_failures)
        fail_msg("%d failed checks, the first at %s", check_failures, check_first);
}

static void *outside_thread(void *task)
{
    check_outside_task(task);
    return NULL;
}

static void *call_from_other_thread(void *arg)
{
    weft_task *t = weft_spawn(sleep_until_cancelled, NULL);
    pthread_t thread;

    (void)arg;
    check(pthread_create(&thread, NULL, outside_thread, t) == 0);
    check(pthread_join(thread, NULL) == 0);
    check(weft_cancel(t));
    check(weft_error(weft_await(t)) == ECANCELED);
    weft_task_release(t);
    return (void *)3;
}

static void test_misuse_from_foreign_thread(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    expect(run_in_mode(call_from_other_thread, NULL) == (void *)3);
}

/* ---- WEFT_ERR and weft_error ---- */

static void test_error_encoding(void **state)
{
    int x;

    (void)state;
    assert_int_equal(weft_error(NULL), 0);
    assert_int_equal(weft_error(&x), 0);
    assert_int_equal(weft_error((void *)1), 0);
    assert_int_equal(weft_error((void *)(intptr_t)-4096), 0);
    assert_int_equal(weft_error(WEFT_ERR(1)), 1);
    assert_int_equal(weft_error(WEFT_ERR(ECANCELED)), ECANCELED);
    assert_int_equal(weft_error(WEFT_ERR(ETIMEDOUT)), ETIMEDOUT);
    assert_int_equal(weft_error(WEFT_ERR(WEFT_MAX_ERRNO)), WEFT_MAX_ERRNO);
    assert_ptr_equal(WEFT_ERR(1), (void *)(intptr_t)-1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_error_encoding),
        cmocka_unit_test(test_misuse_before_run),
        cmocka_unit_test(test_run_returns_main_result),
        cmocka_unit_test(test_run_null_config),
        cmocka_unit_test(test_run_bad_config),
        cmocka_unit_test(test_run_nested_is_ebusy),
        cmocka_unit_test(test_run_cancels_leftovers),
        cmocka_unit_test(test_run_cancels_leftover_chain),
        cmocka_unit_test(test_misuse_from_foreign_thread),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
