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
 *
 * The SIGSEGV handler must tell a fault in any guard, the running task's or
 * another's (a frame larger than the guard jumps over its own), from any
 * other fault, and it may not take a lock that the faulting thread could
 * hold. So each chunk is described by a record on one process-wide list that
 * is only ever pushed onto: a reader walks it with no lock, and a record is
 * never freed. The record of an unmapped chunk is kept on a free list and
 * reused for the next chunk mapped; its fields are rewritten under a
 * sequence count (a seqlock made of release stores and acquire loads), so a
 * reader never believes half an old and half a new chunk.
 *
 * Invariants of the records: `next` is written before the record is
 * published and never changes; `seq` is odd exactly while base, bytes and
 * slot_size and guard_size are rewritten; base is NULL while the record is free (on
 * free_records); records are pushed, taken from and put on free_records only
 * under records_lock, which is taken after a pool's lock, never before.
 * A record is rewritten only while no task runs on its chunk (just mapped,
 * or being unmapped), so a fault in a guard always finds its record stable.
 */
#include "sched/stack.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include "sched/lock_order.h"

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

#define CHUNK_BYTES (16u << 20)
#define STACK_CACHE_MAX 64
#define CANARY 0x7765667463616e61ull /* "weftcana" */

struct stack_chunk {
    struct stack_chunk *next; /* every record, in all_records */
    struct stack_chunk *link; /* the pool's chunks while mapped, else free_records */
    unsigned seq;             /* atomic; the seqlock over the three fields below */
    char *base;               /* atomic; NULL while free */
    size_t bytes;             /* atomic */
    size_t slot_size;         /* atomic */
    size_t guard_size;        /* atomic */
};

static struct stack_chunk *all_records;  /* atomic head; pushed onto, never popped */
static struct stack_chunk *free_records; /* under records_lock */
static pthread_mutex_t records_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t page_size(void)
{
    static size_t cached;
    if (!cached)
        cached = (size_t)sysconf(_SC_PAGESIZE);
    return cached;
}

/* Describe a chunk in r (base NULL: none). Called under records_lock. */
static void record_set(struct stack_chunk *r, char *base, size_t bytes, size_t slot_size,
                       size_t guard_size)
{
    unsigned seq = r->seq; /* only writers change it, and they hold records_lock */

    __atomic_store_n(&r->seq, seq + 1, __ATOMIC_RELAXED);
    /* release, each: a reader that sees a new field then sees seq odd or newer */
    __atomic_store_n(&r->base, base, __ATOMIC_RELEASE);
    __atomic_store_n(&r->bytes, bytes, __ATOMIC_RELEASE);
    __atomic_store_n(&r->slot_size, slot_size, __ATOMIC_RELEASE);
    __atomic_store_n(&r->guard_size, guard_size, __ATOMIC_RELEASE);
    /* release: a reader that sees the even count sees every field it covers */
    __atomic_store_n(&r->seq, seq + 2, __ATOMIC_RELEASE);
}

/* A record describing the chunk at base, free or new; NULL: out of memory. */
static struct stack_chunk *record_take(char *base, size_t bytes, size_t slot_size,
                                       size_t guard_size)
{
    mutex_lock(&records_lock, LOCK_RANK_STACK_RECORDS);
    struct stack_chunk *r = free_records;
    if (r) {
        free_records = r->link;
    } else if ((r = calloc(1, sizeof *r))) {
        r->next = all_records;
        /* release: next and the zeroed fields are seen by whoever reaches r */
        __atomic_store_n(&all_records, r, __ATOMIC_RELEASE);
    }
    if (r)
        record_set(r, base, bytes, slot_size, guard_size);
    mutex_unlock(&records_lock);
    return r;
}

static void record_put(struct stack_chunk *r)
{
    mutex_lock(&records_lock, LOCK_RANK_STACK_RECORDS);
    record_set(r, NULL, 0, 0, 0);
    r->link = free_records;
    free_records = r;
    mutex_unlock(&records_lock);
}

/* Whether addr is in a guard of the chunk r describes. */
static bool record_guard_hit(const struct stack_chunk *r, const char *addr)
{
    /* acquire, each: the fields are read after seq, and seq again after them */
    unsigned seq = __atomic_load_n(&r->seq, __ATOMIC_ACQUIRE);
    const char *base = __atomic_load_n(&r->base, __ATOMIC_ACQUIRE);
    size_t bytes = __atomic_load_n(&r->bytes, __ATOMIC_ACQUIRE);
    size_t slot_size = __atomic_load_n(&r->slot_size, __ATOMIC_ACQUIRE);
    size_t guard_size = __atomic_load_n(&r->guard_size, __ATOMIC_ACQUIRE);
    if ((seq & 1) || __atomic_load_n(&r->seq, __ATOMIC_RELAXED) != seq)
        return false; /* being rewritten: no task runs on that chunk */
    if (!base || addr < base || addr >= base + bytes)
        return false;
    return (size_t)(addr - base) % slot_size < guard_size;
}

void stack_pool_init(struct stack_pool *pool, size_t stack_size, size_t guard_size)
{
    size_t page = page_size();
    pthread_mutex_init(&pool->lock, NULL);
    pool->free = NULL;
    pool->chunks = NULL;
    pool->stack_size = (stack_size + page - 1) & ~(page - 1);
    if (!guard_size)
        guard_size = STACK_GUARD_DEFAULT;
    pool->guard_size = (guard_size + page - 1) & ~(page - 1);
    pool->slot_size = pool->guard_size + pool->stack_size;
    pool->guard_mode = GUARD_UNKNOWN;
}

/* Make the guard of one slot; returns whether the slot is guarded. */
static bool guard_slot(struct stack_pool *pool, char *slot)
{
    if (pool->guard_mode == GUARD_UNKNOWN || pool->guard_mode == GUARD_MADVISE) {
        if (madvise(slot, pool->guard_size, MADV_GUARD_INSTALL) == 0) {
            pool->guard_mode = GUARD_MADVISE;
            return true;
        }
        pool->guard_mode = GUARD_MPROTECT;
    }
    if (pool->guard_mode == GUARD_MPROTECT) {
        if (mprotect(slot, pool->guard_size, PROT_NONE) == 0)
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
    /* Described before its stacks are handed out, so before any can fault. */
    struct stack_chunk *chunk = record_take(base, bytes, pool->slot_size, pool->guard_size);
    if (!chunk) {
        munmap(base, bytes);
        return ENOMEM;
    }
    chunk->link = pool->chunks;
    pool->chunks = chunk;
    for (size_t i = nslots; i-- > 0;) {
        char *slot = base + i * pool->slot_size;
        /* The descriptor lives at the very top of its own stack. */
        struct stack *s = (struct stack *)(slot + pool->slot_size - sizeof(struct stack));
        s->lo = slot + pool->guard_size;
        s->guard = pool->guard_size;
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
        struct stack_chunk *next = chunk->link;
        /* Plain reads: this thread is the only one that writes the record now. */
        char *base = chunk->base;
        size_t bytes = chunk->bytes;
        for (size_t off = 0; off < bytes; off += pool->slot_size) {
            struct stack *s = (struct stack *)(base + off + pool->slot_size - sizeof(struct stack));
            VALGRIND_STACK_DEREGISTER(s->valgrind_id);
        }
        /* No longer a guard to the handler before the range can be reused. */
        record_put(chunk);
        munmap(base, bytes);
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
    mutex_lock(&pool->lock, LOCK_RANK_STACK_POOL);
    if (!pool->free && pool_grow(pool) != 0) {
        mutex_unlock(&pool->lock);
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
    mutex_unlock(&pool->lock);
    return s;
}

void stack_put(struct stack_pool *pool, struct stack_cache *cache, struct stack *s)
{
    s->next = cache->free;
    cache->free = s;
    if (++cache->count < STACK_CACHE_MAX)
        return;
    /* Give half back so stacks freed on one worker can serve another. */
    mutex_lock(&pool->lock, LOCK_RANK_STACK_POOL);
    while (cache->count > STACK_CACHE_MAX / 2) {
        struct stack *give = cache->free;
        cache->free = give->next;
        cache->count--;
        give->next = pool->free;
        pool->free = give;
    }
    mutex_unlock(&pool->lock);
}

void stack_cache_flush(struct stack_pool *pool, struct stack_cache *cache)
{
    mutex_lock(&pool->lock, LOCK_RANK_STACK_POOL);
    while (cache->free) {
        struct stack *give = cache->free;
        cache->free = give->next;
        give->next = pool->free;
        pool->free = give;
    }
    cache->count = 0;
    mutex_unlock(&pool->lock);
}

bool stack_guard_hit(const struct stack *s, const void *addr)
{
    const char *a = addr;
    return a < s->lo && a >= s->lo - s->guard;
}

bool stack_guard_hit_any(const void *addr)
{
    /* acquire: pairs with the push in record_take, so next is seen written */
    for (const struct stack_chunk *r = __atomic_load_n(&all_records, __ATOMIC_ACQUIRE); r;
         r = r->next)
        if (record_guard_hit(r, addr))
            return true;
    return false;
}

bool stack_canary_dead(const struct stack *s)
{
    return !s->guarded && *(const uint64_t *)s->lo != CANARY;
}
