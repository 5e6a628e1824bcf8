#!/usr/bin/python3
"""Generate docs/walkthrough.md from a real session: rpc_server + `rpc_client 30` against RabbitMQ,
both traced (AMQP_TRACE=1), every frame in order with its annotated hex dump and an explanation
taken from docs/walkthrough/explanations.md (keyed by method name).

    scripts/gen_walkthrough.py --build build/dev [--url amqp://...] [--out docs/walkthrough.md]
    scripts/gen_walkthrough.py --build build/dev --check      # exit 1 with a diff if stale
    scripts/gen_walkthrough.py --from-traces server.trace client.trace [--out -]

The broker URL comes from --url, else $AMQP_URL, else the file named by $AMQP_URL_FILE (the test
fixture's). Values that change from run to run (queue names, consumer tags, correlation ids,
timestamps, the broker's version, platform and cluster name) are masked, so that the output is the
same for every run against the same RabbitMQ; see mask_block() for the rules.
"""
import argparse
import difflib
import os
import pathlib
import re
import selectors
import signal
import subprocess
import sys
import time

REPO = pathlib.Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO / "docs" / "walkthrough.md"
DEFAULT_EXPLANATIONS = REPO / "docs" / "walkthrough" / "explanations.md"

READY_LINE = "Awaiting RPC requests"
STEP_TIMEOUT = 30  # seconds for any one step of the session


# ---- running the session --------------------------------------------------------------------

def broker_url(explicit):
    if explicit:
        return explicit
    if os.environ.get("AMQP_URL"):
        return os.environ["AMQP_URL"]
    url_file = os.environ.get("AMQP_URL_FILE")
    if url_file and pathlib.Path(url_file).exists():
        return pathlib.Path(url_file).read_text().strip()
    sys.exit("gen_walkthrough: no broker: give --url, or set AMQP_URL or AMQP_URL_FILE")


def find_program(build, name):
    for candidate in (pathlib.Path(build) / "examples" / name, pathlib.Path(build) / name):
        if candidate.exists():
            return str(candidate)
    sys.exit(f"gen_walkthrough: {name} not found under {build} (build it first)")


def wait_for_line(stream, text, timeout):
    """Read a pipe until it has shown `text`; False on EOF or timeout."""
    sel = selectors.DefaultSelector()
    sel.register(stream, selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    buf = b""
    try:
        while time.monotonic() < deadline:
            if not sel.select(timeout=max(0.0, deadline - time.monotonic())):
                continue
            chunk = os.read(stream.fileno(), 4096)
            if not chunk:
                return False
            buf += chunk
            if text.encode() in buf:
                return True
        return False
    finally:
        sel.close()


def run_session(build, url, workdir, n="30", extra_env=None):
    """Run rpc_server, then `rpc_client N`, then stop the server with SIGINT; both traced.
    Returns (server_trace, client_trace, client_stdout) as text. Raises RuntimeError on failure."""
    workdir = pathlib.Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ, AMQP_TRACE="1", AMQP_URL=url)
    env.update(extra_env or {})
    server_err = workdir / "server.trace"
    client_err = workdir / "client.trace"
    with open(server_err, "wb") as serr:
        server = subprocess.Popen([find_program(build, "rpc_server")], stdout=subprocess.PIPE, stderr=serr, env=env)
        try:
            if not wait_for_line(server.stdout, READY_LINE, STEP_TIMEOUT):
                raise RuntimeError(f"rpc_server did not say '{READY_LINE}' within {STEP_TIMEOUT} s "
                                   f"(see {server_err})")
            with open(client_err, "wb") as cerr:
                client = subprocess.run([find_program(build, "rpc_client"), n], stdout=subprocess.PIPE,
                                        stderr=cerr, env=env, timeout=STEP_TIMEOUT)
            if client.returncode != 0:
                raise RuntimeError(f"rpc_client {n} exited with {client.returncode} (see {client_err})")
        finally:
            if server.poll() is None:
                server.send_signal(signal.SIGINT)
            try:
                server.wait(timeout=STEP_TIMEOUT)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()
                raise RuntimeError("rpc_server did not stop within 30 s of SIGINT")
    return server_err.read_text(), client_err.read_text(), client.stdout.decode()


# ---- parsing the trace -------------------------------------------------------------------------

HEAD = re.compile(r"^(>>|<<|--) (sent|received)?\s*(.*)$")


def split_blocks(trace):
    """The trace's frames: lists of lines, each starting with a '>>'/'<<' header line.
    Lines that are not part of a frame (a program's own messages) are dropped."""
    blocks, cur = [], None
    for line in trace.splitlines():
        if HEAD.match(line):
            cur = [line]
            blocks.append(cur)
        elif cur is not None and line.startswith("    "):
            cur.append(line)
        else:
            cur = None
    return blocks


def block_key(block):
    """The explanation key of a frame: method name, 'content-header', 'body', 'heartbeat', 'protocol-header'."""
    head = block[0]
    m = re.search(r"method (\S+) \(", head)
    if m:
        return m.group(1)
    for word, key in (("content header", "content-header"), ("  body", "body"), ("heartbeat", "heartbeat"),
                      ("protocol header", "protocol-header")):
        if word in head:
            return key
    return "unknown"


def block_direction(block):
    return "sent" if block[0].startswith(">>") else "received"


# ---- masking -----------------------------------------------------------------------------------

# Same-length placeholders, so the byte counts the trace prints stay true.
FIXED_LENGTH = [
    (re.compile(r"amq\.gen-[A-Za-z0-9_-]{22}"), "amq.gen-" + "X" * 22),
    (re.compile(r"amq\.ctag-[A-Za-z0-9_-]{22}"), "amq.ctag-" + "X" * 22),
    (re.compile(r"\b[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}\b"),
     "XXXXXXXX-XXXX-XXXX-XXXX-XXXXXXXXXXXX"),
]
# Direct reply-to names encode the node and a process id: variable length.
VARIABLE_VALUES = [re.compile(r"amq\.rabbitmq\.reply-to\.[A-Za-z0-9+/=._-]+")]
# Table entries / properties whose value depends on the broker install or the host.
VARIABLE_FIELDS = ["server-properties.cluster_name", "server-properties.version", "server-properties.platform"]
FIXED_FIELDS = ["timestamp"]
# Fixed-size values after a name that does not vary (the client's deadline header: milliseconds
# since the epoch): the name's bytes stay readable, the value's are masked.
VALUE_ONLY_FIELDS = ["headers.x-rpc-deadline"]
# Space-separated lists whose order depends on the broker install (RabbitMQ 3.10 lists its SASL
# mechanisms in registry order, which differs between installs of the same package): shown with
# the names sorted, their bytes masked (the length does not vary).
ORDER_VARIES_FIELDS = ["mechanisms"]

HEX_LINE = re.compile(r"^    ([0-9a-f]{4,})  (.*)$")
HEX_WIDTH = 47


def mask_hex(hexpart):
    return re.sub(r"[0-9a-f*]{2}", "..", hexpart)


def sorted_names(value):
    return " ".join(sorted(value.split(" ")))


def mask_block(block):
    """Mask run-to-run values in one frame's lines. Values of fixed length keep their length (and so
    every offset and size); a masked value whose length can vary (the broker's version, platform and
    cluster name) is shown on one line whatever its length, and also masks the sizes that contain
    it and the offsets after it, shown as '....'. The result does not depend on those lengths."""
    out = []
    variable = False      # a variable-length value has been masked in this frame
    tables_hit = set()    # top-level tables holding such a value
    masking_span = False  # the current hex span's bytes are masked (continuation lines too)
    collapse_span = False # ... and its length varies: one line, continuation lines dropped
    current_arg = None    # the argument a decoded-view line belongs to
    # First pass: which top-level tables hold a variable field (their lengths must be masked too).
    for line in block:
        for f in VARIABLE_FIELDS:
            if f + " = " in line:
                tables_hit.add(f.split(".")[0])
        if any(p.search(line) for p in VARIABLE_VALUES):
            tables_hit.add("*")
    has_variable = bool(tables_hit)

    for line in block:
        m = HEX_LINE.match(line)
        if m:
            keep_this_line = False
            offset, rest = m.group(1), m.group(2)
            hexpart, label = rest[:HEX_WIDTH], rest[HEX_WIDTH:].strip()
            if not label and collapse_span:
                continue
            if label:
                masking_span = False
                collapse_span = False
                for pat, rep in FIXED_LENGTH:
                    if pat.search(label):
                        label = pat.sub(rep, label)
                        masking_span = True
                for pat in VARIABLE_VALUES:
                    if pat.search(label):
                        label = pat.sub(lambda mm: mm.group(0).split(".reply-to.")[0] + ".reply-to.<masked>", label)
                        masking_span = collapse_span = True
                        variable = True
                for f in VARIABLE_FIELDS:
                    if label.startswith(f + " = "):
                        label = re.sub(r'= ".*"', '= "<masked>"', label)
                        masking_span = collapse_span = True
                        variable = True
                for f in FIXED_FIELDS:
                    if label.startswith(f + " = "):
                        label = f + " = <masked>"
                        masking_span = True
                for f in VALUE_ONLY_FIELDS:
                    if label.startswith(f + " = "):
                        label = re.sub(r" = -?\d+", " = <masked>", label, count=1)
                        masking_span = keep_this_line = True  # this line: the name; the next: the value
                for f in ORDER_VARIES_FIELDS:
                    m2 = re.match(re.escape(f) + r' = "(.*)"  \(longstr, (\d+) bytes\)$', label)
                    if m2:
                        label = (f'{f} = "{sorted_names(m2.group(1))}"  '
                                 f"(longstr, {m2.group(2)} bytes; names sorted, their order varies)")
                        masking_span = True
                if has_variable and (label.startswith("payload size = ") or
                                     any(label.startswith(t + ": table length") for t in tables_hit)):
                    label = re.sub(r"\d+", "N", label, count=1) if ": table length" in label \
                        else "payload size = <masked>"
                    masking_span = True
            if collapse_span:
                hexpart = "<masked: length varies>"
            elif masking_span and label and "(shortstr, " in label:
                hexpart = hexpart[:2] + mask_hex(hexpart[2:])  # the length octet does not vary
            elif masking_span and label and "(longstr, " in label:
                hexpart = hexpart[:12] + mask_hex(hexpart[12:])  # nor do the four length octets
            elif masking_span and not keep_this_line:
                hexpart = mask_hex(hexpart)
            if variable:
                offset = "." * len(offset)
            text = f"    {offset}  {hexpart}"
            if label:
                text = text.ljust(4 + len(offset) + 2 + HEX_WIDTH) + "  " + label
            out.append(text.rstrip())
            continue
        # Header line and decoded view.
        for pat, rep in FIXED_LENGTH:
            line = pat.sub(rep, line)
        for pat in VARIABLE_VALUES:
            line = pat.sub(lambda mm: mm.group(0).split(".reply-to.")[0] + ".reply-to.<masked>", line)
        top = re.match(r"^    (\S+)  ", line)
        if top:
            current_arg = top.group(1)
        for f in VARIABLE_FIELDS:
            table, name = f.split(".", 1)
            if current_arg == table:
                line = re.sub(r"^(      " + re.escape(name) + r": )\".*\"", r'\1"<masked>"', line)
        line = re.sub(r"^(    timestamp\s+).*$", r"\1<masked>", line)
        line = re.sub(r"^(      x-rpc-deadline: )-?\d+", r"\1<masked>", line)
        for f in ORDER_VARIES_FIELDS:
            line = re.sub(r'^(    ' + re.escape(f) + r'\s+)"(.*)"$',
                          lambda mm: f'{mm.group(1)}"{sorted_names(mm.group(2))}"  (sorted)', line)
        if has_variable:
            line = re.sub(r"  payload \d+ bytes$", "  payload <masked> bytes", line)
            for t in tables_hit:
                line = re.sub(r"^(    " + re.escape(t) + r"\s+\(table, )\d+", r"\1N", line)
        out.append(line)
    return out


# ---- the document ------------------------------------------------------------------------------

def load_explanations(path):
    """'## key' headings → text. Keys: method names, 'content-header', 'body', 'protocol-header',
    optionally prefixed 'server:' / 'client:' and/or 'sent:' / 'received:'; and 'intro',
    'part:<name>', 'outro'."""
    sections, key, lines = {}, None, []
    for line in pathlib.Path(path).read_text().splitlines():
        m = re.match(r"^## (\S+)\s*$", line)
        if m:
            if key is not None:
                sections[key] = "\n".join(lines).strip()
            key, lines = m.group(1), []
        elif key is not None:
            lines.append(line)
    if key is not None:
        sections[key] = "\n".join(lines).strip()
    return sections


def split_parts(server, client):
    """Cut the two connections into the story's five parts, in the order things happen."""
    def index_of(blocks, key, start=0):
        for i in range(start, len(blocks)):
            if block_key(blocks[i]) == key:
                return i
        return None

    s_deliver = index_of(server, "basic.deliver")
    s_ack = index_of(server, "basic.ack", s_deliver or 0)
    c_deliver = index_of(client, "basic.deliver")
    if s_deliver is None or s_ack is None or c_deliver is None:
        # Not the expected story (a failed run): show both connections whole.
        return [("server", "server-all", server), ("client", "client-all", client)]
    return [
        ("server", "server-start", server[:s_deliver]),
        ("client", "client-request", client[:c_deliver]),
        ("server", "server-reply", server[s_deliver:s_ack + 1]),
        ("client", "client-reply", client[c_deliver:]),
        ("server", "server-stop", server[s_ack + 1:]),
    ]


PART_TITLES = {
    "server-start": "Part 1 — rpc_server connects and starts consuming",
    "client-request": "Part 2 — rpc_client connects and sends the request",
    "server-reply": "Part 3 — rpc_server receives the request and replies",
    "client-reply": "Part 4 — rpc_client receives the reply and leaves",
    "server-stop": "Part 5 — rpc_server stops (SIGINT)",
    "server-all": "rpc_server's connection",
    "client-all": "rpc_client's connection",
}


def describe(role, block):
    key = block_key(block)
    direction = block_direction(block)
    arrow = f"rpc_{role} → broker" if direction == "sent" else f"broker → rpc_{role}"
    chan = re.search(r"channel (\d+)", block[0])
    where = f", channel {chan.group(1)}" if chan else ""
    return key, direction, f"{arrow}{where}"


def render(server_trace, client_trace, explanations):
    server = [mask_block(b) for b in split_blocks(server_trace) if block_key(b) != "heartbeat"]
    client = [mask_block(b) for b in split_blocks(client_trace) if block_key(b) != "heartbeat"]
    out = [
        "<!-- Generated by scripts/gen_walkthrough.py from a real session; do not edit by hand.",
        "     Explanations: docs/walkthrough/explanations.md. Regenerate: see docs/README.md. -->",
        "",
        "# Walkthrough: one RPC call, frame by frame",
        "",
    ]
    if "intro" in explanations:
        out += [explanations["intro"], ""]
    first_seen = {}
    number = 0
    for role, part, blocks in split_parts(server, client):
        out += [f"## {PART_TITLES[part]}", ""]
        if f"part:{part}" in explanations:
            out += [explanations[f"part:{part}"], ""]
        for block in blocks:
            number += 1
            key, direction, arrow = describe(role, block)
            title = {"protocol-header": "protocol header", "content-header": "content header",
                     "body": "content body"}.get(key, key)
            out += [f"### {number}. {title} ({arrow})", ""]
            candidates = [f"{role}:{direction}:{key}", f"{role}:{key}", f"{direction}:{key}", key]
            found = next((c for c in candidates if c in explanations), None)
            if found is None:
                out += ["*(no explanation written for this frame yet)*", ""]
            elif found in first_seen:
                out += [f"As in frame {first_seen[found]}.", ""]
            else:
                first_seen[found] = number
                out += [explanations[found], ""]
            out += ["```text", *block, "```", ""]
    if "outro" in explanations:
        out += [explanations["outro"], ""]
    return "\n".join(out).rstrip() + "\n"


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", help="build tree holding examples/rpc_server and examples/rpc_client")
    ap.add_argument("--url", help="broker URL (default: $AMQP_URL, else the file in $AMQP_URL_FILE)")
    ap.add_argument("--from-traces", nargs=2, metavar=("SERVER_TRACE", "CLIENT_TRACE"),
                    help="use these trace files instead of running a session")
    ap.add_argument("--explanations", default=str(DEFAULT_EXPLANATIONS))
    ap.add_argument("--out", default=str(DEFAULT_OUT), help="output file, or - for stdout")
    ap.add_argument("--check", action="store_true", help="compare with --out instead of writing it")
    ap.add_argument("--workdir", default=None, help="where to keep the raw traces (default: a temp dir)")
    args = ap.parse_args()

    if args.from_traces:
        server_trace = pathlib.Path(args.from_traces[0]).read_text()
        client_trace = pathlib.Path(args.from_traces[1]).read_text()
    else:
        if not args.build:
            ap.error("--build is required unless --from-traces is given")
        import tempfile
        workdir = args.workdir or tempfile.mkdtemp(prefix="walkthrough-")
        try:
            server_trace, client_trace, _ = run_session(args.build, broker_url(args.url), workdir)
        except (RuntimeError, subprocess.TimeoutExpired) as e:
            print(f"gen_walkthrough: session failed: {e}", file=sys.stderr)
            return 1
    text = render(server_trace, client_trace, load_explanations(args.explanations))

    if args.check:
        committed = pathlib.Path(args.out).read_text() if pathlib.Path(args.out).exists() else ""
        if committed == text:
            print(f"{args.out} is up to date")
            return 0
        print(f"{args.out} differs from a fresh session (regenerate it with scripts/gen_walkthrough.py):")
        sys.stdout.writelines(difflib.unified_diff(committed.splitlines(True), text.splitlines(True),
                                                   "committed", "fresh session"))
        return 1
    if args.out == "-":
        sys.stdout.write(text)
    else:
        pathlib.Path(args.out).write_text(text)
        print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
