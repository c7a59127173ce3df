/*
 * weft_with and weft_with_gen (`async with`): the order of enter, body and
 * exit and the value passed through; enter failing (nothing else runs); the
 * body failing (exit runs with its code, may await, and the code comes
 * back); exit failing (its code wins); the task cancelled in enter, in the
 * body (exit runs with ECANCELED and its awaits work) and in exit; and for
 * the generator form: the body's error thrown in at the yield (re-raised,
 * swallowed, or replaced), a generator that does not yield, one that
 * yields twice, one that fails before yielding, cancellation during the
 * body; bad input.
 *
 * Scenarios run as tasks, where cmocka's asserts must not be used: check()
 * records a failure and the test fails after weft_run, naming the mode.
 * Every scenario runs at 1, 2 and 4 workers under virtual time, where
 * weft_now() is exact.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"

#define ITEM(i) ((void *)(intptr_t)(i))
#define NUM(p) ((int)(intptr_t)(p))

static bool near(double a, double b)
{
    return a - b < 1e-9 && b - a < 1e-9;
}

/* A resource whose steps each sleep one second and log a letter. */
struct scenario {
    char log[32];
    int enter_fails, body_fails, exit_fails; /* codes to raise */
    int exit_status;                         /* what exit was given */
    int exit_sleep;                          /* what exit's await returned */
    int resource;
};

static void note(struct scenario *s, char c)
{
    size_t n = strlen(s->log);
    if (n + 1 < sizeof s->log)
        s->log[n] = c;
}

static void *enter(void *ctx)
{
    struct scenario *s = ctx;
    note(s, 'e');
    int rc = weft_sleep(1);
    if (rc)
        return WEFT_ERR(rc);
    return s->enter_fails ? WEFT_ERR(s->enter_fails) : &s->resource;
}

static void *body(void *ctx, void *resource)
{
    struct scenario *s = ctx;
    check(resource == &s->resource);
    note(s, 'b');
    int rc = weft_sleep(1);
    if (rc)
        return WEFT_ERR(rc);
    return s->body_fails ? WEFT_ERR(s->body_fails) : ITEM(7);
}

static int leave(void *ctx, void *resource, int status)
{
    struct scenario *s = ctx;
    check(resource == &s->resource);
    note(s, 'x');
    s->exit_status = status;
    s->exit_sleep = weft_sleep(1);
    return s->exit_fails ? s->exit_fails : s->exit_sleep;
}

static int with(struct scenario *s, void **result)
{
    return weft_with(enter, body, leave, s, result);
}

/* ---- outcomes ---- */

static void *outcomes(void *arg)
{
    (void)arg;
    void *r = NULL;
    struct scenario ok = {0};
    double t0 = weft_now();
    check(with(&ok, &r) == 0);
    check(NUM(r) == 7 && strcmp(ok.log, "ebx") == 0 && ok.exit_status == 0);
    check(near(weft_now() - t0, 3));
    check(with(&ok, NULL) == 0); /* result may be NULL */

    struct scenario enter_fails = {.enter_fails = EACCES};
    r = ITEM(99);
    check(with(&enter_fails, &r) == EACCES);
    check(strcmp(enter_fails.log, "e") == 0 && NUM(r) == 99);

    struct scenario body_fails = {.body_fails = EIO};
    check(with(&body_fails, &r) == EIO);
    check(strcmp(body_fails.log, "ebx") == 0);
    check(body_fails.exit_status == EIO && body_fails.exit_sleep == 0);

    struct scenario exit_fails = {.exit_fails = EPIPE};
    check(with(&exit_fails, &r) == EPIPE);
    struct scenario both_fail = {.body_fails = EIO, .exit_fails = EPIPE};
    check(with(&both_fail, &r) == EPIPE); /* raised in __aexit__: replaces the body's */
    check(both_fail.exit_status == EIO);
    return (void *)1;
}

static void test_outcomes(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(outcomes, NULL);
}

/* ---- cancelled in each step ---- */

struct cancelled {
    struct scenario s;
    int rc;
};

static void *with_task(void *arg)
{
    struct cancelled *c = arg;
    c->rc = with(&c->s, NULL);
    return c->rc ? WEFT_ERR(c->rc) : NULL;
}

static void *cancel_in_each_step(void *arg)
{
    (void)arg;
    static const char *const logs[] = {"e", "ebx", "ebx"};
    for (int step = 0; step < 3; step++) {
        struct cancelled c = {0};
        weft_task *t = weft_spawn(with_task, &c);
        double t0 = weft_now();
        check(weft_sleep(0.5 + step) == 0); /* halfway through enter, body, exit */
        check(weft_cancel(t));
        check(weft_error(weft_await(t)) == ECANCELED);
        check(c.rc == ECANCELED);
        check(strcmp(c.s.log, logs[step]) == 0);
        if (step == 1) {
            /* exit ran after the cancellation and its await was undisturbed */
            check(c.s.exit_status == ECANCELED && c.s.exit_sleep == 0);
            check(near(weft_now() - t0, 2.5));
        }
        if (step == 2)
            check(c.s.exit_status == 0 && c.s.exit_sleep == ECANCELED);
        weft_task_release(t);
    }
    return (void *)1;
}

static void test_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(cancel_in_each_step, NULL);
}

/* ---- the generator form ---- */

struct managed {
    char log[32];
    int before;   /* fail before yielding */
    int yields;   /* how many times to yield (1 is right) */
    int on_error; /* 0: re-raise the thrown code; -1: swallow; else raise this */
    int thrown;   /* what weft_gen_yield returned */
    int cleanup_sleep;
};

static void *managed(weft_gen *g, void *arg)
{
    struct managed *m = arg;
    strcat(m->log, "a");
    int rc = weft_sleep(1);
    if (rc)
        return WEFT_ERR(rc);
    if (m->before)
        return WEFT_ERR(m->before);
    for (int i = 0; i < m->yields; i++) {
        m->thrown = weft_gen_yield(g, m);
        if (m->thrown)
            break;
    }
    /* finally: */
    strcat(m->log, "r");
    m->cleanup_sleep = weft_sleep(1);
    if (!m->thrown)
        return NULL;
    if (m->on_error < 0)
        return NULL;
    return WEFT_ERR(m->on_error ? m->on_error : m->thrown);
}

static void *use(void *ctx, void *resource)
{
    check(resource == ctx);
    struct managed *m = ctx;
    strcat(m->log, "u");
    int rc = weft_sleep(1);
    if (rc)
        return WEFT_ERR(rc);
    return strchr(m->log, '!') ? WEFT_ERR(EIO) : ITEM(5);
}

static int with_gen(struct managed *m, void **result)
{
    weft_gen *g = weft_gen_create(managed, m);
    return weft_with_gen(g, use, m, result);
}

static void *generator_form(void *arg)
{
    (void)arg;
    void *r = NULL;
    struct managed ok = {.yields = 1};
    double t0 = weft_now();
    check(with_gen(&ok, &r) == 0);
    check(NUM(r) == 5 && strcmp(ok.log, "aur") == 0 && ok.cleanup_sleep == 0);
    check(near(weft_now() - t0, 3));

    struct managed reraise = {.log = "!", .yields = 1};
    check(with_gen(&reraise, &r) == EIO);
    check(reraise.thrown == EIO && strcmp(reraise.log, "!aur") == 0);

    struct managed swallow = {.log = "!", .yields = 1, .on_error = -1};
    r = ITEM(99);
    check(with_gen(&swallow, &r) == 0);
    check(r == NULL);

    struct managed replace = {.log = "!", .yields = 1, .on_error = EPIPE};
    check(with_gen(&replace, &r) == EPIPE);

    struct managed no_yield = {.yields = 0};
    check(with_gen(&no_yield, &r) == EINVAL); /* "generator didn't yield" */
    check(strcmp(no_yield.log, "ar") == 0);

    struct managed twice = {.yields = 2};
    check(with_gen(&twice, &r) == EINVAL);                             /* "generator didn't stop" */
    check(twice.thrown == ECANCELED && strcmp(twice.log, "aur") == 0); /* and it was closed */

    struct managed fails = {.before = EACCES, .yields = 1};
    check(with_gen(&fails, &r) == EACCES);
    check(strcmp(fails.log, "a") == 0);
    return (void *)1;
}

static void test_generator_form(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(generator_form, NULL);
}

struct gen_cancelled {
    struct managed m;
    int rc;
};

static void *with_gen_task(void *arg)
{
    struct gen_cancelled *c = arg;
    c->rc = with_gen(&c->m, NULL);
    return c->rc ? WEFT_ERR(c->rc) : NULL;
}

static void *generator_cancelled(void *arg)
{
    (void)arg;
    struct gen_cancelled c = {.m = {.yields = 1}};
    weft_task *t = weft_spawn(with_gen_task, &c);
    check(weft_sleep(1.5) == 0); /* in the body */
    check(weft_cancel(t));
    check(weft_error(weft_await(t)) == ECANCELED);
    check(c.rc == ECANCELED && c.m.thrown == ECANCELED);
    check(strcmp(c.m.log, "aur") == 0 && c.m.cleanup_sleep == 0);
    check(near(weft_now(), 2.5));
    weft_task_release(t);
    return (void *)1;
}

static void test_generator_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) run_scenario(generator_cancelled, NULL);
}

/* ---- bad input ---- */

static void *bad_input(void *arg)
{
    (void)arg;
    struct scenario s = {0};
    check(weft_with(NULL, body, leave, &s, NULL) == EINVAL);
    check(weft_with(enter, NULL, leave, &s, NULL) == EINVAL);
    check(weft_with(enter, body, NULL, &s, NULL) == EINVAL);
    check(s.log[0] == '\0');
    check(weft_with_gen(NULL, use, NULL, NULL) == EINVAL);
    struct managed m = {.yields = 1};
    check(weft_with_gen(weft_gen_create(managed, &m), NULL, NULL, NULL) == EINVAL);
    check(m.log[0] == '\0'); /* destroyed without running */
    return (void *)1;
}

static void test_bad_input(void **state)
{
    (void)state;
    struct scenario s = {0};
    assert_int_equal(weft_with(enter, body, leave, &s, NULL), EPERM);
    struct managed m = {.yields = 1};
    assert_int_equal(weft_with_gen(weft_gen_create(managed, &m), use, &m, NULL), EPERM);
    FOR_EACH_MODE(virtual_modes) run_scenario(bad_input, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outcomes),       cmocka_unit_test(test_cancelled),
        cmocka_unit_test(test_generator_form), cmocka_unit_test(test_generator_cancelled),
        cmocka_unit_test(test_bad_input),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
