"""Presenter mode and the layout at three screen sizes, in a real browser (static/js/presenter.js,
layout.js): at 1920x1080 every text on screen is at least 24 px, the canvas's too; the run is
driven by keys alone; and at 390x844, 1280x800 and 1920x1080 no control covers a node."""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser import ready

BACK_ROW_PX = 24

# Every text on screen (its own text node), with its element's computed font size.
VISIBLE_TEXT_SIZES = """() => {
  const out = [];
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    if (!n.textContent.trim()) continue;
    const el = n.parentElement;
    if (!el || el.closest('script, style, .sr-only, svg')) continue;
    const range = document.createRange();
    range.selectNodeContents(n);
    const r = range.getBoundingClientRect();
    if (r.width < 1 || r.height < 1 || r.bottom <= 0 || r.right <= 0
        || r.top >= innerHeight || r.left >= innerWidth) continue;
    if (!el.checkVisibility({ visibilityProperty: true, opacityProperty: true })) continue;
    const cs = getComputedStyle(el);
    out.push({ text: n.textContent.trim().slice(0, 40), px: parseFloat(cs.fontSize), cls: String(el.className || el.tagName) });
  }
  return out;
}"""

# The boxes of every control on screen: buttons, toolbars, banners, the narration band, bars,
# open popovers and menus (viewport coordinates).
CONTROL_BOXES = """() => {
  const sel = 'button, summary, select, input, [role="toolbar"], .narration:not(.empty), .partition-hint, '
    + '.viewer-banner, .teacher-left, .violation-banner, .behaviour-notice, .guide, .lesson-bar, '
    + '.control-bar, .popover, .menu, .presenter-join';
  const out = [];
  for (const el of document.querySelectorAll(sel)) {
    if (el.closest('.sr-only') || !el.checkVisibility({ visibilityProperty: true })) continue;
    const r = el.getBoundingClientRect();
    if (r.width < 1 || r.height < 1) continue;
    out.push({ what: el.id || String(el.className) || el.tagName, x: r.left, y: r.top, w: r.width, h: r.height });
  }
  return out;
}"""


def circle_hits(c, b):
    nx = max(b["x"], min(c["x"], b["x"] + b["w"]))
    ny = max(b["y"], min(c["y"], b["y"] + b["h"]))
    return (c["x"] - nx) ** 2 + (c["y"] - ny) ** 2 < c["r"] ** 2


def node_circles(page):
    return page.evaluate("""() => {
      const r = window.__pp.nodeRadius();
      return window.__pp.model.ids.map((id) => ({ id, r, ...window.__pp.nodeScreenPos(id) }));
    }""")


def covered(page):
    """(control, node) pairs where a control's box meets a node's disc."""
    boxes = page.evaluate(CONTROL_BOXES)
    return [(b["what"], c["id"]) for c in node_circles(page) for b in boxes if circle_hits(c, b)]


def chapter_is(page, chapter: int):
    page.wait_for_function(f"document.getElementById('guide').dataset.chapter === '{chapter}' "
                           "&& !window.__pp.playing", timeout=30000)


def test_presenter_mode_at_1920x1080_is_read_from_the_back_row_and_driven_by_keys(open_page):
    page = ready(open_page("/play/raft?preset=figure8", width=1920, height=1080))
    expect(page.locator(".side")).to_be_visible()
    page.keyboard.press("f")                                   # in by the key
    page.wait_for_function("window.__pp.presenter && document.body.classList.contains('presenter')")
    for hidden in (".side", ".spacetime-wrap", ".control-bar", ".topbar", ".fault-bar", ".lesson-bar"):
        expect(page.locator(hidden)).to_be_hidden()
    # The canvas takes the screen: nearly all its width, most of its height.
    box = page.locator("#canvas").bounding_box()
    assert box["width"] >= 1850 and box["height"] >= 700, box
    expect(page.locator("#guide-progress")).to_have_text("0 / 8")    # the lesson's progress shows

    page.keyboard.press(" ")                                   # Space plays...
    page.wait_for_function("window.__pp.playing")
    page.keyboard.press(" ")                                   # ...and pauses
    page.wait_for_function("!window.__pp.playing")
    page.keyboard.press("r")
    page.wait_for_function("window.__pp.t === 0")
    page.keyboard.press("ArrowRight")                          # a step
    page.wait_for_function("window.__pp.t > 0")
    page.keyboard.press("n")                                   # Next chapter
    chapter_is(page, 0)
    page.keyboard.press("PageDown")
    chapter_is(page, 1)
    expect(page.locator("#guide-progress")).to_have_text("2 / 8")
    expect(page.locator("#guide-title")).to_be_visible()
    page.wait_for_timeout(300)                                 # a frame with the chapter drawn

    sizes = page.evaluate(VISIBLE_TEXT_SIZES)
    assert len(sizes) >= 3, sizes                              # the progress, the title, the narration
    small = [s for s in sizes if s["px"] < BACK_ROW_PX]
    assert not small, small
    assert page.evaluate("window.__pp.fontPx()") >= BACK_ROW_PX
    assert not covered(page)
    for n in page.evaluate("window.__pp.model.ids"):                # labels, strips: on the canvas
        pics = page.evaluate(f"window.__pp.pictures({n!r})")
        cw, ch = pics["canvas"]["w"], pics["canvas"]["h"]
        assert cw >= 1850
        for b in pics["boxes"]:
            assert b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["w"] <= cw and b["y"] + b["h"] <= ch, (n, b)

    page.keyboard.press("j")                                   # the join code, big
    code = page.locator("#presenter-join .joincode-code")
    expect(code).to_be_visible()
    expect(code).to_have_text(re.compile(r"^[A-Z0-9]{3}-[A-Z0-9]{3}$"))
    qr = page.locator("#presenter-join .joincode-qr").bounding_box()
    assert qr["width"] >= 500, qr
    assert all(s["px"] >= BACK_ROW_PX for s in page.evaluate(VISIBLE_TEXT_SIZES))
    page.keyboard.press("j")
    expect(page.locator("#presenter-join")).to_be_hidden()

    page.keyboard.press("Escape")                              # Esc leaves; everything comes back
    page.wait_for_function("!window.__pp.presenter")
    for shown in (".side", ".spacetime-wrap", ".control-bar", ".topbar", ".fault-bar"):
        expect(page.locator(shown)).to_be_visible()
    page.wait_for_timeout(200)
    assert page.evaluate("window.__pp.fontPx()") < BACK_ROW_PX      # the canvas at its usual size
    assert page.evaluate("window.__pp.nodeRadius()") <= 42


def test_the_header_button_and_the_help_dialog(open_page):
    page = ready(open_page("/play/raft"))
    page.keyboard.press("?")
    expect(page.locator("#help")).to_contain_text("Presenter mode")
    page.keyboard.press("Escape")
    page.click("#presenter-btn")                               # the header's button does the same
    page.wait_for_function("window.__pp.presenter")
    expect(page.locator("#presenter-btn")).to_have_attribute("aria-pressed", "true")
    page.keyboard.press("Escape")
    page.wait_for_function("!window.__pp.presenter")
    expect(page.locator("#presenter-btn")).to_have_attribute("aria-pressed", "false")


def run_path(protocol, nodes, preset):
    """A preset by name, or a free run of `nodes` nodes as a share token."""
    if preset:
        return f"/play/{protocol}?preset={preset}"
    if nodes:
        from engine.scenario import from_dict
        return f"/play/{protocol}?s={from_dict({'protocol': protocol, 'nodes': nodes}).to_token()}"
    return f"/play/{protocol}"


SIZES = [(390, 844), (1280, 800), (1920, 1080)]
RUNS = [("raft", 9, None), ("raft", None, "figure8"), ("2pc", None, "coordinator_crash"), ("tcc", None, None)]


@pytest.mark.parametrize(("width", "height"), SIZES, ids=[f"{w}x{h}" for w, h in SIZES])
@pytest.mark.parametrize(("protocol", "nodes", "preset"), RUNS, ids=[f"{p}-{n or s or 'free'}" for p, n, s in RUNS])
def test_no_control_covers_a_node(open_page, protocol, nodes, preset, width, height):
    page = ready(open_page(run_path(protocol, nodes, preset), width=width, height=height))
    page.wait_for_function("window.__pp.model.ids.every((id) => window.__pp.nodeScreenPos(id))")
    page.click("#step")
    page.wait_for_timeout(200)
    assert not covered(page)
    canvas = page.locator("#canvas").bounding_box()
    circles = node_circles(page)
    assert all(canvas["x"] <= c["x"] <= canvas["x"] + canvas["width"]
               and canvas["y"] <= c["y"] <= canvas["y"] + canvas["height"] for c in circles)
    assert all(0 <= c["y"] - c["r"] and c["y"] + c["r"] <= height for c in circles), "a node is off screen"
    page.click("#partition-btn")                               # the toolbar grows, the hint shows
    page.wait_for_timeout(100)
    assert not covered(page)
    page.keyboard.press("Escape")
    if width < 700:
        # A phone: the canvas comes before the lesson and the panels; the share popover stays on screen.
        order = page.evaluate("""() => ['.canvas-wrap', '.lesson-bar', '.side']
          .map((s) => document.querySelector(s).getBoundingClientRect().top)""")
        assert order[0] < order[1] < order[2], order
        page.click("#share")
        pop = page.locator("#share-pop")
        expect(pop).to_be_visible()
        b = pop.bounding_box()
        assert b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["width"] <= width and b["y"] + b["height"] <= height, b
    else:
        assert page.evaluate("window.__pp.nodeRadius()") >= (30 if width >= 1900 else 18)
        # Presenter mode on the same screen: bigger, and still nothing covers a node.
        page.keyboard.press("f")
        page.wait_for_function("window.__pp.presenter")
        page.wait_for_timeout(200)
        assert not covered(page)
        canvas = page.locator("#canvas").bounding_box()
        for c in node_circles(page):
            assert canvas["y"] <= c["y"] - c["r"] and c["y"] + c["r"] <= canvas["y"] + canvas["height"], c
        page.keyboard.press("Escape")
        page.wait_for_function("!window.__pp.presenter")
        page.wait_for_timeout(200)
        assert not covered(page)


def test_a_watchers_banner_on_a_phone_reads_as_lines_not_words(open_page):
    owner = ready(open_page("/play/raft"))
    session = owner.evaluate("window.__pp.session")
    page = ready(open_page(f"/play/raft?session={session}", width=390, height=844))
    banner = page.locator("#viewer-banner > span")
    expect(banner).to_be_visible()
    # One word a line was about nine lines; whole lines of text are two or three.
    lines = page.evaluate("""() => {
      const s = document.querySelector('#viewer-banner > span');
      const range = document.createRange();
      range.selectNodeContents(s);
      return new Set([...range.getClientRects()].map((r) => Math.round(r.top))).size;
    }""")
    assert lines <= 3, lines
    assert not covered(page)
