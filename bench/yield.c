/* yield: 8 tasks share 10,000,000 weft_yield calls. */
#include "bench.h"

static long per_task;

static void *yielder(void *arg)
{
    (void)arg;
    for (long i = 0; i < per_task; i++)
        weft_yield();
    return NULL;
}

static void *run(void *arg)
{
    double *seconds = arg;
    weft_task *tasks[8];
    double t0 = bench_seconds();
    for (int i = 0; i < 8; i++)
        tasks[i] = weft_spawn(yielder, NULL);
    for (int i = 0; i < 8; i++) {
        weft_await(tasks[i]);
        weft_task_release(tasks[i]);
    }
    *seconds = bench_seconds() - t0;
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench b = bench_args("yield", argc, argv);
    long total = b.quick ? 1000000 : 10000000;
    per_task = total / 8;
    double seconds;
    bench_run(&b, run, &seconds);
    bench_emit(&b, "weft", "ns_per_yield", seconds * 1e9 / (double)total, "ns");
    return 0;
}
