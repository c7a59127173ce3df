/*
 * The ranks of weft's spinlocks, for the lock-order checker of
 * WEFT_LOCK_DEBUG builds (ck/lockrank.h): a lock may be taken only while
 * every lock held has a lower rank. docs/design.md, section 7, gives the
 * whole order, mutexes included, and why each step is there.
 */
#ifndef SCHED_LOCK_ORDER_H
#define SCHED_LOCK_ORDER_H

#include "ck/lockrank.h"

enum lock_rank {
    LOCK_RANK_SCOPE = 20,    /* a task group's, a timeout scope's: they cancel tasks */
    /* A task's. Nests: a task cancelling the future it waits on cancels the
     * tasks a gather waits on, under its own lock: from the gathering task
     * down to the gathered ones, never back up. */
    LOCK_RANK_TASK = 30 | LOCKRANK_NESTS,
    LOCK_RANK_GATHER = 40,   /* taken by a gather's cancel, under the gathering task's */
    LOCK_RANK_FUTURE = 50,
    LOCK_RANK_OBJECT = 60,   /* a wait's state, a queue's, an event's, lock's or semaphore's */
    LOCK_RANK_FD_QUEUE = 70, /* a descriptor's queue of waiters */
    LOCK_RANK_LEAF = 80,     /* a timer heap's, the spill list's */
    /* A worker's registry of tasks: last, as dropping a task's last
     * reference removes it there, whatever the dropper holds (a timer heap
     * pruning a cancelled timer, a group ending a child). */
    LOCK_RANK_REGISTRY = 90,
};

#endif /* SCHED_LOCK_ORDER_H */
