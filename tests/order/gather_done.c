/* weft_gather of tasks that are already done: the done-callbacks are queued
 * at once, and the gathering task resumes a hop after the last has run (a
 * ticker shows the hops); a task given twice counts once; a done task that
 * failed fails the gather; a gather of nothing does not suspend. Twin of
 * gather_done.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

static void *quick(void *name)
{
    vtime_log("%s runs", (const char *)name);
    return name;
}

static void *failing(void *arg)
{
    (void)arg;
    vtime_log("f runs");
    return weft_fail(EIO, "failed");
}

static void *ticker(void *n)
{
    for (int i = 0; i < (int)(intptr_t)n; i++) {
        vtime_log("tick %d", i);
        weft_yield();
    }
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_task *a = weft_spawn(quick, "a");
    weft_task *b = weft_spawn(quick, "b");
    weft_yield();
    weft_task_release(weft_spawn(ticker, (void *)5));
    weft_task *aba[3] = {a, b, a};
    void *r[3];
    if (weft_gather(aba, 3, r, 0) == 0)
        vtime_log("gathered %s %s %s", (char *)r[0], (char *)r[1], (char *)r[2]);
    weft_sleep(1);

    weft_task *c = weft_spawn(quick, "c");
    weft_task_release(weft_spawn(ticker, (void *)5));
    weft_task *ac[2] = {a, c};
    if (weft_gather(ac, 2, r, 0) == 0)
        vtime_log("gathered %s %s", (char *)r[0], (char *)r[1]);
    weft_sleep(1);

    weft_task *f = weft_spawn(failing, NULL);
    weft_yield();
    weft_task_release(weft_spawn(ticker, (void *)5));
    weft_task *afb[3] = {a, f, b};
    int err = weft_gather(afb, 3, r, 0);
    if (err)
        vtime_log("gather failed: errno %d", err);
    weft_sleep(1);

    weft_task_release(weft_spawn(ticker, (void *)2));
    if (weft_gather(NULL, 0, NULL, 0) == 0)
        vtime_log("empty gather: 0 results");
    weft_sleep(1);
    vtime_log("main done");
    weft_task_release(a);
    weft_task_release(b);
    weft_task_release(c);
    weft_task_release(f);
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
