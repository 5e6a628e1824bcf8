#!/usr/bin/python3
"""RPC on the three-node cluster while a node dies: our rpc_server and a client, on node lists.

The layout makes each role live on its own node: both servers connect to node 1 first (lists
1,2,3 and 1,3,2), the load client (cluster_load, 16 calls in flight) to node 2 (list 2,3,1), and
the quorum request queue is declared through node 3, so its leader starts there.

  --kill client   SIGKILL the client's node mid-run: its reply queue dies with it; the pending
                  idempotent calls must be re-sent after the failover to node 3.
  --kill server   SIGKILL the servers' node: they reconnect to another node and consume again;
                  the requests they held unacked are redelivered.
  --kill leader   SIGKILL the node that leads the quorum queue (looked up, node 3 expected): a
                  new leader is elected; no connection is lost.
  --kill rolling  kill and restart node 1, then 2, then 3, each once the calls flow again after
                  the previous one (every role's node, one by one), then end the load (SIGTERM:
                  it finishes the calls in flight).
  --kill none     no kill: the same run, for the figures without a failure.
Each: every call answered with the right value, the client exits 0, both servers still run; then
the real rpc_client program gets its answer with the dead node first, then last, in its list; the
killed node is restarted for the tests after this one. Prints the figures (calls, re-sends,
duplicates dropped, the longest pause in the answers around the kill).

  --not-idempotent   a plain (not idempotent) request, confirmed and pending (no server runs),
                     when the client's node dies: the call fails naming that node, and is not
                     re-sent (the queue holds one request, not two). Then a request nacked by a
                     full queue (x-max-length 1, reject-publish) fails with contracts.md's text.

  --dead-reply-to    requests whose direct reply-to address is on a node killed before any server
                     starts: RabbitMQ 3.10 closes a server's connection (541) at each reply to
                     them. The servers reject them unanswered once their address is singled out,
                     and a live client's call is answered meanwhile.

  --compare-confirms figures, not a check: the calls/s of the same load with confirms off, on, and
                     on a quorum queue (run by hand; docs/cluster.md quotes it).

  rpc_failover_test.py --script scripts/rabbitmq.sh --dir CLUSTER_DIR --server RPC_SERVER
                       --client RPC_CLIENT --load CLUSTER_LOAD (--kill WHO | --not-idempotent | --dead-reply-to |
                       --compare-confirms)
"""
import argparse
import atexit
import os
import re
import signal
import subprocess
import threading
import time

import pika

from cluster_support import Cluster, connect, declare_quorum, delete_queue, fail

SERVER_NODES = ([1, 2, 3], [1, 3, 2])
CLIENT_NODES = [2, 3, 1]
LEADER_NODE = 3
# Bounds for a busy 2-core machine running three Erlang VMs.
READY_WAIT = 60
RUN_WAIT = 150
DEAD_REQUESTS = 3
DROPPED = re.compile(r'\(correlation_id "([^"]*)"\) rejected unanswered')
NOT_CONFIRMED_TEXT = ("the request may not have reached the queue (", "); not re-sent: the call is not idempotent")


class Program:
    """A child process whose output lines are collected by threads. None outlives the test."""

    started = []

    def __init__(self, name, cmd):
        self.name = name
        print(f"$ {' '.join(cmd)}", flush=True)
        self.proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        Program.started.append(self.proc)
        self.out, self.err = [], []
        self.cond = threading.Condition()
        for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err)):
            threading.Thread(target=self._read, args=(stream, lines), daemon=True).start()

    def _read(self, stream, lines):
        for line in stream:
            with self.cond:
                lines.append(line.rstrip("\n"))
                self.cond.notify_all()

    def wait_for(self, predicate, timeout):
        """True once predicate(out lines) holds; False on timeout or when the process ended."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while not predicate(self.out):
                left = deadline - time.monotonic()
                if left <= 0 or self.proc.poll() is not None:
                    return predicate(self.out)
                self.cond.wait(min(left, 0.5))
            return True

    def finish(self, timeout):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            rc = self.proc.wait()
            print(f"{self.name}: still running after {timeout}s; killed", flush=True)
        time.sleep(0.2)  # the reader threads drain the pipes
        return rc

    def dump(self, tail=40):
        with self.cond:
            out, err = list(self.out), list(self.err)
        for label, lines in (("stdout", out), ("stderr", err)):
            if lines:
                print(f"--- {self.name} {label} (last {min(tail, len(lines))} of {len(lines)} lines)")
                print("\n".join(lines[-tail:]))


@atexit.register
def _end_children():
    for proc in Program.started:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def url_args(cluster, nodes):
    return [a for n in nodes for a in ("--url", cluster.url(n))]


def answers(lines):
    """(count, monotonic time) of each "answered" line of cluster_load."""
    return [(int(p[1]), float(p[2])) for p in (line.split() for line in lines) if p and p[0] == "answered"]


def stats(lines):
    for line in lines:
        if line.startswith("stats "):
            return dict(kv.split("=", 1) for kv in line.split()[1:])
    return {}


def start_servers(args, cluster, queue, kind=("--queue-type", "quorum")):
    servers = []
    for i, nodes in enumerate(SERVER_NODES):
        servers.append(Program(f"server{i + 1}", [args.server, *url_args(cluster, nodes), "--queue", queue, *kind,
                                                  "--reconnect", "--quiet", "--prefetch", "8"]))
    for s in servers:
        if not s.wait_for(lambda out: any("Awaiting RPC requests" in line for line in out), READY_WAIT):
            s.dump()
            fail(f"{s.name} did not start (exit {s.proc.poll()})")
    return servers


def stop_servers(servers):
    failed = []
    for s in servers:
        if s.proc.poll() is not None:
            failed.append(f"{s.name} exited with {s.proc.returncode} during the run")
            continue
        s.proc.send_signal(signal.SIGTERM)
    for s in servers:
        rc = s.finish(60)
        if rc != 0 and not any(s.name in f for f in failed):
            failed.append(f"{s.name} exited with {rc} after SIGTERM")
    return failed


def ask_fib25(args, cluster, queue, nodes, note=""):
    """The real rpc_client program on `nodes` asks for fib(25); prints what it said (`note` after
    the nodes) and returns (answered right, seconds taken)."""
    t0 = time.monotonic()
    done = subprocess.run([args.client, *url_args(cluster, nodes), "--queue", queue, "--queue-type", "quorum", "25"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=120)
    took = time.monotonic() - t0
    print(f"rpc_client on nodes {nodes}{note} -> {done.returncode} after {took:.1f}s\n{done.stdout}{done.stderr}",
          end="", flush=True)
    return done.returncode == 0 and "Got 75025" in done.stdout, took


def calls_with_dead_node(args, cluster, queue, dead):
    """The real rpc_client program with the dead node first, then last, in its list: it must
    answer both times (a program that took only the first or only the last --url would not)."""
    live = next(n for n in (1, 2, 3) if n != dead)
    for nodes in ([dead, live], [live, dead]):
        if not ask_fib25(args, cluster, queue, nodes, f" (node {dead} dead)")[0]:
            fail(f"rpc_client on nodes {nodes}, node {dead} dead, did not answer fib(25)")


def kill_pause(times, started, returned):
    """The longest pause between two answers that the kill (from `started` to `returned`) caused:
    the gap before the first answer after `returned`, or a longer one that began meanwhile."""
    after = [t for t in times if t > returned]
    if not after:
        return None
    gaps = [b - a for a, b in zip(times, times[1:]) if started < b <= after[0]]
    return max(gaps, default=after[0] - returned)


def check_roles(cluster, target, role, load, servers):
    """The roles must be where the layout puts them, or the kill would test nothing."""
    off = [f"{p.name} on {sorted(cluster.connected_nodes(p.proc.pid))}" for p in role
           if target not in cluster.connected_nodes(p.proc.pid)]
    if off:
        load.dump()
        stop_servers(servers)
        fail(f"not connected to node {target}, the node to kill: {', '.join(off)}")


def kill_test(args, cluster):
    queue = f"cluster-rpc-{args.kill}-{os.getpid()}"
    declare_quorum(cluster.url(LEADER_NODE), queue)
    leader = cluster.leader_index(queue)
    targets = {"client": [CLIENT_NODES[0]], "server": [SERVER_NODES[0][0]], "leader": [leader],
               "rolling": [1, 2, 3], "none": []}[args.kill]
    rolling = args.kill == "rolling"
    print(f"queue {queue}: leader node {leader}; servers on node {SERVER_NODES[0][0]}, client on node "
          f"{CLIENT_NODES[0]}; killing: {args.kill} (nodes {targets})", flush=True)

    servers = start_servers(args, cluster, queue)
    load_args = [args.load, *url_args(cluster, CLIENT_NODES), "--queue", queue, "--queue-type", "quorum",
                 "--requests", str(args.requests), "--inflight", str(args.inflight),
                 "--interval-ms", str(args.interval_ms), "--timeout", "90",
                 *(["--direct-reply-to"] if args.direct_reply_to else [])]
    # The first client paces the kills; the others run the same load alongside, on the same node.
    loads = [Program("cluster_load" if i == 0 else f"cluster_load#{i + 1}", load_args) for i in range(args.clients)]
    load = loads[0]
    kills = []  # (node, answers before, command started, command returned)
    t0 = time.monotonic()
    for node in targets:
        # Mid-run: a single kill after a quarter of the calls; a rolling restart's next node once
        # the calls flow again after the previous one.
        want = len(answers(load.out)) + (args.requests // 4 if not rolling else 2 * args.inflight)
        if not load.wait_for(lambda out: len(answers(out)) >= want, READY_WAIT):
            load.dump()
            stop_servers(servers)
            fail(f"the load did not reach {want} answers before killing node {node}")
        if not rolling:
            check_roles(cluster, node, {"client": loads, "server": servers}.get(args.kill, []), load, servers)
        before, started = len(answers(load.out)), time.monotonic()
        cluster.kill(node)
        kills.append((node, before, started, time.monotonic()))
        print(f"node {node} killed after {before} answers", flush=True)
        if rolling:
            cluster.restart(node)
    if rolling:
        if not load.wait_for(lambda out: len(answers(out)) >= kills[-1][1] + 2 * args.inflight, READY_WAIT):
            load.dump()
            stop_servers(servers)
            fail("the calls did not flow again after the last restart")
        for each in loads:
            each.proc.send_signal(signal.SIGTERM)  # enough: finish the calls in flight
    rc = load.finish(RUN_WAIT)
    elapsed = time.monotonic() - t0
    load.dump(tail=5)
    st = stats(load.out)
    got = answers(load.out)
    calls = len(got) if rolling else args.requests
    failures = [] if rc == 0 else [f"cluster_load exited with {rc}"]
    if len(got) != calls or (rolling and len(got) >= args.requests):
        failures.append(f"{len(got)} calls answered, {calls} expected (of at most {args.requests})")
    if args.kill == "client" and int(st.get("reconnects", 0)) < 1:
        failures.append(f"the client's node died but the client did not reconnect: {st}")
    resent, duplicates = int(st.get("resent", 0)), int(st.get("duplicates", 0))
    for other in loads[1:]:
        other_rc = other.finish(RUN_WAIT)
        other_got = len(answers(other.out))
        other_st = stats(other.out)
        resent += int(other_st.get("resent", 0))
        duplicates += int(other_st.get("duplicates", 0))
        if other_rc != 0 or (not rolling and other_got != args.requests):
            other.dump(tail=5)
            failures.append(f"{other.name} exited with {other_rc}, {other_got} calls answered of {args.requests}")
    if kills and not rolling:
        calls_with_dead_node(args, cluster, queue, kills[0][0])
    failures += stop_servers(servers)
    if failures:
        for s in servers:
            s.dump()
        fail("; ".join(failures))

    print(f"FIGURES kill={args.kill} nodes={targets} clients={args.clients} calls_first_client={calls} "
          f"inflight={args.inflight} re-sent_all_clients={resent} duplicates_all_clients={duplicates} "
          f"published={st.get('published')} re-sent={st.get('resent')} duplicates={st.get('duplicates')} "
          f"late_or_unknown={int(st.get('late', 0)) + int(st.get('unknown', 0))} reconnects={st.get('reconnects')} "
          f"run={elapsed:.1f}s", flush=True)
    times = [t for _, t in got]
    for node, before, started, returned in kills:
        after = [t for t in times if t > returned]
        if len(after) < min(calls - before, args.requests // 10, 2 * args.inflight):
            fail(f"only {len(after)} calls were answered after killing node {node}: the run ended too soon to "
                 "test the failover (raise --requests or --interval-ms)")
        print(f"FIGURES node {node} killed after {before} answers: first answer {after[0] - returned:.2f}s after the "
              f"kill command returned; longest pause in the answers {kill_pause(times, started, returned):.2f}s",
              flush=True)
    if not rolling:
        cluster.restart_killed()
    delete_queue(cluster.url(1), queue)
    print("PASS")


def not_idempotent_test(args, cluster):
    queue = f"cluster-rpc-not-idempotent-{os.getpid()}"
    declare_quorum(cluster.url(LEADER_NODE), queue)
    client_node = CLIENT_NODES[0]
    # No server: the request stays queued, confirmed, its reply never comes.
    load = Program("cluster_load", [args.load, *url_args(cluster, CLIENT_NODES), "--queue", queue, "--queue-type",
                                    "quorum", "--requests", "1", "--inflight", "1", "--timeout", "30",
                                    "--not-idempotent"])
    deadline = time.monotonic() + READY_WAIT
    while time.monotonic() < deadline and load.proc.poll() is None:
        row = cluster.queue_row(LEADER_NODE, queue, "messages")
        if row and int(row.get("messages", 0)) >= 1:
            break
        time.sleep(0.5)
    else:
        load.dump()
        fail("the request never reached the queue")
    time.sleep(1)  # its confirm is on the way back: the call is pending for its reply now
    if client_node not in cluster.connected_nodes(load.proc.pid):
        fail(f"cluster_load is not connected to node {client_node} but to "
             f"{sorted(cluster.connected_nodes(load.proc.pid))}: killing that node would test nothing")
    cluster.kill(client_node)
    rc = load.finish(120)
    load.dump()
    text = "\n".join(load.err)
    failures = []
    if rc != 1:
        failures.append(f"cluster_load exited with {rc}, not 1")
    if cluster.host_port(client_node) not in text:
        failures.append(f"its error does not name the lost node {cluster.host_port(client_node)}")
    row = cluster.queue_row(LEADER_NODE, queue, "messages")
    if not row or int(row.get("messages", -1)) != 1:
        failures.append(f"the queue should hold the one request, not re-sent: {row}")
    cluster.restart(client_node)
    delete_queue(cluster.url(1), queue)

    # A nack: a full queue that rejects publishes. The call must fail with the contract's text.
    # (A quorum queue rejects a publish once it is OVER its limit: filled with 2 it is.)
    full = f"cluster-rpc-full-{os.getpid()}"
    declare_quorum(cluster.url(LEADER_NODE), full, {"x-max-length": 1, "x-overflow": "reject-publish"}, fill=2)
    load = Program("cluster_load(full)", [args.load, *url_args(cluster, CLIENT_NODES), "--queue", full,
                                          "--queue-type", "quorum", "--requests", "1", "--inflight", "1",
                                          "--timeout", "15", "--not-idempotent"])
    rc = load.finish(60)
    load.dump()
    text = "\n".join(load.err)
    if rc != 1 or not all(part in text for part in NOT_CONFIRMED_TEXT):
        failures.append(f"a nacked not-idempotent call: exit {rc}, expected 1 and the text "
                        f"'{NOT_CONFIRMED_TEXT[0]}…{NOT_CONFIRMED_TEXT[1]}'")
    delete_queue(cluster.url(1), full)
    if failures:
        fail("; ".join(failures))
    print("PASS")


def dead_reply_to_test(args, cluster):
    """Requests whose direct reply-to address lives on a dead node. RabbitMQ 3.10 closes the whole
    connection (541 INTERNAL_ERROR) of a server that replies to one; never acked, the request comes
    back, and the next reply closes the next connection, round both servers. The servers must
    single such an address out and reject its requests unanswered (rpc/reply_strikes.hpp), and
    go on answering: a live client's call is answered, and the dead requests leave the queue."""
    queue = f"cluster-rpc-dead-reply-to-{os.getpid()}"
    declare_quorum(cluster.url(LEADER_NODE), queue)
    dead = CLIENT_NODES[0]
    conn = connect(cluster.url(dead))
    ch = conn.channel()
    ch.basic_consume("amq.rabbitmq.reply-to", lambda *_: None, auto_ack=True)
    ch.confirm_delivery()
    for i in range(DEAD_REQUESTS):
        ch.basic_publish("", queue, b"10", pika.BasicProperties(reply_to="amq.rabbitmq.reply-to",
                                                                correlation_id=f"dead-{i}", delivery_mode=2))
    cluster.kill(dead)
    print(f"{DEAD_REQUESTS} requests to a direct reply-to address on node {dead} queued; node {dead} killed",
          flush=True)
    servers = start_servers(args, cluster, queue)
    ok, answered = ask_fib25(args, cluster, queue, [n for n in CLIENT_NODES if n != dead])
    failures = []
    if not ok:
        failures.append("a live client's call was not answered while the dead requests were queued")
    deadline = time.monotonic() + READY_WAIT
    row = None
    while time.monotonic() < deadline:
        row = cluster.queue_row(LEADER_NODE, queue, "messages")
        if row and int(row.get("messages", -1)) == 0:
            break
        time.sleep(1)
    else:
        failures.append(f"the dead requests are still queued after {READY_WAIT}s: {row}")
    failures += stop_servers(servers)
    # A reject can be lost with its connection and be made again, by the other server.
    dropped = {m.group(1) for srv in servers for m in map(DROPPED.search, srv.err) if m}
    if dropped != {f"dead-{i}" for i in range(DEAD_REQUESTS)}:
        failures.append(f"requests rejected unanswered by the servers: {sorted(dropped)}, expected the "
                        f"{DEAD_REQUESTS} dead ones")
    for srv in servers:
        srv.dump(tail=12)
    if failures:
        fail("; ".join(failures))
    print(f"FIGURES dead reply-to: {DEAD_REQUESTS} dead requests dropped; the live call answered after "
          f"{answered:.1f}s", flush=True)
    cluster.restart(dead)
    delete_queue(cluster.url(1), queue)
    print("PASS")


def compare_confirms(args, cluster):
    """Figures, not a check: the same load with confirms off and on, and on a quorum queue."""
    kinds = {"transient, no confirms": (), "transient + --confirms": ("--confirms",),
             "quorum (confirms)": ("--queue-type", "quorum")}
    for label, kind in kinds.items():
        queue = f"cluster-rpc-compare-{len(kind)}-{os.getpid()}"
        servers = start_servers(args, cluster, queue, kind)
        load = Program("cluster_load", [args.load, *url_args(cluster, CLIENT_NODES), "--queue", queue, *kind,
                                        "--requests", str(args.requests), "--inflight", str(args.inflight),
                                        "--interval-ms", "0", "--timeout", "90"])
        rc = load.finish(RUN_WAIT)
        failures = stop_servers(servers)
        times = [t for _, t in answers(load.out)]
        if rc != 0 or failures or len(times) != args.requests:
            load.dump()
            fail(f"{label}: exit {rc}, {len(times)} answers; {failures}")
        rate = (len(times) - 1) / (times[-1] - times[0])
        print(f"FIGURES {label}: {args.requests} calls, {args.inflight} in flight: {rate:.0f} calls/s", flush=True)
        delete_queue(cluster.url(1), queue)
    print("PASS")


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--script", required=True)
    parser.add_argument("--dir", required=True)
    parser.add_argument("--server", required=True)
    parser.add_argument("--client", required=True)
    parser.add_argument("--load", required=True)
    parser.add_argument("--kill", choices=["client", "server", "leader", "rolling", "none"])
    parser.add_argument("--not-idempotent", action="store_true")
    parser.add_argument("--direct-reply-to", action="store_true",
                        help="the load's replies come through amq.rabbitmq.reply-to (no reply queue)")
    parser.add_argument("--compare-confirms", action="store_true", help="figures: confirms off, on, quorum")
    parser.add_argument("--dead-reply-to", action="store_true",
                        help="requests to a direct reply-to address on a dead node, then a live call")
    parser.add_argument("--requests", type=int, default=800, help="calls per client")
    parser.add_argument("--clients", type=int, default=1, help="load clients running at once (the first paces the kills)")
    parser.add_argument("--inflight", type=int, default=16)
    parser.add_argument("--interval-ms", type=int, default=40)
    args = parser.parse_args()
    if [bool(args.kill), args.not_idempotent, args.compare_confirms, args.dead_reply_to].count(True) != 1:
        parser.error("give one of --kill WHO, --not-idempotent, --compare-confirms, --dead-reply-to")
    with Cluster(args.script, args.dir) as cluster:
        if args.not_idempotent:
            not_idempotent_test(args, cluster)
        elif args.compare_confirms:
            compare_confirms(args, cluster)
        elif args.dead_reply_to:
            dead_reply_to_test(args, cluster)
        else:
            kill_test(args, cluster)


if __name__ == "__main__":
    main()
