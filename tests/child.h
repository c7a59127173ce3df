/*
 * Running a scenario that must end the process (an abort with a message)
 * in a forked child, and reading what it wrote on stderr. For tests of
 * weft's fatal reports: a misused handle, a stack overflow.
 */
#ifndef TESTS_CHILD_H
#define TESTS_CHILD_H

#include <errno.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

/* Fork; in the child call body(arg) with stderr on a pipe, then _exit(0).
 * Returns the child's stderr (malloc'ed, NUL-terminated) and its wait
 * status in *status. Call from the test's main thread, outside weft_run. */
static inline char *run_child(void (*body)(void *arg), void *arg, int *status)
{
    int fds[2];
    if (pipe(fds) != 0)
        abort();
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        abort();
    if (pid == 0) {
        /* cmocka's handlers for these, inherited, would go on with the test
         * program in the child instead of letting it die of the signal. */
        static const int fatal[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE, SIGSYS};
        for (size_t i = 0; i < sizeof fatal / sizeof fatal[0]; i++)
            signal(fatal[i], SIG_DFL);
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        body(arg);
        _exit(0);
    }
    close(fds[1]);
    size_t len = 0, cap = 4096;
    char *text = malloc(cap);
    for (;;) {
        if (!text)
            abort();
        if (len + 1 == cap)
            text = realloc(text, cap *= 2);
        if (!text)
            abort();
        ssize_t n = read(fds[0], text + len, cap - len - 1);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        len += (size_t)n;
    }
    text[len] = 0;
    close(fds[0]);
    while (waitpid(pid, status, 0) < 0)
        if (errno != EINTR)
            abort();
    return text;
}

/* Whether a child's wait status is death by SIGABRT. */
static inline bool child_aborted(int status)
{
    return WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
}

/* How a child ended, for failure messages: "signal 11", "exit status 0". */
static inline const char *child_ending(int status, char *buf, size_t size)
{
    if (WIFSIGNALED(status))
        snprintf(buf, size, "signal %d", WTERMSIG(status));
    else
        snprintf(buf, size, "exit status %d", WEXITSTATUS(status));
    return buf;
}

#endif /* TESTS_CHILD_H */
