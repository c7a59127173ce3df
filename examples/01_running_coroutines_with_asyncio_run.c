/*
 * Running Coroutines with asyncio.run: weft_run() starts the runtime, runs
 * hello() as the first task, and returns once it has finished.
 */
#include "example.h"

static void *hello(void *arg)
{
    (void)arg;
    say("Hello");
    weft_sleep(1);
    say("World");
    return NULL;
}

int main(void)
{
    void *result = weft_run(hello, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
