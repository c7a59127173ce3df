/*
 * Parking on ck_ec32. The event count does the hard part: a waiter spins a
 * little, then sets the count's flag bit with a CAS and sleeps on the futex
 * only while the count still holds its prepared value with the flag; a wake
 * adds one and issues FUTEX_WAKE only if it saw the flag. We supply the
 * futex-based ck_ec_ops and always use the multiple-producer mode, whose
 * increment is an atomic add (any thread may wake; ThreadSanitizer sees it).
 *
 * Because a wake is an atomic read-modify-write, it always observes the flag
 * of a waiter that set it first, so ck_ec's backoff (periodic timed sleeps,
 * a guard against the single-producer x86 increment overwriting the flag)
 * is not needed for correctness; it is stretched so that a sleeper wakes
 * once at 250 ms and once at 1 s, then sleeps until the caller's deadline.
 *
 * ThreadSanitizer sees ck_pr loads as plain reads, which would race with the
 * atomic add of park_wake, so a TSan build reads the count with an __atomic
 * acquire load instead of ck_ec32_value, and re-reads it after sleeping so
 * that TSan sees the wake happen before the return. The sleeping path itself
 * runs inside libck, which TSan does not instrument.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "park.h"

#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <stddef.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define PARK_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define PARK_TSAN 1
#endif
#endif

#if defined(PARK_TSAN) && !CK_USE_CC_BUILTINS
#error "ThreadSanitizer builds need -DCK_USE_CC_BUILTINS=1 (DESIGN.md, section 5)"
#endif

#define NS_PER_S 1000000000

static int monotonic_now(const struct ck_ec_ops *ops, struct timespec *out)
{
    (void)ops;
    return clock_gettime(CLOCK_MONOTONIC, out);
}

/* FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, the clock of
 * monotonic_now. EAGAIN, EINTR and ETIMEDOUT are all early returns to ck_ec. */
static void futex_wait(const struct ck_ec_wait_state *state, const uint32_t *word,
                       uint32_t expected, const struct timespec *deadline)
{
    (void)state;
    if (deadline == NULL)
        syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, expected, NULL, NULL, 0);
    else
        syscall(SYS_futex, word, FUTEX_WAIT_BITSET_PRIVATE, expected, deadline, NULL,
                FUTEX_BITSET_MATCH_ANY);
}

static void futex_wake(const struct ck_ec_ops *ops, const uint32_t *word)
{
    (void)ops;
    syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

static const struct ck_ec_ops futex_ops = {
    .gettime = monotonic_now,
    .wait32 = futex_wait,
    .wake32 = futex_wake,
    .initial_wait_ns = 250000000,
    .wait_scale_factor = 4,
};

static const struct ck_ec_mode any_waker = {
    .ops = &futex_ops,
    .single_producer = false,
};

static inline uint32_t wake_count(const struct park *p)
{
#ifdef PARK_TSAN
    /* ck_ec32 keeps its flag in bit 31 and the count in bits 0..30. */
    return __atomic_load_n(&p->ec.counter, __ATOMIC_ACQUIRE) & INT32_MAX;
#else
    return ck_ec32_value(&p->ec);
#endif
}

void park_init(struct park *p)
{
    ck_ec32_init(&p->ec, 0);
}

uint32_t park_prepare(struct park *p)
{
    return wake_count(p);
}

/* The wait itself is ours rather than ck_ec32_wait's: ck_ec sleeps in
 * exponentially growing slices starting at initial_wait_ns and does not cut
 * the first one at the deadline, so a 5 ms deadline slept 250 ms. With
 * multi-producer wakers (a locked add that sees the flag) the flag cannot be
 * lost, so one futex wait up to the deadline is enough: set the flag that
 * makes ck_ec32_add wake us, then sleep while the word still holds the value
 * we flagged. */
void park_wait(struct park *p, uint32_t prepared, int64_t deadline_ns)
{
    const uint32_t flag = 1u << 31;
    int saved_errno = errno;
    uint32_t cur = __atomic_load_n(&p->ec.counter, __ATOMIC_ACQUIRE);
    for (;;) {
        if ((cur & ~flag) != prepared)
            goto out; /* woken since park_prepare */
        if (cur & flag)
            break;
        if (__atomic_compare_exchange_n(&p->ec.counter, &cur, cur | flag, false,
                                        __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
            cur |= flag;
            break;
        }
    }
    if (deadline_ns >= 0) {
        struct timespec deadline = {.tv_sec = (time_t)(deadline_ns / NS_PER_S),
                                    .tv_nsec = (long)(deadline_ns % NS_PER_S)};
        futex_wait(NULL, &p->ec.counter, cur, &deadline);
    } else {
        futex_wait(NULL, &p->ec.counter, cur, NULL);
    }
out:
#ifdef PARK_TSAN
    (void)wake_count(p);
#endif
    errno = saved_errno;
}

void park_wake(struct park *p)
{
    ck_ec32_add(&p->ec, &any_waker, 1);
}
