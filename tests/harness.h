/*
 * The harness the cmocka programs under tests/sched and tests/api share, so
 * that each piece of it exists once.
 *
 * A scenario runs as weft's main task, where cmocka's asserts (a longjmp out
 * of a fiber) must not be used. Inside tasks, check() records a failure
 * instead; run_in_mode() runs the scenario with weft_run in the current
 * mode and fails the test afterwards, naming the mode and the first failed
 * check. run_scenario() adds that main must return (void *)1, which
 * scenarios do when they reach their end. expect() is the assert for use
 * after weft_run, naming the mode too.
 *
 * A mode is a worker count and a clock. FOR_EACH_MODE(modes) runs the
 * statement after it once per mode of all_modes, virtual_modes (1, 2 and 4
 * workers under virtual time, where weft_now() is exact and settle() returns
 * only once every other task is blocked) or real_modes (the same on the real
 * clock).
 *
 * Also here: the atomic counters that tasks on different workers share
 * (bump, load, yield_until), small task bodies several programs use,
 * stress_scale() and stress_count() (WEFT_STRESS_SCALE shrinks loop counts
 * under valgrind; ThreadSanitizer bounds the fibers alive at once), and
 * UNDER_TSAN, UNDER_SANITIZER and RUNNING_ON_VALGRIND for the tests that
 * must skip or shrink under instrumentation.
 *
 * Everything is static: each program is one translation unit.
 */
#ifndef TESTS_HARNESS_H
#define TESTS_HARNESS_H

/* cmocka.h needs these before it. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cmocka.h>

#include "weft.h"

/* ---- instrumentation ---- */

#if defined(__SANITIZE_THREAD__)
#define UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define UNDER_TSAN 1
#endif
#endif
#ifndef UNDER_TSAN
#define UNDER_TSAN 0
#endif

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif
#ifndef UNDER_ASAN
#define UNDER_ASAN 0
#endif

#define UNDER_SANITIZER (UNDER_ASAN || UNDER_TSAN)

#if defined(__has_include)
#if __has_include(<valgrind/valgrind.h>)
#include <valgrind/valgrind.h>
#endif
#endif
#ifndef RUNNING_ON_VALGRIND
#define RUNNING_ON_VALGRIND 0
#endif

/* For the tests whose limits or signals the instrumentation takes over. */
static inline void skip_if_instrumented(void)
{
    if (UNDER_SANITIZER || RUNNING_ON_VALGRIND)
        skip();
}

/* WEFT_STRESS_SCALE, a factor for loop counts: 1 when unset or not > 0. */
static inline double stress_scale(void)
{
    const char *s = getenv("WEFT_STRESS_SCALE");
    char *end;
    double scale = s ? strtod(s, &end) : 1.0;

    if (!s || end == s || !(scale > 0))
        scale = 1.0;
    return scale;
}

/* n times WEFT_STRESS_SCALE, but at most tsan_most under ThreadSanitizer,
 * which counts every fiber as a thread and dies beyond 8128 of them alive. */
static inline int stress_count(double n, int tsan_most)
{
    const int count = (int)(n * stress_scale());

    return UNDER_TSAN && count > tsan_most ? tsan_most : count;
}

/* ---- modes ---- */

struct mode {
    unsigned workers;
    bool virtual_time;
};

static const struct mode all_modes[] = {
    {1, true}, {2, true}, {4, true}, {1, false}, {2, false}, {4, false},
};
static const struct mode virtual_modes[] = {{1, true}, {2, true}, {4, true}};
static const struct mode real_modes[] = {{1, false}, {2, false}, {4, false}};

static struct mode mode; /* the mode of the scenario being run */

#define FOR_EACH_MODE(modes)                                                                       \
    for (size_t mode_i = 0;                                                                        \
         mode_i < sizeof(modes) / sizeof(modes[0]) && (mode = modes[mode_i], 1); mode_i++)

/* The start of every failure message: "[workers=2, virtual time]". */
#define MODE_FMT "[workers=%u%s]"
#define MODE_ARGS mode.workers, mode.virtual_time ? ", virtual time" : ""

static inline weft_config mode_config(void)
{
    return (weft_config){.workers = mode.workers, .virtual_time = mode.virtual_time};
}

/* ---- checks ---- */

static int check_failures; /* atomic: tasks on every worker add to it */
static char check_first[256];

static inline void check_failed(const char *what, int line)
{
    if (__atomic_fetch_add(&check_failures, 1, __ATOMIC_RELAXED) == 0)
        snprintf(check_first, sizeof check_first, "line %d: %s", line, what);
}

/* In a task: record a failure instead of asserting. */
#define check(cond) ((cond) ? (void)0 : check_failed(#cond, __LINE__))

/* After weft_run: assert, naming the mode. */
#define expect(cond)                                                                               \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail_msg(MODE_FMT " line %d: %s", MODE_ARGS, __LINE__, #cond);                         \
    } while (0)

/* Before a weft_run whose checks checks_report() will judge. */
static inline void checks_reset(void)
{
    check_failures = 0;
}

/* After that weft_run: fail the test if a check failed in a task. */
static inline void checks_report(void)
{
    if (check_failures)
        fail_msg(MODE_FMT " %d failed checks in tasks, the first at %s", MODE_ARGS, check_failures,
                 check_first);
}

/* Run main_fn in the current mode and return its result; fail the test if a
 * check failed. */
static inline void *run_in_mode(void *(*main_fn)(void *), void *arg)
{
    const weft_config cfg = mode_config();

    checks_reset();
    void *result = weft_run(main_fn, arg, &cfg);
    checks_report();
    return result;
}

/* run_in_mode for a scenario whose main returns (void *)1 at its end. */
static inline void run_scenario(void *(*main_fn)(void *), void *arg)
{
    void *result = run_in_mode(main_fn, arg);

    if (result != (void *)1)
        fail_msg(MODE_FMT " main returned %p", MODE_ARGS, result);
}

/* ---- in tasks ---- */

static inline int load(const int *p)
{
    return __atomic_load_n(p, __ATOMIC_ACQUIRE);
}

static inline void bump(int *p)
{
    __atomic_fetch_add(p, 1, __ATOMIC_ACQ_REL);
}

/* Yield until *p reaches n: a wait on other tasks that needs no timer. */
static inline void yield_until(const int *p, int n)
{
    while (load(p) < n)
        check(weft_yield() == 0);
}

/* Under virtual time: return once every other task is blocked (the clock
 * moves only then), so that waiters are known to wait, in a known order. */
static inline void settle(void)
{
    check(mode.virtual_time);
    check(weft_sleep(1) == 0);
}

/* Under virtual time: whether the clock reads t. */
static inline bool at(double t)
{
    return fabs(weft_now() - t) < 1e-9;
}

static inline void finish(weft_task *t)
{
    weft_await(t);
    weft_task_release(t);
}

static inline void *return_arg(void *arg)
{
    return arg;
}

static inline void *sleep_until_cancelled(void *arg)
{
    (void)arg;
    return weft_sleep(1e9) == ECANCELED ? WEFT_ERR(ECANCELED) : NULL;
}

/* ---- what weft prints ---- */

/* Send this process's stderr to a temporary file until stderr_capture_end,
 * which returns what was written meanwhile (malloc'ed, NUL-terminated; NULL
 * if nothing could be captured). Also readable while capturing, with
 * stderr_captured (a report weft prints from another thread). */
static FILE *capture_file;
static int capture_saved = -1;

static inline void stderr_capture_begin(void)
{
    fflush(stderr);
    capture_file = tmpfile();
    capture_saved = capture_file ? dup(2) : -1;
    if (capture_saved >= 0)
        dup2(fileno(capture_file), 2);
}

static inline char *stderr_captured(void)
{
    if (!capture_file)
        return NULL;
    int fd = fileno(capture_file);
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = len >= 0 ? malloc((size_t)len + 1) : NULL;
    if (!text)
        return NULL;
    ssize_t got = pread(fd, text, (size_t)len, 0);
    text[got > 0 ? got : 0] = '\0';
    return text;
}

static inline char *stderr_capture_end(void)
{
    fflush(stderr);
    char *text = stderr_captured();
    if (capture_saved >= 0) {
        dup2(capture_saved, 2);
        close(capture_saved);
        capture_saved = -1;
    }
    if (capture_file)
        fclose(capture_file);
    capture_file = NULL;
    return text;
}

#endif
