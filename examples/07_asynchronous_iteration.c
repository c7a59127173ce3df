/*
 * Asynchronous Iteration: an async iterator is an object with a "next" step
 * that may await. In C that is a struct and a function returning 0 with the
 * next value, or ENODATA at the end (StopAsyncIteration); `async for` is a
 * while loop over it. (An async generator, example 11, is driven the same way
 * with weft_gen_next.)
 */
#include <errno.h>

#include "example.h"

/* Async iterator that yields numbers with delays. */
struct async_range {
    int current;
    int stop;
};

/* __anext__: after half a second, the next number; ENODATA past the end. */
static int async_range_next(struct async_range *r, int *value)
{
    if (r->current >= r->stop)
        return ENODATA;
    int rc = weft_sleep(0.5);
    if (rc)
        return rc;
    *value = r->current++;
    return 0;
}

static void *async_main(void *arg)
{
    struct async_range range = {.current = 0, .stop = 5};
    int num, rc;

    (void)arg;
    while ((rc = async_range_next(&range, &num)) == 0)
        say("%d", num);
    return rc == ENODATA ? NULL : WEFT_ERR(rc);
}

int main(void)
{
    void *result = weft_run(async_main, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
