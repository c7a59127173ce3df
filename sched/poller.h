/*
 * The I/O poller: one epoll instance per runtime, driven from the idle path
 * of the workers (or the single-thread loop's select step), in the way of
 * Go's netpoller.
 *
 * Every descriptor the runtime has seen has an io_handle, found by its
 * number in a two-level table, and kept until the runtime ends (the number
 * comes back). The handle of a number lives through incarnations: each
 * weft_close ends one (its generation changes), and the first call on the
 * number after that registers the next one: makes it non-blocking and adds
 * it to epoll with EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET. A call looks
 * the handle up, and registers it if need be, before its first system call,
 * so no worker ever blocks in one; on a registered incarnation the look-up
 * is a few loads.
 *
 * Edge-triggered, so readiness is remembered: each direction has a slot
 * that holds nothing, READY (an edge arrived that nobody consumed) or the
 * task waiting (with a reference).
 *
 * The re-arm rule. A task first tries its I/O; only on EAGAIN does it wait.
 * To wait it consumes a READY mark if there is one (and tries again), else
 * parks its task in the slot. The poller swaps READY into the slot on every
 * edge and wakes whatever task it found. An edge that arrives between the
 * failed I/O and the parking is therefore never lost: it is either seen as
 * READY, or it finds the task in the slot. A wake-up may be spurious (the
 * data went to someone else, or to an earlier wait of the same task): I/O
 * waits simply try again. A wait for both directions (weft_wait_fd) parks
 * in both slots and is woken by whichever edge comes first.
 *
 * A second task waiting the same way on the same descriptor (several
 * acceptors on one listening socket) queues behind the slot's task; every
 * edge wakes them all, and each tries again.
 */
#ifndef SCHED_POLLER_H
#define SCHED_POLLER_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct runtime;
struct weft_task;

enum io_dir { IO_READ, IO_WRITE };
/* What io_wait waits for: one or both of these. */
enum { IO_READABLE = 1 << IO_READ, IO_WRITABLE = 1 << IO_WRITE };

struct io_handle;

struct poller {
    int epfd;
    int wakefd;              /* eventfd: wakes a thread blocked in epoll_wait */
    bool polling;            /* atomic: some thread is inside a blocking epoll_wait */
    bool wake_pending;       /* atomic: the eventfd has been written and not drained */
    long waiting;            /* atomic: tasks parked on descriptors */
    pthread_mutex_t lock;    /* table growth and registration */
    struct io_handle **pages[4096];
};

int poller_init(struct poller *p);
void poller_destroy(struct poller *p);

/* The handle of fd, its current incarnation registered (non-blocking, and
 * watched by epoll unless epoll refuses the file, as it does regular files,
 * which are always ready), and that incarnation's generation in *gen; NULL
 * with *err on failure. No system call once the incarnation is registered. */
struct io_handle *poller_handle(struct runtime *rt, int fd, unsigned *gen, int *err);

/* In the running task, after an I/O attempt returned EAGAIN: wait until
 * one of dirs (IO_READABLE, IO_WRITABLE) may be ready or the deadline
 * (runtime_now seconds; < 0: none) passes. 0: try the I/O again (possibly
 * spurious; the caller checks the deadline after that try); ECANCELED, or
 * EBADF (incarnation gen was closed). */
int io_wait(struct weft_task *self, struct io_handle *h, unsigned dirs, unsigned gen,
            double deadline);

/* Wait up to timeout_ms (-1: forever, 0: just look) and wake the tasks
 * whose descriptors became ready. Returns how many tasks were woken. Only
 * one thread blocks at a time: blocking callers must hold rt's poll token. */
int poller_poll(struct runtime *rt, int timeout_ms);
bool poller_try_acquire(struct poller *p);
void poller_release(struct poller *p);
/* Make a blocking poller_poll return. */
void poller_wake(struct poller *p);

/* Forget fd (waking its waiters with EBADF) and close it. */
int poller_close(struct runtime *rt, int fd);

static inline bool poller_has_waiters(struct poller *p)
{
    return __atomic_load_n(&p->waiting, __ATOMIC_ACQUIRE) > 0;
}

#endif /* SCHED_POLLER_H */
