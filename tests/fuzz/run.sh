#!/bin/sh
# ctest's run of a libFuzzer target: RUNS inputs from the seed corpus SEEDS with a
# fixed seed; an input that runs over 20 s is a failure (a hang). libFuzzer writes
# the inputs it finds into its first corpus
# directory, so that is WORK, emptied first: the source tree is never written, and
# every run starts alike. A failing input is saved in the working directory as
# crash-<sha1> (ctest runs it in build/<preset>) and named in the output.
#
#   run.sh FUZZER WORK SEEDS RUNS
set -eu
fuzzer=$1 work=$2 seeds=$3 runs=$4
rm -rf "$work"
mkdir -p "$work"
exec "$fuzzer" -runs="$runs" -seed=1 -max_len=12000 -timeout=20 -print_final_stats=1 "$work" "$seeds"
