/*
 * The runtime's figures for weft_metrics_get: what the workers count as they
 * go (struct worker_counters, sched/runtime.h), the time they sleep, and
 * the collector that sums it all with the depths of the queues.
 */
#ifndef SCHED_METRICS_H
#define SCHED_METRICS_H

#include <stdbool.h>
#include <stdint.h>

#include "weft.h"

struct runtime;
struct worker;

/* CLOCK_MONOTONIC in nanoseconds; never 0. */
uint64_t metrics_clock_ns(void);

/* Around a worker's sleep for want of work (its park, or the single-thread
 * loop's blocking poll): the two clock reads that time it. woken: another
 * thread ended the sleep (made a task ready), not a deadline or I/O. */
void worker_sleep_begin(struct worker *w);
void worker_sleep_end(struct worker *w, bool woken);

/* Fill every figure of *m that the scheduler knows (all but size and the
 * blocking pools'). Any thread; rt must stay up meanwhile (the list of
 * running runtimes locked). */
void runtime_metrics(struct runtime *rt, weft_metrics *m);

#endif /* SCHED_METRICS_H */
