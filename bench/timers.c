/*
 * timers: 100,000 tasks each sleep d ms, d drawn from the LCG
 * x = x * 6364136223846793005 + 1442695040888963407, d = (x >> 33) % 101;
 * main awaits all. Wall and CPU time.
 */
#include <stdint.h>

#include "bench.h"

static void *sleeper(void *arg)
{
    return weft_sleep((double)(intptr_t)arg / 1000) == 0 ? NULL : WEFT_ERR(1);
}

struct job {
    long n;
    double wall_ms, cpu_ms;
};

static void *run(void *arg)
{
    struct job *j = arg;
    weft_task **tasks = malloc((size_t)j->n * sizeof *tasks);
    uint64_t x = 1;
    double c0 = bench_cpu_ms(), t0 = bench_seconds();
    for (long i = 0; i < j->n; i++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        tasks[i] = weft_spawn(sleeper, (void *)(intptr_t)((x >> 33) % 101));
    }
    for (long i = 0; i < j->n; i++) {
        weft_await(tasks[i]);
        weft_task_release(tasks[i]);
    }
    j->wall_ms = (bench_seconds() - t0) * 1e3;
    j->cpu_ms = bench_cpu_ms() - c0;
    free(tasks);
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench b = bench_args("timers", argc, argv);
    struct job j = {.n = b.quick ? 10000 : 100000};
    bench_run(&b, run, &j);
    bench_emit(&b, "weft", "wall_ms", j.wall_ms, "ms");
    bench_emit(&b, "weft", "cpu_ms", j.cpu_ms, "ms");
    return 0;
}
