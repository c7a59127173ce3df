#!/usr/bin/env python3
"""Soak test for examples/echo_server and examples/http_hello.

Both servers run at once (2 workers, a connection cap, a 2 s header deadline
for HTTP) under a mix of good and hostile clients for --seconds (default
$WEFT_SOAK_SECONDS, else 600):

  good        keep-alive clients checking every byte of every answer or echo
              (HTTP: pipelined batches, HEAD, HTTP/1.0, Connection: close)
  burst       many connections at once, beyond the cap, each checked
  half-close  requests or data, then shutdown(SHUT_WR); all answers, then EOF
  slowloris   a head (HTTP) or data (echo) dripped a byte at a time; HTTP
              must cut it at the header deadline with a 408
  reset       a partial request or data, then an RST (SO_LINGER 0)
  garbage     random bytes (HTTP): a 400, 408 or 501, or a close, never a hang
  idle        connect, say nothing, leave

The load runs twice: a warm-up (a tenth of the time, at least 5 s) that
grows every pool the servers keep (fiber stacks, malloc arenas) to its
working size, then the soak itself. After each, once the clients are gone,
the servers' descriptors must come back to what they held before any load
(exactly, within DRAIN_BOUND seconds: the lingering and timeouts end every
connection by then), and after the soak each server's RSS (VmRSS in
/proc/PID/status) must be within RSS_TOLERANCE of its RSS after the warm-up,
so that memory that grows with the work done, not the peak load, shows. At
the end every good client must have got every answer right, every hostile
client what it should, and SIGTERM must stop each server with status 0.

Only ever connects to 127.0.0.1. Exit status 0 when everything held, 1 when
something did not (the report says what), 2 for bad usage.

  tests/soak/soak.py --echo build/Debug/examples/echo_server \\
                     --http build/Debug/examples/http_hello --seconds 60
"""

import argparse
import os
import random
import re
import signal
import socket
import subprocess
import sys
import threading
import time

HOST = "127.0.0.1"
MAX_CONN = 64             # --max-conn for both servers: the bursts go beyond it
HEADER_TIMEOUT = 2.0      # --header-timeout for HTTP
IO_BOUND = 60.0           # no single wait of a client may take longer: a hang
DRAIN_BOUND = 30.0        # for the servers' descriptors to come back after the load
RSS_TOLERANCE = (0.10, 4 << 20)  # after the soak: within 10% or 4 MiB (the larger)
                                 # of the RSS after the warm-up

OK_KEEP_ALIVE = (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n\r\n")
OK_CLOSE = (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n"
            b"Connection: close\r\n\r\n")
OK_KEEP_ALIVE_10 = (b"HTTP/1.1 200 OK\r\nContent-Length: 13\r\nContent-Type: text/plain\r\n"
                    b"Connection: keep-alive\r\n\r\n")
HELLO = b"Hello, World!"
REFUSALS = [b"HTTP/1.1 %d %s\r\nContent-Length: %d\r\nContent-Type: text/plain\r\n"
            b"Connection: close\r\n\r\n%s" % (code, text, len(text), text)
            for code, text in [(400, b"Bad Request"), (408, b"Request Timeout"),
                               (501, b"Not Implemented")]]
TIMEOUT_408 = REFUSALS[1]
# Every answer the HTTP server can give, whole.
ANSWERS = ([ok + HELLO for ok in (OK_KEEP_ALIVE, OK_CLOSE, OK_KEEP_ALIVE_10)] +
           [OK_KEEP_ALIVE, OK_CLOSE, OK_KEEP_ALIVE_10] + REFUSALS)


class Failure(Exception):
    """What a client saw that it should not have."""


class Tally:
    """Per client kind: operations done, and the failures seen (the first few kept)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.done = {}
        self.failed = {}
        self.examples = {}

    def count(self, kind, failure=None):
        with self.lock:
            if failure is None:
                self.done[kind] = self.done.get(kind, 0) + 1
                return
            self.failed[kind] = self.failed.get(kind, 0) + 1
            self.examples.setdefault(kind, [])
            if len(self.examples[kind]) < 3:
                self.examples[kind].append(failure)


# --- the servers ---------------------------------------------------------------------

class Server:
    def __init__(self, name, argv, workers):
        self.name = name
        env = dict(os.environ, WEFT_WORKERS=str(workers))
        self.proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE, env=env)
        self.log = []
        self.port = None
        ready = threading.Event()

        def read_stderr():
            for raw in self.proc.stderr:
                line = raw.decode(errors="replace").rstrip("\n")
                self.log.append(line)
                m = re.match(r"listening on port (\d+)$", line)
                if m:
                    self.port = int(m.group(1))
                    ready.set()
            ready.set()

        threading.Thread(target=read_stderr, daemon=True).start()
        if not ready.wait(IO_BOUND) or self.port is None:
            self.proc.kill()
            raise SystemExit(f"soak: {name} did not start: {self.log}")

    def alive(self):
        return self.proc.poll() is None

    def rss(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS")

    def fds(self):
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def stop(self):
        """SIGTERM; the exit status, or None if it did not exit within IO_BOUND."""
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(IO_BOUND)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            return None


# --- client helpers ------------------------------------------------------------------

def connect(port):
    s = socket.create_connection((HOST, port), timeout=IO_BOUND)
    s.settimeout(IO_BOUND)
    return s


def recv_exactly(s, n):
    data = b""
    while len(data) < n:
        chunk = s.recv(n - len(data))
        if not chunk:
            raise Failure(f"end of stream after {len(data)} of {n} bytes: {data[-80:]!r}")
        data += chunk
    return data


def recv_to_end(s, most=1 << 20):
    data = b""
    while len(data) < most:
        chunk = s.recv(65536)
        if not chunk:
            return data
        data += chunk
    raise Failure("no end of stream after 1 MiB")


def reset(s):
    s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    s.close()


def expect(got, want, what):
    if got != want:
        raise Failure(f"{what}: got {got[:120]!r}, want {want[:120]!r}")


# --- HTTP clients --------------------------------------------------------------------

def http_request(rng, last):
    """A request and the exact answer it must get; the answer closes when last."""
    method = rng.choice([b"GET", b"GET", b"HEAD", b"POST"])
    version = rng.choice([b"1.1", b"1.1", b"1.1", b"1.0"])
    body = b""
    head = method + b" /soak/" + str(rng.randrange(1 << 30)).encode() + b" HTTP/" + version
    head += b"\r\nHost: soak\r\nUser-Agent: weft-soak\r\n"
    if method == b"POST":
        body = os.urandom(rng.randrange(0, 3000))
        head += b"Content-Length: " + str(len(body)).encode() + b"\r\n"
    if last:
        head += b"Connection: close\r\n" if version == b"1.1" else b""
    elif version == b"1.0":
        head += b"Connection: keep-alive\r\n"
    answer = OK_CLOSE if last else OK_KEEP_ALIVE_10 if version == b"1.0" else OK_KEEP_ALIVE
    if method != b"HEAD":
        answer += HELLO
    return head + b"\r\n" + body, answer


def http_good(port, rng):
    s = connect(port)
    try:
        batches = rng.randrange(1, 20)
        for b in range(batches):
            last_batch = b == batches - 1
            n = rng.randrange(1, 8)
            pairs = [http_request(rng, last_batch and i == n - 1) for i in range(n)]
            data = b"".join(r for r, _ in pairs)
            if rng.random() < 0.3:  # in pieces, so that heads straddle reads
                for i in range(0, len(data), 7):
                    s.sendall(data[i:i + 7])
            else:
                s.sendall(data)
            want = b"".join(a for _, a in pairs)
            expect(recv_exactly(s, len(want)), want, "pipelined answers")
        expect(recv_to_end(s), b"", "after Connection: close")
    finally:
        s.close()


def http_burst(port, rng):
    socks = []
    try:
        for _ in range(rng.randrange(MAX_CONN // 2, 2 * MAX_CONN)):
            socks.append(connect(port))
        for s in socks:
            s.sendall(b"GET / HTTP/1.1\r\nHost: soak\r\nConnection: close\r\n\r\n")
        for s in socks:
            expect(recv_to_end(s), OK_CLOSE + HELLO, "burst answer")
            s.close()  # the server lingers until we do
    finally:
        for s in socks:
            s.close()


def http_half_close(port, rng):
    s = connect(port)
    try:
        pairs = [http_request(rng, False) for _ in range(rng.randrange(1, 5))]
        s.sendall(b"".join(r for r, _ in pairs))
        s.shutdown(socket.SHUT_WR)
        expect(recv_to_end(s), b"".join(a for _, a in pairs), "answers to a half-closed client")
    finally:
        s.close()


def http_slowloris(port, rng):
    s = connect(port)
    try:
        s.sendall(b"GET /slow HTTP/1.1\r\nHost: soak\r\n")
        start = time.monotonic()
        s.settimeout(0.2)
        got = b""
        while True:
            if time.monotonic() - start > IO_BOUND:
                raise Failure(f"not cut after {IO_BOUND:.0f} s of dripping")
            try:
                s.sendall(b"X-Drip: " if rng.random() < 0.1 else b"a")
            except (BrokenPipeError, ConnectionResetError):
                break
            try:
                chunk = s.recv(4096)
            except socket.timeout:
                continue
            except ConnectionResetError:
                break
            if not chunk:
                break
            got += chunk
        if got != TIMEOUT_408:
            raise Failure(f"cut without a 408: {got[:80]!r}")
    finally:
        s.close()


def http_reset(port, rng):
    s = connect(port)
    request, _ = http_request(rng, False)
    s.sendall(request[:rng.randrange(1, len(request) + 1)])
    if rng.random() < 0.5:
        time.sleep(rng.random() * 0.1)
    reset(s)


def only_answers(got):
    """Is got made of whole answers of the HTTP server, nothing else?"""
    while got:
        whole = [a for a in ANSWERS if got.startswith(a)]
        if not whole:
            return False
        got = got[max(len(a) for a in whole):]
    return True


def http_garbage(port, rng):
    """Random bytes, sometimes after a request line; any request the bytes happen
    to hold is answered, and the rest refused or cut, but never held on to."""
    s = connect(port)
    try:
        junk = bytes(rng.randrange(256) for _ in range(rng.randrange(1, 2000)))
        if rng.random() < 0.5:
            junk = junk.replace(b"\x00", b"\r\n")
        if rng.random() < 0.3:
            junk = b"GET / HTTP/1.1\r\n" + junk
        try:
            s.sendall(junk)
            got = recv_to_end(s)
        except ConnectionResetError:
            return  # the server closed with our bytes unread: a refusal too
        if not only_answers(got):
            raise Failure(f"garbage answered {got[:80]!r}")
    finally:
        s.close()


def idle(port, rng):
    s = connect(port)
    time.sleep(rng.uniform(0.5, 3.0))
    s.close()


# --- echo clients --------------------------------------------------------------------

def echo_good(port, rng):
    s = connect(port)
    try:
        for _ in range(rng.randrange(1, 30)):
            data = os.urandom(rng.choice([1, 7, 100, 1500, 16384, 100000]))
            s.sendall(data)
            expect(recv_exactly(s, len(data)), data, "echo")
    finally:
        s.close()


def echo_burst(port, rng):
    socks = []
    try:
        for _ in range(rng.randrange(MAX_CONN // 2, 2 * MAX_CONN)):
            socks.append(connect(port))
        sent = []
        for s in socks:
            data = os.urandom(rng.randrange(1, 512))
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)
            sent.append(data)
        for s, data in zip(socks, sent):
            expect(recv_to_end(s), data, "burst echo")
    finally:
        for s in socks:
            s.close()


def echo_half_close(port, rng):
    s = connect(port)
    try:
        data = os.urandom(rng.randrange(1, 200000))

        def send_all_then_half_close():
            s.sendall(data)
            s.shutdown(socket.SHUT_WR)

        # From another thread: the echo comes back while we still send.
        writer = threading.Thread(target=send_all_then_half_close)
        writer.start()
        got = recv_to_end(s)
        writer.join()
        expect(got, data, "echo to a half-closed client")
    finally:
        s.close()


def echo_slowloris(port, rng):
    s = connect(port)
    try:
        for _ in range(rng.randrange(5, 30)):
            b = bytes([rng.randrange(256)])
            s.sendall(b)
            expect(recv_exactly(s, 1), b, "dripped echo")
            time.sleep(0.1)
    finally:
        s.close()


def echo_reset(port, rng):
    s = connect(port)
    s.sendall(os.urandom(rng.randrange(1, 100000)))
    reset(s)


# --- the load ------------------------------------------------------------------------

def client_mix(echo_port, http_port):
    """(kind, function, port, threads) for every client kind."""
    return [
        ("http good", http_good, http_port, 4),
        ("http burst", http_burst, http_port, 1),
        ("http half-close", http_half_close, http_port, 1),
        ("http slowloris", http_slowloris, http_port, 2),
        ("http reset", http_reset, http_port, 1),
        ("http garbage", http_garbage, http_port, 1),
        ("http idle", idle, http_port, 2),
        ("echo good", echo_good, echo_port, 4),
        ("echo burst", echo_burst, echo_port, 1),
        ("echo half-close", echo_half_close, echo_port, 1),
        ("echo slowloris", echo_slowloris, echo_port, 2),
        ("echo reset", echo_reset, echo_port, 1),
        ("echo idle", idle, echo_port, 2),
    ]


def load(mix, seconds, tally, seed):
    stop = threading.Event()

    def loop(kind, fn, port, rng):
        while not stop.is_set():
            try:
                fn(port, rng)
                tally.count(kind)
            except Failure as e:
                tally.count(kind, str(e))
            except OSError as e:
                tally.count(kind, f"{type(e).__name__}: {e}")

    threads = []
    for k, (kind, fn, port, n) in enumerate(mix):
        for i in range(n):
            rng = random.Random(seed * 1000 + k * 10 + i)
            threads.append(threading.Thread(target=loop, args=(kind, fn, port, rng), daemon=True))
    for t in threads:
        t.start()
    stop.wait(seconds)
    stop.set()
    for t in threads:
        t.join(IO_BOUND * 3)
    return [t for t in threads if t.is_alive()]


def drain(servers, want_fds):
    """Waits for each server's descriptors to come back to want_fds; True if they did."""
    deadline = time.monotonic() + DRAIN_BOUND
    while time.monotonic() < deadline:
        if all(s.fds() == want_fds[s.name] for s in servers):
            return True
        time.sleep(0.2)
    return False


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--echo", required=True, help="examples/echo_server binary")
    ap.add_argument("--http", required=True, help="examples/http_hello binary")
    ap.add_argument("--seconds", type=float,
                    default=float(os.environ.get("WEFT_SOAK_SECONDS", "600")))
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--seed", type=int, default=1)
    args = ap.parse_args()
    if args.seconds <= 0:
        ap.error("--seconds must be more than 0")

    common = ["--port", "0", "--host", HOST, "--max-conn", str(MAX_CONN)]
    servers = [Server("echo", [args.echo] + common, args.workers),
               Server("http", [args.http] + common + ["--header-timeout", str(HEADER_TIMEOUT)],
                      args.workers)]
    echo, http = servers
    problems = []
    start_fds = {s.name: s.fds() for s in servers}
    start_rss = {s.name: s.rss() for s in servers}
    warmup = max(5.0, args.seconds / 10)
    print(f"soak: {args.seconds:.0f} s at {args.workers} workers after a {warmup:.0f} s warm-up; "
          f"echo on port {echo.port}, http on port {http.port}", flush=True)
    mix = client_mix(echo.port, http.port)

    tally = Tally()
    stuck = load(mix, warmup, tally, args.seed)
    if stuck or not drain(servers, start_fds):
        problems.append("after the warm-up: " + (f"{len(stuck)} clients hung" if stuck else
                        "descriptors did not come back: " +
                        ", ".join(f"{s.name} {s.fds()} (before {start_fds[s.name]})"
                                  for s in servers)))
    base_rss = {s.name: s.rss() for s in servers}

    peak = {s.name: 0 for s in servers}
    sampling = threading.Event()

    def sample():
        while not sampling.wait(1.0):
            for s in servers:
                if s.alive():
                    peak[s.name] = max(peak[s.name], s.rss())

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    stuck = load(mix, args.seconds, tally, args.seed + 1)
    sampling.set()
    sampler.join()
    if stuck:
        problems.append(f"{len(stuck)} clients hung (no answer within {IO_BOUND:.0f} s)")
    for s in servers:
        if not s.alive():
            problems.append(f"{s.name} died: {s.proc.returncode}")
    drained = drain([s for s in servers if s.alive()], start_fds)

    print(f"\n{'server':8} {'fds before':>10} {'after':>6}   {'RSS start':>10} {'warm':>8} "
          f"{'peak':>8} {'after':>8}")
    for s in servers:
        if not s.alive():
            continue
        fds, rss = s.fds(), s.rss()
        print(f"{s.name:8} {start_fds[s.name]:>10} {fds:>6}   {start_rss[s.name] >> 10:>8}kB "
              f"{base_rss[s.name] >> 10:>6}kB {peak[s.name] >> 10:>6}kB {rss >> 10:>6}kB")
        if not drained and fds != start_fds[s.name]:
            problems.append(f"{s.name}: {fds} descriptors open {DRAIN_BOUND:.0f} s after the load, "
                            f"{start_fds[s.name]} before it")
        allowed = max(base_rss[s.name] * RSS_TOLERANCE[0], RSS_TOLERANCE[1])
        if rss > base_rss[s.name] + allowed:
            problems.append(f"{s.name}: RSS {rss >> 10} kB after the load, {base_rss[s.name] >> 10}"
                            f" kB after the warm-up (allowed: +{int(allowed) >> 10} kB)")

    print(f"\n{'clients':16} {'done':>8} {'failed':>7}")
    for kind, _, _, _ in mix:
        print(f"{kind:16} {tally.done.get(kind, 0):>8} {tally.failed.get(kind, 0):>7}")
        for example in tally.examples.get(kind, []):
            print(f"    {example}")
        if tally.failed.get(kind):
            problems.append(f"{kind}: {tally.failed[kind]} failed")
        if not tally.done.get(kind):
            problems.append(f"{kind}: none completed")

    for s in servers:
        if s.alive():
            status = s.stop()
            if status != 0:
                problems.append(f"{s.name}: SIGTERM gave exit status {status}")
    for s in servers:
        other = [line for line in s.log if not line.startswith("listening on port")]
        if other:
            print(f"\n{s.name} said on stderr ({len(other)} lines, the last few):")
            for line in other[-5:]:
                print(f"    {line}")

    print()
    for p in problems:
        print(f"soak: FAILED: {p}")
    print("soak: passed" if not problems else f"soak: {len(problems)} problems")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
