/*
 * The deadlock report explains: when no task can ever run again, weft
 * prints every task with what it waits on and the cycles of the wait-for
 * graph before it cancels main. Here a task that holds a lock awaits one
 * that waits for the lock: the report names both tasks of the cycle, the
 * lock's holder, and the functions they are blocked in, in every mode.
 */
#include <string.h>

#include "../harness.h"

static weft_lock *lock;

__attribute__((noinline)) static void *wants_the_lock(void *arg)
{
    (void)arg;
    int rc = weft_lock_acquire(lock);
    if (rc == 0)
        weft_lock_release(lock);
    return NULL;
}

__attribute__((noinline)) static void *holds_the_lock(void *arg)
{
    (void)arg;
    check(weft_lock_acquire(lock) == 0);
    weft_task *t = weft_spawn(wants_the_lock, NULL);
    check(weft_task_set_name(t, "waiter") == 0);
    weft_await(t); /* never done: it waits for our lock; cancelled at the deadlock */
    weft_task_release(t);
    weft_lock_release(lock);
    return NULL;
}

static void *cycle_main(void *arg)
{
    (void)arg;
    lock = weft_lock_create();
    weft_task *t = weft_spawn(holds_the_lock, NULL);
    check(weft_task_set_name(t, "holder") == 0);
    weft_await(t);
    weft_task_release(t);
    weft_lock_destroy(lock);
    return (void *)1;
}

/* The line of text that starts with `start`, without its newline; malloc'ed. */
static char *line_starting(const char *text, const char *start)
{
    for (const char *p = text; p && *p; p = strchr(p, '\n') ? strchr(p, '\n') + 1 : NULL) {
        if (strncmp(p, start, strlen(start)) == 0) {
            const char *end = strchr(p, '\n');
            return strndup(p, end ? (size_t)(end - p) : strlen(p));
        }
    }
    return NULL;
}

static void test_report_names_cycle_and_holder(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) {
        stderr_capture_begin();
        run_scenario(cycle_main, NULL);
        char *text = stderr_capture_end();
        expect(text != NULL);
        expect(strstr(text, "weft: deadlock: every task is waiting") != NULL);
        char *cycle = line_starting(text, "cycle: ");
        expect(cycle != NULL);
        /* task H (holder) -> task W (waiter) -> task H (holder), from either end */
        expect(strstr(cycle, "(holder) -> task ") && strstr(cycle, "(waiter) -> task "));
        expect(strstr(text, " held by task ") && strstr(strstr(text, " held by task "), "(holder)"));
        expect(strstr(text, "holds_the_lock") && strstr(text, "wants_the_lock"));
        free(cycle);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_report_names_cycle_and_holder),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
