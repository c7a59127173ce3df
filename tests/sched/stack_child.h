/*
 * For the tests of stack overflows, which must end the process: run a weft
 * program in a forked child (tests/child.h) with a given number of workers,
 * stack size and guard, and name the task in the report. Shared by
 * test_stack_overflow.c and test_stack_guard.c.
 */
#ifndef TESTS_SCHED_STACK_CHILD_H
#define TESTS_SCHED_STACK_CHILD_H

#include "../child.h"
#include "../harness.h"

struct weft_child {
    void *(*main_fn)(void *);
    void *arg;
    weft_config cfg;
};

static void weft_child_body(void *p)
{
    struct weft_child *c = p;
    weft_run(c->main_fn, c->arg, &c->cfg);
}

/* Run main_fn(arg) in a child; its stderr (malloc'ed) and wait status. */
static char *run_weft_child(void *(*main_fn)(void *), void *arg, unsigned workers,
                            size_t stack_size, size_t stack_guard, int *status)
{
    struct weft_child c = {main_fn, arg,
                           {.workers = workers, .stack_size = stack_size,
                            .stack_guard = stack_guard}};
    return run_child(weft_child_body, &c, status);
}

/* "Task-2" and not the start of "Task-20" */
static bool names_task_2(const char *text)
{
    for (const char *p = text; (p = strstr(p, "Task-2")); p++)
        if (p[6] < '0' || p[6] > '9')
            return true;
    return false;
}

#endif /* TESTS_SCHED_STACK_CHILD_H */
