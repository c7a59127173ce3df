/*
 * The runtime of one weft_run call: its workers, its clock, its registry of
 * tasks, and the two ways it schedules: the single-thread loop (sched/loop.c,
 * asyncio's order) and the work-stealing workers (sched/worker.c).
 */
#ifndef SCHED_RUNTIME_H
#define SCHED_RUNTIME_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "ck/deque.h"
#include "ck/inject.h"
#include "ck/park.h"
#include "ck/spinlock.h"
#include "sched/fiber.h"
#include "sched/poller.h"
#include "sched/stack.h"
#include "sched/task.h"
#include "sched/timer.h"

#define CACHE_LINE 64

/* Tasks known to the runtime, so that leftovers can be cancelled when main
 * returns and every handle freed when weft_run returns. */
struct registry {
    spinlock lock;
    struct weft_task *head, *tail;
};

/* A worker's figures for weft_metrics_get (sched/metrics.c). Written by
 * their worker only, each increment a plain add stored atomically
 * (counter_bump): no read-modify-write, and the readers' atomic loads keep
 * ThreadSanitizer content. On a cache line of their own, apart from what
 * other threads write in a worker (its park, its idle flags, its locks). */
struct worker_counters {
    uint64_t resumes;        /* switches onto a task, and tasks run inline */
    uint64_t steal_attempts; /* looks into another worker's deque */
    uint64_t steals;         /* those that took a task */
    uint64_t parks;          /* went to sleep for want of work */
    uint64_t wakeups;        /* sleeps ended by another thread's wake-up */
    uint64_t parked_ns;      /* asleep, sleeps that ended */
    uint64_t parked_since;   /* clock (ns) at the start of this sleep; 0: awake */
} __attribute__((aligned(CACHE_LINE)));

/* Add one to a counter of the calling worker's own. */
static inline void counter_bump(uint64_t *c)
{
    __atomic_store_n(c, *c + 1, __ATOMIC_RELAXED);
}

/* Laid out by who writes what: the worker's own fields first, then each
 * group that other threads write (so that their writes do not take the
 * owner's hot lines away at every task) on cache lines of its own. A shift
 * of the owner's fields once put the park, which wakers write, on the line
 * of the counters the owner bumps at every task: yield at 2 workers ran 24%
 * slower. */
struct worker {
    struct runtime *rt;
    unsigned index;
    struct weft_task *current;   /* atomic: the task running on this worker */
    double clock;                /* atomic: a recent runtime_now(), refreshed every
                                    CLOCK_REFRESH runs and when the worker wakes */
    double run_since;            /* atomic: `clock` when the current task was switched to */
    fcontext_t sched_ctx;        /* where a task switches back to */
    struct fiber_side side;      /* this worker's own (thread) stack */
    struct stack_cache stacks;
    uint64_t created, exited;    /* atomic reads; written by this worker only: tasks
                                    made and ended here (runtime_live sums them) */
    uint64_t id_next, id_end;    /* a block of task ids taken from rt->next_id */
    struct weft_task *task_cache; /* free task structs, linked by cache_next */
    unsigned task_cache_len;
    struct weft_task *next;      /* the task this worker woke last: runs next, never stolen;
                                    written by this worker only, atomic reads */
    unsigned next_streak;        /* tasks run in a row from `next` */
    uint64_t rng;
    unsigned tick;
    bool take_fifo;              /* after a yield, take from the deque's FIFO end */
    bool watching;               /* the timer watcher: parked until watch_until for
                                    other workers' timers (sched/worker.c); own field */
    double watch_until;
    pthread_t thread;
    int tid;                     /* atomic: the thread's kernel id, once it runs (the
                                    monitor's tgkill: harmless after the thread ends) */
    void *altstack;
    struct deque deque;          /* multi-thread: this worker's ready tasks (padded) */
    /* Written by other threads: */
    struct timer_heap timers __attribute__((aligned(CACHE_LINE))); /* others fire them */
    struct registry registry __attribute__((aligned(CACHE_LINE))); /* a task freed elsewhere */
    struct park park __attribute__((aligned(CACHE_LINE)));          /* wakers */
    bool idle;                   /* in the idle set; under rt->idle_lock */
    bool polling;                /* parked in epoll_wait, not on its park; under rt->idle_lock */
    /* The slow-task monitor's, written by its thread only (sched/monitor.c). */
    struct monitor_sample *sample __attribute__((aligned(CACHE_LINE)));
    uint64_t seen_runs;
    struct weft_task *seen_task;
    double seen_since;
    bool seen_reported;
    struct worker_counters counters;
} __attribute__((aligned(CACHE_LINE)));

/* Single-thread ready queue: asyncio's loop._ready, a FIFO of entries. */
enum entry_kind { ENTRY_STEP = 0, ENTRY_TIMER = 1, ENTRY_CALL = 2 };
struct callback {
    void (*fn)(struct callback *cb);
};
struct ready {
    uintptr_t *items;
    size_t head, len, cap; /* ring buffer, cap a power of two */
};

struct runtime {
    unsigned nworkers;
    bool single;          /* workers == 1: asyncio's order */
    bool virtual_time;
    struct worker *workers;
    struct stack_pool stacks;
    struct inject inject; /* tasks made ready by threads that are not workers */
    /* The spill list: where a ready task goes when a run queue cannot grow
     * (out of memory), linked through the tasks themselves, so it never
     * allocates. */
    spinlock spill_lock;
    struct weft_task *spill_head, *spill_tail;
    size_t spill_len;  /* atomic reads */
    struct poller poller;
    struct ready ready;   /* single-thread mode; len atomic reads (weft_metrics_get) */
    struct weft_task *main;
    uint64_t next_id;     /* atomic */
    uint64_t created_outside; /* atomic: tasks made off the workers (runtime_live) */
    double vnow;          /* virtual clock; atomic in multi-thread mode */
    bool stopping;        /* single-thread: asyncio's loop._stopping */
    bool main_done;       /* atomic */
    bool stop;            /* atomic: workers exit */
    long external;        /* atomic: wake-ups that may come from outside the
                             workers (blocking jobs, I/O); 0 with nothing
                             runnable and no timers is a deadlock */
    bool deadlock_reported;
    int start_error;      /* runtime_start's */
    double shutdown_timeout;    /* weft_config's: how long weft_run waits for blocking jobs */
    double slow_task;           /* debug mode's threshold in seconds; 0: off (sched/monitor.c) */
    int dump_signal;            /* WEFT_DUMP_SIGNAL's number, 0: none (sched/monitor.c) */
    struct executor *blocking;  /* atomic: the blocking pools, made on first use
                                   (api/executor.c; drained by weft_run) */
    struct callback stop_cb;    /* single-thread: stops the loop */
    struct waiter main_waiter;  /* single-thread: main's done-callback */
    /* Parking (multi-thread): workers that found nothing, and how many are
     * still looking. */
    pthread_mutex_t idle_lock;
    pthread_mutex_t everyone_idle; /* one worker at a time moves virtual time or
                                      declares a deadlock (sched/worker.c) */
    unsigned *idle_stack;
    unsigned nidle;       /* atomic reads */
    unsigned nsearching;  /* atomic */
    /* The list of running runtimes (runtime_running_*), under its lock. */
    struct runtime *running_next;
    unsigned serial;      /* 1, 2, ... in the order weft_run calls started */
    uint64_t started_ns;  /* metrics_clock_ns() when it was made: the uptime's start */
    /* atomic: the watcher's deadline, INFINITY when none. Apart from the idle
     * counts above, which every wake-up reads. */
    double timer_watch __attribute__((aligned(CACHE_LINE)));
};

/* The worker this thread is, or NULL. Not inline, and every caller in a
 * fiber re-reads it after a switch: a task may resume on another thread, and
 * the compiler may otherwise reuse the old thread's TLS address. */
struct worker *worker_self(void);
void worker_set_self(struct worker *w);

/* The task running on this thread, or NULL on a thread that runs none. */
static inline struct weft_task *task_self(void)
{
    struct worker *w = worker_self();
    return w ? w->current : NULL;
}

double runtime_now(struct runtime *rt);
/* Refresh w->clock (see struct worker); the wait notes' "since". */
void worker_clock_refresh(struct worker *w);
#define CLOCK_REFRESH 64
/* Tasks made and not yet ended. Never less than the truth (never 0 while a
 * task lives), exact when nothing runs: see runtime.c. */
long runtime_live(struct runtime *rt);
/* Make t runnable (it is READY and owned by no queue). */
void sched_ready(struct runtime *rt, struct weft_task *t);
/* The same, given the calling thread's worker_self() (which may be NULL). */
void sched_ready_from(struct worker *here, struct runtime *rt, struct weft_task *t);
/* The same for a task that yielded, by the worker it ran on, after the
 * switch (sched/worker.c says why it may skip the fence). */
void sched_yielded(struct worker *w, struct weft_task *t);
/* The same for a task that was waiting: in multi-thread mode it runs next
 * on this worker, where the data it waited for is warm. */
void sched_woken(struct runtime *rt, struct weft_task *t);
/* Ready tasks from outside the worker's own deque: the injection queue,
 * then the spill list. NULL when both are empty. */
struct weft_task *sched_take_shared(struct runtime *rt);
bool sched_shared_empty(struct runtime *rt);
/* Single-thread: asyncio's call_soon of a callback, or of a task's step. */
void loop_call_soon(struct runtime *rt, struct callback *cb);
void loop_step_ready(struct runtime *rt, struct weft_task *t);
/* Single-thread: room in the ready queue for every task and timer plus one,
 * so that a spawn or a timer can answer ENOMEM instead of a wake-up failing
 * later. 0 or ENOMEM. */
int loop_reserve(struct runtime *rt);
/* Arm a timer on the current worker's heap. */
int sched_timer_add(struct runtime *rt, struct timer *t);
/* Worker-side bookkeeping after a task's last switch. */
void sched_task_exited(struct worker *w, struct weft_task *t);
/* w: the calling thread's worker of rt, or NULL. */
void registry_add(struct runtime *rt, struct worker *w, struct weft_task *t);
void registry_remove(struct runtime *rt, struct weft_task *t);
/* The tasks of rt (the done ones too, if with_done), each with a reference
 * held: task_unref each, then free the array. NULL when out of memory. */
struct weft_task **registry_snapshot(struct runtime *rt, bool with_done, size_t *n);
/* Cancel every task not done; returns how many were cancelled. */
size_t runtime_cancel_all(struct runtime *rt);
void runtime_deadlock(struct runtime *rt);

/* The runtimes whose weft_run is running, for the calls that look at one
 * from any thread (weft_dump, weft_metrics_get). Between lock and unlock
 * none of them is taken down; the lock comes before every other lock of
 * weft's. runtime_running_first: the oldest, NULL when none runs. */
void runtime_running_lock(void);
void runtime_running_unlock(void);
struct runtime *runtime_running_first(void);
/* With the list locked: the calling task's runtime, or on any other thread
 * the oldest running one; NULL when none runs. */
struct runtime *runtime_of_caller(void);

/* What weft_run made of weft_config and the environment (api/run.c). */
struct runtime_options {
    unsigned workers;
    bool single;            /* single-thread mode (asyncio's order) */
    bool virtual_time;
    size_t stack_size, stack_guard;
    double shutdown_timeout; /* seconds; see weft_config */
    double slow_task;        /* debug mode's threshold in seconds; 0: off */
    int dump_signal;         /* 0: none */
};

/* A runtime's life: runtime_create (NULL and *err, or a runtime and *err 0
 * or ENOMEM: destroy it without starting); runtime_start makes main its
 * first task and puts it in the list of running runtimes (0, or an errno
 * code: main will not run, but runtime_stop is still due); runtime_run runs
 * every task to the end; runtime_stop takes it out of the list and returns
 * main's result (or the start's error); runtime_destroy frees every task the
 * user still holds, reporting failures nobody looked at, as asyncio does
 * when such a task is collected. */
struct runtime *runtime_create(const struct runtime_options *o, int *err);
int runtime_start(struct runtime *rt, void *(*main)(void *), void *arg);
void runtime_run(struct runtime *rt);
void *runtime_stop(struct runtime *rt);
void runtime_destroy(struct runtime *rt);

/* Wake-ups that may come from outside the workers (a blocking job, a task
 * waiting for a pool's threads, a task held for a dump): between begin and
 * end the deadlock rule does not count the runtime out. After end someone
 * must look again: the caller makes a task ready, or calls sched_poke. */
void runtime_external_begin(struct runtime *rt);
void runtime_external_end(struct runtime *rt);

void loop_run(struct runtime *rt);     /* single-thread mode */
void workers_run(struct runtime *rt);  /* multi-thread mode */
void workers_stop(struct runtime *rt);
/* Make an idle worker (or the single-thread loop) look around again: after
 * something that held off the deadlock rule (rt->external) is over. */
void sched_poke(struct runtime *rt);

#endif /* SCHED_RUNTIME_H */
