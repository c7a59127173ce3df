/*
 * An echo server: every byte a client sends comes back, one task per
 * connection, on every worker (WEFT_WORKERS=N). The code reads like blocking
 * code; each weft_read and weft_write_all parks only its own task.
 *
 *   echo_server [--port N] [--host ADDR] [--max-conn N]
 *
 * Port 8080 by default (0: any); --max-conn caps the connections served at
 * once (examples/server.h). SIGINT or SIGTERM stops it cleanly: no new connections, the open ones are
 * cancelled and closed, exit status 0 (examples/server.h).
 */
#include "server.h"

/* A connection that sends nothing for this long is closed. */
#define IDLE_TIMEOUT 300.0

static void echo(int fd, void *ctx)
{
    (void)ctx;
    char buf[16384];
    for (;;) {
        size_t got;
        if (weft_read(fd, buf, sizeof buf, &got, IDLE_TIMEOUT) != 0 || got == 0)
            return; /* ECANCELED (shutdown), ETIMEDOUT, ECONNRESET, or end of file */
        if (weft_write_all(fd, buf, got, IDLE_TIMEOUT) != 0)
            return;
    }
}

int main(int argc, char **argv)
{
    return server_main(argc, argv, 8080, echo, NULL);
}
