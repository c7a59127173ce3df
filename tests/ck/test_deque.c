/*
 * Single-threaded tests of ck/deque: the owner's LIFO end, the thieves' FIFO
 * end, growth (order and contents kept across many doublings, with top moved
 * away from 0), and a random mix checked against a reference model.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "ck/deque.h"

/* Items must be non-NULL: item n is the pointer value n + 1. */
static void *item(uintptr_t n)
{
    return (void *)(n + 1);
}

static void test_empty(void **state)
{
    struct deque d;
    void *x = item(7);

    (void)state;
    assert_int_equal(deque_init(&d, 4), 0);
    assert_null(deque_pop(&d));
    assert_int_equal(deque_steal(&d, &x), DEQUE_EMPTY);
    assert_ptr_equal(x, item(7));
    assert_int_equal(deque_size(&d), 0);

    /* Emptied again after use, from either end. */
    assert_int_equal(deque_push(&d, item(1)), 0);
    assert_int_equal(deque_size(&d), 1);
    assert_ptr_equal(deque_pop(&d), item(1));
    assert_null(deque_pop(&d));
    assert_int_equal(deque_push(&d, item(2)), 0);
    assert_int_equal(deque_steal(&d, &x), DEQUE_SUCCESS);
    assert_ptr_equal(x, item(2));
    assert_int_equal(deque_steal(&d, &x), DEQUE_EMPTY);
    assert_null(deque_pop(&d));
    assert_int_equal(deque_size(&d), 0);
    deque_destroy(&d);
}

static void test_pop_is_lifo(void **state)
{
    struct deque d;

    (void)state;
    assert_int_equal(deque_init(&d, 4), 0);
    for (uintptr_t i = 0; i < 16; i++)
        assert_int_equal(deque_push(&d, item(i)), 0);
    assert_int_equal(deque_size(&d), 16);
    for (uintptr_t i = 16; i-- > 0;)
        assert_ptr_equal(deque_pop(&d), item(i));
    assert_null(deque_pop(&d));
    deque_destroy(&d);
}

static void test_steal_is_fifo(void **state)
{
    struct deque d;
    void *x;

    (void)state;
    assert_int_equal(deque_init(&d, 4), 0);
    for (uintptr_t i = 0; i < 16; i++)
        assert_int_equal(deque_push(&d, item(i)), 0);
    for (uintptr_t i = 0; i < 16; i++) {
        assert_int_equal(deque_steal(&d, &x), DEQUE_SUCCESS);
        assert_ptr_equal(x, item(i));
    }
    assert_int_equal(deque_steal(&d, &x), DEQUE_EMPTY);
    deque_destroy(&d);
}

/* Start at capacity 1 and double 17 times, stealing one item in three so that
 * every growth copies a window that does not start at index 0. */
static void test_growth_keeps_order(void **state)
{
    enum { N = 200000 };
    struct deque d;
    uintptr_t next_stolen = 0;
    void *x;

    (void)state;
    assert_int_equal(deque_init(&d, 0), 0);
    for (uintptr_t i = 0; i < N; i++) {
        assert_int_equal(deque_push(&d, item(i)), 0);
        if (i % 3 == 2) {
            assert_int_equal(deque_steal(&d, &x), DEQUE_SUCCESS);
            assert_ptr_equal(x, item(next_stolen));
            next_stolen++;
        }
    }
    assert_int_equal(deque_size(&d), N - next_stolen);
    for (uintptr_t i = N; i-- > next_stolen;)
        assert_ptr_equal(deque_pop(&d), item(i));
    assert_null(deque_pop(&d));
    assert_int_equal(deque_steal(&d, &x), DEQUE_EMPTY);
    deque_destroy(&d);
}

/* Items left inside and retired buffers are all released (ASan and valgrind
 * check the leak). */
static void test_destroy_after_growth(void **state)
{
    struct deque d;

    (void)state;
    assert_int_equal(deque_init(&d, 1), 0);
    for (uintptr_t i = 0; i < 100000; i++)
        assert_int_equal(deque_push(&d, item(i)), 0);
    deque_destroy(&d);

    assert_int_equal(deque_init(&d, 64), EINVAL);
}

/* Random pushes, pops and steals against an array model of the deque. */
static void test_random_against_model(void **state)
{
    enum { OPS = 300000, MAX = OPS };
    uintptr_t *model = malloc(MAX * sizeof(*model));
    size_t head = 0, tail = 0;
    uintptr_t next = 0;
    uint64_t rng = 88172645463325252u;
    struct deque d;
    void *x;

    (void)state;
    assert_non_null(model);
    assert_int_equal(deque_init(&d, 2), 0);
    for (int op = 0; op < OPS; op++) {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        switch (rng % 5) {
        case 0:
        case 1:
            assert_int_equal(deque_push(&d, item(next)), 0);
            model[tail++] = next++;
            break;
        case 2:
        case 3:
            if (head == tail) {
                assert_null(deque_pop(&d));
            } else {
                assert_ptr_equal(deque_pop(&d), item(model[--tail]));
            }
            break;
        default:
            if (head == tail) {
                assert_int_equal(deque_steal(&d, &x), DEQUE_EMPTY);
            } else {
                assert_int_equal(deque_steal(&d, &x), DEQUE_SUCCESS);
                assert_ptr_equal(x, item(model[head++]));
            }
            break;
        }
        assert_int_equal(deque_size(&d), tail - head);
    }
    deque_destroy(&d);
    free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_pop_is_lifo),
        cmocka_unit_test(test_steal_is_fifo),
        cmocka_unit_test(test_growth_keeps_order),
        cmocka_unit_test(test_destroy_after_growth),
        cmocka_unit_test(test_random_against_model),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
