/*
 * weft_group (asyncio.TaskGroup): every child succeeding; one failing, which
 * cancels its siblings (their cleanup runs before the exit returns), makes
 * the body's pending await return ECANCELED (a sleep, an await of another
 * task) and is reported by the exit with its message reachable through the
 * child's handle, the parent's cancellation taken back afterwards; the
 * parent cancelled from outside during the body and while it waits at the
 * exit; nested groups; a group in a deadline scope that expires; children
 * spawned by children; spawning into a group that is shutting down; bad
 * arguments; and many children with one failing in the middle.
 *
 * Scenarios run as tasks, where cmocka's asserts (a longjmp) must not be
 * used: they record what went wrong with check(), and the test fails after
 * weft_run, naming the mode. Every scenario runs at 1, 2 and 4 workers under
 * virtual time, where weft_now() is exact.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"

/* A child: sleeps `delay`, then returns `value` or fails with `fail`. If
 * cancelled, it cleans up with an await of its own and ends cancelled. */
struct child {
    double delay;
    int fail;
    intptr_t value;
    int cancelled; /* it saw ECANCELED */
    int cleaned;   /* its cleanup ran to the end */
};

static void *child(void *arg)
{
    struct child *c = arg;
    int rc = weft_sleep(c->delay);
    if (rc) {
        check(rc == ECANCELED);
        bump(&c->cancelled);
        check(weft_sleep(0.25) == 0); /* the request was consumed */
        bump(&c->cleaned);
        return WEFT_ERR(ECANCELED);
    }
    if (c->fail)
        return weft_fail(c->fail, "child %d failed", (int)c->value);
    return (void *)c->value;
}

/* ---- all succeed ---- */

static void *all_succeed(void *arg)
{
    (void)arg;
    struct child c[3] = {{2, 0, 10, 0, 0}, {1, 0, 11, 0, 0}, {3, 0, 12, 0, 0}};
    weft_task *t[3];
    weft_group *g = weft_group_create();
    check(g != NULL);
    for (int i = 0; i < 3; i++)
        check((t[i] = weft_group_spawn(g, child, &c[i])) != NULL);
    check(weft_group_wait(g) == 0);
    check(at(3));
    for (int i = 0; i < 3; i++) {
        check(weft_task_done(t[i]));
        check(weft_task_result(t[i]) == (void *)(10 + (intptr_t)i));
        check(c[i].cancelled == 0);
        weft_task_release(t[i]);
    }
    /* A group with no children exits at once; then nothing is pending. */
    g = weft_group_create();
    check(weft_group_wait(g) == 0);
    check(weft_yield() == 0);
    return (void *)1;
}

static void test_group_all_succeed(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(all_succeed, NULL);
}

/* ---- one fails: siblings cancelled, the body's await interrupted ---- */

static void *sibling_fails(void *arg)
{
    bool await_task = arg != NULL;
    struct child c[4] = {{1, 0, 0, 0, 0}, {2, EIO, 1, 0, 0}, {5, 0, 2, 0, 0}, {6, 0, 3, 0, 0}};
    struct child other = {10, 0, 4, 0, 0};
    weft_task *t[4];
    weft_group *g = weft_group_create();
    for (int i = 0; i < 4; i++)
        t[i] = weft_group_spawn(g, child, &c[i]);
    weft_task *outside = weft_spawn(child, &other);
    if (await_task) {
        /* Cancelling the body cancels what it awaits, as asyncio does. */
        check(weft_error(weft_await(outside)) == ECANCELED);
        check(weft_task_cancelled(outside));
        check(at(2.25));
    } else {
        check(weft_sleep(10) == ECANCELED);
        check(at(2));
    }
    check(weft_group_wait(g) == EIO);
    check(at(2.25)); /* after the siblings' cleanup */
    check(weft_task_result(t[0]) == NULL);
    check(weft_error(weft_task_result(t[1])) == EIO);
    check(strcmp(weft_task_message(t[1]), "child 1 failed") == 0);
    for (int i = 2; i < 4; i++) {
        check(weft_task_cancelled(t[i]));
        check(c[i].cancelled == 1 && c[i].cleaned == 1);
    }
    check(c[0].cancelled == 0);
    /* The group took its cancellation of the parent back. */
    check(weft_yield() == 0);
    check(weft_sleep(1) == 0);
    for (int i = 0; i < 4; i++)
        weft_task_release(t[i]);
    if (!await_task) {
        check(weft_cancel(outside));
        weft_await(outside);
    }
    weft_task_release(outside);
    return (void *)1;
}

static void test_group_one_fails(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        run_scenario(sibling_fails, NULL);
        run_scenario(sibling_fails, (void *)1);
    }
}

/* The body is not awaiting when the child fails (multi-thread: it may be
 * running): the cancellation reaches its next await, or none at all if it
 * goes straight to the exit, which takes the request back. */
struct spin_fail {
    int failing;
};

static void *fail_when_told(void *arg)
{
    struct spin_fail *s = arg;
    while (!load(&s->failing))
        if (weft_yield())
            return WEFT_ERR(ECANCELED);
    return WEFT_ERR(EPROTO);
}

static void *fail_while_body_runs(void *arg)
{
    (void)arg;
    struct spin_fail s = {0};
    weft_group *g = weft_group_create();
    weft_task *t = weft_group_spawn(g, fail_when_told, &s);
    check(weft_yield() == 0);
    bump(&s.failing);
    check(weft_group_wait(g) == EPROTO);
    check(weft_yield() == 0);
    check(weft_sleep(1) == 0);
    weft_task_release(t);
    return (void *)1;
}

static void test_group_fail_while_body_runs(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    for (int i = 0; i < 20; i++)
        run_scenario(fail_while_body_runs, NULL);
}

/* Two failures: the first is reported; both messages stay reachable. */
static void *two_fail(void *arg)
{
    (void)arg;
    struct child c[3] = {{1, EIO, 1, 0, 0}, {1, ENOSPC, 2, 0, 0}, {1, 0, 3, 0, 0}};
    weft_task *t[3];
    weft_group *g = weft_group_create();
    for (int i = 0; i < 3; i++)
        t[i] = weft_group_spawn(g, child, &c[i]);
    int err = weft_group_wait(g);
    check(err == EIO || err == ENOSPC);
    if (mode.workers == 1)
        check(err == EIO);
    check(at(1));
    for (int i = 0; i < 3; i++) {
        /* They ended in the same turn: none of them saw a cancellation. */
        check(c[i].cancelled == 0);
        weft_task_release(t[i]);
    }
    check(weft_yield() == 0);
    return (void *)1;
}

static void test_group_two_fail(void **state)
{
    (void)state;
    mode = virtual_modes[0];
    run_scenario(two_fail, NULL);
}

/* ---- the parent cancelled from outside ---- */

struct parent_run {
    struct child c[2];
    bool body_sleeps; /* else it goes straight to the exit */
    int result;
    weft_task *t[2];
};

static void *parent(void *arg)
{
    struct parent_run *p = arg;
    weft_group *g = weft_group_create();
    for (int i = 0; i < 2; i++)
        p->t[i] = weft_group_spawn(g, child, &p->c[i]);
    if (p->body_sleeps)
        check(weft_sleep(10) == ECANCELED);
    p->result = weft_group_wait(g);
    for (int i = 0; i < 2; i++)
        check(weft_task_done(p->t[i]));
    return WEFT_ERR(p->result);
}

static void *cancel_parent(void *arg)
{
    struct parent_run *p = arg;
    weft_task *t = weft_spawn(parent, p);
    check(weft_sleep(1) == 0);
    check(weft_cancel(t));
    check(weft_error(weft_await(t)) == ECANCELED);
    check(weft_task_cancelled(t));
    check(at(1.25)); /* after the children's cleanup */
    check(p->result == ECANCELED);
    for (int i = 0; i < 2; i++) {
        check(weft_task_cancelled(p->t[i]));
        check(p->c[i].cleaned == 1);
        weft_task_release(p->t[i]);
    }
    weft_task_release(t);
    return (void *)1;
}

static void test_group_parent_cancelled(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        for (int sleeps = 0; sleeps < 2; sleeps++) {
            struct parent_run p = {.c = {{5, 0, 1, 0, 0}, {6, 0, 2, 0, 0}}, .body_sleeps = sleeps};
            run_scenario(cancel_parent, &p);
        }
    }
}

/* Cancelled at the exit after a child has failed: the failure wins. */
static void *cancel_while_aborting(void *arg)
{
    struct parent_run *p = arg;
    weft_task *t = weft_spawn(parent, p);
    check(weft_sleep(1.1) == 0); /* the failure at 1 is being cleaned up */
    weft_cancel(t);
    check(weft_error(weft_await(t)) == EIO);
    check(p->result == EIO);
    check(at(1.25));
    for (int i = 0; i < 2; i++)
        weft_task_release(p->t[i]);
    weft_task_release(t);
    return (void *)1;
}

static void test_group_cancel_while_aborting(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        struct parent_run p = {.c = {{1, EIO, 1, 0, 0}, {6, 0, 2, 0, 0}}, .body_sleeps = false};
        run_scenario(cancel_while_aborting, &p);
    }
}

/* ---- nested groups ---- */

static void *inner_group(void *arg)
{
    struct child *c = arg; /* two children: c[0] fails */
    weft_group *g = weft_group_create();
    weft_task *t[2];
    for (int i = 0; i < 2; i++)
        t[i] = weft_group_spawn(g, child, &c[i]);
    check(weft_sleep(10) == ECANCELED);
    int err = weft_group_wait(g);
    for (int i = 0; i < 2; i++)
        weft_task_release(t[i]);
    return weft_fail(err, "inner group: %d", err);
}

static void *nested(void *arg)
{
    (void)arg;
    struct child inner[2] = {{1, EIO, 1, 0, 0}, {4, 0, 2, 0, 0}};
    struct child sibling = {5, 0, 3, 0, 0};
    weft_group *g = weft_group_create();
    weft_task *ti = weft_group_spawn(g, inner_group, inner);
    weft_task *ts = weft_group_spawn(g, child, &sibling);
    check(weft_group_wait(g) == EIO);
    check(at(1.5)); /* inner cleanup at 1.25, then the sibling's at 1.5 */
    check(strcmp(weft_task_message(ti), "inner group: 5") == 0);
    check(inner[1].cleaned == 1 && sibling.cleaned == 1);
    check(weft_task_cancelled(ts));
    check(weft_yield() == 0);
    weft_task_release(ti);
    weft_task_release(ts);
    return (void *)1;
}

static void test_group_nested(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(nested, NULL);
}

/* ---- inside a deadline scope that expires ---- */

static void *in_timeout(void *arg)
{
    (void)arg;
    struct child c[2] = {{5, 0, 1, 0, 0}, {6, 0, 2, 0, 0}};
    weft_task *t[2];
    weft_timeout *tm = weft_timeout_enter(1);
    weft_group *g = weft_group_create();
    for (int i = 0; i < 2; i++)
        t[i] = weft_group_spawn(g, child, &c[i]);
    check(weft_sleep(10) == ETIMEDOUT);
    /* The exit waits for the children even though every other await in
     * the expired scope would fail at once. */
    check(weft_group_wait(g) == ETIMEDOUT);
    check(at(1.25));
    check(weft_timeout_exit(tm) == ETIMEDOUT);
    for (int i = 0; i < 2; i++) {
        check(weft_task_cancelled(t[i]) && c[i].cleaned == 1);
        weft_task_release(t[i]);
    }
    check(weft_yield() == 0);

    /* The deadline fires while the parent already waits at the exit. */
    tm = weft_timeout_enter(1);
    g = weft_group_create();
    for (int i = 0; i < 2; i++)
        t[i] = weft_group_spawn(g, child, &c[i]);
    check(weft_group_wait(g) == ETIMEDOUT);
    check(at(2.5));
    check(weft_timeout_exit(tm) == ETIMEDOUT);
    for (int i = 0; i < 2; i++) {
        check(weft_task_cancelled(t[i]) && c[i].cleaned == 2);
        weft_task_release(t[i]);
    }
    return (void *)1;
}

static void test_group_in_timeout(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(in_timeout, NULL);
}

/* ---- children spawning children; spawning into a group shutting down ---- */

struct spawner {
    weft_group *g;
    struct child grandchild;
    weft_task *spawned;
    int refused;
};

static void *spawn_sibling(void *arg)
{
    struct spawner *s = arg;
    check(weft_sleep(1) == 0); /* the parent is at the exit by now */
    s->spawned = weft_group_spawn(s->g, child, &s->grandchild);
    check(s->spawned != NULL);
    return NULL;
}

static void *refuse_when_aborting(void *arg)
{
    struct spawner *s = arg;
    if (weft_sleep(10) == ECANCELED) {
        errno = 0;
        if (weft_group_spawn(s->g, child, &s->grandchild) == NULL && errno == EINVAL)
            bump(&s->refused);
        return WEFT_ERR(ECANCELED);
    }
    return NULL;
}

static void *spawning(void *arg)
{
    (void)arg;
    struct spawner s = {.grandchild = {2, 0, 9, 0, 0}};
    s.g = weft_group_create();
    weft_task *t = weft_group_spawn(s.g, spawn_sibling, &s);
    check(weft_group_wait(s.g) == 0);
    check(at(3)); /* the exit waited for the late child too */
    check(s.spawned && weft_task_result(s.spawned) == (void *)9);
    weft_task_release(s.spawned);
    weft_task_release(t);

    struct spawner r = {.grandchild = {2, 0, 9, 0, 0}};
    struct child failing = {1, EIO, 0, 0, 0};
    r.g = weft_group_create();
    weft_task *a = weft_group_spawn(r.g, refuse_when_aborting, &r);
    weft_task *b = weft_group_spawn(r.g, child, &failing);
    check(weft_sleep(10) == ECANCELED);
    errno = 0;
    check(weft_group_spawn(r.g, child, &r.grandchild) == NULL && errno == EINVAL);
    check(weft_group_wait(r.g) == EIO);
    check(r.refused == 1);
    weft_task_release(a);
    weft_task_release(b);
    return (void *)1;
}

static void test_group_spawning(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    run_scenario(spawning, NULL);
}

/* ---- bad arguments ---- */

static void *wait_other(void *g)
{
    check(weft_group_wait(g) == EINVAL);
    return NULL;
}

static void *bad_arguments(void *arg)
{
    (void)arg;
    struct child c = {1, 0, 5, 0, 0};
    weft_group *g = weft_group_create();
    errno = 0;
    check(weft_group_spawn(NULL, child, &c) == NULL && errno == EINVAL);
    errno = 0;
    check(weft_group_spawn(g, NULL, &c) == NULL && errno == EINVAL);
    check(weft_group_wait(NULL) == EINVAL);
    weft_task *t = weft_spawn(wait_other, g); /* only the parent may exit */
    check(weft_error(weft_await(t)) == 0);
    weft_task_release(t);
    check(weft_group_wait(g) == 0);
    return (void *)1;
}

static void test_group_bad_arguments(void **state)
{
    (void)state;
    errno = 0;
    assert_null(weft_group_create());
    assert_int_equal(errno, EPERM);
    errno = 0;
    assert_null(weft_group_spawn(NULL, child, NULL));
    assert_int_equal(errno, EPERM);
    assert_int_equal(weft_group_wait(NULL), EPERM);
    FOR_EACH_MODE(virtual_modes)
    run_scenario(bad_arguments, NULL);
}

/* ---- many children, one failing in the middle ---- */

static void *yielder(void *arg)
{
    intptr_t i = (intptr_t)arg;
    for (int k = 0; k < 5; k++)
        if (weft_yield())
            return WEFT_ERR(ECANCELED);
    if (i == 0)
        return WEFT_ERR(EIO);
    if (weft_sleep(1) == ECANCELED)
        return WEFT_ERR(ECANCELED);
    return (void *)i;
}

static void *many(void *arg)
{
    int n = *(int *)arg;
    weft_group *g = weft_group_create();
    weft_task **t = malloc((size_t)n * sizeof *t);
    if (!t)
        return NULL;
    for (int i = 0; i < n; i++) {
        errno = 0;
        t[i] = weft_group_spawn(g, yielder, (void *)(intptr_t)((i + n / 2) % n));
        /* Other workers may run the failing child while this loop goes on:
         * from then on the group refuses new children. */
        check(t[i] || (mode.workers > 1 && errno == EINVAL));
    }
    check(weft_sleep(10) == ECANCELED);
    check(weft_group_wait(g) == EIO);
    check(weft_now() < 1); /* nobody slept to the end */
    for (int i = 0; i < n; i++) {
        if (t[i]) {
            check(weft_task_done(t[i]));
            weft_task_release(t[i]);
        }
    }
    free(t);
    return (void *)1;
}

static void test_group_many(void **state)
{
    (void)state;
    int n = stress_count(2000, 4000);
    FOR_EACH_MODE(virtual_modes)
    run_scenario(many, &n);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_group_all_succeed),
        cmocka_unit_test(test_group_one_fails),
        cmocka_unit_test(test_group_fail_while_body_runs),
        cmocka_unit_test(test_group_two_fail),
        cmocka_unit_test(test_group_parent_cancelled),
        cmocka_unit_test(test_group_cancel_while_aborting),
        cmocka_unit_test(test_group_nested),
        cmocka_unit_test(test_group_in_timeout),
        cmocka_unit_test(test_group_spawning),
        cmocka_unit_test(test_group_bad_arguments),
        cmocka_unit_test(test_group_many),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
