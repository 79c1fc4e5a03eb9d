"""The dashboard's speed as a user feels it: `streamlit run` on a free local port, driven in
headless Chromium (the system's `chromium`, launched by the `playwright` package).

Prints, and writes to ``$MCC_SCREENSHOT_DIR/timings.json`` (default /tmp/mcc_screenshots):
server start, Generate's first paint (title, first preview image), an Apply, a probe of the
bundled 70 µm model (clean + one sweep, the behavioural tests and the cross-resolution
matrix, --n patches per condition) and a scan of the default synthetic mammogram
(240 × 300 mm at 70 µm), each from the click to its result on screen.

Targets (issue 16): a usable Generate page in under 3 s, a probe in under 20 s.

Usage: python benchmarks/bench_app.py [--n 200] [--port 0]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
APP = ROOT / "streamlit_app.py"
SHOTS = Path(os.environ.get("MCC_SCREENSHOT_DIR", "/tmp/mcc_screenshots"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
            return bool(reply.status == 200)
    except OSError:
        return False


def serve(port: int, log: Path) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
            "--client.showErrorDetails", "none", "--client.toolbarMode", "minimal"]
    with log.open("wb") as out:
        return subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT, cwd=log.parent)


def timed(action, wait) -> float:  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    action()
    wait()
    return round(time.perf_counter() - start, 2)


def drive(url: str, n: int) -> dict[str, float]:
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    if chromium is None:
        raise SystemExit("bench_app: no Chromium found (apt-get install chromium)")
    figures: dict[str, float] = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=chromium, headless=True, args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1600})
        page.set_default_timeout(600_000)
        start = time.perf_counter()
        page.goto(url)
        page.get_by_role("heading", name="Generate synthetic patches").wait_for()
        figures["first_paint_title_s"] = round(time.perf_counter() - start, 2)
        page.locator('[data-testid="stImage"] img').first.wait_for()
        figures["first_paint_preview_s"] = round(time.perf_counter() - start, 2)
        page.wait_for_load_state("networkidle")
        figures["apply_s"] = timed(
            lambda: page.get_by_role("button", name="Apply").click(),
            lambda: (page.wait_for_timeout(300),
                     page.locator('[data-testid="stStatusWidget"]').wait_for(state="hidden")))
        page.locator('[data-testid="stSidebarNav"] a', has_text="Probe").first.click()
        page.get_by_role("heading", name="Probe a model").wait_for()
        box = page.get_by_role("spinbutton", name="Patches per condition")
        box.fill(str(n))
        box.press("Tab")
        figures["probe_s"] = timed(
            lambda: page.get_by_role("button", name="Run the probe").click(),
            lambda: page.get_by_role("heading", name=re.compile("^Results: ")).wait_for())
        page.locator('[data-testid="stSidebarNav"] a', has_text="Scan").first.click()
        page.get_by_role("heading", name="Scan a mammogram").wait_for()
        page.get_by_role("button", name="Scan", exact=True).wait_for()
        figures["scan_s"] = timed(
            lambda: page.get_by_role("button", name="Scan", exact=True).click(),
            lambda: page.locator('[data-testid="stMetric"]',
                                 has_text="Positive patches").wait_for())
        browser.close()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="probe patches per condition")
    parser.add_argument("--port", type=int, default=0, help="port (default: a free one)")
    args = parser.parse_args()
    port = args.port or free_port()
    url = f"http://127.0.0.1:{port}"
    with tempfile.TemporaryDirectory(prefix="mcc_bench_app_") as tmp:
        log = Path(tmp) / "streamlit.log"
        start = time.perf_counter()
        server = serve(port, log)
        try:
            while not healthy(url):
                if server.poll() is not None or time.perf_counter() - start > 120:
                    raise SystemExit(f"bench_app: streamlit did not start:\n"
                                     f"{log.read_text()[-2000:]}")
                time.sleep(0.25)
            started = round(time.perf_counter() - start, 2)
            figures = {"server_start_s": started, **drive(url, args.n)}
        finally:
            server.terminate()
            server.wait(timeout=30)
    SHOTS.mkdir(parents=True, exist_ok=True)
    record = {"bench": "bench_app", "probe_n": args.n, "timings": figures}
    (SHOTS / "timings.json").write_text(json.dumps(record, indent=2) + "\n")
    width = max(len(k) for k in figures)
    for name, value in figures.items():
        print(f"{name:<{width}}  {value:8.2f} s")
    print(f"targets: first paint (preview) < 3 s: {figures['first_paint_preview_s'] < 3}; "
          f"probe < 20 s: {figures['probe_s'] < 20}")


if __name__ == "__main__":
    main()
