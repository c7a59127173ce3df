/*
 * Concurrent stress of ck/deque: one owner pushes and pops while three thieves
 * steal, and every item must be taken exactly once (a per-item counter counts
 * the takes). Three workloads:
 * - mixed: a random mix of pushes and pops on one deque;
 * - last item: the owner pushes one item and pops it back, so nearly every
 *   pop races the thieves for the last element;
 * - growth: rounds that start from a one-slot deque and push a burst without
 *   popping, so the buffer doubles while thieves read the old ones.
 * Item counts scale with WEFT_STRESS_SCALE (a float, default 1.0).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

#include <ck_pr.h>
#include <cmocka.h>

#include "ck/deque.h"

#define THIEVES 3
#define SPINS_BEFORE_YIELD 32

enum workload { MIXED, LAST_ITEM, GROWTH };

struct stress {
    struct deque deque;
    enum workload workload;
    size_t rounds;
    size_t per_round;
    uint8_t *takes; /* takes[i]: how many times item i was taken */
    pthread_barrier_t round_start, round_end;
    int round_over;        /* atomic: the owner drained the deque */
    unsigned thieves_in;   /* atomic: thieves that started stealing, over all rounds */
    uint64_t duplicates;   /* atomic */
    uint64_t out_of_range; /* atomic */
    uint64_t stolen;       /* atomic */
    uint64_t aborts;       /* atomic */
    uint64_t empty_pops;   /* owner only: pops that found nothing, thieves were first */
};

static double stress_scale(void)
{
    const char *s = getenv("WEFT_STRESS_SCALE");
    double scale = s != NULL ? strtod(s, NULL) : 1.0;

    return scale > 0 ? scale : 1.0;
}

static size_t scaled(double n, size_t floor)
{
    size_t v = (size_t)(n * stress_scale());
    return v > floor ? v : floor;
}

static double now_s(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static uint64_t next_random(uint64_t *rng)
{
    *rng ^= *rng << 13;
    *rng ^= *rng >> 7;
    *rng ^= *rng << 17;
    return *rng;
}

static void take(struct stress *s, void *x, size_t total)
{
    uintptr_t i = (uintptr_t)x - 1;

    if (i >= total) {
        __atomic_fetch_add(&s->out_of_range, 1, __ATOMIC_RELAXED);
        return;
    }
    if (__atomic_fetch_add(&s->takes[i], 1, __ATOMIC_RELAXED) != 0)
        __atomic_fetch_add(&s->duplicates, 1, __ATOMIC_RELAXED);
}

/* Two cores run four threads: an idle thief gives its CPU away soon. */
static void relax(unsigned *idle)
{
    if (++*idle < SPINS_BEFORE_YIELD)
        return;
    *idle = 0;
    sched_yield();
}

static void *thief(void *arg)
{
    struct stress *s = arg;
    size_t total = s->rounds * s->per_round;
    uint64_t stolen = 0, aborts = 0;

    for (size_t r = 0; r < s->rounds; r++) {
        unsigned idle = 0;
        void *x;

        pthread_barrier_wait(&s->round_start);
        __atomic_fetch_add(&s->thieves_in, 1, __ATOMIC_RELAXED);
        while (!__atomic_load_n(&s->round_over, __ATOMIC_ACQUIRE)) {
            switch (deque_steal(&s->deque, &x)) {
            case DEQUE_SUCCESS:
                take(s, x, total);
                stolen++;
                idle = 0;
                break;
            case DEQUE_ABORT:
                aborts++;
                break;
            case DEQUE_EMPTY:
                relax(&idle);
                break;
            }
        }
        pthread_barrier_wait(&s->round_end);
    }
    __atomic_fetch_add(&s->stolen, stolen, __ATOMIC_RELAXED);
    __atomic_fetch_add(&s->aborts, aborts, __ATOMIC_RELAXED);
    return NULL;
}

static void owner_pop(struct stress *s, size_t total)
{
    void *x = deque_pop(&s->deque);

    if (x != NULL)
        take(s, x, total);
    else
        s->empty_pops++;
}

/* Push items [first, first + n) as the workload says, then drain. */
static void owner_round(struct stress *s, uintptr_t first, size_t n, uint64_t *rng)
{
    size_t total = s->rounds * s->per_round;
    void *x;

    for (uintptr_t i = first; i < first + n; i++) {
        assert_int_equal(deque_push(&s->deque, (void *)(i + 1)), 0);
        switch (s->workload) {
        case MIXED:
            /* One pop per two pushes on average, in random runs. */
            while (next_random(rng) % 3 == 0)
                owner_pop(s, total);
            break;
        case LAST_ITEM:
            /* A short random pause gives thieves time to reach the item, so
             * that their CAS and the pop's meet. */
            for (uint64_t spin = next_random(rng) % 4; spin > 0; spin--)
                ck_pr_stall();
            if (next_random(rng) % 8 != 0)
                owner_pop(s, total);
            break;
        case GROWTH:
            break;
        }
    }
    while ((x = deque_pop(&s->deque)) != NULL)
        take(s, x, total);
}

static void run_workload(enum workload workload, const char *name, size_t rounds, size_t per_round)
{
    struct stress s = {.workload = workload, .rounds = rounds, .per_round = per_round};
    size_t total = rounds * per_round;
    pthread_t thieves[THIEVES];
    uint64_t rng = 0x9e3779b97f4a7c15u;
    double start = now_s();

    s.takes = calloc(total, 1);
    assert_non_null(s.takes);
    assert_int_equal(pthread_barrier_init(&s.round_start, NULL, THIEVES + 1), 0);
    assert_int_equal(pthread_barrier_init(&s.round_end, NULL, THIEVES + 1), 0);
    for (int i = 0; i < THIEVES; i++)
        assert_int_equal(pthread_create(&thieves[i], NULL, thief, &s), 0);

    for (size_t r = 0; r < rounds; r++) {
        /* The growth rounds start from one slot; the others from 2^6. */
        assert_int_equal(deque_init(&s.deque, workload == GROWTH ? 0 : 6), 0);
        __atomic_store_n(&s.round_over, 0, __ATOMIC_RELAXED);
        pthread_barrier_wait(&s.round_start);
        /* Leaving the barrier takes the thieves longer than a round may last. */
        while (__atomic_load_n(&s.thieves_in, __ATOMIC_RELAXED) < THIEVES * (r + 1))
            sched_yield();
        owner_round(&s, r * per_round, per_round, &rng);
        __atomic_store_n(&s.round_over, 1, __ATOMIC_RELEASE);
        pthread_barrier_wait(&s.round_end);
        assert_int_equal(deque_size(&s.deque), 0);
        deque_destroy(&s.deque);
    }
    for (int i = 0; i < THIEVES; i++)
        assert_int_equal(pthread_join(thieves[i], NULL), 0);

    size_t lost = 0;
    for (size_t i = 0; i < total; i++)
        lost += s.takes[i] == 0;
    print_message("%s: %zu items in %.2f s; %llu stolen, %llu steal aborts, %llu empty pops\n",
                  name, total, now_s() - start, (unsigned long long)s.stolen,
                  (unsigned long long)s.aborts, (unsigned long long)s.empty_pops);
    assert_int_equal(s.out_of_range, 0);
    assert_int_equal(s.duplicates, 0);
    assert_int_equal(lost, 0);
    pthread_barrier_destroy(&s.round_start);
    pthread_barrier_destroy(&s.round_end);
    free(s.takes);
}

static void test_mixed(void **state)
{
    (void)state;
    run_workload(MIXED, "mixed", 1, scaled(10e6, 1000));
}

static void test_last_item(void **state)
{
    (void)state;
    run_workload(LAST_ITEM, "last item", 1, scaled(10e6, 1000));
}

static void test_growth(void **state)
{
    (void)state;
    run_workload(GROWTH, "growth", scaled(200, 4), 20000);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mixed),
        cmocka_unit_test(test_last_item),
        cmocka_unit_test(test_growth),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
