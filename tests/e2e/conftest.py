"""End-to-end fixtures: the real server as a subprocess, Playwright driving system Chromium.

The server runs in its own process with its default async mode (eventlet):
Playwright's sync API and eventlet must never share a process.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-sync",
                 "--disable-background-networking", "--disable-component-update"]


def chromium_path() -> str | None:
    return os.environ.get("PLAYWRIGHT_CHROMIUM") or shutil.which("chromium") or shutil.which("chromium-browser")


def pytest_collection_modifyitems(config, items):
    if chromium_path():
        return
    if os.environ.get("CI"):
        return  # the browser fixture fails loudly: CI must run the browser tests
    skip = pytest.mark.skip(reason="Chromium not installed (apt-get install chromium); CI runs these")
    for item in items:
        if "e2e" in str(item.fspath):
            item.add_marker(skip)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_server(port: int, log) -> subprocess.Popen:
    """`python app.py --port PORT` (default async mode), once it accepts connections."""
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT,
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode}; see test-results/")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise RuntimeError("server did not start within 30 s")


def stop_server(proc: subprocess.Popen) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


@pytest.fixture(scope="session")
def server():
    port = free_port()
    (ROOT / "test-results").mkdir(exist_ok=True)
    with open(ROOT / "test-results" / "server.log", "w") as log:
        proc = start_server(port, log)
        yield f"http://127.0.0.1:{port}"
        stop_server(proc)


@pytest.fixture(scope="session")
def browser():
    path = chromium_path()
    if not path:
        pytest.fail("Chromium is required for the end-to-end tests (apt-get install chromium)")
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=path, args=CHROMIUM_ARGS)
        # Playwright's wait_for_function runs its expression with eval(), which the pages'
        # Content-Security-Policy forbids: contexts bypass the policy unless a test says
        # bypass_csp=False (tests/e2e/test_csp_browser.py checks the pages under it).
        new_context = b.new_context
        b.new_context = lambda **kw: new_context(**{"bypass_csp": True, **kw})
        yield b
        b.close()


@pytest.fixture
def errors():
    """Console errors and page errors seen by the pages of one test; must stay empty."""
    seen: list[str] = []
    yield seen
    assert seen == [], f"console errors: {seen}"


@pytest.fixture
def open_page(browser, server, errors):
    contexts = []

    def _open(path: str, width=1400, height=900):
        ctx = browser.new_context(viewport={"width": width, "height": height})
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("console", lambda m: m.type == "error" and errors.append(f"{path}: {m.text}"))
        page.on("pageerror", lambda e: errors.append(f"{path}: {e}"))
        page.goto(server + path)
        return page

    yield _open
    for c in contexts:
        c.close()
