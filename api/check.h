/*
 * Argument checks shared by the calls that take an array of tasks.
 */
#ifndef API_CHECK_H
#define API_CHECK_H

#include <stddef.h>

#include "weft.h"

/* Sets *self to the running task. EPERM outside a task, EINVAL for a NULL
 * array or entry or a task of another runtime, EDEADLK if self is among
 * them; else 0. A released handle aborts, naming call (api/handle.h). */
int tasks_check(weft_task *const tasks[], size_t n, weft_task **self, const char *call);

/* The distinct tasks of tasks[0..n), in order of first appearance (asyncio
 * keeps one future per distinct argument), into out[0..n); their number, or
 * 0 with *err = ENOMEM. */
size_t tasks_distinct(weft_task *const tasks[], size_t n, weft_task **out, int *err);

#endif /* API_CHECK_H */
