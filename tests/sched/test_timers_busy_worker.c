/*
 * A timer due on a worker that is busy in a long task is fired by an idle
 * worker (multi-thread mode, real time). Each worker keeps its own timer
 * heap; before the watcher, a worker fired only its own, so a deadline on
 * a busy worker waited for the whole long task, while another worker slept.
 *
 * A task arms deadlines from its own worker (weft_timeout_enter pushes on
 * the running worker's heap) and then computes, never reaching an await
 * point, until weft_timeout_expired says the deadline fired: only another
 * worker can have fired it. The wait is bounded (BOUND_SECONDS) so that a
 * failure is reported, not a hang; nothing is measured.
 */
#include <errno.h>
#include <stdint.h>
#include <time.h>

#include "../harness.h"

#define BOUND_SECONDS 20.0

static double wall(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Compute until tm expires; false if it did not within the bound. */
static bool spin_until_expired(weft_timeout *tm)
{
    double give_up = wall() + BOUND_SECONDS;
    while (!weft_timeout_expired(tm))
        if (wall() > give_up)
            return false;
    return true;
}

struct busy {
    int rounds;
    double delay;
};

static void *busy_task(void *arg)
{
    const struct busy *b = arg;
    for (int i = 0; i < b->rounds; i++) {
        weft_timeout *tm = weft_timeout_enter(b->delay);
        check(tm != NULL);
        if (!tm)
            break;
        bool fired = spin_until_expired(tm);
        check(fired);
        check(weft_timeout_exit(tm) == (fired ? ETIMEDOUT : 0));
        if (!fired)
            break;
    }
    return (void *)1;
}

static void *busy_main(void *arg)
{
    weft_task *t = weft_spawn(busy_task, arg);
    check(weft_await(t) == (void *)1);
    weft_task_release(t);
    return (void *)1;
}

static const struct mode multi_real[] = {{2, false}, {4, false}};

/* One deadline on a worker that never comes back to its loop. */
static void test_one_deadline(void **state)
{
    (void)state;
    struct busy b = {.rounds = 1, .delay = 0.01};
    FOR_EACH_MODE(multi_real)
    run_scenario(busy_main, &b);
}

/* Deadline after deadline on the same busy worker: each new one becomes the
 * top of that worker's heap while the others sleep, and must wake one. */
static void test_deadline_after_deadline(void **state)
{
    (void)state;
    struct busy b = {.rounds = stress_count(50, 20), .delay = 0.002};
    FOR_EACH_MODE(multi_real)
    run_scenario(busy_main, &b);
}

/* Several busy tasks at once, fewer than the workers: every one of them
 * sees its deadline fire. */
static void *many_busy_main(void *arg)
{
    struct busy *b = arg;
    enum { MAX = 8 };
    weft_task *t[MAX];
    unsigned n = mode.workers - 1;
    for (unsigned i = 0; i < n; i++)
        t[i] = weft_spawn(busy_task, b);
    for (unsigned i = 0; i < n; i++) {
        check(weft_await(t[i]) == (void *)1);
        weft_task_release(t[i]);
    }
    return (void *)1;
}

static void test_many_busy(void **state)
{
    (void)state;
    struct busy b = {.rounds = stress_count(10, 5), .delay = 0.003};
    FOR_EACH_MODE(multi_real)
    run_scenario(many_busy_main, &b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_one_deadline),
        cmocka_unit_test(test_deadline_after_deadline),
        cmocka_unit_test(test_many_busy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
