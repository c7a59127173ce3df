/*
 * An HTTP/1.1 "Hello, World!" server, the `http` workload of the benchmarks:
 * keep-alive, pipelining, one task per connection, on every worker
 * (WEFT_WORKERS=N).
 *
 *   http_hello [--port N] [--host ADDR] [--max-conn N] [--header-timeout S]
 *
 * Port 8000 by default (0: any). A request head must be complete within S
 * seconds (default 10) of its first byte, or the client gets a 408 and the
 * connection closes; a bare LF or CR as a line end gets a 400 at once. How a
 * connection is served is examples/http_serve.h, how requests are read
 * examples/http_parse.h, the accept loop, the cap and the clean stop on
 * SIGINT or SIGTERM examples/server.h.
 */
#include "http_serve.h"

int main(int argc, char **argv)
{
    struct http_options opt = {.header_timeout = HTTP_HEADER_TIMEOUT};
    struct server_program p = {.default_port = 8000,
                               .serve = http_serve,
                               .ctx = &opt,
                               .options = http_program_options,
                               .noptions =
                                   sizeof http_program_options / sizeof http_program_options[0]};
    return server_program_run(&p, argc, argv);
}
