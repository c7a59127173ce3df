/*
 * weft_dump and task names, in every mode:
 * - four tasks suspended in weft_sleep, weft_queue_get, weft_await and
 *   weft_read: the dump names each task, its wait (the awaited task, the
 *   queue, the descriptor and direction) and, from the backtrace of its
 *   fiber, the function of ours it is blocked in; the task that dumps is
 *   "running" with a backtrace through its own function;
 * - a thread that runs no task dumps over and over while a fork-join tree
 *   runs at 1, 2 and 4 workers: every dump succeeds, nothing hangs;
 * - bad input: a negative descriptor, a closed one, no weft_run running;
 * - names: asyncio's Task-N by default, a copy when set, earlier strings
 *   kept valid by a rename, EINVAL and NULL for NULL, the name in the dump
 *   and in the never-retrieved warning;
 * - WEFT_DUMP_SIGNAL: a signal to the process brings the same dump on
 *   stderr, and the program's own disposition of the signal is back after.
 * The waits are synchronised on the dump itself: it is taken again until
 * it shows all four tasks suspended.
 */
#define _GNU_SOURCE
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "../harness.h"
#include "weft_io.h"

#define SETTLE_ROUNDS 20000

/* ---- reading a dump back ---- */

/* A memfd's whole content, NUL-terminated, malloc'ed. */
static char *memfd_text(int fd)
{
    off_t len = lseek(fd, 0, SEEK_END);
    char *text = malloc((size_t)len + 1);
    if (!text)
        return NULL;
    ssize_t got = pread(fd, text, (size_t)len, 0);
    text[got > 0 ? got : 0] = '\0';
    return text;
}

static char *dump_text(void)
{
    int fd = memfd_create("dump", 0);
    check(fd >= 0);
    check(weft_dump(fd) == 0);
    char *text = memfd_text(fd);
    close(fd);
    return text;
}

/* The paragraph of the task named `name` (up to the blank line), or NULL;
 * malloc'ed. */
static char *paragraph_of(const char *text, const char *name)
{
    char key[128];
    snprintf(key, sizeof key, "\nname: %s\n", name);
    const char *hit = strstr(text, key);
    if (!hit)
        return NULL;
    const char *start = hit;
    while (start > text && !(start[-1] == '\n' && start[-2] == '\n'))
        start--;
    const char *end = strstr(hit + 1, "\n\n");
    size_t len = end ? (size_t)(end - start) : strlen(start);
    return strndup(start, len);
}

static bool paragraph_has(const char *text, const char *name, const char *what)
{
    char *p = paragraph_of(text, name);
    bool has = p && strstr(p, what);
    free(p);
    return has;
}

/* ---- four suspended tasks ---- */

static weft_queue *queue;
static int pair[2];

__attribute__((noinline)) static void *sleeper_body(void *arg)
{
    (void)arg;
    return weft_sleep(1e6) == ECANCELED ? NULL : (void *)2;
}

__attribute__((noinline)) static void *getter_body(void *arg)
{
    (void)arg;
    void *item;
    return weft_queue_get(queue, &item) == ECANCELED ? NULL : (void *)2;
}

__attribute__((noinline)) static void *awaiter_body(void *arg)
{
    weft_await(arg);
    return NULL;
}

__attribute__((noinline)) static void *reader_body(void *arg)
{
    (void)arg;
    char byte;
    size_t got;
    return weft_read(pair[0], &byte, 1, &got, WEFT_FOREVER) == ECANCELED ? NULL : (void *)2;
}

static bool all_suspended(const char *text)
{
    static const char *const names[] = {"sleeper", "getter", "awaiter", "reader"};
    for (size_t i = 0; i < 4; i++)
        if (!paragraph_has(text, names[i], "state: suspended\n"))
            return false;
    return true;
}

__attribute__((noinline)) static void *four_waits(void *arg)
{
    (void)arg;
    queue = weft_queue_create(0);
    check(socketpair(AF_UNIX, SOCK_STREAM, 0, pair) == 0);
    weft_task *t[4];
    t[0] = weft_spawn(sleeper_body, NULL);
    t[1] = weft_spawn(getter_body, NULL);
    t[2] = weft_spawn(awaiter_body, t[0]);
    t[3] = weft_spawn(reader_body, NULL);
    check(weft_task_set_name(t[0], "sleeper") == 0);
    check(weft_task_set_name(t[1], "getter") == 0);
    check(weft_task_set_name(t[2], "awaiter") == 0);
    check(weft_task_set_name(t[3], "reader") == 0);

    char *text = NULL;
    for (int round = 0; round < SETTLE_ROUNDS; round++) {
        free(text);
        text = dump_text();
        if (all_suspended(text))
            break;
        check(weft_sleep(0.001) == 0);
    }
    check(text && all_suspended(text));
    if (text) {
        char want[64];
        check(strstr(text, "weft dump: runtime ") == text);
        check(paragraph_has(text, "sleeper", "waits: sleep, due in "));
        check(paragraph_has(text, "sleeper", "sleeper_body"));
        check(paragraph_has(text, "getter", "waits: queue 0x"));
        check(paragraph_has(text, "getter", " get\n"));
        check(paragraph_has(text, "getter", "getter_body"));
        char *awaiter = paragraph_of(text, "awaiter");
        char *line = awaiter ? strstr(awaiter, "\nwaits: task ") : NULL;
        check(line && strncmp(strchr(line + 13, ' '), " (sleeper)\n", 11) == 0);
        free(awaiter);
        check(paragraph_has(text, "awaiter", "awaiter_body"));
        snprintf(want, sizeof want, "waits: fd %d read\n", pair[0]);
        check(paragraph_has(text, "reader", want));
        check(paragraph_has(text, "reader", "reader_body"));
        check(paragraph_has(text, "reader", "for: "));
        /* The dumping task itself. */
        check(paragraph_has(text, weft_task_name(weft_task_current()), "state: running\n"));
        check(paragraph_has(text, weft_task_name(weft_task_current()), "four_waits"));
    }
    free(text);
    for (int i = 0; i < 4; i++)
        weft_cancel(t[i]);
    for (int i = 0; i < 4; i++)
        check(weft_await(t[i]) == NULL || weft_error(weft_await(t[i])) == ECANCELED);
    /* Only now: the awaiter uses the sleeper's handle until it is done. */
    for (int i = 0; i < 4; i++)
        weft_task_release(t[i]);
    weft_queue_destroy(queue);
    close(pair[0]);
    close(pair[1]);
    return (void *)1;
}

static void test_dump_names_waits_and_functions(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(four_waits, NULL);
}

/* ---- a foreign thread dumps while a fork-join tree runs ---- */

enum { FOREIGN_DUMPS = 40 };
static int foreign_done, foreign_failed;

static void *dumper_thread(void *arg)
{
    int fd = *(int *)arg;
    /* WEFT_STRESS_SCALE shrinks it under valgrind, where each dump reads the
     * symbol tables slowly; at least two, so that one overlaps the trees. */
    int dumps = stress_count(FOREIGN_DUMPS, FOREIGN_DUMPS);
    for (int i = 0; i < (dumps < 2 ? 2 : dumps); i++)
        if (weft_dump(fd) != 0)
            __atomic_fetch_add(&foreign_failed, 1, __ATOMIC_RELAXED);
    __atomic_store_n(&foreign_done, 1, __ATOMIC_RELEASE);
    return NULL;
}

static void *tree(void *arg)
{
    intptr_t depth = (intptr_t)arg;
    if (depth == 0)
        return (void *)1;
    weft_task *kids[4];
    for (int i = 0; i < 4; i++)
        kids[i] = weft_spawn(tree, (void *)(depth - 1));
    intptr_t sum = 0;
    for (int i = 0; i < 4; i++) {
        void *r = weft_await(kids[i]);
        sum += weft_error(r) ? 0 : (intptr_t)r;
        weft_task_release(kids[i]);
    }
    if (depth % 2)
        check(weft_yield() == 0);
    return (void *)sum;
}

static void *foreign_dumps(void *arg)
{
    (void)arg;
    int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
    check(fd >= 0);
    __atomic_store_n(&foreign_done, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&foreign_failed, 0, __ATOMIC_RELAXED);
    pthread_t th;
    check(pthread_create(&th, NULL, dumper_thread, &fd) == 0);
    int trees = 0;
    while (!__atomic_load_n(&foreign_done, __ATOMIC_ACQUIRE) || trees == 0) {
        weft_task *root = weft_spawn(tree, (void *)4);
        check(weft_await(root) == (void *)256);
        weft_task_release(root);
        trees++;
    }
    pthread_join(th, NULL); /* it has finished: done is set last */
    check(__atomic_load_n(&foreign_failed, __ATOMIC_RELAXED) == 0);
    close(fd);
    return (void *)1;
}

static void test_dump_from_a_foreign_thread(void **state)
{
    (void)state;
    FOR_EACH_MODE(real_modes) run_scenario(foreign_dumps, NULL);
}

/* ---- bad input ---- */

static void *bad_descriptors(void *arg)
{
    (void)arg;
    check(weft_dump(-1) == EBADF);
    int fds[2];
    check(pipe(fds) == 0);
    close(fds[0]);
    close(fds[1]);
    check(weft_dump(fds[1]) == EBADF);
    return (void *)1;
}

static void test_dump_bad_input(void **state)
{
    (void)state;
    assert_int_equal(weft_dump(-1), EBADF);
    assert_int_equal(weft_dump(1), ESRCH); /* no weft_run is running */
    FOR_EACH_MODE(virtual_modes) run_scenario(bad_descriptors, NULL);
}

/* ---- names ---- */

static void *nothing(void *arg)
{
    (void)arg;
    return NULL;
}

static void *names(void *arg)
{
    (void)arg;
    weft_task *self = weft_task_current();
    if (mode.workers == 1)
        check(strcmp(weft_task_name(self), "Task-1") == 0);
    weft_task *t = weft_spawn(nothing, NULL);
    const char *first = weft_task_name(t);
    check(strncmp(first, "Task-", 5) == 0 && strcmp(first, weft_task_name(self)) != 0);
    if (mode.workers == 1)
        check(strcmp(first, "Task-2") == 0);
    check(weft_task_name(t) == first); /* made once */

    char buf[16] = "fetcher";
    check(weft_task_set_name(t, buf) == 0);
    strcpy(buf, "changed");
    check(strcmp(weft_task_name(t), "fetcher") == 0); /* a copy */
    const char *before = weft_task_name(t);
    check(weft_task_set_name(t, "renamed") == 0);
    check(strcmp(weft_task_name(t), "renamed") == 0);
    check(strcmp(before, "fetcher") == 0); /* still valid after the rename */
    check(strcmp(first, "Task-2") == 0 || mode.workers != 1);

    check(weft_task_set_name(NULL, "x") == EINVAL);
    check(weft_task_set_name(t, NULL) == EINVAL);
    check(weft_task_name(NULL) == NULL);

    char *text = dump_text();
    check(text && paragraph_has(text, "renamed", "task "));
    free(text);
    finish(t);
    return (void *)1;
}

static void test_task_names(void **state)
{
    (void)state;
    FOR_EACH_MODE(all_modes) run_scenario(names, NULL);
}

/* The never-retrieved warning names the task by its name. */
static void *fails(void *arg)
{
    (void)arg;
    return weft_fail(EIO, "on purpose");
}

static void *unretrieved(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn(fails, NULL);
    check(weft_task_set_name(t, "lost-cause") == 0);
    weft_task_release(t);
    check(weft_sleep(0.01) == 0);
    return (void *)1;
}

static void test_unretrieved_warning_names_the_task(void **state)
{
    (void)state;
    FOR_EACH_MODE(virtual_modes) {
        stderr_capture_begin();
        run_scenario(unretrieved, NULL);
        char *text = stderr_capture_end();
        expect(text && strstr(text, "name='lost-cause' error=EIO"));
        free(text);
    }
}

/* ---- WEFT_DUMP_SIGNAL: the same dump on stderr, from the monitor thread ---- */

static void *dump_on_signal(void *arg)
{
    (void)arg;
    weft_task *t = weft_spawn(sleeper_body, NULL);
    check(weft_task_set_name(t, "sleeper") == 0);
    /* First until the sleeper sleeps (each signal makes one dump). */
    bool asleep = false;
    for (int round = 0; round < SETTLE_ROUNDS && !asleep; round++) {
        char *text = dump_text();
        asleep = text && paragraph_has(text, "sleeper", "state: suspended\n");
        free(text);
        if (!asleep)
            check(weft_sleep(0.001) == 0);
    }
    check(asleep);
    /* To this thread: ThreadSanitizer holds a signal until its thread runs
     * instrumented code, which a worker parked in a futex may not do for a
     * long time; the kernel may pick any thread for kill(getpid()). */
    check(raise(SIGUSR1) == 0);
    /* Until the dump is there and shows the sleeper suspended (bounded:
     * a missing dump fails the check instead of hanging). */
    bool seen = false;
    for (int round = 0; round < SETTLE_ROUNDS && !seen; round++) {
        char *text = stderr_captured();
        seen = text && strstr(text, "weft dump: runtime ") &&
               paragraph_has(text, "sleeper", "sleeper_body");
        free(text);
        if (!seen)
            check(weft_sleep(0.001) == 0);
    }
    check(seen);
    weft_cancel(t);
    weft_await(t);
    weft_task_release(t);
    return (void *)1;
}

static void test_dump_on_signal(void **state)
{
    (void)state;
    for (int pass = 0; pass < 2; pass++) {
        /* The second time the program ignores the signal: it must be so
         * again after each run. */
        if (pass == 1)
            signal(SIGUSR1, SIG_IGN);
        setenv("WEFT_DUMP_SIGNAL", "USR1", 1);
        FOR_EACH_MODE(real_modes) {
            /* Captured around weft_run only: a failure must reach the real
             * stderr, with what was captured. */
            const weft_config cfg = mode_config();
            stderr_capture_begin();
            checks_reset();
            void *r = weft_run(dump_on_signal, NULL, &cfg);
            char *text = stderr_capture_end();
            if (check_failures || r != (void *)1)
                fprintf(stderr, "--- captured:\n%s\n---\n", text ? text : "(nothing)");
            free(text);
            checks_report();
            expect(r == (void *)1);
        }
        unsetenv("WEFT_DUMP_SIGNAL");
    }
    struct sigaction after;
    sigaction(SIGUSR1, NULL, &after);
    assert_true(after.sa_handler == SIG_IGN);
    signal(SIGUSR1, SIG_DFL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dump_names_waits_and_functions),
        cmocka_unit_test(test_dump_from_a_foreign_thread),
        cmocka_unit_test(test_dump_bad_input),
        cmocka_unit_test(test_task_names),
        cmocka_unit_test(test_unretrieved_warning_names_the_task),
        cmocka_unit_test(test_dump_on_signal),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
