/*
 * Using @asynccontextmanager: the context manager is one generator function.
 * What comes before its yield is the entry, what comes after is the exit;
 * weft_with_gen resumes it after the body, with weft_gen_yield returning 0,
 * or the body's error (the `finally` case), so the release always runs.
 */
#include <errno.h>

#include "example.h"

static void *managed_resource(weft_gen *g, void *arg)
{
    const char *name = arg;

    say("Acquiring %s", name);
    int rc = weft_sleep(0.5);
    if (rc)
        return WEFT_ERR(rc);
    int status = weft_gen_yield(g, (void *)name);
    /* finally: */
    say("Releasing %s", name);
    rc = weft_sleep(0.2);
    if (status)
        return WEFT_ERR(status); /* re-raise the body's error */
    return rc ? WEFT_ERR(rc) : NULL;
}

static void *use_resource(void *ctx, void *resource)
{
    (void)ctx;
    say("Using %s", (const char *)resource);
    return NULL;
}

static void *async_main(void *arg)
{
    (void)arg;
    weft_gen *resource = weft_gen_create(managed_resource, "database");
    if (!resource)
        return WEFT_ERR(errno); /* TODO(weft_errno) */
    int rc = weft_with_gen(resource, use_resource, NULL, NULL);
    return rc ? WEFT_ERR(rc) : NULL;
}

int main(void)
{
    void *result = weft_run(async_main, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
