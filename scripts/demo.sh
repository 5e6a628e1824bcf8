#!/usr/bin/env bash
# The tutorial end to end against a real RabbitMQ: two Fibonacci RPC servers and the clients; then
# topic_demo's routing walk (a topic exchange, a binding, a routed and a returned publish).
# Installs what is missing, builds the release preset, uses the broker at AMQP_URL if set or
# else starts a private one, and stops everything it started on exit (also on Ctrl-C).
# A program that is not built yet is reported as such and skipped.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$root"
bin=$root/build/release/examples
work=$root/build/demo
client_timeout=${DEMO_CLIENT_TIMEOUT:-60}

if [[ -t 1 ]]; then
    say() { printf '\n\033[1m%s\033[0m\n' "$*"; }
else
    say() { printf '\n%s\n' "$*"; }
fi

broker_started=0
server_pids=()
tail_pids=()
cleanup() {
    local rc=$?
    trap - EXIT INT TERM HUP
    if [[ ${#server_pids[@]} -gt 0 ]]; then
        kill "${server_pids[@]}" 2>/dev/null || true
        wait "${server_pids[@]}" 2>/dev/null || true
    fi
    if [[ ${#tail_pids[@]} -gt 0 ]]; then
        kill "${tail_pids[@]}" 2>/dev/null || true
        wait "${tail_pids[@]}" 2>/dev/null || true
    fi
    if [[ $broker_started == 1 ]]; then
        scripts/rabbitmq.sh stop --dir "$work/broker" || true
    fi
    exit "$rc"
}
trap cleanup EXIT
trap 'echo "demo.sh: interrupted" >&2; exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

say "== Dependencies"
scripts/deps.sh

say "== Build (release preset)"
if command -v ccache >/dev/null; then
    export CMAKE_CXX_COMPILER_LAUNCHER=ccache CCACHE_BASEDIR=$root CCACHE_NOHASHDIR=1
fi
cmake --preset release >/dev/null
cmake --build --preset release -j2

say "== Broker"
mkdir -p "$work"
if [[ -n ${AMQP_URL:-} ]]; then
    echo "Using the broker at AMQP_URL=$AMQP_URL"
else
    broker_started=1
    out=$(scripts/rabbitmq.sh start --dir "$work/broker")
    AMQP_URL=$(sed -n 's/^AMQP_URL=//p' <<<"$out")
    export AMQP_URL
    echo "Started a private RabbitMQ: AMQP_URL=$AMQP_URL (logs in $work/broker/log)"
fi

# True when program $1 has been built; otherwise says so (once per program) and returns 1.
have() {
    if [[ -x $bin/$1 ]]; then return 0; fi
    if [[ -f $root/examples/$1.cpp ]]; then
        echo "demo.sh: '$1' is not built (examples/$1.cpp exists but $bin/$1 does not): skipped"
    else
        echo "demo.sh: '$1' is not written yet (no examples/$1.cpp): skipped"
    fi
    return 1
}

failures=0
# Prints the command as a user would type it, then runs it (bounded in time).
show() {
    local prog=$1
    shift
    have "$prog" || return 0
    say "\$ $prog${*:+ $*} --url $AMQP_URL"
    local rc=0
    timeout --foreground "$client_timeout" "$bin/$prog" "$@" --url "$AMQP_URL" || rc=$?
    if [[ $rc -eq 124 ]]; then
        echo "demo.sh: $prog did not finish within ${client_timeout}s"
    fi
    [[ $rc -eq 0 ]] || { echo "demo.sh: $prog exited with status $rc"; failures=$((failures + 1)); }
}

start_server() { # name
    local log=$work/$1.log
    : >"$log"
    say "\$ rpc_server --url $AMQP_URL &    # output prefixed [$1]"
    "$bin/rpc_server" --url "$AMQP_URL" >"$log" 2>&1 &
    server_pids+=($!)
    # A follower for the live, prefixed output; it exits with its server.
    tail -n +1 -f --pid="$!" "$log" | sed -u "s/^/[$1] /" &
    tail_pids+=($!)
}

say "== The tutorial"
if have rpc_server; then
    start_server server1
    start_server server2
    # Clients sent before the servers consume would still be served (the queue holds the
    # request), but the output reads better once both say they are waiting.
    for ((i = 0; i < 100; i++)); do
        n=$(cat "$work"/server1.log "$work"/server2.log | grep -c 'Awaiting RPC requests' || true)
        [[ $n -ge 2 ]] && break
        sleep 0.1
    done
    [[ $n -ge 2 ]] || echo "demo.sh: the servers have not said they are waiting after 10s; going on"
fi
show rpc_client 30
show rpc_client 10
show rpc_client_timeout
show rpc_async_client

if [[ ${#server_pids[@]} -gt 0 ]]; then
    sleep 0.5 # let the servers' last lines through
    say "== Stopping the servers"
    for pid in "${server_pids[@]}"; do
        kill -0 "$pid" 2>/dev/null || { echo "demo.sh: a server (pid $pid) had already exited"; failures=$((failures + 1)); }
    done
    kill "${server_pids[@]}" 2>/dev/null || true
    wait "${server_pids[@]}" 2>/dev/null || true
    server_pids=()
    # The followers end with their servers (tail --pid); wait so their last lines come first.
    wait "${tail_pids[@]}" 2>/dev/null || true
    tail_pids=()
fi

say "== Routing through a topic exchange (the second walkthrough, docs/beyond.md)"
show topic_demo

programs=(rpc_server rpc_client rpc_client_timeout rpc_async_client topic_demo)
built=0
for prog in "${programs[@]}"; do
    [[ -x $bin/$prog ]] && built=$((built + 1))
done
say "== Done: $built of ${#programs[@]} programs built, $failures problem(s)"
[[ $failures -eq 0 ]]
