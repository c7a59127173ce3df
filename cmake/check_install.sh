#!/usr/bin/env bash
# Installs a build tree into a temporary prefix and builds tests/install/main.c against
# it the two ways a user would: with pkg-config (linked statically, so that weft.pc's
# Libs.private is what makes it link) and with find_package (shared and static targets).
# Each program must print the expected line.
#
#   check_install.sh BUILD_DIR LIBDIR CONSUMER_DIR
#
# Environment: CMAKE, CC, CMAKE_GENERATOR, WEFT_CONSUMER_CFLAGS (a sanitizer build's
# flags, which a consumer of its libraries must compile and link with too).
set -euo pipefail
build=$1 libdir=$2 consumer=$3
cmake=${CMAKE:-cmake}
cc=${CC:-cc}
read -ra cflags <<<"${WEFT_CONSUMER_CFLAGS:-}"
expected="weft_run returned 42"

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
prefix=$tmp/prefix
"$cmake" --install "$build" --prefix "$prefix" >/dev/null

check() { # NAME PROGRAM
    local out
    out=$("$2") || { echo "$1 failed" >&2; exit 1; }
    if [ "$out" != "$expected" ]; then
        printf '%s printed "%s", expected "%s"\n' "$1" "$out" "$expected" >&2
        exit 1
    fi
    echo "ok: $1"
}

# pkg-config --static adds Libs.private; -l:libweft.a makes the linker take the archive
# where plain -lweft would prefer libweft.so.
read -ra pc <<<"$(PKG_CONFIG_PATH=$prefix/$libdir/pkgconfig pkg-config --cflags --libs --static weft)"
pc=("${pc[@]/#-lweft/-l:libweft.a}")
"$cc" "${cflags[@]}" -o "$tmp/pkgconfig_static" "$consumer/main.c" "${pc[@]}"
if readelf -d "$tmp/pkgconfig_static" | grep -q 'libweft\.so'; then
    echo "pkgconfig_static is linked against libweft.so, not libweft.a" >&2
    exit 1
fi
check "pkg-config --static" "$tmp/pkgconfig_static"

"$cmake" -S "$consumer" -B "$tmp/consumer" -G "${CMAKE_GENERATOR:-Ninja}" \
    -DCMAKE_PREFIX_PATH="$prefix" -DCMAKE_C_COMPILER="$cc" \
    -DCMAKE_C_FLAGS="${cflags[*]}" -DCMAKE_EXE_LINKER_FLAGS="${cflags[*]}"
"$cmake" --build "$tmp/consumer"
check "find_package weft::weft" "$tmp/consumer/consumer_shared"
check "find_package weft::weft_static" "$tmp/consumer/consumer_static"
