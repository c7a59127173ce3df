/* An async generator runs inside the task that iterates it: a value yielded
 * without an await costs no loop hop, an await in the body suspends the
 * consumer, and other tasks interleave around it exactly as around any other
 * await of the consumer.
 * Twin of gen_interleave.py. */
#include <stdint.h>

#include "vtime.h"

struct ticker {
    const char *name;
    int n;
};

static void *ticker(void *arg)
{
    const struct ticker *t = arg;

    for (int i = 0; i < t->n; i++) {
        vtime_log("%s tick %d", t->name, i);
        weft_yield();
    }
    return NULL;
}

struct counter {
    int n;
    double pause;
};

static void *counter(weft_gen *g, void *arg)
{
    const struct counter *c = arg;

    vtime_log("gen starts");
    for (int i = 0; i < c->n; i++) {
        if (i % 2 == 1) {
            vtime_log("gen awaits before %d", i);
            weft_sleep(c->pause);
        }
        vtime_log("gen yields %d", i);
        weft_gen_yield(g, (void *)(intptr_t)i);
        vtime_log("gen resumed after %d", i);
    }
    vtime_log("gen ends");
    return NULL;
}

static void *main_task(void *arg)
{
    struct ticker a = {"a", 8}, b = {"b", 3};
    struct counter quick = {5, 0}, slow = {4, 0.5};
    void *v;

    (void)arg;
    weft_task *t1 = weft_spawn(ticker, &a);
    weft_gen *g = weft_gen_create(counter, &quick);
    vtime_log("main made the generator");
    weft_yield();
    while (weft_gen_next(g, &v) == 0)
        vtime_log("main got %d", (int)(intptr_t)v);
    weft_gen_destroy(g);
    vtime_log("main: now with sleeps");
    weft_task *t2 = weft_spawn(ticker, &b);
    g = weft_gen_create(counter, &slow);
    while (weft_gen_next(g, &v) == 0) {
        vtime_log("main got %d", (int)(intptr_t)v);
        weft_yield();
    }
    weft_gen_destroy(g);
    weft_await(t1);
    weft_await(t2);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
