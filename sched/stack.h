/*
 * Fiber stacks: carved from large mappings, each with a guard region below
 * it, recycled through a per-worker cache in front of a shared pool. Every
 * mapping of every pool is on one process-wide list, so that a fault in any
 * guard can be recognised from a signal handler.
 */
#ifndef SCHED_STACK_H
#define SCHED_STACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

/*
 * The guard below each stack. A frame larger than what is left of its stack
 * moves the stack pointer past the guard in one step, and its first write
 * lands as far below as the frame is large: unless the compiler probes large
 * frames page by page (-fstack-clash-protection, which weft.pc and the CMake
 * targets ask for), a guard catches only the frames that end inside it, and
 * a larger frame writes into the stack of another task (a frame that lands
 * in another slot's guard is reported too).
 *
 * A guard is not free, which is why the default is 64 KiB and a program
 * built without probing may raise it (weft_config.stack_guard). Its address
 * space is (100,000 stacks of 256 KiB take 31 GiB with 64 KiB guards and
 * 75 GiB with 512 KiB ones, none of it committed), and so is an mprotect
 * guard (one mapping whatever its size). But MADV_GUARD_INSTALL writes a
 * marker into the page-table entry of each guard page: every 4 KiB of guard
 * is a PTE written when its chunk is mapped and cleared when it is
 * unmapped, in page tables that take 4 KiB per 2 MiB of slots. Measured on
 * the timers benchmark (100,000 fresh stacks), against 64 KiB: cpu time
 * 1.06x at 128 KiB, 1.19x at 256 KiB, 1.37x at 512 KiB; page tables for
 * 100,000 stacks 63 MB at 64 KiB, 150 MB at 512 KiB.
 */
#define STACK_GUARD_DEFAULT ((size_t)64 << 10)

struct stack {
    struct stack *next;  /* free-list link while pooled */
    char *lo;            /* lowest usable byte; the guard lies just below */
    size_t guard;        /* bytes of guard below lo */
    size_t size;         /* usable bytes, ending where this struct begins */
    unsigned valgrind_id;
    bool guarded;        /* false when the kernel refused a guard (see stack.c) */
};

/* The shared pool of one runtime: chunks mapped so far and the free list. */
struct stack_pool {
    pthread_mutex_t lock;
    struct stack *free;
    struct stack_chunk *chunks; /* this pool's, linked by their `link` */
    size_t stack_size;   /* usable bytes per stack */
    size_t guard_size;   /* guard below each stack, page multiple */
    size_t slot_size;    /* guard + stack, page multiple */
    int guard_mode;      /* how guards are made; see stack.c */
};

/* A worker's private cache of free stacks, taken from and returned to
 * without a lock. */
struct stack_cache {
    struct stack *free;
    unsigned count;
};

/* stack_size and guard_size are rounded up to pages; guard_size 0: the default. */
void stack_pool_init(struct stack_pool *pool, size_t stack_size, size_t guard_size);
void stack_pool_destroy(struct stack_pool *pool);
struct stack *stack_get(struct stack_pool *pool, struct stack_cache *cache); /* NULL: ENOMEM */
void stack_put(struct stack_pool *pool, struct stack_cache *cache, struct stack *s);
void stack_cache_flush(struct stack_pool *pool, struct stack_cache *cache);

/* The top of the usable region, where a new fiber's stack pointer starts. */
static inline void *stack_top(const struct stack *s)
{
    return s->lo + s->size;
}

/* True if addr is in the guard region below s (a stack overflow). */
bool stack_guard_hit(const struct stack *s, const void *addr);

/* True if addr is in the guard region of any stack of any pool in the
 * process. Async-signal-safe: takes no lock. */
bool stack_guard_hit_any(const void *addr);

/* For stacks the kernel would not guard: true if the canary at the bottom
 * was overwritten. */
bool stack_canary_dead(const struct stack *s);

#endif /* SCHED_STACK_H */
