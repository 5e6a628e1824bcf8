// Shared by the Go peer's client and server: the Fibonacci service's wire format and the echo body.
package main

import (
	"fmt"
	"math/big"
	"os"
	"strconv"
	"strings"
)

// maxN bounds the work one request can ask for, as the pika peer does (fib(10000) has 2090 digits).
const maxN = 10000

// fibText is fib(n) in decimal, the reply body of our server and of every peer.
func fibText(n uint64) string {
	a, b := big.NewInt(0), big.NewInt(1)
	for i := uint64(0); i < n; i++ {
		a.Add(a, b)
		a, b = b, a
	}
	return a.String()
}

// answer is the reply body and content type for a Fibonacci request body, errors as our server
// words them ({"response": null, "error": ...} as application/json).
func answer(body []byte) (string, string) {
	n, err := strconv.ParseUint(strings.TrimSpace(string(body)), 10, 64)
	if err != nil {
		return `{"response": null, "error": "request is not a number"}`, "application/json"
	}
	if n > maxN {
		return fmt.Sprintf(`{"response": null, "error": "n out of range (0..%d)"}`, maxN), "application/json"
	}
	return fibText(n), ""
}

// echoBody is the request body of the message-size runs: size bytes 'a'..'z' repeated, the same
// in every client so that every server echoes the same bytes.
func echoBody(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte('a' + i%26)
	}
	return b
}

func die(format string, args ...any) {
	fmt.Fprintf(os.Stderr, " [!] Error: "+format+"\n", args...)
	os.Exit(1)
}
