#!/usr/bin/env bash
# Builds the Go peer offline: amqp091-go from Debian (golang-github-rabbitmq-amqp091-go-dev, through
# go.mod's replace), no module proxy, no network. Usage: build.sh OUTPUT_BINARY
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
out=${1:?usage: build.sh OUTPUT_BINARY}
command -v go >/dev/null || { echo "build.sh: no go (apt-get install golang-go)" >&2; exit 1; }
cd "$here"
export GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on GOTOOLCHAIN=local GOSUMDB=off
outdir=$(dirname "$(realpath -m "$out")")
# Everything Go writes stays in the build tree (no $HOME needed, nothing downloaded).
export GOCACHE=${GOCACHE:-$outdir/.gocache} GOPATH=${GOPATH:-$outdir/.gopath}
go build -trimpath -o "$out" .
