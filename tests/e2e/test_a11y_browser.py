"""Accessibility: axe-core (WCAG 2 A and AA rules) finds nothing on any page, in either language.

axe-core comes from npm (package.json devDependencies, installed by `npm ci`) and is injected
into the real page at 1280x800 after the page has done what a lesson does: the run has played,
the event log has lines, the inspector shows a node, a node menu is open, a violation banner
shows. A failure names each rule, the elements it found and what to fix.
"""

import itertools
import json
import urllib.request

import pytest
from playwright.sync_api import expect

from engine.protocols import registry
from tests.e2e.conftest import ROOT

AXE = ROOT / "node_modules" / "axe-core" / "axe.min.js"
TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
W, H = 1280, 800
READY = "window.__pp && window.__pp.ready"
# What the gallery shows (the engine's registry without hidden demos).
GALLERY = [p.name for p in registry.all()]


def axe(page) -> list[dict]:
    if not page.evaluate("typeof window.axe === 'object'"):
        if not AXE.exists():
            pytest.fail("axe-core is missing: run `npm ci` (package.json lists it as a dev dependency)")
        page.add_script_tag(path=str(AXE))
    return page.evaluate(
        """(tags) => axe.run(document, {runOnly: {type: 'tag', values: tags}}).then((r) => r.violations.map((v) => ({
            id: v.id, help: v.help,
            nodes: v.nodes.map((n) => ({target: n.target.join(' '), summary: n.failureSummary})),
        })))""", TAGS)


def assert_clean(page, where: str) -> None:
    # Colours are measured at rest: a menu or banner fading in is not its real contrast.
    page.wait_for_function("document.getAnimations().every((a) => a.playState !== 'running')")
    found = axe(page)
    lines = []
    for v in found:
        lines.append(f"{v['id']}: {v['help']}")
        for n in v["nodes"][:6]:
            lines.append(f"    {n['target']}: {' '.join(n['summary'].split())}")
    assert not found, f"axe found {len(found)} WCAG violation(s) on {where}:\n" + "\n".join(lines)


def set_lang(page, lang: str) -> None:
    page.select_option("#lang", lang)
    page.wait_for_function(f"document.documentElement.lang === {'zh-CN' if lang == 'zh' else 'en'!r}")


def in_both_languages(page, where: str, prepare=None) -> None:
    for lang in ("en", "zh"):
        set_lang(page, lang)
        if prepare:
            prepare(page)
        assert_clean(page, f"{where} [{lang}]")


def open_node_menu(page) -> None:
    """A node's menu, opened from the node list (the canvas's click by keyboard)."""
    page.locator("#node-list .node-item").first.focus()
    page.keyboard.press("Enter")
    expect(page.locator("#node-menu")).to_be_visible()


def play_a_little(page, until_t=400) -> None:
    page.click("#play")
    page.wait_for_function(f"window.__pp.t >= {until_t} || window.__pp.done", timeout=20000)
    page.click("#play")
    page.wait_for_function("window.__pp.playing === false")
    page.wait_for_function("document.querySelectorAll('#log .ev').length > 0")


def test_api_and_gallery_agree_on_the_protocols(server):
    with urllib.request.urlopen(server + "/api/protocols") as r:
        api = json.load(r)
    assert sorted(p["name"] for p in api if p.get("category") != "demo") == sorted(GALLERY)


def test_gallery_passes_axe_in_both_languages(open_page):
    page = open_page("/", W, H)
    expect(page.locator(".proto-card").first).to_be_visible()
    in_both_languages(page, "the gallery")


@pytest.mark.parametrize("name", GALLERY)
def test_play_page_passes_axe_while_a_run_plays(open_page, name):
    page = open_page(f"/play/{name}", W, H)
    page.wait_for_function(READY)
    play_a_little(page)
    # The inspector shows a node, the log has lines, a node menu is open (focus in it).
    in_both_languages(page, f"/play/{name} after playing, node menu open", prepare=open_node_menu)
    assert page.evaluate("document.activeElement.closest('#node-menu') !== null")


def test_a_violation_banner_a_message_menu_and_the_dialogs_pass_axe(open_page):
    # Opened paused just after Raft's figure-8 bug breaks Leader Completeness (t ~ 1.16 s).
    page = open_page("/play/raft?preset=figure8_bug&t=1500", W, H)
    page.wait_for_function(READY)
    expect(page.locator("#violation-banner")).to_be_visible()
    expect(page.locator("#sr-alert")).not_to_be_empty()
    expect(page.locator('#invariants [data-status="violated"]').first).to_be_visible()
    in_both_languages(page, "a violation banner (raft figure8_bug)", prepare=open_node_menu)

    def share_open(p):
        p.keyboard.press("Escape")
        p.locator("#share").focus()
        p.keyboard.press("Enter")
        expect(p.locator("#share-pop")).to_be_visible()
    in_both_languages(page, "the share popover", prepare=share_open)

    def help_open(p):
        p.keyboard.press("Escape")
        p.locator("#help-btn").focus()
        p.keyboard.press("Enter")
        expect(p.locator("#help")).to_be_visible()
    in_both_languages(page, "the keyboard help", prepare=help_open)
    page.keyboard.press("Escape")

    # A message in flight and its menu; partition mode with its hint.
    page2 = open_page("/play/2pc?preset=commit", W, H)
    page2.wait_for_function(READY)
    for _ in range(40):
        if page2.evaluate("Object.keys(window.__pp.model.inflight).length > 0"):
            break
        page2.click("#step")
        page2.wait_for_timeout(30)
    mid = page2.evaluate("Object.keys(window.__pp.model.inflight)[0]")

    def msg_menu_open(p):
        if not p.evaluate("document.getElementById('msg-list').open"):
            p.locator("#msg-list summary").focus()
            p.keyboard.press("Enter")
            expect(p.locator(f'#msg-list [data-msg="{mid}"]')).to_be_visible()
        pos = p.evaluate(f"window.__pp.messageScreenPos({mid})")
        p.mouse.click(pos["x"], pos["y"])
        expect(p.locator("#msg-menu")).to_be_visible()
    in_both_languages(page2, "a message menu (2pc)", prepare=msg_menu_open)

    def partition_mode(p):
        p.keyboard.press("Escape")
        if p.get_attribute("#partition-btn", "aria-pressed") != "true":
            p.click("#partition-btn")
        expect(p.locator("#partition-hint")).to_be_visible()
    in_both_languages(page2, "partition mode (2pc)", prepare=partition_mode)


def test_bug_toggles_and_parameters_pass_axe_also_on_a_projector(open_page):
    for width, height in ((W, H), (1024, 768)):
        page = open_page("/play/raft?preset=figure8_bug", width, height)
        page.wait_for_function(READY)
        page.locator("#tab-scenario").focus()
        page.keyboard.press("Enter")
        expect(page.locator("#scenario-panel")).to_be_visible()
        page.locator("#bugs input[type=checkbox]").first.focus()
        page.keyboard.press("Space")   # a bug toggle on: the checked style too
        expect(page.locator("#bugs input[type=checkbox]").first).to_be_checked()
        in_both_languages(page, f"the bug toggles and parameters at {width}x{height}")


@pytest.mark.parametrize("path", ["/play/nope", "/play/2pc?s=not-a-token", "/play/raft?preset=nope"])
def test_error_pages_pass_axe_in_both_languages(browser, server, path):
    ctx = browser.new_context(viewport={"width": W, "height": H})   # a 4xx status is the point here
    try:
        page = ctx.new_page()
        page.goto(server + path)
        expect(page.locator(".error-card")).to_be_visible()
        in_both_languages(page, f"the error page for {path}")
    finally:
        ctx.close()


def test_the_page_language_follows_the_switch(open_page):
    page = open_page("/play/2pc", W, H)
    page.wait_for_function(READY)
    set_lang(page, "zh")
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    page.reload()
    page.wait_for_function(READY)
    assert page.evaluate("document.documentElement.lang") == "zh-CN"
    set_lang(page, "en")
    assert page.evaluate("document.documentElement.lang") == "en"


def test_node_states_are_words_not_only_colours(open_page):
    # The lesson's coordinator is down from 300 ms to about 2.2 s.
    page = open_page("/play/2pc?preset=coordinator_crash&t=1000", W, H)
    page.wait_for_function(READY)
    page.wait_for_function("window.__pp.model.nodes.c.up === false")
    item = page.locator('#node-list .node-item[data-node="c"]')
    expect(item).to_contain_text("crashed")
    expect(item).to_have_class("node-item down")
    set_lang(page, "zh")
    expect(item).to_contain_text("崩溃")


def test_the_live_region_summarises_the_latest_step_and_is_throttled(open_page):
    page = open_page("/play/2pc?preset=commit", W, H)
    page.wait_for_function(READY)
    # Count what a screen reader would hear while the run plays at full speed.
    page.evaluate("""() => {
        window.__said = [];
        new MutationObserver(() => window.__said.push([performance.now(), document.getElementById('sr-status').textContent]))
          .observe(document.getElementById('sr-status'), {childList: true, characterData: true, subtree: true});
    }""")
    page.fill("#speed", "-0.3")   # 0.5x: the lesson's dozen notes come within a second or two
    page.click("#play")
    page.wait_for_timeout(3000)
    page.click("#play")            # pause, before the run ends (at 4 s virtual)
    page.wait_for_function("window.__pp.playing === false")
    said = page.evaluate("window.__said")
    notes = page.evaluate(f"window.__pp.model.notes.filter(n => n.t <= {page.evaluate('window.__pp.t')}).length")
    assert len(said) >= 2, f"too little was announced: {said}"
    assert len(said) < notes, f"every one of {notes} notes was read out: nothing was held back"
    gaps = [b[0] - a[0] for a, b in itertools.pairwise(said)]
    assert all(g >= 900 for g in gaps), f"announced faster than once a second: {gaps}"
    # A fault the reader makes is read out, in the reader's language.
    page.locator('#node-list .node-item[data-node="p1"]').focus()
    page.keyboard.press("Enter")
    page.locator('#node-menu [data-action="crash"]').focus()
    page.keyboard.press("Enter")
    expect(page.locator("#sr-status")).to_contain_text("p1 crashed", timeout=3000)


def test_reduced_motion_turns_off_css_animation(browser, server):
    ctx = browser.new_context(viewport={"width": W, "height": H}, reduced_motion="reduce")
    try:
        page = ctx.new_page()
        page.goto(server + "/play/raft?preset=figure8_bug&t=1500")
        page.wait_for_function(READY)
        expect(page.locator("#violation-banner")).to_be_visible()
        assert page.evaluate("getComputedStyle(document.getElementById('violation-banner')).animationName") == "none"
        assert page.evaluate("getComputedStyle(document.querySelector('.btn')).transitionDuration") in ("0s", "")
    finally:
        ctx.close()
