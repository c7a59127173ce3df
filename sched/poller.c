/*
 * The I/O poller (see poller.h for the handle slots and the re-arm rule).
 */
#define _GNU_SOURCE
#include "sched/poller.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sched/runtime.h"

#define PAGE_HANDLES 1024
#define MAX_EVENTS 256
#define READY ((struct weft_task *)1)

struct io_handle {
    struct runtime *rt;
    int fd;
    unsigned gen;             /* atomic: bumped by poller_close */
    unsigned registered_gen;  /* under the poller's lock; gen + 1 when registered */
    struct weft_task *slot[2];  /* atomic: NULL, READY, or a waiting task (with a reference) */
    spinlock queue_lock;
    struct weft_task *queue[2]; /* more tasks waiting the same way, linked by io_next,
                                   each with a reference; all woken on every edge */
    struct weft_task *handoff[2]; /* single-thread: the task the queued wake-up is for */
    struct callback wake[2];  /* single-thread: the wake-up as its own loop entry */
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
    for (size_t i = 0; i < sizeof p->pages / sizeof p->pages[0]; i++)
        p->pages[i] = NULL;
    return 0;
}

void poller_destroy(struct poller *p)
{
    for (size_t i = 0; i < sizeof p->pages / sizeof p->pages[0]; i++) {
        if (!p->pages[i])
            continue;
        for (size_t j = 0; j < PAGE_HANDLES; j++)
            free(p->pages[i][j]);
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
    h->queue_lock = (spinlock)SPINLOCK_INIT;
    return h;
}

struct io_handle *poller_handle(struct runtime *rt, int fd, int *err)
{
    struct poller *p = &rt->poller;
    size_t page = (size_t)fd / PAGE_HANDLES, index = (size_t)fd % PAGE_HANDLES;
    if (fd < 0 || page >= sizeof p->pages / sizeof p->pages[0]) {
        *err = EBADF;
        return NULL;
    }
    struct io_handle **slots = __atomic_load_n(&p->pages[page], __ATOMIC_ACQUIRE);
    struct io_handle *h = slots ? __atomic_load_n(&slots[index], __ATOMIC_ACQUIRE) : NULL;
    if (h && __atomic_load_n(&h->registered_gen, __ATOMIC_ACQUIRE) ==
                 __atomic_load_n(&h->gen, __ATOMIC_ACQUIRE) + 1)
        return h;
    pthread_mutex_lock(&p->lock);
    *err = ENOMEM;
    /* Again under the lock: another thread may have made the page since. */
    slots = p->pages[page];
    if (!slots) {
        slots = calloc(PAGE_HANDLES, sizeof *slots);
        if (!slots)
            goto out;
        __atomic_store_n(&p->pages[page], slots, __ATOMIC_RELEASE);
    }
    h = slots[index];
    if (!h) {
        h = handle_new(rt, fd);
        if (!h)
            goto out;
        __atomic_store_n(&slots[index], h, __ATOMIC_RELEASE);
    }
    if (h->registered_gen != h->gen + 1) {
        /* Once per incarnation, not on every wait: a descriptor weft waits
         * on must not block its worker, and asking costs a system call. */
        int flags = fcntl(fd, F_GETFL);
        if (flags < 0 || (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
            *err = errno;
            h = NULL;
            goto out;
        }
        struct epoll_event ev = {.events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
                                 .data.ptr = h};
        if (epoll_ctl(p->epfd, EPOLL_CTL_ADD, fd, &ev) != 0 &&
            (errno != EEXIST || epoll_ctl(p->epfd, EPOLL_CTL_MOD, fd, &ev) != 0)) {
            *err = errno;
            h = NULL;
            goto out;
        }
        __atomic_store_n(&h->registered_gen, h->gen + 1, __ATOMIC_RELEASE);
    }
    *err = 0;
out:
    pthread_mutex_unlock(&p->lock);
    return *err ? NULL : h;
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

/* Wake every task queued behind the slot: each tries its I/O again. */
static int wake_queue(struct io_handle *h, enum io_dir dir)
{
    spin_lock(&h->queue_lock);
    struct weft_task *t = h->queue[dir];
    h->queue[dir] = NULL;
    spin_unlock(&h->queue_lock);
    int woken = 0;
    while (t) {
        struct weft_task *next = t->io_next;
        __atomic_sub_fetch(&h->rt->poller.waiting, 1, __ATOMIC_RELEASE);
        wake_slot_task(t);
        woken++;
        t = next;
    }
    return woken;
}

/* An edge in direction dir: mark it, wake whoever waited. */
static int signal_slot(struct io_handle *h, enum io_dir dir, struct weft_task *mark)
{
    struct weft_task *t = __atomic_exchange_n(&h->slot[dir], mark, __ATOMIC_ACQ_REL);
    int queued = __atomic_load_n(&h->queue[dir], __ATOMIC_ACQUIRE) ? wake_queue(h, dir) : 0;
    if (!t || t == READY)
        return queued;
    __atomic_sub_fetch(&h->rt->poller.waiting, 1, __ATOMIC_RELEASE);
    if (h->rt->single && !h->handoff[dir]) {
        h->handoff[dir] = t;
        loop_call_soon(h->rt, &h->wake[dir]);
    } else {
        wake_slot_task(t);
    }
    return 1 + queued;
}

/* Take self off the queue behind the slot, if it is still there; true if
 * it was (so its reference is ours to drop). */
static bool unqueue(struct io_handle *h, enum io_dir dir, struct weft_task *self)
{
    spin_lock(&h->queue_lock);
    bool found = false;
    for (struct weft_task **p = &h->queue[dir]; *p; p = &(*p)->io_next) {
        if (*p == self) {
            *p = self->io_next;
            found = true;
            break;
        }
    }
    spin_unlock(&h->queue_lock);
    return found;
}

int io_wait(struct weft_task *self, struct io_handle *h, enum io_dir dir, double deadline)
{
    int err = task_await_enter(self);
    if (err)
        return err;
    unsigned gen = __atomic_load_n(&h->gen, __ATOMIC_ACQUIRE);
    struct weft_task *expected = READY;
    if (__atomic_compare_exchange_n(&h->slot[dir], &expected, NULL, false, __ATOMIC_ACQ_REL,
                                    __ATOMIC_ACQUIRE))
        return 0; /* an edge nobody consumed yet: try again */
    struct runtime *rt = self->rt;
    uint64_t seq = task_wait_begin(self);
    __atomic_store_n(&self->io_seq, seq, __ATOMIC_RELEASE);
    struct timer *tm = NULL;
    if (deadline >= 0 && !(tm = task_timer_arm(self, deadline, seq)))
        return ENOMEM;
    task_ref(self); /* the slot's (or the queue's) reference */
    __atomic_add_fetch(&rt->poller.waiting, 1, __ATOMIC_RELEASE);
    expected = NULL;
    bool queued = false;
    if (!__atomic_compare_exchange_n(&h->slot[dir], &expected, self, false, __ATOMIC_ACQ_REL,
                                     __ATOMIC_ACQUIRE)) {
        if (expected == READY) {
            /* An edge arrived meanwhile: don't sleep. */
            __atomic_sub_fetch(&rt->poller.waiting, 1, __ATOMIC_RELEASE);
            task_unref(self);
            task_wake(self, seq);
        } else {
            /* Another task waits here: queue behind it. An edge that came
             * before we were queued left READY (or an empty slot) behind. */
            spin_lock(&h->queue_lock);
            self->io_next = h->queue[dir];
            __atomic_store_n(&h->queue[dir], self, __ATOMIC_RELEASE);
            spin_unlock(&h->queue_lock);
            queued = true;
            struct weft_task *now = __atomic_load_n(&h->slot[dir], __ATOMIC_ACQUIRE);
            if (now == READY || now == NULL)
                task_wake(self, seq);
        }
    }
    spin_lock(&self->lock);
    self->wait_kind = WAIT_WAKE;
    bool pending = self->must_cancel;
    spin_unlock(&self->lock);
    if (pending || __atomic_load_n(&h->gen, __ATOMIC_ACQUIRE) != gen)
        task_wake(self, seq);
    task_suspend(self, SW_PARK);

    /* Take ourselves out of the slot or the queue unless the poller (or
     * close) already did. */
    expected = self;
    if (queued ? unqueue(h, dir, self)
               : __atomic_compare_exchange_n(&h->slot[dir], &expected, NULL, false,
                                             __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE)) {
        __atomic_sub_fetch(&rt->poller.waiting, 1, __ATOMIC_RELEASE);
        task_unref(self);
    }
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
    size_t page = (size_t)fd / PAGE_HANDLES, index = (size_t)fd % PAGE_HANDLES;
    struct io_handle *h = NULL;
    if (fd >= 0 && page < sizeof p->pages / sizeof p->pages[0]) {
        pthread_mutex_lock(&p->lock);
        if (p->pages[page])
            h = p->pages[page][index];
        if (h && h->registered_gen == h->gen + 1)
            epoll_ctl(p->epfd, EPOLL_CTL_DEL, fd, NULL);
        if (h)
            __atomic_add_fetch(&h->gen, 1, __ATOMIC_ACQ_REL);
        pthread_mutex_unlock(&p->lock);
    }
    if (h) {
        /* Waiters see the new generation and answer EBADF. */
        signal_slot(h, IO_READ, NULL);
        signal_slot(h, IO_WRITE, NULL);
    }
    return close(fd) == 0 ? 0 : errno;
}
