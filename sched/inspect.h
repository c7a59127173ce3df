/*
 * A runtime described in words: every task, its state, what it waits on,
 * since when, and where its fiber stopped (weft_dump; the deadlock report,
 * which adds the cycles of the wait-for graph). The format is the README's
 * "When a program hangs or is slow".
 */
#ifndef SCHED_INSPECT_H
#define SCHED_INSPECT_H

#include <stdbool.h>
#include <stdio.h>

struct runtime;
struct symbolizer;

/* Write rt's tasks to out. sym names the frames (NULL: bare addresses).
 * Any thread, while rt runs (the caller keeps it from being taken down).
 * deadlocked: the deadlock report, which adds the cycles of the wait-for
 * graph. 0 or ENOMEM. */
int runtime_describe(struct runtime *rt, FILE *out, struct symbolizer *sym, bool deadlocked);

/* weft_dump's text (and WEFT_DUMP_SIGNAL's): from a task, its runtime's
 * tasks; from any other thread, those of every running runtime. 0 and
 * *text (malloc'ed, *len bytes; free it even on error), or ESRCH when no
 * runtime runs, or ENOMEM. */
int runtime_dump_for_caller(char **text, size_t *len);

#endif /* SCHED_INSPECT_H */
