#!/usr/bin/env bash
# Runs the benchmark peers against each other on one broker: client {rabbitmq-c, pika} x
# server {rabbitmq-c, pika} x {sequential: inflight 1 / prefetch 1, pipelined: inflight 64 /
# prefetch 64} x reply queue {exclusive, direct reply-to}, REPS times each, one result line per
# run ("client server mode reply rep rpc/s=... p50_us=..."). Peers only: the full matrix with our
# own client and server is issue 7's bench script.
#
#   bench/peers/run_peers.sh --url URL [--bin DIR] [--reps 3] [--requests 5000] [--n 20]
#                            [--clients rmqc,pika] [--servers rmqc,pika] [--modes seq,pipe]
#                            [--replies exclusive,direct]
# DIR holds rmqc_rpc_client/rmqc_rpc_server (default build/release/bench). Pipelined runs send
# 10x --requests. Start a broker first, e.g. scripts/rabbitmq.sh start --dir build/peers-rmq.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
url= bin=$root/build/release/bench reps=3 requests=5000 n=20
clients=rmqc,pika servers=rmqc,pika modes=seq,pipe replies=exclusive,direct
while [[ $# -gt 0 ]]; do
    case $1 in
        --url) url=$2; shift 2 ;;
        --bin) bin=$2; shift 2 ;;
        --reps) reps=$2; shift 2 ;;
        --requests) requests=$2; shift 2 ;;
        --n) n=$2; shift 2 ;;
        --clients) clients=$2; shift 2 ;;
        --servers) servers=$2; shift 2 ;;
        --modes) modes=$2; shift 2 ;;
        --replies) replies=$2; shift 2 ;;
        *) sed -n '2,13p' "$0" >&2; exit 2 ;;
    esac
done
[[ -n $url ]] || { echo "run_peers.sh: --url is required" >&2; exit 2; }
py=/usr/bin/python3

server_cmd() { # kind prefetch
    case $1 in
        rmqc) echo "$bin/rmqc_rpc_server --url $url --prefetch $2" ;;
        pika) echo "$py $here/pika_rpc_server.py --url $url --prefetch $2" ;;
    esac
}
client_cmd() { # kind inflight requests reply
    local extra=
    [[ $4 == direct ]] && extra=--direct-reply-to
    case $1 in
        rmqc) echo "$bin/rmqc_rpc_client --url $url --inflight $2 --requests $3 --warmup $(($3 / 10)) --n $n $extra" ;;
        pika) echo "$py $here/pika_rpc_client.py --url $url --inflight $2 --requests $3 --warmup $(($3 / 10)) --n $n $extra" ;;
    esac
}

server_pid=
stop_server() {
    if [[ -n $server_pid ]]; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
        server_pid=
    fi
}
trap stop_server EXIT

for server in ${servers//,/ }; do
    for mode in ${modes//,/ }; do
        if [[ $mode == seq ]]; then k=1 total=$requests; else k=64 total=$((requests * 10)); fi
        $(server_cmd "$server" "$k") 2>/dev/null &
        server_pid=$!
        sleep 1
        for client in ${clients//,/ }; do
            for reply in ${replies//,/ }; do
                for ((r = 1; r <= reps; r++)); do
                    cmd=$(client_cmd "$client" "$k" "$total" "$reply")
                    [[ $r == 1 ]] && echo "# $cmd   (server: $(server_cmd "$server" "$k"))"
                    line=$(timeout 600 $cmd) || line="FAILED"
                    echo "$client $server $mode $reply $r $line"
                done
            done
        done
        stop_server
    done
done
