/*
 * The monitor thread (monitor.h).
 *
 * Its state is process-wide, under monitor_lock: how many runtimes use it,
 * and per signal how many asked for a dump on it (with the action it
 * replaced, put back by the last of them). The thread sleeps in poll(2) on
 * a pipe: the dump signal's handler writes 'd' to it, monitor_leave 'q'.
 * While some running runtime is in debug mode the poll has a timeout, and
 * each time it passes the thread looks at every worker of such runtimes:
 *
 * A worker has made no progress when it runs the same task and its
 * `resumes` count (tasks switched to) has not moved since the last look. From the
 * first look that saw it so, the stretch has lasted at least the time since;
 * past the threshold the monitor asks the worker for a sample: it sends
 * SIGURG to that thread (tgkill, by kernel id, so a thread that has ended
 * meanwhile gets nothing), whose handler copies the running task's id and
 * name and walks its stack into the worker's monitor_sample. The task
 * cannot end while the handler interrupts it, which is why the handler and
 * not the monitor reads it. One report per stretch.
 *
 * Sample states: IDLE -> ASKED (monitor) -> WRITING (handler) -> TAKEN
 * (handler) -> IDLE (monitor, once printed). A monitor that gives up on a
 * sample moves ASKED back to IDLE; if the handler got there first, it
 * waits for TAKEN instead, so a late handler never writes into a sample
 * being read.
 *
 * Lock order: monitor_lock is never held with the list of running
 * runtimes' lock; the thread takes only the latter, in each look.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "sched/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "sched/inspect.h"
#include "sched/lock_order.h"
#include "sched/runtime.h"

enum { SAMPLE_IDLE, SAMPLE_ASKED, SAMPLE_WRITING, SAMPLE_TAKEN };

#define SAMPLE_SIGNAL SIGURG
#define SAMPLE_WAIT 0.2     /* seconds to wait for a worker's sample */
#define LOOK_MIN 0.001      /* seconds between looks, at least */
#define LOOK_MAX 0.025      /* and at most: a quarter of the default threshold */

static pthread_mutex_t monitor_lock = PTHREAD_MUTEX_INITIALIZER;
static unsigned users;
static pthread_t thread;
static int wake_pipe[2] = {-1, -1}; /* [1] atomic: read by the dump signal's handler */
static unsigned dump_users[NSIG];
static struct sigaction dump_previous[NSIG];
static unsigned sample_users;
static bool sample_installed; /* our SIGURG handler is in: the program had none */
static struct sigaction sample_previous;

static double monotonic_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int monitor_parse_signal(const char *value)
{
    if (!value || !*value)
        return 0;
    char *end;
    long n = strtol(value, &end, 10);
    if (*end == '\0')
        return n > 0 && n < NSIG ? (int)n : -1;
    if (strncmp(value, "SIG", 3) == 0)
        value += 3;
    for (int sig = 1; sig < NSIG; sig++) {
        const char *abbrev = sigabbrev_np(sig);
        if (abbrev && strcmp(abbrev, value) == 0)
            return sig;
    }
    return -1;
}

/* --- signal handlers --------------------------------------------------- */

static void on_dump_signal(int sig)
{
    (void)sig;
    int saved = errno;
    char c = 'd';
    ssize_t n = write(__atomic_load_n(&wake_pipe[1], __ATOMIC_RELAXED), &c, 1);
    (void)n; /* a full pipe already holds a request */
    errno = saved;
}

static void on_sample_signal(int sig, siginfo_t *info, void *uc)
{
    (void)sig;
    (void)info;
    (void)uc;
    int saved = errno;
    struct worker *w = worker_self();
    struct monitor_sample *s = w ? __atomic_load_n(&w->sample, __ATOMIC_ACQUIRE) : NULL;
    int asked = SAMPLE_ASKED;
    if (s && __atomic_compare_exchange_n(&s->state, &asked, SAMPLE_WRITING, false,
                                         __ATOMIC_ACQUIRE, __ATOMIC_RELAXED)) {
        struct weft_task *t = __atomic_load_n(&w->current, __ATOMIC_RELAXED);
        s->id = t ? t->id : 0;
        s->name[0] = '\0';
        if (t) {
            char buf[TASK_NAME_BUF];
            const char *name = task_name(t, buf);
            size_t len = strnlen(name, sizeof s->name - 1);
            memcpy(s->name, name, len);
            s->name[len] = '\0';
        }
        /* From here: through this handler's frame and the kernel's signal
         * frame into the interrupted task (under ThreadSanitizer, which
         * delivers signals at its own safe points, from one of those). */
        backtrace_here(&s->bt, 0);
        __atomic_store_n(&s->state, SAMPLE_TAKEN, __ATOMIC_RELEASE);
    }
    errno = saved;
}

/* --- looking at the workers --------------------------------------------- */

/* Ask w for a sample and print the report; false if none came. */
static void report_slow(struct runtime *rt, struct worker *w, double stretch)
{
    struct monitor_sample *s = w->sample;
    bool sampled = false;
    int tid = __atomic_load_n(&w->tid, __ATOMIC_ACQUIRE);
    if (sample_installed && s && tid > 0) {
        __atomic_store_n(&s->state, SAMPLE_ASKED, __ATOMIC_RELEASE);
        syscall(SYS_tgkill, getpid(), tid, SAMPLE_SIGNAL);
        double until = monotonic_now() + SAMPLE_WAIT;
        for (;;) {
            int state = __atomic_load_n(&s->state, __ATOMIC_ACQUIRE);
            if (state == SAMPLE_TAKEN) {
                sampled = true;
                break;
            }
            int asked = SAMPLE_ASKED;
            if (monotonic_now() > until &&
                __atomic_compare_exchange_n(&s->state, &asked, SAMPLE_IDLE, false,
                                            __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
                break;
            nanosleep(&(struct timespec){.tv_nsec = 200000}, NULL);
        }
    }
    char *text = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&text, &len);
    if (!out)
        return;
    if (sampled && s->id)
        fprintf(out, "weft: slow task: task %llu (%s)", (unsigned long long)s->id, s->name);
    else
        fputs("weft: slow task: a task", out);
    fprintf(out,
            " has run for %.3f s on worker %u of runtime %u without reaching an await point "
            "(threshold %.3f s)\n",
            stretch, w->index, rt->serial, rt->slow_task);
    if (sampled) {
        struct symbolizer *sym = symbolizer_open();
        fputs("backtrace:\n", out);
        backtrace_print(&s->bt, sym, out);
        symbolizer_close(sym);
    }
    if (fclose(out) == 0)
        fputs(text, stderr);
    free(text);
    if (sampled)
        __atomic_store_n(&s->state, SAMPLE_IDLE, __ATOMIC_RELEASE);
}

static void look_at(struct runtime *rt, double now)
{
    for (unsigned i = 0; i < rt->nworkers; i++) {
        struct worker *w = &rt->workers[i];
        struct weft_task *t = __atomic_load_n(&w->current, __ATOMIC_RELAXED);
        uint64_t runs = __atomic_load_n(&w->counters.resumes, __ATOMIC_RELAXED);
        if (!t || t != w->seen_task || runs != w->seen_runs) {
            w->seen_task = t;
            w->seen_runs = runs;
            w->seen_since = now;
            w->seen_reported = false;
            continue;
        }
        if (!w->seen_reported && now - w->seen_since >= rt->slow_task) {
            w->seen_reported = true;
            report_slow(rt, w, now - w->seen_since);
        }
    }
}

/* One look at every runtime in debug mode; returns the poll timeout until
 * the next look in ms, -1 when none is in debug mode. */
static int look(void)
{
    double interval = INFINITY, now = monotonic_now();
    runtime_running_lock();
    for (struct runtime *rt = runtime_running_first(); rt; rt = rt->running_next) {
        if (rt->slow_task > 0) {
            look_at(rt, now);
            interval = fmin(interval, fmax(LOOK_MIN, fmin(LOOK_MAX, rt->slow_task / 4)));
        }
    }
    runtime_running_unlock();
    return interval == INFINITY ? -1 : (int)ceil(interval * 1e3);
}

/* This thread runs no task: every running runtime. */
static void dump_all(void)
{
    char *text = NULL;
    size_t len = 0;
    if (runtime_dump_for_caller(&text, &len) == 0)
        fwrite(text, 1, len, stderr);
    free(text);
}

static void *monitor_main(void *arg)
{
    (void)arg;
    int timeout = look();
    for (;;) {
        struct pollfd pfd = {.fd = wake_pipe[0], .events = POLLIN};
        int n = poll(&pfd, 1, timeout);
        if (n > 0) {
            char buf[64];
            ssize_t got = read(wake_pipe[0], buf, sizeof buf);
            bool quit = false, dump = false;
            for (ssize_t i = 0; i < got; i++) {
                quit |= buf[i] == 'q';
                dump |= buf[i] == 'd';
            }
            if (dump)
                dump_all();
            if (quit)
                return NULL;
        }
        timeout = look();
    }
}

/* --- joining and leaving ------------------------------------------------ */

static int start_thread(void)
{
    if (pipe2(wake_pipe, O_CLOEXEC | O_NONBLOCK) != 0)
        return errno;
    /* The thread takes no signal meant for the program. */
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    int err = pthread_create(&thread, NULL, monitor_main, NULL);
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    if (err) {
        close(wake_pipe[0]);
        close(wake_pipe[1]);
        wake_pipe[0] = wake_pipe[1] = -1;
    }
    return err;
}

static void stop_thread(void)
{
    char c = 'q';
    while (write(wake_pipe[1], &c, 1) < 0 && errno == EINTR)
        ;
    pthread_join(thread, NULL);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    __atomic_store_n(&wake_pipe[1], -1, __ATOMIC_RELAXED);
    wake_pipe[0] = -1;
}

static void dump_signal_add(int sig)
{
    if (dump_users[sig]++ > 0)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_dump_signal;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, &dump_previous[sig]);
}

static void dump_signal_remove(int sig)
{
    if (--dump_users[sig] == 0)
        sigaction(sig, &dump_previous[sig], NULL);
}

/* The sampling handler goes in only where the program has none of its own. */
static void sample_signal_add(void)
{
    if (sample_users++ > 0)
        return;
    struct sigaction current;
    sigaction(SAMPLE_SIGNAL, NULL, &current);
    bool theirs = (current.sa_flags & SA_SIGINFO) ? current.sa_sigaction != NULL
                                                  : current.sa_handler != SIG_DFL &&
                                                        current.sa_handler != SIG_IGN;
    if (theirs)
        return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_sample_signal;
    sa.sa_flags = SA_SIGINFO | SA_RESTART | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    sample_installed = sigaction(SAMPLE_SIGNAL, &sa, &sample_previous) == 0;
}

static void sample_signal_remove(void)
{
    if (--sample_users == 0 && sample_installed) {
        sigaction(SAMPLE_SIGNAL, &sample_previous, NULL);
        sample_installed = false;
    }
}

int monitor_join(struct runtime *rt)
{
    if (!rt->dump_signal && rt->slow_task <= 0)
        return 0;
    if (rt->slow_task > 0) {
        for (unsigned i = 0; i < rt->nworkers; i++) {
            struct monitor_sample *s = calloc(1, sizeof *s);
            if (!s) {
                for (unsigned j = 0; j < i; j++)
                    free(rt->workers[j].sample);
                return ENOMEM;
            }
            __atomic_store_n(&rt->workers[i].sample, s, __ATOMIC_RELEASE);
        }
    }
    mutex_lock(&monitor_lock, LOCK_RANK_MONITOR);
    int err = users == 0 ? start_thread() : 0;
    if (!err) {
        users++;
        if (rt->dump_signal)
            dump_signal_add(rt->dump_signal);
        if (rt->slow_task > 0)
            sample_signal_add();
    }
    mutex_unlock(&monitor_lock);
    if (err)
        for (unsigned i = 0; i < rt->nworkers; i++)
            free(rt->workers[i].sample);
    return err;
}

void monitor_leave(struct runtime *rt)
{
    if (!rt->dump_signal && rt->slow_task <= 0)
        return;
    mutex_lock(&monitor_lock, LOCK_RANK_MONITOR);
    if (rt->dump_signal)
        dump_signal_remove(rt->dump_signal);
    if (rt->slow_task > 0)
        sample_signal_remove();
    if (--users == 0)
        stop_thread();
    mutex_unlock(&monitor_lock);
    /* The workers have ended: no handler can write into these any more. */
    for (unsigned i = 0; i < rt->nworkers; i++) {
        free(rt->workers[i].sample);
        rt->workers[i].sample = NULL;
    }
}
