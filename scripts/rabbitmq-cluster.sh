# shellcheck shell=bash
# `scripts/rabbitmq.sh cluster ...`: a local cluster of private nodes (sourced by rabbitmq.sh,
# whose usage text describes the commands). Each node is a single node of rabbitmq.sh in its own
# directory: the functions there (load_node_env, boot_once, stop_node, node_pid) see the node's
# directory through `dir`, which in_node rebinds, so nothing of the single-node start is copied.

cluster_root=$dir
CTL_TIMEOUT=${RABBITMQ_CTL_TIMEOUT:-60}

node_dir() { echo "$cluster_root/node$1"; }

cluster_size() {
    local n
    n=$(cat "$cluster_root/nodes" 2>/dev/null || true)
    [[ $n =~ ^[1-9]$ ]] && echo "$n"
    return 0
}

# Runs "$@" with the single-node functions pointed at node $1 (bash scoping: callees see `dir`).
in_node() {
    local dir
    dir=$(node_dir "$1")
    shift
    "$@"
}

# rabbitmqctl ARGS... with node $1's environment (its name, and the cluster's cookie), bounded.
ctl_on() {
    local i=$1
    shift
    (in_node "$i" load_node_env && exec timeout "$CTL_TIMEOUT" "$RMQ_BIN/rabbitmqctl" "$@")
}

node_name() { (in_node "$1" load_node_env && echo "$RABBITMQ_NODENAME"); }

node_url() { cat "$(node_dir "$1")/amqp_url" 2>/dev/null; }

node_up() { (in_node "$1" load_node_env && [[ -n $(in_node "$1" node_pid) ]] && port_open "$NODE_PORT"); }

# How many nodes node $1's cluster_status reports running (0 if it does not answer).
running_count() {
    local out
    out=$(ctl_on "$1" -q cluster_status --formatter json 2>/dev/null) || { echo 0; return 0; }
    sed -n 's/.*"running_nodes":\[\([^]]*\)\].*/\1/p' <<<"$out" | tr ',' '\n' | grep -c @ || true
}

# Waits (bounded) until some running node reports all nodes of the cluster running.
await_all_running() {
    local n=$1 deadline=$((SECONDS + BOOT_TIMEOUT)) i count
    while ((SECONDS < deadline)); do
        for ((i = 1; i <= n; i++)); do
            node_up "$i" || continue
            count=$(running_count "$i")
            [[ $count == "$n" ]] && return 0
            break
        done
        sleep 1
    done
    log "cluster in $cluster_root: not all $n nodes running after ${BOOT_TIMEOUT}s"
    return 1
}

# The nodes find each other's distribution ports through epmd. A node starts one if none runs,
# but three nodes booting at once would race to do so: start it first, on loopback.
ensure_epmd() {
    local i
    epmd -names >/dev/null 2>&1 && return 0
    ERL_EPMD_ADDRESS=127.0.0.1 setsid epmd -daemon </dev/null >/dev/null 2>&1 || true
    for ((i = 0; i < 50; i++)); do
        epmd -names >/dev/null 2>&1 && return 0
        sleep 0.2
    done
    log "epmd does not answer"
    return 1
}

cluster_print_urls() {
    local n=$1 i urls=()
    for ((i = 1; i <= n; i++)); do
        urls+=("$(node_url "$i")")
        echo "AMQP_URL_$i=${urls[-1]}"
    done
    (IFS=,; echo "AMQP_URLS=${urls[*]}")
}

cluster_join() { # index
    local first
    first=$(node_name 1)
    ctl_on "$1" -q stop_app && ctl_on "$1" -q join_cluster "$first" && ctl_on "$1" -q start_app
}

cluster_start() {
    local n=$nodes i t0=$SECONDS
    [[ $n =~ ^[1-9]$ ]] || { log "--nodes must be 1..9, not '$n'"; return 2; }
    if [[ $(cluster_size) == "$n" ]] && await_running_quick "$n"; then
        log "cluster already running in $cluster_root"
        cluster_print_urls "$n"
        return 0
    fi
    cluster_stop >/dev/null 2>&1 || true
    rm -rf "$cluster_root"/node[0-9]* "$cluster_root/amqp_urls"
    echo "$n" >"$cluster_root/nodes"
    echo $$ >"$cluster_root/start.pid"
    # The nodes are setsid'd so that a terminal's Ctrl-C does not reach them: an interrupted
    # start must stop what it began, or they would outlive it.
    # Its boot subshells go first, or a failing boot would still act on its node afterwards.
    trap 'trap - INT TERM HUP; log "interrupted: stopping the cluster"; kill $(jobs -p) 2>/dev/null || true
          cluster_stop >/dev/null 2>&1; exit 130' INT TERM HUP
    ensure_epmd || return 1
    # Names are stable across restarts and distinct per cluster directory.
    local hash cookie d used=()
    hash=$(printf '%s' "$cluster_root" | sha1sum | cut -c1-8)
    cookie=$(od -An -N16 -tx1 /dev/urandom | tr -d ' \n' | tr a-f A-F)
    take_port_lock || return 1
    for ((i = 1; i <= n; i++)); do
        NODE_PORT=$(pick_port "${used[@]}")
        DIST_PORT=$(pick_port "${used[@]}" "$NODE_PORT")
        used+=("$NODE_PORT" "$DIST_PORT")
        d=$(node_dir "$i")
        mkdir -p "$d/home" "$d/log"
        (umask 077 && printf '%s' "$cookie" >"$d/home/.erlang.cookie")
        printf 'NODE_PORT=%s\nDIST_PORT=%s\nSSL_PORT=\nNODENAME=amqp-rpc-c%s-%s\n' \
            "$NODE_PORT" "$DIST_PORT" "$i" "$hash" >"$d/node.env"
        url_of amqp "$NODE_PORT" >"$d/amqp_url"
    done
    # In parallel: on a busy 2-core machine one boot takes tens of seconds.
    local pids=() failed=()
    for ((i = 1; i <= n; i++)); do
        in_node "$i" boot_once &
        pids[i]=$!
    done
    for ((i = 1; i <= n; i++)); do
        wait "${pids[i]}" || failed+=("$i")
    done
    flock -u 9
    for i in ${failed[@]+"${failed[@]}"}; do
        log "node $i did not boot; last lines of $(node_dir "$i")/log/startup.log:"
        tail -n 15 "$(node_dir "$i")/log/startup.log" >&2 || true
    done
    if [[ ${#failed[@]} -gt 0 ]]; then
        cluster_stop >/dev/null 2>&1 || true
        return 1
    fi
    for ((i = 2; i <= n; i++)); do
        if ! cluster_join "$i" >>"$(node_dir "$i")/log/join.log" 2>&1; then
            log "node $i could not join node 1:"
            tail -n 15 "$(node_dir "$i")/log/join.log" >&2 || true
            cluster_stop >/dev/null 2>&1 || true
            return 1
        fi
    done
    if ! await_all_running "$n"; then
        cluster_stop >/dev/null 2>&1 || true
        return 1
    fi
    cluster_print_urls "$n" | sed -n 's/^AMQP_URLS=//p' >"$cluster_root/amqp_urls"
    trap - INT TERM HUP
    rm -f "$cluster_root/start.pid"
    log "cluster of $n up in $((SECONDS - t0))s (data and logs in $cluster_root)"
    cluster_print_urls "$n"
}

# True when every node is up and node 1 (or the first that answers) sees all of them running.
await_running_quick() {
    local n=$1 i
    for ((i = 1; i <= n; i++)); do
        node_up "$i" || return 1
    done
    [[ $(running_count 1) == "$n" ]]
}

# A `cluster start` still under way in this directory (e.g. left behind by an interrupted
# ctest) would go on booting nodes: end it first (its trap stops what it started), bounded.
end_pending_start() {
    local sp t
    sp=$(cat "$cluster_root/start.pid" 2>/dev/null || true)
    rm -f "$cluster_root/start.pid"
    [[ $sp =~ ^[0-9]+$ && $sp != "$$" ]] || return 0
    tr '\0' ' ' <"/proc/$sp/cmdline" 2>/dev/null | grep -q 'rabbitmq.sh cluster start' || return 0
    log "ending the cluster start still running (pid $sp)"
    kill -TERM "$sp" 2>/dev/null || return 0
    for ((t = 0; t < 10 * (CTL_TIMEOUT + 10); t++)); do
        kill -0 "$sp" 2>/dev/null || return 0
        sleep 0.1
    done
    kill -KILL "$sp" 2>/dev/null || true
}

cluster_stop() {
    local n i pids=()
    end_pending_start
    n=$(cluster_size)
    [[ -n $n ]] || { log "no cluster in $cluster_root"; return 0; }
    # All at once; the data is thrown away, so the order of leaving does not matter.
    for ((i = 1; i <= n; i++)); do
        in_node "$i" stop_node &
        pids+=($!)
    done
    for i in "${pids[@]}"; do
        wait "$i" || true
    done
    rm -f "$cluster_root/nodes" "$cluster_root/amqp_urls"
}

descendants() {
    local c
    for c in $(pgrep -P "$1" || true); do
        echo "$c"
        descendants "$c"
    done
}

cluster_kill() { # index
    local i=$1 pid procs t
    pid=$(in_node "$i" node_pid)
    [[ -n $pid ]] || { log "node $i is not running"; return 3; }
    # The VM's helpers (erl_child_setup, inet_gethost) go with it; epmd is not among them.
    procs=$(descendants "$pid")
    # shellcheck disable=SC2086
    kill -KILL "$pid" $procs 2>/dev/null || true
    for ((t = 0; t < 50; t++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.1
    done
    kill -0 "$pid" 2>/dev/null && { log "node $i (pid $pid) survived SIGKILL"; return 1; }
    log "killed node $i ($(node_name "$i"), pid $pid)"
}

cluster_restart() { # index
    local i=$1 n t0=$SECONDS
    n=$(cluster_size)
    if node_up "$i"; then
        log "node $i is already running"
    else
        # Same node.env: same name, ports and data directory, so it rejoins its cluster.
        in_node "$i" boot_once || { log "node $i did not boot again; see $(node_dir "$i")/log"; return 1; }
    fi
    await_all_running "$n" || return 1
    log "node $i back in $((SECONDS - t0))s"
    cluster_print_urls "$n"
}

cluster_status() {
    local n i rc=0 first=
    n=$(cluster_size)
    [[ -n $n ]] || { echo "not running (no cluster in $cluster_root)"; return 3; }
    for ((i = 1; i <= n; i++)); do
        if node_up "$i"; then
            echo "node $i running: $(node_name "$i") $(node_url "$i")"
            first=${first:-$i}
        else
            echo "node $i not running: $(node_name "$i")"
            rc=3
        fi
    done
    if [[ -n $first ]]; then
        echo "running nodes seen by node $first: $(running_count "$first") of $n"
    fi
    return $rc
}

need_index() {
    local n
    n=$(cluster_size)
    [[ -n $n ]] || { log "no cluster in $cluster_root"; exit 3; }
    [[ -n $node_index && $node_index -le $n ]] || { log "cluster $sub: give a node index 1..$n"; exit 2; }
}

cmd_cluster() {
    case $sub in
        start) cluster_start ;;
        stop) cluster_stop ;;
        status) cluster_status ;;
        kill) need_index; cluster_kill "$node_index" ;;
        restart) need_index; cluster_restart "$node_index" ;;
        ctl) need_index; ctl_on "$node_index" ${ctl_args[@]+"${ctl_args[@]}"} ;;
        *) usage ;;
    esac
}
