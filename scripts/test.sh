#!/usr/bin/env bash
# The whole test suite, as CI runs it: installs what is missing, builds, starts one private
# RabbitMQ (with TLS) for every pass, runs ctest, and always stops the broker again.
#
#   scripts/test.sh                      # every pass: ci asan tsan fuzz
#   TEST_PASSES=ci scripts/test.sh       # only the main build and all its tests
#
# Passes: ci (all labels), asan (ASan+UBSan: unit|integration), tsan (label tsan), fuzz (clang +
# libFuzzer: label fuzz). A sanitizer pass whose build tree has no test for it is skipped.
# Every selected pass runs even when an earlier one failed; the exit status is non-zero if any
# build or test failed. Before the summary it lists the ten slowest tests of the run (from the
# junit files ctest writes); the last line printed is "N passed, N failed" over all passes.
set -uo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"

passes=${TEST_PASSES:-ci asan tsan fuzz}
jobs=${TEST_JOBS:-2}
test_timeout=${TEST_TIMEOUT:-600}
for p in $passes; do
    case $p in ci|asan|tsan|fuzz) ;; *) echo "test.sh: unknown pass '$p' (known: ci asan tsan fuzz)" >&2; exit 2 ;; esac
done

broker_dir=$root/build/test-broker
broker_started=0
stop_broker() {
    if [[ $broker_started == 1 ]]; then
        broker_started=0
        scripts/rabbitmq.sh stop --dir "$broker_dir" || true
    fi
}
# The broker must never outlive this script: stop it on every way out. Long steps run as a
# waited-for background child so that a signal is handled at once (bash defers traps until a
# foreground command ends); the child is interrupted first, then the broker stopped.
child=
on_signal() {
    echo "test.sh: interrupted" >&2
    if [[ -n $child ]]; then
        kill -INT "$child" 2>/dev/null
        wait "$child" 2>/dev/null
    fi
    exit "$1"
}
# The cluster fixture's nodes (label cluster) outlive a ctest that is interrupted before its
# cleanup test runs: stop them too.
stop_clusters() {
    local p
    for p in $passes; do
        if [[ -f build/$p/rabbitmq-cluster/nodes ]]; then
            scripts/rabbitmq.sh cluster stop --dir "build/$p/rabbitmq-cluster" || true
        fi
    done
}
trap 'stop_broker; stop_clusters' EXIT
trap 'on_signal 130' INT
trap 'on_signal 143' TERM
trap 'on_signal 129' HUP
run_child() {
    "$@" &
    child=$!
    wait "$child"
    local rc=$?
    child=
    return $rc
}

scripts/deps.sh || { echo "test.sh: installing dependencies failed" >&2; exit 1; }

if command -v ccache >/dev/null; then
    # Repeated runs (and other clones on the same machine) reuse objects: paths are hashed
    # relative to the checkout, and the working directory is left out of the hash.
    export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
fi
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}

start_broker() {
    [[ $broker_started == 1 || -n ${AMQP_URL:-} ]] && return 0
    local out
    broker_started=1
    out=$(scripts/rabbitmq.sh start --dir "$broker_dir" --tls) || return 1
    echo "$out"
    export AMQP_URL AMQPS_URL AMQP_TLS_DIR
    AMQP_URL=$(sed -n 's/^AMQP_URL=//p' <<<"$out")
    AMQPS_URL=$(sed -n 's/^AMQPS_URL=//p' <<<"$out")
    AMQP_TLS_DIR=$(sed -n 's/^AMQP_TLS_DIR=//p' <<<"$out")
}

declare -A result passed failed
total_passed=0
total_failed=0
any_failure=0

record() { # pass status passed failed
    result[$1]=$2
    passed[$1]=$3
    failed[$1]=$4
    total_passed=$((total_passed + $3))
    total_failed=$((total_failed + $4))
    [[ $2 == ok || $2 == skipped* ]] || any_failure=1
}

# Number of tests in a configured tree matching a label, not counting the broker fixture.
count_tests() { # build_dir label_regex
    ctest --test-dir "$1" -N -L "$2" -E '^broker_' 2>/dev/null | sed -n 's/^Total Tests: //p'
}

build() { # preset [target]: everything, or only what one label's tests run (tests/CMakeLists.txt)
    local target=()
    [[ -n ${2:-} ]] && target=(--target "$2")
    echo
    echo "=== [$1] configure and build (build/$1${2:+, target $2}) ==="
    run_child cmake --preset "$1" && run_child cmake --build --preset "$1" -j"$jobs" "${target[@]}"
}

run_ctest() { # pass label_regex-or-empty
    local pass=$1 label=$2 log=build/$1/test-sh-ctest.log
    local args=(--test-dir "build/$pass" --output-on-failure -j"$jobs" --timeout "$test_timeout"
                --output-junit "$root/build/$pass/ctest-junit.xml")
    [[ -n $label ]] && args+=(-L "$label")
    echo
    echo "=== [$pass] ctest ${label:+-L '$label' }==="
    if ! start_broker; then
        record "$pass" "broker did not start" 0 1
        return
    fi
    rm -f "$log" "$root/build/$pass/ctest-junit.xml"  # a stale file would show in the slowest list
    run_child ctest "${args[@]}" --output-log "$log"
    local rc=$?
    local line total nfail
    line=$(grep -E '[0-9]+% tests passed, [0-9]+ tests? failed out of [0-9]+' "$log" | tail -n 1)
    if [[ -n $line ]]; then
        nfail=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\1/' <<<"$line")
        total=$(sed -E 's/.* ([0-9]+) tests? failed out of ([0-9]+).*/\2/' <<<"$line")
    elif grep -q 'No tests were found' "$log"; then
        nfail=0 total=0
    else
        nfail=1 total=1 # ctest itself failed before running anything
    fi
    if [[ $rc -eq 0 && $nfail -eq 0 ]]; then
        record "$pass" ok $((total - nfail)) 0
    else
        [[ $nfail -eq 0 ]] && nfail=1 total=$((total + 1)) # non-zero exit with no failing test
        record "$pass" "FAILED" $((total - nfail)) "$nfail"
    fi
}

# A sanitizer pass: configure first (cheap), build and test only if it has tests to run.
sanitizer_pass() { # pass label_regex
    local pass=$1 label=$2
    echo
    echo "=== [$pass] configure (build/$pass) ==="
    if ! run_child cmake --preset "$pass"; then
        record "$pass" "FAILED (configure)" 0 1
        return
    fi
    local n
    n=$(count_tests "build/$pass" "$label")
    if [[ ${n:-0} -eq 0 ]]; then
        echo "test.sh: [$pass] no test has label '$label' yet: pass skipped"
        record "$pass" "skipped: no $label tests" 0 0
        return
    fi
    # tsan and fuzz run one label: build only its tests' targets. asan runs nearly everything.
    local only=
    [[ $label =~ ^[a-z]+$ ]] && only=amqp_rpc_tests_$label
    if ! build "$pass" $only; then
        record "$pass" "FAILED (build)" 0 1
        return
    fi
    run_ctest "$pass" "$label"
}

started_at=$SECONDS
declare -A seconds
for pass in $passes; do
    t0=$SECONDS
    case $pass in
        ci)
            if build ci; then run_ctest ci ""; else record ci "FAILED (build)" 0 1; fi ;;
        asan) sanitizer_pass asan 'unit|integration' ;;
        tsan) sanitizer_pass tsan tsan ;;
        fuzz) sanitizer_pass fuzz fuzz ;;
    esac
    seconds[$pass]=$((SECONDS - t0))
done

stop_broker

# The ten slowest tests over every pass that ran, from the junit files ctest wrote: a test whose
# cost grows out of proportion shows here before it reaches its timeout on a loaded machine.
print_slowest() {
    local files=() pass
    for pass in $passes; do
        [[ -f build/$pass/ctest-junit.xml ]] && files+=("$pass=build/$pass/ctest-junit.xml")
    done
    [[ ${#files[@]} -eq 0 ]] && return 0
    echo
    echo "=== ten slowest tests ==="
    /usr/bin/python3 - "${files[@]}" <<'PY' || echo "  (could not read the junit files)"
import sys, xml.etree.ElementTree as ET
rows = []
for arg in sys.argv[1:]:
    pass_name, path = arg.split("=", 1)
    try:
        cases = ET.parse(path).getroot().iter("testcase")
    except (OSError, ET.ParseError) as e:
        print(f"  [{pass_name}] {path}: {e}")
        continue
    for case in cases:
        try:
            rows.append((float(case.get("time", "0")), pass_name, case.get("name", "?")))
        except ValueError:
            pass
for seconds, pass_name, name in sorted(rows, reverse=True)[:10]:
    print(f"  {seconds:8.1f}s  [{pass_name}] {name}")
PY
}
print_slowest

echo
echo "=== test.sh summary ($((SECONDS - started_at))s) ==="
for pass in $passes; do
    printf '  %-5s %-36s %4s passed, %3s failed  (%ss)\n' "$pass" "${result[$pass]}" \
        "${passed[$pass]}" "${failed[$pass]}" "${seconds[$pass]}"
done
echo "$total_passed passed, $total_failed failed"
exit $any_failure
