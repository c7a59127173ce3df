/*
 * weft_metrics_get: bad arguments and the size rule (a short struct gets its
 * prefix and nothing beyond it, a canary says so); ESRCH outside weft_run;
 * the runtime it answers for from a task, from a thread of no runtime and
 * with two runtimes running; and figures that must add up: after a
 * fork-join run every task spawned has finished and run, a busy parent's
 * children were stolen, an idle stretch parks a worker, a blocking job's
 * completion wakes the sleeping loop, a sleeping task's timer is pending, a
 * pool's running and queued jobs are seen.
 *
 * Nothing waits on a clock: a task yields, and a thread spins, until the
 * figure it waits for shows, with a bound. Scenarios run in single-thread
 * mode, on one stealing worker, and at 2 and 4 workers, on the real clock.
 */
#include <pthread.h>
#include <sched.h>
#include <string.h>

#include "../harness.h"

#define ROUNDS_MAX 1000000 /* yields before a figure that must show is given up on */

struct metrics_mode {
    unsigned workers;
    bool stealing;
};

static const struct metrics_mode metrics_modes[] = {{1, false}, {1, true}, {2, false}, {4, false}};
static const struct metrics_mode parallel_modes[] = {{2, false}, {4, false}};
static bool stealing; /* of the mode being run */

#define FOR_EACH_METRICS_MODE(modes)                                                               \
    for (size_t mode_i = 0; mode_i < sizeof(modes) / sizeof(modes[0]) &&                           \
                            (mode.workers = modes[mode_i].workers, mode.virtual_time = false,      \
                            stealing = modes[mode_i].stealing, 1);                                 \
         mode_i++)

/* run_scenario in the current mode, stealing or not. */
static void run_metrics_scenario(void *(*main_fn)(void *), void *arg)
{
    const weft_config cfg = {.workers = mode.workers, .stealing = stealing};
    checks_reset();
    void *result = weft_run(main_fn, arg, &cfg);
    if (check_failures)
        fail_msg("[workers=%u%s] %d failed checks in tasks, the first at %s", mode.workers,
                 stealing ? ", stealing" : "", check_failures, check_first);
    if (result != (void *)1)
        fail_msg("[workers=%u%s] main returned %p", mode.workers, stealing ? ", stealing" : "",
                 result);
}

static weft_metrics get(void)
{
    weft_metrics m;
    check(weft_metrics_get(&m, sizeof m) == 0);
    check(m.size == sizeof m);
    return m;
}

/* --- arguments and the size rule ------------------------------------------------ */

static void test_outside_a_run(void **state)
{
    (void)state;
    weft_metrics m;
    assert_int_equal(weft_metrics_get(NULL, sizeof m), EINVAL);
    assert_int_equal(weft_metrics_get(&m, 0), EINVAL);
    assert_int_equal(weft_metrics_get(&m, sizeof m.size - 1), EINVAL);
    assert_int_equal(weft_metrics_get(&m, sizeof m), ESRCH);
    assert_int_equal(weft_metrics_get(&m, sizeof m.size), ESRCH);
}

#define CANARY 0xa5
#define SLACK 64

static union {
    weft_metrics m;
    unsigned char bytes[sizeof(weft_metrics) + SLACK];
} buf;

/* Ask for size bytes; the bytes past what was filled keep the canary. */
static void fill_prefix(size_t size)
{
    size_t filled = size < sizeof buf.m ? size : sizeof buf.m;
    memset(buf.bytes, CANARY, sizeof buf.bytes);
    check(weft_metrics_get(&buf.m, size) == 0);
    check(buf.m.size == filled);
    size_t spoiled = 0;
    for (size_t i = filled; i < sizeof buf.bytes; i++)
        spoiled += buf.bytes[i] != CANARY;
    check(spoiled == 0);
}

static void *sizes(void *arg)
{
    (void)arg;
    check(weft_metrics_get(NULL, sizeof(weft_metrics)) == EINVAL);
    check(weft_metrics_get(&buf.m, 0) == EINVAL);
    check(weft_metrics_get(&buf.m, 7) == EINVAL);
    fill_prefix(sizeof buf.m.size);
    fill_prefix(offsetof(weft_metrics, nworkers));
    fill_prefix(offsetof(weft_metrics, total));
    check(buf.m.nworkers == mode.workers &&
          buf.m.single_thread == (mode.workers == 1 && !stealing));
    fill_prefix(offsetof(weft_metrics, total) + 3); /* a field cut short: its first bytes */
    fill_prefix(sizeof buf.m - 1);
    fill_prefix(sizeof buf.m);
    fill_prefix(sizeof buf.bytes); /* a newer, longer struct: m->size says what was filled */
    check(buf.m.nworkers == mode.workers);
    return (void *)1;
}

static void test_sizes(void **state)
{
    (void)state;
    FOR_EACH_METRICS_MODE(metrics_modes)
    run_metrics_scenario(sizes, NULL);
}

/* --- which runtime ------------------------------------------------------------- */

struct probe {
    int rc;
    weft_metrics m;
};

static void *probe_thread(void *arg)
{
    struct probe *p = arg;
    p->rc = weft_metrics_get(&p->m, sizeof p->m);
    return NULL;
}

static void *join_thread(void *arg)
{
    return pthread_join(*(pthread_t *)arg, NULL) == 0 ? arg : NULL;
}

/* Wait for a thread to end: a blocking job joins it, so that the task waits
 * without keeping a worker busy (under valgrind, a spinning worker holds up
 * every other thread for its whole time slice). */
static void await_thread(pthread_t *thread)
{
    weft_task *join = weft_spawn_blocking(join_thread, thread);
    check(join && weft_await(join) == thread);
    weft_task_release(join);
}

/* Ask from a thread of no runtime. */
static void probe_from_thread(struct probe *p)
{
    pthread_t thread;
    check(pthread_create(&thread, NULL, probe_thread, p) == 0);
    await_thread(&thread);
}

static void *from_threads(void *arg)
{
    (void)arg;
    static struct probe p;
    probe_from_thread(&p);
    check(p.rc == 0 && p.m.size == sizeof p.m && p.m.nworkers == mode.workers);
    check(p.m.tasks_live >= 1); /* main */
    /* A blocking job's thread is no worker either. */
    weft_task *job = weft_spawn_blocking(probe_thread, &p);
    check(job && weft_await(job) == NULL);
    weft_task_release(job);
    check(p.rc == 0 && p.m.nworkers == mode.workers && p.m.blocking_busy >= 1);
    return (void *)1;
}

static void test_from_other_threads(void **state)
{
    (void)state;
    FOR_EACH_METRICS_MODE(metrics_modes)
    run_metrics_scenario(from_threads, NULL);
}

/* A second weft_run, on a thread of its own, while the first runs: a task
 * gets its own runtime, a thread of none the oldest. */
static void *inner_main(void *arg)
{
    (void)arg;
    weft_metrics m = get();
    check(m.nworkers == 1 && m.single_thread == 1);
    static struct probe p;
    probe_from_thread(&p);
    check(p.rc == 0 && p.m.nworkers == 2);
    return (void *)1;
}

static void *inner_run(void *arg)
{
    (void)arg;
    check(weft_run(inner_main, NULL, &(weft_config){.workers = 1}) == (void *)1);
    return NULL;
}

static void *two_runtimes(void *arg)
{
    (void)arg;
    pthread_t thread;
    check(pthread_create(&thread, NULL, inner_run, NULL) == 0);
    await_thread(&thread);
    check(get().nworkers == 2);
    return (void *)1;
}

static void test_two_runtimes(void **state)
{
    (void)state;
    mode = (struct mode){2, false};
    stealing = false;
    run_metrics_scenario(two_runtimes, NULL);
}

/* --- figures that add up ------------------------------------------------------- */

#define CHILDREN 16

static void *leaf(void *arg)
{
    for (int i = 0; i < 3; i++)
        check(weft_yield() == 0);
    return arg;
}

static void *node(void *arg)
{
    (void)arg;
    weft_task *kids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        check((kids[i] = weft_spawn(leaf, NULL)) != NULL);
    for (int i = 0; i < CHILDREN; i++)
        finish(kids[i]);
    return NULL;
}

/* Every figure of the workers summed is the total (tasks made off the
 * workers, main alone here, are in the total's tasks_spawned only). */
static void check_sums(const weft_metrics *m, uint64_t outside)
{
    weft_worker_metrics s = {0};
    unsigned n = m->nworkers < WEFT_METRICS_MAX_WORKERS ? m->nworkers : WEFT_METRICS_MAX_WORKERS;
    for (unsigned i = 0; i < n; i++) {
        const weft_worker_metrics *w = &m->workers[i];
        s.tasks_spawned += w->tasks_spawned;
        s.tasks_finished += w->tasks_finished;
        s.resumes += w->resumes;
        s.steal_attempts += w->steal_attempts;
        s.steals += w->steals;
        s.parks += w->parks;
        s.wakeups += w->wakeups;
        s.ready += w->ready;
        s.timers += w->timers;
        check(w->running_ns + w->parked_ns == m->uptime_ns);
        check(w->steals <= w->steal_attempts);
        check(w->wakeups <= w->parks);
    }
    check(s.tasks_spawned + outside == m->total.tasks_spawned);
    check(s.tasks_finished == m->total.tasks_finished);
    check(s.resumes == m->total.resumes);
    check(s.steal_attempts == m->total.steal_attempts && s.steals == m->total.steals);
    check(s.parks == m->total.parks && s.wakeups == m->total.wakeups);
    check(s.ready == m->total.ready && s.timers == m->total.timers);
    check(m->total.running_ns + m->total.parked_ns == n * m->uptime_ns);
    check(m->tasks_live == m->total.tasks_spawned - m->total.tasks_finished);
}

static void *adds_up(void *arg)
{
    (void)arg;
    weft_metrics before = get();
    check(before.nworkers == mode.workers);
    check(before.single_thread == (mode.workers == 1 && !stealing));
    check(before.tasks_live >= 1 && before.total.resumes >= 1);
    weft_task *nodes[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        check((nodes[i] = weft_spawn(node, NULL)) != NULL);
    for (int i = 0; i < CHILDREN; i++)
        finish(nodes[i]);
    /* A task that ended has woken its awaiter before its worker counts the
     * end: wait for the last counts to land. */
    weft_metrics m = get();
    for (int round = 0; m.tasks_live != 1 && round < ROUNDS_MAX; round++) {
        check(weft_yield() == 0);
        m = get();
    }
    check(m.tasks_live == 1); /* main */
    check(m.total.tasks_spawned == m.total.tasks_finished + 1);
    check(m.total.tasks_spawned >= before.total.tasks_spawned + CHILDREN * (CHILDREN + 1));
    check(m.total.resumes >= m.total.tasks_spawned);
    check(m.total.resumes > before.total.resumes);
    check(m.uptime_ns >= before.uptime_ns);
    check(m.total.timers == 0 && m.io_waiters == 0 && m.injected == 0);
    check(m.blocking_threads == 0 && m.blocking_busy == 0 && m.blocking_queued == 0);
    if (mode.workers == 1)
        check(m.total.steals == 0 && m.total.steal_attempts == 0);
    check_sums(&m, 1);
    return (void *)1;
}

static void test_adds_up(void **state)
{
    (void)state;
    FOR_EACH_METRICS_MODE(metrics_modes)
    run_metrics_scenario(adds_up, NULL);
}

static int ran; /* atomic: children of spin_parent that ran */

static void *count_run(void *arg)
{
    bump(&ran);
    return arg;
}

/* The children can only run elsewhere: their parent keeps its worker busy. */
static void *spin_parent(void *arg)
{
    (void)arg;
    weft_task *kids[CHILDREN];
    for (int i = 0; i < CHILDREN; i++)
        check((kids[i] = weft_spawn(count_run, NULL)) != NULL);
    while (load(&ran) < CHILDREN)
        ;
    for (int i = 0; i < CHILDREN; i++)
        finish(kids[i]);
    return NULL;
}

static void *steals(void *arg)
{
    (void)arg;
    weft_metrics m = get();
    for (int round = 0; m.total.steals == 0 && round < 100; round++) {
        __atomic_store_n(&ran, 0, __ATOMIC_RELEASE);
        weft_task *t = weft_spawn(spin_parent, NULL);
        check(t != NULL);
        finish(t);
        m = get();
    }
    check(m.total.steals > 0 && m.total.steal_attempts >= m.total.steals);
    check_sums(&m, 1);
    return (void *)1;
}

static void test_steals(void **state)
{
    (void)state;
    FOR_EACH_METRICS_MODE(parallel_modes)
    run_metrics_scenario(steals, NULL);
}

/* A blocking job that returns once a worker has gone to sleep after the
 * count in arg: its completion is what wakes it. */
static void *until_parked(void *arg)
{
    uint64_t parks = *(uint64_t *)arg;
    static weft_metrics m; /* one such job at a time */
    for (int round = 0; round < ROUNDS_MAX; round++) {
        if (weft_metrics_get(&m, sizeof m) != 0 || m.total.parks > parks)
            break;
        sched_yield();
    }
    return NULL;
}

static void *parks(void *arg)
{
    (void)arg;
    weft_metrics before = get();
    check(weft_sleep(0.01) == 0); /* nothing to do meanwhile: the workers sleep */
    weft_metrics m = get();
    check(m.total.parks > before.total.parks);
    check(m.total.parked_ns > before.total.parked_ns);
    check(m.total.wakeups <= m.total.parks);
    weft_task *job = weft_spawn_blocking(until_parked, &m.total.parks);
    check(job && weft_await(job) == NULL);
    weft_task_release(job);
    m = get();
    if (mode.workers == 1 && !stealing)
        check(m.total.wakeups > 0); /* the loop slept until the job's completion */
    check_sums(&m, 1);
    return (void *)1;
}

static void test_parks(void **state)
{
    (void)state;
    FOR_EACH_METRICS_MODE(metrics_modes)
    run_metrics_scenario(parks, NULL);
}

static void *timers(void *arg)
{
    (void)arg;
    weft_task *sleeper = weft_spawn(sleep_until_cancelled, NULL);
    check(sleeper != NULL);
    weft_metrics m = get();
    for (int round = 0; m.total.timers == 0 && round < ROUNDS_MAX; round++) {
        check(weft_yield() == 0);
        m = get();
    }
    check(m.total.timers >= 1);
    check(m.tasks_live >= 2);
    weft_cancel(sleeper);
    check(weft_error(weft_await(sleeper)) == ECANCELED);
    weft_task_release(sleeper);
    return (void *)1;
}

static void test_timers(void **state)
{
    (void)state;
    FOR_EACH_METRICS_MODE(metrics_modes)
    run_metrics_scenario(timers, NULL);
}

static int release; /* atomic: lets gated jobs return */

static void *gated(void *arg)
{
    while (!load(&release))
        sched_yield();
    return arg;
}

/* A job on the default pool: waits until the other pool shows a job running
 * and one queued, and returns what it saw. */
static void *watch_pools(void *arg)
{
    weft_metrics *m = arg;
    for (int round = 0; round < ROUNDS_MAX; round++) {
        if (weft_metrics_get(m, sizeof *m) != 0 || m->blocking_queued == 1)
            break;
        sched_yield();
    }
    return m;
}

static void *blocking(void *arg)
{
    (void)arg;
    __atomic_store_n(&release, 0, __ATOMIC_RELEASE);
    weft_executor *pool = weft_executor_create(1);
    check(pool != NULL);
    weft_task *running = weft_executor_submit(pool, gated, NULL);
    weft_task *queued = weft_executor_submit(pool, gated, NULL);
    check(running && queued);
    static weft_metrics m;
    weft_task *watch = weft_spawn_blocking(watch_pools, &m);
    check(watch && weft_await(watch) == &m);
    weft_task_release(watch);
    /* Each pool has one thread, and each runs a job: gated, and watch_pools. */
    check(m.blocking_threads == 2 && m.blocking_busy == 2 && m.blocking_queued == 1);
    __atomic_store_n(&release, 1, __ATOMIC_RELEASE);
    finish(running);
    finish(queued);
    check(weft_executor_shutdown(pool) == 0);
    m = get();
    check(m.blocking_busy == 0 && m.blocking_queued == 0);
    return (void *)1;
}

static void test_blocking_pool(void **state)
{
    (void)state;
    FOR_EACH_METRICS_MODE(metrics_modes)
    run_metrics_scenario(blocking, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_outside_a_run),
        cmocka_unit_test(test_sizes),
        cmocka_unit_test(test_from_other_threads),
        cmocka_unit_test(test_two_runtimes),
        cmocka_unit_test(test_adds_up),
        cmocka_unit_test(test_steals),
        cmocka_unit_test(test_parks),
        cmocka_unit_test(test_timers),
        cmocka_unit_test(test_blocking_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
