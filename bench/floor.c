/*
 * floor: what the machine charges for the things a runtime cannot avoid,
 * measured in the same run as the workloads so that those can be read as a
 * multiple of it. No weft involved.
 *  - yield, pingpong: one bare jump_fcontext round trip, the physical limit
 *    of a switch between two stacks.
 *  - machine: one uncontended locked read-modify-write (a spin lock taken
 *    and released), one mfence, one first touch of a fresh page, one guard
 *    installed on a stack slot of weft's geometry (64 KiB guard below a
 *    256 KiB stack): the unit costs that the explanations in RESULTS.md count.
 */
#include <stdint.h>
#include <sys/mman.h>

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

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

#define GUARD_BYTES (64 * 1024)
#define SLOT_BYTES (GUARD_BYTES + 256 * 1024)

/* Guard the bottom of a slot as sched/stack.c does: MADV_GUARD_INSTALL, or
 * mprotect where the kernel lacks it. */
static void guard(char *slot)
{
    if (madvise(slot, GUARD_BYTES, MADV_GUARD_INSTALL) != 0)
        mprotect(slot, GUARD_BYTES, PROT_NONE);
}

static char *map_slots(const struct bench *b, long n)
{
    char *m = mmap(NULL, (size_t)n * SLOT_BYTES, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED)
        bench_fail(b, "mmap");
    return m;
}

static void machine_costs(const struct bench *b, long n)
{
    struct bench machine = {.name = "machine", .workers = b->workers};
    static int lock;
    double t0 = bench_seconds();
    for (long i = 0; i < n; i++) {
        while (__atomic_exchange_n(&lock, 1, __ATOMIC_ACQUIRE))
            ;
        __atomic_store_n(&lock, 0, __ATOMIC_RELEASE);
    }
    bench_emit(&machine, "floor", "ns_per_locked_op", (bench_seconds() - t0) * 1e9 / (double)n,
               "ns");
    t0 = bench_seconds();
    for (long i = 0; i < n; i++)
        __asm__ volatile("mfence" ::: "memory");
    bench_emit(&machine, "floor", "ns_per_mfence", (bench_seconds() - t0) * 1e9 / (double)n, "ns");

    long pages = 20000;
    char *m = map_slots(b, pages);
    t0 = bench_seconds();
    for (long i = 0; i < pages; i++)
        guard(m + i * SLOT_BYTES);
    double t1 = bench_seconds();
    for (long i = 0; i < pages; i++)
        m[i * SLOT_BYTES + SLOT_BYTES - 64] = 1;
    double t2 = bench_seconds();
    munmap(m, (size_t)pages * SLOT_BYTES);
    bench_emit(&machine, "floor", "us_per_guard", (t1 - t0) * 1e6 / (double)pages, "us");
    bench_emit(&machine, "floor", "us_per_fresh_page", (t2 - t1) * 1e6 / (double)pages, "us");
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

    machine_costs(&b, n);
    return 0;
}
