/*
 * Fibers: the context switch under every task, on boost's fcontext assembly
 * (make_fcontext, jump_fcontext, ontop_fcontext; C linkage in
 * libboost_context.a, declared here so no C++ is involved).
 *
 * A switch is a plain jump between two stacks. The sanitizers must be told
 * about each one, or AddressSanitizer mistakes the new stack for a wild
 * pointer and ThreadSanitizer merges the histories of unrelated fibers: the
 * fiber_* helpers wrap the jump with those annotations and compile to the bare
 * jump otherwise. Valgrind learns about stacks when they are carved
 * (sched/stack.c).
 */
#ifndef SCHED_FIBER_H
#define SCHED_FIBER_H

#include <stddef.h>

typedef void *fcontext_t;
typedef struct {
    fcontext_t fctx;
    void *data;
} transfer_t;

transfer_t jump_fcontext(fcontext_t const to, void *vp);
fcontext_t make_fcontext(void *sp, size_t size, void (*fn)(transfer_t));
transfer_t ontop_fcontext(fcontext_t const to, void *vp, transfer_t (*fn)(transfer_t));

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define WEFT_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(WEFT_ASAN)
#define WEFT_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(WEFT_TSAN)
#define WEFT_TSAN 1
#endif

#ifdef WEFT_ASAN
void __sanitizer_start_switch_fiber(void **fake_stack_save, const void *bottom, size_t size);
void __sanitizer_finish_switch_fiber(void *fake_stack_save, const void **bottom_old,
                                     size_t *size_old);
#endif
#ifdef WEFT_TSAN
void *__tsan_get_current_fiber(void);
void *__tsan_create_fiber(unsigned flags);
void __tsan_destroy_fiber(void *fiber);
void __tsan_switch_to_fiber(void *fiber, unsigned flags);
#endif

/* What a sanitizer needs to know about one side of a switch. */
struct fiber_side {
    const void *stack_lo; /* lowest usable address */
    size_t stack_size;
    void *asan_fake_stack;
    void *tsan_fiber;
};

/* Jump from `from` to `to`. `dying` says `from` never runs again (its fake
 * stack can go). Returns what the other side passed back when `from` is
 * resumed. */
static inline transfer_t fiber_jump(struct fiber_side *from, const struct fiber_side *to,
                                    fcontext_t ctx, void *data, int dying)
{
#ifdef WEFT_ASAN
    __sanitizer_start_switch_fiber(dying ? NULL : &from->asan_fake_stack, to->stack_lo,
                                   to->stack_size);
#endif
#ifdef WEFT_TSAN
    __tsan_switch_to_fiber(to->tsan_fiber, 0);
#endif
    (void)from;
    (void)to;
    (void)dying;
    return jump_fcontext(ctx, data);
}

/* First thing after arriving on `self` (after fiber_jump returned, or at the
 * entry of a new fiber). `came_from` learns the bounds of the stack we left,
 * which is how a worker learns its own thread stack. */
static inline void fiber_arrived(struct fiber_side *self, struct fiber_side *came_from)
{
#ifdef WEFT_ASAN
    const void *lo;
    size_t size;
    __sanitizer_finish_switch_fiber(self->asan_fake_stack, &lo, &size);
    if (came_from) {
        came_from->stack_lo = lo;
        came_from->stack_size = size;
    }
#endif
    (void)self;
    (void)came_from;
}

#endif /* SCHED_FIBER_H */
