/* weft_sem with two permits and cancellations: waiters are served in order;
 * one cancelled while waiting leaves no trace; a permit released to a waiter
 * that is cancelled before it runs goes to the next one; a newcomer does not
 * take a permit that is on its way to a waiter.
 * Twin of sync_semaphore_cancel.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

struct actor {
    weft_sem *sem;
    const char *name;
    double hold;
};

static const char *yes(bool b)
{
    return b ? "True" : "False";
}

static void *worker(void *arg)
{
    struct actor *a = arg;

    vtime_log("%s wants a permit, locked %s", a->name, yes(weft_sem_locked(a->sem)));
    if (weft_sem_acquire(a->sem) == ECANCELED) {
        vtime_log("%s cancelled, locked %s", a->name, yes(weft_sem_locked(a->sem)));
        return WEFT_ERR(ECANCELED);
    }
    vtime_log("%s has a permit", a->name);
    weft_sleep(a->hold);
    vtime_log("%s releases", a->name);
    weft_sem_release(a->sem);
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_sem *sem = weft_sem_create(2);
    static const char *names[7] = {"w0", "w1", "w2", "w3", "w4", "w5", "w6"};
    struct actor a[8];
    weft_task *w[8];

    for (int i = 0; i < 7; i++) {
        a[i] = (struct actor){sem, names[i], 1 + i * 0.25};
        w[i] = weft_spawn(worker, &a[i]);
    }
    weft_sleep(0.5);
    vtime_log("cancel w3 while it waits");
    weft_cancel(w[3]);
    weft_sleep(0.5);
    vtime_log("cancel w2, just handed a permit, locked %s", yes(weft_sem_locked(sem)));
    weft_cancel(w[2]);
    a[7] = (struct actor){sem, "newcomer", 0.1};
    w[7] = weft_spawn(worker, &a[7]);
    for (int i = 0; i < 8; i++)
        weft_await(w[i]);
    vtime_log("locked %s", yes(weft_sem_locked(sem)));
    weft_sem_destroy(sem);
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
