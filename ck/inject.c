/*
 * The injection queue: a ring buffer that doubles when full, guarded by a
 * test-and-test-and-set spinlock. Critical sections are a few loads and
 * stores, so a lock is cheaper than a lock-free MPMC queue here, and it keeps
 * FIFO order exact. The lock is built on __atomic acquire/release rather than
 * ck_spinlock so that ThreadSanitizer sees its ordering. count is also stored
 * atomically, so that inject_empty and inject_pop on an empty queue read it
 * without touching the lock.
 */
#include "inject.h"

#include <assert.h>
#include <ck_pr.h>
#include <errno.h>
#include <sched.h>
#include <stdint.h>
#include <stdlib.h>

#define INJECT_INITIAL_CAPACITY 64
#define INJECT_SPINS_BEFORE_YIELD 64

static void lock(struct inject *q)
{
    unsigned spins = 0;

    while (__atomic_exchange_n(&q->lock, 1, __ATOMIC_ACQUIRE) != 0) {
        while (__atomic_load_n(&q->lock, __ATOMIC_RELAXED) != 0) {
            /* The holder may be preempted: stop burning its CPU after a while. */
            if (++spins < INJECT_SPINS_BEFORE_YIELD) {
                ck_pr_stall();
            } else {
                sched_yield();
                spins = 0;
            }
        }
    }
}

static void unlock(struct inject *q)
{
    __atomic_store_n(&q->lock, 0, __ATOMIC_RELEASE);
}

int inject_init(struct inject *q)
{
    q->lock = 0;
    q->count = 0;
    q->head = 0;
    q->mask = INJECT_INITIAL_CAPACITY - 1;
    q->slots = malloc(INJECT_INITIAL_CAPACITY * sizeof(void *));
    return q->slots == NULL ? ENOMEM : 0;
}

void inject_destroy(struct inject *q)
{
    free(q->slots);
    q->slots = NULL;
}

/* Cold path of push, under the lock: double the ring, oldest item first. */
static __attribute__((noinline)) int grow(struct inject *q, size_t count)
{
    size_t capacity = q->mask + 1;

    if (capacity > SIZE_MAX / 2 / sizeof(void *))
        return ENOMEM;
    void **slots = malloc(2 * capacity * sizeof(void *));
    if (slots == NULL)
        return ENOMEM;
    for (size_t i = 0; i < count; i++)
        slots[i] = q->slots[(q->head + i) & q->mask];
    free(q->slots);
    q->slots = slots;
    q->head = 0;
    q->mask = 2 * capacity - 1;
    return 0;
}

int inject_push(struct inject *q, void *item)
{
    assert(item != NULL);
    lock(q);
    size_t count = __atomic_load_n(&q->count, __ATOMIC_RELAXED);
    if (count > q->mask && grow(q, count) != 0) {
        unlock(q);
        return ENOMEM;
    }
    q->slots[(q->head + count) & q->mask] = item;
    __atomic_store_n(&q->count, count + 1, __ATOMIC_RELEASE);
    unlock(q);
    return 0;
}

void *inject_pop(struct inject *q)
{
    void *item = NULL;

    if (__atomic_load_n(&q->count, __ATOMIC_ACQUIRE) == 0)
        return NULL;
    lock(q);
    size_t count = __atomic_load_n(&q->count, __ATOMIC_RELAXED);
    if (count != 0) {
        item = q->slots[q->head];
        q->head = (q->head + 1) & q->mask;
        __atomic_store_n(&q->count, count - 1, __ATOMIC_RELEASE);
    }
    unlock(q);
    return item;
}

bool inject_empty(const struct inject *q)
{
    return __atomic_load_n(&q->count, __ATOMIC_ACQUIRE) == 0;
}

size_t inject_size(const struct inject *q)
{
    return __atomic_load_n(&q->count, __ATOMIC_ACQUIRE);
}
