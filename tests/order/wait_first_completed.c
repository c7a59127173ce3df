/* weft_wait: WEFT_FIRST_COMPLETED when several tasks finish in the same loop
 * iteration (all of them are done on return, the caller resumes after the
 * last one's callback), WEFT_FIRST_EXCEPTION past successes, a timeout that
 * returns with nothing cancelled, and WEFT_ALL_COMPLETED. Twin of
 * wait_first_completed.py. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "vtime.h"

struct job {
    const char *name;
    double delay;
    int errno_;
};

static void *job(void *arg)
{
    const struct job *j = arg;

    weft_sleep(j->delay);
    if (j->errno_) {
        vtime_log("%s fails", j->name);
        return weft_fail(j->errno_, "failed");
    }
    vtime_log("%s done", j->name);
    return (void *)j->name;
}

/* The names of the tasks done, as the Python twin prints them. */
static const char *names(const struct job *jobs, const bool done[4])
{
    static char buf[32];

    buf[0] = '\0';
    for (int i = 0; i < 4; i++) {
        if (done[i]) {
            if (buf[0])
                strcat(buf, " ");
            strcat(buf, jobs[i].name);
        }
    }
    return buf[0] ? buf : "-";
}

static void *main_task(void *arg)
{
    static const struct job first[4] = {{"a", 2, 0}, {"b", 1, 0}, {"c", 1, 0}, {"d", 3, 0}};
    static const struct job second[4] = {{"e", 1, 0}, {"f", 2, EIO}, {"g", 2, 0}, {"h", 4, 0}};
    weft_task *t[4];
    bool done[4];

    (void)arg;
    for (int i = 0; i < 4; i++)
        t[i] = weft_spawn(job, (void *)&first[i]);
    weft_wait(t, 4, WEFT_FIRST_COMPLETED, WEFT_FOREVER, done);
    vtime_log("first completed: %s", names(first, done));
    weft_wait(t, 4, WEFT_ALL_COMPLETED, 0.5, done);
    bool any_cancelled = false;
    for (int i = 0; i < 4; i++)
        any_cancelled |= weft_task_cancelled(t[i]);
    vtime_log("after a timeout: %s, cancelled: %s", names(first, done),
              any_cancelled ? "True" : "False");
    weft_wait(t, 4, WEFT_ALL_COMPLETED, WEFT_FOREVER, done);
    vtime_log("all completed: %s", names(first, done));
    for (int i = 0; i < 4; i++)
        weft_task_release(t[i]);

    for (int i = 0; i < 4; i++)
        t[i] = weft_spawn(job, (void *)&second[i]);
    weft_wait(t, 4, WEFT_FIRST_EXCEPTION, WEFT_FOREVER, done);
    vtime_log("first exception: %s", names(second, done));
    weft_wait(t, 4, WEFT_ALL_COMPLETED, 0, done);
    vtime_log("zero timeout: %s", names(second, done));
    weft_wait(t, 4, WEFT_FIRST_EXCEPTION, WEFT_FOREVER, done);
    vtime_log("first exception again: %s", names(second, done));
    weft_wait(t, 4, WEFT_ALL_COMPLETED, WEFT_FOREVER, NULL);
    vtime_log("main done");
    for (int i = 0; i < 4; i++)
        weft_task_release(t[i]);
    return NULL;
}

int main(void)
{
    return vtime_run(main_task);
}
