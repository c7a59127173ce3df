/*
 * skynet: a 10-ary tree of tasks, 1,000,000 leaves (1,111,111 tasks); each
 * task returns its leaf number or the sum of its children's. The children
 * are awaited in the reverse order of their spawning, the fork-join habit
 * (Cilk's, oneTBB's) that lets a child still on this worker's deque run
 * inline, on the parent's stack, when the parent reaches it.
 */
#include <stdint.h>

#include "bench.h"

struct node {
    int64_t num, size;
};

static void *skynet(void *arg)
{
    const struct node *n = arg;
    if (n->size == 1)
        return (void *)(intptr_t)n->num;
    struct node kids[10];
    weft_task *tasks[10];
    int64_t step = n->size / 10, sum = 0;
    for (int i = 0; i < 10; i++) {
        kids[i] = (struct node){n->num + i * step, step};
        tasks[i] = weft_spawn(skynet, &kids[i]);
    }
    for (int i = 10; i-- > 0;) {
        sum += (intptr_t)weft_await(tasks[i]);
        weft_task_release(tasks[i]);
    }
    return (void *)(intptr_t)sum;
}

static void *run(void *arg)
{
    double *ns = arg;
    struct node root = {0, 1000000};
    double t0 = bench_seconds();
    weft_task *t = weft_spawn(skynet, &root);
    intptr_t sum = (intptr_t)weft_await(t);
    *ns = (bench_seconds() - t0) * 1e9 / 1111111;
    weft_task_release(t);
    return (void *)(intptr_t)(sum == 499999500000 ? 1 : 2);
}

int main(int argc, char **argv)
{
    struct bench b = bench_args("skynet", argc, argv);
    double ns;
    if (bench_run(&b, run, &ns) != (void *)1)
        bench_fail(&b, "wrong sum");
    bench_emit(&b, "weft", "ns_per_task", ns, "ns");
    return 0;
}
