/*
 * runtime_describe (inspect.h). Every task is looked at once, in id order,
 * and described at once, so that a suspended one is held (task_pin) only
 * while its stack is walked, never while the whole dump is written.
 *
 * What may be read of a task from another thread: its id (fixed before it
 * is registered), state and wait word (atomic), its name (atomic, kept
 * until the task is freed, and the snapshot holds a reference), its wait
 * note (atomic fields; trusted only when its number is the current wait's),
 * and its stack while it is pinned. Pointers in a note are not followed,
 * but for tasks, which are looked up among the snapshot's by address, and a
 * lock's holder field, which the lock keeps while the pinned task waits in
 * it.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* strerrorname_np */
#endif
#include "sched/inspect.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/backtrace.h"
#include "sched/runtime.h"

/* The snapshot's tasks sorted by address, to look a pointer up without
 * following it. */
struct by_address {
    const struct weft_task *t;
    size_t index; /* in the array sorted by id */
};

static int by_id(const void *a, const void *b)
{
    uint64_t x = (*(struct weft_task *const *)a)->id, y = (*(struct weft_task *const *)b)->id;
    return (x > y) - (x < y);
}

static int address_order(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)((const struct by_address *)a)->t;
    uintptr_t y = (uintptr_t)((const struct by_address *)b)->t;
    return (x > y) - (x < y);
}

/* The index in the id-sorted snapshot of the task at address p, or -1. */
static long find(const struct by_address *by_addr, size_t n, const void *p)
{
    if (!p)
        return -1;
    struct by_address key = {.t = p};
    const struct by_address *hit = bsearch(&key, by_addr, n, sizeof key, address_order);
    return hit ? (long)hit->index : -1;
}

static void put_task_ref(FILE *out, const struct weft_task *t)
{
    char buf[TASK_NAME_BUF];
    fprintf(out, "task %llu (%s)", (unsigned long long)t->id, task_name(t, buf));
}

/* The "waits:" line of a suspended task; returns the task it waits for
 * (the wait-for graph's edge), or NULL. */
static struct weft_task *describe_wait(FILE *out, const struct wait_note *n, double now,
                                       struct weft_task **tasks, const struct by_address *by_addr,
                                       size_t count)
{
    const void *obj = __atomic_load_n(&n->obj, __ATOMIC_RELAXED);
    uintptr_t number = (uintptr_t)obj; /* for the kinds whose obj is an integer */
    double until;
    __atomic_load(&n->until, &until, __ATOMIC_RELAXED);
    struct weft_task *edge = NULL;
    fputs("waits: ", out);
    unsigned char what = (unsigned char)__atomic_load_n(&n->tag, __ATOMIC_RELAXED);
    switch (what) {
    case WAIT_FOR_TASK:
    case WAIT_FOR_SHIELD: {
        long i = find(by_addr, count, obj);
        fputs(what == WAIT_FOR_SHIELD ? "shield of " : "", out);
        if (i >= 0) {
            edge = tasks[i];
            put_task_ref(out, edge);
        } else {
            fputs("a task", out);
        }
        break;
    }
    case WAIT_FOR_SLEEP:
        if (until == INFINITY)
            fputs("sleep forever", out);
        else
            fprintf(out, "sleep, due in %.3f s", until - now);
        break;
    case WAIT_FOR_QUEUE_GET:
        fprintf(out, "queue %p get", obj);
        break;
    case WAIT_FOR_QUEUE_PUT:
        fprintf(out, "queue %p put", obj);
        break;
    case WAIT_FOR_QUEUE_JOIN:
        fprintf(out, "queue %p join", obj);
        break;
    case WAIT_FOR_EVENT:
        fprintf(out, "event %p", obj);
        break;
    case WAIT_FOR_LOCK: {
        struct weft_task *holder = __atomic_load_n((struct weft_task *const *)obj, __ATOMIC_RELAXED);
        long i = find(by_addr, count, holder);
        fprintf(out, "lock %p", obj);
        if (i >= 0) {
            edge = tasks[i];
            fputs(" held by ", out);
            put_task_ref(out, edge);
        } else {
            fputs(holder ? " held by a task that has ended" : " (being handed over)", out);
        }
        break;
    }
    case WAIT_FOR_SEMAPHORE:
        fprintf(out, "semaphore %p", obj);
        break;
    case WAIT_FOR_EXECUTOR:
        fprintf(out, "executor %p shutdown", obj);
        break;
    case WAIT_FOR_GATHER:
        fprintf(out, "gather of %zu tasks", (size_t)number);
        break;
    case WAIT_FOR_WAIT:
        fprintf(out, "wait on %zu tasks", (size_t)number);
        break;
    case WAIT_FOR_GROUP:
        fprintf(out, "task group %p", obj);
        break;
    case WAIT_FOR_FD_READ:
    case WAIT_FOR_FD_WRITE:
    case WAIT_FOR_FD_BOTH:
        fprintf(out, "fd %d %s", (int)(intptr_t)obj,
                what == WAIT_FOR_FD_BOTH ? "read+write" : what == WAIT_FOR_FD_WRITE ? "write" : "read");
        if (until != INFINITY)
            fprintf(out, ", times out in %.3f s", until - now);
        break;
    default:
        fputs("unknown", out);
        break;
    }
    fputc('\n', out);
    return edge;
}

static void describe_result(FILE *out, const struct weft_task *t)
{
    int code = result_error(t->result);
    if (t->cancelled)
        fputs("result: cancelled\n", out);
    else if (code)
    {
        const char *name = strerrorname_np(code);
        fprintf(out, "result: error %s\n", name ? name : "?");
    }
    else
        fputs("result: ok\n", out);
}

/* One paragraph for t; returns the task it waits for, or NULL. inline_task:
 * the task that runs on t's stack (task_run_inline), or NULL. */
static struct weft_task *describe_task(FILE *out, struct runtime *rt, struct weft_task *t,
                                       struct weft_task *inline_task, struct weft_task **tasks,
                                       const struct by_address *by_addr, size_t count,
                                       struct symbolizer *sym, double now)
{
    char buf[TASK_NAME_BUF];
    fprintf(out, "task %llu\nname: %s\n", (unsigned long long)t->id, task_name(t, buf));
    if (task_is_done(t)) {
        fputs("state: done\n", out);
        describe_result(out, t);
        fputc('\n', out);
        return NULL;
    }
    for (unsigned i = 0; i < rt->nworkers; i++) {
        if (__atomic_load_n(&rt->workers[i].current, __ATOMIC_RELAXED) != t)
            continue;
        double since;
        __atomic_load(&rt->workers[i].run_since, &since, __ATOMIC_RELAXED);
        fprintf(out, "state: running\nworker: %u\nfor: %.3f s\n", i, fmax(0, now - since));
        if (t == task_self()) {
            struct backtrace bt;
            backtrace_here(&bt, 1);
            fputs("backtrace:\n", out);
            backtrace_print(&bt, sym, out);
        }
        fputc('\n', out);
        return NULL;
    }
    if (inline_task) {
        fputs("state: suspended\nwaits: ", out);
        put_task_ref(out, inline_task);
        fputs(", running inline on this task's stack\n\n", out);
        return inline_task;
    }
    bool pinned = task_pin(t);
    if (!pinned && !task_switching_out(t)) {
        fputs(__atomic_load_n(&t->state, __ATOMIC_ACQUIRE) == TASK_NEW ? "state: ready (not started)\n"
                                                                        : "state: ready\n",
              out);
        fputc('\n', out);
        return NULL;
    }
    struct backtrace bt = {0};
    if (pinned)
        backtrace_of_fiber(t->ctx, &bt);
    struct wait_note *n = &t->note;
    /* The wait number wraps at 2^56 in the tag: no wait lasts that long. */
    bool noted = __atomic_load_n(&n->tag, __ATOMIC_RELAXED) >> 8 ==
                 (task_wait_number(t) & (UINT64_MAX >> 8));
    double since;
    __atomic_load(&n->since, &since, __ATOMIC_RELAXED);
    if (pinned)
        task_unpin(t);
    fputs("state: suspended\n", out);
    struct weft_task *edge = noted ? describe_wait(out, n, now, tasks, by_addr, count) : NULL;
    if (!noted)
        fputs("waits: unknown\n", out);
    if (noted)
        fprintf(out, "for: %.3f s\n", fmax(0, now - since));
    if (pinned) {
        fputs("backtrace:\n", out);
        if (bt.n)
            backtrace_print(&bt, sym, out);
        else
            fputs(backtrace_supported() ? "    (none)\n" : "    (not on this machine)\n", out);
    }
    fputc('\n', out);
    return edge;
}

/* The cycles of the wait-for graph, whose nodes have one edge at most: walk
 * from each node not yet seen until a node seen before; if it is on this
 * very walk, the walk from there is a cycle. */
static void describe_cycles(FILE *out, struct weft_task **tasks, struct weft_task **edges,
                            const struct by_address *by_addr, size_t count)
{
    unsigned char *color = calloc(count, 1); /* 0 unseen, 1 on this walk, 2 done */
    if (!color)
        return;
    for (size_t start = 0; start < count; start++) {
        long i = (long)start;
        while (i >= 0 && color[i] == 0) {
            color[i] = 1;
            i = find(by_addr, count, edges[i]);
        }
        if (i >= 0 && color[i] == 1) {
            fputs("cycle: ", out);
            long j = i;
            do {
                put_task_ref(out, tasks[j]);
                fputs(" -> ", out);
                j = find(by_addr, count, edges[j]);
            } while (j != i);
            put_task_ref(out, tasks[i]);
            fputc('\n', out);
        }
        for (i = (long)start; i >= 0 && color[i] == 1; i = find(by_addr, count, edges[i]))
            color[i] = 2;
    }
    free(color);
}

static int describe(struct runtime *rt, FILE *out, struct symbolizer *sym, bool with_cycles)
{
    size_t count = 0;
    struct weft_task **tasks = registry_snapshot(rt, true, &count);
    struct by_address *by_addr = tasks ? malloc((count ? count : 1) * sizeof *by_addr) : NULL;
    /* edges[i]: the task tasks[i] waits for (the wait-for graph), or NULL */
    struct weft_task **edges = by_addr ? calloc(count ? count : 1, sizeof *edges) : NULL;
    if (!edges) {
        free(by_addr);
        for (size_t i = 0; tasks && i < count; i++)
            task_unref(tasks[i]);
        free(tasks);
        return ENOMEM;
    }
    qsort(tasks, count, sizeof *tasks, by_id);
    for (size_t i = 0; i < count; i++)
        by_addr[i] = (struct by_address){.t = tasks[i], .index = i};
    qsort(by_addr, count, sizeof *by_addr, address_order);

    double now = runtime_now(rt);
    fprintf(out, "weft dump: runtime %u, pid %ld, %u worker%s (%s), %zu task%s\n", rt->serial,
            (long)getpid(), rt->nworkers, rt->nworkers == 1 ? "" : "s",
            rt->single ? "single-thread" : "work-stealing", count, count == 1 ? "" : "s");
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct weft_task *cur = __atomic_load_n(&rt->workers[i].current, __ATOMIC_RELAXED);
        fprintf(out, "worker %u: ", i);
        long k = find(by_addr, count, cur);
        if (k >= 0)
            put_task_ref(out, tasks[k]);
        else
            fputs("no task", out);
        fputc('\n', out);
    }
    fputc('\n', out);
    /* A host runs an awaited task inline, on its own stack (task.c): edges
     * first holds, for each host, that task. */
    for (size_t i = 0; i < count; i++) {
        long host = find(by_addr, count, __atomic_load_n(&tasks[i]->host, __ATOMIC_RELAXED));
        if (host >= 0 && !task_is_done(tasks[i]))
            edges[host] = tasks[i];
    }
    for (size_t i = 0; i < count; i++)
        edges[i] = describe_task(out, rt, tasks[i], edges[i], tasks, by_addr, count, sym, now);
    if (with_cycles)
        describe_cycles(out, tasks, edges, by_addr, count);
    for (size_t i = 0; i < count; i++)
        task_unref(tasks[i]);
    free(edges);
    free(by_addr);
    free(tasks);
    return 0;
}

int runtime_describe(struct runtime *rt, FILE *out, struct symbolizer *sym, bool deadlocked)
{
    /* A task woken while pinned is in no run queue until task_unpin: the
     * deadlock rule must not count it out meanwhile, and must look again
     * afterwards (it may have been held off while nothing could run). A
     * deadlock report needs neither: nothing runs, and it is the rule's. */
    if (!deadlocked)
        runtime_external_begin(rt);
    int err = describe(rt, out, sym, deadlocked);
    if (!deadlocked) {
        runtime_external_end(rt);
        sched_poke(rt);
    }
    return err;
}

int runtime_dump_for_caller(char **text, size_t *len)
{
    *text = NULL;
    FILE *out = open_memstream(text, len);
    if (!out)
        return ENOMEM;
    struct symbolizer *sym = symbolizer_open(); /* NULL: addresses without names */
    int err = 0;
    runtime_running_lock();
    struct worker *w = worker_self();
    struct runtime *rt = w ? w->rt : runtime_running_first();
    if (!rt)
        err = ESRCH;
    for (; rt && !err; rt = w ? NULL : rt->running_next)
        err = runtime_describe(rt, out, sym, false);
    runtime_running_unlock();
    symbolizer_close(sym);
    if (fclose(out) != 0 && !err)
        err = ENOMEM;
    return err;
}
