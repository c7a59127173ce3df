/*
 * An unbounded multi-producer multi-consumer FIFO of non-NULL void * items,
 * for work that arrives from threads that own no deque. A spinlock guards a
 * growable ring buffer; an atomic count lets inject_empty and an empty
 * inject_pop answer without taking the lock.
 */
#ifndef WEFT_CK_INJECT_H
#define WEFT_CK_INJECT_H

#include <stdbool.h>
#include <stddef.h>

struct inject {
    int lock;     /* 0 free, 1 held */
    size_t count; /* items queued; written under the lock, read without it */
    size_t head;  /* slot of the oldest item; under the lock */
    size_t mask;  /* capacity - 1; capacity is a power of two; under the lock */
    void **slots; /* under the lock */
};

/* Initialise an empty queue. Returns 0 or ENOMEM. */
int inject_init(struct inject *q);

/* Free the buffer. No thread may use q any more; items still inside are
 * dropped, not freed. */
void inject_destroy(struct inject *q);

/* Append a non-NULL item. Returns 0, or ENOMEM if the buffer was full and
 * could not grow (the item is then not queued). */
int inject_push(struct inject *q, void *item);

/* Remove the oldest item; NULL when empty. */
void *inject_pop(struct inject *q);

/* Whether the queue looked empty an instant ago: a hint, no lock taken. It is
 * false if a push happened before the call and its item is not popped yet. */
bool inject_empty(const struct inject *q);

/* How many items were queued an instant ago: a hint, as inject_empty. */
size_t inject_size(const struct inject *q);

#endif /* WEFT_CK_INJECT_H */
