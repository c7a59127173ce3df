/* Cancelling tasks in each state, and when each one observes it: not started
 * (its body never runs), ready after a sleep(0), sleeping, woken by its timer
 * but not yet resumed, and already done (weft_cancel returns false).
 * Twin of cancel_states.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

static const char *py_bool(bool b)
{
    return b ? "True" : "False";
}

static void *never_started(void *arg)
{
    (void)arg;
    vtime_log("never_started body runs");
    return NULL;
}

static void *spinner(void *arg)
{
    int n = 0;

    (void)arg;
    while (weft_yield() == 0)
        n++;
    vtime_log("spinner cancelled after %d yields", n);
    return WEFT_ERR(ECANCELED);
}

static void *sleeper(void *arg)
{
    (void)arg;
    if (weft_sleep(10) == ECANCELED) {
        vtime_log("sleeper cancelled");
        return WEFT_ERR(ECANCELED);
    }
    vtime_log("sleeper woke");
    return NULL;
}

static void *timer_fired(void *arg)
{
    (void)arg;
    if (weft_sleep(1) == ECANCELED) {
        vtime_log("timer_fired cancelled although its timer expired");
        return WEFT_ERR(ECANCELED);
    }
    vtime_log("timer_fired woke");
    return NULL;
}

static void *finished(void *arg)
{
    (void)arg;
    vtime_log("finished runs");
    return (void *)(intptr_t)5;
}

static void report(const char *name, weft_task *t)
{
    void *r = weft_await(t);

    if (weft_error(r) == ECANCELED)
        vtime_log("%s ended cancelled: %s", name, py_bool(weft_task_cancelled(t)));
    else
        vtime_log("%s returned %d", name, (int)(intptr_t)r);
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_task *s = weft_spawn(sleeper, NULL);
    weft_task *r = weft_spawn(spinner, NULL);
    weft_task *f = weft_spawn(finished, NULL);
    weft_yield();
    weft_yield();
    weft_yield();
    weft_task *n = weft_spawn(never_started, NULL);
    vtime_log("cancel never_started: %s", py_bool(weft_cancel(n)));
    vtime_log("cancel spinner: %s", py_bool(weft_cancel(r)));
    vtime_log("cancel sleeper: %s", py_bool(weft_cancel(s)));
    vtime_log("cancel finished: %s", py_bool(weft_cancel(f)));
    vtime_log("main waits");
    report("never_started", n);
    report("spinner", r);
    report("sleeper", s);
    report("finished", f);
    weft_task *e = weft_spawn(timer_fired, NULL);
    weft_sleep(1);
    vtime_log("cancel timer_fired: %s", py_bool(weft_cancel(e)));
    report("timer_fired", e);
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
