/*
 * floor: one bare jump_fcontext round trip, the physical limit of a switch
 * between two stacks, measured in the same run as yield and pingpong so
 * that those can be read as a multiple of it. No weft involved.
 */
#include <stdint.h>
#include <sys/mman.h>

#include "bench.h"

typedef void *fcontext_t;
typedef struct {
    fcontext_t fctx;
    void *data;
} transfer_t;
transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));

static void bounce(transfer_t t)
{
    for (;;)
        t = jump_fcontext(t.fctx, NULL);
}

int main(int argc, char **argv)
{
    struct bench b = bench_args("floor", argc, argv);
    long n = b.quick ? 1000000 : 10000000;
    size_t size = 64 * 1024;
    char *stack = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (stack == MAP_FAILED)
        bench_fail(&b, "mmap");
    fcontext_t ctx = make_fcontext(stack + size, size, bounce);
    double t0 = bench_seconds();
    for (long i = 0; i < n; i++)
        ctx = jump_fcontext(ctx, NULL).fctx;
    double ns = (bench_seconds() - t0) * 1e9 / (double)n;
    /* One row for each switch-bound workload, under that workload's metric. */
    struct bench yield = {.name = "yield", .workers = b.workers};
    struct bench pingpong = {.name = "pingpong", .workers = b.workers};
    bench_emit(&yield, "floor", "ns_per_yield", ns, "ns");
    bench_emit(&pingpong, "floor", "ns_per_roundtrip", ns, "ns");
    return 0;
}
