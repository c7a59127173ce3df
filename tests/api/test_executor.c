/*
 * The blocking pools (weft_spawn_blocking, weft_executor_*): results and
 * errors of jobs; awaiting a job parks only the awaiting task (a job that
 * waits for another task to release it completes even with one worker);
 * jobs under gather, wait and wait_for; cancelling a queued job (its fn never
 * runs), a running one (the awaiter gets ECANCELED at once, fn finishes in
 * the background) and a task awaiting a job; the bounds of a custom pool and
 * of the default one, reached on demand; shutdown waiting for every job
 * without blocking its worker, refusing later jobs, and cancelled while it
 * waits; pools left open and jobs left running when main returns (drained by
 * weft_run); the deadlock rule once the last outside wake-up is gone; bad
 * input; a stress run of many jobs.
 *
 * Jobs that must wait for a task block on a POSIX semaphore that the task
 * posts; nothing waits on a clock. Scenarios run at 1, 2 and 4 workers, on
 * virtual time and on the real clock.
 */
#include <errno.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "../child.h"
#include "../harness.h"

#define ITEM(i) ((void *)(intptr_t)(i))
#define NUM(p) ((int)(intptr_t)(p))

/* A job that blocks until released, counting how many run at once. */
struct gate {
    sem_t go;
    int running;  /* atomic */
    int most;     /* atomic: the most seen running at once */
    int started;  /* atomic */
    int finished; /* atomic */
};

static void gate_init(struct gate *g)
{
    sem_init(&g->go, 0, 0);
    g->running = g->most = g->started = g->finished = 0;
}

static void gate_release(struct gate *g, int n)
{
    for (int i = 0; i < n; i++)
        sem_post(&g->go);
}

static void *gated(void *arg)
{
    struct gate *g = arg;
    __atomic_fetch_add(&g->started, 1, __ATOMIC_ACQ_REL);
    int now = __atomic_add_fetch(&g->running, 1, __ATOMIC_ACQ_REL);
    int most = load(&g->most);
    while (now > most && !__atomic_compare_exchange_n(&g->most, &most, now, false, __ATOMIC_ACQ_REL,
                                                      __ATOMIC_ACQUIRE))
        ;
    while (sem_wait(&g->go) != 0)
        ;
    __atomic_sub_fetch(&g->running, 1, __ATOMIC_ACQ_REL);
    __atomic_fetch_add(&g->finished, 1, __ATOMIC_ACQ_REL);
    return g;
}

static void *square(void *arg)
{
    check(weft_task_current() == NULL); /* a pool thread runs no task */
    intptr_t x = (intptr_t)arg;
    return ITEM(x * x);
}

static void *fail_eio(void *arg)
{
    (void)arg;
    return WEFT_ERR(EIO);
}

/* ---- results, errors, and awaiting parks only the awaiting task ---- */

static void *releaser(void *arg)
{
    struct gate *g = arg;
    check(weft_yield() == 0);
    gate_release(g, 1);
    return NULL;
}

static void *results_and_parking(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn_blocking(square, ITEM(12));
    check(t != NULL);
    check(NUM(weft_await(t)) == 144);
    check(weft_task_done(t) && !weft_task_cancelled(t));
    check(NUM(weft_task_result(t)) == 144);
    check(weft_task_message(t) == NULL);
    weft_task_release(t);

    t = weft_spawn_blocking(fail_eio, NULL);
    check(weft_error(weft_await(t)) == EIO);
    check(weft_task_message(t) != NULL);
    weft_task_release(t);

    /* The job waits for a task: with one worker, that task must run while
     * main awaits the job. */
    struct gate g;
    gate_init(&g);
    weft_task *job = weft_spawn_blocking(gated, &g);
    weft_task *rel = weft_spawn(releaser, &g);
    check(weft_await(job) == &g);
    weft_await(rel);
    weft_task_release(job);
    weft_task_release(rel);
    sem_destroy(&g.go);
    return (void *)1;
}

static void test_results_and_parking(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(results_and_parking, NULL);
}

/* The stealing scheduler's one worker sleeps on its park, not in
 * epoll_wait: a completion pushed from a pool thread must wake it (it hung). */
static void test_lone_stealing_worker(void **state)
{
    (void)state;
    const weft_config cfg = {.workers = 1, .stealing = true};
    mode = (struct mode){1, false};
    checks_reset();
    expect(weft_run(results_and_parking, NULL, &cfg) == (void *)1);
    checks_report();
}

/* ---- gather, wait, wait_for ---- */

static void *with_gather_wait(void *arg)
{
    (void)arg;
    weft_task *t[16];
    void *r[16];
    for (int i = 0; i < 16; i++)
        t[i] = weft_spawn_blocking(square, ITEM(i));
    check(weft_gather(t, 16, r, 0) == 0);
    for (int i = 0; i < 16; i++) {
        check(NUM(r[i]) == i * i);
        weft_task_release(t[i]);
    }

    struct gate g;
    gate_init(&g);
    weft_task *slow = weft_spawn_blocking(gated, &g);
    weft_task *fast = weft_spawn_blocking(square, ITEM(3));
    weft_task *both[] = {slow, fast};
    bool done[2];
    check(weft_wait(both, 2, WEFT_FIRST_COMPLETED, WEFT_FOREVER, done) == 0);
    check(done[1] && !done[0]);
    /* wait_for gives up: the job is cancelled, its fn runs on regardless. */
    yield_until(&g.started, 1);
    check(weft_error(weft_wait_for(slow, 0.5)) == ETIMEDOUT);
    check(weft_task_cancelled(slow));
    check(load(&g.finished) == 0);
    gate_release(&g, 1);
    yield_until(&g.finished, 1);
    weft_task_release(slow);
    weft_task_release(fast);
    sem_destroy(&g.go);
    return (void *)1;
}

static void test_gather_wait(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(with_gather_wait, NULL);
}

/* ---- cancellation ---- */

static void *cancel_queued_and_running(void *arg)
{
    (void)arg;
    struct gate g;
    gate_init(&g);
    weft_executor *pool = weft_executor_create(1);
    check(pool != NULL);
    weft_task *running = weft_executor_submit(pool, gated, &g);
    weft_task *queued = weft_executor_submit(pool, gated, &g);
    yield_until(&g.started, 1); /* the one thread is inside the first job */

    check(weft_cancel(queued));
    check(weft_error(weft_await(queued)) == ECANCELED);
    check(weft_task_cancelled(queued));
    check(weft_cancel(running));
    check(weft_error(weft_await(running)) == ECANCELED); /* at once: fn still blocks */
    check(load(&g.finished) == 0);
    check(!weft_cancel(running));

    gate_release(&g, 1);
    check(weft_executor_shutdown(pool) == 0);
    check(load(&g.started) == 1);  /* the queued job's fn never ran */
    check(load(&g.finished) == 1); /* the running one finished in the background */
    weft_task_release(running);
    weft_task_release(queued);
    sem_destroy(&g.go);
    return (void *)1;
}

static void test_cancel_jobs(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(cancel_queued_and_running, NULL);
}

static int awaiter_started;

static void *await_job(void *arg)
{
    __atomic_store_n(&awaiter_started, 1, __ATOMIC_RELEASE);
    return weft_await(arg);
}

static void *cancel_awaiter(void *arg)
{
    (void)arg;
    struct gate g;
    gate_init(&g);
    __atomic_store_n(&awaiter_started, 0, __ATOMIC_RELEASE);
    weft_task *job = weft_spawn_blocking(gated, &g);
    weft_task *t = weft_spawn(await_job, job);
    yield_until(&g.started, 1);
    /* Cancelled once it runs (awaiting the job, or about to: either way the
     * cancel goes to the job). Not after a fixed number of yields: at 4
     * workers another worker may have stolen t and not run it yet. */
    yield_until(&awaiter_started, 1);
    check(weft_yield() == 0);
    check(weft_cancel(t));
    check(weft_error(weft_await(t)) == ECANCELED);
    check(weft_task_cancelled(job)); /* awaiting a job forwards the cancel, as for a task */
    gate_release(&g, 1);
    yield_until(&g.finished, 1);
    weft_task_release(t);
    weft_task_release(job);
    sem_destroy(&g.go);
    return (void *)1;
}

static void test_cancel_awaiter(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(cancel_awaiter, NULL);
}

/* ---- bounds, reached on demand ---- */

static void *bounded(void *arg)
{
    int bound = (int)(intptr_t)arg;
    struct gate g;
    gate_init(&g);
    weft_executor *pool = bound ? weft_executor_create((unsigned)bound) : NULL;
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    int limit = bound ? bound : (cpus + 4 < 32 ? (int)cpus + 4 : 32);
    int jobs = 2 * limit + 3;
    weft_task **t = malloc((size_t)jobs * sizeof *t);
    for (int i = 0; i < jobs; i++)
        t[i] = bound ? weft_executor_submit(pool, gated, &g) : weft_spawn_blocking(gated, &g);
    yield_until(&g.running, limit); /* grows to the bound... */
    gate_release(&g, jobs);
    check(weft_gather(t, (size_t)jobs, NULL, 0) == 0);
    check(load(&g.most) == limit); /* ...and never past it */
    for (int i = 0; i < jobs; i++)
        weft_task_release(t[i]);
    free(t);
    if (pool)
        check(weft_executor_shutdown(pool) == 0);
    sem_destroy(&g.go);
    return (void *)1;
}

static void test_bounds(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        run_scenario(bounded, ITEM(3));
        run_scenario(bounded, ITEM(0));
    }
}

/* ---- shutdown ---- */

struct shutdown_race {
    weft_executor *pool;
    struct gate *g;
    int rc;
    int started; /* atomic: the shutting-down task is running */
};

static void *late_submitter(void *arg)
{
    struct shutdown_race *s = arg;
    weft_task *t;
    /* Until main is inside the shutdown (other workers may run us first). */
    while ((t = weft_executor_submit(s->pool, square, ITEM(2)))) {
        weft_task_release(t); /* queued behind the gated jobs: shutdown waits for it too */
        check(weft_yield() == 0);
    }
    check(errno == EINVAL);                           /* shutting down: no new jobs */
    check(weft_executor_shutdown(s->pool) == EINVAL); /* nor a second shutdown */
    gate_release(s->g, 4);
    return NULL;
}

static void *shutdown_waits(void *arg)
{
    (void)arg;
    struct gate g;
    gate_init(&g);
    weft_executor *pool = weft_executor_create(4);
    weft_task *t[4];
    for (int i = 0; i < 4; i++)
        t[i] = weft_executor_submit(pool, gated, &g);
    struct shutdown_race s = {pool, &g, 0, 0};
    weft_task *late = weft_spawn(late_submitter, &s);
    /* Waits for jobs that only the late task releases: the worker is free. */
    check(weft_executor_shutdown(pool) == 0);
    check(load(&g.finished) == 4);
    for (int i = 0; i < 4; i++) {
        check(weft_await(t[i]) == &g);
        weft_task_release(t[i]);
    }
    weft_await(late);
    weft_task_release(late);

    pool = weft_executor_create(2); /* never used */
    check(weft_executor_shutdown(pool) == 0);
    sem_destroy(&g.go);
    return (void *)1;
}

static void test_shutdown(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(shutdown_waits, NULL);
}

static void *shut_down(void *arg)
{
    struct shutdown_race *s = arg;
    __atomic_store_n(&s->started, 1, __ATOMIC_RELEASE);
    s->rc = weft_executor_shutdown(s->pool);
    return NULL;
}

static struct gate leftover_gate;

static void *shutdown_cancelled(void *arg)
{
    (void)arg;
    gate_init(&leftover_gate);
    weft_executor *pool = weft_executor_create(2);
    weft_task *job = weft_executor_submit(pool, gated, &leftover_gate);
    yield_until(&leftover_gate.started, 1);
    struct shutdown_race s = {pool, &leftover_gate, -1, 0};
    weft_task *t = weft_spawn(shut_down, &s);
    /* Cancelled once it runs, inside the shutdown or just before it: either
     * way the shutdown's wait answers ECANCELED. (Two yields were not enough
     * at 4 workers: another worker may steal t and not have run it yet.) */
    yield_until(&s.started, 1);
    check(weft_yield() == 0);
    check(weft_cancel(t));
    weft_await(t);
    check(s.rc == ECANCELED); /* the pool is left to weft_run's end */
    gate_release(&leftover_gate, 1);
    check(weft_await(job) == &leftover_gate);
    weft_task_release(job);
    weft_task_release(t);
    /* A pool never shut down, with a job still to finish: weft_run drains it. */
    pool = weft_executor_create(1);
    weft_task_release(weft_executor_submit(pool, gated, &leftover_gate));
    yield_until(&leftover_gate.started, 2);
    gate_release(&leftover_gate, 1);
    return (void *)1;
}

static void test_shutdown_cancelled_and_leftovers(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        run_scenario(shutdown_cancelled, NULL);
        assert_int_equal(leftover_gate.finished, 2);
        sem_destroy(&leftover_gate.go);
    }
}

/* ---- main returns while a job runs: asyncio.run waits for the pool ---- */

static int nap_started, nap_done;

static void *nap(void *arg)
{
    (void)arg;
    __atomic_store_n(&nap_started, 1, __ATOMIC_RELEASE);
    struct timespec ms = {.tv_nsec = 20 * 1000 * 1000};
    nanosleep(&ms, NULL);
    __atomic_store_n(&nap_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *leaves_a_job(void *arg)
{
    (void)arg;
    nap_started = nap_done = 0;
    weft_task *t = weft_spawn_blocking(nap, NULL);
    (void)t; /* handles stay valid until weft_run returns, which frees them */
    /* Started: it cannot be stopped, and weft_run waits for it. (A job
     * still queued when main returns is cancelled and never runs.) */
    yield_until(&nap_started, 1);
    return (void *)1;
}

static void test_job_left_running(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes)
    {
        run_scenario(leaves_a_job, NULL);
        assert_int_equal(nap_done, 1);
    }
}

/* ---- a job that never returns: weft_run's wait at its end is bounded ---- */

static sem_t stuck_go;
static int stuck_started, stuck_finished; /* atomic */

static void *stuck_job(void *arg)
{
    (void)arg;
    __atomic_store_n(&stuck_started, 1, __ATOMIC_RELEASE);
    while (sem_wait(&stuck_go) != 0)
        ;
    __atomic_store_n(&stuck_finished, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *leaves_a_stuck_job(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn_blocking(stuck_job, NULL); /* Task-2 */
    check(t != NULL);
    yield_until(&stuck_started, 1);
    return (void *)1;
}

static int threads_of_this_process(void)
{
    int n = 0;
    FILE *f = fopen("/proc/self/status", "r");
    char line[128];
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "Threads: %d", &n) == 1)
            break;
    if (f)
        fclose(f);
    return n;
}

/* In a child: weft_run returns after its bound although the job still runs
 * (the child's alarm fails the test if it hangs); then the job is let go,
 * and its thread, left behind, frees the pool and exits. */
static void stuck_child(void *arg)
{
    unsigned workers = *(unsigned *)arg;
    int before = threads_of_this_process(); /* a sanitizer may have one of its own */
    alarm(60);
    sem_init(&stuck_go, 0, 0);
    const weft_config cfg = {.workers = workers, .shutdown_timeout = 0.2};
    void *r = weft_run(leaves_a_stuck_job, NULL, &cfg);
    if (r != (void *)1 || __atomic_load_n(&stuck_finished, __ATOMIC_ACQUIRE))
        _exit(2);
    sem_post(&stuck_go);
    while (threads_of_this_process() > before) {
        struct timespec ms = {.tv_nsec = 1000 * 1000};
        nanosleep(&ms, NULL); /* polling the thread count: the left thread is detached */
    }
    _exit(__atomic_load_n(&stuck_finished, __ATOMIC_ACQUIRE) ? 0 : 3);
}

static void test_stuck_job_bounded(void **state)
{
    (void)state;
    for (unsigned workers = 1; workers <= 2; workers++) {
        int status = 0;
        char *text = run_child(stuck_child, &workers, &status);
        if (!WIFEXITED(status) || WEXITSTATUS(status) != 0 ||
            !strstr(text, "weft: weft_run: blocking job Task-2 (") ||
            !strstr(text, "still running after 0.2 s"))
            fail_msg("workers=%u: expected exit 0 and a report of Task-2; got %s %d, stderr:\n%s",
                     workers, WIFSIGNALED(status) ? "signal" : "exit status",
                     WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status), text);
        free(text);
    }
}

static void *bad_shutdown_timeout(void *arg)
{
    (void)arg;
    return (void *)1;
}

static void test_shutdown_timeout_config(void **state)
{
    (void)state;
    weft_config cfg = {.workers = 1, .shutdown_timeout = -1};
    assert_int_equal(weft_error(weft_run(bad_shutdown_timeout, NULL, &cfg)), EINVAL);
    cfg.shutdown_timeout = NAN;
    assert_int_equal(weft_error(weft_run(bad_shutdown_timeout, NULL, &cfg)), EINVAL);
    cfg.shutdown_timeout = WEFT_FOREVER;
    assert_ptr_equal(weft_run(bad_shutdown_timeout, NULL, &cfg), (void *)1);
}

/* ---- the deadlock rule once the last outside wake-up is gone ---- */

static void *deadlock_after_job(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn_blocking(nap, NULL);
    check(weft_cancel(t));
    check(weft_error(weft_await(t)) == ECANCELED);
    /* Nothing will ever set it: once the job is through, that is a deadlock,
     * and main is cancelled. */
    weft_event *e = weft_event_create();
    int rc = weft_event_wait(e);
    weft_event_destroy(e);
    weft_task_release(t);
    return rc == ECANCELED ? (void *)1 : NULL;
}

static void test_deadlock_after_job(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(deadlock_after_job, NULL);
}

/* ---- bad input ---- */

static void *bad_input(void *arg)
{
    (void)arg;
    errno = 0;
    check(weft_spawn_blocking(NULL, NULL) == NULL && errno == EINVAL);
    errno = 0;
    check(weft_executor_create(0) == NULL && errno == EINVAL);
    weft_executor *pool = weft_executor_create(1);
    errno = 0;
    check(weft_executor_submit(NULL, square, NULL) == NULL && errno == EINVAL);
    errno = 0;
    check(weft_executor_submit(pool, NULL, NULL) == NULL && errno == EINVAL);
    check(weft_executor_shutdown(NULL) == EINVAL);
    check(weft_executor_shutdown(pool) == 0);
    return (void *)1;
}

static void test_bad_input(void **state)
{
    (void)state;
    errno = 0;
    assert_null(weft_spawn_blocking(square, NULL));
    assert_int_equal(errno, EPERM);
    errno = 0;
    assert_null(weft_executor_create(2));
    assert_int_equal(errno, EPERM);
    assert_int_equal(weft_executor_shutdown(NULL), EPERM);
    FOR_EACH_MODE(all_modes) run_scenario(bad_input, NULL);
}

/* ---- stress ---- */

static void *submitter(void *arg)
{
    weft_executor *pool = arg;
    enum { N = 20 };
    weft_task *t[N];
    for (int i = 0; i < N; i++)
        t[i] = pool ? weft_executor_submit(pool, square, ITEM(i))
                    : weft_spawn_blocking(square, ITEM(i));
    for (int i = 0; i < N; i++) {
        if (i % 4 == 3)
            weft_cancel(t[i]);
        void *r = weft_await(t[i]);
        check(NUM(r) == i * i || weft_error(r) == ECANCELED);
        weft_task_release(t[i]);
    }
    return NULL;
}

static void *stress(void *arg)
{
    (void)arg;
    int tasks = (int)(50 * stress_scale());
    weft_executor *pool = weft_executor_create(3);
    weft_task **t = malloc((size_t)tasks * sizeof *t);
    for (int i = 0; i < tasks; i++)
        t[i] = weft_spawn(submitter, i % 2 ? pool : NULL);
    check(weft_gather(t, (size_t)tasks, NULL, 0) == 0);
    for (int i = 0; i < tasks; i++)
        weft_task_release(t[i]);
    free(t);
    check(weft_executor_shutdown(pool) == 0);
    return (void *)1;
}

static void test_stress(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(stress, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_results_and_parking),
        cmocka_unit_test(test_lone_stealing_worker),
        cmocka_unit_test(test_gather_wait),
        cmocka_unit_test(test_cancel_jobs),
        cmocka_unit_test(test_cancel_awaiter),
        cmocka_unit_test(test_bounds),
        cmocka_unit_test(test_shutdown),
        cmocka_unit_test(test_shutdown_cancelled_and_leftovers),
        cmocka_unit_test(test_job_left_running),
        cmocka_unit_test(test_stuck_job_bounded),
        cmocka_unit_test(test_shutdown_timeout_config),
        cmocka_unit_test(test_deadlock_after_job),
        cmocka_unit_test(test_bad_input),
        cmocka_unit_test(test_stress),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
