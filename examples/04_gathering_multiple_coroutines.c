/*
 * Gathering Multiple Coroutines: weft_gather() waits for several tasks and
 * hands back their results in the order the tasks were given, whatever
 * order they finished in.
 */
#include <errno.h>

#include "example.h"

struct fetch {
    const char *url;
    double delay;
    char response[64];
};

static void *fetch(void *arg)
{
    struct fetch *f = arg;

    int rc = weft_sleep(f->delay);
    if (rc)
        return WEFT_ERR(rc);
    snprintf(f->response, sizeof f->response, "Response from %s", f->url);
    return f->response;
}

static void *async_main(void *arg)
{
    const char *urls[] = {"site1.com", "site2.com", "site3.com"};
    enum { N = sizeof urls / sizeof urls[0] };
    struct fetch fetches[N];
    weft_task *tasks[N];
    void *results[N];

    (void)arg;
    for (int i = 0; i < N; i++) {
        fetches[i] = (struct fetch){.url = urls[i], .delay = i * 0.5};
        tasks[i] = weft_spawn(fetch, &fetches[i]);
        if (!tasks[i])
            return WEFT_ERR(errno); /* TODO(weft_errno) */
    }

    /* Run all concurrently, results in same order as input */
    int rc = weft_gather(tasks, N, results, 0);
    for (int i = 0; i < N; i++)
        weft_task_release(tasks[i]);
    if (rc)
        return WEFT_ERR(rc);
    for (int i = 0; i < N; i++)
        say("%s", (const char *)results[i]);
    return NULL;
}

int main(void)
{
    void *result = weft_run(async_main, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
