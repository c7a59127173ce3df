/*
 * Lock-order checking for debug builds (WEFT_LOCK_DEBUG): each thread keeps
 * the locks it holds with their ranks, and taking a lock whose rank is not
 * above every held one aborts with both named. The ranks are the user's
 * (weft's are in sched/lock_order.h); rank 0 is unranked and not checked. A
 * rank with LOCKRANK_NESTS may be taken again while one of the same rank is
 * held (the caller keeps an order of its own among those, documented where
 * the rank is defined). Locks must not be held across a fiber switch, which
 * is what makes a per-thread record right.
 */
#ifndef CK_LOCKRANK_H
#define CK_LOCKRANK_H

#include <stdbool.h>

#define LOCKRANK_NESTS 0x80u

void lockrank_acquired(const void *lock, unsigned rank);
void lockrank_released(const void *lock);
/* Whether this thread holds lock (a ranked one). */
bool lockrank_held(const void *lock);

#endif /* CK_LOCKRANK_H */
