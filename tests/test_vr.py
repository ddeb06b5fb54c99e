"""Viewstamped Replication Revisited: every preset's lesson, the paper's message fields,
random fault schedules, the bug toggle, and the limits of running without a disk."""

from __future__ import annotations

from engine import fuzz
from engine.protocols import vr
from engine.scenario import from_dict
from engine.sim import Simulation

from .traces import notes, sends, views

PROTO = vr.PROTOCOL
REPLICAS = ("r1", "r2", "r3")


def run(preset=None, **data):
    d = {"protocol": "vr", **data}
    if preset:
        d["preset"] = preset
    return Simulation(from_dict(d), trace=True).run()


def invariants(sim):
    return {v["invariant"] for v in sim.violations}


def replies(sim, node):
    return [e["result"] for e in sim.trace if e["type"] == "reply" and e["node"] == node]


def logs(sim):
    v = views(sim)
    return {r: v[r]["log"] for r in REPLICAS}


# ---------------------------------------------------------------- the paper's messages

PAPER_FIELDS = {
    "Request": {"op", "c", "s"},
    "Prepare": {"v", "m", "n", "k"},
    "PrepareOk": {"v", "n", "i"},
    "Reply": {"v", "s", "x"},
    "Commit": {"v", "k"},
    "StartViewChange": {"v", "i"},
    "DoViewChange": {"v", "l", "v'", "n", "k", "i"},
    "StartView": {"v", "l", "n", "k"},
    "Recovery": {"i", "x"},
    "RecoveryResponse": {"v", "x", "l", "n", "k", "j"},
    "GetState": {"v", "n'", "i"},
    "NewState": {"v", "l", "n", "k"},
}


def test_messages_carry_the_papers_fields():
    seen = {}
    for p in PROTO.presets:
        for e in run(p.name).trace:
            if e["type"] == "send":
                seen.setdefault(e["kind"], set()).add(frozenset(e["body"]))
    assert set(seen) == set(PAPER_FIELDS)          # every message of section 4 is shown by a preset
    for kind, bodies in seen.items():
        assert bodies == {frozenset(PAPER_FIELDS[kind])}, kind


def test_validate_refuses_an_even_number_of_replicas():
    assert PROTO.validate(3, {}) is None and PROTO.validate(9, {}) is None
    assert "odd" in PROTO.validate(4, {})
    assert PROTO.node_ids(3) == ["r1", "r2", "r3", "c1", "c2"]


# ---------------------------------------------------------------- presets

def test_normal_operation_prepare_commit_reply_and_state_transfer():
    sim = run("normal")
    assert sim.violations == []
    v = views(sim)
    for r in REPLICAS:
        assert v[r]["kv"] == {"x": "3", "y": "4"} and v[r]["commitNumber"] == 4, r
        assert v[r]["log"] == ["0:x=1", "0:y=2", "0:x=3", "0:y=4"]
    assert v["r1"]["role"] == "primary"
    assert [r["index"] for r in replies(sim, "c1")] == [1, 3]
    assert [r["index"] for r in replies(sim, "c2")] == [2, 4]
    # With f = 1, the first PrepareOk commits: the primary commits before r3's ack arrives.
    assert [e["args"]["k"] for e in notes(sim, "vr.commit")] == [1, 2, 3, 4]
    # The Prepare of op 3 to r3 was dropped: r3 learns of the gap and fetches the op.
    assert [e["args"]["n"] for e in notes(sim, "vr.gap", "r3")] == [2]
    [ns] = sends(sim, "NewState", "r1", "r3")
    assert ns["body"]["l"] == [[0, "x=3", "c1", 2]] and ns["body"]["n"] == 3
    assert sends(sim, "Commit", "r1")      # the idle primary's heartbeat


def test_primary_crash_the_next_replica_takes_over():
    sim = run("primary_crash")
    assert sim.violations == []
    started = [(e["node"], e["args"]["view"]) for e in notes(sim, "vr.start_view")]
    assert started == [("r2", 1)]                          # round robin: config[1 mod 3]
    v = views(sim)
    assert v["r2"]["role"] == "primary" and v["r3"]["role"] == "backup" and v["r3"]["view"] == 1
    assert v["r2"]["kv"] == {"x": "2", "y": "3"}          # x=1 survived, then x=2
    assert v["r2"]["log"][0] == "0:x=1"
    # Both clients retried to every replica and learned view 1 from the Reply.
    assert {e["node"] for e in notes(sim, "vr.client_retry")} == {"c1", "c2"}
    assert v["c1"]["view"] == 1 and v["c2"]["view"] == 1


def test_lagging_primary_gets_the_log_through_doviewchange():
    sim = run("lagging_primary")
    assert sim.violations == []
    dvc = {e["node"]: e["args"]["n"] for e in notes(sim, "vr.do_view_change")}
    assert dvc == {"r2": 0, "r3": 3}                       # the new primary had nothing
    [start] = notes(sim, "vr.start_view")
    assert start["node"] == "r2" and start["args"]["who"] == "r3" and start["args"]["n"] == 3
    v = views(sim)
    assert v["r2"]["log"] == ["0:x=1", "0:y=2", "0:x=3", "1:y=4"]
    assert replies(sim, "c2")[-1]["index"] == 4


def test_recovery_with_a_nonce_from_f_plus_one_including_the_primary():
    sim = run("recovery")
    assert sim.violations == []
    [rec] = notes(sim, "vr.recovering", "r3")
    nonce = rec["args"]["nonce"]
    assert {e["body"]["x"] for e in sends(sim, "Recovery", "r3")} == {nonce}
    answers = {e["src"]: e["body"] for e in sends(sim, "RecoveryResponse", dst="r3")}
    assert answers["r1"]["l"] is not None and answers["r1"]["x"] == nonce    # the primary sends its log
    assert answers["r2"]["l"] is None                                       # a backup does not
    [done] = notes(sim, "vr.recovered", "r3")
    assert done["args"] == {"view": 0, "primary": "r1", "n": 2, "k": 2}
    v = views(sim)
    assert v["r3"]["kv"] == v["r1"]["kv"] == {"x": "3", "y": "2"}
    assert all(sim.disk[r] == {} for r in REPLICAS)        # VRR writes nothing to disk


def test_power_loss_loses_committed_ops_without_a_disk():
    sim = run("power_loss")
    assert invariants(sim) == {"committed_kept"}
    [viol] = sim.violations
    crashes = [e["t"] for e in sim.trace if e["type"] == "crash"]
    assert viol["t"] == max(crashes) == 500 and viol["args"]["index"] == 2
    # They were committed and acknowledged before the power failed.
    assert [r["index"] for r in replies(sim, "c1") + replies(sim, "c2")] == [1, 2]
    # Nobody is normal, so nobody answers a Recovery: they stay recovering.
    v = views(sim)
    assert all(v[r]["status"] == "recovering" and v[r]["log"] == [] for r in REPLICAS)
    assert [e for e in sends(sim, "RecoveryResponse") if e["t"] > 500] == []
    assert all(sim.disk[r] == {} for r in REPLICAS)


def test_power_loss_with_the_log_on_disk_loses_nothing():
    sim = run("power_loss_with_disk")
    assert sim.violations == []
    assert [e["node"] for e in notes(sim, "vr.resumed")] == list(REPLICAS)
    v = views(sim)
    assert v["r1"]["role"] == "primary" and v["r1"]["log"] == ["0:x=1", "0:y=2", "0:x=3"]
    assert replies(sim, "c1")[-1]["index"] == 3
    for r in REPLICAS:
        assert sim.disk[r]["log"][:2] == [[0, "x=1", "c1", 1], [0, "y=2", "c2", 1]]
        assert sim.disk[r]["k"] == 3


def test_deposed_primary_ops_are_discarded_by_the_last_normal_view_rule():
    sim = run("deposed_primary")
    assert sim.violations == []
    r1_ops = [e["args"]["n"] for e in notes(sim, "vr.prepare", "r1")]
    assert r1_ops == [1, 2]                                # never committed
    [v2] = [e for e in notes(sim, "vr.start_view") if e["args"]["view"] == 2]
    assert v2["node"] == "r3" and v2["args"]["who"] == "r3" and v2["args"]["lnv"] == 1
    dvc_r1 = [e["args"] for e in notes(sim, "vr.do_view_change", "r1")]
    assert dvc_r1 == [{"view": 2, "primary": "r3", "lnv": 0, "n": 2, "count": 1}]   # longer, older
    assert logs(sim)["r1"] == logs(sim)["r3"] == ["1:y=2", "2:x=1"]
    assert replies(sim, "c1")[-1]["index"] == 2 and replies(sim, "c2")[-1]["index"] == 1


def test_longest_log_bug_loses_a_committed_op():
    sim = run("longest_log")
    assert {"leader_completeness", "committed_kept", "state_machine_safety", "at_most_once"} <= invariants(sim)
    [bad] = notes(sim, "vr.start_view.longest", "r3")
    assert bad["args"]["who"] == "r1" and bad["args"]["lnv"] == 0


def test_presets_show_every_label():
    keys = set()
    for p in PROTO.presets:
        for e in run(p.name).trace:
            if e["type"] == "state" and isinstance(e["changes"].get("label"), list):
                keys.add(e["changes"]["label"][0])
    assert keys == {k for k in PROTO.strings if ".label" in k}


# ---------------------------------------------------------------- random schedules

def test_random_fault_schedules_find_nothing():
    found, violations, runs = fuzz.check("vr", runs=200, model=fuzz.Model())
    assert found is None, violations[:1]
    assert runs == 200


def test_longest_log_bug_is_caught_by_random_schedules():
    found, violations, _ = fuzz.check("vr", bugs=["longest_log"], runs=150, model=fuzz.Model())
    assert found is not None and violations


def test_nemesis_keeps_at_most_f_replicas_down_without_a_disk():
    """The bound VRR assumes: a replica is down from its crash until its recovery completes."""
    for seed in range(1, 41):
        out = fuzz.fuzz_run("vr", seed, fuzz.Model(params={"disk": "none"}))
        sim = Simulation(out.scenario, trace=True).run()
        f = (out.scenario.nodes - 1) // 2
        down = set()
        for e in sim.trace:
            node = e.get("node")
            if e["type"] == "crash" and node.startswith("r"):
                assert len(down) < f, (seed, e["t"], sorted(down))
                down.add(node)
            elif e["type"] == "note" and e["key"] in ("vr.recovered", "vr.resumed"):
                down.discard(node)
        assert all(sim.disk[r] == {} for r in sim.ids if r.startswith("r")), seed


def test_blind_crashes_within_the_bound_break_nothing_and_past_it_lose_committed_ops(monkeypatch):
    """The engine's blind crash move keeps to VR's bound (Protocol.may_crash): without a disk,
    fewer than f replicas down before a crash. Within it nothing breaks; past it (the bound
    lifted) more than f down at once loses committed ops, and breaks nothing else; with the
    log on disk the same unbounded moves break nothing."""
    blind = {"crash": 4, "restart": 5}
    for seed in range(1, 61):
        out = fuzz.fuzz_run("vr", seed, fuzz.Model(params={"disk": "none"}), weights=blind)
        assert out.found == [], (seed, out.found[:1])
    monkeypatch.setattr(type(PROTO), "may_crash", lambda self, sim, node: True)
    lost = set()
    for seed in range(1, 121):
        out = fuzz.fuzz_run("vr", seed, fuzz.Model(params={"disk": "none"}), weights=blind)
        lost |= {v["invariant"] for v in out.found}
        out = fuzz.fuzz_run("vr", seed, fuzz.Model(params={"disk": "log"}), weights=blind)
        assert out.found == [], (seed, out.found[:1])
    assert lost == {"committed_kept"}
