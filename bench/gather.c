/* gather: spawn 100,000 tasks returning 2*i, gather them in order, check the sum. */
#include <stdint.h>

#include "bench.h"

static void *twice(void *arg)
{
    return (void *)(2 * (intptr_t)arg);
}

struct job {
    long n;
    double seconds;
    int64_t sum;
};

static void *run(void *arg)
{
    struct job *j = arg;
    weft_task **tasks = malloc((size_t)j->n * sizeof *tasks);
    void **results = malloc((size_t)j->n * sizeof *results);
    double t0 = bench_seconds();
    for (long i = 0; i < j->n; i++)
        tasks[i] = weft_spawn(twice, (void *)(intptr_t)i);
    int err = weft_gather(tasks, (size_t)j->n, results, 0);
    for (long i = 0; i < j->n; i++) {
        j->sum += (intptr_t)results[i];
        weft_task_release(tasks[i]);
    }
    j->seconds = bench_seconds() - t0;
    free(tasks);
    free(results);
    return err ? WEFT_ERR(err) : NULL;
}

int main(int argc, char **argv)
{
    struct bench b = bench_args("gather", argc, argv);
    struct job j = {.n = b.quick ? 10000 : 100000};
    bench_run(&b, run, &j);
    if (j.sum != (int64_t)j.n * (j.n - 1))
        bench_fail(&b, "wrong sum");
    bench_emit(&b, "weft", "ns_per_task", j.seconds * 1e9 / (double)j.n, "ns");
    return 0;
}
