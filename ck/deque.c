/*
 * Chase-Lev work-stealing deque, with the orderings of Lê, Pop, Cohen and
 * Zappa Nardelli, "Correct and Efficient Work-Stealing for Weak Memory
 * Models", PPoPP 2013 (figure 1), written on concurrencykit's ck_pr.
 *
 * The items are the indices [top, bottom) of an unbounded sequence; index i
 * lives in slot i & mask of the current buffer. The owner works at bottom,
 * thieves at top, and only the last item is ever contended.
 *
 * Invariants:
 * - Only the owner writes bottom (push: +1; pop: -1, then +1 back if it found
 *   the deque empty or lost the last item). Only a CAS from t to t + 1 writes
 *   top, by a thief or by the owner taking the last item. So top never
 *   decreases, and an index names one item forever (64-bit indices do not
 *   wrap): a CAS from t cannot succeed once anyone has taken index t.
 * - push writes the slot of index b only when b - t < capacity for a top t it
 *   has loaded, so the slot's previous occupant, index b - capacity < t, has
 *   been taken already. Hence a thief whose CAS from t wins read the item of
 *   index t: its slot is reused only for index t + capacity, which needs
 *   top > t, and then its CAS would have failed.
 * - Growth copies [top, bottom) into a buffer twice as large, at the same
 *   indices, and publishes it with a release store. The old buffer is never
 *   written again and stays allocated (on the retired list) until
 *   deque_destroy, so a thief still holding its pointer reads a correct item
 *   for any index its CAS can win: such an index was in [top, bottom) when the
 *   copy was made. The retired buffers add up to less than the current one.
 * - The last item: pop lowers bottom to b, then reads top t. If t < b, no thief
 *   can reach index b (a thief takes t only after seeing bottom > t). If
 *   t == b, a thief may be after the same item; both CAS top from t to t + 1
 *   and exactly one wins. The fences between the store of bottom and the load
 *   of top in pop, and between the loads of top and bottom in steal, make this
 *   a Dekker pair: the owner sees the thief's top or the thief sees the
 *   owner's bottom, never neither.
 *
 * ThreadSanitizer ignores standalone fences and treats ck_pr loads and stores
 * (volatile accesses under CK_USE_CC_BUILTINS) as plain ones, so a TSan build
 * reads and writes top, bottom, the buffer pointer and the slots with __atomic
 * builtins, and makes seq_cst every access that the paper orders with a fence.
 * Other builds keep the paper's orderings.
 */
#include "deque.h"

#include <assert.h>
#include <ck_pr.h>
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#if defined(__SANITIZE_THREAD__)
#define DEQUE_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DEQUE_TSAN 1
#endif
#endif

struct deque_array {
    struct deque_array *next_retired;
    uint64_t mask; /* capacity - 1; capacity is a power of two */
    void *slots[];
};

#define DEQUE_MAX_LOG2_CAPACITY 32

/* The accesses the algorithm is written with. index_* reach top and bottom,
 * slot_* the items, array_* the buffer pointer as thieves see it. */
#ifdef DEQUE_TSAN
static inline uint64_t index_load(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_SEQ_CST);
}

static inline void index_store(uint64_t *p, uint64_t v)
{
    __atomic_store_n(p, v, __ATOMIC_SEQ_CST);
}

static inline bool top_cas(struct deque *d, uint64_t t)
{
    return __atomic_compare_exchange_n(&d->top, &t, t + 1, false, __ATOMIC_SEQ_CST,
                                       __ATOMIC_SEQ_CST);
}

static inline void *slot_load(const struct deque_array *a, uint64_t i)
{
    return __atomic_load_n(&a->slots[i & a->mask], __ATOMIC_RELAXED);
}

static inline void slot_store(struct deque_array *a, uint64_t i, void *item)
{
    __atomic_store_n(&a->slots[i & a->mask], item, __ATOMIC_RELAXED);
}

static inline struct deque_array *array_load(const struct deque *d)
{
    return __atomic_load_n(&d->array, __ATOMIC_ACQUIRE);
}

static inline void array_publish(struct deque *d, struct deque_array *a)
{
    __atomic_store_n(&d->array, a, __ATOMIC_RELEASE);
}
#else
static inline uint64_t index_load(const uint64_t *p)
{
    return ck_pr_load_64(p);
}

static inline void index_store(uint64_t *p, uint64_t v)
{
    ck_pr_store_64(p, v);
}

static inline bool top_cas(struct deque *d, uint64_t t)
{
    return ck_pr_cas_64(&d->top, t, t + 1);
}

static inline void *slot_load(const struct deque_array *a, uint64_t i)
{
    return ck_pr_load_ptr(&a->slots[i & a->mask]);
}

static inline void slot_store(struct deque_array *a, uint64_t i, void *item)
{
    ck_pr_store_ptr(&a->slots[i & a->mask], item);
}

static inline struct deque_array *array_load(const struct deque *d)
{
    struct deque_array *a = ck_pr_load_ptr(&d->array);

    ck_pr_fence_acquire(); /* the copied slots are read after the pointer: pairs with grow */
    return a;
}

static inline void array_publish(struct deque *d, struct deque_array *a)
{
    ck_pr_fence_release(); /* the copied slots are visible before the pointer */
    ck_pr_store_ptr(&d->array, a);
}
#endif

/* calloc, not malloc: a thief that lost its race may have read a slot that
 * nothing wrote yet; the value is thrown away, but valgrind is happier. */
static struct deque_array *array_create(uint64_t capacity)
{
    if (capacity > (SIZE_MAX - sizeof(struct deque_array)) / sizeof(void *))
        return NULL;
    struct deque_array *a = calloc(1, sizeof(*a) + capacity * sizeof(void *));
    if (a == NULL)
        return NULL;
    a->mask = capacity - 1;
    return a;
}

int deque_init(struct deque *d, unsigned log2_capacity)
{
    d->array = NULL;
    d->retired = NULL;
    if (log2_capacity > DEQUE_MAX_LOG2_CAPACITY)
        return EINVAL;
    d->top = 0;
    d->bottom = 0;
    d->array = array_create((uint64_t)1 << log2_capacity);
    return d->array == NULL ? ENOMEM : 0;
}

void deque_destroy(struct deque *d)
{
    struct deque_array *a = d->retired;

    while (a != NULL) {
        struct deque_array *next = a->next_retired;
        free(a);
        a = next;
    }
    free(d->array);
    d->array = NULL;
    d->retired = NULL;
}

/* Cold path of push: double the buffer, keeping the indices [t, b). */
static __attribute__((noinline)) struct deque_array *grow(struct deque *d, struct deque_array *old,
                                                          uint64_t t, uint64_t b)
{
    struct deque_array *a = array_create(2 * (old->mask + 1));

    if (a == NULL)
        return NULL;
    for (uint64_t i = t; i != b; i++)
        slot_store(a, i, slot_load(old, i));
    old->next_retired = d->retired;
    d->retired = old;
    array_publish(d, a);
    return a;
}

int deque_push(struct deque *d, void *item)
{
    assert(item != NULL);
    uint64_t b = index_load(&d->bottom);
    uint64_t t = index_load(&d->top);
    ck_pr_fence_acquire(); /* a slot is reused only after the thief that took it has read it */
    struct deque_array *a = d->array;

    if (b - t > a->mask) {
        a = grow(d, a, t, b);
        if (a == NULL)
            return ENOMEM;
    }
    slot_store(a, b, item);
    ck_pr_fence_release(); /* the item is visible before the bottom that covers it */
    index_store(&d->bottom, b + 1);
    return 0;
}

/* The store-load fence of both Dekker halves. ck_pr_fence_memory is an
 * `mfence` on x86-64, about 20 ns on this project's AMD EPYC machine against
 * about 5 ns for the locked no-op that GCC emits for a seq_cst fence; both
 * order ordinary loads and stores alike (mfence also orders non-temporal
 * stores, which this code has none of). */
static inline void dekker_fence(void)
{
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
}

void *deque_pop(struct deque *d)
{
    uint64_t b = index_load(&d->bottom) - 1;
    struct deque_array *a = d->array;

    index_store(&d->bottom, b);
    dekker_fence(); /* store bottom, then load top: the owner's half of the Dekker pair */
    uint64_t t = index_load(&d->top);

    if ((int64_t)(b - t) < 0) {
        index_store(&d->bottom, b + 1);
        return NULL;
    }
    void *item = slot_load(a, b);
    if (b != t)
        return item;
    if (!top_cas(d, t))
        item = NULL;
    index_store(&d->bottom, b + 1);
    return item;
}

enum deque_steal deque_steal(struct deque *d, void **item)
{
    uint64_t t = index_load(&d->top);
    dekker_fence(); /* load top, then bottom: the thief's half of the Dekker pair */
    uint64_t b = index_load(&d->bottom);
    ck_pr_fence_acquire(); /* the slot is read after the bottom that covers it: pairs with push */

    if ((int64_t)(b - t) <= 0)
        return DEQUE_EMPTY;
    struct deque_array *a = array_load(d);
    void *x = slot_load(a, t);
    if (!top_cas(d, t))
        return DEQUE_ABORT;
    *item = x;
    return DEQUE_SUCCESS;
}

void *deque_take_oldest_unshared(struct deque *d)
{
    uint64_t t = index_load(&d->top);
    uint64_t b = index_load(&d->bottom);
    if ((int64_t)(b - t) <= 0)
        return NULL;
    void *item = slot_load(d->array, t);
    index_store(&d->top, t + 1);
    return item;
}

size_t deque_size(const struct deque *d)
{
    uint64_t t = index_load(&d->top);
    uint64_t b = index_load(&d->bottom);
    int64_t n = (int64_t)(b - t);

    return n > 0 ? (size_t)n : 0;
}
