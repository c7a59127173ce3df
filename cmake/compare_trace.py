#!/usr/bin/env python3
"""Run a program in real time and compare its output with a trace of the Python
original (made by the seed's trace.py: each line prefixed with "[  t.t]", the second it
appeared). The lines must be the same, in the same order, and each must appear within
TOLERANCE seconds of the trace's time less the Python start-up the trace includes.

Usage: compare_trace.py EXPECTED.trace -- COMMAND [ARG...]"""
import re
import subprocess
import sys
import time

PYTHON_STARTUP = 0.1  # the trace's times include about 0.1 s of Python start-up
TOLERANCE = 0.35


def main():
    expected_path, command = sys.argv[1], sys.argv[3:]
    expected = []
    with open(expected_path) as f:
        for line in f:
            m = re.match(r"\[\s*([0-9.]+)\] (.*)", line.rstrip("\n"))
            if m:
                expected.append((float(m.group(1)) - PYTHON_STARTUP, m.group(2)))
    start = time.monotonic()
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True, bufsize=1)
    actual = [(time.monotonic() - start, line.rstrip("\n")) for line in proc.stdout]
    status = proc.wait()
    ok = status == 0 and len(actual) == len(expected)
    for (et, etext), (at, atext) in zip(expected, actual):
        if etext != atext or abs(et - at) > TOLERANCE:
            ok = False
    if not ok:
        print(f"exit status {status}; expected, then actual (seconds, line):")
        for t, text in expected:
            print(f"  [{t:5.2f}] {text}")
        for t, text in actual:
            print(f"  [{t:5.2f}] {text}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
