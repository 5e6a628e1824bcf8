#!/usr/bin/env bash
# Formats C++ files with the repository's .clang-format, or checks that they are formatted.
#
#   scripts/format.sh [--check] [FILE...]
#
# With no FILE, the files listed in .clang-format-files (one path a line, relative to the
# repository root; '#' starts a comment). The list grows as layers are formatted; the format_check
# test (label unit) runs `scripts/format.sh --check` so that listed files stay formatted.
# --check changes nothing: it names each file clang-format would change and exits 1 if there is one.
# Exit status: 0 formatted, 1 a file needs formatting, 2 usage error, missing file or no clang-format.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
check=0
files=()
for arg in "$@"; do
    case $arg in
        --check) check=1 ;;
        -h|--help) sed -n '2,10p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'; exit 0 ;;
        -*) echo "format.sh: unknown option $arg" >&2; exit 2 ;;
        *) files+=("$arg") ;;
    esac
done

# Debian bookworm's clang-format 14 (scripts/deps.sh installs it); another version may format
# some constructs differently, so the check names the version it ran.
clang_format=${CLANG_FORMAT:-clang-format}
if ! command -v "$clang_format" >/dev/null; then
    echo "format.sh: $clang_format not found; run scripts/deps.sh (Debian package clang-format)" >&2
    exit 2
fi

if [[ ${#files[@]} -eq 0 ]]; then
    list=$root/.clang-format-files
    [[ -f $list ]] || { echo "format.sh: no files given and no $list" >&2; exit 2; }
    while IFS= read -r line; do
        line=${line%%#*}
        line=${line//[[:space:]]/}
        [[ -n $line ]] && files+=("$root/$line")
    done <"$list"
    [[ ${#files[@]} -gt 0 ]] || { echo "format.sh: $list lists no files" >&2; exit 2; }
fi

missing=0
for f in "${files[@]}"; do
    [[ -f $f ]] || { echo "format.sh: no such file: ${f#"$root"/}" >&2; missing=1; }
done
[[ $missing -eq 0 ]] || exit 2

if [[ $check -eq 0 ]]; then
    "$clang_format" -i --style="file:$root/.clang-format" "${files[@]}"
    echo "format.sh: formatted ${#files[@]} file(s)"
    exit 0
fi

version=$("$clang_format" --version | head -1)
# One process for the common case (all formatted); file by file only to name the ones that are not.
if "$clang_format" --style="file:$root/.clang-format" --dry-run --Werror "${files[@]}" >/dev/null 2>&1; then
    echo "format.sh: ${#files[@]} file(s) formatted ($version)"
    exit 0
fi
unformatted=0
for f in "${files[@]}"; do
    if ! "$clang_format" --style="file:$root/.clang-format" --dry-run --Werror "$f" >/dev/null 2>&1; then
        echo "format.sh: not formatted: ${f#"$root"/}"
        unformatted=$((unformatted + 1))
    fi
done
if [[ $unformatted -gt 0 ]]; then
    echo "format.sh: $unformatted of ${#files[@]} file(s) not formatted ($version); fix with scripts/format.sh FILE..."
    exit 1
fi
echo "format.sh: ${#files[@]} file(s) formatted ($version)"
