/*
 * The monitor: one thread for the whole process, running while some
 * weft_run wants it, that
 *  - writes a task dump to stderr when the process receives the signal of
 *    WEFT_DUMP_SIGNAL (the handler only writes a byte to a pipe), and
 *  - in debug mode, reports a task that has run longer than the threshold
 *    without reaching an await point, while it still runs, with a backtrace
 *    taken on its worker by a signal (SIGURG), as Go's sysmon spots a
 *    goroutine that will not yield.
 */
#ifndef SCHED_MONITOR_H
#define SCHED_MONITOR_H

#include <stdint.h>

#include "sched/backtrace.h"

struct runtime;

/* Where a worker's sampling signal leaves what it saw. */
struct monitor_sample {
    int state; /* atomic: SAMPLE_IDLE, SAMPLE_ASKED (by the monitor), SAMPLE_TAKEN */
    uint64_t id;
    char name[64];
    struct backtrace bt;
};

/* WEFT_DUMP_SIGNAL's value ("QUIT", "SIGUSR1", "10", ...) as a signal
 * number; 0 for none (unset or empty); -1 if it names no signal. */
int monitor_parse_signal(const char *value);

/* At the start and end of a weft_run that has rt->dump_signal or
 * rt->slow_task set (both calls do nothing otherwise). 0 or an errno code
 * (the thread or the pipe could not be made). rt must be in the list of
 * running runtimes between the two. */
int monitor_join(struct runtime *rt);
void monitor_leave(struct runtime *rt);

#endif /* SCHED_MONITOR_H */
