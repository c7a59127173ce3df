/* Closing an async generator runs its cleanup inside the closing task, where
 * it may await while others run; a consumer cancelled while the body awaits
 * sees the cancellation come out of the body, after the body's cleanup; a
 * generator never started closes without running.
 * Twin of gen_close.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

struct ticker {
    const char *name;
    int n;
    double delay;
};

static void *ticker(void *arg)
{
    const struct ticker *t = arg;

    for (int i = 0; i < t->n; i++) {
        vtime_log("%s tick %d", t->name, i);
        weft_sleep(t->delay);
    }
    return NULL;
}

static void *resource(weft_gen *g, void *arg)
{
    const char *name = arg;
    int rc;

    vtime_log("%s opens", name);
    for (intptr_t i = 0;; i++) {
        if ((rc = weft_sleep(0.25)) != 0)
            break;
        vtime_log("%s yields %d", name, (int)i);
        if ((rc = weft_gen_yield(g, (void *)i)) != 0)
            break;
    }
    /* finally: */
    vtime_log("%s cleans up", name);
    weft_sleep(0.1);
    vtime_log("%s cleaned up", name);
    return WEFT_ERR(rc);
}

static void *consume_forever(void *arg)
{
    const char *name = arg;
    weft_gen *g = weft_gen_create(resource, (void *)name);
    void *v;
    int rc;

    while ((rc = weft_gen_next(g, &v)) == 0)
        vtime_log("%s consumer got %d", name, (int)(intptr_t)v);
    weft_gen_destroy(g);
    if (rc == ENODATA)
        vtime_log("%s consumer: not reached", name);
    return WEFT_ERR(rc);
}

static void *main_task(void *arg)
{
    struct ticker tk = {"t", 16, 0.1};
    void *v;

    (void)arg;
    weft_task *t = weft_spawn(ticker, &tk);
    weft_gen *g = weft_gen_create(resource, "r1");
    for (int i = 0; i < 3; i++) {
        weft_gen_next(g, &v);
        vtime_log("main got %d", (int)(intptr_t)v);
    }
    vtime_log("main closes r1");
    weft_gen_destroy(g);
    vtime_log("main closed r1");

    weft_task *c = weft_spawn(consume_forever, "r2");
    weft_sleep(0.6);
    vtime_log("main cancels the r2 consumer");
    weft_cancel(c);
    if (weft_error(weft_await(c)) == ECANCELED)
        vtime_log("r2 consumer cancelled: %s", weft_task_cancelled(c) ? "True" : "False");

    weft_gen_destroy(weft_gen_create(resource, "r3"));
    vtime_log("main closed r3, never started");
    weft_await(t);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
