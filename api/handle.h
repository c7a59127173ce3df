/*
 * Handle checks. Every handle (a task, a queue, a lock, ...) carries a magic
 * word: its kind's live value while it is in use, its kind's freed value
 * once released or destroyed. Every public call that takes a handle checks
 * the word before it touches anything else, so that using a handle after
 * its end aborts at once with a message naming the call, in every build,
 * instead of returning stale values, spinning on a freed lock or corrupting
 * the allocator. The word sits past a struct's first 16 bytes, which
 * malloc reuses for its free lists; a stale handle whose memory has been
 * handed out again is beyond any check.
 */
#ifndef API_HANDLE_H
#define API_HANDLE_H

#include <stdint.h>

#include "sched/runtime.h"

enum handle_kind {
    HANDLE_TASK,
    HANDLE_QUEUE,
    HANDLE_GEN,
    HANDLE_EVENT,
    HANDLE_LOCK,
    HANDLE_SEM,
    HANDLE_EXECUTOR,
    HANDLE_GROUP,
    HANDLE_TIMEOUT,
};

#define HANDLE_LIVE(kind) (0x77650000u | (uint32_t)(kind) << 8 | 0x4cu)
#define HANDLE_FREED(kind) (0x77650000u | (uint32_t)(kind) << 8 | 0xdfu)

/* Print "weft: <call>: <kind> handle already <released|destroyed>" (or
 * "not a live <kind> handle"), naming the running task, and abort. */
void handle_misuse(const char *call, enum handle_kind kind, uint32_t seen)
    __attribute__((noreturn, cold));

/* Check h's magic word for call; NULL passes (each call answers it). */
#define HANDLE_CHECK(h, kind, call)                                                                \
    do {                                                                                           \
        if (h) {                                                                                   \
            uint32_t seen_ = __atomic_load_n(&(h)->magic, __ATOMIC_RELAXED);                       \
            if (__builtin_expect(seen_ != HANDLE_LIVE(kind), 0))                                   \
                handle_misuse(call, kind, seen_);                                                  \
        }                                                                                          \
    } while (0)

/* A task handle's check: live, and not released by its owner (a task may
 * still use its own, from weft_task_current). */
#define TASK_HANDLE_CHECK(t, call)                                                                 \
    do {                                                                                           \
        HANDLE_CHECK(t, HANDLE_TASK, call);                                                        \
        if (__builtin_expect(__atomic_load_n(&(t)->released, __ATOMIC_RELAXED), 0) &&              \
            (t) != task_self())                                                                    \
            handle_misuse(call, HANDLE_TASK, HANDLE_FREED(HANDLE_TASK));                           \
    } while (0)

/* Mark h freed: later calls with it abort. */
#define HANDLE_KILL(h, kind) __atomic_store_n(&(h)->magic, HANDLE_FREED(kind), __ATOMIC_RELAXED)

#endif /* API_HANDLE_H */
