/*
 * Stack overflow reports (see overflow.h). The task to blame is the one
 * running on the faulting thread's worker. A fault in its own guard is the
 * usual overflow; a fault in the guard of another stack (found on the stack
 * module's lock-free list of chunks) is a frame larger than the guard that
 * jumped over its own, and is blamed on the running task too, since only the
 * running task moves its stack pointer. Any other fault goes to whatever
 * handler was there before (by restoring it and returning, so the
 * instruction faults again).
 */
#include "sched/overflow.h"

#include <pthread.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "sched/lock_order.h"
#include "sched/runtime.h"

#define ALTSTACK_BYTES (64 * 1024)

static pthread_mutex_t install_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned installs;
static struct sigaction previous;

/* async-signal-safe output */
static void put(const char *s)
{
    ssize_t r = write(STDERR_FILENO, s, strlen(s));
    (void)r;
}

static void put_number(unsigned long long v)
{
    char buf[24];
    char *p = buf + sizeof buf;
    *--p = 0;
    do
        *--p = (char)('0' + v % 10);
    while (v /= 10);
    put(p);
}

/* "weft: stack overflow in task <name><how> (stack of <n> bytes; raise
 * weft_config.stack_size<advice>)", then abort. */
__attribute__((noreturn)) static void report(const struct weft_task *t, const char *how,
                                             const char *advice)
{
    char buf[TASK_NAME_BUF];
    put("weft: stack overflow in task ");
    put(task_name(t, buf));
    put(how);
    put(" (stack of ");
    put_number(t->stack ? t->stack->size : 0);
    put(" bytes; raise weft_config.stack_size");
    put(advice);
    put(")\n");
    abort();
}

void overflow_report(const struct weft_task *t)
{
    report(t, "", "");
}

static void on_segv(int sig, siginfo_t *info, void *uctx)
{
    struct worker *w = worker_self();
    struct weft_task *t = w ? w->current : NULL;
    if (t && t->stack && stack_guard_hit(t->stack, info->si_addr))
        overflow_report(t);
    if (stack_guard_hit_any(info->si_addr)) {
        if (t)
            report(t, ": a frame larger than its guard jumped over it into another stack's guard",
                   ", or build with -fstack-clash-protection");
        put("weft: fault in the guard of a fiber stack, with no task running on this thread\n");
    }
    /* Not ours: let the previous disposition have the fault. */
    if (previous.sa_flags & SA_SIGINFO) {
        if (previous.sa_sigaction) {
            previous.sa_sigaction(sig, info, uctx);
            return;
        }
    }
    sigaction(SIGSEGV, &previous, NULL);
}

void overflow_handler_install(void)
{
    mutex_lock(&install_lock, LOCK_RANK_INSTALL);
    if (installs++ == 0) {
        struct sigaction sa;
        memset(&sa, 0, sizeof sa);
        sa.sa_sigaction = on_segv;
        sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, &previous);
    }
    mutex_unlock(&install_lock);
}

void overflow_handler_remove(void)
{
    mutex_lock(&install_lock, LOCK_RANK_INSTALL);
    if (--installs == 0)
        sigaction(SIGSEGV, &previous, NULL);
    mutex_unlock(&install_lock);
}

void *overflow_altstack_enter(void)
{
    stack_t old;
    if (sigaltstack(NULL, &old) == 0 && !(old.ss_flags & SS_DISABLE))
        return NULL; /* the thread already has one; keep it */
    void *mem = malloc(ALTSTACK_BYTES);
    if (!mem)
        return NULL;
    stack_t ss = {.ss_sp = mem, .ss_size = ALTSTACK_BYTES, .ss_flags = 0};
    if (sigaltstack(&ss, NULL) != 0) {
        free(mem);
        return NULL;
    }
    return mem;
}

void overflow_altstack_leave(void *alt)
{
    if (!alt)
        return;
    stack_t ss = {.ss_sp = NULL, .ss_size = 0, .ss_flags = SS_DISABLE};
    sigaltstack(&ss, NULL);
    free(alt);
}
