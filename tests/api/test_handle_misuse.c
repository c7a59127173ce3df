/*
 * A handle used after its end aborts with a message naming the call, in
 * every build: a task handle released twice, or awaited, cancelled or
 * gathered after its release; a queue, event, lock or semaphore used after
 * destroy; a pointer that was never a handle. Each misuse runs in a forked
 * child (tests/child.h) at 1 and 2 workers under virtual time; the child
 * must die by SIGABRT with "weft: <call>: ..." on stderr.
 *
 * The cases below keep the handle's memory alive (a task still running, a
 * waiter still inside the queue), so they hold under AddressSanitizer and
 * valgrind too. The cases whose memory has been freed are checked only in
 * builds without them: there ASan and valgrind report the read of freed
 * memory first, which is the better report.
 */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "../child.h"
#include "../harness.h"

/* ---- running a misuse in a child ---- */

struct misuse {
    void *(*main)(void *);
    unsigned workers;
};

static void run_misuse(void *arg)
{
    const struct misuse *m = arg;
    const weft_config cfg = {.workers = m->workers, .virtual_time = true};
    weft_run(m->main, NULL, &cfg);
}

/* Run main in a child at 1 and 2 workers; it must abort, saying `message`. */
static void expect_misuse(void *(*main_fn)(void *), const char *message)
{
    for (unsigned workers = 1; workers <= 2; workers++) {
        struct misuse m = {main_fn, workers};
        int status = 0;
        char *text = run_child(run_misuse, &m, &status);
        if (!child_aborted(status) || !strstr(text, message))
            fail_msg("workers=%u: expected an abort saying \"%s\"; got %s %d, stderr:\n%s", workers,
                     message, WIFSIGNALED(status) ? "signal" : "exit status",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), text);
        free(text);
    }
}

static void skip_if_memory_checked(void)
{
    if (UNDER_SANITIZER || RUNNING_ON_VALGRIND)
        skip();
}

/* ---- tasks ---- */

static weft_task *spawn_released_sleeper(void)
{
    weft_task *t = weft_spawn(sleep_until_cancelled, NULL);
    weft_task_release(t); /* the runtime's reference keeps it alive */
    return t;
}

static void *release_twice(void *arg)
{
    (void)arg;
    weft_task_release(spawn_released_sleeper());
    return NULL;
}

static void *await_released(void *arg)
{
    (void)arg;
    weft_await(spawn_released_sleeper());
    return NULL;
}

static void *cancel_released(void *arg)
{
    (void)arg;
    weft_cancel(spawn_released_sleeper());
    return NULL;
}

static void *gather_released(void *arg)
{
    (void)arg;
    weft_task *t[2] = {weft_spawn(return_arg, NULL), spawn_released_sleeper()};
    weft_gather(t, 2, NULL, 0);
    return NULL;
}

static void *result_of_released(void *arg)
{
    (void)arg;
    weft_task_result(spawn_released_sleeper());
    return NULL;
}

static void test_released_task(void **state)
{
    (void)state;
    expect_misuse(release_twice, "weft: weft_task_release: task handle already released");
    expect_misuse(await_released, "weft: weft_await: task handle already released");
    expect_misuse(cancel_released, "weft: weft_cancel: task handle already released");
    expect_misuse(gather_released, "weft: weft_gather: task handle already released");
    expect_misuse(result_of_released, "weft: weft_task_result: task handle already released");
}

/* The task's memory has gone back to the runtime: the freed word. */
static void *await_finished_and_released(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn(return_arg, NULL);
    weft_await(t);
    weft_task_release(t);
    weft_await(t);
    return NULL;
}

static void test_finished_released_task(void **state)
{
    (void)state;
    skip_if_memory_checked();
    expect_misuse(await_finished_and_released, "weft: weft_await: task handle already released");
}

/* A task's own handle stays usable by the task after its owner let go. */
static void *uses_itself(void *arg)
{
    int *steps = arg;
    yield_until(steps, 1); /* released by now */
    weft_task *me = weft_task_current();
    check(!weft_task_done(me) && !weft_task_cancelled(me));
    check(weft_error(weft_task_result(me)) == EAGAIN);
    bump(steps);
    return NULL;
}

static void *release_then_self_use(void *arg)
{
    (void)arg;
    int steps = 0;
    weft_task_release(weft_spawn(uses_itself, &steps));
    bump(&steps);
    yield_until(&steps, 2);
    return (void *)1;
}

static void test_own_handle_after_release(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    run_scenario(release_then_self_use, NULL);
}

/* ---- objects destroyed while a waiter keeps their memory ---- */

static void *get_one(void *q)
{
    void *item;
    weft_queue_get(q, &item);
    return NULL;
}

static void *queue_after_destroy(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(0);
    weft_task_release(weft_spawn(get_one, q));
    settle(); /* the getter waits inside weft_queue_get */
    weft_queue_destroy(q);
    weft_queue_put_nowait(q, NULL);
    return NULL;
}

static void *wait_event(void *e)
{
    weft_event_wait(e);
    return NULL;
}

static void *event_after_destroy(void *arg)
{
    (void)arg;
    weft_event *e = weft_event_create();
    weft_task_release(weft_spawn(wait_event, e));
    settle();
    weft_event_destroy(e);
    weft_event_set(e);
    return NULL;
}

static void *acquire_lock(void *l)
{
    weft_lock_acquire(l);
    return NULL;
}

static void *lock_after_destroy(void *arg)
{
    (void)arg;
    weft_lock *l = weft_lock_create();
    weft_lock_acquire(l);
    weft_task_release(weft_spawn(acquire_lock, l));
    settle();
    weft_lock_destroy(l);
    weft_lock_release(l);
    return NULL;
}

static void *acquire_sem(void *s)
{
    weft_sem_acquire(s);
    return NULL;
}

static void *sem_after_destroy(void *arg)
{
    (void)arg;
    weft_sem *s = weft_sem_create(0);
    weft_task_release(weft_spawn(acquire_sem, s));
    settle();
    weft_sem_destroy(s);
    weft_sem_release(s);
    return NULL;
}

static void test_destroyed_object(void **state)
{
    (void)state;
    expect_misuse(queue_after_destroy, "weft: weft_queue_put_nowait: queue handle already destroyed");
    expect_misuse(event_after_destroy, "weft: weft_event_set: event handle already destroyed");
    expect_misuse(lock_after_destroy, "weft: weft_lock_release: lock handle already destroyed");
    expect_misuse(sem_after_destroy, "weft: weft_sem_release: semaphore handle already destroyed");
}

/* ---- objects whose memory has been freed ---- */

static void *queue_destroy_twice(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(0);
    weft_queue_destroy(q);
    weft_queue_destroy(q);
    return NULL;
}

static void *yield_one(weft_gen *g, void *arg)
{
    weft_gen_yield(g, arg);
    return NULL;
}

static void *gen_after_destroy(void *arg)
{
    (void)arg;
    weft_gen *g = weft_gen_create(yield_one, NULL);
    void *value;
    weft_gen_next(g, &value);
    weft_gen_destroy(g);
    weft_gen_next(g, &value);
    return NULL;
}

static void *timeout_after_exit(void *arg)
{
    (void)arg;
    weft_timeout *tm = weft_timeout_enter(WEFT_FOREVER);
    weft_timeout_exit(tm);
    weft_timeout_expired(tm);
    return NULL;
}

static void *group_after_wait(void *arg)
{
    (void)arg;
    weft_group *g = weft_group_create();
    weft_group_wait(g);
    weft_group_spawn(g, return_arg, NULL);
    return NULL;
}

static void *executor_after_shutdown(void *arg)
{
    (void)arg;
    weft_executor *ex = weft_executor_create(1);
    weft_executor_shutdown(ex);
    weft_executor_submit(ex, return_arg, NULL);
    return NULL;
}

static void test_freed_object(void **state)
{
    (void)state;
    skip_if_memory_checked();
    expect_misuse(queue_destroy_twice, "weft: weft_queue_destroy: queue handle already destroyed");
    expect_misuse(gen_after_destroy, "weft: weft_gen_next: generator handle already destroyed");
    expect_misuse(timeout_after_exit, "weft: weft_timeout_expired: timeout handle already destroyed");
    expect_misuse(group_after_wait, "weft: weft_group_spawn: task group handle already destroyed");
    expect_misuse(executor_after_shutdown,
                  "weft: weft_executor_submit: executor handle already destroyed");
}

/* ---- never a handle ---- */

static _Alignas(64) char junk[512]; /* zeroes: no live word */

static void *junk_queue(void *arg)
{
    (void)arg;
    weft_queue_size((weft_queue *)junk);
    return NULL;
}

static void *junk_task(void *arg)
{
    (void)arg;
    weft_task_done((weft_task *)junk);
    return NULL;
}

static void test_not_a_handle(void **state)
{
    (void)state;
    expect_misuse(junk_queue, "weft: weft_queue_size: not a live queue handle");
    expect_misuse(junk_task, "weft: weft_task_done: not a live task handle");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_released_task),
        cmocka_unit_test(test_finished_released_task),
        cmocka_unit_test(test_own_handle_after_release),
        cmocka_unit_test(test_destroyed_object),
        cmocka_unit_test(test_freed_object),
        cmocka_unit_test(test_not_a_handle),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
