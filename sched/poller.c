/*
 * The I/O poller (see poller.h for the handle slots, the re-arm rule and
 * the closing protocol).
 */
#define _GNU_SOURCE
#include "sched/poller.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sched/lock_order.h"
#include "sched/runtime.h"

#define PAGE_HANDLES 1024
#define PAGES (sizeof((struct poller *)0)->pages / sizeof((struct poller *)0)->pages[0])
#define MAX_EVENTS 256
#define READY ((struct weft_task *)1)

/* The handle's use word: USE_CALL for each call inside a system call on
 * the descriptor (and for a closer until it has woken the waiters), and
 * USE_CLOSING from the start of a close until its close(2). */
#define USE_CLOSING 1u
#define USE_CALL 2u

/* A task queued behind the one in a slot. It lives on that task's stack,
 * one per direction, as a task waiting both ways is in both queues. */
struct io_waiter {
    struct weft_task *task;
    struct io_waiter *next;
};

struct io_handle {
    struct runtime *rt;
    int fd;
    unsigned gen;              /* atomic, written under the poller's lock: the incarnation */
    unsigned registered_gen;   /* atomic, written under the lock: gen + 1 once registered */
    bool polled;               /* atomic, written under the lock: in epoll (else always ready) */
    bool close_pending;        /* under the lock: close(2) of a closing incarnation is to come */
    unsigned use;              /* atomic: USE_CALL per call in progress | USE_CLOSING */
    struct weft_task *slot[2]; /* atomic: NULL, READY, or a waiting task (with a reference) */
    spinlock queue_lock;
    /* More tasks waiting the same way, each with a reference, all woken on
     * every edge: queue is where they wait (its head read atomically by the
     * poller), waking those an edge has taken off it and is waking one by
     * one. Both under queue_lock. */
    struct io_waiter *queue[2];
    struct io_waiter *waking[2];
    struct weft_task *handoff[2]; /* single-thread: the task the queued wake-up is for */
    struct callback wake[2];      /* single-thread: the wake-up as its own loop entry */
};

int poller_init(struct poller *p)
{
    p->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (p->epfd < 0)
        return errno;
    p->wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (p->wakefd < 0 || epoll_ctl(p->epfd, EPOLL_CTL_ADD, p->wakefd, &ev) != 0) {
        int err = errno;
        if (p->wakefd >= 0)
            close(p->wakefd);
        close(p->epfd);
        return err;
    }
    p->polling = p->wake_pending = false;
    p->waiting = 0;
    pthread_mutex_init(&p->lock, NULL);
    for (size_t i = 0; i < PAGES; i++)
        p->pages[i] = NULL;
    return 0;
}

void poller_destroy(struct poller *p)
{
    for (size_t i = 0; i < PAGES; i++) {
        if (!p->pages[i])
            continue;
        for (size_t j = 0; j < PAGE_HANDLES; j++) {
            /* Calls are done when the runtime ends, and so are their closes. */
            assert(!p->pages[i][j] || !p->pages[i][j]->close_pending);
            free(p->pages[i][j]);
        }
        free(p->pages[i]);
    }
    close(p->wakefd);
    close(p->epfd);
    pthread_mutex_destroy(&p->lock);
}

/* Single-thread: the wake-up of a task found in a slot, run as its own loop
 * entry, as asyncio runs a reader callback before the task's own step. */
static void handoff_read(struct callback *cb);
static void handoff_write(struct callback *cb);

static struct io_handle *handle_new(struct runtime *rt, int fd)
{
    struct io_handle *h = calloc(1, sizeof *h);
    if (!h)
        return NULL;
    h->rt = rt;
    h->fd = fd;
    h->wake[IO_READ].fn = handoff_read;
    h->wake[IO_WRITE].fn = handoff_write;
    spin_init(&h->queue_lock, LOCK_RANK_FD_QUEUE);
    return h;
}

/* Under the lock: fd's handle, made with its page if need be. */
static struct io_handle *handle_locked(struct runtime *rt, int fd, int *err)
{
    struct poller *p = &rt->poller;
    size_t page = (size_t)fd / PAGE_HANDLES, index = (size_t)fd % PAGE_HANDLES;
    /* Read here, under the lock, not before it: another thread may have
     * made the page meanwhile, and a second page would replace the first. */
    struct io_handle **slots = p->pages[page];
    *err = ENOMEM;
    if (!slots) {
        if (!(slots = calloc(PAGE_HANDLES, sizeof *slots)))
            return NULL;
        /* Release: the fast path's acquire load finds the page initialised. */
        __atomic_store_n(&p->pages[page], slots, __ATOMIC_RELEASE);
    }
    struct io_handle *h = slots[index];
    if (!h) {
        if (!(h = handle_new(rt, fd)))
            return NULL;
        /* Release: the fast path finds the handle initialised. */
        __atomic_store_n(&slots[index], h, __ATOMIC_RELEASE);
    }
    *err = 0;
    return h;
}

/* Under the lock: make h's current incarnation non-blocking and watched.
 * Once per incarnation, not on every call: each step is a system call. */
static int watch(struct poller *p, struct io_handle *h)
{
    int flags = fcntl(h->fd, F_GETFL);
    if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(h->fd, F_SETFL, flags | O_NONBLOCK) < 0))
        return errno;
    struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, .data.ptr = h};
    bool polled = true;
    if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, h->fd, &ev) != 0) {
        if (errno == EPERM)
            polled = false; /* a regular file or the like: always ready */
        else if (errno != EEXIST || epoll_ctl(p->epfd, EPOLL_CTL_MOD, h->fd, &ev) != 0)
            return errno;
    }
    __atomic_store_n(&h->polled, polled, __ATOMIC_RELAXED);
    /* Release: a fast-path look-up that sees the registration sees polled. */
    __atomic_store_n(&h->registered_gen, h->gen + 1, __ATOMIC_RELEASE);
    return 0;
}

/* Cold: a new number, or a new incarnation to register. Out of line, so
 * that the look-up's fast path stays a leaf without a frame. */
static __attribute__((noinline, cold)) struct io_handle *handle_slow(struct runtime *rt, int fd,
                                                                     unsigned *gen, int *err)
{
    struct poller *p = &rt->poller;
    mutex_lock(&p->lock, LOCK_RANK_POLLER);
    struct io_handle *h = handle_locked(rt, fd, err);
    if (h && (__atomic_load_n(&h->use, __ATOMIC_RELAXED) & USE_CLOSING)) {
        *err = EBADF; /* the descriptor is on its way out: registering it now would outlive it */
        h = NULL;
    } else if (h && h->registered_gen != h->gen + 1 && (*err = watch(p, h))) {
        h = NULL;
    }
    if (h)
        *gen = h->gen;
    mutex_unlock(&p->lock);
    return h;
}

struct io_handle *poller_handle(struct runtime *rt, int fd, unsigned *gen, int *err)
{
    struct poller *p = &rt->poller;
    size_t page = (size_t)fd / PAGE_HANDLES;
    if (fd < 0 || page >= PAGES) {
        *err = EBADF;
        return NULL;
    }
    /* Acquire, both: pair with the release stores of handle_locked. */
    struct io_handle **slots = __atomic_load_n(&p->pages[page], __ATOMIC_ACQUIRE);
    struct io_handle *h =
        slots ? __atomic_load_n(&slots[(size_t)fd % PAGE_HANDLES], __ATOMIC_ACQUIRE) : NULL;
    if (h) {
        /* A stale pair (a close between the two loads) is caught by io_enter. */
        unsigned g = __atomic_load_n(&h->gen, __ATOMIC_RELAXED);
        /* Acquire: pairs with watch's release, for polled. */
        if (__atomic_load_n(&h->registered_gen, __ATOMIC_ACQUIRE) == g + 1) {
            *gen = g;
            return h;
        }
    }
    return handle_slow(rt, fd, gen, err);
}

/* Under the lock: close(2) for a closing incarnation that no call uses any
 * more, once (close_pending). Under the lock, and CLOSING cleared in the
 * same breath: from close(2) on the number may come back with a new
 * descriptor, whose first call registers it under the lock, and must then
 * find CLOSING gone. */
static int close_if_unused(struct io_handle *h)
{
    /* Acquire: every call that left is done with the number (their
     * releases head release sequences that this load reads the end of). */
    if (!h->close_pending || __atomic_load_n(&h->use, __ATOMIC_ACQUIRE) != USE_CLOSING)
        return 0;
    h->close_pending = false;
    int err = close(h->fd) == 0 ? 0 : errno;
    /* Release: a call that enters after this sees the new generation. */
    __atomic_fetch_and(&h->use, ~USE_CLOSING, __ATOMIC_RELEASE);
    return err;
}

/* Cold: leaving a closing handle, possibly last. */
static __attribute__((noinline, cold)) int leave_closing(struct io_handle *h)
{
    struct poller *p = &h->rt->poller;
    mutex_lock(&p->lock, LOCK_RANK_POLLER);
    int err = close_if_unused(h);
    mutex_unlock(&p->lock);
    return err;
}

int io_enter(struct io_handle *h, unsigned gen)
{
    /* Acquire: after a close that has finished, the generation read below
     * is the new one (pairs with close_if_unused's release). */
    unsigned use = __atomic_fetch_add(&h->use, USE_CALL, __ATOMIC_ACQUIRE);
    if (!(use & USE_CLOSING) && __atomic_load_n(&h->gen, __ATOMIC_RELAXED) == gen)
        return 0;
    io_leave(h);
    return EBADF;
}

void io_leave(struct io_handle *h)
{
    /* Release: the system call is over before a closer counts this call out. */
    if (__atomic_fetch_sub(&h->use, USE_CALL, __ATOMIC_RELEASE) & USE_CLOSING)
        leave_closing(h);
}

static void wake_slot_task(struct weft_task *t)
{
    task_wake(t, __atomic_load_n(&t->io_seq, __ATOMIC_ACQUIRE));
    task_unref(t);
}

static void handoff(struct io_handle *h, enum io_dir dir)
{
    struct weft_task *t = h->handoff[dir];
    h->handoff[dir] = NULL;
    if (t)
        wake_slot_task(t);
}

static void handoff_read(struct callback *cb)
{
    handoff((struct io_handle *)((char *)cb - offsetof(struct io_handle, wake[IO_READ])), IO_READ);
}

static void handoff_write(struct callback *cb)
{
    handoff((struct io_handle *)((char *)cb - offsetof(struct io_handle, wake[IO_WRITE])),
            IO_WRITE);
}

/* Wake every task queued behind the slot: each tries its I/O again. One at
 * a time, each taken off under the lock: a node is on its task's stack, and
 * the task may return as soon as it is off the lists. */
static int wake_queue(struct io_handle *h, enum io_dir dir)
{
    spin_lock(&h->queue_lock);
    struct io_waiter **end = &h->waking[dir];
    while (*end)
        end = &(*end)->next;
    *end = h->queue[dir]; /* those who queue from now on wait for the next edge */
    __atomic_store_n(&h->queue[dir], NULL, __ATOMIC_RELAXED);
    int woken = 0;
    for (;;) {
        struct io_waiter *w = h->waking[dir];
        struct weft_task *t = w ? w->task : NULL;
        if (w)
            h->waking[dir] = w->next;
        spin_unlock(&h->queue_lock);
        if (!t)
            return woken;
        wake_slot_task(t);
        /* Only now (see signal_slot). */
        __atomic_sub_fetch(&h->rt->poller.waiting, 1, __ATOMIC_RELEASE);
        woken++;
        spin_lock(&h->queue_lock);
    }
}

/* An edge in direction dir (or a close, with mark NULL): mark it, wake
 * whoever waited. */
static int signal_slot(struct io_handle *h, enum io_dir dir, struct weft_task *mark)
{
    /* Acq_rel: ordered with a queuing task's read-modify-write of the slot
     * (park_in), so that either it sees this mark or the look at the queue
     * below sees it. */
    struct weft_task *t = __atomic_exchange_n(&h->slot[dir], mark, __ATOMIC_ACQ_REL);
    int queued = __atomic_load_n(&h->queue[dir], __ATOMIC_RELAXED) ? wake_queue(h, dir) : 0;
    if (!t || t == READY)
        return queued;
    if (h->rt->single && !h->handoff[dir]) {
        h->handoff[dir] = t;
        loop_call_soon(h->rt, &h->wake[dir]);
    } else {
        wake_slot_task(t);
    }
    /* Not a waiter any more only once it is runnable where the deadlock
     * rule looks (a run queue, a next-task slot): the polling worker wakes
     * it while it still counts as idle, and a worker that saw no waiter
     * here and nothing runnable would declare a deadlock. Release: the task
     * is placed before the count drops. */
    __atomic_sub_fetch(&h->rt->poller.waiting, 1, __ATOMIC_RELEASE);
    return 1 + queued;
}

/* Where a wait put its task in one direction. */
enum parked { NOT_PARKED, IN_SLOT, IN_QUEUE };

/* Put self in dir's slot, or behind the task there; wake self at once if
 * an edge is there already. */
static enum parked park_in(struct io_handle *h, enum io_dir dir, struct weft_task *self,
                           uint64_t seq, struct io_waiter *node)
{
    struct poller *p = &h->rt->poller;
    task_ref(self); /* the slot's (or the queue's) reference */
    __atomic_add_fetch(&p->waiting, 1, __ATOMIC_RELEASE);
    struct weft_task *seen = NULL;
    if (__atomic_compare_exchange_n(&h->slot[dir], &seen, self, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return IN_SLOT;
    if (seen == READY) {
        /* An edge arrived meanwhile: don't sleep. */
        __atomic_sub_fetch(&p->waiting, 1, __ATOMIC_RELEASE);
        task_unref(self);
        task_wake(self, seq);
        return NOT_PARKED;
    }
    node->task = self;
    spin_lock(&h->queue_lock);
    node->next = h->queue[dir];
    __atomic_store_n(&h->queue[dir], node, __ATOMIC_RELAXED);
    spin_unlock(&h->queue_lock);
    /* A read-modify-write, not a load: ordered with the poller's exchange
     * on the slot, so that an edge that came before we were queued is seen
     * here (READY, or an empty slot), and one that comes after sees us. */
    seen = __atomic_load_n(&h->slot[dir], __ATOMIC_RELAXED);
    while (!__atomic_compare_exchange_n(&h->slot[dir], &seen, seen, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_RELAXED))
        ;
    if (seen == READY || seen == NULL)
        task_wake(self, seq);
    return IN_QUEUE;
}

/* Take node off the list at *list; whether it was there. Under queue_lock. */
static bool unlink_waiter(struct io_waiter **list, struct io_waiter *node)
{
    for (; *list; list = &(*list)->next) {
        if (*list == node) {
            __atomic_store_n(list, node->next, __ATOMIC_RELAXED);
            return true;
        }
    }
    return false;
}

/* After the wait: take self out of the slot or the queue unless the poller
 * (or a close) already did, and drop the reference that was there. */
static void unpark(struct io_handle *h, enum io_dir dir, struct weft_task *self, enum parked where,
                   struct io_waiter *node)
{
    bool ours = false;
    if (where == IN_SLOT) {
        struct weft_task *expected = self;
        ours = __atomic_compare_exchange_n(&h->slot[dir], &expected, NULL, false, __ATOMIC_ACQ_REL,
                                           __ATOMIC_ACQUIRE);
    } else if (where == IN_QUEUE) {
        spin_lock(&h->queue_lock);
        ours = unlink_waiter(&h->queue[dir], node) || unlink_waiter(&h->waking[dir], node);
        spin_unlock(&h->queue_lock);
    }
    if (ours) {
        __atomic_sub_fetch(&h->rt->poller.waiting, 1, __ATOMIC_RELEASE);
        task_unref(self);
    }
}

/* An edge nobody consumed yet in one of dirs: consume it. */
static bool take_ready(struct io_handle *h, unsigned dirs)
{
    for (int dir = IO_READ; dir <= IO_WRITE; dir++) {
        struct weft_task *expected = READY;
        if ((dirs & (1u << dir)) &&
            __atomic_compare_exchange_n(&h->slot[dir], &expected, NULL, false, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE))
            return true;
    }
    return false;
}

int io_wait(struct weft_task *self, struct io_handle *h, unsigned dirs, unsigned gen,
            double deadline)
{
    int err = task_await_enter(self);
    if (err)
        return err;
    if (__atomic_load_n(&h->gen, __ATOMIC_ACQUIRE) != gen)
        return EBADF;
    /* A file epoll refuses is always ready (poll(2) says so too), and
     * returns no EAGAIN to wait after. */
    if (!__atomic_load_n(&h->polled, __ATOMIC_RELAXED) || take_ready(h, dirs))
        return 0; /* try again */
    task_note_wait(self,
                   dirs == (1u << IO_READ | 1u << IO_WRITE) ? WAIT_FOR_FD_BOTH
                   : dirs & (1u << IO_WRITE)                ? WAIT_FOR_FD_WRITE
                                                            : WAIT_FOR_FD_READ,
                   (const void *)(intptr_t)h->fd);
    task_note_until(self, deadline >= 0 ? deadline : INFINITY);
    uint64_t seq = task_wait_begin(self);
    __atomic_store_n(&self->io_seq, seq, __ATOMIC_RELEASE);
    struct timer *tm = NULL;
    if (deadline >= 0 && !(tm = task_timer_arm(self, deadline, seq)))
        return ENOMEM;
    struct io_waiter nodes[2];
    enum parked where[2] = {NOT_PARKED, NOT_PARKED};
    for (int dir = IO_READ; dir <= IO_WRITE; dir++)
        if (dirs & (1u << dir))
            where[dir] = park_in(h, dir, self, seq, &nodes[dir]);
    /* Acquire: a close whose wake-up found no one here bumped gen before. */
    task_park_until_woken(self, seq, __atomic_load_n(&h->gen, __ATOMIC_ACQUIRE) != gen);

    for (int dir = IO_READ; dir <= IO_WRITE; dir++)
        unpark(h, dir, self, where[dir], &nodes[dir]);
    if (tm) {
        timer_cancel(tm);
        timer_release(tm);
    }
    err = task_wait_end(self);
    if (err)
        return err;
    if (__atomic_load_n(&h->gen, __ATOMIC_ACQUIRE) != gen)
        return EBADF;
    return 0; /* the caller tries its I/O once more before it checks the deadline */
}

int poller_poll(struct runtime *rt, int timeout_ms)
{
    struct poller *p = &rt->poller;
    struct epoll_event events[MAX_EVENTS];
    int n = epoll_wait(p->epfd, events, MAX_EVENTS, timeout_ms);
    int woken = 0;
    for (int i = 0; i < n; i++) {
        struct io_handle *h = events[i].data.ptr;
        if (!h) {
            uint64_t drain;
            if (read(p->wakefd, &drain, sizeof drain) < 0) {
                /* EAGAIN: another poller drained it first */
            }
            __atomic_store_n(&p->wake_pending, false, __ATOMIC_RELEASE);
            continue;
        }
        uint32_t e = events[i].events;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            woken += signal_slot(h, IO_READ, READY);
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            woken += signal_slot(h, IO_WRITE, READY);
    }
    return woken;
}

bool poller_try_acquire(struct poller *p)
{
    return !__atomic_exchange_n(&p->polling, true, __ATOMIC_ACQUIRE);
}

void poller_release(struct poller *p)
{
    __atomic_store_n(&p->polling, false, __ATOMIC_RELEASE);
}

void poller_wake(struct poller *p)
{
    if (__atomic_exchange_n(&p->wake_pending, true, __ATOMIC_ACQ_REL))
        return; /* already written, not yet drained */
    uint64_t one = 1;
    if (write(p->wakefd, &one, sizeof one) < 0) {
        /* EAGAIN: the counter is full, so a wake-up is pending anyway */
    }
}

int poller_close(struct runtime *rt, int fd)
{
    struct poller *p = &rt->poller;
    size_t page = (size_t)fd / PAGE_HANDLES;
    if (fd < 0 || page >= PAGES)
        return close(fd) == 0 ? 0 : errno; /* no handle can exist */
    mutex_lock(&p->lock, LOCK_RANK_POLLER);
    struct io_handle **slots = p->pages[page];
    struct io_handle *h = slots ? slots[(size_t)fd % PAGE_HANDLES] : NULL;
    if (!h || (__atomic_load_n(&h->use, __ATOMIC_RELAXED) & USE_CLOSING)) {
        /* A number never seen: closed under the lock, so a first call on it
         * registers it wholly before or wholly after. One being closed:
         * close(2) would free it under the calls still on it. */
        int err = h ? EBADF : close(fd) == 0 ? 0 : errno;
        mutex_unlock(&p->lock);
        return err;
    }
    if (h->registered_gen == h->gen + 1 && __atomic_load_n(&h->polled, __ATOMIC_RELAXED))
        epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
    /* Counted as a call until the waiters are woken, so that the number
     * cannot be closed, taken and registered again under the wake-ups.
     * Relaxed: calls learn of CLOSING from this word itself, and nothing
     * else they read needs ordering with it (the generation has its own). */
    __atomic_fetch_add(&h->use, USE_CALL | USE_CLOSING, __ATOMIC_RELAXED);
    h->close_pending = true;
    /* Release: a waiter that sees the new generation sees the rest. */
    __atomic_add_fetch(&h->gen, 1, __ATOMIC_RELEASE);
    mutex_unlock(&p->lock);
    /* Waiters see the new generation and answer EBADF. */
    signal_slot(h, IO_READ, NULL);
    signal_slot(h, IO_WRITE, NULL);
    /* Release: as io_leave. */
    __atomic_fetch_sub(&h->use, USE_CALL, __ATOMIC_RELEASE);
    return leave_closing(h);
}
