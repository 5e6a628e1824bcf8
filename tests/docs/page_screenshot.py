#!/usr/bin/python3
"""Screenshot of an interactive page for the docs: headless Chromium (through chromedriver, as
html_page_test.py drives it) opens PAGE, opens frame FRAME, selects its field at byte OFFSET
(lighting its bytes), and saves the window as a PNG.

    page_screenshot.py PAGE FRAME OFFSET OUT.png      e.g. docs/walkthrough.html 41 14 docs/walkthrough-page.png"""
import base64
import pathlib
import subprocess
import sys
import time
import urllib.request

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from html_page_test import WebDriver, free_port  # noqa: E402


def main():
    page, frame, offset, out = pathlib.Path(sys.argv[1]).resolve(), int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
    port = free_port()
    driver = subprocess.Popen(["chromedriver", f"--port={port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wd = None
    try:
        for _ in range(150):
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/status", timeout=5)
                break
            except OSError:
                time.sleep(0.2)
        wd = WebDriver(port)
        wd.s("POST", "/window/rect", {"width": 1280, "height": 1000})
        wd.s("POST", "/url", {"url": page.as_uri()})
        wd.click(f"#f{frame} summary")
        wd.click(f"#f{frame} .b[data-i='{offset}']")
        wd.js(f"document.getElementById('f{frame}').scrollIntoView({{block: 'center'}});")
        pathlib.Path(out).write_bytes(base64.b64decode(wd.s("GET", "/screenshot")))
        print(f"wrote {out}")
    finally:
        if wd:
            wd.quit()
        driver.terminate()
        driver.wait(timeout=30)


if __name__ == "__main__":
    main()
