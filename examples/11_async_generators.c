/*
 * Async Generators: the body runs inside the consumer, one step per
 * weft_gen_next, and its awaits suspend the consumer. `async for` is a loop
 * until ENODATA; the async comprehension collects into an array.
 */
#include <errno.h>
#include <stdint.h>

#include "example.h"

struct range {
    intptr_t start;
    intptr_t stop;
};

/* Async generator that yields numbers with delays. */
static void *async_range(weft_gen *g, void *arg)
{
    const struct range *r = arg;

    for (intptr_t i = r->start; i < r->stop; i++) {
        int rc = weft_sleep(0.5);
        if (rc == 0)
            rc = weft_gen_yield(g, (void *)i);
        if (rc)
            return WEFT_ERR(rc);
    }
    return NULL;
}

static void *async_main(void *arg)
{
    struct range five = {0, 5}, three = {0, 3};
    void *num;
    int rc;

    (void)arg;
    weft_gen *g = weft_gen_create(async_range, &five);
    if (!g)
        return WEFT_ERR(errno); /* TODO(weft_errno) */
    while ((rc = weft_gen_next(g, &num)) == 0)
        say("%d", (int)(intptr_t)num);
    weft_gen_destroy(g);
    if (rc != ENODATA)
        return WEFT_ERR(rc);

    /* Async comprehension: results = [x async for x in async_range(0, 3)] */
    char results[64] = "[";
    size_t len = 1;
    g = weft_gen_create(async_range, &three);
    if (!g)
        return WEFT_ERR(errno); /* TODO(weft_errno) */
    while ((rc = weft_gen_next(g, &num)) == 0)
        len += (size_t)snprintf(results + len, sizeof results - len, "%s%d", len > 1 ? ", " : "",
                                (int)(intptr_t)num);
    weft_gen_destroy(g);
    if (rc != ENODATA)
        return WEFT_ERR(rc);
    say("%s]", results);
    return NULL;
}

int main(void)
{
    void *result = weft_run(async_main, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
