"""Zab in real Chromium: the leader crashes during broadcast and the next epoch goes
through discovery and synchronization before a new leader broadcasts; the phases are
shown in the views and the epoch change is told in English and in Chinese."""

from playwright.sync_api import expect

from engine.scenario import encode_token
from tests.e2e.test_browser import model, node_action, ready, set_speed

# Three servers, a fixed 20 ms latency: n3 leads epoch 1 (BROADCAST at 200 ms); x=1 is
# written at 300 ms and committed at 340 ms. The crash is done here by hand.
SCENARIO = {
    "protocol": "zab", "seed": 1, "until": 1500,
    "network": {"latency": [20, 20], "loss": 0.0, "duplicate": 0.0},
    "actions": [{"at": 300, "do": "request", "node": "n3", "op": "write", "arg": "x=1"}],
}


def step_until(page, condition, steps=400):
    for _ in range(steps):
        if model(page, condition):
            return
        page.click("#step")
        page.wait_for_timeout(10)
    raise AssertionError(f"{condition} not reached after {steps} steps")


def test_leader_crash_in_broadcast_leads_to_a_new_epoch(open_page):
    page = ready(open_page(f"/play/zab?s={encode_token(SCENARIO)}"))
    assert model(page, "Object.keys(m.nodes).sort()") == ["n1", "n2", "n3"]

    # Step until x=1 is committed on the leader, in epoch 1's broadcast.
    step_until(page, "m.nodes.n3.lastCommitted === 1")
    assert model(page, "m.nodes.n3.phase") == "BROADCAST"
    assert model(page, "m.nodes.n3.role") == "leading"
    assert model(page, "m.nodes.n3.label[0]") == "zab.label"
    assert model(page, "m.nodes.n3.history") == ["1:x=1"]

    node_action(page, "n3", "crash")
    page.wait_for_function("window.__pp.model.nodes.n3.up === false")

    set_speed(page, 1)
    page.click("#play")
    page.wait_for_function("window.__pp.done", timeout=30000)

    # n2 (equal zxids: the higher id) leads epoch 2, in BROADCAST, with x=1 kept.
    assert model(page, "m.nodes.n2.role") == "leading"
    assert model(page, "[m.nodes.n2.phase, m.nodes.n1.phase]") == ["BROADCAST", "BROADCAST"]
    assert model(page, "[m.nodes.n2.currentEpoch, m.nodes.n1.currentEpoch]") == [2, 2]
    assert model(page, "m.nodes.n1.history") == ["1:x=1"]
    # The new leader went through each phase: its views said so on the way.
    phases = model(page, "m.events.filter(e => e.type === 'state' && e.node === 'n2' && e.changes.phase)"
                         ".map(e => e.changes.phase)")
    tail = phases[phases.index("ELECTION", 1):] if "ELECTION" in phases[1:] else phases
    assert ["DISCOVERY", "SYNCHRONIZATION", "BROADCAST"] == [p for p in tail if p != "ELECTION"][-3:]
    assert model(page, "m.violations.length") == 0

    log = page.locator("#log")
    expect(log).to_contain_text("epoch 2 is established")
    page.select_option("#lang", "zh")
    expect(log).to_contain_text("纪元 2 确立")
    page.select_option("#lang", "en")

