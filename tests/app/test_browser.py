"""The dashboard in a real browser: `streamlit run` on a free local port, driven in headless
Chromium (the system's `chromium`, launched by the `playwright` package; never a downloaded
browser). Screenshots and timings go to $MCC_SCREENSHOT_DIR (default /tmp/mcc_screenshots).

Skipped, with the reason, where Chromium or playwright is missing — unless MCC_REQUIRE_BROWSER=1
(as `.ci/run` sets), which makes that a failure.
"""

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request
from pathlib import Path

import pytest

pytestmark = pytest.mark.browser

APP = Path(__file__).resolve().parents[2] / "streamlit_app.py"
SHOTS = Path(os.environ.get("MCC_SCREENSHOT_DIR", "/tmp/mcc_screenshots"))
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--disable-dev-shm-usage"]
ERROR_BOXES = '[data-testid="stException"], [data-testid="stAlertContentError"]'


def _unavailable(reason: str) -> None:
    if os.environ.get("MCC_REQUIRE_BROWSER") == "1":
        pytest.fail(f"MCC_REQUIRE_BROWSER=1 but {reason}")
    pytest.skip(reason)


def _chromium() -> str | None:
    for candidate in ("/usr/bin/chromium", shutil.which("chromium"),
                      shutil.which("chromium-browser")):
        if candidate and Path(candidate).is_file():
            return candidate
    return None


@pytest.fixture(scope="module")
def browser():
    executable = _chromium()
    if executable is None:
        _unavailable("no Chromium found (apt-get install chromium)")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=executable, headless=True,
                                     args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _healthy(url: str) -> bool:
    try:
        with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as reply:
            return reply.status == 200
    except OSError:
        return False


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    log = tmp_path_factory.mktemp("server") / "streamlit.log"
    argv = [sys.executable, "-m", "streamlit", "run", str(APP), "--server.port", str(port),
            "--server.address", "127.0.0.1", "--server.headless", "true",
            "--server.fileWatcherType", "none", "--browser.gatherUsageStats", "false",
            "--client.showErrorDetails", "none", "--client.toolbarMode", "minimal"]
    start = time.perf_counter()
    with log.open("wb") as out:
        process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT,
                                   cwd=log.parent)
    try:
        for _ in range(240):  # at most 60 s
            if _healthy(url) or process.poll() is not None:
                break
            time.sleep(0.25)
        if not _healthy(url):
            pytest.fail(f"streamlit did not start: {log.read_text()[-2000:]}")
        yield url, time.perf_counter() - start
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _shot(page, name: str) -> str:
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return str(path)


def _open(page, title: str) -> None:
    """Go to another page of the same session through the sidebar navigation."""
    page.locator('[data-testid="stSidebarNav"] a', has_text=title).first.click()
    page.get_by_role("heading", level=1).filter(has_text=title.split()[0]).wait_for()


def _png_header(width: int, height: int) -> bytes:
    """A PNG whose header declares `width` × `height` grey pixels (no pixel data)."""
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (struct.pack(">I", len(body)) + kind + body
                + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IEND", b"")


def test_a_link_with_a_scenario_restores_it(server, browser):
    url, _ = server
    page = browser.new_page(viewport={"width": 1400, "height": 1600})
    page.set_default_timeout(120_000)
    import synth
    from mcc_app import scenario_query

    query = scenario_query(synth.SceneConfig(mc_count_range=(7, 9)), resolution_um=100, seed=4)
    page.goto(f"{url}/?{urllib.parse.urlencode(query)}")
    page.get_by_text("MC table at 100 µm").wait_for()
    assert page.locator(ERROR_BOXES).count() == 0
    assert "res=100" in page.url and "seed=4" in page.url
    page.locator('[data-testid="stSliderThumbValue"]').first.wait_for()
    thumbs = page.locator('[data-testid="stSliderThumbValue"]').all_inner_texts()
    assert thumbs[:2] == ["7", "9"]  # MCs per cluster, the first slider
    page.close()


def test_every_page_renders_in_chromium(server, browser):
    url, startup = server
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page(viewport={"width": 1400, "height": 2200})
    page.set_default_timeout(120_000)
    timings = {"server_start_s": round(startup, 2)}

    start = time.perf_counter()
    page.goto(url)
    page.get_by_role("heading", name="Generate synthetic patches").wait_for()
    timings["first_page_title_s"] = round(time.perf_counter() - start, 2)
    preview = page.locator('[data-testid="stImage"] img').first
    preview.wait_for()
    timings["first_page_preview_s"] = round(time.perf_counter() - start, 2)
    assert preview.evaluate("img => img.naturalWidth") >= 100
    page.wait_for_load_state("networkidle")
    shots = {"generate": _shot(page, "generate")}
    assert page.locator(ERROR_BOXES).count() == 0

    _open(page, "Probe")
    n = page.get_by_role("spinbutton", name="Patches per condition")
    n.fill("64")
    n.press("Tab")
    start = time.perf_counter()
    page.get_by_role("button", name="Run the probe").click()
    page.get_by_role("button", name="Stop").wait_for()  # running, on its own thread
    _open(page, "Generate")  # a page switch does not throw the probe away
    _open(page, "Probe")
    chart = page.locator('[data-testid="stVegaLiteChart"]').first
    chart.wait_for()
    chart.locator("canvas, svg").first.wait_for()
    timings["probe_run_s"] = round(time.perf_counter() - start, 2)
    page.get_by_text("Behavioural tests").first.wait_for()
    shots["probe"] = _shot(page, "probe")
    assert page.locator(ERROR_BOXES).count() == 0

    _open(page, "Report")
    page.locator('[data-testid="stDownloadButton"]', has_text="report.html").wait_for()
    shots["report"] = _shot(page, "report")
    assert page.locator(ERROR_BOXES).count() == 0

    _open(page, "Scan")
    page.get_by_role("button", name="Scan", exact=True).click()
    page.locator('[data-testid="stMetric"]', has_text="Positive patches").wait_for()
    page.locator('[data-testid="stImage"] img').last.wait_for()
    shots["scan"] = _shot(page, "scan")
    assert page.locator(ERROR_BOXES).count() == 0

    _open(page, "Scan")  # a PNG too big to read: one line, and the page keeps working
    page.get_by_text("Upload an image").click()
    page.locator('[data-testid="stFileUploader"]', has_text="Mammogram").locator(
        'input[type="file"]').set_input_files(
        files=[{"name": "huge.png", "mimeType": "image/png", "buffer": _png_header(20000, 20000)}])
    page.locator('[data-testid="stAlertContentError"]').first.wait_for()
    button = page.get_by_role("button", name="Scan", exact=True)
    button.wait_for()  # drawn, disabled, below the one line
    assert button.is_disabled() and page.locator(ERROR_BOXES).count() == 1
    assert "at most 100,000,000 pixels" in page.locator(ERROR_BOXES).inner_text()
    shots["scan_refused"] = _shot(page, "scan_refused")

    record = {"timings": timings, "screenshots": shots}
    (SHOTS / "timings.json").write_text(json.dumps(record, indent=2))
    print(json.dumps(record, indent=2))
