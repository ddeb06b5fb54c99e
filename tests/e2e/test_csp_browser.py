"""The pages under their Content-Security-Policy (playground/headers.py), in real Chromium.

Every page is opened with a listener for `securitypolicyviolation` installed before any of
its scripts run, and the console is watched for "Content Security Policy" reports: the
gallery, a play page of every protocol while its run plays (over the websocket the policy's
connect-src must allow), error pages, and the Export menu's downloads (blob: URLs). None may
report a violation, and each must still work.
"""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from engine import registry
from tests.e2e.test_browser import READY, set_speed

WATCH = """
window.__csp = [];
document.addEventListener('securitypolicyviolation', (e) => {
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || 'inline'} at ${e.sourceFile}:${e.lineNumber}`);
});
"""
PROTOCOLS = [p.name for p in registry.all(include_hidden=True)]


def wait_until(page, expr: str, timeout_s: float = 20.0):
    """page.wait_for_function without it: Playwright evaluates that one's expression with
    eval(), which script-src 'self' forbids (page.evaluate goes through the debugger)."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = page.evaluate(expr)
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out waiting for {expr}"
        page.wait_for_timeout(50)


class Watched:
    """One browser context whose pages report every CSP violation and console error."""

    def __init__(self, browser, server):
        self.server = server
        self.ctx = browser.new_context(viewport={"width": 1400, "height": 900}, accept_downloads=True,
                                       bypass_csp=False)
        self.ctx.add_init_script(WATCH)
        self.reports: list[str] = []      # console lines about the policy, and page errors
        self.errors: list[str] = []
        self.sockets: list = []

    def open(self, path: str, status: int = 200):
        page = self.ctx.new_page()

        def console(m, path=path):
            if "Content Security Policy" in m.text or "Content-Security-Policy" in m.text:
                self.reports.append(f"{path}: {m.text}")
            elif m.type == "error" and not (status != 200 and f"status of {status}" in m.text):
                self.errors.append(f"{path}: {m.text}")   # (an error page's own status is expected)

        page.on("console", console)
        page.on("pageerror", lambda e, path=path: self.errors.append(f"{path}: {e}"))
        page.on("websocket", lambda ws: self.sockets.append(ws))
        response = page.goto(self.server + path)
        assert response.status == status, path
        assert "script-src 'self'" in response.headers["content-security-policy"], path
        return page

    def violations(self, page) -> list[str]:
        return page.evaluate("window.__csp") + self.reports

    def close(self):
        self.ctx.close()


@pytest.fixture
def watched(browser, server):
    w = Watched(browser, server)
    yield w
    w.close()
    assert w.reports == [], w.reports
    assert w.errors == [], w.errors


def test_the_gallery_and_error_pages_run_without_violations(watched):
    page = watched.open("/")
    expect(page.get_by_text("Raft").first).to_be_visible()
    # Role colours came from data attributes (no style attribute): the page's script set them.
    colours = page.eval_on_selector_all(".role-dot", "ds => ds.map(d => d.style.getPropertyValue('--role'))")
    assert colours and all(c.strip().startswith("#") for c in colours), colours[:5]
    page.wait_for_timeout(300)
    assert watched.violations(page) == []

    for path, status, text in (("/play/no-such-protocol", 404, "Unknown protocol"),
                               ("/play/raft?s=damaged", 400, "Cannot open"), ("/nowhere", 404, "Page not found")):
        page = watched.open(path, status)
        expect(page.locator(".error-title")).to_contain_text(text)
        wait_until(page, "!document.documentElement.classList.contains('i18n-pending')")
        assert watched.violations(page) == [], path


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_every_protocol_plays_without_violations(watched, protocol):
    page = watched.open(f"/play/{protocol}")
    wait_until(page, READY)
    set_speed(page, 0.5)
    page.click("#play")
    wait_until(page, "window.__pp.t > 0 && Object.keys(window.__pp.model.nodes).length > 0")
    t1 = page.evaluate("window.__pp.t")
    wait_until(page, f"window.__pp.t > {t1} || window.__pp.done")
    if page.evaluate("window.__pp.playing"):
        page.click("#play")
    assert watched.violations(page) == [], protocol
    # The run came over a websocket to the same host: connect-src 'self' let it through.
    sockets = [ws for ws in watched.sockets if "/socket.io/" in ws.url and "transport=websocket" in ws.url]
    assert sockets and sockets[-1].url.startswith("ws://127.0.0.1:"), [ws.url for ws in watched.sockets]


def test_exports_download_through_blob_urls_without_violations(watched, tmp_path):
    page = watched.open("/play/2pc?preset=commit")
    wait_until(page, READY)
    page.click("#step")
    page.click("#step")
    page.click("#export")
    expect(page.locator("#export-pop")).to_be_visible()
    for kind, start in (("jsonl", b"{"), ("canvas-png", b"\x89PNG"), ("svg", b"<?xml")):
        if page.locator("#export-pop").is_hidden():
            page.click("#export")
        with page.expect_download() as d:
            page.click(f'#export-pop [data-export="{kind}"]')
        path = tmp_path / d.value.suggested_filename
        d.value.save_as(path)
        assert path.read_bytes().startswith(start), kind
    assert watched.violations(page) == []


def test_no_other_site_can_frame_a_page(browser, server):
    """frame-ancestors 'none' (and X-Frame-Options: DENY): a page inside another site's frame
    is not shown, so nobody can lay invisible buttons over a run (clickjacking)."""
    ctx = browser.new_context(bypass_csp=False)
    try:
        page = ctx.new_page()
        blocked = []
        page.on("console", lambda m: "frame-ancestors" in m.text and blocked.append(m.text))
        page.set_content(f'<iframe id="f" src="{server}/play/raft"></iframe>')
        page.wait_for_timeout(1500)
        frame = page.frame_locator("#f")
        assert frame.locator("#canvas").count() == 0
        assert blocked, "Chromium reports the frame it refused"
    finally:
        ctx.close()
