/* Cancelling getters of a weft_queue: one cancelled while it waits leaves no
 * trace, the next item goes to the getter behind it; one woken for an item
 * and cancelled before it ran leaves the item in the queue and wakes the next
 * getter, so the item is not lost. A putter cancelled after a slot was freed
 * for it passes the slot on the same way.
 * Twin of queue_cancel_getter.py. */
#include <errno.h>
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
    if (weft_queue_get(a->q, &item) == ECANCELED) {
        vtime_log("%s cancelled, size %zu", a->name, weft_queue_size(a->q));
        return WEFT_ERR(ECANCELED);
    }
    vtime_log("%s got %s", a->name, (const char *)item);
    return NULL;
}

static void *putter(void *arg)
{
    struct actor *a = arg;

    if (weft_queue_put(a->q, (void *)a->item) == ECANCELED) {
        vtime_log("%s cancelled, size %zu", a->name, weft_queue_size(a->q));
        return WEFT_ERR(ECANCELED);
    }
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
    weft_queue *q = weft_queue_create(0);
    struct actor ga[4] = {{q, "g0", NULL}, {q, "g1", NULL}, {q, "g2", NULL}, {q, "g3", NULL}};
    weft_task *g[4];
    void *item;

    for (int i = 0; i < 4; i++)
        g[i] = weft_spawn(getter, &ga[i]);
    weft_sleep(1);
    vtime_log("cancel g0 while it waits");
    weft_cancel(g[0]);
    weft_yield();
    weft_task *t = weft_spawn(ticker, (void *)(intptr_t)5);
    vtime_log("put a, cancel g1 at once");
    weft_queue_put_nowait(q, "a");
    weft_cancel(g[1]);
    weft_sleep(1);
    vtime_log("put b");
    weft_queue_put_nowait(q, "b");
    weft_await(t);
    for (int i = 0; i < 4; i++)
        weft_await(g[i]);
    vtime_log("size %zu", weft_queue_size(q));
    weft_queue_destroy(q);

    q = weft_queue_create(1);
    weft_queue_put_nowait(q, "full");
    struct actor pa[3] = {{q, "p0", "y0"}, {q, "p1", "y1"}, {q, "p2", "y2"}};
    weft_task *p[3];
    for (int i = 0; i < 3; i++)
        p[i] = weft_spawn(putter, &pa[i]);
    weft_sleep(1);
    weft_queue_get_nowait(q, &item);
    vtime_log("get %s, cancel p0 at once", (const char *)item);
    weft_cancel(p[0]);
    weft_sleep(1);
    weft_queue_get_nowait(q, &item);
    vtime_log("get %s", (const char *)item);
    weft_sleep(1);
    weft_queue_get_nowait(q, &item);
    vtime_log("get %s", (const char *)item);
    for (int i = 0; i < 3; i++)
        weft_await(p[i]);
    vtime_log("size %zu", weft_queue_size(q));
    weft_queue_destroy(q);
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
