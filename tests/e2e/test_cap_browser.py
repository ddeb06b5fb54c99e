"""CAP in real Chromium: cut c2's replica off with the partition tool, write from c2, and
see CP refuse on the minority side and AP accept; the refusal is told in Chinese too."""

import re

from playwright.sync_api import expect

from tests.e2e.test_browser import click_node_at, model, node_action, ready, set_speed

REPLIED = ("window.__pp.model.events.some(e => e.type === 'reply' && e.node === 'c2' "
           "&& e.result.outcome === {!r})")


def cut_off_c2_and_r3(page):
    """The partition toolbar: pick r3 and c2 as one group; the rest form the other."""
    page.click("#partition-btn")
    for n in ("r3", "c2"):
        click_node_at(page, n)
    page.click("#partition-apply")
    page.wait_for_function("window.__pp.model.partition !== null")
    assert sorted(map(sorted, model(page, "m.partition"))) == [["c1", "r1", "r2"], ["c2", "r3"]]


def write_from_c2_and_wait(page, outcome):
    node_action(page, "c2", "request:write")          # the menu suggests x1
    set_speed(page, 1)                                  # 10x
    page.click("#play")
    page.wait_for_function(REPLIED.format(outcome), timeout=30000)
    page.click("#play")                                 # pause


def test_cp_refuses_on_the_minority_side_and_ap_accepts(open_page):
    page = ready(open_page("/play/cap"))
    assert model(page, "Object.keys(m.nodes).sort()") == ["c1", "c2", "r1", "r2", "r3"]
    assert model(page, "m.nodes.r3.label[0]") == "cap.label.cp"      # CP is the default mode

    cut_off_c2_and_r3(page)
    write_from_c2_and_wait(page, "refused")
    expect(page.locator("#log")).to_contain_text("c2: r3 refused the write (no majority): nothing was written")
    expect(page.locator("#log")).to_contain_text("it refuses c2's request rather than risk an inconsistent answer")
    assert model(page, "m.nodes.c2.results") == {"ok": 0, "refused": 1, "unknown": 0}
    assert model(page, "m.nodes.r3.value") is None
    assert model(page, "m.violations.length") == 0
    page.select_option("#lang", "zh")
    expect(page.locator("#log")).to_contain_text("c2：r3 拒绝了写入（没有多数派）：什么也没写")
    expect(page.locator("#log")).to_contain_text("CP：一致性优先于可用性")
    page.select_option("#lang", "en")

    # The same in AP mode: the run starts over with the new mode.
    page.click("#tab-scenario")
    before = page.evaluate("window.__pp.token")
    page.select_option('#params [data-param="p.mode"]', "ap")
    page.wait_for_function(f"window.__pp.token !== {before!r}")
    page.wait_for_function("window.__pp.model.nodes.r3 && window.__pp.model.nodes.r3.label[0] === 'cap.label.ap'")
    assert model(page, "m.partition") is None and model(page, "m.t") == 0
    cut_off_c2_and_r3(page)
    write_from_c2_and_wait(page, "ok")
    expect(page.locator("#log")).to_contain_text(re.compile(r"r3 takes c2's write of x1 at once as 1·r3"))
    assert model(page, "m.nodes.r3.value") == "x1"
    assert model(page, "m.nodes.r1.value") is None       # the other side has not heard of it
    assert model(page, "m.violations.length") == 0
