/* weft_lock hands the lock to waiters first come, first served: a waiter
 * cancelled while it waits leaves the line, one cancelled after the lock was
 * released to it passes it on, and a newcomer arriving while the lock is on
 * its way to a waiter queues behind the line.
 * Twin of sync_lock_fairness.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

struct actor {
    weft_lock *lock;
    const char *name;
};

static const char *yes(bool b)
{
    return b ? "True" : "False";
}

static void *worker(void *arg)
{
    struct actor *a = arg;

    vtime_log("%s wants the lock", a->name);
    if (weft_lock_acquire(a->lock) == ECANCELED) {
        vtime_log("%s cancelled, locked %s", a->name, yes(weft_lock_locked(a->lock)));
        return WEFT_ERR(ECANCELED);
    }
    vtime_log("%s has the lock", a->name);
    weft_sleep(0.5);
    vtime_log("%s releases", a->name);
    weft_lock_release(a->lock);
    return NULL;
}

static void *ticker(void *arg)
{
    int n = (int)(intptr_t)arg;

    for (int i = 0; i < n; i++) {
        vtime_log("tick %d", i);
        weft_yield();
    }
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_lock *lock = weft_lock_create();
    struct actor a[6] = {{lock, "w0"}, {lock, "w1"}, {lock, "w2"},
                         {lock, "w3"}, {lock, "w4"}, {lock, "newcomer"}};
    weft_task *w[7];

    weft_lock_acquire(lock);
    for (int i = 0; i < 5; i++)
        w[i] = weft_spawn(worker, &a[i]);
    weft_sleep(1);
    vtime_log("cancel w1 while it waits");
    weft_cancel(w[1]);
    weft_yield();
    weft_task *t = weft_spawn(ticker, (void *)(intptr_t)4);
    vtime_log("release, cancel w0 at once");
    weft_lock_release(lock);
    weft_cancel(w[0]);
    vtime_log("locked %s", yes(weft_lock_locked(lock)));
    w[5] = weft_spawn(worker, &a[5]);
    w[6] = t;
    for (int i = 0; i < 7; i++)
        weft_await(w[i]);
    vtime_log("locked %s", yes(weft_lock_locked(lock)));
    weft_lock_destroy(lock);
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
