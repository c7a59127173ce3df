/* Expired timers: a timer whose deadline is less than the clock resolution
 * (1 ns) past the current time is treated as expired in the same iteration;
 * one a few nanoseconds later waits for the next iteration. A timer's expiry
 * is itself a ready-queue entry that schedules the sleeper's wake-up, so a
 * task that becomes ready during the same iteration runs before or after the
 * sleeper depending on the hops. Twin of clock_resolution.py. */
#include "vtime.h"

struct sleep_spec {
    const char *name;
    double delay;
};

static void *echo(void *arg)
{
    vtime_log("echo of %s", (const char *)arg);
    return NULL;
}

static void *sleeper(void *arg)
{
    const struct sleep_spec *s = arg;

    weft_sleep(s->delay);
    vtime_log("%s woke", s->name);
    weft_task_release(weft_spawn(echo, (void *)s->name));
    weft_yield();
    vtime_log("%s after yield", s->name);
    return NULL;
}

static void *main_task(void *arg)
{
    static const struct sleep_spec specs[] = {
        {"a", 1.0}, {"b", 1.0 + 4e-10}, {"c", 1.0 + 5e-9}, {"d", 1.0 + 2e-10}, {"e", 1.0 + 2e-8},
    };
    weft_task *tasks[5];

    (void)arg;
    for (int i = 0; i < 5; i++)
        tasks[i] = weft_spawn(sleeper, (void *)&specs[i]);
    for (int i = 0; i < 5; i++)
        weft_await(tasks[i]);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
