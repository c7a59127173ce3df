#!/bin/sh
# Runs a command and compares its stdout with an expected file, byte for byte or, with
# --contains, as a multiset of lines: every expected line must appear (as often as it is
# expected, in any order), and more lines may appear. That is the check for a
# multi-thread run of a single-thread program: the same events happen, at the same
# virtual times, but tasks woken at the same instant race, so a task may, say, print
# once more before a cancellation from another worker reaches it. Prints a diff on a
# mismatch.
#
#   compare_output.sh [--contains] EXPECTED -- COMMAND [ARG]...
#
# Exit status: 0 on a match, 1 on a mismatch or when COMMAND fails.
contains=0
if [ "$1" = --contains ]; then
    contains=1
    shift
fi
expected=$1
shift
[ "$1" = "--" ] && shift
if [ ! -f "$expected" ]; then
    echo "no expected output: $expected" >&2
    exit 1
fi

dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
"$@" >"$dir/actual"
status=$?
if [ $contains = 1 ]; then
    LC_ALL=C sort "$expected" >"$dir/expected"
    LC_ALL=C sort "$dir/actual" >"$dir/actual.sorted"
    LC_ALL=C comm -23 "$dir/expected" "$dir/actual.sorted" >"$dir/missing"
    if [ -s "$dir/missing" ]; then
        echo "expected lines missing from the output:"
        cat "$dir/missing"
        echo "output:"
        cat "$dir/actual"
        false
    fi
else
    diff -u --label "$expected" --label actual "$expected" "$dir/actual"
fi
same=$?
if [ $status -ne 0 ]; then
    echo "exit status $status: $*" >&2
    exit 1
fi
[ $same = 0 ] || exit 1
