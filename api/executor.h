/*
 * What the blocking pools (api/executor.c) tell weft_metrics_get.
 */
#ifndef API_EXECUTOR_H
#define API_EXECUTOR_H

#include "weft.h"

struct runtime;

/* Fill m's blocking_* figures: every pool of rt, the default and each
 * weft_executor still open. With the list of running runtimes locked: the
 * final drain unhooks the pools under that lock before it frees them. */
void executor_metrics(struct runtime *rt, weft_metrics *m);

#endif /* API_EXECUTOR_H */
