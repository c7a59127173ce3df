#!/usr/bin/env bash
# WEFT_DUMP_SIGNAL on a real server: examples/http_hello at 2 workers under wrk
# gets SIGUSR1 while it serves; it must write a task dump to stderr (the
# accept loop named, waiting on its listening descriptor, with a backtrace
# through the example's code), keep serving, and exit 0 on SIGINT.
# Usage: dump_signal.sh HTTP_HELLO
set -u
server=$1
dir=$(mktemp -d)
trap 'kill -9 $pid 2>/dev/null; rm -rf "$dir"' EXIT
fail() { echo "dump_signal: $*" >&2; echo "--- server stderr:" >&2; head -c 4000 "$dir/err" >&2; exit 1; }
# Bounded waits, in tenths of a second: only so that a failure does not hang.
wait_for() { for _ in $(seq 600); do grep -q "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done; return 1; }

WEFT_WORKERS=2 WEFT_DUMP_SIGNAL=USR1 "$server" --port 0 2>"$dir/err" &
pid=$!
wait_for "listening on port" "$dir/err" || fail "server did not start"
port=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$dir/err")
command -v wrk >/dev/null || fail "wrk is missing (scripts/deps installs it)"
wrk -t1 -c8 -d3s "http://127.0.0.1:$port/" >"$dir/wrk1" 2>&1 &
load=$!
# Dump until one is taken while wrk's connections are open: more than the
# listener waiting on a descriptor (each dump answers one signal).
under_load=0
for n in $(seq 1 50); do
    kill -USR1 $pid
    wait_for_count() { for _ in $(seq 600); do [ "$(grep -c '^weft dump: runtime 1' "$dir/err")" -ge "$1" ] && return 0; sleep 0.1; done; return 1; }
    wait_for_count $n || fail "no dump after SIGUSR1 number $n"
    last=$(awk '/^weft dump: runtime 1/ { text = "" } { text = text $0 "\n" } END { printf "%s", text }' "$dir/err")
    if [ "$(printf "$last" | grep -c '^waits: fd [0-9]* read')" -ge 3 ]; then under_load=1; break; fi
    kill -0 $load 2>/dev/null || break
done
[ $under_load = 1 ] || fail "no dump showed wrk's connections"
wait $load
grep -q "Requests/sec" "$dir/wrk1" || fail "wrk failed: $(cat "$dir/wrk1")"
kill -0 $pid 2>/dev/null || fail "the server died after the dump"
# Still serving after the dump.
wrk -t1 -c2 -d1s "http://127.0.0.1:$port/" >"$dir/wrk2" 2>&1
grep -q "Requests/sec" "$dir/wrk2" || fail "no requests served after the dump"
grep -q "waits: fd [0-9]* read" "$dir/err" || fail "the dump shows no task waiting on a descriptor"
grep -q "server_accept_loop\|weft_accept" "$dir/err" || fail "no backtrace through the accept loop"
kill -INT $pid
wait $pid
rc=$?
[ $rc -eq 0 ] || fail "exit status $rc after SIGINT"
echo "dump_signal: ok ($(grep -c '^task ' "$dir/err") tasks dumped)"
