/*
 * A test-and-test-and-set spinlock for very short critical sections (a few
 * loads and stores), one byte wide so it can sit inside small objects.
 *
 * Acquire and release are expressed on the lock word itself, not as
 * standalone fences, so ThreadSanitizer sees the happens-before edge.
 */
#ifndef CK_SPINLOCK_H
#define CK_SPINLOCK_H

#include <ck_pr.h>
#include <stdbool.h>

typedef struct spinlock {
    unsigned char held;
} spinlock;

#define SPINLOCK_INIT {0}

static inline bool spin_trylock(spinlock *l)
{
    return !__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE);
}

static inline void spin_lock(spinlock *l)
{
    while (__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE)) {
        /* Spin on a plain load so waiting does not bounce the cache line. */
        while (__atomic_load_n(&l->held, __ATOMIC_RELAXED))
            ck_pr_stall();
    }
}

static inline void spin_unlock(spinlock *l)
{
    __atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
}

#endif /* CK_SPINLOCK_H */
