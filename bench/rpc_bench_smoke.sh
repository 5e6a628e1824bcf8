#!/usr/bin/env bash
# ctest rpc_bench_smoke: rpc_bench --requests 200 --inflight 8 against our rpc_server on a queue
# of its own; passes when every call is answered (requests=200), and when a run whose calls the
# server refuses fails naming the server's reason. No timing is checked.
#   rpc_bench_smoke.sh RPC_SERVER RPC_BENCH     (broker: $AMQP_URL, else the file $AMQP_URL_FILE)
set -euo pipefail
server_bin=$1 bench_bin=$2
url=${AMQP_URL:-}
if [[ -z $url && -n ${AMQP_URL_FILE:-} && -r $AMQP_URL_FILE ]]; then url=$(<"$AMQP_URL_FILE"); fi
[[ -n $url ]] || { echo "rpc_bench_smoke: no broker (AMQP_URL / AMQP_URL_FILE)" >&2; exit 1; }
queue=rpc_bench_smoke_$$
out=$(mktemp)
server_pid=
cleanup() {
    [[ -n $server_pid ]] && kill -TERM "$server_pid" 2>/dev/null && wait "$server_pid" 2>/dev/null
    rm -f "$out"
}
trap cleanup EXIT
"$server_bin" --url "$url" --queue "$queue" --prefetch 8 --max-n 1000 >"$out" 2>&1 &
server_pid=$!
# The server declares its queue before it says so; publishing earlier would be returned (312).
for ((i = 0; i < 200; i++)); do
    grep -q "Awaiting RPC requests" "$out" && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$out" >&2; exit 1; }
    sleep 0.1
done
grep -q "Awaiting RPC requests" "$out" || { echo "rpc_bench_smoke: server not ready after 20 s" >&2; exit 1; }
line=$("$bench_bin" --url "$url" --queue "$queue" --requests 200 --warmup 20 --inflight 8 --n 20 \
       --timeout 10 --max-seconds 40)
echo "$line"
[[ $line == *" requests=200" ]]
# A failed call names why (the server's error text, a broker's close reason such as 320), not only
# the kind of error.
if err=$("$bench_bin" --url "$url" --queue "$queue" --requests 5 --warmup 1 --inflight 1 --n 2000 \
         --timeout 10 --max-seconds 20 2>&1 >/dev/null); then
    echo "rpc_bench_smoke: calls above the server's --max-n succeeded" >&2
    exit 1
fi
echo "$err"
[[ $err == *"n must be <= 1000"* ]] || { echo "rpc_bench_smoke: the server's reason is missing" >&2; exit 1; }
