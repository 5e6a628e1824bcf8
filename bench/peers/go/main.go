// The Go peer of the RPC benchmark (issue 19), on github.com/rabbitmq/amqp091-go, the client
// RabbitMQ maintains: one binary, a client and a server that play the Fibonacci RPC exactly as
// bench/rpc_bench and examples/rpc_server do (see client.go and server.go).
//
//	amqp091_rpc server --url URL [--queue Q] [--prefetch P] [--echo]
//	amqp091_rpc client --url URL [--queue Q] [--requests N] [--warmup W] [--inflight K] [--n N]
//	                   [--size B] [--direct-reply-to] [--json] [--bare] [--timeout S]
package main

import (
	"fmt"
	"os"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: amqp091_rpc client|server [options] (--help for each)")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "client":
		os.Exit(runClient(os.Args[2:]))
	case "server":
		os.Exit(runServer(os.Args[2:]))
	default:
		fmt.Fprintf(os.Stderr, "amqp091_rpc: unknown command %q (client or server)\n", os.Args[1])
		os.Exit(2)
	}
}
