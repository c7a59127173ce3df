/* A program outside weft's tree, built against an installed weft by
 * cmake/check_install.sh: main spawns a task, awaits its value and returns it. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <weft.h>

static void *twice(void *arg)
{
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
    printf("weft_run returned %ld\n", (long)(intptr_t)result);
    return (intptr_t)result == 42 ? 0 : 1;
}
