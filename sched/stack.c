/*
 * Fiber stacks.
 *
 * A stack mapped on its own with an mprotect'ed guard page costs two kernel
 * mappings, and Linux allows 65,530 by default: 100,000 suspended tasks would
 * not fit. So stacks are carved from chunks of many slots, each slot a guard
 * region followed by the usable stack, and the guard is made with
 * MADV_GUARD_INSTALL (Linux 6.13+), which marks pages as faulting without
 * splitting the mapping. Older kernels get mprotect guards (two mappings per
 * stack) while the kernel accepts more mappings, then unguarded stacks with a
 * canary word at the bottom that is checked when the task ends.
 *
 * Memory is reserved with MAP_NORESERVE: a stack costs only the pages it
 * touched. Free stacks go to the worker's cache first (no lock), and past a
 * bound to the shared pool (a mutex; taken once per STACK_CACHE_MAX/2 stacks).
 */
#include "sched/stack.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#ifdef WEFT_HAVE_VALGRIND
#include <valgrind/valgrind.h>
#else
#define VALGRIND_STACK_REGISTER(lo, hi) 0u
#define VALGRIND_STACK_DEREGISTER(id) ((void)(id))
#endif

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

enum { GUARD_UNKNOWN, GUARD_MADVISE, GUARD_MPROTECT, GUARD_NONE };

#define GUARD_BYTES (64 * 1024)
#define CHUNK_BYTES (16u << 20)
#define STACK_CACHE_MAX 64
#define CANARY 0x7765667463616e61ull /* "weftcana" */

struct stack_chunk {
    struct stack_chunk *next;
    char *base;
    size_t bytes;
};

static size_t page_size(void)
{
    static size_t cached;
    if (!cached)
        cached = (size_t)sysconf(_SC_PAGESIZE);
    return cached;
}

void stack_pool_init(struct stack_pool *pool, size_t stack_size)
{
    size_t page = page_size();
    pthread_mutex_init(&pool->lock, NULL);
    pool->free = NULL;
    pool->chunks = NULL;
    pool->stack_size = (stack_size + page - 1) & ~(page - 1);
    pool->slot_size = GUARD_BYTES + pool->stack_size;
    pool->guard_mode = GUARD_UNKNOWN;
}

/* Make the guard of one slot; returns whether the slot is guarded. */
static bool guard_slot(struct stack_pool *pool, char *slot)
{
    if (pool->guard_mode == GUARD_UNKNOWN || pool->guard_mode == GUARD_MADVISE) {
        if (madvise(slot, GUARD_BYTES, MADV_GUARD_INSTALL) == 0) {
            pool->guard_mode = GUARD_MADVISE;
            return true;
        }
        pool->guard_mode = GUARD_MPROTECT;
    }
    if (pool->guard_mode == GUARD_MPROTECT) {
        if (mprotect(slot, GUARD_BYTES, PROT_NONE) == 0)
            return true;
        /* Out of mappings (ENOMEM): the rest go unguarded, with canaries. */
        pool->guard_mode = GUARD_NONE;
    }
    return false;
}

/* Map a new chunk and put its stacks on the free list. Called locked. */
static int pool_grow(struct stack_pool *pool)
{
    size_t nslots = CHUNK_BYTES / pool->slot_size;
    if (nslots < 4)
        nslots = 4;
    size_t bytes = nslots * pool->slot_size;
    char *base = mmap(NULL, bytes, PROT_READ | PROT_WRITE,
                      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (base == MAP_FAILED)
        return ENOMEM;
    struct stack_chunk *chunk = malloc(sizeof *chunk);
    if (!chunk) {
        munmap(base, bytes);
        return ENOMEM;
    }
    chunk->base = base;
    chunk->bytes = bytes;
    chunk->next = pool->chunks;
    pool->chunks = chunk;
    for (size_t i = nslots; i-- > 0;) {
        char *slot = base + i * pool->slot_size;
        /* The descriptor lives at the very top of its own stack. */
        struct stack *s = (struct stack *)(slot + pool->slot_size - sizeof(struct stack));
        s->lo = slot + GUARD_BYTES;
        s->size = (size_t)((char *)s - s->lo) & ~(size_t)63;
        s->guarded = guard_slot(pool, slot);
        if (!s->guarded)
            *(uint64_t *)s->lo = CANARY;
        s->valgrind_id = VALGRIND_STACK_REGISTER(s->lo, s->lo + s->size);
        s->next = pool->free;
        pool->free = s;
    }
    return 0;
}

void stack_pool_destroy(struct stack_pool *pool)
{
    struct stack_chunk *chunk = pool->chunks;
    while (chunk) {
        struct stack_chunk *next = chunk->next;
        for (size_t off = 0; off < chunk->bytes; off += pool->slot_size) {
            struct stack *s = (struct stack *)(chunk->base + off + pool->slot_size -
                                               sizeof(struct stack));
            VALGRIND_STACK_DEREGISTER(s->valgrind_id);
        }
        munmap(chunk->base, chunk->bytes);
        free(chunk);
        chunk = next;
    }
    pool->chunks = NULL;
    pool->free = NULL;
    pthread_mutex_destroy(&pool->lock);
}

struct stack *stack_get(struct stack_pool *pool, struct stack_cache *cache)
{
    struct stack *s = cache->free;
    if (s) {
        cache->free = s->next;
        cache->count--;
        return s;
    }
    pthread_mutex_lock(&pool->lock);
    if (!pool->free && pool_grow(pool) != 0) {
        pthread_mutex_unlock(&pool->lock);
        return NULL;
    }
    /* Take a batch so the next few spawns on this worker stay lock-free. */
    s = pool->free;
    pool->free = s->next;
    for (unsigned i = 0; i < STACK_CACHE_MAX / 2 && pool->free; i++) {
        struct stack *extra = pool->free;
        pool->free = extra->next;
        extra->next = cache->free;
        cache->free = extra;
        cache->count++;
    }
    pthread_mutex_unlock(&pool->lock);
    return s;
}

void stack_put(struct stack_pool *pool, struct stack_cache *cache, struct stack *s)
{
    s->next = cache->free;
    cache->free = s;
    if (++cache->count < STACK_CACHE_MAX)
        return;
    /* Give half back so stacks freed on one worker can serve another. */
    pthread_mutex_lock(&pool->lock);
    while (cache->count > STACK_CACHE_MAX / 2) {
        struct stack *give = cache->free;
        cache->free = give->next;
        cache->count--;
        give->next = pool->free;
        pool->free = give;
    }
    pthread_mutex_unlock(&pool->lock);
}

void stack_cache_flush(struct stack_pool *pool, struct stack_cache *cache)
{
    pthread_mutex_lock(&pool->lock);
    while (cache->free) {
        struct stack *give = cache->free;
        cache->free = give->next;
        give->next = pool->free;
        pool->free = give;
    }
    cache->count = 0;
    pthread_mutex_unlock(&pool->lock);
}

bool stack_guard_hit(const struct stack *s, const void *addr)
{
    const char *a = addr;
    return a < s->lo && a >= s->lo - GUARD_BYTES;
}

bool stack_canary_dead(const struct stack *s)
{
    return !s->guarded && *(const uint64_t *)s->lo != CANARY;
}
