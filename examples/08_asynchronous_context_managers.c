/*
 * Asynchronous Context Managers: `async with` is weft_with(enter, body, exit,
 * ...). exit runs whatever way the body ends (a value, an error, a
 * cancellation), and like enter it may await.
 */
#include <errno.h>

#include "example.h"

/* Simulated async database connection. */
struct connection {
    char result[64];
};

/* __aenter__ */
static void *connection_open(void *ctx)
{
    say("Connecting...");
    int rc = weft_sleep(1);
    if (rc)
        return WEFT_ERR(rc);
    say("Connected");
    return ctx;
}

/* __aexit__: runs after the body, whatever it returned. */
static int connection_close(void *ctx, void *conn, int status)
{
    (void)ctx;
    (void)conn;
    (void)status;
    say("Disconnecting...");
    int rc = weft_sleep(0.5);
    say("Disconnected");
    return rc;
}

static void *connection_query(struct connection *conn, const char *sql)
{
    int rc = weft_sleep(0.1);
    if (rc)
        return WEFT_ERR(rc);
    snprintf(conn->result, sizeof conn->result, "Result of: %s", sql);
    return conn->result;
}

/* The body of the `async with` block. */
static void *use_connection(void *ctx, void *conn)
{
    (void)ctx;
    const char *result = connection_query(conn, "SELECT * FROM users");
    if (weft_error(result))
        return (void *)result;
    say("%s", result);
    return NULL;
}

static void *async_main(void *arg)
{
    struct connection conn;

    (void)arg;
    int rc = weft_with(connection_open, use_connection, connection_close, &conn, NULL);
    return rc ? WEFT_ERR(rc) : NULL;
}

int main(void)
{
    void *result = weft_run(async_main, NULL, NULL);

    fflush(stdout);
    return weft_error(result) ? EXIT_FAILURE : EXIT_SUCCESS;
}
