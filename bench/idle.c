/*
 * idle: 100,000 tasks wait on one event; main sets it and awaits them all.
 * rss_bytes_per_task = (VmHWM after - VmRSS before) / tasks; wall time.
 */
#include "bench.h"

static long status_kb(const char *field)
{
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kb = 0;
    size_t len = strlen(field);
    while (f && fgets(line, sizeof line, f))
        if (strncmp(line, field, len) == 0 && line[len] == ':')
            kb = atol(line + len + 1);
    if (f)
        fclose(f);
    return kb;
}

static long waiting; /* atomic: tasks that reached their wait */

static void *waiter(void *arg)
{
    __atomic_add_fetch(&waiting, 1, __ATOMIC_RELAXED);
    return weft_event_wait(arg) == 0 ? NULL : WEFT_ERR(1);
}

struct job {
    long n;
    double seconds;
    long rss_before_kb;
};

static void *run(void *arg)
{
    struct job *j = arg;
    weft_event *release = weft_event_create();
    weft_task **tasks = malloc((size_t)j->n * sizeof *tasks);
    if (!release || !tasks)
        return WEFT_ERR(1);
    j->rss_before_kb = status_kb("VmRSS");
    double t0 = bench_seconds();
    for (long i = 0; i < j->n; i++)
        tasks[i] = weft_spawn(waiter, release);
    while (__atomic_load_n(&waiting, __ATOMIC_RELAXED) < j->n)
        weft_yield(); /* until every task is blocked at once */
    weft_event_set(release);
    for (long i = 0; i < j->n; i++) {
        if (weft_error(weft_await(tasks[i])))
            return WEFT_ERR(1);
        weft_task_release(tasks[i]);
    }
    j->seconds = bench_seconds() - t0;
    weft_event_destroy(release);
    free(tasks);
    return NULL;
}

int main(int argc, char **argv)
{
    struct bench b = bench_args("idle", argc, argv);
    struct job j = {.n = b.quick ? 10000 : 100000};
    bench_run(&b, run, &j);
    long hwm = status_kb("VmHWM");
    bench_emit(&b, "weft", "rss_bytes_per_task", (double)(hwm - j.rss_before_kb) * 1024 / (double)j.n, "B");
    bench_emit(&b, "weft", "wall_ms", j.seconds * 1e3, "ms");
    return 0;
}
