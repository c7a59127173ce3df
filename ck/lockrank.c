/*
 * The per-thread record of held locks (lockrank.h). A fixed stack: weft
 * never holds more than a handful at once, and overflowing it is a bug
 * worth an abort of its own.
 */
#include "ck/lockrank.h"

#include <stdio.h>
#include <stdlib.h>

#define HELD_MAX 32

struct held {
    const void *lock;
    unsigned rank;
};

static __thread struct held held[HELD_MAX];
static __thread unsigned nheld;

void lockrank_acquired(const void *lock, unsigned rank)
{
    if (!rank)
        return;
    unsigned order = rank & ~LOCKRANK_NESTS;
    for (unsigned i = 0; i < nheld; i++) {
        unsigned other = held[i].rank & ~LOCKRANK_NESTS;
        bool nests = other == order && (rank & LOCKRANK_NESTS);
        if (other > order || (other == order && !nests)) {
            fprintf(stderr,
                    "weft: lock order: taking %p (rank %u) while holding %p (rank %u)\n", lock,
                    order, held[i].lock, other);
            abort();
        }
    }
    if (nheld == HELD_MAX) {
        fputs("weft: lock order: more than 32 locks held at once\n", stderr);
        abort();
    }
    held[nheld++] = (struct held){lock, rank};
}

void lockrank_released(const void *lock)
{
    for (unsigned i = nheld; i-- > 0;) {
        if (held[i].lock == lock) {
            held[i] = held[--nheld];
            return;
        }
    }
}

bool lockrank_held(const void *lock)
{
    for (unsigned i = 0; i < nheld; i++)
        if (held[i].lock == lock)
            return true;
    return false;
}
