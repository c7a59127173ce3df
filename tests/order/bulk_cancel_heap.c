/* Cancelling most of many sleeping tasks. Each cancelled sleep cancels its
 * timer; with more than 100 timers scheduled and more than half of them
 * cancelled, the loop rebuilds the heap from the live timers (heapify) at its
 * next iteration instead of dropping cancelled ones from the top. The wake
 * order of the survivors and of new sleepers, all on equal deadlines, shows
 * the shape of the rebuilt heap. Twin of bulk_cancel_heap.py. */
#include <errno.h>

#include "vtime.h"

#define N 150
#define N_NEWCOMERS 12

static double delay_of(int i)
{
    return i % 3 ? 5.0 : 5.0 + (i % 7);
}

static void *sleeper(void *arg)
{
    const int i = (int)(intptr_t)arg;

    if (weft_sleep(delay_of(i)) == ECANCELED)
        return WEFT_ERR(ECANCELED);
    vtime_log("s%d woke", i);
    return NULL;
}

static void *newcomer(void *arg)
{
    weft_sleep(3);
    vtime_log("n%d woke", (int)(intptr_t)arg);
    return NULL;
}

static void *main_task(void *arg)
{
    static weft_task *tasks[N], *news[N_NEWCOMERS];
    int cancelled = 0;

    (void)arg;
    for (int i = 0; i < N; i++)
        tasks[i] = weft_spawn(sleeper, (void *)(intptr_t)i);
    weft_yield();
    for (int i = 0; i < N; i++) {
        if (i % 5 != 2) {
            weft_cancel(tasks[i]);
            cancelled++;
        }
    }
    vtime_log("cancelled %d of %d", cancelled, N);
    weft_yield();
    weft_yield();
    vtime_log("cancellations processed");
    for (int i = 0; i < N_NEWCOMERS; i++)
        news[i] = weft_spawn(newcomer, (void *)(intptr_t)i);
    weft_sleep(2);
    vtime_log("main sleeps until everyone woke");
    for (int i = 0; i < N_NEWCOMERS; i++)
        weft_await(news[i]);
    int n = 0;
    for (int i = 0; i < N; i++)
        if (weft_error(weft_await(tasks[i])) == ECANCELED)
            n++;
    vtime_log("%d ended cancelled", n);
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
