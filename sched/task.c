/*
 * Task lifecycle: creation, the first switch onto a fresh stack, suspending
 * and waking (the protocol described in task.h), cancellation, completion,
 * and the reference count that decides when a task's memory goes.
 */
#define _GNU_SOURCE
#include "sched/task.h"

#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sched/future.h"
#include "sched/lock_order.h"
#include "sched/runtime.h"
#include "sched/timer.h"
#include "ck/deque.h"

/* Task structs are recycled through a small per-worker cache: a spawn and
 * an exit then cost no trip to malloc. */
#define TASK_CACHE_MAX 256
#ifdef WEFT_ASAN
#define TASK_CACHE_ON 0 /* let AddressSanitizer see every use after free */
#else
#define TASK_CACHE_ON 1
#endif

static struct weft_task *task_alloc(struct worker *w)
{
    if (TASK_CACHE_ON && w && w->task_cache) {
        struct weft_task *t = w->task_cache;
        w->task_cache = t->cache_next;
        w->task_cache_len--;
        memset(t, 0, sizeof *t);
        return t;
    }
    return calloc(1, sizeof(struct weft_task));
}

static void task_dealloc(struct weft_task *t)
{
    struct worker *w = worker_self();
    if (TASK_CACHE_ON && w && w->rt == t->rt && w->task_cache_len < TASK_CACHE_MAX) {
        t->cache_next = w->task_cache;
        w->task_cache = t;
        w->task_cache_len++;
        return;
    }
    free(t);
}

void task_cache_flush(struct worker *w)
{
    while (w->task_cache) {
        struct weft_task *t = w->task_cache;
        w->task_cache = t->cache_next;
        free(t);
    }
    w->task_cache_len = 0;
}

struct weft_task *task_create(struct runtime *rt, struct worker *here, void *(*fn)(void *),
                              void *arg)
{
    struct worker *w = here && here->rt == rt ? here : NULL;
    struct weft_task *t = task_alloc(w);
    if (!t)
        return NULL;
    t->fn = fn;
    t->arg = arg;
    t->rt = rt;
    t->refs = 2; /* the caller's handle, and the runtime's until the task is done */
    t->magic = TASK_MAGIC_LIVE;
    spin_init(&t->lock, LOCK_RANK_TASK);
    t->state = TASK_NEW;
    t->waiters_tail = &t->waiters;
    if (!w) {
        /* weft_run's main, or a blocking job's completion from a pool thread */
        t->id = __atomic_add_fetch(&rt->next_id, 1, __ATOMIC_RELAXED);
        __atomic_add_fetch(&rt->created_outside, 1, __ATOMIC_RELEASE);
    } else {
        if (w->id_next == w->id_end) {
            w->id_end = __atomic_add_fetch(&rt->next_id, 1024, __ATOMIC_RELAXED) + 1;
            w->id_next = w->id_end - 1024;
        }
        t->id = w->id_next++;
        /* Only this worker writes its count: no read-modify-write needed. */
        __atomic_store_n(&w->created, w->created + 1, __ATOMIC_RELEASE);
    }
    registry_add(rt, w, t);
    return t;
}

const char *task_name(const struct weft_task *t, char buf[TASK_NAME_BUF])
{
    const struct task_name *n = __atomic_load_n(&t->name, __ATOMIC_ACQUIRE);
    if (n)
        return n->text;
    /* By hand: snprintf is not async-signal-safe (sched/overflow.c). */
    char digits[24];
    int len = 0;
    uint64_t id = t->id;
    do
        digits[len++] = (char)('0' + id % 10);
    while ((id /= 10) != 0);
    memcpy(buf, "Task-", 5);
    for (int i = 0; i < len; i++)
        buf[5 + i] = digits[len - 1 - i];
    buf[5 + len] = '\0';
    return buf;
}

static void report_unretrieved(const struct weft_task *t)
{
    int code = result_error(t->result);
    const char *name = strerrorname_np(code);
    char buf[TASK_NAME_BUF];
    fprintf(stderr,
            "Task exception was never retrieved\n"
            "future: <Task finished name='%s' error=%s (%s)%s%s>\n",
            task_name(t, buf), name ? name : "?", strerror(code), t->message ? ": " : "",
            t->message ? t->message : "");
}

static bool failed_unretrieved(const struct weft_task *t)
{
    return t->state == TASK_DONE && !t->cancelled && !t->retrieved && result_error(t->result);
}

void task_free(struct weft_task *t)
{
    if (failed_unretrieved(t))
        report_unretrieved(t);
    if (t->message)
        free(t->message);
    for (struct task_name *n = t->name, *older; n; n = older) {
        older = n->older;
        free(n);
    }
    __atomic_store_n(&t->magic, TASK_MAGIC_FREED, __ATOMIC_RELAXED);
    task_dealloc(t);
}

void task_unref(struct weft_task *t)
{
    if (__atomic_sub_fetch(&t->refs, 1, __ATOMIC_ACQ_REL) != 0)
        return;
    registry_remove(t->rt, t);
    task_free(t);
}

uint64_t task_wait_begin(struct weft_task *self)
{
    uint64_t seq = wait_seq(__atomic_load_n(&self->waitword, __ATOMIC_RELAXED)) + 1;
    /* Release: whoever later reads seq from a registration must see it here. */
    __atomic_store_n(&self->waitword, wait_word(seq, W_PARKING), __ATOMIC_RELEASE);
    return seq;
}

bool task_wake(struct weft_task *t, uint64_t seq)
{
    uint64_t cur = __atomic_load_n(&t->waitword, __ATOMIC_ACQUIRE);
    for (;;) {
        if (wait_seq(cur) != seq)
            return false; /* a wake-up for a wait that is over */
        switch (wait_state(cur)) {
        case W_PARKING:
            /* Still switching out: leave a note for the worker. */
            if (__atomic_compare_exchange_n(&t->waitword, &cur, wait_word(seq, W_NOTIFIED), false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
                return true;
            break;
        case W_PARKED:
            if (__atomic_compare_exchange_n(&t->waitword, &cur, wait_word(seq, W_RUNNING), false,
                                            __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
                sched_woken(t->rt, t);
                return true;
            }
            break;
        default:
            return false; /* somebody else woke it */
        }
    }
}

/* The worker's half of SW_PARK, after the task's stack is quiet; also the
 * end of a task_pin. */
static inline __attribute__((always_inline)) void park_settle(struct weft_task *t)
{
    uint64_t cur = __atomic_load_n(&t->waitword, __ATOMIC_ACQUIRE);
    uint64_t seq = wait_seq(cur);
    if (wait_state(cur) == W_PARKING &&
        __atomic_compare_exchange_n(&t->waitword, &cur, wait_word(seq, W_PARKED), false,
                                    __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        return;
    /* Woken while switching out: it is ready right away. */
    __atomic_store_n(&t->waitword, wait_word(seq, W_RUNNING), __ATOMIC_RELAXED);
    sched_woken(t->rt, t);
}

bool task_pin(struct weft_task *t)
{
    uint64_t cur = __atomic_load_n(&t->waitword, __ATOMIC_ACQUIRE);
    /* Back to PARKING, as if its worker were still switching out: a waker
     * leaves NOTIFIED, and task_unpin does what that worker would. */
    return wait_state(cur) == W_PARKED &&
           __atomic_compare_exchange_n(&t->waitword, &cur, wait_word(wait_seq(cur), W_PARKING),
                                       false, __ATOMIC_ACQ_REL, __ATOMIC_RELAXED);
}

void task_unpin(struct weft_task *t)
{
    park_settle(t);
}

int task_await_enter(struct weft_task *self)
{
    for (struct deadline *d = self->deadlines; d; d = d->outer)
        if (__atomic_load_n(&d->expired, __ATOMIC_ACQUIRE))
            return ETIMEDOUT;
    return 0;
}

int task_cancel_cause(struct weft_task *self, int err)
{
    return err == ECANCELED && task_await_enter(self) ? ETIMEDOUT : err;
}

int task_wait_end(struct weft_task *self)
{
    /* Nothing recorded and no request: nothing to clear (a yield). A cancel
     * that comes after this look is the next await point's to consume, as
     * if it had come after this one returned. Only self writes wait_kind. */
    if (self->wait_kind == WAIT_NONE && !__atomic_load_n(&self->must_cancel, __ATOMIC_RELAXED))
        return 0;
    spin_lock(&self->lock);
    task_record_wait(self, WAIT_NONE, NULL, NULL);
    bool cancelled = self->must_cancel;
    task_set_must_cancel(self, false);
    spin_unlock(&self->lock);
    if (!cancelled)
        return 0;
    int timed_out = task_await_enter(self);
    return timed_out ? timed_out : ECANCELED;
}

void task_suspend(struct weft_task *self, enum switch_action action)
{
    struct worker *w = worker_self();
    self->action = (unsigned char)action;
    transfer_t back = fiber_jump(&self->side, &w->side, w->sched_ctx, self, 0);
    /* Possibly another worker now. */
    w = back.data;
    w->sched_ctx = back.fctx;
    fiber_arrived(&self->side, &w->side);
}

bool task_cancel(struct weft_task *t)
{
    spin_lock(&t->lock);
    if (t->state == TASK_DONE) {
        spin_unlock(&t->lock);
        return false;
    }
    t->num_cancels++;
    if (t->wait_kind == WAIT_TASK) {
        /* asyncio: the awaited task is cancelled instead; this one resumes
         * when that one is done, with whatever it ends with. */
        struct weft_task *inner = t->wait_task;
        task_ref(inner);
        spin_unlock(&t->lock);
        if (!task_cancel(inner)) {
            spin_lock(&t->lock);
            task_set_must_cancel(t, true);
            spin_unlock(&t->lock);
        }
        task_unref(inner);
        return true;
    }
    if (t->wait_kind == WAIT_FUTURE) {
        /* Under t's lock: the future's owner cannot drop it meanwhile. */
        struct future *f = t->wait_future;
        if (!f->cancel(f))
            task_set_must_cancel(t, true);
        spin_unlock(&t->lock);
        return true;
    }
    task_set_must_cancel(t, true);
    if (t->wait_kind == WAIT_WAKE) {
        uint64_t seq = wait_seq(__atomic_load_n(&t->waitword, __ATOMIC_RELAXED));
        spin_unlock(&t->lock);
        task_wake(t, seq);
        return true;
    }
    spin_unlock(&t->lock);
    return true;
}

void task_timer_wake(struct timer *tm)
{
    task_wake(tm->task, tm->seq);
}

void task_wait_abandon(struct weft_task *self, uint64_t seq)
{
    __atomic_store_n(&self->waitword, wait_word(seq, W_RUNNING), __ATOMIC_RELAXED);
}

void task_park_until_woken(struct weft_task *self, uint64_t seq, bool wake_now)
{
    spin_lock(&self->lock);
    task_record_wait(self, WAIT_WAKE, NULL, NULL);
    bool pending = self->must_cancel;
    spin_unlock(&self->lock);
    /* Cancelled while running: as asyncio cancels the awaited future at
     * once, the task wakes on the next turn of the loop. */
    if (pending || wake_now)
        task_wake(self, seq);
    task_suspend(self, SW_PARK);
}

void task_park_new(struct weft_task *t, uint64_t seq)
{
    spin_lock(&t->lock);
    task_record_wait(t, WAIT_WAKE, NULL, NULL);
    __atomic_store_n(&t->waitword, wait_word(seq, W_PARKED), __ATOMIC_RELEASE);
    spin_unlock(&t->lock);
}

bool task_switching_out(const struct weft_task *t)
{
    return wait_state(__atomic_load_n(&t->waitword, __ATOMIC_ACQUIRE)) == W_PARKING;
}

uint64_t task_wait_number(const struct weft_task *t)
{
    return wait_seq(__atomic_load_n(&t->waitword, __ATOMIC_ACQUIRE));
}

struct timer *task_timer_arm(struct weft_task *self, double when, uint64_t seq)
{
    struct timer *tm = timer_new(when, task_timer_wake, self, seq);
    if (tm && sched_timer_add(self->rt, tm) == 0)
        return tm;
    if (tm) {
        timer_release(tm); /* both references: it never reached a heap */
        timer_release(tm);
    }
    task_wait_abandon(self, seq);
    return NULL;
}

void task_waits_on(struct weft_task *self, struct weft_task *t)
{
    spin_lock(&self->lock);
    task_record_wait(self, WAIT_TASK, t, NULL);
    bool pending = self->must_cancel;
    spin_unlock(&self->lock);
    /* A cancel that arrived while self ran goes to t, as in Task.__step. */
    if (pending && task_cancel(t)) {
        spin_lock(&self->lock);
        task_set_must_cancel(self, false);
        spin_unlock(&self->lock);
    }
}

void task_waiter_wake(struct waiter *w, struct weft_task *done)
{
    (void)done;
    struct weft_task *self = (struct weft_task *)((char *)w - offsetof(struct weft_task, await_node));
    task_wake(self, self->await_seq);
}

bool task_add_waiter(struct weft_task *t, struct waiter *w)
{
    spin_lock(&t->lock);
    if (t->state == TASK_DONE) {
        spin_unlock(&t->lock);
        return false;
    }
    waiters_append(&t->waiters_tail, w);
    spin_unlock(&t->lock);
    return true;
}

bool task_remove_waiter(struct weft_task *t, struct waiter *w)
{
    spin_lock(&t->lock);
    bool found = waiters_unlink(&t->waiters, &t->waiters_tail, w);
    spin_unlock(&t->lock);
    return found;
}

void task_finish(struct weft_task *t, void *r)
{
    spin_lock(&t->lock);
    t->result = r;
    t->cancelled = result_error(r) == ECANCELED;
    struct waiter *w = t->waiters;
    t->waiters = NULL;
    t->waiters_tail = &t->waiters;
    __atomic_store_n(&t->state, TASK_DONE, __ATOMIC_RELEASE);
    spin_unlock(&t->lock);
    /* asyncio schedules done-callbacks in the order they were added. */
    while (w) {
        struct waiter *next = w->next;
        w->fn(w, t);
        w = next;
    }
}

static void task_entry(transfer_t from)
{
    struct worker *w = from.data;
    w->sched_ctx = from.fctx;
    struct weft_task *t = w->current;
    fiber_arrived(&t->side, &w->side);
    task_finish(t, t->fn(t->arg));
    t->action = SW_EXIT;
    w = worker_self();
    fiber_jump(&t->side, &w->side, w->sched_ctx, t, 1);
    abort(); /* a finished fiber is never resumed */
}

/* First run: a task cancelled before it started never runs its body, and
 * one that cannot get a stack fails with ENOMEM. */
/* Mark t started, unless a cancel came first (then it never runs, and the
 * request is consumed). */
static bool task_claim_start(struct weft_task *t)
{
    spin_lock(&t->lock);
    bool cancel = t->must_cancel;
    task_set_must_cancel(t, false);
    if (!cancel)
        __atomic_store_n(&t->state, TASK_STARTED, __ATOMIC_RELAXED);
    spin_unlock(&t->lock);
    return !cancel;
}

static bool task_start(struct worker *w, struct weft_task *t)
{
    bool cancel = !task_claim_start(t);
    if (cancel) {
        task_finish(t, WEFT_ERR(ECANCELED));
        return false;
    }
    t->stack = stack_get(&t->rt->stacks, &w->stacks);
    if (!t->stack) {
        task_finish(t, WEFT_ERR(ENOMEM));
        return false;
    }
    t->ctx = make_fcontext(stack_top(t->stack), t->stack->size, task_entry);
    fiber_side_init(&t->side, t->stack->lo, t->stack->size);
    return true;
}

void task_run(struct weft_task *t)
{
    struct worker *w = worker_self();
    if (t->state == TASK_NEW && !task_start(w, t)) {
        sched_task_exited(w, t);
        return;
    }
    __atomic_store_n(&w->current, t, __ATOMIC_RELAXED);
    counter_bump(&w->counters.resumes);
    if (w->counters.resumes % CLOCK_REFRESH == 0)
        worker_clock_refresh(w);
    __atomic_store(&w->run_since, &w->clock, __ATOMIC_RELAXED); /* weft_dump's "for" */
    transfer_t back = fiber_jump(&w->side, &t->side, t->ctx, w, 0);
    fiber_arrived(&w->side, NULL);
    __atomic_store_n(&w->current, NULL, __ATOMIC_RELAXED);
    /* Whoever switched out: t, or a task t was running inline. */
    t = back.data;
    t->ctx = back.fctx;
    switch (t->action) {
    case SW_PARK:
        /* Only now, on the worker: its clock is at hand. For weft_dump. */
        __atomic_store(&t->note.since, &w->clock, __ATOMIC_RELAXED);
        park_settle(t);
        break;
    case SW_YIELD:
        w->take_fifo = true;
        sched_yielded(w, t);
        break;
    case SW_EXIT:
        sched_task_exited(w, t);
        break;
    }
}

/* Inline runs need this much stack left, so that chains of them cannot
 * overflow where separate stacks would not. */
#define INLINE_MIN_STACK (64 * 1024)

struct weft_task *task_take_last(struct worker *w, struct weft_task *self,
                                 bool (*want)(struct weft_task *t, void *ctx), void *ctx)
{
    char probe;
    if (self->rt->single || (size_t)(&probe - self->stack->lo) < INLINE_MIN_STACK)
        return NULL;
    struct weft_task *last = deque_pop(&w->deque);
    if (last && __atomic_load_n(&last->state, __ATOMIC_RELAXED) == TASK_NEW && want(last, ctx))
        return last;
    if (last && deque_push(&w->deque, last) != 0)
        abort(); /* cannot happen: the slot was just freed */
    return NULL;
}

int task_run_inline(struct worker *w, struct weft_task *self, struct weft_task *t)
{
    /* While t runs, cancelling self cancels t, as for any awaited task. */
    task_waits_on(self, t);
    bool cancel = !task_claim_start(t);
    if (cancel) {
        task_finish(t, WEFT_ERR(ECANCELED));
    } else {
        __atomic_store_n(&t->host, self, __ATOMIC_RELAXED); /* weft_dump reads it */
        t->stack = self->stack;
        t->side = self->side;
        __atomic_store_n(&w->current, t, __ATOMIC_RELAXED);
        counter_bump(&w->counters.resumes);
        void *r = t->fn(t->arg); /* t may suspend in here, as itself */
        task_finish(t, r);
        w = worker_self();
        __atomic_store_n(&w->current, self, __ATOMIC_RELAXED);
        fiber_side_take_back(&self->side, &t->side);
    }
    sched_task_exited(w, t);
    return task_wait_end(self);
}
