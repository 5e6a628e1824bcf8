#!/usr/bin/env python3
"""Build tests/consumer (a project of someone else's using amqp_rpc) one way and make one call.

    run_consumer.py --how install|build-tree|subdirectory|fetchcontent|all-targets --source SRC
                    --build OURS --work DIR [--cxx CXX] [--build-type T]

install: `cmake --install OURS --prefix DIR/prefix`, then find_package against that prefix (and the
installed headers and amqp_rpc.pc checked, see CMakeLists.txt); build-tree: find_package against
OURS (its export()); subdirectory / fetchcontent: our source tree SRC, built inside the consumer.
Then upper_server and upper_client (and upper_client_pc) make one call each against the broker at
AMQP_URL, else the file AMQP_URL_FILE. all-targets only configures the subdirectory way with our
tests, benchmarks and programs switched on: every target we define must be named amqp_rpc_*. The consumer's build uses ccache when it is on PATH.
Every step is bounded in time; the exit status is 0 only when every call got its upper-cased reply.
"""
import argparse
import os
import select
import shutil
import signal
import subprocess
import sys
import time

STEP_TIMEOUT = 600  # seconds for one configure or build step on a busy machine


def run(cmd, **kw):
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, timeout=STEP_TIMEOUT, **kw)


def broker_url():
    url = os.environ.get("AMQP_URL", "")
    if not url and os.environ.get("AMQP_URL_FILE"):
        with open(os.environ["AMQP_URL_FILE"]) as f:
            url = f.read().strip()
    if not url:
        sys.exit("run_consumer: no broker (AMQP_URL / AMQP_URL_FILE)")
    return url


def start_server(binary, url, queue):
    server = subprocess.Popen([binary, url, queue], stdout=subprocess.PIPE, text=True)
    line = ""
    deadline = time.monotonic() + 30
    while server.poll() is None:
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not select.select([server.stdout], [], [], remaining)[0]:
            break
        line = server.stdout.readline()
        if "ready" in line:
            return server
    server.kill()
    server.wait()
    sys.exit(f"run_consumer: upper_server not ready within 30 s (last line: {line.strip()!r})")


def stop_server(server):
    server.send_signal(signal.SIGTERM)
    try:
        out, _ = server.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        server.kill()
        server.wait()
        sys.exit("run_consumer: upper_server did not stop within 30 s of SIGTERM")
    print(out, end="")
    if server.returncode != 0:
        sys.exit(f"run_consumer: upper_server exited with {server.returncode}")


def call(binary, url, queue, text):
    r = subprocess.run([binary, url, queue, text], capture_output=True, text=True, timeout=60)
    print(r.stdout + r.stderr, end="")
    expected = f"upper_client: reply '{text.upper()}' (text/plain)"
    if r.returncode != 0 or expected not in r.stdout:
        sys.exit(f"run_consumer: {os.path.basename(binary)} did not get {text.upper()!r} (exit {r.returncode})")


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--how", required=True, choices=["install", "build-tree", "subdirectory", "fetchcontent", "all-targets"])
    ap.add_argument("--source", required=True, help="amqp_rpc's source tree")
    ap.add_argument("--build", required=True, help="amqp_rpc's (configured, built) build tree")
    ap.add_argument("--work", required=True, help="scratch directory, emptied first")
    ap.add_argument("--cxx", help="C++ compiler (default: CMake's choice)")
    ap.add_argument("--build-type", default="")
    ap.add_argument("--jobs", default="2")
    args = ap.parse_args()

    url = broker_url() if args.how != "all-targets" else None
    shutil.rmtree(args.work, ignore_errors=True)
    os.makedirs(args.work)
    consumer_build = os.path.join(args.work, "build")
    configure = ["cmake", "-S", os.path.dirname(os.path.abspath(__file__)), "-B", consumer_build,
                 f"-DCMAKE_BUILD_TYPE={args.build_type or 'RelWithDebInfo'}", f"-DAMQP_RPC_SOURCE_DIR={args.source}"]
    if args.cxx:
        configure.append(f"-DCMAKE_CXX_COMPILER={args.cxx}")
    env = dict(os.environ)
    if shutil.which("ccache"):
        configure.append("-DCMAKE_CXX_COMPILER_LAUNCHER=ccache")
        env.setdefault("CCACHE_BASEDIR", os.path.dirname(os.path.abspath(args.source)))
        env.setdefault("CCACHE_NOHASHDIR", "1")

    if args.how == "install":
        prefix = os.path.join(args.work, "prefix")
        # The libraries only (no-op when the main build made them), then the install rules.
        run(["cmake", "--build", args.build, "-j", args.jobs, "--target",
             "amqp_rpc_protocol", "amqp_rpc_amqp", "amqp_rpc_rpc"], env=env)
        run(["cmake", "--install", args.build, "--prefix", prefix])
        env["PKG_CONFIG_PATH"] = os.pathsep.join(
            [os.path.join(prefix, d, "pkgconfig") for d in ("lib", "lib64", "lib/x86_64-linux-gnu")])
        configure += ["-DAMQP_RPC_CONSUME=package", f"-DCMAKE_PREFIX_PATH={prefix}", "-DAMQP_RPC_CHECK_INSTALL=ON",
                      # only the prefix: not a package registry or another amqp_rpc elsewhere
                      "-DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF"]
    elif args.how == "build-tree":
        configure += ["-DAMQP_RPC_CONSUME=package", f"-Damqp_rpc_DIR={args.build}"]
    elif args.how == "all-targets":
        configure += ["-DAMQP_RPC_CONSUME=subdirectory", "-DAMQP_RPC_ALL_TARGETS=ON", "-DAMQP_BUILD_TESTS=ON",
                      "-DAMQP_BUILD_BENCH=ON", "-DAMQP_BUILD_EXAMPLES=ON"]
    else:
        configure.append(f"-DAMQP_RPC_CONSUME={args.how}")
    run(configure, env=env)
    if args.how == "all-targets":
        print("run_consumer: all-targets: every amqp_rpc target is prefixed")
        return
    run(["cmake", "--build", consumer_build, "-j", args.jobs], env=env)

    server_bin = os.path.join(consumer_build, "upper_server")
    clients = [os.path.join(consumer_build, "upper_client")]
    if args.how == "install":
        clients.append(os.path.join(consumer_build, "upper_client_pc"))
    queue = f"consumer_{args.how}_{os.getpid()}"
    server = start_server(server_bin, url, queue)
    try:
        for i, client in enumerate(clients):
            call(client, url, queue, f"hello from {args.how} {i}")
    finally:
        if server.poll() is None:
            stop_server(server)
    print(f"run_consumer: {args.how}: {len(clients)} call(s) answered")


if __name__ == "__main__":
    main()
