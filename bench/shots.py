"""What bench/screenshots.py and bench/picture_shots.py share: the real server as a subprocess
on loopback and system Chromium driving it (as the browser tests do, tests/e2e/conftest.py)."""

from __future__ import annotations

import contextlib
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path, free_port, start_server, stop_server


@contextlib.contextmanager
def server_and_browser(log_name: str):
    """Yields (base URL, Chromium) and stops both; the server's output goes to test-results/."""
    from playwright.sync_api import sync_playwright
    port = free_port()
    (ROOT / "test-results").mkdir(exist_ok=True)
    with open(ROOT / "test-results" / log_name, "w") as log:
        proc = start_server(port, log)
        try:
            with sync_playwright() as pw:
                browser = pw.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
                try:
                    yield f"http://127.0.0.1:{port}", browser
                finally:
                    browser.close()
        finally:
            stop_server(proc)


def open_page(browser, url: str, width: int, height: int):
    """A new context's page at `url`, once the play page is ready. Returns (context, page).
    bypass_csp: wait_for_function evaluates its expression (tests/e2e/conftest.py)."""
    ctx = browser.new_context(viewport={"width": width, "height": height}, bypass_csp=True)
    page = ctx.new_page()
    page.goto(url)
    page.wait_for_function("window.__pp && window.__pp.ready")
    return ctx, page
