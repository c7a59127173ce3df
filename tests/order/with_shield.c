/* An exit step that shields its final flush: the flush is a task of its own,
 * so the exit step waits for it across the two hops of weft_shield (the
 * inner task's done-callback, then the outer future's wake-up), and a second
 * cancellation during the exit ends the exiting task at once while the
 * flush runs on to its end.
 * Twin of with_shield.py. */
#include <errno.h>
#include <stdio.h>

#include "vtime.h"

struct store {
    const char *name;
    double work;
    char result[16];
    weft_task *flush_task;
};

static void *flush(void *arg)
{
    struct store *s = arg;

    vtime_log("%s flushing", s->name);
    weft_sleep(1);
    vtime_log("%s flushed", s->name);
    snprintf(s->result, sizeof s->result, "%s ok", s->name);
    return s->result;
}

static void *store_open(void *ctx)
{
    struct store *s = ctx;

    vtime_log("%s open", s->name);
    return s;
}

static int store_exit(void *ctx, void *res, int status)
{
    struct store *s = ctx;

    (void)res;
    vtime_log("%s exit with %s", s->name, status == ECANCELED ? "CancelledError" : "None");
    s->flush_task = weft_spawn(flush, s);
    const char *r = weft_shield(s->flush_task);
    if (weft_error(r) == ECANCELED) {
        vtime_log("%s exit cancelled, the flush goes on", s->name);
        return ECANCELED;
    }
    vtime_log("%s exit got %s", s->name, r);
    return 0;
}

static void *write_block(void *ctx, void *res)
{
    struct store *s = ctx;

    (void)res;
    int rc = weft_sleep(s->work);
    if (rc)
        return WEFT_ERR(rc);
    vtime_log("%s wrote", s->name);
    return NULL;
}

static void *writer(void *arg)
{
    int rc = weft_with(store_open, write_block, store_exit, arg, NULL);

    return rc ? WEFT_ERR(rc) : NULL;
}

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 5; i++) {
        vtime_log("tick %d", i);
        weft_yield();
    }
    return NULL;
}

static void *main_task(void *arg)
{
    struct store sa = {.name = "a", .work = 0.5}, sb = {.name = "b", .work = 2};

    (void)arg;
    weft_task *a = weft_spawn(writer, &sa);
    weft_task *b = weft_spawn(writer, &sb);
    weft_sleep(1);
    vtime_log("cancel b in its block");
    weft_cancel(b);
    weft_sleep(0.5);
    weft_task *t = weft_spawn(ticker, NULL);
    vtime_log("cancel b in its exit");
    weft_cancel(b);
    weft_task *both[] = {a, b};
    for (int i = 0; i < 2; i++)
        if (weft_error(weft_await(both[i])) == ECANCELED)
            vtime_log("b cancelled: %s", weft_task_cancelled(b) ? "True" : "False");
    const char *r = weft_await(sb.flush_task);
    vtime_log("b's flush ended with %s", r);
    weft_await(t);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
