"""The side-by-side page (/compare) in real Chromium: two play pages in embed mode, one
shared timeline, one role-based fault schedule. Under the same coordinator crash, 2PC's
participants stay blocked in doubt holding their locks while 3PC's have decided; a schedule
naming a role a protocol lacks says so over that protocol's frame, in the reader's language.
"""

import json
import urllib.parse
import urllib.request

from tests.e2e.test_a11y_browser import assert_clean, set_lang

CRASH = "/compare?protocols=2pc,3pc&faults=coordinator_crash&run=0"

# The participants' transaction state and locks, from the frame's own model (window.__pp).
PARTICIPANTS = """() => Object.fromEntries(Object.entries(window.__pp.model.nodes)
  .filter(([, v]) => v.role === 'participant')
  .map(([id, v]) => [id, {status: (v.status || {}).tx1, locked: Object.keys(v.locks || {}).length > 0}]))"""


# Both frames paused at the shared timeline's moment.
SAME_MOMENT = """() => {
  const pps = [...document.querySelectorAll('iframe')].map((f) => f.contentWindow.__pp);
  const shared = Number(document.getElementById('cmp-time').value);
  return pps.every((pp) => !pp.playing && pp.t === shared);
}"""


def frame(page, i):
    return page.locator(f'iframe[data-frame="{i}"]').element_handle().content_frame()


def frames_ready(page, n):
    for i in range(n):
        frame(page, i).wait_for_function("window.__pp && window.__pp.ready && window.__pp.role === 'controller'",
                                         timeout=30_000)


def shared_seek(page, t):
    """Release the shared timeline's slider at t, as a person does."""
    page.evaluate("""(t) => { const el = document.getElementById('cmp-time');
                     el.value = String(t); el.dispatchEvent(new Event('change')); }""", t)


def at(page, i, t):
    frame(page, i).wait_for_function("([t]) => window.__pp.t === t && window.__pp.model.t === t && !window.__pp.playing",
                                     arg=[t], timeout=20_000)


def test_one_coordinator_crash_leaves_2pc_blocked_and_3pc_decided(open_page):
    page = open_page(CRASH)
    frames_ready(page, 2)
    titles = page.locator(".compare-col-title").all_inner_texts()
    assert titles == ["Two-phase commit", "Three-phase commit"]
    # Each frame says what the schedule's crash became there: the coordinator, c.
    for i in range(2):
        lines = page.locator(f'[data-items="{i}"] li').all_inner_texts()
        assert any(line.startswith("crash the coordinator → c at ") for line in lines), lines

    shared_seek(page, 1600)
    at(page, 0, 1600)
    at(page, 1, 1600)
    two, three = frame(page, 0).evaluate(PARTICIPANTS), frame(page, 1).evaluate(PARTICIPANTS)
    assert len(two) == 3 and len(three) == 3
    assert all(p == {"status": "PREPARED", "locked": True} for p in two.values()), two      # blocked
    assert all(p == {"status": "ABORTED", "locked": False} for p in three.values()), three  # decided

    # The differences, told: who decided first, who stayed in doubt longest.
    summary = page.locator("#compare-summary").inner_text()
    assert summary.startswith("Three-phase commit decided first") and "Two-phase commit stayed in doubt longest" in summary

    # One timeline: play moves both runs on; pause stops both at the same moment.
    page.click("#cmp-play")
    for i in range(2):
        frame(page, i).wait_for_function("window.__pp.playing && window.__pp.t > 1700", timeout=20_000)
    page.click("#cmp-play")
    page.wait_for_function(SAME_MOMENT, timeout=20_000)
    shared = int(page.locator("#cmp-time").input_value())
    assert shared > 1700
    times = [frame(page, i).evaluate("window.__pp.t") for i in range(2)]
    assert times == [shared, shared]


def test_a_role_a_protocol_lacks_is_said_over_its_frame_in_both_languages(open_page, server):
    protocols = {p["name"]: p for p in json.load(urllib.request.urlopen(server + "/api/protocols"))}
    # The outbox pattern has no coordinator: the coordinator crash has nothing to hit there.
    assert "coordinator" not in protocols["outbox"]["compare"]["roles"]
    path, role, column = "/compare?protocols=2pc,outbox&faults=coordinator_crash&run=0", "coordinator", 1
    plan = json.load(urllib.request.urlopen(server + path.replace("/compare?", "/api/compare/plan?")))
    assert {"status": "no_role", "what": role} in [{k: o.get(k) for k in ("status", "what")}
                                                   for o in plan["plans"][column]["outcomes"]]

    page = open_page(path)
    frames_ready(page, 2)
    notice = page.locator(f'[data-items="{column}"] li[data-do="crash"][data-status="no_role"]')
    assert notice.inner_text() == f"no {role} role: this pattern has none, nothing crashed"
    assert_clean(page, "the side-by-side page [en]")
    set_lang(page, "zh")
    zh_role = {"coordinator": "协调者", "leader": "领导者"}[role]
    assert notice.inner_text() == f"没有{zh_role}角色：这种模式没有它，没有节点崩溃"
    assert page.locator("#compare-story-title").inner_text() == "有什么不同"
    assert_clean(page, "the side-by-side page [zh]")
    # The frames follow the page's language: their narration is the protocol's Chinese.
    frame(page, column).wait_for_function("document.documentElement.lang === 'zh-CN'", timeout=5_000)


def test_tcc_cancels_what_it_froze_while_the_saga_compensates(open_page):
    """The same business failure (the second service refuses): TCC releases what its Try froze,
    a saga undoes steps that had already committed, with nothing frozen meanwhile."""
    page = open_page("/compare?protocols=tcc,saga&faults=business_failure&run=0")
    frames_ready(page, 2)
    summary = page.locator("#compare-summary").inner_text()
    assert "TCC (Try-Confirm-Cancel) undid its work by releasing what it had frozen (held " in summary, summary
    assert "Saga (orchestrated) undid finished steps with compensations: nothing was frozen" in summary, summary
    costs = page.locator("#compare-costs li").all_inner_texts()
    assert "compensations: 1" in costs[0] and "compensations: 1" in costs[1], costs
    assert "locks or frozen funds held" in costs[0] and "locks or frozen funds held" not in costs[1], costs
    assert_clean(page, "the side-by-side page, TCC and saga")


def test_on_a_phone_the_page_fits_the_screen_and_the_frames_stack(open_page):
    page = open_page(CRASH, width=390, height=844)
    frames_ready(page, 2)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    boxes = [page.locator(f'iframe[data-frame="{i}"]').bounding_box() for i in range(2)]
    assert boxes[1]["y"] >= boxes[0]["y"] + boxes[0]["height"]        # one above the other
    assert all(b["x"] >= 0 and b["x"] + b["width"] <= 390 for b in boxes)
