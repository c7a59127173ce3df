/* Timers with equal deadlines come out in heapq's order, not insertion order:
 * many sleepers on the same deadline, interleaved with shorter and longer
 * ones, then a second wave pushed while the heap is partly drained.
 * Twin of equal_deadlines.py. */
#include "vtime.h"

static const double delays[] = {1.0, 1.0, 0.5, 1.0, 1.0, 0.25, 1.0,
                                1.0, 1.0, 2.0, 1.0, 1.0, 0.5,  1.0};
#define N_SLEEPERS (sizeof delays / sizeof delays[0])

static void *sleeper(void *arg)
{
    const size_t i = (size_t)arg;
    const double delay = delays[i];

    weft_sleep(delay);
    vtime_log("t%zu woke after %.2f", i, delay);
    if (delay < 1.0) {
        weft_sleep(1.5 - delay);
        vtime_log("t%zu woke again", i);
    }
    return NULL;
}

static void *main_task(void *arg)
{
    weft_task *tasks[N_SLEEPERS];

    (void)arg;
    for (size_t i = 0; i < N_SLEEPERS; i++)
        tasks[i] = weft_spawn(sleeper, (void *)i);
    vtime_log("all created");
    for (size_t i = 0; i < N_SLEEPERS; i++)
        weft_await(tasks[i]);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
