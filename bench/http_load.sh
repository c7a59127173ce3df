#!/usr/bin/env bash
# The `http` row of BENCHMARKS.md for weft: start examples/http_hello on a free port of
# 127.0.0.1 with WEFT_WORKERS=N, load it with `wrk -t1 -c64 -d5s --latency` (the peers'
# load, parsed as the peers' run script parses it), print the two JSON lines
# (requests_per_s, p99_ms), then stop the server with SIGTERM and check that it exits 0.
# One run; bench/run takes the median of three.
#
# Usage: bench/http_load.sh [WORKERS]          (default 1)
#   WEFT_HTTP_HELLO  the server binary (default build/Release/examples/http_hello)
#   WRK_DURATION     wrk's -d (default 5s)
# Exits non-zero if the server would not start or exit cleanly, or wrk saw errors
# (its "Socket errors" or "Non-2xx" lines); the JSON lines are printed anyway.
set -uo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
workers=${1:-1}
bin=${WEFT_HTTP_HELLO:-$root/build/Release/examples/http_hello}
if [ ! -x "$bin" ]; then
    echo "http_load: no $bin; build it with" \
        "cmake --preset Release && cmake --build --preset Release --target weft_examples" >&2
    exit 1
fi
command -v wrk >/dev/null || { echo "http_load: wrk is missing (bash scripts/deps)" >&2; exit 1; }

log=$(mktemp)
pid=
cleanup() {
    [ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null
    rm -f "$log"
}
trap cleanup EXIT

WEFT_WORKERS=$workers "$bin" --port 0 --host 127.0.0.1 2>"$log" &
pid=$!
port=
for _ in $(seq 100); do
    port=$(sed -n 's/^listening on port \([0-9]*\)$/\1/p' "$log")
    [ -n "$port" ] && break
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
if [ -z "$port" ]; then
    echo "http_load: the server did not start; its stderr:" >&2
    cat "$log" >&2
    exit 1
fi

out=$(wrk -t1 -c64 -d"${WRK_DURATION:-5s}" --latency "http://127.0.0.1:$port/" 2>&1)
failed=0

# Stop: SIGTERM, then up to 10 s to finish the open connections and exit 0.
kill -TERM "$pid"
for _ in $(seq 200); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.05
done
if kill -0 "$pid" 2>/dev/null; then
    echo "http_load: the server did not exit within 10 s of SIGTERM" >&2
    failed=1
fi
wait "$pid"
status=$?
pid=
if [ "$status" -ne 0 ]; then
    echo "http_load: the server exited with status $status; its stderr:" >&2
    cat "$log" >&2
    failed=1
fi

if grep -Eq 'Socket errors|Non-2xx' <<<"$out"; then
    echo "http_load: wrk saw errors:" >&2
    grep -E 'Socket errors|Non-2xx' <<<"$out" >&2
    failed=1
fi
rps=$(awk '/Requests\/sec/ {print $2}' <<<"$out")
p99=$(awk '$1=="99%" {v=$2; if (v ~ /us$/) {sub(/us/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms/,"",v)} else if (v ~ /s$/) {sub(/s/,"",v); v*=1000}; print v}' <<<"$out")
[ -n "$rps" ] || { echo "http_load: no figures from wrk:" >&2; echo "$out" >&2; failed=1; }
echo "{\"bench\":\"http\",\"impl\":\"weft\",\"workers\":$workers,\"metric\":\"requests_per_s\",\"value\":${rps:-0},\"unit\":\"1/s\"}"
echo "{\"bench\":\"http\",\"impl\":\"weft\",\"workers\":$workers,\"metric\":\"p99_ms\",\"value\":${p99:-0},\"unit\":\"ms\"}"
exit $failed
