/*
 * The blocking thread pools' hook into weft_run (api/executor.c implements
 * it): what asyncio.run's shutdown_default_executor does, for the default
 * pool and for every custom pool still open when main's tasks are all done.
 */
#ifndef SCHED_BLOCKING_H
#define SCHED_BLOCKING_H

struct runtime;

/* After the run loop has returned: wait for every job still on a pool
 * thread, join the threads and free the pools. Blocks the calling thread. */
void executor_drain_default(struct runtime *rt);

#endif /* SCHED_BLOCKING_H */
