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
 * frames page by page (-fstack-clash-protection, which weft.pc asks for), a
 * guard catches only the frames that end inside it, and a larger frame
 * writes into the stack of another task. So the guard is sized for large
 * frames, not for one page: 512 KiB catches any frame up to 512 KiB plus
 * what was left of the stack (frames of a few hundred KiB are the ones that
 * turn up in C: I/O buffers, big structs), and a frame larger still mostly
 * lands in another slot's guard, which the SIGSEGV handler reports too.
 *
 * A guard is not free, which is why it is no larger. Its address space is
 * (at the default 256 KiB stack, 100,000 stacks take 75 GiB of a process's
 * 128 TiB, none of it committed: MAP_NORESERVE, and a guard page is never
 * backed), and so is an mprotect guard (one mapping whatever its size). But
 * MADV_GUARD_INSTALL writes a marker into the page-table entry of each guard
 * page: every 4 KiB of guard is a PTE written when its chunk is mapped and
 * cleared when it is unmapped, in page tables that take 4 KiB per 2 MiB of
 * slots. Measured with 100,000 suspended tasks at 256 KiB, against a 64 KiB
 * guard: page tables 150 MB at 512 KiB and 251 MB at 1 MiB (63 MB at
 * 64 KiB); the idle benchmark's wall time 1.6-1.7x and 2.1-2.6x, the timers
 * benchmark's cpu time 1.25-1.3x and 1.4-1.5x.
 */
#define STACK_GUARD_BYTES ((size_t)512 << 10)

struct stack {
    struct stack *next;  /* free-list link while pooled */
    char *lo;            /* lowest usable byte; the guard lies just below */
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
    size_t slot_size;    /* guard + stack, page multiple */
    int guard_mode;      /* how guards are made; see stack.c */
};

/* A worker's private cache of free stacks, taken from and returned to
 * without a lock. */
struct stack_cache {
    struct stack *free;
    unsigned count;
};

void stack_pool_init(struct stack_pool *pool, size_t stack_size);
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
