/*
 * Running out of memory is an error value, never a crash: with the address
 * space limited (RLIMIT_AS) a program spawns sleeping tasks until the
 * runtime can no longer give them stacks. Every spawn then either fails
 * (NULL, errno ENOMEM) or gives a task that ends with its value or with
 * WEFT_ERR(ENOMEM), and weft_run still returns main's result. Each case runs
 * in a forked child, so that the limit stays there.
 *
 * Skipped under AddressSanitizer, ThreadSanitizer and valgrind, whose own
 * mappings do not fit under such a limit.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../harness.h"

enum { MAX_TASKS = 400000 };

struct outcome {
    weft_task **tasks;
    int spawned, spawn_enomem, spawn_other;
    int values, task_enomem, task_other;
};

static void *hold_a_stack(void *arg)
{
    return weft_sleep(1) == 0 ? arg : WEFT_ERR(ECANCELED);
}

static void *spawn_until_refused(void *arg)
{
    struct outcome *o = arg;

    while (o->spawned < MAX_TASKS) {
        errno = 0;
        weft_task *t = weft_spawn(hold_a_stack, o);
        if (!t) {
            if (errno == ENOMEM)
                o->spawn_enomem++;
            else
                o->spawn_other++;
            break;
        }
        o->tasks[o->spawned++] = t;
        if (o->spawned % 64 == 0)
            weft_yield(); /* let them run and take their stacks */
    }
    for (int i = 0; i < o->spawned; i++) {
        void *r = weft_await(o->tasks[i]);
        if (r == o)
            o->values++;
        else if (weft_error(r) == ENOMEM)
            o->task_enomem++;
        else
            o->task_other++;
        weft_task_release(o->tasks[i]);
    }
    return (void *)1;
}

/* Bytes of address space the process maps now. */
static size_t mapped_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long pages = 0;

    if (f) {
        if (fscanf(f, "%lu", &pages) != 1)
            pages = 0;
        fclose(f);
    }
    return (size_t)pages * (size_t)sysconf(_SC_PAGESIZE);
}

/* In the child: 0 when every outcome was a value or ENOMEM. */
static int child(unsigned workers)
{
    static struct outcome o;
    const weft_config cfg = {.workers = workers, .virtual_time = true};

    o.tasks = calloc(MAX_TASKS, sizeof *o.tasks);
    if (!o.tasks)
        return 10;
    /* Room for the workers' threads and a few thousand default stacks. */
    const struct rlimit limit = {mapped_bytes() + (512u << 20), RLIM_INFINITY};
    if (setrlimit(RLIMIT_AS, &limit) != 0)
        return 11;
    void *r = weft_run(spawn_until_refused, &o, &cfg);
    fprintf(stderr,
            "workers=%u: run %d, spawned %d (refused: %d ENOMEM, %d other), "
            "values %d, ENOMEM %d, other %d\n",
            workers, weft_error(r), o.spawned, o.spawn_enomem, o.spawn_other, o.values,
            o.task_enomem, o.task_other);
    if (r != (void *)1)
        return 12;
    if (o.spawn_other || o.task_other)
        return 13;
    if (o.values + o.task_enomem != o.spawned)
        return 14;
    return 0;
}

static void expect_clean_enomem(unsigned workers)
{
    int status;

    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(child(workers));
    while (waitpid(pid, &status, 0) < 0)
        assert_int_equal(errno, EINTR);
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("workers=%u: the child %s %d (see its line above)", workers,
                 WIFSIGNALED(status) ? "died of signal" : "exited with",
                 WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

static void test_out_of_stacks(void **state)
{
    (void)state;
    skip_if_instrumented();
    expect_clean_enomem(1);
    expect_clean_enomem(2);
    expect_clean_enomem(4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_out_of_stacks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
