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
 *
 * Closing. weft_close may come while a call on the same descriptor is in
 * the middle of a system call on another worker, or between two of them.
 * Two things must then hold: the call never reaches another connection that
 * took the number meanwhile, and no interleaving leaves the number's next
 * incarnation unwatched. So every system call a weft call makes on the
 * number is bracketed by io_enter and io_leave, which count the calls in
 * progress in the handle's `use` word, and closing is done in two steps:
 *
 * 1. Under the poller's lock, poller_close marks the handle CLOSING (and
 *    counts itself as a call), removes the descriptor from epoll and bumps
 *    the generation. Then it wakes the waiters, which see the generation
 *    and answer EBADF, and leaves like a call.
 * 2. Whoever leaves last (the closer, or the last call still inside a
 *    system call) does close(2) and clears CLOSING, both under the lock:
 *    the number may come back with a new descriptor from close(2) on, and
 *    its first call, registering under the lock, must find CLOSING gone.
 *    (So a socket with SO_LINGER holds the lock while it lingers.)
 *
 * Invariants:
 * - The number stays open while use counts a call: a call inside io_enter
 *   and io_leave works on the incarnation it started on, or on none.
 * - io_enter refuses (EBADF) while CLOSING is set, or once the generation
 *   is not the one the call started with: a call that started before a
 *   close never touches the number after it.
 * - Registration happens under the lock and refuses (EBADF) while CLOSING
 *   is set, and CLOSING is cleared only after close(2). So no call can add
 *   a descriptor to epoll that close(2) then drops from it: the handle's
 *   registered generation always means what it says.
 * - close(2) is done once per incarnation (close_pending, under the lock).
 * The common path costs two uncontended atomic additions on the handle
 * (enter and leave) and no lock; only a call that meets a close takes the
 * lock. A close that had to wait answers 0: its close(2) is done by the
 * last call out, and an error from it is lost.
 *
 * Rejected: closing under the lock with no count (a call between its check
 * and its system call can still reach the next connection); a hazard slot
 * per worker, published with one fence per system call instead of two
 * additions (a call leaving would need a second fence to see that a close
 * waits for it, so the closer would have to spin until other workers'
 * system calls end, instead of leaving the close(2) to them).
 *
 * Locks: the poller's lock is taken first and alone (fcntl, epoll_ctl and
 * close(2) are done under it); a handle's queue lock is a leaf, never held
 * while taking the poller's lock. Neither is held while a task is woken.
 *
 * weft_close from a thread that is no worker of the runtime (a blocking
 * job) is a plain close(2): the runtime cannot be found from there. Such a
 * close does not end the handle's incarnation, so the next descriptor with
 * that number is taken for the old one: it is not made non-blocking and
 * its waits are not woken. Use weft_close from tasks for descriptors that
 * tasks use.
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
    pthread_mutex_t lock;    /* table growth, registration and closing */
    struct io_handle **pages[4096];
};

int poller_init(struct poller *p);
void poller_destroy(struct poller *p);

/* The handle of fd, its current incarnation registered (non-blocking, and
 * watched by epoll unless epoll refuses the file, as it does regular files,
 * which are always ready), and that incarnation's generation in *gen; NULL
 * with *err on failure (EBADF while fd is being closed). No system call
 * once the incarnation is registered. */
struct io_handle *poller_handle(struct runtime *rt, int fd, unsigned *gen, int *err);

/* Around every system call on the descriptor of a call that started on
 * incarnation gen: io_enter answers 0 (the number is that incarnation's
 * until io_leave), or EBADF (it was closed, or is being closed; nothing
 * more to do). io_leave may do a deferred close(2), so read errno before it. */
int io_enter(struct io_handle *h, unsigned gen);
void io_leave(struct io_handle *h);

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

/* End fd's incarnation (waking its waiters with EBADF) and close it, at
 * once or when the last call inside a system call on it leaves: 0, or
 * close(2)'s error when it closed at once; EBADF if a close of fd is
 * already under way. */
int poller_close(struct runtime *rt, int fd);

static inline bool poller_has_waiters(struct poller *p)
{
    return __atomic_load_n(&p->waiting, __ATOMIC_ACQUIRE) > 0;
}

#endif /* SCHED_POLLER_H */
