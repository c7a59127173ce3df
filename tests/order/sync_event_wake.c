/* weft_event_set wakes every waiter, each with its own ready-queue hop, in
 * the order they began to wait, interleaved with tasks that only yield; a
 * waiter cancelled before the set is skipped, a clear right after the set
 * does not stop the ones already woken, and waiting on a set event does not
 * suspend.
 * Twin of sync_event_wake.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

struct actor {
    weft_event *e;
    const char *name;
    int n;
};

static const char *yes(bool b)
{
    return b ? "True" : "False";
}

static void *waiter(void *arg)
{
    struct actor *a = arg;

    vtime_log("%s waits", a->name);
    if (weft_event_wait(a->e) == ECANCELED) {
        vtime_log("%s cancelled", a->name);
        return WEFT_ERR(ECANCELED);
    }
    vtime_log("%s woke, set %s", a->name, yes(weft_event_is_set(a->e)));
    return NULL;
}

static void *ticker(void *arg)
{
    struct actor *a = arg;

    for (int i = 0; i < a->n; i++) {
        vtime_log("%s %d", a->name, i);
        weft_yield();
    }
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_event *e = weft_event_create();
    struct actor ta = {e, "a", 3}, tb = {e, "b", 3}, tt = {e, "t", 4};
    struct actor wa[4] = {{e, "w0", 0}, {e, "w1", 0}, {e, "w2", 0}, {e, "w3", 0}};
    weft_task *all[7];

    all[4] = weft_spawn(ticker, &ta);
    for (int i = 0; i < 4; i++)
        all[i] = weft_spawn(waiter, &wa[i]);
    all[5] = weft_spawn(ticker, &tb);
    weft_sleep(1);
    weft_cancel(all[2]);
    all[6] = weft_spawn(ticker, &tt);
    weft_yield();
    vtime_log("set, then clear");
    weft_event_set(e);
    weft_event_clear(e);
    vtime_log("set %s", yes(weft_event_is_set(e)));
    for (int i = 0; i < 7; i++)
        weft_await(all[i]);
    weft_event_set(e);
    weft_event_wait(e);
    vtime_log("wait on a set event");
    weft_yield();
    vtime_log("main done");
    weft_event_destroy(e);
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
