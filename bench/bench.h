/*
 * What every benchmark program shares: its command line (WORKERS [--quick]),
 * a clock, and the JSON line it prints, the format bench/run and the peers share:
 *   {"bench":"skynet","impl":"weft","workers":2,"metric":"ns_per_task","value":41.7,"unit":"ns"}
 * Each program checks its own answer and exits 1 if it is wrong.
 */
#ifndef BENCH_H
#define BENCH_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "weft.h"

struct bench {
    const char *name;
    const char *impl; /* "weft": the work-stealing scheduler, even on one worker;
                         "weft-st": single-thread mode (asyncio's order), with --st */
    unsigned workers;
    bool quick;       /* counts divided by 10, as the peers' --quick */
};

static inline struct bench bench_args(const char *name, int argc, char **argv)
{
    struct bench b = {.name = name, .impl = "weft", .workers = 1};
    if (argc < 2 || atoi(argv[1]) < 1) {
        fprintf(stderr, "usage: %s WORKERS [--quick] [--st]\n", name);
        exit(2);
    }
    b.workers = (unsigned)atoi(argv[1]);
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--quick") == 0)
            b.quick = true;
        else if (strcmp(argv[i], "--st") == 0 && b.workers == 1)
            b.impl = "weft-st";
    }
    return b;
}

static inline double bench_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline double bench_cpu_ms(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 +
           (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
}

static inline void bench_emit(const struct bench *b, const char *impl, const char *metric,
                              double value, const char *unit)
{
    if (strcmp(impl, "weft") == 0)
        impl = b->impl;
    printf("{\"bench\":\"%s\",\"impl\":\"%s\",\"workers\":%u,\"metric\":\"%s\",\"value\":%.4g,"
           "\"unit\":\"%s\"}\n",
           b->name, impl, b->workers, metric, value, unit);
    fflush(stdout);
}

static inline void *bench_run(const struct bench *b, void *(*main_task)(void *), void *arg)
{
    const weft_config cfg = {.workers = b->workers, .stealing = strcmp(b->impl, "weft") == 0};
    void *r = weft_run(main_task, arg, &cfg);
    if (weft_error(r)) {
        fprintf(stderr, "%s: weft_run failed: error %d\n", b->name, weft_error(r));
        exit(1);
    }
    return r;
}

static inline void bench_fail(const struct bench *b, const char *what)
{
    fprintf(stderr, "%s: %s\n", b->name, what);
    exit(1);
}

#endif /* BENCH_H */
