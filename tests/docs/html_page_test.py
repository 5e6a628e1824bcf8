#!/usr/bin/python3
"""The interactive page in a real browser: amqp_decode --html on the checked-in capture, opened in
headless Chromium driven by chromedriver (WebDriver over HTTP, Python's stdlib only). For every
field of several frames (the handshake's start-ok with its masked password, a publish, its
content header, a close), a click on the field must light exactly the bytes the decoder's own
annotated hex dump gives that field (amqp_decode's text output, read here independently), and a
click on a byte must light the field that holds it. The page must be self-contained (no script,
style or image fetched) and must not hold the password.

    html_page_test.py AMQP_DECODE [CAPTURE]

Exit status 0 pass, 1 fail, 77 skipped (no chromium or chromedriver)."""
import json
import pathlib
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

HERE = pathlib.Path(__file__).resolve().parent
HEX_LINE = re.compile(r"^    ([0-9a-f]{4,})  (.*)$")
WANTED = ["connection.start-ok", "basic.publish", "content header", "channel.close "]
ELEMENT = "element-6066-11e4-a52e-4f735466cecf"


def decoder_spans(tool, capture):
    """Per frame, in output order: (heading, [(offset, length, label)]) from the text hex dump."""
    out = subprocess.run([tool, str(capture)], capture_output=True, text=True, timeout=60).stdout
    frames, cur = [], None
    for line in out.splitlines():
        if re.match(r"^\[\s*[\d.]+\] (>>|<<) ", line):
            cur = (re.sub(r"^\[\s*[\d.]+\] ", "", line), [])
            frames.append(cur)
            continue
        m = HEX_LINE.match(line)
        if m and cur is not None:
            area, _, label = m.group(2).partition("  ")  # bytes, then two spaces and the field's label
            tokens = area.split()
            if not tokens or not all(re.fullmatch(r"[0-9a-f]{2}|\*\*", t) for t in tokens):
                continue
            if label or not cur[1]:
                cur[1].append([int(m.group(1), 16), len(tokens), label.strip()])
            else:
                cur[1][-1][1] += len(tokens)
    return frames


class WebDriver:
    def __init__(self, port):
        self.base = f"http://127.0.0.1:{port}"
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": shutil.which("chromium"),
            "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"]}}}}
        self.sid = self.call("POST", "/session", caps)["sessionId"]

    def call(self, method, path, body=None):
        data = json.dumps(body).encode() if body is not None else None
        req = urllib.request.Request(self.base + path, data=data, method=method,
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=60) as r:
            return json.loads(r.read() or b"{}").get("value")

    def s(self, method, path, body=None):
        return self.call(method, f"/session/{self.sid}{path}", body)

    def js(self, script, *args):
        return self.s("POST", "/execute/sync", {"script": script, "args": list(args)})

    def click(self, css):
        el = self.s("POST", "/element", {"using": "css selector", "value": css})[ELEMENT]
        self.s("POST", f"/element/{el}/click", {})

    def quit(self):
        try:
            self.call("DELETE", f"/session/{self.sid}")
        except OSError:
            pass


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def lit(wd, frame_id):
    return wd.js(f"return Array.from(document.querySelectorAll('#{frame_id} .b.hl')).map(b => +b.dataset.i);")


def main():
    tool = sys.argv[1]
    capture = pathlib.Path(sys.argv[2]) if len(sys.argv) > 2 else HERE / "captures" / "session.pcapng"
    if not shutil.which("chromium") or not shutil.which("chromedriver"):
        print("SKIP: needs chromium and chromedriver (Debian: chromium, chromium-driver)")
        return 77
    work = pathlib.Path(tempfile.mkdtemp(prefix="html-page-test-"))
    page = work / "page.html"
    p = subprocess.run([tool, "--html", str(page), str(capture)], capture_output=True, text=True, timeout=60)
    if p.returncode != 0:
        print(f"FAIL amqp_decode --html exited {p.returncode}: {p.stderr}")
        return 1
    html = page.read_text()
    failures = 0
    if re.search(r"<(script|link|img|iframe)[^>]*(src|href)=", html) or "http://" in html.split("<script>")[1]:
        failures += 1
        print("FAIL the page fetches something: it must be self-contained")
    if re.search(r"67 ?75 ?65 ?73 ?74", html) or ">67</span><span class=\"b\" data-i=\"\\d+\">75<" in html:
        failures += 1
        print("FAIL the password's bytes are in the page")
    expected = decoder_spans(tool, capture)
    port = free_port()
    driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wd = None
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5)
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        wd = WebDriver(port)
        wd.s("POST", "/url", {"url": page.as_uri()})
        headings = wd.js("return Array.from(document.querySelectorAll('.frame summary')).map(s => s.textContent);")
        if len(headings) != len(expected):
            print(f"FAIL the page has {len(headings)} frames, the text output {len(expected)}")
            return 1
        checked_fields = 0
        for want in WANTED:
            k = next((i for i, (h, _) in enumerate(expected) if want in h), None)
            if k is None:
                failures += 1
                print(f"FAIL no '{want}' frame in the capture's decode")
                continue
            heading, spans = expected[k]
            fid = f"f{k}"
            wd.click(f"#{fid} summary")
            page_spans = wd.js(f"return Array.from(document.querySelectorAll('#{fid} .field'))"
                               ".map(f => [+f.dataset.start, +f.dataset.len]);")
            if page_spans != [[o, n] for o, n, _ in spans]:
                failures += 1
                print(f"FAIL {heading}: the page's fields {page_spans} are not the decoder's {spans}")
                continue
            for j, (off, n, label) in enumerate(spans):
                wd.click(f"#{fid} .field:nth-child({j + 1})")
                got = lit(wd, fid)
                checked_fields += 1
                if got != list(range(off, off + n)):
                    failures += 1
                    print(f"FAIL {heading}: clicking field '{label}' lights bytes {got}, not {off}..{off + n - 1}")
                # the reverse: a byte of this field (its last) lights this field
                wd.click(f"#{fid} .b[data-i='{off + n - 1}']")
                sel = wd.js(f"var f=document.querySelector('#{fid} .field.sel'); return f ? +f.dataset.start : -1;")
                if sel != off or lit(wd, fid) != list(range(off, off + n)):
                    failures += 1
                    print(f"FAIL {heading}: clicking byte {off + n - 1} does not select field '{label}'")
            print(f"ok   {heading.strip()}: {len(spans)} fields, each lights its bytes and back")
        if checked_fields < 20:
            failures += 1
            print(f"FAIL only {checked_fields} fields checked")
        masked = wd.js("return document.querySelectorAll('.b.m').length;")
        if not masked:
            failures += 1
            print("FAIL no masked byte on the page (the start-ok response)")
    finally:
        if wd:
            wd.quit()
        driver.terminate()
        driver.wait(timeout=30)
    print("PASS" if not failures else f"{failures} failure(s) (page kept in {page})")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
