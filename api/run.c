/*
 * weft_run: read weft_config and the environment into the runtime's
 * options, then build the runtime, run main as its first task, drain the
 * blocking pools, and take everything down (sched/runtime.h says how).
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "api/executor.h"
#include "sched/monitor.h"
#include "sched/runtime.h"
#include "weft.h"

#define DEFAULT_STACK_SIZE (256 * 1024)
#define MIN_STACK_SIZE (16 * 1024)
#define MAX_STACK_SIZE ((size_t)1 << 30)
#define MAX_WORKERS 1024
#define DEFAULT_SHUTDOWN_TIMEOUT 300.0 /* asyncio.run's THREAD_JOIN_TIMEOUT (3.12) */
#define DEFAULT_SLOW_TASK 0.1          /* asyncio's slow_callback_duration */

static bool env_flag(const char *name)
{
    const char *v = getenv(name);
    return v && *v && strcmp(v, "0") != 0;
}

static int parse_workers(unsigned *out)
{
    const char *v = getenv("WEFT_WORKERS");
    if (!v || !*v) {
        long n = sysconf(_SC_NPROCESSORS_ONLN);
        *out = n > 0 ? (unsigned)(n < MAX_WORKERS ? n : MAX_WORKERS) : 1;
        return 0;
    }
    char *end;
    errno = 0;
    long n = strtol(v, &end, 10);
    if (errno || *end || n < 1 || n > MAX_WORKERS)
        return EINVAL;
    *out = (unsigned)n;
    return 0;
}

/* Debug mode's threshold: the field's, else WEFT_SLOW_MS's, else the
 * default; 0 when debug mode is off. */
static int slow_task_threshold(const weft_config *c, double *out)
{
    *out = 0;
    if (isnan(c->slow_task) || c->slow_task < 0)
        return EINVAL;
    if (!c->debug && !env_flag("WEFT_DEBUG"))
        return 0;
    const char *ms = getenv("WEFT_SLOW_MS");
    double env_ms = DEFAULT_SLOW_TASK * 1e3;
    if (!c->slow_task && ms && *ms) {
        char *end;
        env_ms = strtod(ms, &end);
        if (*end || !(env_ms > 0) || isinf(env_ms)) {
            fprintf(stderr, "weft: weft_run: WEFT_SLOW_MS=%s is not a positive number\n", ms);
            return EINVAL;
        }
    }
    *out = c->slow_task ? c->slow_task : env_ms * 1e-3;
    return 0;
}

static int configure(const weft_config *cfg, struct runtime_options *o)
{
    weft_config c = cfg ? *cfg : (weft_config){0};
    if (c.workers > MAX_WORKERS)
        return EINVAL;
    if (!c.workers && parse_workers(&c.workers) != 0)
        return EINVAL;
    if (!c.stack_size)
        c.stack_size = DEFAULT_STACK_SIZE;
    if (c.stack_size > MAX_STACK_SIZE || c.stack_guard > MAX_STACK_SIZE)
        return EINVAL;
    if (c.stack_size < MIN_STACK_SIZE)
        c.stack_size = MIN_STACK_SIZE; /* rounded up, as the header says */
    if (isnan(c.shutdown_timeout) || c.shutdown_timeout < 0)
        return EINVAL;
    *o = (struct runtime_options){
        .workers = c.workers,
        .single = c.workers == 1 && !c.stealing && !env_flag("WEFT_STEALING"),
        .virtual_time = c.virtual_time || env_flag("WEFT_VIRTUAL_TIME"),
        .stack_size = c.stack_size,
        .stack_guard = c.stack_guard,
        .shutdown_timeout = c.shutdown_timeout ? c.shutdown_timeout : DEFAULT_SHUTDOWN_TIMEOUT,
    };
    int err = slow_task_threshold(&c, &o->slow_task);
    if (err)
        return err;
    const char *dump = getenv("WEFT_DUMP_SIGNAL");
    o->dump_signal = monitor_parse_signal(dump);
    if (o->dump_signal < 0) {
        fprintf(stderr, "weft: weft_run: WEFT_DUMP_SIGNAL=%s names no signal\n", dump);
        return EINVAL;
    }
    return 0;
}

void *weft_run(void *(*main)(void *), void *arg, const weft_config *cfg)
{
    if (worker_self())
        return WEFT_ERR(EBUSY);
    if (!main)
        return WEFT_ERR(EINVAL);
    struct runtime_options options;
    int err = configure(cfg, &options);
    if (err)
        return WEFT_ERR(err);
    struct runtime *rt = runtime_create(&options, &err);
    if (!rt)
        return WEFT_ERR(err);
    void *result = WEFT_ERR(err);
    if (!err) {
        if (runtime_start(rt, main, arg) == 0) {
            runtime_run(rt);
            executor_drain_default(rt);
        }
        result = runtime_stop(rt);
    }
    runtime_destroy(rt);
    return result;
}
