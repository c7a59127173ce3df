/*
 * Debug mode's slow-task report, at 1 and 2 workers on the real clock:
 * - a task that computes without an await point is reported while it still
 *   runs: it spins until the report is there (bounded, so that a missing
 *   report fails instead of hanging), and the report names it, its worker,
 *   and the function it spins in (a backtrace taken on its worker);
 * - a task that yields every millisecond for as long is never reported;
 * - the settings: WEFT_DEBUG and WEFT_SLOW_MS, and bad values of both the
 *   field and the variable.
 */
#include <string.h>
#include <time.h>

#include "../harness.h"

#define REPORT_BOUND 60.0 /* seconds: only so that a missing report fails */
#define THRESHOLD 0.1

static const struct mode modes[] = {{1, false}, {2, false}};

static double monotonic(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static bool reported(const char *name)
{
    char *text = stderr_captured();
    char key[96];
    snprintf(key, sizeof key, "weft: slow task: task ");
    bool seen = false;
    for (const char *p = text; p && (p = strstr(p, key)); p++) {
        const char *eol = strchr(p, '\n');
        const char *hit = strstr(p, name);
        if (hit && (!eol || hit < eol))
            seen = true;
    }
    free(text);
    return seen;
}

static volatile unsigned long sink;

__attribute__((noinline)) static void *spin_until_reported(void *arg)
{
    (void)arg;
    double end = monotonic() + REPORT_BOUND;
    bool seen = false;
    while (!seen && monotonic() < end) {
        for (int i = 0; i < 100000; i++)
            sink += (unsigned long)i;
        seen = reported("(spinner)");
    }
    return seen ? (void *)1 : NULL;
}

/* Main: run arg's function as a task named after it, which must return 1. */
struct named {
    void *(*fn)(void *);
    const char *name;
};

static void *named_main(void *arg)
{
    const struct named *n = arg;
    weft_task *t = weft_spawn(n->fn, NULL);
    check(weft_task_set_name(t, n->name) == 0);
    check(weft_await(t) == (void *)1);
    weft_task_release(t);
    return (void *)1;
}

/* Run n in debug mode at the current mode; what weft printed meanwhile. */
static char *run_debug(const struct named *n, const weft_config *base)
{
    weft_config cfg = base ? *base : mode_config();
    if (!base) {
        cfg.debug = true;
        cfg.slow_task = THRESHOLD;
    }
    stderr_capture_begin();
    checks_reset();
    void *r = weft_run(named_main, (void *)n, &cfg);
    char *text = stderr_capture_end();
    checks_report();
    expect(r == (void *)1);
    return text;
}

static const struct named spinner = {spin_until_reported, "spinner"};

static void test_spinning_task_is_reported_while_it_spins(void **state)
{
    (void)state;
    FOR_EACH_MODE(modes) {
        char *text = run_debug(&spinner, NULL);
        expect(text && strstr(text, "(spinner) has run for "));
        expect(strstr(text, " without reaching an await point (threshold 0.100 s)"));
        expect(strstr(text, "spin_until_reported"));
        free(text);
    }
}

__attribute__((noinline)) static void *yield_every_millisecond(void *arg)
{
    (void)arg;
    double end = monotonic() + 3 * THRESHOLD;
    while (monotonic() < end) {
        double step = monotonic() + 0.001;
        while (monotonic() < step)
            sink++;
        check(weft_yield() == 0);
    }
    return (void *)1;
}

static const struct named yielder = {yield_every_millisecond, "yielder"};

static void test_yielding_task_is_not_reported(void **state)
{
    (void)state;
    FOR_EACH_MODE(modes) {
        char *text = run_debug(&yielder, NULL);
        expect(text && !strstr(text, "slow task"));
        free(text);
    }
}

/* ---- settings ---- */

static void test_settings(void **state)
{
    (void)state;
    mode = modes[0];
    weft_config cfg = mode_config();
    cfg.slow_task = -1;
    assert_int_equal(weft_error(weft_run(return_arg, (void *)1, &cfg)), EINVAL);
    cfg.slow_task = NAN;
    assert_int_equal(weft_error(weft_run(return_arg, (void *)1, &cfg)), EINVAL);

    /* WEFT_DEBUG turns it on, WEFT_SLOW_MS sets the threshold. */
    setenv("WEFT_DEBUG", "1", 1);
    setenv("WEFT_SLOW_MS", "100", 1);
    cfg = mode_config();
    char *text = run_debug(&spinner, &cfg);
    assert_non_null(text && strstr(text, "(threshold 0.100 s)"));
    free(text);

    static const char *const bad[] = {"0", "-5", "abc", "inf"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        setenv("WEFT_SLOW_MS", bad[i], 1);
        stderr_capture_begin();
        void *r = weft_run(return_arg, (void *)1, &cfg);
        text = stderr_capture_end();
        assert_int_equal(weft_error(r), EINVAL);
        assert_non_null(text && strstr(text, "WEFT_SLOW_MS"));
        free(text);
    }
    unsetenv("WEFT_SLOW_MS");
    unsetenv("WEFT_DEBUG");

    /* WEFT_DUMP_SIGNAL must name a signal. */
    setenv("WEFT_DUMP_SIGNAL", "NOSUCH", 1);
    stderr_capture_begin();
    void *r = weft_run(return_arg, (void *)1, &cfg);
    text = stderr_capture_end();
    assert_int_equal(weft_error(r), EINVAL);
    assert_non_null(text && strstr(text, "WEFT_DUMP_SIGNAL=NOSUCH"));
    free(text);
    setenv("WEFT_DUMP_SIGNAL", "USR2", 1);
    assert_ptr_equal(weft_run(return_arg, (void *)1, &cfg), (void *)1);
    setenv("WEFT_DUMP_SIGNAL", "SIGUSR2", 1);
    assert_ptr_equal(weft_run(return_arg, (void *)1, &cfg), (void *)1);
    unsetenv("WEFT_DUMP_SIGNAL");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_spinning_task_is_reported_while_it_spins),
        cmocka_unit_test(test_yielding_task_is_not_reported),
        cmocka_unit_test(test_settings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
