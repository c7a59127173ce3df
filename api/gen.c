/*
 * Async generators (PEP 525), run the way asyncio runs them: inside the task
 * that consumes them. The body has its own fiber stack, but no task and no
 * loop entry of its own: weft_gen_next jumps straight from the consumer's
 * fiber to the body's, weft_gen_yield jumps back, and neither is a trip
 * through the loop, so a body that yields without awaiting costs no hop.
 * When the body awaits (weft_sleep, weft_await, ...) it is the consumer task
 * that suspends, from the body's stack; the worker later resumes that stack,
 * since task_run saves whichever context switched out, and the body goes on.
 *
 * While the body runs, the consumer task describes the body's stack (its
 * `side`, for the sanitizers, and its `stack`, for the overflow report); the
 * consumer's own are kept in the generator and put back when the body yields
 * or returns. The body's stack comes from the runtime's pool at the first
 * weft_gen_next (lazy start, as a generator's frame does nothing until the
 * first __anext__) and goes back when the body returns or is abandoned.
 *
 * The generator may be driven by different tasks over time, one at a time
 * (asyncio: anext() on a running generator raises RuntimeError; EBUSY here).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "api/fail.h"
#include "api/handle.h"
#include "sched/overflow.h"
#include "sched/runtime.h"
#include "sched/task.h"
#include "weft.h"

#ifdef WEFT_ASAN
#include <sanitizer/asan_interface.h>
#endif

enum gen_state { GEN_CREATED, GEN_SUSPENDED, GEN_RUNNING, GEN_DONE };

struct weft_gen {
    void *(*body)(weft_gen *g, void *arg);
    void *arg;
    struct runtime *rt;
    struct weft_task *consumer;      /* the task the body runs in now */
    struct stack *stack;             /* the body's, from its start to its end */
    struct stack *consumer_stack;    /* the consumer's, while the body runs */
    fcontext_t body_ctx;             /* where the body resumes */
    fcontext_t consumer_ctx;         /* where the consumer resumes, while the body runs */
    struct fiber_side body_side;     /* the body's stack, while the consumer runs */
    struct fiber_side consumer_side; /* the consumer's stack, while the body runs */
    unsigned char state;             /* enum gen_state */
    bool closing;                    /* aclose(): the body has been told ECANCELED */
    int resume_code;                 /* what weft_gen_yield returns: 0 or a thrown code */
    void *value;                     /* the value yielded, or what the body returned */
    uint32_t magic; /* api/handle.h; last: past what malloc reuses */
};

static void gen_entry(transfer_t from)
{
    struct weft_gen *g = from.data;
    g->consumer_ctx = from.fctx;
    fiber_arrived(&g->consumer->side, NULL);
    g->value = g->body(g, g->arg);
    g->state = GEN_DONE;
    /* Possibly another task than the one that started it: whoever resumed. */
    struct weft_task *self = g->consumer;
    fiber_jump(&self->side, &g->consumer_side, g->consumer_ctx, g, 1);
    abort(); /* a finished body is never resumed */
}

/* The first step: a stack and a fresh context for the body. */
static int gen_start(struct weft_gen *g, struct weft_task *self)
{
    g->rt = self->rt;
    g->stack = stack_get(&g->rt->stacks, &worker_self()->stacks);
    if (!g->stack)
        return ENOMEM;
    g->body_ctx = make_fcontext(stack_top(g->stack), g->stack->size, gen_entry);
    fiber_side_init(&g->body_side, g->stack->lo, g->stack->size);
    g->state = GEN_SUSPENDED;
    return 0;
}

/* On the consumer's fiber, once the body has returned or is abandoned. */
static void gen_release_stack(struct weft_gen *g, struct weft_task *self)
{
    if (stack_canary_dead(g->stack)) {
        self->stack = g->stack;
        overflow_report(self); /* does not return */
    }
#ifdef WEFT_ASAN
    /* An abandoned body never returned from its frames: clear their poison. */
    if (g->state != GEN_DONE)
        __asan_unpoison_memory_region(g->stack->lo, g->stack->size);
#endif
    stack_put(&g->rt->stacks, &worker_self()->stacks, g->stack);
    g->stack = NULL;
    fiber_side_destroy(&g->body_side);
}

/* Run the body inside self until it yields or returns; weft_gen_yield
 * returns `code` to it. */
static void gen_resume(struct weft_gen *g, struct weft_task *self, int code)
{
    g->consumer = self;
    g->resume_code = code;
    g->state = GEN_RUNNING;
    g->consumer_stack = self->stack;
    g->consumer_side = self->side;
    self->stack = g->stack;
    self->side = g->body_side;
    transfer_t back = fiber_jump(&g->consumer_side, &self->side, g->body_ctx, g, 0);
    /* The body yielded or returned, perhaps on another worker. */
    g->body_ctx = back.fctx;
    g->body_side = self->side;
    self->side = g->consumer_side;
    self->stack = g->consumer_stack;
    fiber_arrived(&self->side, NULL);
}

/* What weft_gen_next and weft_gen_throw return once the body stopped. */
static int gen_outcome(struct weft_gen *g, struct weft_task *self, void **value)
{
    if (g->state == GEN_SUSPENDED) {
        if (value)
            *value = g->value;
        return 0;
    }
    gen_release_stack(g, self);
    int code = weft_error(g->value);
    g->value = NULL;
    return code ? code : ENODATA; /* StopAsyncIteration */
}

/* Checks shared by the consumer's calls: 0, or why the body cannot run. */
static int gen_enter(struct weft_gen *g, struct weft_task **self)
{
    *self = task_self();
    if (!*self)
        return EPERM;
    if (!g)
        return EINVAL;
    switch (g->state) {
    case GEN_DONE:
        return ENODATA;
    case GEN_RUNNING:
        return EBUSY; /* "anext(): asynchronous generator is already running" */
    case GEN_CREATED:
        return gen_start(g, *self);
    default:
        return g->rt == (*self)->rt ? 0 : EINVAL;
    }
}

weft_gen *weft_gen_create(void *(*body)(weft_gen *g, void *arg), void *arg)
{
    if (!body)
        return fail_errno(EINVAL);
    struct weft_gen *g = calloc(1, sizeof *g);
    if (!g)
        return fail_errno(ENOMEM);
    g->body = body;
    g->arg = arg;
    g->state = GEN_CREATED;
    g->magic = HANDLE_LIVE(HANDLE_GEN);
    return g;
}

int weft_gen_next(weft_gen *g, void **value)
{
    HANDLE_CHECK(g, HANDLE_GEN, "weft_gen_next");
    struct weft_task *self;
    int err = gen_enter(g, &self);
    if (err)
        return err;
    gen_resume(g, self, 0);
    return gen_outcome(g, self, value);
}

int weft_gen_throw(weft_gen *g, int code, void **value)
{
    HANDLE_CHECK(g, HANDLE_GEN, "weft_gen_throw");
    if (!task_self())
        return EPERM;
    if (!g || code <= 0 || code > WEFT_MAX_ERRNO)
        return EINVAL;
    if (g->state == GEN_CREATED) {
        /* athrow() on a generator that never ran: it ends, raising code. */
        g->state = GEN_DONE;
        return code;
    }
    struct weft_task *self;
    int err = gen_enter(g, &self);
    if (err)
        return err;
    gen_resume(g, self, code);
    return gen_outcome(g, self, value);
}

int weft_gen_yield(weft_gen *g, void *value)
{
    HANDLE_CHECK(g, HANDLE_GEN, "weft_gen_yield");
    struct weft_task *self = task_self();
    if (!self)
        return EPERM;
    char *here = __builtin_frame_address(0);
    if (!g || g->state != GEN_RUNNING || g->consumer != self || here < g->stack->lo ||
        here >= (char *)stack_top(g->stack))
        return EINVAL; /* not called by this generator's body */
    if (g->closing)
        fputs("weft: an async generator yielded after it was closed (it ignored ECANCELED "
              "from weft_gen_yield); abandoning it\n",
              stderr);
    g->value = value;
    g->state = GEN_SUSPENDED;
    transfer_t back = fiber_jump(&self->side, &g->consumer_side, g->consumer_ctx, g, 0);
    /* Resumed by weft_gen_next, weft_gen_throw or weft_gen_destroy, maybe of
     * another task: the consumer of now is the one to describe. */
    g = back.data;
    g->consumer_ctx = back.fctx;
    fiber_arrived(&g->consumer->side, NULL);
    return g->resume_code;
}

void weft_gen_destroy(weft_gen *g)
{
    HANDLE_CHECK(g, HANDLE_GEN, "weft_gen_destroy");
    if (!g)
        return;
    if (g->state == GEN_RUNNING) {
        /* aclose() on a running generator: asyncio's RuntimeError. */
        fputs("weft: weft_gen_destroy on a generator whose body is running; ignored\n", stderr);
        return;
    }
    if (g->state == GEN_SUSPENDED) {
        struct weft_task *self = task_self();
        if (self && self->rt == g->rt) {
            g->closing = true;
            gen_resume(g, self, ECANCELED);
            /* It returned, or yielded again (it ignored the close) and is
             * abandoned where it stands: its stack goes back either way. */
            gen_release_stack(g, self);
        } else {
            /* No task to run its cleanup in: abandoned, and its stack goes
             * back with the runtime's pool. */
            fputs("weft: weft_gen_destroy outside a task of its runtime: "
                  "abandoning a suspended generator\n",
                  stderr);
            fiber_side_destroy(&g->body_side);
        }
    }
    HANDLE_KILL(g, HANDLE_GEN); /* not before: the body's cleanup may still yield */
    free(g);
}
