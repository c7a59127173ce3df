/*
 * Tests of ck/inject: FIFO order, growth (also while the ring has wrapped),
 * and many producers with many consumers taking every item exactly once, each
 * consumer seeing any one producer's items in the order they were pushed.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ck/inject.h"

#define PRODUCERS 4
#define CONSUMERS 4

/* Items must be non-NULL: item n is the pointer value n + 1. */
static void *item(uintptr_t n)
{
    return (void *)(n + 1);
}

static void test_empty(void **state)
{
    struct inject q;

    (void)state;
    assert_int_equal(inject_init(&q), 0);
    assert_true(inject_empty(&q));
    assert_null(inject_pop(&q));
    assert_int_equal(inject_size(&q), 0);
    assert_int_equal(inject_push(&q, item(0)), 0);
    assert_false(inject_empty(&q));
    assert_int_equal(inject_size(&q), 1);
    assert_ptr_equal(inject_pop(&q), item(0));
    assert_true(inject_empty(&q));
    assert_int_equal(inject_size(&q), 0);
    assert_null(inject_pop(&q));
    inject_destroy(&q);
}

static void test_fifo(void **state)
{
    struct inject q;

    (void)state;
    assert_int_equal(inject_init(&q), 0);
    for (uintptr_t i = 0; i < 10; i++)
        assert_int_equal(inject_push(&q, item(i)), 0);
    for (uintptr_t i = 0; i < 10; i++)
        assert_ptr_equal(inject_pop(&q), item(i));
    assert_null(inject_pop(&q));
    inject_destroy(&q);
}

/* Grow from the initial buffer many times over, first from a ring that starts
 * at slot 0, then from one that has wrapped around. */
static void test_growth(void **state)
{
    enum { N = 100000 };
    struct inject q;
    uintptr_t next_in = 0, next_out = 0;

    (void)state;
    assert_int_equal(inject_init(&q), 0);
    for (; next_in < N; next_in++)
        assert_int_equal(inject_push(&q, item(next_in)), 0);
    for (; next_out < N - 3; next_out++)
        assert_ptr_equal(inject_pop(&q), item(next_out));
    /* The ring's head is now deep inside the buffer; push until it grows. */
    for (; next_in < 3 * N; next_in++) {
        assert_int_equal(inject_push(&q, item(next_in)), 0);
        if (next_in % 5 == 0) {
            assert_ptr_equal(inject_pop(&q), item(next_out));
            next_out++;
        }
    }
    for (; next_out < next_in; next_out++)
        assert_ptr_equal(inject_pop(&q), item(next_out));
    assert_null(inject_pop(&q));
    assert_true(inject_empty(&q));
    inject_destroy(&q);
}

struct mpmc {
    struct inject q;
    size_t per_producer;
    uint8_t *takes;      /* takes[i]: how many times item i was popped */
    size_t popped;       /* atomic */
    uint64_t duplicates; /* atomic */
    uint64_t reordered;  /* atomic */
};

struct producer {
    struct mpmc *m;
    uintptr_t id;
};

static void *produce(void *arg)
{
    struct producer *p = arg;
    struct mpmc *m = p->m;

    for (uintptr_t i = 0; i < m->per_producer; i++) {
        if (inject_push(&m->q, item(p->id * m->per_producer + i)) != 0)
            abort();
    }
    return NULL;
}

static void *consume(void *arg)
{
    struct mpmc *m = arg;
    size_t total = PRODUCERS * m->per_producer;
    uintptr_t last_seen[PRODUCERS];

    for (int i = 0; i < PRODUCERS; i++)
        last_seen[i] = UINTPTR_MAX;
    while (__atomic_load_n(&m->popped, __ATOMIC_RELAXED) < total) {
        void *x = inject_pop(&m->q);
        if (x == NULL)
            continue;
        uintptr_t n = (uintptr_t)x - 1;
        uintptr_t producer = n / m->per_producer;
        if (last_seen[producer] != UINTPTR_MAX && last_seen[producer] >= n)
            __atomic_fetch_add(&m->reordered, 1, __ATOMIC_RELAXED);
        last_seen[producer] = n;
        if (__atomic_fetch_add(&m->takes[n], 1, __ATOMIC_RELAXED) != 0)
            __atomic_fetch_add(&m->duplicates, 1, __ATOMIC_RELAXED);
        __atomic_fetch_add(&m->popped, 1, __ATOMIC_RELAXED);
    }
    return NULL;
}

static void test_mpmc_exactly_once(void **state)
{
    struct mpmc m = {.per_producer = 250000};
    struct producer producers[PRODUCERS];
    pthread_t threads[PRODUCERS + CONSUMERS];
    size_t total = PRODUCERS * m.per_producer;

    (void)state;
    assert_int_equal(inject_init(&m.q), 0);
    m.takes = calloc(total, 1);
    assert_non_null(m.takes);
    for (int i = 0; i < CONSUMERS; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, consume, &m), 0);
    for (int i = 0; i < PRODUCERS; i++) {
        producers[i] = (struct producer){.m = &m, .id = (uintptr_t)i};
        assert_int_equal(pthread_create(&threads[CONSUMERS + i], NULL, produce, &producers[i]), 0);
    }
    for (int i = 0; i < PRODUCERS + CONSUMERS; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);

    size_t lost = 0;
    for (size_t i = 0; i < total; i++)
        lost += m.takes[i] == 0;
    assert_int_equal(m.duplicates, 0);
    assert_int_equal(m.reordered, 0);
    assert_int_equal(lost, 0);
    assert_true(inject_empty(&m.q));
    assert_null(inject_pop(&m.q));
    inject_destroy(&m.q);
    free(m.takes);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_fifo),
        cmocka_unit_test(test_growth),
        cmocka_unit_test(test_mpmc_exactly_once),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
