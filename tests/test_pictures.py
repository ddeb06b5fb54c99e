"""State pictures (engine/protocol.py Picture, static/js/pictures.js): what a protocol
declares for the canvas to draw must exist in its nodes' views in real runs, and a
tally's quorum, as the page computes it from the declaration, must be the quorum
the protocol itself waits for."""

import pytest

from engine import registry
from engine.scenario import from_dict
from engine.sim import Simulation

KINDS = {"tally", "values", "locks", "timers"}
DECLARING = [p for p in registry.all(True) if p.pictures]


def shown(pic: dict, view: dict) -> bool:
    """static/js/pictures.js shown()."""
    return all(view.get(k) in vs for k, vs in pic.get("when", {}).items())


def quorum_of(pic: dict, views: dict[str, dict]) -> int:
    """static/js/pictures.js quorumOf(): the page's quorum for a tally."""
    if isinstance(pic["quorum"], int):
        return pic["quorum"]
    among = pic["among"]
    n = sum(1 for v in views.values() if v.get("role") in among) if among else len(views)
    return {"all": n, "f+1": (n - 1) // 2 + 1}.get(pic["quorum"], n // 2 + 1)


def count_of(v) -> int:
    """static/js/pictures.js tallyCount()."""
    return len(v) if isinstance(v, (list, dict)) else v if isinstance(v, int) else 0


def runs(proto, step=50):
    """Every preset of the protocol, yielding (preset, sim) every `step` virtual ms."""
    for pre in proto.presets:
        sim = Simulation(from_dict({"protocol": proto.name, "preset": pre.name, **pre.scenario}))
        t = 0
        while not sim.done and t <= sim.until:
            sim.run_until(t)
            yield pre.name, sim
            t += step


def test_some_protocols_declare_each_kind():
    kinds = {pic.kind for p in DECLARING for pic in p.pictures}
    assert kinds == KINDS
    # Every log protocol has its strip, and the consensus ones their election tallies.
    for name in ("raft", "multipaxos", "paxos", "vr", "zab", "2pc", "3pc", "tcc", "saga", "outbox", "mq_tx"):
        assert registry.get(name).pictures, name


@pytest.mark.parametrize("proto", DECLARING, ids=lambda p: p.name)
def test_declarations_are_well_formed(proto):
    fields = {f.name for f in proto.fields}
    for pic in proto.describe()["pictures"]:
        assert pic["kind"] in KINDS
        if pic["kind"] == "timers":
            assert pic["names"], "a timers picture names its timers"
            continue
        assert pic["field"] in fields, f"{pic['field']} is no inspector field: the inspector must show it too"
        assert proto.text(f"field.{pic['field']}") and proto.text(f"field.{pic['field']}", "zh")
        if pic["kind"] == "tally":
            assert pic["quorum"] in ("majority", "all", "f+1") or isinstance(pic["quorum"], int)
        if pic["kind"] == "values":
            assert pic["keys"] and all(proto.text(f"value.{k}") and proto.text(f"value.{k}", "zh") for k in pic["keys"])


@pytest.mark.parametrize("proto", DECLARING, ids=lambda p: p.name)
def test_declared_fields_and_timers_appear_in_real_runs(proto):
    pics = proto.describe()["pictures"]
    seen: dict[int, int] = {i: 0 for i in range(len(pics))}
    for _preset, sim in runs(proto):
        views = {n: sim.node_view(n) for n in sim.ids}
        spans = sim.armed_spans()
        for i, pic in enumerate(pics):
            if pic["kind"] == "timers":
                for n, armed in spans.items():
                    for name in pic["names"]:
                        if name in armed:
                            set_at, due = armed[name]
                            assert set_at <= sim.now <= due, (n, name, armed[name], sim.now)
                            seen[i] += 1
                continue
            for n, v in views.items():
                if not v.get("up", True) or not shown(pic, v) or pic["field"] not in v:
                    continue
                val = v[pic["field"]]
                if pic["kind"] == "tally":
                    inner = val
                    if pic["per"]:
                        assert isinstance(val, dict)
                        if not val:
                            continue
                        inner = val[list(val)[-1]]
                    assert isinstance(inner, (list, dict, int)), (n, val)
                else:
                    assert isinstance(val, dict), (n, val)
                    if pic["kind"] == "values":
                        assert set(val) <= set(pic["keys"]), (val, pic["keys"])   # declared, so translated
                        assert all(isinstance(x, (int, float)) for x in val.values()), val
                seen[i] += 1
    missing = [pics[i] for i, c in seen.items() if not c]
    assert not missing, f"{proto.name}: declared pictures never seen in any preset: {missing}"


def own_quorum(proto, sim, node_id) -> int | None:
    """The quorum the protocol's node itself waits for (its own attribute), or None."""
    node = sim.nodes[node_id]
    if proto.name in ("raft", "multipaxos"):
        return node.majority
    if proto.name == "paxos":
        return node.quorum
    if proto.name == "zab":
        return node.q
    if proto.name == "vr":
        return node.f + 1
    if proto.name in ("2pc", "3pc"):
        return len([n for n in sim.ids if sim.node_view(n).get("role") == "participant"])
    return None


@pytest.mark.parametrize("name", ["raft", "multipaxos", "paxos", "zab", "vr", "2pc", "3pc"])
def test_tally_quorums_are_the_protocols_own(name):
    proto = registry.get(name)
    (pic,) = [p for p in proto.describe()["pictures"] if p["kind"] == "tally"]
    checked = 0
    for preset, sim in runs(proto, step=20):
        if any(b for b in sim.bugs):
            continue   # a bug toggle may change the quorum on purpose (paxos small_quorum)
        views = {n: sim.node_view(n) for n in sim.ids}
        for n, v in views.items():
            if sim.nodes[n] is None or not shown(pic, v) or pic["field"] not in v:
                continue
            assert quorum_of(pic, views) == own_quorum(proto, sim, n), (preset, n)
            checked += 1
    assert checked, f"{name}: no node ever showed its tally"


def test_raft_tally_reaches_quorum_exactly_when_a_candidate_wins():
    """The picture tells the story: the vote that completes the tally makes the leader, so the
    last tally a winning candidate showed is one short of the quorum the page draws."""
    proto = registry.get("raft")
    (pic,) = [p for p in proto.describe()["pictures"] if p["kind"] == "tally"]
    sim = Simulation(from_dict({"protocol": "raft", "preset": "first_election"}), trace=True)
    sim.run()
    views: dict[str, dict] = {}
    wins = 0
    for ev in sim.trace:
        if ev["type"] != "state":
            continue
        before = dict(views.get(ev["node"], {}))
        views[ev["node"]] = {**before, **ev["changes"]}
        if before.get("role") == "candidate" and ev["changes"].get("role") == "leader":
            all_views = {n: views.get(n, {}) for n in sim.ids}
            assert count_of(before["votes"]) == quorum_of(pic, all_views) - 1, before
            wins += 1
    assert wins


def test_armed_spans_say_when_each_timer_was_set_and_is_due():
    sim = Simulation(from_dict({"protocol": "raft", "preset": "first_election"}))
    sim.run_until(40)
    spans = sim.armed_spans()
    assert set(spans) == set(sim.ids)
    for n, armed in spans.items():
        assert sorted(armed) == sorted(sim.timers[n])
        set_at, due = armed["election"]
        assert 0 <= set_at <= 40 < due
        node = sim.nodes[n]   # the delay the node drew: its base plus less than its spread
        assert node.timeout_base <= due - set_at < node.timeout_base + max(1, node.timeout_width)
