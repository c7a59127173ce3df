/*
 * The blocking pools (api/executor.c) as weft_run and weft_metrics_get see
 * them.
 */
#ifndef API_EXECUTOR_H
#define API_EXECUTOR_H

#include "weft.h"

struct runtime;

/* Fill m's blocking_* figures: every pool of rt, the default and each
 * weft_executor still open. With the list of running runtimes locked: the
 * final drain unhooks the pools under that lock before it frees them. */
void executor_metrics(struct runtime *rt, weft_metrics *m);

/* After the run loop has returned: what asyncio.run's
 * shutdown_default_executor does, for the default pool and every custom
 * pool still open: wait for every job still on a pool thread (up to the
 * runtime's shutdown timeout), join the threads and free the pools. Blocks
 * the calling thread. */
void executor_drain_default(struct runtime *rt);

#endif /* API_EXECUTOR_H */
