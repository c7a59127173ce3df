/* `async with` as weft_with: the exit step runs whichever way the block ends
 * (normally, by an error, by a cancellation delivered in the block) and its
 * awaits interleave with other tasks; a cancellation during the entry skips
 * the block and the exit; one during the exit stops its await.
 * Twin of with_cancel.py. */
#include <errno.h>
#include <stdbool.h>

#include "vtime.h"

struct client {
    const char *name;
    double work;
    bool fail;
};

static const char *exception_name(int status)
{
    return status == 0 ? "None" : status == ECANCELED ? "CancelledError" : "OSError";
}

/* __aenter__ */
static void *conn_enter(void *ctx)
{
    struct client *c = ctx;

    vtime_log("%s connecting", c->name);
    int rc = weft_sleep(1);
    if (rc)
        return WEFT_ERR(rc);
    vtime_log("%s connected", c->name);
    return c;
}

/* __aexit__ */
static int conn_exit(void *ctx, void *conn, int status)
{
    struct client *c = ctx;

    (void)conn;
    vtime_log("%s exit with %s", c->name, exception_name(status));
    int rc = weft_sleep(0.5);
    if (rc)
        return rc;
    vtime_log("%s disconnected", c->name);
    return 0;
}

static void *block(void *ctx, void *conn)
{
    struct client *c = ctx;

    (void)conn;
    vtime_log("%s working", c->name);
    int rc = weft_sleep(c->work);
    if (rc)
        return WEFT_ERR(rc);
    if (c->fail)
        return WEFT_ERR(EIO);
    vtime_log("%s done working", c->name);
    return NULL;
}

static void *client(void *arg)
{
    struct client *c = arg;
    int rc = weft_with(conn_enter, block, conn_exit, c, NULL);

    if (rc == ECANCELED) {
        vtime_log("%s cancelled", c->name);
        return WEFT_ERR(rc);
    }
    if (rc == EIO)
        vtime_log("%s raised OSError", c->name);
    return NULL;
}

static void *ticker(void *arg)
{
    (void)arg;
    for (int i = 0; i < 12; i++) {
        vtime_log("tick %d", i);
        weft_sleep(0.25);
    }
    return NULL;
}

static void *main_task(void *arg)
{
    struct client clients[] = {
        {"a", 1, false}, {"b", 5, false}, {"c", 0.5, true}, {"d", 1, false}, {"e", 0.25, false},
    };
    weft_task *t[5];

    (void)arg;
    weft_task *tk = weft_spawn(ticker, NULL);
    for (int i = 0; i < 5; i++)
        t[i] = weft_spawn(client, &clients[i]);
    weft_sleep(0.5);
    vtime_log("cancel d, in its __aenter__");
    weft_cancel(t[3]);
    weft_sleep(1);
    vtime_log("cancel b, in its block; e, in its __aexit__");
    weft_cancel(t[1]);
    weft_cancel(t[4]);
    for (int i = 0; i < 5; i++)
        weft_await(t[i]);
    weft_await(tk);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
