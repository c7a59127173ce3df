/*
 * `async with` in C. C has no statement whose exit step runs on every way out
 * of a block, so the block is a function: weft_with calls enter, then body,
 * then exit whatever body returned, each inline in the calling task, as
 * asyncio awaits __aenter__ and __aexit__ (no extra task, no loop hop).
 * Cancellation needs nothing special: it is delivered once, at an await
 * point of the body, which returns; exit then runs with ECANCELED as its
 * status and may await like any code after a consumed cancellation.
 *
 * weft_with_gen is contextlib.asynccontextmanager over a weft_gen: its
 * _AsyncGeneratorContextManager.__aenter__ and __aexit__ transcribed, with
 * athrow as weft_gen_throw.
 */
#include <errno.h>
#include <stddef.h>

#include "sched/runtime.h"
#include "weft.h"

int weft_with(void *(*enter)(void *ctx), void *(*body)(void *ctx, void *resource),
              int (*exit)(void *ctx, void *resource, int status), void *ctx, void **result)
{
    if (!task_self())
        return EPERM;
    if (!enter || !body || !exit)
        return EINVAL;
    void *resource = enter(ctx);
    int err = weft_error(resource);
    if (err)
        return err;
    void *value = body(ctx, resource);
    int status = weft_error(value);
    err = exit(ctx, resource, status);
    if (err)
        return err;
    if (!status && result)
        *result = value;
    return status;
}

/* __aexit__: resume the generator with the body's outcome. */
static int gen_exit(weft_gen *g, int status)
{
    void *again;
    int err = status ? weft_gen_throw(g, status, &again) : weft_gen_next(g, &again);
    if (err == 0)
        return EINVAL; /* "generator didn't stop" (after athrow()) */
    if (err == ENODATA)
        return 0; /* it returned: with an error thrown in, it swallowed it */
    return err;   /* it raised: the body's error again, or its own */
}

int weft_with_gen(weft_gen *g, void *(*body)(void *ctx, void *resource), void *ctx, void **result)
{
    if (!task_self() || !g || !body) {
        int err = task_self() ? EINVAL : EPERM;
        weft_gen_destroy(g);
        return err;
    }
    void *resource;
    int err = weft_gen_next(g, &resource);
    if (err) {
        weft_gen_destroy(g);
        return err == ENODATA ? EINVAL : err; /* ENODATA: "generator didn't yield" */
    }
    void *value = body(ctx, resource);
    int status = weft_error(value);
    err = gen_exit(g, status);
    weft_gen_destroy(g);
    if (err)
        return err;
    if (result)
        *result = status ? NULL : value;
    return 0;
}
