#!/usr/bin/env bash
# The format_check test: the files listed in .clang-format-files are formatted as .clang-format
# says. It first proves that the check can fail: a badly formatted file must be reported, and the
# same file once formatted must pass.
set -euo pipefail

root=${1:?usage: format_check.sh REPO_ROOT}
format=$root/scripts/format.sh
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

printf 'namespace x {\nint  f( int a ){return a;}\n}\n' >"$tmp/bad.cpp"
rc=0
"$format" --check "$tmp/bad.cpp" >"$tmp/out" 2>&1 || rc=$?
if [[ $rc -ne 1 ]]; then
    echo "format_check: self-test: a badly formatted file gave exit $rc, expected 1:" >&2
    cat "$tmp/out" >&2
    exit 1
fi
"$format" "$tmp/bad.cpp" >/dev/null
"$format" --check "$tmp/bad.cpp" >/dev/null || { echo "format_check: self-test: a formatted file fails the check" >&2; exit 1; }

exec "$format" --check
