/* A finished task wakes each of its awaiters with its own ready-queue entry,
 * one iteration after it finishes; an awaiter of an awaiter needs one more
 * hop; tasks that only yield show where the hops fall.
 * Twin of wake_awaiters.py. */
#include <stdint.h>

#include "vtime.h"

struct waiting {
    const char *name;
    weft_task *t;
};

static void *target(void *arg)
{
    (void)arg;
    weft_sleep(1);
    vtime_log("target finishing");
    return (void *)(intptr_t)7;
}

static void *awaiter(void *arg)
{
    const struct waiting *w = arg;

    vtime_log("%s waiting", w->name);
    void *r = weft_await(w->t);
    vtime_log("%s got %d", w->name, (int)(intptr_t)r);
    return (void *)w->name;
}

static void *chained(void *arg)
{
    vtime_log("chained waiting");
    const char *r = weft_await(arg);
    vtime_log("chained got %s", r);
    return NULL;
}

static void *yielder(void *arg)
{
    const char *name = arg;

    weft_sleep(1);
    for (int i = 0; i < 4; i++) {
        vtime_log("%s step %d", name, i);
        weft_yield();
    }
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn(target, NULL);
    weft_task *y1 = weft_spawn(yielder, "y1");
    struct waiting a1 = {"w1", t}, a2 = {"w2", t}, a3 = {"w3", t};
    weft_task *w1 = weft_spawn(awaiter, &a1);
    weft_task *w2 = weft_spawn(awaiter, &a2);
    weft_task *c = weft_spawn(chained, w1);
    weft_task *y2 = weft_spawn(yielder, "y2");
    weft_task *w3 = weft_spawn(awaiter, &a3);
    void *r = weft_await(t);
    vtime_log("main got %d", (int)(intptr_t)r);
    weft_task *rest[] = {w1, w2, w3, c, y1, y2};
    for (size_t i = 0; i < sizeof rest / sizeof rest[0]; i++)
        weft_await(rest[i]);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
