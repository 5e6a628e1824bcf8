// The Go peer's client: one connection and channel, an exclusive server-named reply queue (or
// direct reply-to) consumed with auto-ack, requests published as our client publishes them
// (reply_to, correlation_id, expiration = the timeout in ms, mandatory; --bare: reply_to and
// correlation_id only), --inflight calls kept outstanding (each reply publishes the next), replies
// matched by correlation_id and checked against fib(n) (--size B: a B-byte body echoed back). The
// first --warmup calls are not measured. Prints one line, as bench/rpc_bench does:
//
//	rpc/s=... p50_us=... p99_us=... p999_us=... cpu_us_per_call=... requests=N
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"sort"
	"strconv"
	"syscall"
	"time"

	amqp "github.com/rabbitmq/amqp091-go"
)

func cpuTime() time.Duration {
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// percentileUs is the nearest-rank percentile of sorted latencies, in microseconds (the peers' rule).
func percentileUs(sorted []time.Duration, p float64) float64 {
	if len(sorted) == 0 {
		return 0
	}
	rank := int(p*float64(len(sorted)) + 0.999999)
	if rank < 1 {
		rank = 1
	}
	if rank > len(sorted) {
		rank = len(sorted)
	}
	return float64(sorted[rank-1].Nanoseconds()) / 1000.0
}

func round(v float64, digits int) float64 {
	s := strconv.FormatFloat(v, 'f', digits, 64)
	r, _ := strconv.ParseFloat(s, 64)
	return r
}

func runClient(argv []string) int {
	fs := flag.NewFlagSet("client", flag.ExitOnError)
	url := fs.String("url", "", "broker URL")
	queue := fs.String("queue", "rpc_queue", "the server's queue")
	requests := fs.Int("requests", 10000, "measured calls")
	warmup := fs.Int("warmup", 1000, "unmeasured calls first")
	inflight := fs.Int("inflight", 1, "calls outstanding at once")
	n := fs.Uint64("n", 10, "the Fibonacci argument")
	size := fs.Int("size", -1, "echo mode: a request body of this many bytes, expected back as is")
	direct := fs.Bool("direct-reply-to", false, "replies through amq.rabbitmq.reply-to")
	asJSON := fs.Bool("json", false, "the result as one JSON object")
	bare := fs.Bool("bare", false, "no expiration, not mandatory")
	timeout := fs.Float64("timeout", 30, "seconds without any reply")
	fs.Parse(argv)
	if *url == "" || *requests < 1 || *inflight < 1 || *warmup < 0 || *n > maxN {
		fs.Usage()
		return 2
	}

	conn, err := amqp.Dial(*url)
	if err != nil {
		die("cannot connect to %s: %v", *url, err)
	}
	defer conn.Close()
	ch, err := conn.Channel()
	if err != nil {
		die("channel.open: %v", err)
	}
	replyTo := "amq.rabbitmq.reply-to"
	if !*direct {
		q, err := ch.QueueDeclare("", false, true, true, false, nil)
		if err != nil {
			die("queue.declare: %v", err)
		}
		replyTo = q.Name
	}
	// Direct reply-to requires the consumer before the first publish, in no-ack mode.
	replies, err := ch.Consume(replyTo, "", true, true, false, false, nil)
	if err != nil {
		die("basic.consume: %v", err)
	}
	returns := ch.NotifyReturn(make(chan amqp.Return, 1))

	var body, expected []byte
	if *size >= 0 {
		body = echoBody(*size)
		expected = body
	} else {
		body = []byte(strconv.FormatUint(*n, 10))
		expected = []byte(fibText(*n))
	}
	expiration := ""
	if !*bare {
		expiration = strconv.Itoa(int(*timeout * 1000))
	}
	total := *warmup + *requests
	sentAt := make([]time.Time, total)
	answered := make([]bool, total)
	latencies := make([]time.Duration, 0, *requests)
	ctx := context.Background()
	sent, done, stray := 0, 0, 0
	publish := func() {
		i := sent
		sentAt[i] = time.Now()
		err := ch.PublishWithContext(ctx, "", *queue, !*bare, false, amqp.Publishing{
			ReplyTo: replyTo, CorrelationId: strconv.Itoa(i), Expiration: expiration, Body: body})
		if err != nil {
			die("basic.publish: %v", err)
		}
		sent++
	}

	t0, c0 := time.Now(), cpuTime()
	for sent < *inflight && sent < total {
		publish()
	}
	limit := time.Duration(*timeout * float64(time.Second))
	timer := time.NewTimer(limit)
	for done < total {
		select {
		case d, ok := <-replies:
			if !ok {
				die("the reply consumer was closed (%d of %d answered)", done, total)
			}
			now := time.Now()
			i, err := strconv.Atoi(d.CorrelationId)
			if err != nil || i < 0 || i >= total || answered[i] {
				stray++ // not ours, or a duplicate: dropped as the RPC pattern does
				continue
			}
			if !bytes.Equal(d.Body, expected) {
				shown := d.Body
				if len(shown) > 80 {
					shown = shown[:80]
				}
				die("wrong reply (%d bytes): %q", len(d.Body), shown)
			}
			answered[i] = true
			done++
			if i >= *warmup {
				latencies = append(latencies, now.Sub(sentAt[i]))
			}
			if done == *warmup {
				t0, c0 = time.Now(), cpuTime()
			}
			if sent < total {
				publish()
			}
			if !timer.Stop() {
				<-timer.C
			}
			timer.Reset(limit)
		case r := <-returns:
			die("request returned by the broker: %d %s", r.ReplyCode, r.ReplyText)
		case <-timer.C:
			die("no reply within %g s (%d of %d answered)", *timeout, done, total)
		}
	}
	elapsed := time.Since(t0)
	cpu := cpuTime() - c0

	sort.Slice(latencies, func(a, b int) bool { return latencies[a] < latencies[b] })
	m := float64(len(latencies))
	res := map[string]any{
		"client":          "amqp091-go",
		"rpc/s":           round(m/elapsed.Seconds(), 1),
		"p50_us":          round(percentileUs(latencies, 0.50), 1),
		"p99_us":          round(percentileUs(latencies, 0.99), 1),
		"p999_us":         round(percentileUs(latencies, 0.999), 1),
		"cpu_us_per_call": round(float64(cpu.Microseconds())/m, 2),
		"requests":        len(latencies),
	}
	if stray > 0 {
		fmt.Printf(" [x] %d replies with unknown correlation ids dropped\n", stray)
	}
	if *asJSON {
		out, _ := json.Marshal(res)
		fmt.Println(string(out))
	} else {
		fmt.Printf("rpc/s=%v p50_us=%v p99_us=%v p999_us=%v cpu_us_per_call=%v requests=%v\n", res["rpc/s"],
			res["p50_us"], res["p99_us"], res["p999_us"], res["cpu_us_per_call"], res["requests"])
	}
	ch.Close()
	return 0
}
