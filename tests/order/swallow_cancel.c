/* A task may catch the cancellation, keep awaiting (the request was consumed),
 * be cancelled again later, and end with a value instead of cancelled.
 * Two weft_cancel calls before the task resumes deliver one ECANCELED; a
 * task that cancels itself sees it at its next await point.
 * Twin of swallow_cancel.py. */
#include <errno.h>
#include <stdint.h>

#include "vtime.h"

static const char *py_bool(bool b)
{
    return b ? "True" : "False";
}

static void *helper(void *arg)
{
    (void)arg;
    weft_sleep(0.25);
    vtime_log("helper done");
    return (void *)(intptr_t)3;
}

static void *stubborn(void *arg)
{
    intptr_t caught = 0;

    (void)arg;
    for (int round = 0; round < 3; round++) {
        if (weft_sleep(5) == 0) {
            vtime_log("stubborn slept in round %d", round);
            continue;
        }
        caught++;
        vtime_log("stubborn caught cancellation %d", (int)caught);
        void *r = weft_await(weft_spawn(helper, NULL));
        vtime_log("stubborn awaited helper: %d", (int)(intptr_t)r);
    }
    return (void *)caught;
}

static void *twice(void *arg)
{
    (void)arg;
    if (weft_sleep(5) == ECANCELED)
        vtime_log("twice caught one cancellation");
    if (weft_sleep(1) == ECANCELED)
        return WEFT_ERR(ECANCELED);
    vtime_log("twice slept again undisturbed");
    return "twice ok";
}

static void *self_cancel(void *arg)
{
    (void)arg;
    vtime_log("self_cancel cancels itself: %s", py_bool(weft_cancel(weft_task_current())));
    vtime_log("self_cancel keeps running until its next await");
    if (weft_yield() == ECANCELED) {
        vtime_log("self_cancel sees it at the await");
        return WEFT_ERR(ECANCELED);
    }
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    weft_task *s = weft_spawn(stubborn, NULL);
    weft_task *t = weft_spawn(twice, NULL);
    weft_task *c = weft_spawn(self_cancel, NULL);
    weft_sleep(1);
    vtime_log("first cancel of stubborn: %s", py_bool(weft_cancel(s)));
    vtime_log("cancel twice once: %s", py_bool(weft_cancel(t)));
    vtime_log("cancel twice again: %s", py_bool(weft_cancel(t)));
    weft_sleep(1);
    vtime_log("second cancel of stubborn: %s", py_bool(weft_cancel(s)));
    void *r = weft_await(s);
    vtime_log("stubborn returned %d, cancelled: %s", (int)(intptr_t)r,
              py_bool(weft_task_cancelled(s)));
    const char *text = weft_await(t);
    vtime_log("twice returned %s, cancelled: %s", text, py_bool(weft_task_cancelled(t)));
    if (weft_error(weft_await(c)) == ECANCELED)
        vtime_log("self_cancel ended cancelled: %s", py_bool(weft_task_cancelled(c)));
    vtime_log("main done");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
