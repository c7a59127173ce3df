/* sleep(0) interleaving: several tasks yielding different numbers of times,
 * a task created in the middle of the round-robin, and main yielding too.
 * Twin of yield_interleave.py. */
#include "vtime.h"

struct spin {
    const char *name;
    int rounds;
};

static void *spinner(void *arg)
{
    const struct spin *s = arg;

    for (int i = 0; i < s->rounds; i++) {
        vtime_log("%s round %d", s->name, i);
        weft_yield();
    }
    vtime_log("%s done", s->name);
    return NULL;
}

static void *late(void *arg)
{
    (void)arg;
    vtime_log("late start");
    weft_yield();
    vtime_log("late done");
    return NULL;
}

static void *spawner(void *arg)
{
    (void)arg;
    vtime_log("spawner start");
    weft_yield();
    weft_task *t = weft_spawn(late, NULL);
    vtime_log("spawner created late");
    weft_yield();
    vtime_log("spawner after yield");
    weft_await(t);
    vtime_log("spawner saw late finish");
    return NULL;
}

static void *main_task(void *arg)
{
    static struct spin a = {"a", 3}, b = {"b", 1}, c = {"c", 4};
    weft_task *tasks[4];

    (void)arg;
    tasks[0] = weft_spawn(spinner, &a);
    tasks[1] = weft_spawn(spawner, NULL);
    tasks[2] = weft_spawn(spinner, &b);
    tasks[3] = weft_spawn(spinner, &c);
    for (int i = 0; i < 3; i++) {
        vtime_log("main round %d", i);
        weft_yield();
    }
    for (int i = 0; i < 4; i++)
        weft_await(tasks[i]);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
