"""State pictures on the canvas (static/js/pictures.js), checked against what the
inspector says: log strips, tallies, timer rings, business values and locks, each
read back from what the last frame drew (window.__pp.pictures)."""

import pytest
from playwright.sync_api import expect

from tests.e2e.test_browser import click_node_at, model, ready, set_speed


def pictures(page, node):
    return page.evaluate(f"window.__pp.pictures({node!r})")


def inspect(page, node, field):
    """Select a node (a click; the menu closed again) and read one field from the inspector."""
    click_node_at(page, node)
    page.keyboard.press("Escape")
    expect(page.locator("#inspector .insp-id")).to_have_text(node)
    row = page.locator(f'#inspector [data-field="{field}"] .fval')
    return row.inner_text() if row.count() else None


def entries(text):
    """The inspector's "[a, b, c]" as a list."""
    inner = text.strip()[1:-1]
    return [e.strip() for e in inner.split(", ")] if inner else []


def full_entry(cell):
    """A strip cell's entry as the view holds it (a ballot "2.n3" is drawn as its round "2")."""
    text = cell["text"]
    return f"{cell['group']}{text[text.index(':'):]}" if ":" in text else text


def play_to_end(page):
    set_speed(page, 1)
    page.click("#play")
    page.wait_for_function("window.__pp.done", timeout=30000)
    page.wait_for_timeout(200)                       # one more frame drawn


LOG_LESSONS = [("raft", "figure8", "log", "commitIndex"), ("multipaxos", "failover_gaps", "log", "commitIndex"),
               ("vr", "lagging_primary", "log", "commitNumber"),
               ("zab", "old_leader_truncated", "history", "lastCommitted"), ("paxos", "happy_path", "accepted", None)]


@pytest.mark.parametrize(("protocol", "preset", "field", "commit"), LOG_LESSONS, ids=[p for p, *_ in LOG_LESSONS])
def test_the_log_strip_shows_the_same_entries_as_the_inspector(open_page, protocol, preset, field, commit):
    page = ready(open_page(f"/play/{protocol}?preset={preset}", width=1280, height=800))
    play_to_end(page)
    shown = 0
    for node in model(page, "m.ids"):
        pics = pictures(page, node)
        listed = inspect(page, node, field)
        if listed is None or not entries(listed):
            assert pics["strip"] is None or not [c for c in pics["strip"]["cells"] if not c["empty"]], node
            continue
        want = entries(listed)
        cells = pics["strip"]["cells"]
        got = [full_entry(c) if not c["empty"] else "null" for c in cells]
        # The newest entries that fit, in order; "…" (more) says older ones are left out.
        assert got == want[len(want) - len(got):], (node, got, want)
        assert pics["strip"]["more"] == (len(got) < len(want) or model(page, f"m.nodes[{node!r}].logStart || 1") > 1)
        if commit:
            c = int(inspect(page, node, commit))
            start = model(page, f"m.nodes[{node!r}].logStart || 1")
            first = start + len(want) - len(got)
            assert [x["committed"] for x in cells] == [first + i <= c for i in range(len(cells))], node
        shown += 1
    assert shown >= 2


def test_a_raft_candidate_shows_its_votes_against_the_quorum(open_page):
    page = ready(open_page("/play/raft?preset=first_election", width=1280, height=800))
    find = "Object.entries(m.nodes).find(([id, v]) => v.role === 'candidate' && v.votes && v.votes.length)"
    cand = None
    for _ in range(80):
        cand = model(page, f"({find} || [null])[0]")
        if cand:
            break
        page.click("#step")
        page.wait_for_timeout(30)
    assert cand, "no candidate with a vote"
    votes = model(page, f"m.nodes[{cand!r}].votes.length")
    page.wait_for_function(f"(window.__pp.pictures({cand!r}) || {{row: []}}).row.some(c => c.kind === 'tally')")
    (tally,) = [c for c in pictures(page, cand)["row"] if c["kind"] == "tally"]
    assert (tally["count"], tally["quorum"]) == (votes, 3)     # five servers: three votes win
    assert f"{votes}/3" in tally["text"]
    listed = inspect(page, cand, "votes")
    assert len(entries(listed)) == votes
    page.select_option("#lang", "zh")                # the chip speaks the reader's language
    page.wait_for_function(f"window.__pp.pictures({cand!r}).row.some(c => c.text.includes('已获选票'))")
    page.select_option("#lang", "en")
    # A follower shows no tally.
    other = model(page, "Object.entries(m.nodes).find(([id, v]) => v.role === 'follower')[0]")
    assert not [c for c in pictures(page, other)["row"] if c["kind"] == "tally"]


def test_an_armed_election_timer_ring_closes_as_time_passes(open_page):
    page = ready(open_page("/play/raft?preset=replication", width=1280, height=800))
    set_speed(page, -1)                              # 0.1x: a 150 ms timer takes 1.5 s
    page.click("#play")
    page.wait_for_function("window.__pp.t > 450")
    grew = 0
    for _ in range(20):
        before = {n: pictures(page, n)["rings"] for n in model(page, "m.ids")}
        page.wait_for_timeout(120)
        after = {n: pictures(page, n)["rings"] for n in model(page, "m.ids")}
        for n, rings in before.items():
            for r in rings:
                same = [a for a in after[n] if a["name"] == r["name"] and a["set"] == r["set"]]
                if same and r["frac"] < 1:
                    assert same[0]["frac"] > r["frac"], (n, r, same[0])   # the same timer, more of it gone
                    assert 0 <= r["frac"] <= 1 and r["due"] > r["set"]
                    grew += 1
        if grew >= 3:
            break
    assert grew >= 3
    assert all(r["name"] == "election" for n in model(page, "m.ids") for r in pictures(page, n)["rings"])


def test_tcc_books_on_the_canvas_match_the_inspector(open_page):
    page = ready(open_page("/play/tcc?preset=happy", width=1280, height=800))
    play_to_end(page)
    services = model(page, "m.ids.filter(id => m.nodes[id].role === 'service')")
    assert services
    for node in services:
        chips = [c for c in pictures(page, node)["row"] if c["kind"] == "values"]
        drawn = "{" + ", ".join(f"{c['key']}: {c['value']}" for c in chips) + "}"
        assert drawn == inspect(page, node, "books"), node
    pay = {c["key"]: c for c in pictures(page, "pay")["row"]}
    assert (pay["spent"]["value"], pay["frozen"]["value"]) == (30, 0)
    # Each chip underlines its share of the whole: 70 of 100 left, 30 spent, nothing frozen.
    assert (pay["balance"]["share"], pay["spent"]["share"], pay["frozen"]["share"]) == (0.7, 0.3, 0)


def test_2pc_locks_and_votes_on_the_canvas_match_the_inspector(open_page):
    page = ready(open_page("/play/2pc?preset=coordinator_crash", width=1280, height=800))
    set_speed(page, 0)                               # 1x: the coordinator is down from 300 to 2165 ms
    page.click("#play")
    # The coordinator crashed after the votes: its participants hold their locks, blocked.
    page.wait_for_function("window.__pp.t > 700")
    page.click("#play")                              # pause
    page.wait_for_timeout(200)
    held = 0
    for node in model(page, "m.ids.filter(id => m.nodes[id].role === 'participant')"):
        chips = [c for c in pictures(page, node)["row"] if c["kind"] == "locks"]
        listed = inspect(page, node, "locks")
        drawn = "{" + ", ".join(f"{c['key']}: {c['value']}" for c in chips) + "}"
        assert drawn == listed, node
        held += len(chips)
    assert held, "no participant holds a lock while the coordinator is down"
    # The crashed coordinator's vote tally was in memory only: not drawn while it is down.
    assert model(page, "m.nodes.c.up") is False
    assert not [c for c in pictures(page, "c")["row"] if c["kind"] == "tally"]


def test_2pc_coordinator_tally_counts_every_participant(open_page):
    page = ready(open_page("/play/2pc?preset=commit", width=1280, height=800))
    for _ in range(80):
        n = model(page, "Object.keys(Object.values(m.nodes.c.votes || {}).pop() || {}).length")
        if n >= 1:
            break
        page.click("#step")
        page.wait_for_timeout(30)
    page.wait_for_function("(window.__pp.pictures('c') || {row: []}).row.some(c => c.kind === 'tally')")
    (tally,) = [c for c in pictures(page, "c")["row"] if c["kind"] == "tally"]
    assert tally["quorum"] == 3 and tally["count"] == n and tally["key"] == "tx1"


def hits(b, c, pad=0):
    return b["x"] < c["x"] + c["w"] + pad and c["x"] < b["x"] + b["w"] + pad \
        and b["y"] < c["y"] + c["h"] + pad and c["y"] < b["y"] + b["h"] + pad


def disc_hits(d, b):
    nx = min(max(d["x"], b["x"]), b["x"] + b["w"])
    ny = min(max(d["y"], b["y"]), b["y"] + b["h"])
    return (nx - d["x"]) ** 2 + (ny - d["y"]) ** 2 < d["r"] ** 2


@pytest.mark.parametrize(("protocol", "nodes", "preset"), [("raft", 9, None), ("raft", 5, "figure8"),
                                                          ("2pc", 8, "coordinator_crash"),
                                                          ("tcc", None, "six_branches"), ("zab", None, "minority_acked"), ("multipaxos", None, "failover_gaps"),
                                                          ("paxos", 6, "dueling_random")])
def test_pictures_keep_off_other_nodes_at_1280x800(open_page, protocol, nodes, preset):
    """Every node's labels, log strip and picture row stay on the canvas, off every other node's
    disc and boxes, with 5 to 9 nodes on a 1280x800 laptop."""
    from engine.scenario import from_dict
    data = {"protocol": protocol, "nodes": nodes}
    if preset:
        from engine import registry
        scenario = next(p for p in registry.get(protocol).presets if p.name == preset).scenario
        data = {**data, **scenario, "nodes": nodes or scenario["nodes"]}
    page = ready(open_page(f"/play/{protocol}?s={from_dict(data).to_token()}", width=1280, height=800))
    set_speed(page, 0.5)
    page.click("#play")
    page.wait_for_function("window.__pp.t > 300", timeout=30000)
    drawn = 0
    for _ in range(6):
        ids = model(page, "m.ids")
        pics = {n: pictures(page, n) for n in ids}
        drawn += sum(1 for p in pics.values() if p["row"] or p["strip"])
        for n, p in pics.items():
            cw, ch = p["canvas"]["w"], p["canvas"]["h"]
            for b in p["boxes"]:
                assert b["x"] >= 0 and b["y"] >= 0 and b["x"] + b["w"] <= cw and b["y"] + b["h"] <= ch, (n, b)
                for o, q in pics.items():
                    if o == n:
                        continue
                    assert not disc_hits(q["disc"], b), (n, b, o)
                    assert not any(hits(b, c) for c in q["boxes"]), (n, b, o)
        page.wait_for_timeout(150)
    assert drawn, "no strip or picture row was drawn: nothing was checked"


def test_with_reduced_motion_a_ring_steps_in_eighths(open_page):
    page = open_page("/play/raft?preset=replication", width=1280, height=800)
    page.emulate_media(reduced_motion="reduce")
    ready(page)
    set_speed(page, -1)
    page.click("#play")
    page.wait_for_function("window.__pp.t > 450")
    page.wait_for_function("window.__pp.model.ids.some(n => window.__pp.pictures(n).rings.some(r => r.drawn > 0))")
    rings = [r for n in model(page, "m.ids") for r in pictures(page, n)["rings"]]
    assert rings and all(abs(r["drawn"] * 8 - round(r["drawn"] * 8)) < 1e-9 and r["drawn"] <= r["frac"] for r in rings)
