/* @asynccontextmanager as weft_with_gen: the generator's code before its
 * yield runs as the entry, the rest as the exit, inside the task that runs
 * the block, with the block's error thrown in at the yield (re-raised
 * through `finally`, or swallowed by an `except`), and a cancellation of the
 * block reaching it the same way; its awaits interleave with another task's.
 * Twin of with_asynccm.py. */
#include <errno.h>
#include <stdbool.h>

#include "vtime.h"

struct user {
    const char *name;
    double work;
    bool fail;
    bool swallow;
};

static void *managed(weft_gen *g, void *arg)
{
    struct user *u = arg;

    vtime_log("%s acquiring", u->name);
    int rc = weft_sleep(0.5);
    if (rc)
        return WEFT_ERR(rc);
    int thrown = weft_gen_yield(g, (void *)u->name);
    int raise = thrown;
    if (!thrown) {
        vtime_log("%s block ended normally", u->name);
    } else if (thrown == EIO) {
        vtime_log("%s saw OSError", u->name);
        if (u->swallow)
            raise = 0;
    }
    /* finally: */
    vtime_log("%s releasing", u->name);
    rc = weft_sleep(0.2);
    if (rc)
        return WEFT_ERR(rc);
    vtime_log("%s released", u->name);
    return raise ? WEFT_ERR(raise) : NULL;
}

static void *block(void *ctx, void *res)
{
    struct user *u = ctx;

    vtime_log("using %s", (const char *)res);
    int rc = weft_sleep(u->work);
    if (rc)
        return WEFT_ERR(rc);
    return u->fail ? WEFT_ERR(EIO) : NULL;
}

static void *user(void *arg)
{
    struct user *u = arg;
    int rc = weft_with_gen(weft_gen_create(managed, u), block, u, NULL);

    if (rc == 0)
        vtime_log("%s after the block", u->name);
    else if (rc == EIO)
        vtime_log("%s got OSError", u->name);
    else if (rc == ECANCELED)
        vtime_log("%s cancelled", u->name);
    return rc == ECANCELED ? WEFT_ERR(rc) : NULL;
}

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 10; i++) {
        vtime_log("tick %d", i);
        weft_sleep(0.3);
    }
    return NULL;
}

static void *main_task(void *arg)
{
    struct user users[] = {
        {"a", 1, false, false},
        {"b", 0.5, true, false},
        {"c", 0.75, true, true},
        {"d", 5, false, false},
    };
    weft_task *t[4];

    (void)arg;
    weft_task *tk = weft_spawn(ticker, NULL);
    for (int i = 0; i < 4; i++)
        t[i] = weft_spawn(user, &users[i]);
    weft_sleep(1.2);
    vtime_log("cancel d");
    weft_cancel(t[3]);
    for (int i = 0; i < 4; i++)
        weft_await(t[i]);
    weft_await(tk);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
