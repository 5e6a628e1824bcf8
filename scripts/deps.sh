#!/usr/bin/env bash
# Installs the Debian (bookworm) packages this project needs, and only those that are missing:
# a second run asks dpkg, finds everything, and returns at once.
set -euo pipefail

packages=(
    build-essential cmake g++ clang libclang-rt-14-dev ccache
    clang-format  # scripts/format.sh and the format_check test
    libboost1.81-dev libboost-url1.81-dev libboost-json1.81-dev
    libgtest-dev libbenchmark-dev libssl-dev openssl
    rabbitmq-server python3-pika python3-pamqp librabbitmq-dev
    tshark amqp-specs python3-matplotlib linux-perf libpcap-dev
    chromium chromium-driver
    iproute2 util-linux procps
    # Benchmark peers (bench/peers, issue 19): Go's amqp091-go built offline, aio-pika, Node, callgrind.
    golang-go golang-github-rabbitmq-amqp091-go-dev python3-aio-pika nodejs valgrind
)

missing=()
for p in "${packages[@]}"; do
    status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
    [[ $status == "install ok installed" ]] || missing+=("$p")
done
# The Node peer's locked packages (bench/peers/node/package-lock.json) from the npm registry,
# installed again only when the lock names another version than node_modules holds.
node_peer() {
    local dir
    dir=$(cd "$(dirname "${BASH_SOURCE[0]}")/../bench/peers/node" && pwd)
    if ! command -v npm >/dev/null; then
        echo "deps.sh: no npm: the Node benchmark peer is not installed" >&2
        return 0
    fi
    local want have
    want=$(grep -m1 -A2 '"node_modules/rabbitmq-client"' "$dir/package-lock.json" | sed -n 's/.*"version": "\(.*\)".*/\1/p')
    have=$(sed -n 's/.*"version": "\(.*\)".*/\1/p' "$dir/node_modules/rabbitmq-client/package.json" 2>/dev/null | head -1 || true)
    if [[ -n $want && $want == "$have" ]]; then
        echo "deps.sh: bench/peers/node has rabbitmq-client $have"
        return 0
    fi
    echo "deps.sh: npm ci in bench/peers/node (rabbitmq-client $want)"
    (cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
}

if [[ ${#missing[@]} -eq 0 ]]; then
    echo "deps.sh: all ${#packages[@]} packages are installed"
    node_peer
    exit 0
fi
echo "deps.sh: installing ${missing[*]}"

sudo=()
if [[ $(id -u) -ne 0 ]]; then
    command -v sudo >/dev/null || { echo "deps.sh: not root and no sudo; install as root: ${missing[*]}" >&2; exit 1; }
    sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive

# Installing rabbitmq-server would otherwise start the system node (rabbit@host on 5672), which
# we never use and which would hold the port. A policy-rc.d that answers 101 forbids starting
# services from maintainer scripts; ours is removed again on exit, a pre-existing one is kept.
policy=/usr/sbin/policy-rc.d
own_policy=0
cleanup() {
    if [[ $own_policy == 1 ]]; then "${sudo[@]}" rm -f "$policy"; fi
}
trap cleanup EXIT
if [[ ! -e $policy ]]; then
    printf '#!/bin/sh\n# Temporary, from scripts/deps.sh: do not start services.\nexit 101\n' |
        "${sudo[@]}" tee "$policy" >/dev/null
    "${sudo[@]}" chmod 755 "$policy"
    own_policy=1
fi

# tshark asks whether non-root users may capture; answer "no" ahead of time so it never blocks.
echo "wireshark-common wireshark-common/install-setuid boolean false" |
    "${sudo[@]}" debconf-set-selections

apt_opts=(-y -q -o DPkg::Lock::Timeout=300 -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold)
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -q -o DPkg::Lock::Timeout=300 update
"${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" --no-install-recommends "${missing[@]}"

# Belt and braces: if a system node got started anyway (e.g. a policy-rc.d that allows it),
# stop it so it neither holds 5672 nor confuses anyone about which broker the tests use.
if [[ " ${missing[*]} " == *" rabbitmq-server "* ]] && pgrep -f 'beam.*-home /var/lib/rabbitmq' >/dev/null 2>&1; then
    echo "deps.sh: stopping the system RabbitMQ node that the package started"
    "${sudo[@]}" invoke-rc.d rabbitmq-server stop >/dev/null 2>&1 ||
        "${sudo[@]}" /usr/sbin/rabbitmqctl stop >/dev/null 2>&1 || true
fi
# Debian's nodejs comes without npm (a separate package); a nodejs that ships its own npm needs none.
if ! command -v npm >/dev/null; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install "${apt_opts[@]}" --no-install-recommends npm
fi
node_peer
echo "deps.sh: done"
