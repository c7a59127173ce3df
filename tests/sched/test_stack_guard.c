/*
 * A frame bigger than what is left of its stack moves the stack pointer in
 * one step, past the guard page-by-page overflow would hit first: without
 * -fstack-clash-protection the compiler does not probe the pages in between,
 * so the frame's first write lands wherever the distance takes it (this file
 * is built with -fno-stack-clash-protection, for compilers that default to
 * probing). With a 64 KiB stack and weft_config.stack_guard at 512 KiB, as
 * the header advises for such code, frames of 100 to 400 KiB that write their
 * lowest 2 KiB (the far end from the frame base) must still hit a guard: the
 * process aborts (SIGABRT) after printing "stack overflow" and the task's
 * name, and the stack of a task suspended next to it is untouched. A frame
 * that jumps over its own guard into
 * the guard of the next stack down must be reported as well, saying it hit a
 * guard. A write into a guard from a thread that runs no task has no task
 * to blame: weft says it hit a guard and leaves the fault to the handler
 * that was there before (here the default: death by SIGSEGV).
 *
 * Two tasks: the overflower (Task-2) starts first, so that the neighbour
 * (Task-3), which starts next, is given the slot just below it in the stack
 * pool when both run on one worker. The neighbour fills most of its stack
 * with a pattern before the overflower makes its frame; a SIGABRT handler
 * checks the pattern after weft's report and says on stderr whether it held.
 * Without a report the neighbour checks it itself, when it is released.
 *
 * Skipped under valgrind, whose stack model is not the kernel's: memcheck
 * takes a move of the stack pointer by less than --max-stackframe (2 MB) for
 * a new frame and marks all the memory it passed over undefined, the
 * neighbour's stack included (the neighbour check then reads "uninitialised"
 * bytes), and its delivery of each of these faults takes it seconds, minutes
 * for the whole program. AddressSanitizer and ThreadSanitizer run it: the
 * frames' shadow is mapped like any other, and weft's handler is installed
 * over theirs.
 */
#include <pthread.h>

#include "stack_child.h"

#define STACK_BYTES (64 * 1024)
#define GUARD_BYTES (512 * 1024) /* weft_config.stack_guard */
#define WRITTEN 2048       /* bytes the big frame writes, from its lowest address up */
#define CANVAS (40 * 1024) /* bytes of its stack the neighbour fills and checks */

static int filled;            /* atomic: the neighbour's canvas is ready */
static int released;          /* atomic: the overflower came back; the neighbour may check */
static unsigned char *canvas; /* atomic pointer: the neighbour's, for the SIGABRT handler */

static unsigned char pattern(size_t i)
{
    return (unsigned char)(i % 251 + 1); /* never 0, which the big frames write */
}

/* A function whose frame holds `bytes`; it writes the lowest WRITTEN of them. */
#define BIG_FRAME(name, bytes)                                                                     \
    static __attribute__((noinline)) unsigned char name(void)                                      \
    {                                                                                              \
        volatile unsigned char buf[bytes];                                                         \
        for (size_t i = 0; i < WRITTEN; i++)                                                       \
            buf[i] = 0;                                                                            \
        return buf[0];                                                                             \
    }

BIG_FRAME(frame_100, 100 * 1024)
BIG_FRAME(frame_140, 140 * 1024)
BIG_FRAME(frame_180, 180 * 1024)
BIG_FRAME(frame_200, 200 * 1024)
BIG_FRAME(frame_400, 400 * 1024)
/* From near the top of a stack, past the rest of it, its guard and the stack
 * below, to the middle of the guard below that (slots are guard + stack). */
BIG_FRAME(frame_past_guard, GUARD_BYTES * 3 / 2 + 2 * STACK_BYTES)

struct frame {
    unsigned kib;
    unsigned char (*make)(void);
};

/* async-signal-safe */
static void say(const char *text)
{
    ssize_t r = write(STDERR_FILENO, text, strlen(text));
    (void)r;
}

static void say_whether_canvas_held(void)
{
    const volatile unsigned char *c = __atomic_load_n(&canvas, __ATOMIC_ACQUIRE);

    for (size_t i = 0; i < CANVAS; i++)
        if (c[i] != pattern(i)) {
            say("neighbour overwritten\n");
            return;
        }
    say("neighbour intact\n");
}

/* Runs after weft's report, inside abort(), which then ends the process. */
static void on_abort(int sig)
{
    (void)sig;
    say_whether_canvas_held();
}

static void *overflower(void *arg)
{
    const struct frame *frame = arg;

    yield_until(&filled, 1);
    return (void *)(uintptr_t)frame->make();
}

static void *neighbour(void *arg)
{
    volatile unsigned char mine[CANVAS];

    (void)arg;
    for (size_t i = 0; i < CANVAS; i++)
        mine[i] = pattern(i);
    /* release: the pattern is written before anyone reads it through canvas */
    __atomic_store_n(&canvas, (unsigned char *)mine, __ATOMIC_RELEASE);
    bump(&filled);
    yield_until(&released, 1);
    say_whether_canvas_held();
    return NULL;
}

static void *run_frame(void *frame)
{
    struct sigaction sa = {.sa_handler = on_abort};

    sigemptyset(&sa.sa_mask);
    sigaction(SIGABRT, &sa, NULL);
    weft_task *over = weft_spawn(overflower, frame); /* Task-2 */
    weft_task *next = weft_spawn(neighbour, NULL);   /* Task-3 */
    weft_await(over);
    bump(&released);
    weft_await(next);
    weft_task_release(over);
    weft_task_release(next);
    return NULL;
}

/* Run frame in a child with `workers` workers; expect weft's report, naming
 * Task-2 and holding `words`, and the neighbour's stack intact. */
static void expect_report(struct frame frame, unsigned workers, const char *words)
{
    int status = 0;
    char *text = run_weft_child(run_frame, &frame, workers, STACK_BYTES, GUARD_BYTES, &status);
    char how[32];

    if (!child_aborted(status))
        fail_msg("%u KiB frame, workers=%u: expected death by SIGABRT, got %s; stderr:\n%s",
                 frame.kib, workers, child_ending(status, how, sizeof how), text);
    if (!strstr(text, "stack overflow") || !names_task_2(text) || !strstr(text, words))
        fail_msg("%u KiB frame, workers=%u: stderr should say \"stack overflow\", \"%s\" and "
                 "name Task-2; it was:\n%s",
                 frame.kib, workers, words, text);
    if (!strstr(text, "neighbour intact"))
        fail_msg("%u KiB frame, workers=%u: the neighbour's stack should be intact; stderr:\n%s",
                 frame.kib, workers, text);
    free(text);
}

/* The frames that end in the task's own guard, on one worker (the neighbour
 * on the slot below) and on two (stacks from two workers' caches). */
static void expect_own_guard_report(struct frame frame)
{
    if (RUNNING_ON_VALGRIND)
        skip();
    expect_report(frame, 1, "stack overflow");
    expect_report(frame, 2, "stack overflow");
}

static void test_frame_100k(void **state)
{
    (void)state;
    expect_own_guard_report((struct frame){100, frame_100});
}

static void test_frame_140k(void **state)
{
    (void)state;
    expect_own_guard_report((struct frame){140, frame_140});
}

static void test_frame_180k(void **state)
{
    (void)state;
    expect_own_guard_report((struct frame){180, frame_180});
}

static void test_frame_200k(void **state)
{
    (void)state;
    expect_own_guard_report((struct frame){200, frame_200});
}

static void test_frame_400k(void **state)
{
    (void)state;
    expect_own_guard_report((struct frame){400, frame_400});
}

/* One worker only: there the overflower's stack is never the lowest of its
 * chunk (a worker takes a batch of slots and hands out the highest first),
 * so a guard of the same chunk lies where the frame ends. */
static void test_frame_past_own_guard(void **state)
{
    (void)state;
    if (RUNNING_ON_VALGRIND)
        skip();
    expect_report(
        (struct frame){(GUARD_BYTES * 3 / 2 + 2 * STACK_BYTES) / 1024, frame_past_guard}, 1,
        "guard");
}

static void *write_at(void *addr)
{
    *(volatile char *)addr = 1;
    return NULL;
}

/* Has a plain thread write 4 KiB below this stack's lowest byte. */
static void *stray_writer(void *arg)
{
    volatile char here = 0;
    pthread_t thread;

    (void)arg;
    uintptr_t below = (uintptr_t)&here - STACK_BYTES - 4096;
    if (pthread_create(&thread, NULL, write_at, (void *)below) == 0)
        pthread_join(thread, NULL);
    return NULL;
}

static void *run_stray_writer(void *arg)
{
    weft_task *t = weft_spawn(stray_writer, arg);

    weft_await(t);
    weft_task_release(t);
    return NULL;
}

static void test_guard_hit_outside_tasks(void **state)
{
    int status = 0;
    char how[32];

    (void)state;
    if (RUNNING_ON_VALGRIND)
        skip();
    char *text = run_weft_child(run_stray_writer, NULL, 1, STACK_BYTES, 0, &status);
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGSEGV)
        fail_msg("expected death by SIGSEGV, got %s; stderr:\n%s", child_ending(status, how, sizeof how),
                 text);
    if (!strstr(text, "fault in the guard of a fiber stack"))
        fail_msg("stderr should say the fault was in a stack's guard; it was:\n%s", text);
    free(text);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_100k),
        cmocka_unit_test(test_frame_140k),
        cmocka_unit_test(test_frame_180k),
        cmocka_unit_test(test_frame_200k),
        cmocka_unit_test(test_frame_400k),
        cmocka_unit_test(test_frame_past_own_guard),
        cmocka_unit_test(test_guard_hit_outside_tasks),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
