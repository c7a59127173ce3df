/*
 * Wait lists: the FIFO of waiting tasks shared by queue.c, event.c, lock.c
 * and semaphore.c. The invariants, and why a node on a task's stack is safe
 * to hand to a waker, are at the top of waitlist.h.
 */
#include "api/waitlist.h"

void waitlist_push(struct waitlist *l, struct waitnode *n)
{
    future_init(&n->fut);
    __atomic_store_n(&n->busy, false, __ATOMIC_RELAXED);
    n->prev = l->tail;
    n->next = NULL;
    if (l->tail)
        l->tail->next = n;
    else
        l->head = n;
    l->tail = n;
    n->linked = true;
}

static void unlink_node(struct waitlist *l, struct waitnode *n)
{
    if (n->prev)
        n->prev->next = n->next;
    else
        l->head = n->next;
    if (n->next)
        n->next->prev = n->prev;
    else
        l->tail = n->prev;
    n->linked = false;
}

struct waitnode *waitlist_pop(struct waitlist *l)
{
    struct waitnode *n = l->head;
    if (n)
        unlink_node(l, n);
    return n;
}

void waitlist_remove(struct waitlist *l, struct waitnode *n)
{
    if (n->linked)
        unlink_node(l, n);
    while (__atomic_load_n(&n->busy, __ATOMIC_ACQUIRE)) /* pairs with waitnode_complete */
        ck_pr_stall();
}

int waitlist_await(struct waitlist *l, spinlock *lock, struct weft_task *self, struct waitnode *n)
{
    waitlist_push(l, n);
    spin_unlock(lock);
    int err = future_await(self, &n->fut);
    spin_lock(lock);
    waitlist_remove(l, n); /* finally: self._waiters.remove(fut) */
    return err;
}

bool waitlist_all_cancelled(const struct waitlist *l)
{
    for (const struct waitnode *n = l->head; n; n = n->next)
        if (!future_cancelled(&n->fut))
            return false;
    return true;
}

bool waitnode_complete(struct waitnode *n, void *result)
{
    bool ok = future_set_result(&n->fut, result);
    __atomic_store_n(&n->busy, false, __ATOMIC_RELEASE); /* the owner may now free n */
    return ok;
}

void waitchain_pick(struct waitchain *c, struct waitnode *n)
{
    waitnode_pick(n);
    n->picked = NULL;
    *c->tail = n;
    c->tail = &n->picked;
}

void waitchain_complete(struct waitchain *c, void *result)
{
    for (struct waitnode *n = c->first, *next; n; n = next) {
        next = n->picked; /* read before n may vanish */
        waitnode_complete(n, result);
    }
}
