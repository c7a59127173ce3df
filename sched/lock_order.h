/*
 * The ranks of weft's spinlocks, for the lock-order checker of
 * WEFT_LOCK_DEBUG builds (ck/lockrank.h): a lock may be taken only while
 * every lock held has a lower rank. docs/design.md, section 7, gives the
 * whole order, mutexes included, and why each step is there.
 */
#ifndef SCHED_LOCK_ORDER_H
#define SCHED_LOCK_ORDER_H

#include <pthread.h>

#include "ck/lockrank.h"

enum lock_rank {
    /* Mutexes (mutex_lock below) and spinlocks share one order. */
    LOCK_RANK_RUNNING = 1,        /* the list of running runtimes */
    LOCK_RANK_EXECUTORS = 3,      /* a runtime's list of blocking pools */
    LOCK_RANK_POOL = 4,           /* one pool: its handover wakes a task */
    LOCK_RANK_EVERYONE_IDLE = 5,  /* the everyone-idle decision */
    LOCK_RANK_SCOPE = 20,    /* a task group's, a timeout scope's: they cancel tasks */
    /* A task's. Nests: a task cancelling the future it waits on cancels the
     * tasks a gather waits on, under its own lock: from the gathering task
     * down to the gathered ones, never back up. */
    LOCK_RANK_TASK = 30 | LOCKRANK_NESTS,
    LOCK_RANK_GATHER = 40,   /* taken by a gather's cancel, under the gathering task's */
    LOCK_RANK_FUTURE = 50,
    LOCK_RANK_OBJECT = 60,   /* a wait's state, a queue's, an event's, lock's or semaphore's */
    LOCK_RANK_POLLER = 65,   /* the poller's table; a close under it wakes tasks */
    LOCK_RANK_FD_QUEUE = 70, /* a descriptor's queue of waiters */
    LOCK_RANK_IDLE = 75,     /* the idle set: every wake-up takes it, whatever is held */
    LOCK_RANK_LEAF = 80,     /* a timer heap's, the spill list's */
    /* A worker's registry of tasks: last, as dropping a task's last
     * reference removes it there, whatever the dropper holds (a timer heap
     * pruning a cancelled timer, a group ending a child). */
    LOCK_RANK_STACK_POOL = 84, /* the stack pool, then its guard records */
    LOCK_RANK_STACK_RECORDS = 86,
    LOCK_RANK_REGISTRY = 90,
    LOCK_RANK_MONITOR = 95,  /* never held with another */
    LOCK_RANK_INSTALL = 96,  /* the overflow handler's install count */
};

/* pthread_mutex_lock and _unlock with the checker's record. */
static inline void mutex_lock(pthread_mutex_t *m, unsigned rank)
{
    pthread_mutex_lock(m);
#ifdef WEFT_LOCK_DEBUG
    lockrank_acquired(m, rank);
#else
    (void)rank;
#endif
}

static inline void mutex_unlock(pthread_mutex_t *m)
{
#ifdef WEFT_LOCK_DEBUG
    lockrank_released(m);
#endif
    pthread_mutex_unlock(m);
}

#endif /* SCHED_LOCK_ORDER_H */
