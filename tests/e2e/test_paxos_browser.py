"""Paxos in real Chromium: a value accepted by a minority, its proposer crashed by hand, and
the next proposer adopting it; the adoption is told in English and in Chinese."""

from playwright.sync_api import expect

from engine.scenario import encode_token
from tests.e2e.test_browser import model, node_action, ready, set_speed

# The minority_accepted preset's script without its crash (done here by hand): p1 proposes
# v1; the partition at 51 lets its 2a reach a1 only; p2 is asked for v2 at 150.
SCENARIO = {
    "protocol": "paxos", "seed": 1, "until": 600,
    "network": {"latency": [20, 20], "loss": 0.0, "duplicate": 0.0},
    "actions": [
        {"at": 10, "do": "request", "node": "p1", "op": "propose", "arg": "v1"},
        {"at": 51, "do": "partition", "groups": [["p1", "a1"], ["p2", "a2", "a3"]]},
        {"at": 110, "do": "heal"},
        {"at": 150, "do": "request", "node": "p2", "op": "propose", "arg": "v2"},
    ],
}


def step_until(page, condition, steps=200):
    """Step the run one event at a time until `condition` (JS on the model m) holds."""
    for _ in range(steps):
        if model(page, condition):
            return
        page.click("#step")
        page.wait_for_timeout(20)
    raise AssertionError(f"{condition} not reached after {steps} steps")


def test_next_proposer_adopts_a_value_a_minority_accepted(open_page):
    page = ready(open_page(f"/play/paxos?s={encode_token(SCENARIO)}"))
    assert model(page, "Object.keys(m.nodes).sort()") == ["a1", "a2", "a3", "p1", "p2"]
    assert model(page, "m.nodes.a1.label[0]") == "paxos.label.acceptor.none"

    # Step until a1 has voted for v1: one acceptor of three, a minority.
    step_until(page, "(m.nodes.a1.accepted || []).length === 1")
    assert model(page, "m.nodes.a1.accepted") == ["1.p1:v1"]
    assert model(page, "m.nodes.a2.accepted") == [] and model(page, "m.nodes.a3.accepted") == []

    # Crash the proposer now: nobody knows whether v1 was chosen.
    node_action(page, "p1", "crash")
    page.wait_for_function("window.__pp.model.nodes.p1.up === false")

    set_speed(page, 1)                                   # 10x to the end of the run
    page.click("#play")
    page.wait_for_function("window.__pp.done", timeout=30000)

    # p2's 2a carries the earlier value, not its own, and v1 is what is chosen.
    vals = model(page, "m.events.filter(e => e.type === 'send' && e.kind === '2a' && e.src === 'p2')"
                       ".map(e => e.body.val)")
    assert vals and set(vals) == {"v1"}
    assert model(page, "m.nodes.p2.chosen") == "v1"
    assert model(page, "m.nodes.p2.label[0]") == "paxos.label.proposer.chosen"
    assert model(page, "['a1', 'a2', 'a3'].map(a => m.nodes[a].accepted[0])") == ["1.p2:v1"] * 3
    assert model(page, "m.violations.length") == 0

    log = page.locator("#log")
    expect(log).to_contain_text("promises ballot 1.p2 to p2 and reports its last vote: v1 at ballot 1.p1")
    expect(log).to_contain_text("so phase 2 must propose v1, not its own v2")
    expect(log).to_contain_text("learns that v1 is chosen")
    page.select_option("#lang", "zh")
    expect(log).to_contain_text("所以阶段 2 必须提议 v1，而不是自己的 v2")
    expect(log).to_contain_text("得知 v1 已被选定")
    page.select_option("#lang", "en")
