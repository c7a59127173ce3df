/*
 * Tasks: what a weft_task handle points to, and the protocol by which a task
 * suspends and is woken.
 *
 * Waiting. A task that suspends first announces the wait: it bumps its wait
 * sequence number and sets its wait word to (seq, PARKING), then registers
 * itself wherever the wake-up will come from (a timer, another task's waiter
 * list), then switches to its worker. Only after the switch, when its stack
 * is no longer in use, does the worker move the word from PARKING to PARKED.
 * A waker holding (task, seq) moves PARKING to NOTIFIED (the worker will see
 * it and requeue the task) or PARKED to RUNNING and makes the task ready.
 * Every transition is a compare-and-swap on the one word, so of several
 * wakers for the same wait exactly one wins, a waker for an older wait (stale
 * seq) does nothing, and no wake-up is lost between registering and
 * switching.
 *
 * Cancellation follows asyncio's Task.cancel: the task's lock guards what it
 * is waiting on (asyncio's _fut_waiter) and the must_cancel flag. A cancel
 * forwards to an awaited task, wakes a sleeper, or leaves must_cancel for the
 * next await point to consume.
 */
#ifndef SCHED_TASK_H
#define SCHED_TASK_H

#include <stdbool.h>
#include <stdint.h>

#include "ck/spinlock.h"
#include "sched/fiber.h"
#include "weft.h"

struct runtime;
struct stack;
struct weft_task;
struct future;

enum task_state { TASK_NEW, TASK_STARTED, TASK_DONE };

/* A task's magic word (api/handle.h checks it on every public call): past
 * the struct's first 16 bytes, which malloc's free lists reuse. */
#define TASK_MAGIC_LIVE 0x7765004cu
#define TASK_MAGIC_FREED 0x776500dfu

/* What a suspended task waits on (asyncio's Task._fut_waiter). */
enum wait_kind {
    WAIT_NONE,  /* running, ready, or yielding: cancel sets must_cancel */
    WAIT_TASK,  /* awaiting wait_task: cancel forwards to it */
    WAIT_WAKE,  /* anything else (sleep, ...): cancel wakes the task */
    WAIT_FUTURE, /* awaiting wait_future: cancel cancels it */
};

/* The wait word: a wait's number above two bits of state. Encoded and
 * decoded by these three only. */
enum { W_RUNNING, W_PARKING, W_PARKED, W_NOTIFIED };

static inline uint64_t wait_word(uint64_t seq, unsigned state)
{
    return seq << 2 | state;
}

static inline uint64_t wait_seq(uint64_t word)
{
    return word >> 2;
}

static inline unsigned wait_state(uint64_t word)
{
    return (unsigned)(word & 3);
}

/* A done-callback on a task (asyncio's add_done_callback). fn runs once the
 * task is done, on the thread that finished it, outside any lock. */
struct waiter {
    struct waiter *next;
    void (*fn)(struct waiter *w, struct weft_task *done);
};

/* A FIFO of waiters kept as a head and a pointer to the last link, under
 * its owner's lock (a task's or a future's). */
static inline void waiters_append(struct waiter ***tail, struct waiter *w)
{
    w->next = NULL;
    **tail = w;
    *tail = &w->next;
}

/* Unlink w; false if it was not in the list. */
static inline bool waiters_unlink(struct waiter **head, struct waiter ***tail, struct waiter *w)
{
    for (struct waiter **p = head; *p; p = &(*p)->next) {
        if (*p == w) {
            *p = w->next;
            if (!*p)
                *tail = p;
            return true;
        }
    }
    return false;
}

/* A name given with weft_task_set_name. A rename keeps the older ones
 * (linked from the new) so that a string weft_task_name returned stays
 * valid as long as the task. */
struct task_name {
    struct task_name *older;
    char text[];
};

/* What a suspended task waits on, in words for weft_dump and the deadlock
 * report (the wait protocol itself does not read it). Written by the task
 * alone, just before it suspends; read by any thread, which may see a
 * mixture of two consecutive notes: the fields are diagnostics, each one
 * atomic, and obj is followed only for a task (looked up among the live
 * ones by address) and a lock, that a pinned waiter keeps alive (see
 * sched/inspect.c). 32 bytes: a task struct must stay within 248, its
 * malloc chunk's 256 (skynet in single-thread mode, which keeps a million
 * tasks, was 5% slower when it grew past). */
enum wait_what {
    WAIT_FOR_NOTHING,
    WAIT_FOR_TASK,       /* obj: the awaited weft_task */
    WAIT_FOR_SLEEP,      /* until: the deadline (runtime clock), or INFINITY */
    WAIT_FOR_QUEUE_GET,  /* obj: the weft_queue */
    WAIT_FOR_QUEUE_PUT,
    WAIT_FOR_QUEUE_JOIN,
    WAIT_FOR_EVENT,      /* obj: the weft_event */
    WAIT_FOR_LOCK,       /* obj: the weft_lock, whose first member is its holder
                            (struct weft_task *, atomic; api/lock.c) */
    WAIT_FOR_SEMAPHORE,  /* obj: the weft_sem */
    WAIT_FOR_EXECUTOR,   /* obj: the weft_executor (shutdown) */
    WAIT_FOR_GATHER,     /* obj: how many tasks, as an integer */
    WAIT_FOR_WAIT,       /* weft_wait: obj: how many tasks, as an integer */
    WAIT_FOR_GROUP,      /* obj: the weft_group */
    WAIT_FOR_SHIELD,     /* obj: the shielded weft_task */
    WAIT_FOR_FD_READ,    /* obj: the descriptor, as an integer; until: the deadline */
    WAIT_FOR_FD_WRITE,
    WAIT_FOR_FD_BOTH,
};

struct wait_note {
    uint64_t tag;        /* the wait it describes (task_wait_begin's number) << 8
                            | enum wait_what: one store for both */
    const void *obj;
    double until;        /* sleep, fd: the deadline, or INFINITY */
    double since;        /* when the task switched out (its worker's clock) */
};

/* How a task left its fiber, read by the worker right after the switch. */
enum switch_action { SW_PARK, SW_YIELD, SW_EXIT };

struct weft_task {
    void *(*fn)(void *);
    void *arg;
    void *result;
    struct runtime *rt;
    fcontext_t ctx;
    struct stack *stack;
    uint64_t waitword;        /* atomic: wait_word(seq, W_*) */
    int refs;                 /* atomic; see weft.h for who holds them */
    uint32_t magic;           /* TASK_MAGIC_LIVE, TASK_MAGIC_FREED once freed (api/handle.h) */
    bool released;            /* atomic: the handle weft_spawn returned was released */
    spinlock lock;
    unsigned char state;      /* enum task_state; atomic reads */
    unsigned char action;     /* enum switch_action */
    bool cancelled;           /* ended cancelled */
    bool must_cancel;         /* under lock; stored atomically, as task_wait_end's
                                 fast path reads it without the lock */
    bool retrieved;           /* someone took the result */
    unsigned char wait_kind;  /* enum wait_kind, under lock */
    unsigned num_cancels;     /* under lock */
    int last_errno;           /* what the last call that failed with NULL set errno to
                                 (weft_errno): errno itself is per thread */
    struct weft_task *wait_task; /* under lock, with WAIT_TASK */
    struct future *wait_future;  /* under lock, with WAIT_FUTURE */
    struct deadline *deadlines;  /* open deadline scopes, innermost first */
    struct waiter *waiters, **waiters_tail; /* under lock, FIFO */
    struct waiter await_node; /* this task's own entry when it awaits another */
    uint64_t await_seq;
    uint64_t io_seq;          /* atomic: the wait a descriptor slot wakes (sched/poller.c) */
    char *message;            /* weft_fail's text, malloc'ed */
    uint64_t id;              /* "Task-<id>", as asyncio names them */
    struct task_name *name;   /* atomic: weft_task_set_name's, NULL for "Task-<id>";
                                 earlier names stay until the task is freed */
    struct wait_note note;    /* what the task waits on, for weft_dump */
    union {                   /* never in both lists at once: */
        struct weft_task *spill_next; /* a ready task in the runtime's spill list */
        struct weft_task *cache_next; /* a freed struct in its worker's task cache */
    };
    struct weft_task *host;   /* atomic: run inline on this task's stack (task_run_inline) */
    struct weft_task *reg_prev, *reg_next; /* the runtime's registry */
    unsigned reg_index;       /* which registry list */
    struct fiber_side side;   /* last: empty but for a byte without sanitizers */
};

/* t's name: weft_task_set_name's, or "Task-<id>" written into buf (at
 * least TASK_NAME_BUF bytes). Safe in a signal handler: it only reads. */
#define TASK_NAME_BUF 32
const char *task_name(const struct weft_task *t, char buf[TASK_NAME_BUF]);


/* Record what self is about to wait on (the wait_note above), just before
 * the wait begins: a few plain stores, on every await point that
 * suspends. The worker stamps `since` when the task has switched out. */
static inline void task_note_wait(struct weft_task *self, enum wait_what what, const void *obj)
{
    /* The next wait's number: task_wait_begin's release store (direct, or
     * in future_await) publishes the note with it. */
    uint64_t seq = wait_seq(__atomic_load_n(&self->waitword, __ATOMIC_RELAXED)) + 1;
    __atomic_store_n(&self->note.tag, seq << 8 | what, __ATOMIC_RELAXED);
    __atomic_store_n(&self->note.obj, obj, __ATOMIC_RELAXED);
}

/* A deadline, for the kinds that have one (after task_note_wait). */
static inline void task_note_until(struct weft_task *self, double until)
{
    __atomic_store(&self->note.until, &until, __ATOMIC_RELAXED);
}

/* The error code a task result carries (WEFT_ERR), or 0 for a value: what
 * weft_error answers, here for the scheduler, which calls nothing in api/. */
static inline int result_error(const void *result)
{
    uintptr_t v = (uintptr_t)result;
    return v >= (uintptr_t)-WEFT_MAX_ERRNO ? (int)-(intptr_t)v : 0;
}

/* Record what t waits on (asyncio's _fut_waiter), with t's lock held. */
static inline void task_record_wait(struct weft_task *t, enum wait_kind kind,
                                    struct weft_task *task, struct future *future)
{
    spin_assert_held(&t->lock);
    t->wait_kind = (unsigned char)kind;
    t->wait_task = task;
    t->wait_future = future;
}

/* Set or clear t's cancel request, with t's lock held (see must_cancel). */
static inline void task_set_must_cancel(struct weft_task *t, bool v)
{
    spin_assert_held(&t->lock);
    __atomic_store_n(&t->must_cancel, v, __ATOMIC_RELAXED);
}

static inline void task_ref(struct weft_task *t)
{
    __atomic_add_fetch(&t->refs, 1, __ATOMIC_RELAXED);
}

/* A reference to t unless its count already reached 0 (it is being freed,
 * and only not yet out of the registry): false then. For those who find
 * tasks in the registry. */
static inline bool task_try_ref(struct weft_task *t)
{
    int refs = __atomic_load_n(&t->refs, __ATOMIC_RELAXED);
    while (refs > 0)
        if (__atomic_compare_exchange_n(&t->refs, &refs, refs + 1, false, __ATOMIC_RELAXED,
                                        __ATOMIC_RELAXED))
            return true;
    return false;
}

void task_unref(struct weft_task *t);
/* Free t now, whatever its count (weft_run's end); reports a failure nobody
 * retrieved, as asyncio does when such a task is collected. */
void task_free(struct weft_task *t);

/* Someone took t's result: a failure will not be reported as unseen. */
static inline void task_mark_retrieved(struct weft_task *t)
{
    __atomic_store_n(&t->retrieved, true, __ATOMIC_RELAXED);
}

static inline bool task_is_done(const struct weft_task *t)
{
    return __atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == TASK_DONE;
}

/* An open deadline scope of a task (weft_timeout): innermost first. Only
 * the task itself opens and closes scopes; a timer marks them expired. */
struct deadline {
    struct deadline *outer;
    bool expired; /* atomic */
};

/* Every await point starts here: 0, or the error to return at once without
 * waiting (ETIMEDOUT inside a deadline scope that has expired). */
int task_await_enter(struct weft_task *self);

/* An await point's ECANCELED that an expired deadline scope of self caused
 * (directly, or through a task it forwarded the cancel to) reads ETIMEDOUT. */
int task_cancel_cause(struct weft_task *self, int err);

/* The wait protocol (see the top of this file). */
uint64_t task_wait_begin(struct weft_task *self);
bool task_wake(struct weft_task *t, uint64_t seq);
/* Every await point ends here, after waking: consumes a cancellation
 * request and returns 0, ECANCELED, or ETIMEDOUT when the request came from
 * an expired deadline scope. */
int task_wait_end(struct weft_task *self);
/* Hold a suspended task (PARKED) where it is, so that its stack can be
 * read: false if it was not suspended. A wake-up meanwhile is kept, and
 * task_unpin makes the task ready then. */
bool task_pin(struct weft_task *t);
void task_unpin(struct weft_task *t);
/* Give up the wait seq before suspending: there is nothing to wait for. */
void task_wait_abandon(struct weft_task *self, uint64_t seq);
/* Suspend for the wait seq, which a wake-up from where it was registered
 * ends (a timer, a descriptor): a cancel ends it too, and one that came
 * while self ran, or wake_now, wakes it at once. Then task_wait_end. */
void task_park_until_woken(struct weft_task *self, uint64_t seq, bool wake_now);
/* Make t, a task that never ran, wait for the outside wake-up seq (a
 * blocking job's completion) before it first runs. */
void task_park_new(struct weft_task *t, uint64_t seq);
/* For the dump: whether t is between announcing a wait and its worker
 * settling it, and the number of its current (or last) wait. */
bool task_switching_out(const struct weft_task *t);
uint64_t task_wait_number(const struct weft_task *t);
/* Switch to the worker; returns when woken. */
void task_suspend(struct weft_task *self, enum switch_action action);

bool task_cancel(struct weft_task *t);
/* Record that self now awaits t (what a cancel of self is forwarded to),
 * and forward a cancel that arrived while self was running, as
 * Task.__step does when a task yields a future. */
void task_waits_on(struct weft_task *self, struct weft_task *t);
/* A timer fire function that wakes tm->task for the wait numbered tm->seq. */
struct timer;
void task_timer_wake(struct timer *tm);
/* Arm a timer at `when` that wakes self's wait `seq` (begun with
 * task_wait_begin). NULL on ENOMEM, with the wait given up. */
struct timer *task_timer_arm(struct weft_task *self, double when, uint64_t seq);
/* A waiter callback that wakes the task whose await_node it is, for the
 * wait numbered await_seq. */
void task_waiter_wake(struct waiter *w, struct weft_task *done);
/* Register w to run when t is done; false (w not added) if t is done. */
bool task_add_waiter(struct weft_task *t, struct waiter *w);
/* Take w off t's waiters; false if it was not there (t is done). */
bool task_remove_waiter(struct weft_task *t, struct waiter *w);
/* Finish t with result r: wake its waiters. */
void task_finish(struct weft_task *t, void *r);

struct worker;
/* A new task of rt; `here` is the calling thread's worker_self() (NULL, or
 * another runtime's worker, off rt's workers). */
struct weft_task *task_create(struct runtime *rt, struct worker *here, void *(*fn)(void *),
                              void *arg);
void task_cache_flush(struct worker *w);
/* The worker side of switching into a task (first run or resume). */
void task_run(struct weft_task *t);
/* Running a task its waiter would only wait for anyway, on the waiter's
 * stack (as oneTBB runs the tasks it waits for): no stack of its own, no
 * switch, no wake-up. Multi-thread mode only (single-thread mode keeps
 * asyncio's order). w is self's worker, self the running task.
 * task_take_last: the last task pushed on this worker's deque, taken off
 * it, if it has not started, `want` accepts it, and self has stack to spare;
 * else NULL and the deque is as it was.
 * task_run_inline: run a taken task to its end (it may suspend on the way,
 * as itself); a cancel of self meanwhile is forwarded to it. Ends self's
 * wait as task_wait_end does, and returns what it returns. */
struct weft_task *task_take_last(struct worker *w, struct weft_task *self,
                                 bool (*want)(struct weft_task *t, void *ctx), void *ctx);
int task_run_inline(struct worker *w, struct weft_task *self, struct weft_task *t);

#endif /* SCHED_TASK_H */
