#!/usr/bin/env bash
# Fails when libweft.a or libweft.so defines a global name outside weft_*: such a
# name could clash with a program's own (task_create, jump_fcontext). Undefined names
# (libc, concurrencykit, a sanitizer's runtime) are what the libraries need, not what
# they offer, and are not checked.
#
#   check_symbols.sh LIBWEFT_A LIBWEFT_SO
#
# Environment: NM (default nm).
set -euo pipefail
static=$1 shared=$2
nm=${NM:-nm}
status=0

check() { # WHAT NM-ARGUMENT... : the defined globals nm lists must all be weft_*
    local what=$1 symbols stray
    shift
    symbols=$("$nm" "$@" | awk 'NF == 3 { print $3 }')
    if ! grep -qx weft_run <<<"$symbols"; then
        echo "$what: nm lists no weft_run; is this libweft?" >&2
        status=1
        return
    fi
    stray=$(grep -v '^weft_' <<<"$symbols" || true)
    if [ -n "$stray" ]; then
        echo "$what defines global names outside weft_:" >&2
        sed 's/^/    /' <<<"$stray" >&2
        status=1
        return
    fi
    echo "ok: $what exports $(wc -l <<<"$symbols") names, all weft_*"
}

check "$static" -g --defined-only "$static"
check "$shared" -D --defined-only "$shared"
exit $status
