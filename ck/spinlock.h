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

#ifdef WEFT_LOCK_DEBUG
#include "ck/lockrank.h"
#endif

typedef struct spinlock {
    unsigned char held;
#ifdef WEFT_LOCK_DEBUG
    unsigned char rank; /* ck/lockrank.h; 0: unchecked */
#endif
} spinlock;

#define SPINLOCK_INIT {0}

/* An unlocked spinlock of the given rank (checked in WEFT_LOCK_DEBUG
 * builds only). */
static inline void spin_init(spinlock *l, unsigned rank)
{
    *l = (spinlock)SPINLOCK_INIT;
#ifdef WEFT_LOCK_DEBUG
    l->rank = (unsigned char)rank;
#else
    (void)rank;
#endif
}

static inline bool spin_trylock(spinlock *l)
{
    bool got = !__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE);
#ifdef WEFT_LOCK_DEBUG
    if (got)
        lockrank_acquired(l, l->rank);
#endif
    return got;
}

static inline void spin_lock(spinlock *l)
{
    while (__atomic_exchange_n(&l->held, 1, __ATOMIC_ACQUIRE)) {
        /* Spin on a plain load so waiting does not bounce the cache line. */
        while (__atomic_load_n(&l->held, __ATOMIC_RELAXED))
            ck_pr_stall();
    }
#ifdef WEFT_LOCK_DEBUG
    lockrank_acquired(l, l->rank);
#endif
}

static inline void spin_unlock(spinlock *l)
{
#ifdef WEFT_LOCK_DEBUG
    lockrank_released(l);
#endif
    __atomic_store_n(&l->held, 0, __ATOMIC_RELEASE);
}

/* In WEFT_LOCK_DEBUG builds: abort unless this thread holds l. For the
 * fields documented "under lock". */
static inline void spin_assert_held(const spinlock *l)
{
#ifdef WEFT_LOCK_DEBUG
    if (!lockrank_held(l))
        __builtin_trap();
#else
    (void)l;
#endif
}

#endif /* CK_SPINLOCK_H */
