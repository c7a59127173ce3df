/*
 * pingpong: two tasks bounce a counter over two capacity-1 queues,
 * 1,000,000 round trips.
 */
#include <stdint.h>

#include "bench.h"

struct pair {
    weft_queue *ping, *pong;
    long n;
};

static void *ponger(void *arg)
{
    struct pair *p = arg;
    for (long i = 0; i < p->n; i++) {
        void *v;
        if (weft_queue_get(p->ping, &v) || weft_queue_put(p->pong, (void *)((intptr_t)v + 1)))
            return WEFT_ERR(1);
    }
    return NULL;
}

struct job {
    long n;
    double seconds;
    intptr_t last;
};

static void *run(void *arg)
{
    struct job *j = arg;
    struct pair p = {weft_queue_create(1), weft_queue_create(1), j->n};
    if (!p.ping || !p.pong)
        return WEFT_ERR(1);
    double t0 = bench_seconds();
    weft_task *other = weft_spawn(ponger, &p);
    void *v = (void *)(intptr_t)0;
    for (long i = 0; i < j->n; i++)
        if (weft_queue_put(p.ping, v) || weft_queue_get(p.pong, &v))
            return WEFT_ERR(1);
    weft_await(other);
    j->seconds = bench_seconds() - t0;
    j->last = (intptr_t)v;
    weft_task_release(other);
    weft_queue_destroy(p.ping);
    weft_queue_destroy(p.pong);
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench b = bench_args("pingpong", argc, argv);
    struct job j = {.n = b.quick ? 100000 : 1000000};
    bench_run(&b, run, &j);
    if (j.last != j.n)
        bench_fail(&b, "wrong count");
    bench_emit(&b, "weft", "ns_per_roundtrip", j.seconds * 1e9 / (double)j.n, "ns");
    return 0;
}
