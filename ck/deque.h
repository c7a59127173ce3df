/*
 * A growable Chase-Lev work-stealing deque of non-NULL void * items.
 *
 * One thread, the owner, pushes and pops at the bottom (LIFO, no atomic
 * read-modify-write unless one item is left); any thread steals from the top
 * (FIFO, one CAS). Orderings follow Lê, Pop, Cohen and Zappa Nardelli,
 * "Correct and Efficient Work-Stealing for Weak Memory Models" (PPoPP 2013);
 * deque.c states the invariants.
 *
 * The struct is public so that it can be embedded (in a worker, say). Its
 * padding keeps top (written by thieves) and bottom (written by the owner) on
 * cache lines of their own wherever the struct is placed: no alignment is
 * required of the enclosing object.
 */
#ifndef WEFT_CK_DEQUE_H
#define WEFT_CK_DEQUE_H

#include <stddef.h>
#include <stdint.h>

#define DEQUE_CACHE_LINE 64

struct deque_array;

struct deque {
    char pad_head[DEQUE_CACHE_LINE];
    uint64_t top; /* next index to steal; only ever incremented, by CAS */
    char pad_top[DEQUE_CACHE_LINE - sizeof(uint64_t)];
    uint64_t bottom;             /* next index to push; written by the owner only */
    struct deque_array *array;   /* current buffer; replaced by the owner when it grows */
    struct deque_array *retired; /* buffers replaced by growth, freed by deque_destroy */
    char pad_tail[DEQUE_CACHE_LINE];
};

/* Initialise an empty deque holding 2^log2_capacity items before it first
 * grows. Returns 0, ENOMEM, or EINVAL if log2_capacity > 32. */
int deque_init(struct deque *d, unsigned log2_capacity);

/* Free the current and all retired buffers. No thread may use d any more;
 * items still inside are dropped, not freed. */
void deque_destroy(struct deque *d);

/* Owner only: push a non-NULL item at the bottom. A full deque doubles;
 * returns 0, or ENOMEM if it could not (the item is then not pushed). */
int deque_push(struct deque *d, void *item);

/* Owner only: take the most recently pushed item; NULL when empty. */
void *deque_pop(struct deque *d);

enum deque_steal {
    DEQUE_EMPTY,   /* nothing to steal */
    DEQUE_ABORT,   /* lost a race with the owner or another thief; a retry may succeed */
    DEQUE_SUCCESS, /* *item holds the oldest item */
};

/* Any thread: take the oldest item into *item. *item is written only on
 * DEQUE_SUCCESS. */
enum deque_steal deque_steal(struct deque *d, void **item);

/* Owner only, and only while no other thread can steal from d (a
 * scheduler with one worker): take the oldest item, as deque_steal would,
 * without its fence and compare-and-swap. NULL when empty. */
void *deque_take_oldest_unshared(struct deque *d);
/* A racy estimate of the number of items, for heuristics (never negative). */
size_t deque_size(const struct deque *d);

#endif /* WEFT_CK_DEQUE_H */
