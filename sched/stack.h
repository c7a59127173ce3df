/*
 * Fiber stacks: carved from large mappings, each with a guard region below
 * it, recycled through a per-worker cache in front of a shared pool.
 */
#ifndef SCHED_STACK_H
#define SCHED_STACK_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

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
    struct stack_chunk *chunks;
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

/* For stacks the kernel would not guard: true if the canary at the bottom
 * was overwritten. */
bool stack_canary_dead(const struct stack *s);

#endif /* SCHED_STACK_H */
