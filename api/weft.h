/*
 * weft: Python asyncio's programming model for C, on an M:N fiber scheduler.
 *
 * A task is a call `void *fn(void *arg)` running on its own fiber. Tasks run
 * on N worker threads and suspend only at await points: the weft calls marked
 * "await point" below. With one worker (workers = 1 or WEFT_WORKERS=1) the
 * runtime runs on the thread that called weft_run and reproduces the order of
 * CPython 3.11's asyncio event loop exactly.
 *
 * Errors are values. A pointer result is either a value or WEFT_ERR(code)
 * (codes 1..4095, the top 4095 addresses); weft_error() tells which. Calls that
 * return int return 0 or a positive errno code. ECANCELED plays asyncio's
 * CancelledError, ETIMEDOUT its TimeoutError. Misuse answers EPERM (an await
 * outside a task), EDEADLK (a task awaiting itself) or EINVAL (bad argument).
 *
 * Each comment below says where its call may be made and whether it waits:
 *   Await point.  May suspend the calling task. A cancellation is delivered
 *                 there as ECANCELED, and inside a weft_timeout scope whose
 *                 deadline passed every await point fails with ETIMEDOUT.
 *                 Every await point is also "Task only".
 *   Task only.    From a task; elsewhere EPERM (NULL + errno for pointers).
 *   Any thread.   From any thread, a task's or not, also outside weft_run;
 *                 never suspends (it may block a moment on a lock).
 * A NULL handle is EINVAL (false, 0 or nothing for calls with no code).
 * Handles are owned by the caller and freed by the call the name pairs with
 * (_create/_destroy, _spawn/_release); a handle used after it aborts.
 */
#ifndef WEFT_H
#define WEFT_H

#include <math.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* This header's version (CMakeLists.txt reads it from here; CHANGELOG.md
 * says what each one changed). A program can compare it with the library's
 * own, weft_version(), to catch a header and a library that do not match. */
#define WEFT_VERSION_MAJOR 0
#define WEFT_VERSION_MINOR 2
#define WEFT_VERSION_PATCH 0

/* The library's version, as WEFT_VERSION_MAJOR * 10000 + MINOR * 100 + PATCH.
 * Any thread, any time. */
int weft_version(void);

/* A task handle. Reference-counted: weft_spawn returns one reference, owned by
 * the caller and dropped with weft_task_release; the runtime holds its own
 * while the task runs. A handle not released stays valid until weft_run
 * returns. Passing a released handle to any call (but a task's own, from
 * weft_task_current, while it runs) aborts with a message naming the call;
 * so does using any other handle after its destroy. */
typedef struct weft_task weft_task;

typedef struct weft_config {
    unsigned workers;      /* 0: $WEFT_WORKERS if set, else one per online CPU; 1: single-thread mode */
    size_t stack_size;     /* fiber stack in bytes; 0: default (256 KiB); rounded up to pages,
                              and to 16 KiB at least; over 1 GiB is EINVAL */
    size_t stack_guard;    /* bytes of guard below each stack, where an overflow faults and
                              is reported; 0: 64 KiB; rounded up to pages; over 1 GiB is
                              EINVAL. Code built without -fstack-clash-protection (which
                              weft.pc and the CMake targets add) can make a frame larger
                              than the guard jump it into another task's stack: raise it
                              for such code. Each stack made costs more with a larger
                              guard (page-table entries): timers 1.06x at 128 KiB, 1.19x at
                              256 KiB, 1.37x at 512 KiB */
    bool virtual_time;     /* the clock starts at 0 and jumps to the next timer whenever no
                              task can run; also turned on by WEFT_VIRTUAL_TIME=1 */
    bool stealing;         /* with workers = 1: run the work-stealing scheduler on one
                              worker instead of single-thread mode (no asyncio order; for
                              measuring the scheduler itself); also WEFT_STEALING=1 */
    double shutdown_timeout; /* seconds weft_run waits at its end for blocking jobs still
                              running (asyncio's shutdown_default_executor(timeout));
                              0: 300, as asyncio.run; WEFT_FOREVER: no bound. Past it,
                              weft_run names each such job on stderr and returns, leaving
                              its thread running; negative or NaN is EINVAL */
    bool debug;            /* asyncio's debug mode: a task that runs longer than slow_task
                              without reaching an await point is reported on stderr while
                              it runs (name, worker, time, backtrace); also WEFT_DEBUG=1.
                              The backtrace is taken with SIGURG, as Go preempts with it,
                              unless the program handles SIGURG itself */
    double slow_task;      /* seconds; 0: $WEFT_SLOW_MS milliseconds if set, else 0.1
                              (asyncio's slow_callback_duration); negative or NaN is EINVAL */
} weft_config;

#define WEFT_ERR(code) ((void *)(intptr_t)-(intptr_t)(code))
#define WEFT_MAX_ERRNO 4095

/* The error code carried by a result, or 0 if it is a value. Any thread. */
int weft_error(const void *result);

/* Record a printf-style message on the current task and return WEFT_ERR(code),
 * so that `return weft_fail(EIO, "reading %s", path);` raises with a message.
 * A code outside 1..4095 becomes EINVAL. Any thread; outside a task, or out
 * of memory, no message is kept. */
void *weft_fail(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Timeouts are seconds, as asyncio's: WEFT_FOREVER (+inf) waits forever, any
 * timeout <= 0 has already expired (the call fails with ETIMEDOUT if it
 * would have to wait), NaN is EINVAL. */
#define WEFT_FOREVER INFINITY

/* The error code that the calling task's last call answering NULL set errno
 * to (weft_spawn, weft_queue_create, ...); errno itself outside a task.
 * Read this, not errno, after such a call in a task: a task may resume on
 * another thread after any await point, and code compiled with
 * optimisation may go on reading the first thread's errno (its address is
 * computed once). The same holds for every thread-local: never keep one,
 * or its address, across an await point. Any thread. */
int weft_errno(void);

/* asyncio.run: start the runtime, run main(arg) as the first task and return
 * its result. When main returns, every task still alive is cancelled and run
 * to completion, then everything is freed (task handles included). cfg may be
 * NULL. Any thread but a worker's (there, and so from a task: WEFT_ERR(EBUSY));
 * blocks it until the end. Else WEFT_ERR(EINVAL) for a NULL main or a bad
 * config or environment variable, WEFT_ERR(ENOMEM), or, with debug mode or
 * WEFT_DUMP_SIGNAL, pipe(2)'s or pthread_create's error for the monitor. */
void *weft_run(void *(*main)(void *), void *arg, const weft_config *cfg);

/* asyncio.create_task: schedule fn(arg) as a new task. Task only; not an
 * await point: the caller keeps running until its next one. The handle is
 * the caller's reference (weft_task_release). NULL on failure, with the code in
 * weft_errno() and errno (EPERM outside a task, EINVAL for a NULL fn,
 * ENOMEM). Every other call documented as "NULL + errno" reports the same way.
 * A task's stack is taken when it first runs, not here (a task spawned and
 * not yet started costs no stack): if none can be had then, the task ends
 * with WEFT_ERR(ENOMEM) without running its body. */
weft_task *weft_spawn(void *(*fn)(void *), void *arg);

/* loop.run_in_executor(None, fn, arg): run fn on the blocking thread pool;
 * the handle is awaitable like a task's, and released like one. Task only;
 * not an await point. NULL + errno: EPERM, EINVAL for a NULL fn, ENOMEM,
 * EAGAIN when the pool has no thread and cannot start one. */
weft_task *weft_spawn_blocking(void *(*fn)(void *), void *arg);

/* await t (await point): t's result, or WEFT_ERR(code) if it failed,
 * WEFT_ERR(ECANCELED) if it was cancelled or the caller is. Cancelling a task
 * blocked here cancels t too, and the caller resumes when t has finished.
 * Also WEFT_ERR of EPERM, ETIMEDOUT, EINVAL (NULL t or another runtime's),
 * EDEADLK (t is the caller, or awaits it through a chain of awaits). */
void *weft_await(weft_task *t);

/* Task.cancel(): request cancellation, delivered once at t's next await point
 * (at once if t is suspended). False if t is already done. Any thread. */
bool weft_cancel(weft_task *t);

/* Task.done(), Task.cancelled() (done by cancellation). Any thread. */
bool weft_task_done(const weft_task *t);
bool weft_task_cancelled(const weft_task *t);

/* Task.result(): the result or WEFT_ERR(code); WEFT_ERR(EAGAIN) while not
 * done, WEFT_ERR(EINVAL) for a NULL t. Any thread. */
void *weft_task_result(const weft_task *t);

/* The weft_fail message of a failed task, else strerror of its error code;
 * NULL if it has not failed or is not done. Valid as long as the handle.
 * Any thread. */
const char *weft_task_message(const weft_task *t);

/* The task running on this thread, or NULL outside a task. Borrowed: never
 * release it. Any thread. */
weft_task *weft_task_current(void);

/* Task.set_name: copies name (0, EINVAL for a NULL task or name, ENOMEM).
 * Every message weft prints about the task uses it. Any thread. */
int weft_task_set_name(weft_task *t, const char *name);
/* Task.get_name: the name set, else asyncio's "Task-<N>"; NULL for a NULL
 * task or when out of memory. Valid as long as the handle, renames
 * included. N counts from 1 per weft_run in spawn order at one worker; at
 * several, each worker draws numbers in blocks, so they are unique but not
 * in spawn order across workers. Any thread. */
const char *weft_task_name(const weft_task *t);

/* Write every live task to fd: id, name, state, what it waits on and since
 * when, and where a suspended task stopped (a symbolized backtrace of its
 * fiber); the format is README's "When a program hangs or is slow". From a
 * task: that task's weft_run; from any other thread: every weft_run running.
 * Any thread; blocks it until written (not an await point; not for a
 * signal handler: see WEFT_DUMP_SIGNAL). 0, EBADF for a negative fd, ESRCH
 * when no weft_run runs, ENOMEM, or write(2)'s error. */
int weft_dump(int fd);

/* Drop the caller's reference. The task keeps running. Once per handle: a
 * second release aborts ("task handle already released"). NULL is ignored.
 * Any thread. */
void weft_task_release(weft_task *t);

/* asyncio.sleep (await point): 0, ECANCELED, ETIMEDOUT or EPERM. A delay
 * <= 0 is weft_yield; WEFT_FOREVER sleeps until cancelled; NaN is EINVAL;
 * ENOMEM, at once, when no memory is left for its timer (asyncio raises
 * MemoryError there). */
int weft_sleep(double seconds);

/* asyncio.sleep(0) (await point): let every other ready task run once.
 * 0, ECANCELED, ETIMEDOUT or EPERM. */
int weft_yield(void);

/* loop.time(): monotonic seconds; under virtual_time the virtual clock.
 * Any thread; off the runtime's workers always the real clock. */
double weft_now(void);

enum { WEFT_RETURN_EXCEPTIONS = 1 };

/* asyncio.gather (await point): 0 and results[i] for tasks[i], in order.
 * Without WEFT_RETURN_EXCEPTIONS: the first failure's code, as soon as it
 * happens, cancelling nobody. With it: waits for all, failures appear as
 * WEFT_ERR entries. Cancelling the caller cancels every task and the call
 * returns ECANCELED: with WEFT_RETURN_EXCEPTIONS once all have finished;
 * without, as soon as the first of them ends cancelled (asyncio 3.11).
 * results may be NULL. Also EPERM, ETIMEDOUT, EDEADLK (the caller is among
 * tasks), ENOMEM, EINVAL (a NULL array or entry, another runtime's task,
 * an unknown flag). */
int weft_gather(weft_task *const tasks[], size_t n, void *results[], int flags);

enum weft_when { WEFT_ALL_COMPLETED, WEFT_FIRST_COMPLETED, WEFT_FIRST_EXCEPTION };

/* asyncio.wait (await point): wait until `when` holds or timeout seconds pass
 * (WEFT_FOREVER: no timeout). Cancels nothing; on timeout returns 0. done[i]
 * (done may be NULL) tells which tasks were done on return. Else ECANCELED,
 * ETIMEDOUT, EPERM, EDEADLK, ENOMEM, or EINVAL (n = 0, a NULL array or
 * entry, another runtime's task, a bad `when`, a NaN timeout). */
int weft_wait(weft_task *const tasks[], size_t n, enum weft_when when, double timeout, bool done[]);

/* asyncio.wait_for (await point): t's result if it finishes within timeout;
 * otherwise cancel t, wait until it finishes, and return WEFT_ERR(ETIMEDOUT)
 * if it ended cancelled, else its own result or error (asyncio 3.11). Also
 * WEFT_ERR of ECANCELED (t is cancelled too), EPERM, EDEADLK, ENOMEM, EINVAL
 * (NULL t, another runtime's, a NaN timeout). */
void *weft_wait_for(weft_task *t, double timeout);

/* asyncio.Queue, safe across workers. Putters and getters that
 * wait are served first come, first served. Calls that cannot wait are Any
 * thread. The queue holds item pointers only: what they point to stays the
 * caller's. */
typedef struct weft_queue weft_queue;
/* 0: unbounded. NULL + errno (ENOMEM). Any thread; weft_queue_destroy frees it. */
weft_queue *weft_queue_create(size_t maxsize);
/* Await point while full: 0, ECANCELED, ETIMEDOUT, EPIPE once the queue is
 * closed, ENOMEM (growing an unbounded queue), EPERM, EINVAL for a NULL q. */
int weft_queue_put(weft_queue *q, void *item);
/* Await point while empty: 0 and the oldest item, ECANCELED, ETIMEDOUT,
 * ENODATA once the queue is closed and drained, EPERM, EINVAL (NULL q or
 * item). */
int weft_queue_get(weft_queue *q, void **item);
/* 0, EAGAIN if full, EPIPE if closed, ENOMEM, EINVAL for a NULL q. */
int weft_queue_put_nowait(weft_queue *q, void *item);
/* 0, EAGAIN if empty, ENODATA if closed and empty, EINVAL (NULL q or item). */
int weft_queue_get_nowait(weft_queue *q, void **item);
size_t weft_queue_size(const weft_queue *q); /* 0 for NULL */
/* Queue.shutdown(): puts fail with EPIPE from now on, waiting putters too;
 * getters drain what is left, then get ENODATA. */
void weft_queue_close(weft_queue *q);
/* Queue.task_done() (0; EINVAL if called more often than items were put, or
 * for a NULL q) and Queue.join() (await point while items are unfinished:
 * until every item put has been marked done; 0, ECANCELED, ETIMEDOUT, EPIPE
 * when the queue is destroyed meanwhile, EPERM, EINVAL). */
int weft_queue_task_done(weft_queue *q);
int weft_queue_join(weft_queue *q);
/* Close the queue and free it once no task waits on it any more (the
 * waiting ones see EPIPE or ENODATA). Items still inside are dropped. */
void weft_queue_destroy(weft_queue *q);

/* Async generators, driven by their consumer. The body runs on a stack of
 * its own but inside the consumer's task: its await points are the
 * consumer's, and the first weft_gen_next binds it to that task's runtime. */
typedef struct weft_gen weft_gen;
/* Nothing runs yet. NULL + errno: EINVAL for a NULL body, ENOMEM. Any
 * thread; freed by weft_gen_destroy (or weft_with_gen). */
weft_gen *weft_gen_create(void *(*body)(weft_gen *g, void *arg), void *arg);
/* In body: hand value to the consumer and suspend until the next request.
 * 0, or ECANCELED when the generator is being closed (or weft_gen_throw's
 * code). EPERM outside a task, EINVAL when not called by g's body. */
int weft_gen_yield(weft_gen *g, void *value);
/* Consumer (Task only; an await point wherever body awaits): 0 and the next
 * value; ENODATA once body has returned a value (dropped), the code of
 * WEFT_ERR(code) if it returned one, and ENODATA ever after; EBUSY while
 * body runs; ENOMEM (no stack for its first run); EPERM; EINVAL for a NULL
 * g or one bound to another runtime. value may be NULL. */
int weft_gen_next(weft_gen *g, void **value);
/* aclose(): a suspended body sees ECANCELED from weft_gen_yield and may clean
 * up (awaiting, in the caller's task); then everything is freed. Called
 * outside a task of g's runtime, a suspended body is abandoned without its
 * cleanup; called from g's own body, it is ignored with a message. */
void weft_gen_destroy(weft_gen *g);

/* asyncio.Event, asyncio.Lock, asyncio.Semaphore: fair (FIFO) and
 * cancellation-safe (a waiter cancelled while waiting leaves no trace; a
 * lock or permit handed to a waiter that was cancelled passes on). Safe
 * across workers. The waits (event_wait, lock_acquire, sem_acquire) are
 * await points returning 0, ECANCELED, ETIMEDOUT, EPERM, or EINVAL for a
 * NULL handle; every other call is Any thread. _create: NULL + errno
 * (ENOMEM), Any thread. _destroy frees the object once no task waits on it:
 * a task still waiting is not woken (only a cancellation ends its wait). */
typedef struct weft_event weft_event;
weft_event *weft_event_create(void);
void weft_event_set(weft_event *e);              /* wakes every waiter */
void weft_event_clear(weft_event *e);
bool weft_event_is_set(const weft_event *e);
int weft_event_wait(weft_event *e);              /* at once if set */
void weft_event_destroy(weft_event *e);

typedef struct weft_lock weft_lock;
weft_lock *weft_lock_create(void);
int weft_lock_acquire(weft_lock *l);
/* 0; EPERM if not locked (asyncio's RuntimeError), EINVAL for NULL. The lock
 * has no owner: any task or thread may release it. */
int weft_lock_release(weft_lock *l);
bool weft_lock_locked(const weft_lock *l);
void weft_lock_destroy(weft_lock *l);

typedef struct weft_sem weft_sem;
weft_sem *weft_sem_create(unsigned value);
int weft_sem_acquire(weft_sem *s);
/* 0, hands a permit to the first waiter if any; EOVERFLOW at UINT_MAX
 * permits; EINVAL for NULL. Unbounded, as asyncio.Semaphore. */
int weft_sem_release(weft_sem *s);
bool weft_sem_locked(const weft_sem *s);         /* true if acquire would wait */
void weft_sem_destroy(weft_sem *s);

/* concurrent.futures.ThreadPoolExecutor for blocking calls:
 * weft_executor_submit is loop.run_in_executor(pool, fn, arg), awaitable like
 * a task; weft_spawn_blocking uses the runtime's default pool, which grows on
 * demand up to a bound and shrinks when idle. Awaiting a job parks only the
 * awaiting task. */
typedef struct weft_executor weft_executor;
/* Task only; threads start on demand. NULL + errno: EPERM, EINVAL for 0,
 * ENOMEM. Freed by weft_executor_shutdown, else when weft_run ends. */
weft_executor *weft_executor_create(unsigned max_workers);
/* Task only; not an await point. The job's handle, the caller's reference
 * (weft_task_release). NULL + errno: EPERM, EINVAL (NULL ex or fn, another
 * runtime's pool, a pool shut down), ENOMEM, EAGAIN (no thread could start). */
weft_task *weft_executor_submit(weft_executor *ex, void *(*fn)(void *), void *arg);
/* The end of `with ThreadPoolExecutor() as pool:` (await point): wait for
 * every job submitted, stop the threads, free the pool. 0, EPERM, EINVAL
 * (NULL ex, another runtime's, a second shutdown). ECANCELED or ETIMEDOUT
 * leave the jobs running and ex alive, unusable: weft_run frees it. */
int weft_executor_shutdown(weft_executor *ex);

/* asyncio.shield (await point): await t, but cancelling the caller does not
 * cancel t: the caller gets WEFT_ERR(ECANCELED) and t runs on. Otherwise t's
 * result or WEFT_ERR(code); also WEFT_ERR of ETIMEDOUT, EPERM, EDEADLK,
 * ENOMEM, EINVAL (NULL t or another runtime's). */
void *weft_shield(weft_task *t);

/* asyncio.TaskGroup. weft_group_create enters the scope (in a task);
 * weft_group_spawn adds a child; weft_group_wait (await point) is the scope's
 * exit: it waits for every child, the first child to fail cancels the others
 * (and the waiting task's pending waits inside the scope), and it returns 0,
 * the first failure's code, or ECANCELED if the task was cancelled from
 * outside (ETIMEDOUT inside an expired weft_timeout scope). It frees the
 * group: every group created must be waited for. */
typedef struct weft_group weft_group;
/* Task only; the caller is the group's parent. NULL + errno: EPERM, ENOMEM. */
weft_group *weft_group_create(void);
/* Task only (any task of the group's runtime); not an await point. The
 * child's handle is the caller's reference (weft_task_release); the group
 * holds its own. NULL + errno: EPERM, ENOMEM, EINVAL (NULL g or fn, another
 * runtime's group, a group shutting down after a failure or finished). */
weft_task *weft_group_spawn(weft_group *g, void *(*fn)(void *), void *arg);
/* The parent only: EINVAL from any other task or for NULL g; EPERM. */
int weft_group_wait(weft_group *g);

/* asyncio.timeout: a deadline for a stretch of the current task. Once it
 * passes, every await point inside the scope fails with ETIMEDOUT until the
 * scope is left; weft_timeout_exit leaves it and returns ETIMEDOUT if the
 * deadline fired inside it, else 0. Scopes nest. WEFT_FOREVER: no deadline
 * (yet); weft_timeout_reschedule moves it. */
typedef struct weft_timeout weft_timeout;
/* Task only; not an await point. The scope, which weft_timeout_exit leaves
 * and frees (every scope entered must be exited, innermost first). NULL +
 * errno: EPERM, EINVAL for a NaN delay, ENOMEM. */
weft_timeout *weft_timeout_enter(double delay);
/* Timeout.reschedule: a new deadline, delay seconds from now. Task only.
 * 0, EPERM, ENOMEM, EINVAL (NULL tm, NaN delay, a deadline already fired). */
int weft_timeout_reschedule(weft_timeout *tm, double delay);
bool weft_timeout_expired(const weft_timeout *tm); /* the deadline fired; Any thread */
/* Task only, by the task that entered, on its innermost scope (else EINVAL,
 * and the scope stays); EPERM. 0, ETIMEDOUT, or ECANCELED when the task was
 * also cancelled by someone else since the entry. Not an await point. */
int weft_timeout_exit(weft_timeout *tm);

/* --- async context managers --- */

/* `async with`: enter(ctx) is __aenter__: it returns the resource, or
 * WEFT_ERR(code) and then nothing else runs. body(ctx, resource) runs next,
 * and exit(ctx, resource, status) always runs after it, with the body's error
 * code or 0; exit may await even when the body was cancelled (the body's
 * await consumed the cancellation) and returns 0 or its own failure. Returns
 * exit's failure, else the body's code, else 0 with the body's value in
 * *result (result may be NULL). EPERM outside a task, EINVAL for NULL steps.
 * Task only; it suspends only where the steps await. */
int weft_with(void *(*enter)(void *ctx), void *(*body)(void *ctx, void *resource),
              int (*exit)(void *ctx, void *resource, int status), void *ctx, void **result);

/* `async with` over an @asynccontextmanager: g's first value is the resource
 * (a body that ends without yielding is EINVAL); after body, g resumes with
 * weft_gen_yield returning 0, or the body's error code, runs its cleanup (it
 * may await) and must return: NULL swallows the body's error, WEFT_ERR(code)
 * raises code. Returns like weft_with (EINVAL for a NULL g or body), or as
 * weft_gen_next does for the first value; g is destroyed in every case. */
int weft_with_gen(weft_gen *g, void *(*body)(void *ctx, void *resource), void *ctx,
                  void **result);

/* agen.athrow() (like weft_gen_next: Task only, awaits where body does):
 * resume g's suspended body with weft_gen_yield returning code (1..4095,
 * else EINVAL); then returns as weft_gen_next. A generator that never ran
 * ends at once and code is returned. */
int weft_gen_throw(weft_gen *g, int code, void **value);

/* --- metrics --- */

/* What one worker thread did since weft_run started, and holds now. The
 * counts only grow; "now" figures are read at the call. Its layout never
 * changes (figures added later go at the end of weft_metrics). */
typedef struct weft_worker_metrics {
    uint64_t tasks_spawned;  /* tasks made on this worker */
    uint64_t tasks_finished; /* tasks that ended on this worker */
    uint64_t resumes;        /* times a task was switched to: started, resumed, or run inline */
    uint64_t steal_attempts; /* looks into another worker's queue for work */
    uint64_t steals;         /* of those, the ones that took a task */
    uint64_t parks;          /* times the worker went to sleep for want of work */
    uint64_t wakeups;        /* of those sleeps, the ones another thread ended by making a
                                task ready (the rest ended at a deadline or on I/O) */
    uint64_t running_ns;     /* real time awake: running tasks, or looking for them */
    uint64_t parked_ns;      /* real time asleep; running_ns + parked_ns = uptime_ns */
    uint64_t ready;          /* now: tasks queued on this worker (single-thread mode: entries
                                in the loop's ready queue, timers' and callbacks' too) */
    uint64_t timers;         /* now: timers in this worker's heap (cancelled ones included
                                until pruned, as asyncio's loop._scheduled) */
} weft_worker_metrics;

#define WEFT_METRICS_MAX_WORKERS 64

/* A snapshot of the running runtime, a plain value. Compatible across
 * versions: fields are only ever added at the end, and a caller passes the
 * size of the struct it was built with (see weft_metrics_get). Counts are
 * each read atomically but not all at one instant: sums of them are exact
 * once nothing runs, and tasks_live is never below the truth. */
typedef struct weft_metrics {
    uint64_t size;             /* bytes this call filled: min(size asked, the library's) */
    uint64_t uptime_ns;        /* real time since weft_run started */
    uint32_t nworkers;         /* worker threads */
    uint32_t single_thread;    /* 1: single-thread mode (asyncio's order), else 0 */
    uint64_t tasks_live;       /* total.tasks_spawned - total.tasks_finished */
    uint64_t injected;         /* now: ready tasks queued from outside the workers */
    uint64_t io_waiters;       /* now: tasks waiting on a descriptor */
    uint64_t blocking_threads; /* now: threads of the blocking pools (all executors) */
    uint64_t blocking_busy;    /* now: of those, the ones running a job */
    uint64_t blocking_queued;  /* now: jobs submitted that no thread has taken yet */
    weft_worker_metrics total; /* every worker's figures summed; tasks_spawned counts the
                                  tasks made off the workers too (main, for one) */
    weft_worker_metrics workers[WEFT_METRICS_MAX_WORKERS]; /* the first min(nworkers, 64) */
} weft_metrics;

/* Fill *m with the figures of the calling task's runtime, or, on a thread
 * that runs no task, of the oldest weft_run running: min(size,
 * sizeof(weft_metrics)) bytes, nothing beyond. Pass sizeof(weft_metrics):
 * a program built with an older, shorter struct gets its prefix, and one
 * built with a newer, longer struct learns from m->size which fields were
 * filled. Not an await point; any thread, but not a signal handler (it
 * takes a lock). 0; EINVAL for a NULL m or a size below sizeof(uint64_t)
 * (not even m->size); ESRCH when no weft_run runs. */
int weft_metrics_get(weft_metrics *m, size_t size);

#ifdef __cplusplus
}
#endif

#endif /* WEFT_H */
