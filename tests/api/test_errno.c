/*
 * weft_errno: the code a call that answers NULL leaves in the calling task,
 * readable after the task has moved to another worker, where errno (a
 * thread's own) may be another thread's. Each call documented as
 * "NULL + errno" sets it; a task's value is its own; outside a task it is
 * errno.
 *
 * Scenarios run as tasks in every mode; check() records failures.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>

#include "../harness.h"

static void *body(weft_gen *g, void *arg)
{
    (void)g;
    return arg;
}

/* Every call that reports through errno, made to fail with EINVAL; each
 * between awaits, so that in multi-thread mode the task has usually moved
 * to another worker before it reads weft_errno. */
static void *failing_calls(void *arg)
{
    (void)arg;
    int rounds = stress_count(200, 50);
    for (int i = 0; i < rounds; i++) {
        check(weft_yield() == 0);
        check(weft_spawn(NULL, NULL) == NULL && weft_errno() == EINVAL);
        check(weft_yield() == 0);
        check(weft_spawn_blocking(NULL, NULL) == NULL && weft_errno() == EINVAL);
        check(weft_yield() == 0);
        check(weft_executor_create(0) == NULL && weft_errno() == EINVAL);
        check(weft_yield() == 0);
        check(weft_executor_submit(NULL, return_arg, NULL) == NULL && weft_errno() == EINVAL);
        check(weft_yield() == 0);
        check(weft_gen_create(NULL, NULL) == NULL && weft_errno() == EINVAL);
        check(weft_yield() == 0);
        check(weft_group_spawn(NULL, return_arg, NULL) == NULL && weft_errno() == EINVAL);
        check(weft_yield() == 0);
        check(weft_timeout_enter(NAN) == NULL && weft_errno() == EINVAL);
        check(weft_yield() == 0);
        /* A success leaves the last error as it was, as errno does. */
        weft_gen *g = weft_gen_create(body, NULL);
        check(g != NULL && weft_errno() == EINVAL);
        weft_gen_destroy(g);
    }
    return (void *)1;
}

static void *never_fails(void *arg)
{
    int *go = arg;
    yield_until(go, 1);
    check(weft_errno() == 0);
    return NULL;
}

/* A task's weft_errno is its own: another task's failure does not show. */
static void *per_task(void *arg)
{
    (void)arg;
    int go = 0;
    weft_task *other = weft_spawn(never_fails, &go);
    check(weft_errno() == 0);
    check(weft_spawn(NULL, NULL) == NULL && weft_errno() == EINVAL);
    bump(&go);
    finish(other);
    check(weft_errno() == EINVAL);
    return (void *)1;
}

static void test_failing_calls(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    run_scenario(failing_calls, NULL);
}

static void test_per_task(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    run_scenario(per_task, NULL);
}

/* Outside a task there is no migration: weft_errno is errno. */
static void test_outside_a_task(void **state)
{
    (void)state;
    errno = 0;
    assert_null(weft_spawn(return_arg, NULL));
    assert_int_equal(weft_errno(), EPERM);
    assert_int_equal(errno, EPERM);
    assert_null(weft_gen_create(NULL, NULL));
    assert_int_equal(weft_errno(), EINVAL);
    assert_int_equal(errno, EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_failing_calls),
        cmocka_unit_test(test_per_task),
        cmocka_unit_test(test_outside_a_task),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
