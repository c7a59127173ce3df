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

#endif /* SCHED_INSPECT_H */
