/*
 * fib: fork-join fib(30) with no cut-off: fib(n) spawns fib(n-1), computes
 * fib(n-2) inline, then awaits. ns_per_task = time / spawned tasks.
 */
#include <stdint.h>

#include "bench.h"

static void *fib(void *arg)
{
    intptr_t n = (intptr_t)arg;
    if (n < 2)
        return (void *)n;
    weft_task *t = weft_spawn(fib, (void *)(n - 1));
    intptr_t b = (intptr_t)fib((void *)(n - 2));
    intptr_t a = (intptr_t)weft_await(t);
    weft_task_release(t);
    return (void *)(a + b);
}

struct job {
    intptr_t n, result;
    double seconds;
};

static void *run(void *arg)
{
    struct job *j = arg;
    double t0 = bench_seconds();
    j->result = (intptr_t)fib((void *)j->n);
    j->seconds = bench_seconds() - t0;
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench b = bench_args("fib", argc, argv);
    struct job j = {.n = b.quick ? 25 : 30};
    bench_run(&b, run, &j);
    int64_t x = 0, y = 1; /* fib(n + 1) - 1 spawns */
    for (intptr_t i = 0; i < j.n + 1; i++) {
        int64_t z = x + y;
        x = y;
        y = z;
    }
    if (j.n == 30 && j.result != 832040)
        bench_fail(&b, "wrong result");
    bench_emit(&b, "weft", "ns_per_task", j.seconds * 1e9 / (double)(x - 1), "ns");
    return 0;
}
