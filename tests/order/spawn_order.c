/* create_task order, the caller running until its next await, and awaiting a
 * task that is already done (no suspension). Twin of spawn_order.py. */
#include "vtime.h"

static void *worker(void *arg)
{
    const char *name = arg;

    vtime_log("%s start", name);
    weft_yield();
    vtime_log("%s after yield", name);
    return arg;
}

static void *quick(void *arg)
{
    (void)arg;
    vtime_log("quick runs");
    return "quick";
}

static void *bystander(void *arg)
{
    (void)arg;
    vtime_log("bystander start");
    weft_yield();
    vtime_log("bystander after yield");
    return NULL;
}

static void *main_task(void *arg)
{
    (void)arg;
    vtime_log("main start");
    weft_task *a = weft_spawn(worker, "a");
    vtime_log("spawned a");
    weft_task *b = weft_spawn(worker, "b");
    vtime_log("spawned b");
    weft_task *c = weft_spawn(worker, "c");
    vtime_log("main still running");
    weft_yield();
    vtime_log("main after first yield");
    weft_task *q = weft_spawn(quick, NULL);
    weft_yield();
    vtime_log("main after second yield");
    weft_task *by = weft_spawn(bystander, NULL);
    const char *r = weft_await(q); /* already done: no suspension, bystander has not started */
    vtime_log("awaited %s without suspending", r);
    r = weft_await(a);
    vtime_log("awaited %s", r);
    r = weft_await(b);
    vtime_log("awaited %s", r);
    r = weft_await(c);
    vtime_log("awaited %s", r);
    weft_await(by);
    vtime_log("main end");
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
