/* A program that defines names weft uses inside (task_create, loop_run, timer_new,
 * stack_get, jump_fcontext), linked against libweft.a and libweft.so: it must link,
 * and weft must keep calling its own functions, not these. main runs a task that
 * sleeps and spawns, so that the scheduler, the timers and the stacks are all pulled
 * in; each function here is called too, and counts its calls. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

static int calls;

int task_create(void)
{
    return ++calls;
}

int loop_run(void)
{
    return ++calls;
}

int timer_new(void)
{
    return ++calls;
}

int stack_get(void)
{
    return ++calls;
}

int jump_fcontext(void)
{
    return ++calls;
}

static void *twice(void *arg)
{
    if (weft_sleep(0.001) != 0)
        return WEFT_ERR(ECANCELED);
    return (void *)((intptr_t)arg * 2);
}

static void *main_task(void *arg)
{
    weft_task *t = weft_spawn(twice, arg);
    if (t == NULL)
        return WEFT_ERR(errno);
    void *result = weft_await(t);
    weft_task_release(t);
    return result;
}

int main(void)
{
    void *result = weft_run(main_task, (void *)(intptr_t)21, NULL);
    if (weft_error(result) != 0) {
        fprintf(stderr, "weft_run failed: error %d\n", weft_error(result));
        return 1;
    }
    int own = task_create() + loop_run() + timer_new() + stack_get() + jump_fcontext();
    if ((intptr_t)result != 42 || calls != 5 || own != 1 + 2 + 3 + 4 + 5) {
        fprintf(stderr, "weft_run returned %ld, the program's own functions ran %d times\n",
                (long)(intptr_t)result, calls);
        return 1;
    }
    printf("weft_run returned 42 beside the program's own task_create, loop_run, "
           "timer_new, stack_get and jump_fcontext\n");
    return 0;
}
