/* asyncio.timeout's expiry interleaved with other tasks: a timer expiring at
 * the same time as sleepers', a deadline of zero (call_soon, ahead of a task
 * created right after it), a rescheduled deadline, and nested scopes where
 * the inner and then the outer one expires. Twin of timeout_interleave.py. */
#include <errno.h>

#include "vtime.h"

struct sleeper {
    const char *name;
    double delay;
};

static void *other(void *arg)
{
    const struct sleeper *s = arg;

    weft_sleep(s->delay);
    vtime_log("%s woke", s->name);
    return NULL;
}

static void *spawned(void *arg)
{
    vtime_log("%s runs", (const char *)arg);
    weft_yield();
    vtime_log("%s runs again", (const char *)arg);
    return NULL;
}

static void expire_with_others(void)
{
    static struct sleeper before = {"before", 0.5}, same = {"same", 1}, after = {"after", 1};

    weft_task_release(weft_spawn(other, &before));
    weft_task_release(weft_spawn(other, &same));
    weft_timeout *tm = weft_timeout_enter(1);
    weft_task_release(weft_spawn(other, &after));
    if (weft_sleep(5) == 0)
        vtime_log("not reached");
    bool expired = weft_timeout_expired(tm);
    if (weft_timeout_exit(tm) == ETIMEDOUT)
        vtime_log("timed out, expired: %s", expired ? "True" : "False");
    if (weft_yield() == 0)
        vtime_log("sleep after the scope works");
}

static void zero_deadline(void)
{
    weft_timeout *tm = weft_timeout_enter(0);

    weft_task_release(weft_spawn(spawned, "x"));
    vtime_log("in the zero scope");
    weft_sleep(1);
    if (weft_timeout_exit(tm) == ETIMEDOUT)
        vtime_log("zero scope timed out");
}

static void rescheduled(void)
{
    static struct sleeper ticker = {"ticker", 1.5};

    weft_task_release(weft_spawn(other, &ticker));
    weft_timeout *tm = weft_timeout_enter(1);
    weft_timeout_reschedule(tm, 2);
    if (weft_sleep(1.5) == 0) {
        vtime_log("slept past the first deadline");
        weft_timeout_reschedule(tm, WEFT_FOREVER);
        if (weft_sleep(1) == 0) {
            vtime_log("no deadline");
            weft_timeout_reschedule(tm, 0.25);
            weft_sleep(1);
        }
    }
    if (weft_timeout_exit(tm) == ETIMEDOUT)
        vtime_log("rescheduled scope timed out");
}

static void nested(double inner_delay, double outer_delay)
{
    weft_timeout *outer = weft_timeout_enter(outer_delay);
    weft_timeout *inner = weft_timeout_enter(inner_delay);

    weft_sleep(10);
    if (weft_timeout_exit(inner) == ETIMEDOUT)
        vtime_log("inner timed out");
    weft_sleep(10);
    if (weft_timeout_exit(outer) == ETIMEDOUT)
        vtime_log("outer timed out");
}

static void *main_task(void *arg)
{
    (void)arg;
    expire_with_others();
    zero_deadline();
    rescheduled();
    nested(1, 2);
    nested(3, 2);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
