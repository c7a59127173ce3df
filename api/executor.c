/*
 * Thread pools for blocking calls: loop.run_in_executor and
 * concurrent.futures.ThreadPoolExecutor.
 *
 * A job is a real task (task_create) whose body never runs on a pool thread.
 * It is born parked, like a sleeper (wait number JOB_WAIT, WAIT_WAKE); a pool
 * thread runs fn, stores the result in the task's arg and wakes the task,
 * which reaches the workers through sched_ready (the injection queue, from a
 * foreign thread). A worker then runs the task's body, deliver(), which
 * returns that result, and task_finish wakes the awaiters there, on a worker:
 * the same two hops as asyncio's call_soon_threadsafe(_copy_future_state)
 * and the awaiter's wake-up. So a job works with everything that takes a
 * task: await, gather, wait, wait_for, cancel, the accessors.
 *
 * Cancelling a job wakes it like a cancelled sleeper: it ends cancelled
 * without running deliver(), whatever the thread does (asyncio's
 * wrap_future cancels the asyncio future at once). A pool thread that
 * reaches a job already cancelled skips fn (the concurrent future was
 * cancelled before it ran); one already inside fn finishes it in the
 * background, and its wake-up finds the wait over and does nothing.
 *
 * rt->external counts the job tasks not yet done, and the tasks waiting for
 * a pool to drain, so that the deadlock rule knows a wake-up may still come
 * from outside. A job's count goes when its task is done, on a worker.
 *
 * Pools grow on demand, a thread for each queued job that finds no idle
 * thread, up to their bound (ThreadPoolExecutor._adjust_thread_count); the
 * default pool's idle threads exit after KEEP_ALIVE seconds. Threads that
 * exited are joined by the next submit, the shutdown or the final drain.
 *
 * The final drain waits for running jobs no longer than the configured
 * shutdown_timeout (asyncio 3.12's shutdown_default_executor(timeout)).
 * Past it, weft_run names the jobs still running and leaves their threads
 * behind, detached: the pool is then theirs, and the last of them frees it.
 * Such a thread must not touch its job's task, which weft_run frees, so a
 * thread hands its result over under the pool's lock, after checking that
 * the pool has not been abandoned.
 *
 * Lock order: the list of running runtimes' lock (weft_metrics_get), then
 * the runtime's list of pools' lock, then a pool's lock, then a task's lock
 * (the handover's wake-up).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "api/executor.h"
#include "api/fail.h"
#include "api/handle.h"
#include "sched/future.h"
#include "sched/lock_order.h"
#include "sched/runtime.h"
#include "sched/task.h"
#include "weft.h"

#define KEEP_ALIVE_SECONDS 10  /* an idle default-pool thread waits this long for work */
#define DEFAULT_MAX_THREADS 32 /* ThreadPoolExecutor: min(32, os.cpu_count() + 4) */
#define JOB_WAIT 1             /* the wait number a job is parked under */

struct job {
    struct weft_task *task;
    void *(*fn)(void *);
    void *arg;
};

struct pool_thread {
    struct pool_thread *next;      /* on the pool's list of live, or of exited, threads */
    struct weft_executor *pool;
    pthread_t id;
    const struct job *running;     /* under the pool's lock: the job in fn, or NULL */
};

struct weft_executor {
    struct runtime *rt;
    pthread_mutex_t lock;
    pthread_cond_t work; /* idle threads wait here */
    pthread_cond_t gone; /* the final drain waits here for the last thread */
    struct job *jobs;    /* FIFO ring; cap is a power of two */
    size_t head, len, cap;
    unsigned max_threads;
    unsigned nthreads, nidle;
    bool keep_alive;            /* idle threads exit after KEEP_ALIVE_SECONDS */
    bool shutdown;              /* no new jobs; threads exit once the queue is empty */
    struct pool_thread *live;   /* threads started and not yet returned */
    struct pool_thread *exited; /* threads that returned, to be joined */
    bool abandoned;             /* weft_run gave up waiting: the threads own the pool */
    struct future drained;      /* set by the last thread to exit after shutdown */
    struct weft_executor *next; /* the runtime's list of pools */
    uint32_t magic; /* api/handle.h; last: past what malloc reuses */
};

/* rt->blocking: the pools of one runtime, all of which the final drain frees. */
struct executor {
    pthread_mutex_t lock;
    struct weft_executor *default_pool; /* atomic reads */
    struct weft_executor *pools;
};

/* --- the job queue (under the pool's lock) -------------------------------- */

static int queue_push(struct weft_executor *ex, struct job j)
{
    if (ex->len == ex->cap) {
        size_t cap = ex->cap ? 2 * ex->cap : 16;
        struct job *jobs = malloc(cap * sizeof *jobs);
        if (!jobs)
            return ENOMEM;
        for (size_t i = 0; i < ex->len; i++)
            jobs[i] = ex->jobs[(ex->head + i) & (ex->cap - 1)];
        free(ex->jobs);
        ex->jobs = jobs;
        ex->head = 0;
        ex->cap = cap;
    }
    ex->jobs[(ex->head + ex->len++) & (ex->cap - 1)] = j;
    return 0;
}

static struct job queue_pop(struct weft_executor *ex)
{
    struct job j = ex->jobs[ex->head];
    ex->head = (ex->head + 1) & (ex->cap - 1);
    ex->len--;
    return j;
}

/* --- the job's two halves -------------------------------------------------- */

/* The job task's body, run on a worker once the pool thread is done: a
 * cancel that came after fn returned still wins, as in asyncio, where
 * _copy_future_state leaves a cancelled destination alone. */
static void *deliver(void *result)
{
    int err = task_wait_end(task_self());
    return err ? WEFT_ERR(err) : result;
}

static bool job_cancelled(struct weft_task *t)
{
    spin_lock(&t->lock);
    bool cancelled = t->must_cancel || t->state == TASK_DONE;
    spin_unlock(&t->lock);
    return cancelled;
}

/* The job task's done-callback, on the worker that finished it: the job's
 * outside wake-up is no longer to be expected. Retired on a worker, which
 * looks for work again before it parks, never on the pool thread: there it
 * could race with a worker that had just found the injection queue empty
 * and then saw the count at zero. */
static void job_retired(struct waiter *w, struct weft_task *t)
{
    (void)w;
    runtime_external_end(t->rt);
}

/* On a pool thread, with the pool's lock held; returns with it held. */
static void job_run(struct weft_executor *ex, struct pool_thread *me, const struct job *j)
{
    struct weft_task *t = j->task;
    bool run = !job_cancelled(t);
    me->running = run ? j : NULL;
    mutex_unlock(&ex->lock);
    void *result = run ? j->fn(j->arg) : NULL;
    mutex_lock(&ex->lock, LOCK_RANK_POOL);
    me->running = NULL;
    if (ex->abandoned)
        return; /* weft_run has returned: t is gone */
    if (run)
        t->arg = result; /* deliver()'s argument, published by the wake-up */
    task_wake(t, JOB_WAIT);
    task_unref(t);
}

/* --- pool threads ----------------------------------------------------------- */

/* Idle (lock held): wait for a job. False when the keep-alive ran out and
 * there is still nothing to do. */
static bool wait_for_work(struct weft_executor *ex)
{
    int rc = 0;
    ex->nidle++;
    if (ex->keep_alive) {
        struct timespec until;
        clock_gettime(CLOCK_MONOTONIC, &until);
        until.tv_sec += KEEP_ALIVE_SECONDS;
        rc = pthread_cond_timedwait(&ex->work, &ex->lock, &until);
    } else {
        pthread_cond_wait(&ex->work, &ex->lock);
    }
    ex->nidle--;
    return rc != ETIMEDOUT || ex->len > 0 || ex->shutdown;
}

/* Free a pool none of whose threads runs any more. */
static void pool_dispose(struct weft_executor *ex)
{
    pthread_cond_destroy(&ex->gone);
    pthread_cond_destroy(&ex->work);
    pthread_mutex_destroy(&ex->lock);
    free(ex->jobs);
    HANDLE_KILL(ex, HANDLE_EXECUTOR);
    free(ex);
}

/* The last thread of an abandoned pool frees it (lock held; released). */
static void abandoned_thread_exit(struct weft_executor *ex, struct pool_thread *me)
{
    bool last = ex->nthreads == 0;
    mutex_unlock(&ex->lock);
    free(me);
    if (last)
        pool_dispose(ex);
}

static void *thread_main(void *arg)
{
    struct pool_thread *me = arg;
    struct weft_executor *ex = me->pool;
    mutex_lock(&ex->lock, LOCK_RANK_POOL);
    for (;;) {
        if (ex->len) {
            struct job j = queue_pop(ex);
            job_run(ex, me, &j);
        } else if (ex->shutdown || !wait_for_work(ex)) {
            break;
        }
    }
    for (struct pool_thread **p = &ex->live; *p; p = &(*p)->next) {
        if (*p == me) {
            *p = me->next;
            break;
        }
    }
    --ex->nthreads;
    if (ex->abandoned) {
        abandoned_thread_exit(ex, me);
        return NULL;
    }
    bool last = ex->nthreads == 0 && ex->shutdown;
    me->next = ex->exited;
    ex->exited = me;
    if (last)
        pthread_cond_broadcast(&ex->gone);
    mutex_unlock(&ex->lock);
    /* Whoever frees the pool joins this thread first: ex is still there. */
    if (last)
        future_set_result(&ex->drained, NULL);
    return NULL;
}

/* Lock held. */
static int thread_start(struct weft_executor *ex)
{
    struct pool_thread *th = malloc(sizeof *th);
    if (!th)
        return ENOMEM;
    th->pool = ex;
    th->running = NULL;
    int err = pthread_create(&th->id, NULL, thread_main, th);
    if (err) {
        free(th);
        return err;
    }
    th->next = ex->live;
    ex->live = th;
    pthread_setname_np(th->id, "weft-blocking");
    ex->nthreads++;
    return 0;
}

static void join_all(struct pool_thread *th)
{
    while (th) {
        struct pool_thread *next = th->next;
        pthread_join(th->id, NULL);
        free(th);
        th = next;
    }
}

/* --- pools ------------------------------------------------------------------- */

static struct weft_executor *pool_new(struct runtime *rt, unsigned max_threads, bool keep_alive)
{
    struct weft_executor *ex = calloc(1, sizeof *ex);
    if (!ex)
        return NULL;
    ex->magic = HANDLE_LIVE(HANDLE_EXECUTOR);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_mutex_init(&ex->lock, NULL);
    pthread_cond_init(&ex->work, &attr);
    pthread_cond_init(&ex->gone, &attr);
    pthread_condattr_destroy(&attr);
    ex->rt = rt;
    ex->max_threads = max_threads;
    ex->keep_alive = keep_alive;
    future_init(&ex->drained);
    return ex;
}

/* Every thread has exited (or none was started). */
static void pool_free(struct weft_executor *ex)
{
    join_all(ex->exited);
    pool_dispose(ex);
}

static struct executor *pools_of(struct runtime *rt)
{
    struct executor *e = __atomic_load_n(&rt->blocking, __ATOMIC_ACQUIRE);
    if (e)
        return e;
    e = calloc(1, sizeof *e);
    if (!e)
        return NULL;
    pthread_mutex_init(&e->lock, NULL);
    struct executor *seen = NULL;
    if (!__atomic_compare_exchange_n(&rt->blocking, &seen, e, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        pthread_mutex_destroy(&e->lock);
        free(e);
        return seen;
    }
    return e;
}

/* Lock of e held. */
static void pool_link(struct executor *e, struct weft_executor *ex)
{
    ex->next = e->pools;
    e->pools = ex;
}

static void pool_unlink(struct executor *e, struct weft_executor *ex)
{
    mutex_lock(&e->lock, LOCK_RANK_EXECUTORS);
    for (struct weft_executor **p = &e->pools; *p; p = &(*p)->next) {
        if (*p == ex) {
            *p = ex->next;
            break;
        }
    }
    mutex_unlock(&e->lock);
}

static unsigned default_max_threads(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (cpus < 1)
        cpus = 1;
    return cpus + 4 < DEFAULT_MAX_THREADS ? (unsigned)cpus + 4 : DEFAULT_MAX_THREADS;
}

/* loop._default_executor, made on first use. */
static struct weft_executor *default_pool(struct runtime *rt)
{
    struct executor *e = pools_of(rt);
    if (!e)
        return NULL;
    struct weft_executor *ex = __atomic_load_n(&e->default_pool, __ATOMIC_ACQUIRE);
    if (ex)
        return ex;
    mutex_lock(&e->lock, LOCK_RANK_EXECUTORS);
    ex = e->default_pool;
    if (!ex && (ex = pool_new(rt, default_max_threads(), true))) {
        pool_link(e, ex);
        __atomic_store_n(&e->default_pool, ex, __ATOMIC_RELEASE);
    }
    mutex_unlock(&e->lock);
    return ex;
}

/* Queue j and see that a thread will take it. */
static int pool_submit(struct weft_executor *ex, struct job j)
{
    mutex_lock(&ex->lock, LOCK_RANK_POOL);
    int err = ex->shutdown ? EINVAL : queue_push(ex, j);
    if (!err && ex->len > ex->nidle && ex->nthreads < ex->max_threads) {
        int start_err = thread_start(ex);
        if (start_err && ex->nthreads == 0) {
            ex->len--; /* nobody would ever run it: take it back off the tail */
            err = start_err;
        }
    }
    if (!err && ex->nidle)
        pthread_cond_signal(&ex->work);
    struct pool_thread *exited = ex->exited;
    ex->exited = NULL;
    mutex_unlock(&ex->lock);
    join_all(exited);
    return err;
}

/* The task that stands for fn(arg) on ex's threads; NULL and errno on failure. */
static weft_task *job_submit(struct weft_executor *ex, struct weft_task *self, void *(*fn)(void *),
                             void *arg)
{
    struct runtime *rt = self->rt;
    struct weft_task *t = task_create(rt, worker_self(), deliver, NULL);
    if (!t)
        return fail_errno(ENOMEM);
    runtime_external_begin(rt);
    /* A job task never awaits: its own await node is free to retire the
     * count. Registered while nothing can finish the task yet. */
    t->await_node.fn = job_retired;
    task_add_waiter(t, &t->await_node);
    task_park_new(t, JOB_WAIT);
    task_ref(t); /* the pool's, until the thread is done with it */
    int err = pool_submit(ex, (struct job){t, fn, arg});
    if (err) {
        /* It never reaches a thread: let it end with the error, unseen. */
        t->arg = WEFT_ERR(err);
        task_mark_retrieved(t);
        task_wake(t, JOB_WAIT);
        task_unref(t);
        task_unref(t);
        return fail_errno(err);
    }
    return t;
}

/* --- the public calls ------------------------------------------------------- */

weft_task *weft_spawn_blocking(void *(*fn)(void *), void *arg)
{
    struct weft_task *self = task_self();
    if (!self)
        return fail_errno(EPERM);
    if (!fn)
        return fail_errno(EINVAL);
    struct weft_executor *ex = default_pool(self->rt);
    if (!ex)
        return fail_errno(ENOMEM);
    return job_submit(ex, self, fn, arg);
}

weft_executor *weft_executor_create(unsigned max_workers)
{
    struct weft_task *self = task_self();
    if (!self)
        return fail_errno(EPERM);
    if (max_workers == 0)
        return fail_errno(EINVAL);
    struct executor *e = pools_of(self->rt);
    struct weft_executor *ex = e ? pool_new(self->rt, max_workers, false) : NULL;
    if (!ex)
        return fail_errno(ENOMEM);
    mutex_lock(&e->lock, LOCK_RANK_EXECUTORS);
    pool_link(e, ex);
    mutex_unlock(&e->lock);
    return ex;
}

weft_task *weft_executor_submit(weft_executor *ex, void *(*fn)(void *), void *arg)
{
    HANDLE_CHECK(ex, HANDLE_EXECUTOR, "weft_executor_submit");
    struct weft_task *self = task_self();
    if (!self)
        return fail_errno(EPERM);
    if (!ex || !fn || ex->rt != self->rt)
        return fail_errno(EINVAL);
    return job_submit(ex, self, fn, arg);
}

int weft_executor_shutdown(weft_executor *ex)
{
    HANDLE_CHECK(ex, HANDLE_EXECUTOR, "weft_executor_shutdown");
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    if (!ex || ex->rt != self->rt)
        return EINVAL;
    struct runtime *rt = self->rt;
    mutex_lock(&ex->lock, LOCK_RANK_POOL);
    bool misuse = ex->shutdown || ex->keep_alive; /* twice, or the default pool */
    bool busy = ex->nthreads > 0;
    if (!misuse) {
        ex->shutdown = true;
        pthread_cond_broadcast(&ex->work);
    }
    mutex_unlock(&ex->lock);
    if (misuse)
        return EINVAL;
    if (busy) {
        /* The wake-up comes from the pool's last thread. */
        runtime_external_begin(rt);
        task_note_wait(self, WAIT_FOR_EXECUTOR, ex);
        int err = future_await(self, &ex->drained);
        runtime_external_end(rt);
        if (err)
            return err; /* the threads go on; the final drain frees the pool */
    }
    pool_unlink(rt->blocking, ex);
    pool_free(ex);
    return 0;
}

/* --- metrics ------------------------------------------------------------------- */

void executor_metrics(struct runtime *rt, weft_metrics *m)
{
    struct executor *e = __atomic_load_n(&rt->blocking, __ATOMIC_ACQUIRE);
    if (!e)
        return;
    /* A pool leaves the list (pool_unlink) before it is freed. */
    mutex_lock(&e->lock, LOCK_RANK_EXECUTORS);
    for (struct weft_executor *ex = e->pools; ex; ex = ex->next) {
        mutex_lock(&ex->lock, LOCK_RANK_POOL);
        m->blocking_threads += ex->nthreads;
        m->blocking_queued += ex->len;
        for (struct pool_thread *th = ex->live; th; th = th->next)
            m->blocking_busy += th->running != NULL;
        mutex_unlock(&ex->lock);
    }
    mutex_unlock(&e->lock);
}

/* --- the end of weft_run ------------------------------------------------------ */

/* Name a job left running (lock held). */
static void report_stuck(const struct pool_thread *th, double waited)
{
    const struct job *j = th->running;
    void *fn; /* ISO C has no cast from a function pointer to void * */
    memcpy(&fn, &j->fn, sizeof fn);
    Dl_info info;
    const char *name = dladdr(fn, &info) && info.dli_sname ? info.dli_sname : "?";
    char buf[TASK_NAME_BUF];
    fprintf(stderr,
            "weft: weft_run: blocking job %s (%s at %p) still running after %g s; "
            "leaving its thread behind\n",
            task_name(j->task, buf), name, fn, waited);
}

/* Wait until every thread of ex has exited, or `until`; true if they did.
 * Else the pool is left to its threads (see the top of the file). */
static bool pool_drain(struct weft_executor *ex, const struct timespec *until, double waited)
{
    mutex_lock(&ex->lock, LOCK_RANK_POOL);
    ex->shutdown = true;
    pthread_cond_broadcast(&ex->work);
    int rc = 0;
    while (ex->nthreads > 0 && rc != ETIMEDOUT)
        rc = until ? pthread_cond_timedwait(&ex->gone, &ex->lock, until)
                   : pthread_cond_wait(&ex->gone, &ex->lock);
    bool drained = ex->nthreads == 0;
    struct pool_thread *exited = NULL;
    if (!drained) {
        ex->abandoned = true;
        ex->len = 0; /* jobs never started: their tasks are gone with weft_run */
        for (struct pool_thread *th = ex->live; th; th = th->next) {
            if (th->running)
                report_stuck(th, waited);
            pthread_detach(th->id);
        }
        exited = ex->exited;
        ex->exited = NULL;
    }
    mutex_unlock(&ex->lock);
    join_all(exited);
    return drained;
}

void executor_drain_default(struct runtime *rt)
{
    struct executor *e = rt->blocking;
    if (!e)
        return;
    /* Out of weft_metrics_get's sight before any pool goes: it looks at
     * rt->blocking from any thread, under this lock, while weft_run runs. */
    runtime_running_lock();
    __atomic_store_n(&rt->blocking, NULL, __ATOMIC_RELAXED);
    runtime_running_unlock();
    /* One deadline for all the pools. */
    struct timespec until;
    bool bounded = rt->shutdown_timeout < 1e9; /* beyond 30 years: forever */
    if (bounded) {
        clock_gettime(CLOCK_MONOTONIC, &until);
        double whole = floor(rt->shutdown_timeout);
        until.tv_sec += (time_t)whole;
        until.tv_nsec += (long)((rt->shutdown_timeout - whole) * 1e9);
        if (until.tv_nsec >= 1000000000) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000;
        }
    }
    while (e->pools) {
        struct weft_executor *ex = e->pools;
        e->pools = ex->next;
        if (pool_drain(ex, bounded ? &until : NULL, rt->shutdown_timeout))
            pool_free(ex);
    }
    pthread_mutex_destroy(&e->lock);
    free(e);
}
