/*
 * A parking spot for one thread, on a concurrencykit event count (ck_ec32)
 * whose blocking is a futex. park_wake costs one atomic add when nobody
 * sleeps, and a FUTEX_WAKE only when a waiter has flagged the count.
 *
 * Wake-ups are never lost when both sides follow this protocol:
 *
 *     waiter                                  waker
 *     v = park_prepare(p);                    <publish the work>
 *     <announce "parking", re-check work>     park_wake(p);
 *     if (none) park_wait(p, v, deadline);
 *
 * A park_wake that happens after park_prepare makes park_wait return at once,
 * so work published before that wake is seen by the re-check or by the next
 * round of the waiter's loop.
 */
#ifndef WEFT_CK_PARK_H
#define WEFT_CK_PARK_H

#include <ck_ec.h>
#include <stdint.h>

struct park {
    struct ck_ec32 ec; /* counts wakes; its top bit says that a waiter sleeps */
};

/* Initialise an unused parking spot. */
void park_init(struct park *p);

/* Snapshot the wake count, before re-checking for work. Acts as an acquire. */
uint32_t park_prepare(struct park *p);

/* Sleep until a park_wake later than the park_prepare that returned
 * `prepared`, or until deadline_ns (absolute, CLOCK_MONOTONIC, in ns; < 0 for
 * none) has passed. Returns at once if such a wake already happened. May
 * return early: callers loop on their own condition. errno is preserved. */
void park_wait(struct park *p, uint32_t prepared, int64_t deadline_ns);

/* Any thread: wake the waiter, if any, and make any park_wait for an earlier
 * park_prepare return at once. The caller's earlier stores are visible to the
 * woken thread. One atomic add; a syscall only when somebody sleeps. */
void park_wake(struct park *p);

#endif /* WEFT_CK_PARK_H */
