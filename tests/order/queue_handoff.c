/* weft_queue hand-offs on a bounded queue (maxsize 2): several getters wait
 * on the empty queue and are woken in the order they came, one ready-queue
 * hop after each put; then several putters wait on the full queue and each
 * get hands the freed slot to the oldest. A task that only yields shows
 * where the hops fall, and a put or get that need not wait never suspends.
 * Twin of queue_handoff.py. */
#include <stdint.h>

#include "vtime.h"

struct actor {
    weft_queue *q;
    const char *name;
    const char *item;
};

static void *getter(void *arg)
{
    struct actor *a = arg;
    void *item;

    vtime_log("%s waits", a->name);
    weft_queue_get(a->q, &item);
    vtime_log("%s got %s", a->name, (const char *)item);
    return NULL;
}

static void *putter(void *arg)
{
    struct actor *a = arg;

    vtime_log("%s puts %s", a->name, a->item);
    weft_queue_put(a->q, (void *)a->item);
    vtime_log("%s put %s", a->name, a->item);
    return NULL;
}

static void *ticker(void *arg)
{
    int n = (int)(intptr_t)arg;

    for (int i = 0; i < n; i++) {
        vtime_log("tick %d", i);
        weft_yield();
    }
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_queue *q = weft_queue_create(2);
    struct actor g[3] = {{q, "g0", NULL}, {q, "g1", NULL}, {q, "g2", NULL}};
    weft_task *getters[3];
    void *item;

    for (int i = 0; i < 3; i++)
        getters[i] = weft_spawn(getter, &g[i]);
    weft_sleep(1);
    weft_task *t = weft_spawn(ticker, (void *)(intptr_t)6);
    vtime_log("put a, b");
    weft_queue_put_nowait(q, "a");
    weft_queue_put(q, "b");
    vtime_log("size %zu", weft_queue_size(q));
    weft_yield();
    vtime_log("put c");
    weft_queue_put(q, "c");
    for (int i = 0; i < 3; i++)
        weft_await(getters[i]);
    weft_await(t);
    vtime_log("size %zu", weft_queue_size(q));

    weft_queue_put(q, "d");
    weft_queue_put(q, "e");
    struct actor p[3] = {{q, "p0", "x0"}, {q, "p1", "x1"}, {q, "p2", "x2"}};
    weft_task *putters[3];
    for (int i = 0; i < 3; i++)
        putters[i] = weft_spawn(putter, &p[i]);
    weft_sleep(1);
    t = weft_spawn(ticker, (void *)(intptr_t)8);
    for (int i = 0; i < 5; i++) {
        weft_queue_get(q, &item);
        vtime_log("main got %s, size %zu", (const char *)item, weft_queue_size(q));
        if (i == 1)
            weft_yield();
    }
    for (int i = 0; i < 3; i++)
        weft_await(putters[i]);
    weft_await(t);
    vtime_log("size %zu", weft_queue_size(q));
    weft_queue_destroy(q);
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
