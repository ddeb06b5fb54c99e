""""Find a bug" in real Chromium against the real server (eventlet, a child process per search):
turn a bug toggle on, search, watch the progress, open the counterexample as a run of one's own."""

from playwright.sync_api import expect

from tests.e2e.test_a11y_browser import assert_clean

READY = "window.__pp && window.__pp.ready"

# Records what the search area shows each time it changes: did the page show progress?
WATCH = """() => {
  window.__huntSeen = [];
  const bar = document.getElementById('hunt-progress');
  const status = document.getElementById('hunt-status');
  const note = () => window.__huntSeen.push({ bar: !bar.hidden, value: bar.value, max: bar.max,
                                              text: status.textContent });
  new MutationObserver(note).observe(document.getElementById('hunt'),
    { subtree: true, childList: true, characterData: true, attributes: true });
}"""


def test_find_a_bug_then_open_the_counterexample(open_page):
    page = open_page("/play/tcc")
    page.wait_for_function(READY)
    page.click("#tab-scenario")
    first = page.evaluate("window.__pp.session")
    page.check("#bugs input[data-bug=confirm_not_idempotent]")   # found within a few dozen runs
    expect(page.locator("#bug-count")).to_have_text("1")       # the session runs with it now
    expect(page.get_by_role("button", name="Find a bug")).to_be_visible()
    page.evaluate(WATCH)
    page.get_by_role("button", name="Find a bug").click()

    status = page.locator("#hunt-status")
    expect(status).to_contain_text("Found after", timeout=60000)
    expect(status).to_contain_text("broken at")
    seen = page.evaluate("window.__huntSeen")
    # While it ran: the progress bar (named for assistive technology) and a count of runs.
    assert any(s["bar"] and s["text"].startswith(("Tried", "Waiting")) for s in seen), seen
    assert page.get_by_role("progressbar", name="Bug search progress", include_hidden=True).count() == 1
    expect(page.locator("#hunt-progress")).to_be_hidden()
    expect(page.locator("#hunt-message")).not_to_be_empty()
    assert_clean(page, "a bug search's finding")

    page.get_by_role("button", name="Open this run").click()
    page.wait_for_function(f"window.__pp.session && window.__pp.session !== {first!r}")
    assert page.evaluate("window.__pp.role") == "controller"
    banner = page.locator("#violation-banner")
    expect(banner).to_be_visible()
    invariant = page.evaluate("window.__pp.model.violations[0].invariant")
    assert invariant in ("effects_once", "conservation")


def test_the_search_speaks_chinese(open_page):
    page = open_page("/play/tcc")
    page.wait_for_function(READY)
    page.evaluate("localStorage.setItem('pp.lang', 'zh')")
    page.reload()
    page.wait_for_function(READY)
    page.click("#tab-scenario")
    expect(page.locator("#hunt-start")).to_have_text("查找缺陷")
    page.click("#hunt-start")
    expect(page.locator("#hunt-status")).to_contain_text("次运行中没有违反不变式", timeout=60000)
