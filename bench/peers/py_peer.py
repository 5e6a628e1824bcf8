"""Shared by the Python peers (pika_rpc_*.py, aiopika_rpc.py): the Fibonacci function, the echo
body, and the result line every benchmark client prints."""
import json


def fib(n):
    a, b = 0, 1
    for _ in range(n):
        a, b = b, a + b
    return a


def echo_body(size):
    """The message-size runs' request body: size bytes 'a'..'z' repeated, as every peer sends it."""
    return (bytes(range(97, 123)) * (size // 26 + 1))[:size]


def percentile_us(sorted_ns, p):
    """Nearest-rank percentile, in microseconds (the rule every client uses)."""
    if not sorted_ns:
        return 0.0
    rank = min(len(sorted_ns), max(1, int(-(-p * len(sorted_ns) // 1))))
    return sorted_ns[rank - 1] / 1000.0


def result_line(client, latencies_ns, elapsed_ns, cpu_s, as_json):
    """The final line: rpc/s=... p50_us=... p99_us=... p999_us=... cpu_us_per_call=... requests=N
    (or the same as JSON with "client"), from the measured calls' latencies."""
    latencies_ns.sort()
    m = len(latencies_ns)
    res = {
        "rpc/s": round(m * 1e9 / elapsed_ns, 1) if elapsed_ns else 0.0,
        "p50_us": round(percentile_us(latencies_ns, 0.50), 1),
        "p99_us": round(percentile_us(latencies_ns, 0.99), 1),
        "p999_us": round(percentile_us(latencies_ns, 0.999), 1),
        "cpu_us_per_call": round(cpu_s * 1e6 / m, 2) if m else 0.0,
        "requests": m,
    }
    if as_json:
        return json.dumps({"client": client, **res})
    return " ".join(f"{k}={v}" for k, v in res.items())
