/*
 * Many tasks at once: 100,000 tasks suspended together, sleeping or awaiting
 * one gate task, all completing; a skynet tree (every task spawns ten
 * children and sums what they return) of more than 10^5 tasks; a chain of
 * 10^4 tasks each awaiting the next. Loop counts scale with
 * WEFT_STRESS_SCALE (default 1: 100,000 tasks; 0.01 under valgrind), and
 * stay under ThreadSanitizer's limit on live fibers.
 *
 * Scenarios run as tasks, where cmocka's asserts (a longjmp) must not be
 * used: they record what went wrong with check(), and the test fails after
 * weft_run, naming the mode, if any check did. Every scenario runs
 * single-threaded and with 2 and 4 workers (more than the machine's cores).
 * The suspended-at-once scenarios use virtual time: a sleeper wakes only when
 * no task can run, so when the first one wakes every task is suspended.
 */
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../harness.h"

/* ThreadSanitizer counts every fiber as a thread and dies beyond 8128 of
 * them alive: there, keep fewer tasks suspended at once than that. */
#define MAX_ALIVE (UNDER_TSAN ? 6000 : 1000000000)

static int scaled(double n, int at_least)
{
    const double v = n * stress_scale();
    const int count = v < at_least ? at_least : (int)v;
    return count < MAX_ALIVE ? count : MAX_ALIVE;
}

/* ---- 100,000 sleeping at once ---- */

struct crowd {
    int n;
    int started;
    int woke;
    weft_task *gate;
};

static void *crowd_sleeper(void *arg)
{
    struct crowd *c = arg;

    bump(&c->started);
    check(weft_sleep(1.0) == 0);
    check(load(&c->started) == c->n); /* every one was suspended at once */
    check(weft_now() == 1.0);
    bump(&c->woke);
    return arg;
}

static void *crowd_sleeping(void *arg)
{
    struct crowd *c = arg;
    weft_task **t = calloc((size_t)c->n, sizeof *t);

    if (!t)
        return WEFT_ERR(ENOMEM);
    for (int i = 0; i < c->n; i++)
        check((t[i] = weft_spawn(crowd_sleeper, c)) != NULL);
    for (int i = 0; i < c->n; i++) {
        if (!t[i])
            continue;
        check(weft_await(t[i]) == c);
        weft_task_release(t[i]);
    }
    free(t);
    return (void *)1;
}

static void test_many_sleeping_at_once(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        struct crowd c = {.n = scaled(100000, 100)};
        expect(run_in_mode(crowd_sleeping, &c) == (void *)1);
        expect(c.started == c.n && c.woke == c.n);
    }
}

/* ---- 100,000 awaiting one gate ---- */

static void *gate(void *arg)
{
    struct crowd *c = arg;

    check(weft_sleep(1.0) == 0);
    check(load(&c->started) == c->n); /* every awaiter is blocked on this task */
    return (void *)42;
}

static void *crowd_awaiter(void *arg)
{
    struct crowd *c = arg;

    bump(&c->started);
    check(weft_await(c->gate) == (void *)42);
    bump(&c->woke);
    return NULL;
}

static void *crowd_awaiting(void *arg)
{
    struct crowd *c = arg;
    weft_task **t = calloc((size_t)c->n, sizeof *t);

    if (!t)
        return WEFT_ERR(ENOMEM);
    c->gate = weft_spawn(gate, c);
    for (int i = 0; i < c->n; i++)
        check((t[i] = weft_spawn(crowd_awaiter, c)) != NULL);
    check(weft_await(c->gate) == (void *)42);
    for (int i = 0; i < c->n; i++) {
        if (!t[i])
            continue;
        check(weft_await(t[i]) == NULL);
        weft_task_release(t[i]);
    }
    weft_task_release(c->gate);
    free(t);
    return (void *)1;
}

static void test_many_awaiting_one_gate(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes)
    {
        struct crowd c = {.n = scaled(100000, 100)};
        expect(run_in_mode(crowd_awaiting, &c) == (void *)1);
        expect(c.started == c.n && c.woke == c.n);
    }
}

/* ---- skynet: a tree of spawns, summed ---- */

struct subtree {
    long long first; /* the leaves are numbered first .. first + size - 1 */
    long long size;
};

static void *skynet(void *arg)
{
    const struct subtree *s = arg;
    struct subtree kids[10];
    weft_task *t[10];
    long long sum = 0;

    if (s->size == 1)
        return (void *)(intptr_t)s->first;
    for (int i = 0; i < 10; i++) {
        kids[i] = (struct subtree){s->first + i * (s->size / 10), s->size / 10};
        check((t[i] = weft_spawn(skynet, &kids[i])) != NULL);
    }
    for (int i = 0; i < 10; i++) {
        if (!t[i])
            continue;
        void *r = weft_await(t[i]);
        check(weft_error(r) == 0);
        sum += (intptr_t)r;
        weft_task_release(t[i]);
    }
    return (void *)(intptr_t)sum;
}

static void test_skynet(void **state)
{
    /* 10^5 leaves (111,111 tasks) at scale 1, fewer when scaled down. */
    int digits = (int)floor(5 + log10(stress_scale()) + 1e-9);
    struct subtree root = {0, 1};

    (void)state;
    if (digits > 5)
        digits = 5;
    if (MAX_ALIVE < 111111 && digits > 3)
        digits = 3;
    if (digits < 2)
        digits = 2;
    for (int i = 0; i < digits; i++)
        root.size *= 10;
    FOR_EACH_MODE(all_modes)
    {
        void *r = run_in_mode(skynet, &root);
        expect((long long)(intptr_t)r == root.size * (root.size - 1) / 2);
    }
}

/* ---- a chain of 10^4 tasks, each awaiting the next ---- */

static void *chain_link(void *arg)
{
    const intptr_t depth = (intptr_t)arg;

    if (depth == 0)
        return weft_sleep(0.5) == 0 ? (void *)0 : WEFT_ERR(ECANCELED);
    weft_task *next = weft_spawn(chain_link, (void *)(depth - 1));
    if (!next) {
        check(!"spawn failed");
        return WEFT_ERR(ENOMEM);
    }
    void *r = weft_await(next);
    weft_task_release(next);
    return weft_error(r) ? r : (void *)((intptr_t)r + 1);
}

static void test_deep_chain(void **state)
{
    const intptr_t depth = scaled(10000, 100);

    (void)state;
    FOR_EACH_MODE(all_modes)
    expect(run_in_mode(chain_link, (void *)depth) == (void *)depth);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_many_sleeping_at_once),
        cmocka_unit_test(test_many_awaiting_one_gate),
        cmocka_unit_test(test_skynet),
        cmocka_unit_test(test_deep_chain),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
