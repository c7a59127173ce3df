/*
 * "Task exception was never retrieved": a failed task whose result nobody
 * retrieved (weft_await, weft_task_result) prints the warning, with its
 * error, to stderr when its last reference goes: released by its owner, or
 * freed by weft_run at exit. No warning when the result was retrieved, when
 * the task was cancelled, when it returned a value, or for main, whose
 * result weft_run returns.
 *
 * stderr is captured around each weft_run by pointing fd 2 at a temporary
 * file. Scenarios run as tasks, where cmocka's asserts (a longjmp) must not
 * be used: they record what went wrong with check(), and the test fails
 * after weft_run, naming the mode, if any check did. Every scenario runs
 * single-threaded and with 2 and 4 workers, with virtual time and on the
 * real clock.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../harness.h"

#define WARNING "Task exception was never retrieved"

struct capture {
    FILE *file;
    int saved_fd;
};

static void capture_begin(struct capture *c)
{
    fflush(stderr);
    c->file = tmpfile();
    assert_non_null(c->file);
    c->saved_fd = dup(STDERR_FILENO);
    assert_true(c->saved_fd >= 0);
    assert_true(dup2(fileno(c->file), STDERR_FILENO) >= 0);
}

/* Restore stderr; return what was written to it (malloc'ed, NUL-ended). */
static char *capture_end(struct capture *c)
{
    fflush(stderr);
    assert_true(dup2(c->saved_fd, STDERR_FILENO) >= 0);
    close(c->saved_fd);
    long size = ftell(c->file);
    if (size < 0)
        size = 0;
    char *text = calloc(1, (size_t)size + 1);
    assert_non_null(text);
    rewind(c->file);
    size_t got = fread(text, 1, (size_t)size, c->file);
    text[got] = 0;
    fclose(c->file);
    return text;
}

static int count(const char *haystack, const char *needle)
{
    int n = 0;

    for (const char *p = haystack; (p = strstr(p, needle)); p += strlen(needle))
        n++;
    return n;
}

/* Run scenario in the current mode with stderr captured; return its text.
 * Nothing may fail while stderr is captured. */
static char *run_captured(void *(*scenario)(void *), void *arg, void *expected)
{
    const weft_config cfg = mode_config();
    struct capture c;

    checks_reset();
    capture_begin(&c);
    void *r = weft_run(scenario, arg, &cfg);
    char *text = capture_end(&c);
    checks_report();
    expect(r == expected);
    return text;
}

#define expect_warnings(text, n)                                                                   \
    do {                                                                                           \
        if (count(text, WARNING) != (n))                                                           \
            fail_msg(MODE_FMT " line %d: expected %d warnings, stderr was:\n%s", MODE_ARGS,        \
                     __LINE__, (n), text);                                                         \
    } while (0)

static void *fail_with_message(void *arg)
{
    check(weft_yield() == 0);
    return weft_fail(EIO, "disk %s on fire", (const char *)arg);
}

static void *fail_plain(void *arg)
{
    (void)arg;
    return WEFT_ERR(ENOENT);
}

/* Wait for a task without retrieving its result. */
static void wait_done(weft_task *t)
{
    while (!weft_task_done(t))
        check(weft_sleep(0.001) == 0);
}

/* ---- released without retrieving: the warning, with the error ---- */

static void *release_unretrieved(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn(fail_with_message, "sda");
    wait_done(t);
    weft_task_release(t);
    t = weft_spawn(fail_plain, NULL);
    weft_task_release(t); /* released before it ran: the warning comes when it ends */
    check(weft_sleep(0.01) == 0);
    return (void *)1;
}

static void test_warning_when_released_unretrieved(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        char *text = run_captured(release_unretrieved, NULL, (void *)1);
        expect_warnings(text, 2);
        if (!strstr(text, "disk sda on fire"))
            fail_msg("the warning should show the task's message; stderr was:\n%s", text);
        free(text);
    }
}

/* ---- never released: weft_run frees it, and warns ---- */

static void *drop_unretrieved(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn(fail_with_message, "sdb");
    wait_done(t);
    return (void *)1; /* the handle is never released */
}

static void test_warning_at_exit(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        char *text = run_captured(drop_unretrieved, NULL, (void *)1);
        expect_warnings(text, 1);
        if (!strstr(text, "disk sdb on fire"))
            fail_msg("the warning should show the task's message; stderr was:\n%s", text);
        free(text);
    }
}

/* ---- no warning ---- */

static void *awaiter(void *arg)
{
    return weft_await(arg);
}

static void *retrieve_every_way(void *arg)
{
    (void)arg;
    /* awaited by main */
    weft_task *t = weft_spawn(fail_with_message, "sdc");
    check(weft_error(weft_await(t)) == EIO);
    weft_task_release(t);

    /* result read without awaiting */
    t = weft_spawn(fail_plain, NULL);
    wait_done(t);
    check(weft_error(weft_task_result(t)) == ENOENT);
    weft_task_release(t);

    /* awaited by another task (whose own failure main retrieves) */
    t = weft_spawn(fail_plain, NULL);
    weft_task *a = weft_spawn(awaiter, t);
    check(weft_error(weft_await(a)) == ENOENT);
    weft_task_release(a);
    weft_task_release(t);

    /* cancelled */
    t = weft_spawn(sleep_until_cancelled, NULL);
    check(weft_yield() == 0);
    check(weft_cancel(t));
    wait_done(t);
    weft_task_release(t);

    /* cancelled and never released */
    t = weft_spawn(sleep_until_cancelled, NULL);
    check(weft_cancel(t));
    wait_done(t);

    /* a value */
    weft_task_release(weft_spawn(return_arg, (void *)3));

    /* a leftover, cancelled at exit */
    weft_task_release(weft_spawn(sleep_until_cancelled, NULL));
    check(weft_sleep(0.01) == 0);

    /* main's own error goes to weft_run's caller */
    return weft_fail(EPIPE, "main's failure is weft_run's result");
}

static void test_no_warning_when_retrieved_or_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        char *text = run_captured(retrieve_every_way, NULL, WEFT_ERR(EPIPE));
        expect_warnings(text, 0);
        free(text);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_warning_when_released_unretrieved),
        cmocka_unit_test(test_warning_at_exit),
        cmocka_unit_test(test_no_warning_when_retrieved_or_cancelled),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
