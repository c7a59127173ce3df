/*
 * Running Coroutines with asyncio.run (2): a blocking read handed to a
 * thread pool. `with ThreadPoolExecutor() as pool:` is weft_executor_create
 * and weft_executor_shutdown; run_in_executor is weft_executor_submit, whose
 * job is awaited like a task while the workers go on with other tasks.
 */
#include <errno.h>
#include <unistd.h>

#include "example.h"

/* f.read(): the whole file, malloc'ed, or WEFT_ERR(code). Runs on the pool. */
static void *read_all(void *arg)
{
    FILE *f = arg;
    size_t len = 0, cap = 4096;
    char *text = malloc(cap + 1);

    while (text) {
        len += fread(text + len, 1, cap - len, f);
        if (len < cap)
            break;
        char *bigger = realloc(text, 2 * cap + 1);
        if (!bigger)
            free(text);
        text = bigger;
        cap *= 2;
    }
    if (!text)
        return WEFT_ERR(ENOMEM);
    if (ferror(f)) {
        free(text);
        return WEFT_ERR(EIO);
    }
    text[len] = '\0';
    return text;
}

/* ThreadPoolExecutor()'s default size: min(32, os.cpu_count() + 4). */
static unsigned default_pool_size(void)
{
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);

    return cpus > 0 && cpus < 28 ? (unsigned)cpus + 4 : 32;
}

static void *read_file(void *arg)
{
    const char *path = arg;
    void *content;

    weft_executor *pool = weft_executor_create(default_pool_size());
    if (!pool)
        return WEFT_ERR(errno); /* TODO(weft_errno) */
    FILE *f = fopen(path, "r");
    if (!f) {
        content = WEFT_ERR(errno);
    } else {
        weft_task *job = weft_executor_submit(pool, read_all, f);
        content = job ? weft_await(job) : WEFT_ERR(errno); /* TODO(weft_errno) */
        weft_task_release(job);
        fclose(f);
    }
    int rc = weft_executor_shutdown(pool);
    if (rc && !weft_error(content)) {
        free(content);
        content = WEFT_ERR(rc);
    }
    return content;
}

int main(void)
{
    void *content = weft_run(read_file, "/etc/hosts", NULL);

    if (weft_error(content))
        return EXIT_FAILURE;
    free(content);
    return EXIT_SUCCESS;
}
