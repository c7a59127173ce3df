/*
 * The report of a handle used after its end (see handle.h).
 */
#include "api/handle.h"

#include <stdio.h>
#include <stdlib.h>

#include "sched/runtime.h"

static const char *const kind_names[] = {
    [HANDLE_TASK] = "task",   [HANDLE_QUEUE] = "queue",       [HANDLE_GEN] = "generator",
    [HANDLE_EVENT] = "event", [HANDLE_LOCK] = "lock",         [HANDLE_SEM] = "semaphore",
    [HANDLE_EXECUTOR] = "executor", [HANDLE_GROUP] = "task group", [HANDLE_TIMEOUT] = "timeout",
};

void handle_misuse(const char *call, enum handle_kind kind, uint32_t seen)
{
    const char *name = kind_names[kind];
    struct weft_task *self = task_self();
    char where[96] = "", buf[TASK_NAME_BUF];
    if (self)
        snprintf(where, sizeof where, " (in task %s)", task_name(self, buf));
    if (seen == HANDLE_FREED(kind))
        fprintf(stderr, "weft: %s: %s handle already %s%s\n", call, name,
                kind == HANDLE_TASK ? "released" : "destroyed", where);
    else
        fprintf(stderr, "weft: %s: not a live %s handle%s\n", call, name, where);
    abort();
}

_Static_assert(HANDLE_LIVE(HANDLE_TASK) == TASK_MAGIC_LIVE, "sched/task.h's live task word");
_Static_assert(HANDLE_FREED(HANDLE_TASK) == TASK_MAGIC_FREED, "sched/task.h's freed task word");
