#!/usr/bin/env bash
# A private RabbitMQ node run as a plain process of the calling user (no systemd, no system
# broker): its own node name, ports, data, logs and Erlang cookie, all under one directory, so
# that several checkouts (or CI jobs) can each run one at the same time.
#
#   scripts/rabbitmq.sh start  [--dir DIR] [--tls] [--if-no-url] [--port PORT] [--conf KEY=VALUE]...
#                              [--plugin NAME]...
#   scripts/rabbitmq.sh stop   [--dir DIR]
#   scripts/rabbitmq.sh status [--dir DIR]
#   scripts/rabbitmq.sh ctl    [--dir DIR] -- ARGS...   (rabbitmqctl ARGS against that node)
#   scripts/rabbitmq.sh cluster start [--nodes N] | stop | status | kill I | restart I | ctl I -- ARGS
#                              [--dir DIR]   (a local N-node cluster, N=3 by default; see below)
#
# DIR defaults to build/rabbitmq. `start` writes DIR/amqp_url (and with --tls DIR/amqps_url and
# DIR/tls/{ca.pem,client.pem,client.key}) and prints AMQP_URL=... (and AMQPS_URL=...,
# AMQP_TLS_DIR=...). With --if-no-url and AMQP_URL already set in the environment, it starts
# nothing and only records that broker (AMQPS_URL and AMQP_TLS_DIR too) in DIR; `stop` then
# leaves it alone. Logs stay in DIR/log after `stop`. --port PORT: AMQP on that port rather
# than a random free one (a test restarting its node: clients reconnect to the same URL).
# --conf KEY=VALUE (repeatable): an extra rabbitmq.conf line for this start, e.g.
# --conf max_message_size=65536 (a test of the broker's limits); give it again on a restart.
# --plugin NAME (repeatable): enable that plugin, e.g. rabbitmq_auth_mechanism_ssl for SASL
# EXTERNAL (with --tls --conf auth_mechanisms.1=EXTERNAL ...); none by default, so that the
# shared test node offers what a default install offers.
#
# `cluster` runs N such nodes (DIR defaults to build/rabbitmq-cluster; node I lives in DIR/nodeI,
# named amqp-rpc-cI-<hash of DIR>@localhost), all with one Erlang cookie, booted in parallel;
# nodes 2..N then join node 1. `cluster start` returns once node 1's cluster_status lists N
# running nodes, and prints AMQP_URL_<I>=... lines and AMQP_URLS=url1,url2,... (also written to
# DIR/amqp_urls). `cluster kill I` SIGKILLs node I's Erlang VM (no clean shutdown: a node crash);
# `cluster restart I` boots it again on the same ports with the same data, so it rejoins.
set -euo pipefail

# The wrappers in /usr/sbin switch to the `rabbitmq` user when run as root, which could not
# write our directory; the real scripts run as whoever calls them.
RMQ_BIN=${RABBITMQ_BIN_DIR:-/usr/lib/rabbitmq/bin}
BOOT_TIMEOUT=${RABBITMQ_BOOT_TIMEOUT:-90}
STOP_TIMEOUT=${RABBITMQ_STOP_TIMEOUT:-30}
# Ports are drawn from here; kept below Linux's ephemeral range (32768+) so outgoing
# connections do not take them between our check and the broker's bind.
PORT_MIN=20000
PORT_SPAN=10000

usage() {
    sed -n '6,12p' "$0" | sed 's/^# *//' >&2
    exit 2
}

[[ $# -ge 1 ]] || usage
cmd=$1
shift
# `cluster SUB [I]`: the subcommand and, for kill/restart/ctl, the node's index.
sub=
node_index=
if [[ $cmd == cluster ]]; then
    [[ $# -ge 1 ]] || usage
    sub=$1
    shift
    if [[ ${1:-} =~ ^[1-9][0-9]*$ ]]; then
        node_index=$1
        shift
    fi
fi
nodes=3
dir=
tls=0
if_no_url=0
ctl_args=()
fixed_port=
extra_conf=()
plugins=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --) shift; ctl_args=("$@"); break ;;
        --dir) [[ $# -ge 2 ]] || usage; dir=$2; shift 2 ;;
        --dir=*) dir=${1#--dir=}; shift ;;
        --tls) tls=1; shift ;;
        --port) [[ $# -ge 2 ]] || usage; fixed_port=$2; shift 2 ;;
        --port=*) fixed_port=${1#--port=}; shift ;;
        --if-no-url) if_no_url=1; shift ;;
        --nodes) [[ $# -ge 2 ]] || usage; nodes=$2; shift 2 ;;
        --nodes=*) nodes=${1#--nodes=}; shift ;;
        --plugin) [[ $# -ge 2 ]] || usage; plugins+=("$2"); shift 2 ;;
        --plugin=*) plugins+=("${1#--plugin=}"); shift ;;
        --conf) [[ $# -ge 2 ]] || usage; extra_conf+=("$2"); shift 2 ;;
        --conf=*) extra_conf+=("${1#--conf=}"); shift ;;
        -h|--help) usage ;;
        *) echo "rabbitmq.sh: unknown argument '$1'" >&2; usage ;;
    esac
done
repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
if [[ $cmd == cluster ]]; then
    dir=${dir:-$repo_root/build/rabbitmq-cluster}
else
    dir=${dir:-$repo_root/build/rabbitmq}
fi
mkdir -p "$dir"
dir=$(cd "$dir" && pwd)

log() { echo "rabbitmq.sh: $*" >&2; }

# True when something accepts TCP connections on 127.0.0.1:$1.
port_open() {
    timeout 2 bash -c "exec 3<>/dev/tcp/127.0.0.1/$1" 2>/dev/null
}

# True when nothing listens on port $1 (any address), as far as `ss` can tell.
port_free() {
    [[ -z $(ss -Htan "( sport = :$1 )" 2>/dev/null) ]]
}

pick_port() {
    local p i
    for ((i = 0; i < 200; i++)); do
        p=$((PORT_MIN + (RANDOM * 32768 + RANDOM) % PORT_SPAN))
        if port_free "$p" && ! [[ " $* " == *" $p "* ]]; then
            echo "$p"
            return 0
        fi
    done
    log "no free port found in $PORT_MIN..$((PORT_MIN + PORT_SPAN - 1))"
    return 1
}

# Everything the server and rabbitmqctl must agree on; read from DIR/node.env.
load_node_env() {
    [[ -f $dir/node.env ]] || return 1
    NODENAME=
    # shellcheck source=/dev/null
    . "$dir/node.env"
    export HOME=$dir/home
    # A cluster node has a name that survives its restart; a single node is named by its port.
    export RABBITMQ_NODENAME="${NODENAME:-amqptest-$NODE_PORT}@localhost"
    export RABBITMQ_NODE_IP_ADDRESS=127.0.0.1
    export RABBITMQ_NODE_PORT=$NODE_PORT
    export RABBITMQ_DIST_PORT=$DIST_PORT
    export RABBITMQ_CTL_DIST_PORT_MIN=$((DIST_PORT + 10000))
    export RABBITMQ_CTL_DIST_PORT_MAX=$((DIST_PORT + 10010))
    # Ignore the system node's settings in /etc/rabbitmq.
    export RABBITMQ_CONF_ENV_FILE=$dir/rabbitmq-env.conf
    export RABBITMQ_CONFIG_FILE=$dir/rabbitmq.conf
    export RABBITMQ_ADVANCED_CONFIG_FILE=$dir/advanced.config
    export RABBITMQ_ENABLED_PLUGINS_FILE=$dir/enabled_plugins
    export RABBITMQ_MNESIA_BASE=$dir/mnesia
    export RABBITMQ_LOG_BASE=$dir/log
    export RABBITMQ_PID_FILE=$dir/rabbitmq.pid
}

node_pid() {
    local pid=
    [[ -f $dir/rabbitmq.pid ]] && pid=$(cat "$dir/rabbitmq.pid" 2>/dev/null || true)
    [[ -z $pid && -f $dir/launcher.pid ]] && pid=$(cat "$dir/launcher.pid" 2>/dev/null || true)
    [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null && echo "$pid"
    return 0
}

make_tls() {
    local t=$dir/tls
    rm -rf "$t"
    mkdir -p "$t"
    (
        cd "$t"
        umask 077
        openssl req -x509 -new -nodes -newkey rsa:2048 -sha256 -days 30 \
            -keyout ca.key -out ca.pem -subj "/CN=amqp-rpc test CA" \
            -addext "basicConstraints=critical,CA:TRUE" \
            -addext "keyUsage=critical,keyCertSign,cRLSign"
        issue() { # name CN extensions
            openssl req -new -nodes -newkey rsa:2048 -sha256 \
                -keyout "$1.key" -out "$1.csr" -subj "/CN=$2"
            printf '%s\n' "$3" >"$1.ext"
            openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -sha256 -days 30 \
                -set_serial "0x$(openssl rand -hex 16)" -extfile "$1.ext" -out "$1.pem"
            rm -f "$1.csr" "$1.ext"
        }
        issue server localhost "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=serverAuth
subjectAltName=IP:127.0.0.1,DNS:localhost"
        issue client guest "basicConstraints=CA:FALSE
keyUsage=digitalSignature,keyEncipherment
extendedKeyUsage=clientAuth"
        chmod 644 ca.pem server.pem client.pem
    ) >"$dir/log/tls.log" 2>&1 || { log "openssl failed:"; cat "$dir/log/tls.log" >&2; return 1; }
}

write_config() {
    : >"$dir/rabbitmq-env.conf"
    local list
    list=$(IFS=,; echo "${plugins[*]-}")
    echo "[$list]." >"$dir/enabled_plugins"
    {
        echo "# Written by scripts/rabbitmq.sh for a private test node."
        echo "loopback_users = none"
        echo "listeners.tcp.default = 127.0.0.1:$NODE_PORT"
        echo "log.console = false"
        echo "log.file.level = info"
        if [[ -n ${SSL_PORT:-} ]]; then
            echo "listeners.ssl.default = 127.0.0.1:$SSL_PORT"
            echo "ssl_options.cacertfile = $dir/tls/ca.pem"
            echo "ssl_options.certfile = $dir/tls/server.pem"
            echo "ssl_options.keyfile = $dir/tls/server.key"
            echo "ssl_options.verify = verify_peer"
            echo "ssl_options.fail_if_no_peer_cert = false"
        fi
        local line
        for line in ${extra_conf[@]+"${extra_conf[@]}"}; do
            echo "${line%%=*} = ${line#*=}"
        done
    } >"$dir/rabbitmq.conf"
}

url_of() { # scheme port
    printf '%s://guest:guest@127.0.0.1:%s/\n' "$1" "$2"
}

print_urls() {
    echo "AMQP_URL=$(cat "$dir/amqp_url")"
    if [[ -f $dir/amqps_url ]]; then
        echo "AMQPS_URL=$(cat "$dir/amqps_url")"
        echo "AMQP_TLS_DIR=$dir/tls"
    fi
}

# Launches the node with the ports in node.env and waits until AMQP accepts connections.
boot_once() {
    load_node_env
    mkdir -p "$HOME" "$RABBITMQ_MNESIA_BASE" "$RABBITMQ_LOG_BASE"
    write_config
    rm -f "$dir/rabbitmq.pid" "$dir/launcher.pid"
    # setsid: the node must not receive the terminal's Ctrl-C on its own; whoever started it
    # stops it (test.sh/demo.sh traps, or the ctest cleanup fixture). No inherited stdout, or
    # ctest would wait for the pipe to close.
    setsid "$RMQ_BIN/rabbitmq-server" </dev/null >"$dir/log/startup.log" 2>&1 &
    echo $! >"$dir/launcher.pid"
    local launcher=$!
    local t0=$SECONDS
    # `wait` returns once the pid file exists and the rabbit app has booted.
    if ! timeout $((BOOT_TIMEOUT + 10)) "$RMQ_BIN/rabbitmqctl" -q wait "$RABBITMQ_PID_FILE" \
            --timeout "$BOOT_TIMEOUT" >>"$dir/log/startup.log" 2>&1; then
        kill -0 "$launcher" 2>/dev/null && stop_node >/dev/null 2>&1
        return 1
    fi
    local i
    for ((i = 0; i < 100; i++)); do
        if port_open "$NODE_PORT" && { [[ -z ${SSL_PORT:-} ]] || port_open "$SSL_PORT"; }; then
            echo $((SECONDS - t0)) >"$dir/boot_seconds"
            return 0
        fi
        kill -0 "$launcher" 2>/dev/null || return 1
        sleep 0.2
    done
    stop_node >/dev/null 2>&1
    return 1
}

stop_node() {
    load_node_env || return 0
    local pid
    pid=$(node_pid)
    if [[ -n $pid ]]; then
        timeout "$STOP_TIMEOUT" "$RMQ_BIN/rabbitmqctl" -q stop "$RABBITMQ_PID_FILE" \
            >>"$dir/log/stop.log" 2>&1 || true
        local i
        for sig in TERM KILL; do
            for ((i = 0; i < 50; i++)); do
                kill -0 "$pid" 2>/dev/null || break 2
                sleep 0.1
            done
            log "node $RABBITMQ_NODENAME (pid $pid) still alive; sending SIG$sig"
            kill -"$sig" "$pid" 2>/dev/null || true
        done
    fi
    # A throwaway test node: its queues are not worth keeping; its logs are.
    rm -rf "$RABBITMQ_MNESIA_BASE/$RABBITMQ_NODENAME" "$RABBITMQ_MNESIA_BASE/$RABBITMQ_NODENAME"-*
    rm -f "$dir/node.env" "$dir/rabbitmq.pid" "$dir/launcher.pid" "$dir/amqp_url" "$dir/amqps_url"
    log "stopped $RABBITMQ_NODENAME"
}

# Two starts at once must not pick the same ports: choose and bind them under one lock (fd 9,
# released with `flock -u 9`). The lock is per machine, not per directory, and held only while
# nodes boot. World-writable so that every user on the machine shares it; if another user made
# it without that, fall back to one of our own (the boot retry still covers a clash).
take_port_lock() {
    local lock=/tmp/amqp-rpc-rabbitmq-ports.lock
    (umask 0 && : >>"$lock") 2>/dev/null || true
    { exec 9>>"$lock"; } 2>/dev/null || exec 9>>"/tmp/amqp-rpc-rabbitmq-ports.$(id -u).lock"
    flock -w $((3 * BOOT_TIMEOUT)) 9 || { log "could not take the port lock"; return 1; }
}

cmd_start() {
    if [[ $if_no_url == 1 && -n ${AMQP_URL:-} ]]; then
        printf '%s\n' "$AMQP_URL" >"$dir/amqp_url"
        rm -f "$dir/amqps_url"
        if [[ -n ${AMQPS_URL:-} ]]; then
            printf '%s\n' "$AMQPS_URL" >"$dir/amqps_url"
        fi
        if [[ -n ${AMQP_TLS_DIR:-} && $(cd "$AMQP_TLS_DIR" && pwd) != "$dir/tls" ]]; then
            mkdir -p "$dir/tls"
            cp "$AMQP_TLS_DIR"/ca.pem "$AMQP_TLS_DIR"/client.pem "$AMQP_TLS_DIR"/client.key "$dir/tls/"
        fi
        touch "$dir/external"
        log "AMQP_URL is set: using that broker, starting none"
        print_urls
        return 0
    fi
    rm -f "$dir/external"
    if load_node_env && [[ -n $(node_pid) ]] && port_open "$NODE_PORT"; then
        log "already running in $dir as $RABBITMQ_NODENAME"
        print_urls
        return 0
    fi
    stop_node >/dev/null 2>&1 || true
    mkdir -p "$dir/log"
    [[ $tls == 1 ]] && make_tls

    take_port_lock || return 1
    local attempt t0=$SECONDS
    for attempt in 1 2 3; do
        NODE_PORT=${fixed_port:-$(pick_port)}
        DIST_PORT=$(pick_port "$NODE_PORT")
        SSL_PORT=
        [[ $tls == 1 ]] && SSL_PORT=$(pick_port "$NODE_PORT" "$DIST_PORT")
        printf 'NODE_PORT=%s\nDIST_PORT=%s\nSSL_PORT=%s\n' "$NODE_PORT" "$DIST_PORT" "$SSL_PORT" \
            >"$dir/node.env"
        if boot_once; then
            flock -u 9
            url_of amqp "$NODE_PORT" >"$dir/amqp_url"
            if [[ -n $SSL_PORT ]]; then
                url_of amqps "$SSL_PORT" >"$dir/amqps_url"
            else
                rm -f "$dir/amqps_url"
            fi
            log "$RABBITMQ_NODENAME up in $((SECONDS - t0))s (data and logs in $dir)"
            print_urls
            return 0
        fi
        log "boot attempt $attempt failed (ports $NODE_PORT/$DIST_PORT${SSL_PORT:+/$SSL_PORT}); last log lines:"
        tail -n 15 "$dir/log/startup.log" >&2 || true
    done
    flock -u 9
    log "giving up; logs are in $dir/log"
    return 1
}

cmd_status() {
    if [[ -f $dir/external ]]; then
        local url port
        url=$(cat "$dir/amqp_url")
        port=${url##*:}
        port=${port%%/*}
        if port_open "$port"; then
            echo "running (external broker, not ours): $url"
            return 0
        fi
        echo "not running: external broker $url does not accept connections"
        return 3
    fi
    if load_node_env && [[ -n $(node_pid) ]] && port_open "$NODE_PORT"; then
        echo "running: $RABBITMQ_NODENAME pid $(node_pid)"
        print_urls
        return 0
    fi
    echo "not running (in $dir)"
    return 3
}

case $cmd in
    cluster)
        # shellcheck source=scripts/rabbitmq-cluster.sh
        . "$repo_root/scripts/rabbitmq-cluster.sh"
        cmd_cluster
        ;;
    start) cmd_start ;;
    stop)
        if [[ -f $dir/external ]]; then
            rm -f "$dir/external"
            log "broker in $dir was not started by us; leaving it alone"
        else
            stop_node
        fi
        ;;
    status) cmd_status ;;
    # For tests that change a running node (e.g. a memory alarm): rabbitmqctl needs its env.
    ctl)
        load_node_env || { log "no node in $dir"; exit 3; }
        exec "$RMQ_BIN/rabbitmqctl" "${ctl_args[@]}"
        ;;
    *) usage ;;
esac
