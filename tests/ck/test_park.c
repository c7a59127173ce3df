/*
 * Tests of ck/park: a wake before the wait is not lost, a wake from another
 * thread releases a sleeper, deadlines in the past return and future ones are
 * honoured, and 100,000 handoffs between two threads never lose a wake-up
 * (WEFT_STRESS_SCALE scales the count; valgrind runs use a small one).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include <ck_pr.h>
#include <cmocka.h>

#include "ck/park.h"

#define NS_PER_MS 1000000
#define HOLD_SPINS_MAX 256

static int64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void test_wake_before_wait(void **state)
{
    struct park p;

    (void)state;
    park_init(&p);
    uint32_t v = park_prepare(&p);
    park_wake(&p);
    int64_t start = now_ns();
    /* The deadline only bounds a broken implementation. */
    park_wait(&p, v, start + 5000 * (int64_t)NS_PER_MS);
    assert_true(now_ns() - start < 1000 * (int64_t)NS_PER_MS);
}

static void test_deadline(void **state)
{
    struct park p;

    (void)state;
    park_init(&p);
    park_wake(&p); /* wakes before park_prepare do not count */

    uint32_t v = park_prepare(&p);
    int64_t start = now_ns();
    park_wait(&p, v, 0);
    park_wait(&p, v, start - NS_PER_MS);
    assert_true(now_ns() - start < 1000 * (int64_t)NS_PER_MS);

    /* ck_ec returns early only when the count changes, so this sleeps. */
    start = now_ns();
    park_wait(&p, v, start + 20 * (int64_t)NS_PER_MS);
    int64_t slept = now_ns() - start;
    assert_true(slept >= 20 * (int64_t)NS_PER_MS);
    assert_true(slept < 5000 * (int64_t)NS_PER_MS);
}

struct sleeper {
    struct park park;
    int woken; /* atomic */
};

static void *wake_later(void *arg)
{
    struct sleeper *s = arg;

    usleep(50 * 1000);
    __atomic_store_n(&s->woken, 1, __ATOMIC_RELEASE);
    park_wake(&s->park);
    return NULL;
}

static void test_wake_from_other_thread(void **state)
{
    struct sleeper s = {.woken = 0};
    pthread_t waker;

    (void)state;
    park_init(&s.park);
    assert_int_equal(pthread_create(&waker, NULL, wake_later, &s), 0);
    int64_t start = now_ns();
    while (!__atomic_load_n(&s.woken, __ATOMIC_ACQUIRE)) {
        uint32_t v = park_prepare(&s.park);
        if (__atomic_load_n(&s.woken, __ATOMIC_ACQUIRE))
            break;
        park_wait(&s.park, v, -1);
    }
    /* Well under ck_ec's first 250 ms nap: the wake did it, not a timeout. */
    assert_true(now_ns() - start < 200 * (int64_t)NS_PER_MS);
    assert_int_equal(pthread_join(waker, NULL), 0);
}

/* Two threads pass a baton: turn counts handoffs, and player k moves when
 * turn % 2 == k, then wakes the other. Before moving, a player holds the baton
 * for a random while, mostly longer than ck_ec spins before it sleeps, so that
 * wakes meet waiters in every phase: spinning, flagging, asleep. No deadline:
 * a wake-up lost by the protocol hangs the test. */
struct baton {
    struct park park[2];
    uint64_t turn; /* atomic */
    uint64_t handoffs;
};

struct player {
    struct baton *b;
    int k;
};

static void wait_for_turn(struct baton *b, int k, uint64_t turn)
{
    for (;;) {
        if (__atomic_load_n(&b->turn, __ATOMIC_ACQUIRE) == turn)
            return;
        uint32_t v = park_prepare(&b->park[k]);
        if (__atomic_load_n(&b->turn, __ATOMIC_ACQUIRE) == turn)
            return;
        park_wait(&b->park[k], v, -1);
    }
}

static void *play(void *arg)
{
    struct player *p = arg;
    struct baton *b = p->b;

    uint64_t rng = 0x2545f4914f6cdd1du + (uint64_t)p->k;

    for (uint64_t turn = (uint64_t)p->k; turn < b->handoffs; turn += 2) {
        wait_for_turn(b, p->k, turn);
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        for (uint64_t spin = rng % HOLD_SPINS_MAX; spin > 0; spin--)
            ck_pr_stall();
        __atomic_store_n(&b->turn, turn + 1, __ATOMIC_RELEASE);
        park_wake(&b->park[1 - p->k]);
    }
    return NULL;
}

static void test_handoffs(void **state)
{
    const char *scale = getenv("WEFT_STRESS_SCALE");
    struct baton b = {.turn = 0};
    struct player players[2] = {{.b = &b, .k = 0}, {.b = &b, .k = 1}};
    pthread_t threads[2];

    (void)state;
    b.handoffs = (uint64_t)(100000 * (scale != NULL ? strtod(scale, NULL) : 1.0));
    if (b.handoffs < 1000)
        b.handoffs = 1000;
    park_init(&b.park[0]);
    park_init(&b.park[1]);
    int64_t start = now_ns();
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_create(&threads[i], NULL, play, &players[i]), 0);
    for (int i = 0; i < 2; i++)
        assert_int_equal(pthread_join(threads[i], NULL), 0);
    assert_int_equal(__atomic_load_n(&b.turn, __ATOMIC_ACQUIRE), b.handoffs);
    print_message("%llu handoffs in %.2f s\n", (unsigned long long)b.handoffs,
                  (double)(now_ns() - start) / 1e9);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wake_before_wait),
        cmocka_unit_test(test_deadline),
        cmocka_unit_test(test_wake_from_other_thread),
        cmocka_unit_test(test_handoffs),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
