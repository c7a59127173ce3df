/*
 * Stack overflow reports: a SIGSEGV handler, on an alternate signal stack,
 * that recognises a fault in the guard region under the running task's
 * stack, or under any other fiber stack (where a frame larger than a guard
 * lands), names the running task and aborts, instead of letting the overflow
 * run into whatever lies below.
 */
#ifndef SCHED_OVERFLOW_H
#define SCHED_OVERFLOW_H

struct weft_task;

/* Process-wide, reference counted so that runtimes may overlap. */
void overflow_handler_install(void);
void overflow_handler_remove(void);
/* Per thread: give this thread an alternate signal stack (NULL on failure),
 * and take it away again. */
void *overflow_altstack_enter(void);
void overflow_altstack_leave(void *alt);
/* Report that t overflowed its stack, and abort. */
__attribute__((noreturn)) void overflow_report(const struct weft_task *t);

#endif /* SCHED_OVERFLOW_H */
