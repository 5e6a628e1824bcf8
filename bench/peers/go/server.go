// The Go peer's server: consume --queue with basic.qos --prefetch, compute fib(n) (or, with
// --echo, return the body as it came), publish the reply to reply_to through the default exchange
// with the request's correlation_id, then ack, one delivery at a time as amqp091-go's examples do.
// Exits 0 on SIGINT/SIGTERM, or after --stop-after requests: callgrind (bench/matrix_instr.py)
// cannot deliver a signal to a Go program (its signal hand-off asserts), so the instruction counts
// stop the server this way.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	amqp "github.com/rabbitmq/amqp091-go"
)

func runServer(argv []string) int {
	fs := flag.NewFlagSet("server", flag.ExitOnError)
	url := fs.String("url", "", "broker URL")
	queue := fs.String("queue", "rpc_queue", "request queue")
	prefetch := fs.Int("prefetch", 1, "basic.qos prefetch_count")
	echo := fs.Bool("echo", false, "reply with the request body (message-size runs)")
	stopAfter := fs.Int("stop-after", 0, "exit 0 after this many requests (0: never)")
	fs.Parse(argv)
	if *url == "" || *prefetch < 0 || *prefetch > 65535 {
		fs.Usage()
		return 2
	}
	conn, err := amqp.Dial(*url)
	if err != nil {
		die("cannot connect to %s: %v", *url, err)
	}
	ch, err := conn.Channel()
	if err != nil {
		die("channel.open: %v", err)
	}
	// Declared like the tutorial's server (not durable, not exclusive) so every server agrees.
	if _, err := ch.QueueDeclare(*queue, false, false, false, false, nil); err != nil {
		die("queue.declare: %v", err)
	}
	if err := ch.Qos(*prefetch, 0, false); err != nil {
		die("basic.qos: %v", err)
	}
	deliveries, err := ch.Consume(*queue, "", false, false, false, false, nil)
	if err != nil {
		die("basic.consume: %v", err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGINT, syscall.SIGTERM)
	fmt.Fprintf(os.Stderr, " [x] Awaiting RPC requests on '%s' (prefetch %d)\n", *queue, *prefetch)
	ctx := context.Background()
	served := 0
	for {
		if *stopAfter > 0 && served == *stopAfter {
			select {
			case stop <- syscall.SIGTERM:
			default: // a signal is already waiting
			}
		}
		select {
		case <-stop:
			ch.Close()
			conn.Close()
			fmt.Fprintln(os.Stderr, " [x] Stopped")
			return 0
		case d, ok := <-deliveries:
			if !ok {
				die("the request consumer was closed")
			}
			if d.ReplyTo != "" {
				reply := amqp.Publishing{CorrelationId: d.CorrelationId}
				if *echo {
					reply.Body = d.Body
				} else {
					text, ctype := answer(d.Body)
					reply.Body, reply.ContentType = []byte(text), ctype
				}
				if err := ch.PublishWithContext(ctx, "", d.ReplyTo, false, false, reply); err != nil {
					die("basic.publish of a reply: %v", err)
				}
			}
			// Acked after the reply is written, as the tutorial does: a crash before this redelivers.
			if err := d.Ack(false); err != nil {
				die("basic.ack: %v", err)
			}
			served++
		}
	}
}
