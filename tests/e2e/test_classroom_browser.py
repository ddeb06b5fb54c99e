"""A class around one live session, in real Chromium: a second browser joins by code, the
QR code in the share popover reads back as the watch link, the teacher closing their page
leaves the class's copy running with a notice, Continue at the end plays on instead of
restarting, and a link's speed= holds (docs/socket-api.md, "Join codes" and "Classroom")."""

import io
import re

import pytest
from playwright.sync_api import expect

from engine.scenario import encode_token
from tests.e2e.test_browser import ready, set_speed
from tests.e2e.test_csp_browser import Watched, wait_until

zxingcpp = pytest.importorskip("zxingcpp")
from PIL import Image


def decode(png: bytes) -> list[str]:
    return [b.text for b in zxingcpp.read_barcodes(Image.open(io.BytesIO(png)).convert("L"))]


def join_code(page) -> str:
    """Open the share popover and ask for the join code; return it as shown (ABC-234)."""
    page.click("#share")
    page.click("#joincode-btn")
    code = page.locator("#joincode-box .joincode-code")
    expect(code).to_have_text(re.compile(r"^[A-Z2-9]{3}-[A-Z2-9]{3}$"))
    return code.inner_text()


def test_a_class_joins_by_code_and_the_qr_code_reads_as_the_watch_link(open_page, server, errors):
    teacher = ready(open_page("/play/raft"))
    session = teacher.evaluate("window.__pp.session")
    shown = join_code(teacher)
    watch = f"{server}/play/raft?session={session}"
    qr = teacher.locator("#joincode-box .joincode-qr")
    teacher.wait_for_function("document.querySelector('#joincode-box .joincode-qr').naturalWidth > 0")
    assert decode(qr.screenshot()) == [watch]
    expect(teacher.locator("#joincode-box .joincode-how")).to_contain_text("/j and type the code")

    # A second browser types the code as a student would (lower case, with the dash).
    student = ready(open_page(f"/j/{shown.lower()}"))
    assert student.url.split("&")[0] == watch     # (the page then adds its run: s=, t=)
    assert student.evaluate("window.__pp.role") == "viewer"
    assert student.evaluate("window.__pp.session") == session
    # And through the little form, with a typo first: a 404 page in the reader's language.
    other = open_page("/j/ZZZ-ZZZ")
    expect(other.locator(".join-unknown")).to_contain_text("No live run has the code ZZZ-ZZZ")
    other.select_option("#lang", "zh")
    expect(other.locator(".join-unknown")).to_contain_text("没有实时运行使用代码 ZZZ-ZZZ")
    # Chromium logs the page's own 404 status as a console error: that one is expected here.
    errors[:] = [e for e in errors if not e.startswith("/j/ZZZ-ZZZ: Failed to load resource")]
    other.fill("#join-code", shown)
    other.click(".join-form button")
    ready(other)
    assert other.url.split("&")[0] == watch


def test_the_teacher_leaving_tells_the_class_and_their_copy_keeps_running(open_page):
    teacher = ready(open_page("/play/raft"))
    teacher.click("#play")
    session = teacher.evaluate("window.__pp.session")
    student = ready(open_page(f"/play/raft?session={session}"))
    notice = student.locator("#teacher-left")
    expect(notice).to_be_hidden()
    teacher.close()
    expect(notice).to_be_visible()
    expect(notice).to_contain_text("The teacher has left. This copy keeps running; Fork it to try your own faults.")
    t0 = student.evaluate("window.__pp.t")
    student.wait_for_function(f"window.__pp.t > {t0} + 200 && window.__pp.playing", timeout=20000)
    student.select_option("#lang", "zh")
    expect(notice).to_contain_text("老师已经离开。这份副本会继续运行")
    expect(student.locator("#viewer-banner [data-fork]")).to_be_visible()   # and it can be forked


def test_continue_at_the_end_plays_on_instead_of_restarting(open_page):
    token = encode_token({"protocol": "raft", "until": 600})
    page = ready(open_page(f"/play/raft?s={token}&t=600"))
    page.wait_for_function("window.__pp.done")
    expect(page.locator("#play .label")).to_have_text("Continue")
    page.click("#play")
    page.wait_for_function("window.__pp.playing && !window.__pp.done")
    assert page.evaluate("window.__pp.t") >= 600, "Continue must not go back to 0"
    page.wait_for_function("window.__pp.t > 650", timeout=20000)
    expect(page.locator("#play .label")).to_have_text("Pause")
    page.click("#restart")                                   # Restart is still its own button
    page.wait_for_function("window.__pp.t < 50")


def test_a_link_with_speed_opens_at_that_speed_and_shares_it_on(open_page):
    page = ready(open_page("/play/raft?speed=0.5"))
    speed = page.locator("#speed")
    expect(speed).to_have_attribute("data-speed", "0.5")
    page.wait_for_function("document.querySelector('#speed-out').textContent.includes('0.5')")
    page.click("#share")
    assert "speed=0.5" in page.input_value("#share-url")
    # Opening the link it shares plays at that speed again.
    url = page.input_value("#share-url")
    again = ready(open_page(url[url.index("/play/"):]))
    expect(again.locator("#speed")).to_have_attribute("data-speed", "0.5")


@pytest.fixture
def watched(browser, server):
    """Pages under the real policy (tests/e2e/test_csp_browser.py): no violation, no console error."""
    w = Watched(browser, server)
    yield w
    w.close()
    assert w.reports == [] and w.errors == [], (w.reports, w.errors)


def test_the_join_pages_and_the_qr_image_keep_the_content_security_policy(watched):
    page = watched.open("/play/raft")
    wait_until(page, "window.__pp && window.__pp.ready")
    page.click("#share")
    page.click("#joincode-btn")
    wait_until(page, "(document.querySelector('#joincode-box .joincode-qr') || {}).naturalWidth > 0")
    assert watched.violations(page) == []
    for path, status in (("/j", 200), ("/j/ZZZ-ZZZ", 404)):
        page = watched.open(path, status)
        wait_until(page, "!document.documentElement.classList.contains('i18n-pending')")
        expect(page.locator("#join-code")).to_be_visible()
        assert watched.violations(page) == [], path


def test_a_fork_starts_at_the_very_moment_the_student_sees(open_page):
    teacher = ready(open_page("/play/raft"))
    set_speed(teacher, -1)                                   # 0.1x: a pause lands between whole ms
    teacher.click("#play")
    teacher.wait_for_function("window.__pp.t > 300", timeout=20000)
    teacher.click("#play")
    teacher.wait_for_function("!window.__pp.playing")
    student = ready(open_page(f"/play/raft?session={teacher.evaluate('window.__pp.session')}"))
    student.wait_for_function(f"window.__pp.t === {teacher.evaluate('window.__pp.t')}")
    seen = student.evaluate("window.__pp.t")
    events = student.evaluate(f"window.__pp.model.events.filter((e) => e.t <= {seen}).map((e) => e.seq)")
    student.click("#viewer-banner [data-fork]")
    student.wait_for_function("window.__pp.role === 'controller' && window.__pp.ready")
    assert student.evaluate("window.__pp.t") == seen
    assert student.evaluate("window.__pp.model.events.map((e) => e.seq)") == events
