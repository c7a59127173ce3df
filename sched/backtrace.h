/*
 * Backtraces of fibers, for weft_dump, the slow-task warning and the
 * deadlock report: the return addresses of a stack (libunwind, walking from
 * a set of registers) and, apart, their names (libdw: function, and
 * file:line where the binary has debug information).
 *
 * A suspended task's registers are where its last switch saved them (boost's
 * fcontext frame at t->ctx); a running task's come from a signal delivered
 * to its worker (the slow-task monitor). Walking is separate from naming so
 * that the first can run in a signal handler and the second cannot.
 */
#ifndef SCHED_BACKTRACE_H
#define SCHED_BACKTRACE_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "sched/fiber.h"

#define BACKTRACE_MAX 48

struct backtrace {
    unsigned n;
    bool exact_first; /* ip[0] is where a signal interrupted, not a return address */
    uintptr_t ip[BACKTRACE_MAX];
};

/* Whether this build can walk stacks at all (false where the fcontext
 * frame's layout is not known to us, or without libunwind). */
bool backtrace_supported(void);

/* The stack of a fiber suspended at ctx (its saved fcontext_t). The caller
 * makes sure it stays suspended until this returns. */
void backtrace_of_fiber(fcontext_t ctx, struct backtrace *bt);

/* The calling thread's own stack, without the innermost `skip` frames. */
void backtrace_here(struct backtrace *bt, unsigned skip);

/* The interrupted stack of a signal handler's third argument. For use in
 * the handler itself. */
void backtrace_of_signal(void *ucontext, struct backtrace *bt);

/* Names for addresses of this process. Opening reads /proc/self/maps and
 * the symbol tables as needed: never in a signal handler. */
struct symbolizer;
struct symbolizer *symbolizer_open(void);
void symbolizer_close(struct symbolizer *s);

/* Print bt to out, one frame a line: "    #<i> <function>+0x<off> (<file>:<line>)"
 * (with s NULL, or for an address nobody can name, the bare address). */
void backtrace_print(const struct backtrace *bt, struct symbolizer *s, FILE *out);

#endif /* SCHED_BACKTRACE_H */
