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

/* What a sanitizer needs to know about one side of a switch: nothing in a
 * build without one, where a task struct is the smaller for it. */
struct fiber_side {
#ifdef WEFT_ASAN
    const void *stack_lo; /* lowest usable address */
    size_t stack_size;
    void *asan_fake_stack;
#endif
#ifdef WEFT_TSAN
    void *tsan_fiber;
#endif
#if !defined(WEFT_ASAN) && !defined(WEFT_TSAN)
    char none; /* ISO C wants a member */
#endif
};

/* A fresh fiber's side, on the stack [lo, lo + size). */
static inline void fiber_side_init(struct fiber_side *s, const void *lo, size_t size)
{
#ifdef WEFT_ASAN
    s->stack_lo = lo;
    s->stack_size = size;
    s->asan_fake_stack = NULL;
#endif
#ifdef WEFT_TSAN
    s->tsan_fiber = __tsan_create_fiber(0);
#endif
    (void)s;
    (void)lo;
    (void)size;
}

/* The fiber is over: free what the sanitizers keep for it (once). */
static inline void fiber_side_destroy(struct fiber_side *s)
{
#ifdef WEFT_TSAN
    if (s->tsan_fiber)
        __tsan_destroy_fiber(s->tsan_fiber);
    s->tsan_fiber = NULL;
#endif
    (void)s;
}

/* s shares another side's fiber, whose owner destroys it: forget it. */
static inline void fiber_side_forget(struct fiber_side *s)
{
#ifdef WEFT_TSAN
    s->tsan_fiber = NULL;
#endif
    (void)s;
}

/* After a guest ran on host's stack (task_run_inline): the fake stack
 * AddressSanitizer left is the host's again. */
static inline void fiber_side_take_back(struct fiber_side *host, const struct fiber_side *guest)
{
#ifdef WEFT_ASAN
    host->asan_fake_stack = guest->asan_fake_stack;
#endif
    (void)host;
    (void)guest;
}

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
