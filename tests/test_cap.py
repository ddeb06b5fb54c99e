"""CAP and BASE: each preset's lesson, ABD's two phases and its refusals, an "unknown"
write that surfaces later, last-writer-wins and its conflict count, stale reads, the
checker's invariants, random fault schedules in both modes and the bug toggle."""

import json

import pytest

from engine import fuzz
from engine.protocols import registry
from engine.protocols.cap import node as cap_node
from engine.scenario import from_dict
from engine.sim import Simulation

from .traces import notes, safety, sends, views

PROTO = registry.get("cap")
FIXED = {"latency": [20, 20]}


def run(**data) -> Simulation:
    return Simulation(from_dict({"protocol": "cap", **data})).run()


def preset(name, **extra) -> Simulation:
    return Simulation(from_dict({"protocol": "cap", "preset": name, **extra})).run()


def write(at, client, value):
    return {"at": at, "do": "request", "node": client, "op": "write", "arg": value}


def read(at, client):
    return {"at": at, "do": "request", "node": client, "op": "read"}


def replies(sim, node=None):
    return [(e["node"], e["op"], e["result"]["outcome"], e["result"].get("value"))
            for e in sim.trace if e["type"] == "reply" and (node is None or e["node"] == node)]


def held(sim):
    """Every replica's (value, ts) at the end."""
    return {n: (v["value"], v["ts"]) for n, v in views(sim).items() if v["role"] == "replica"}


def labels(sim):
    return {n: v["label"] for n, v in views(sim).items()}


def invariants(sim):
    return {v["invariant"] for v in sim.violations}


# ---------------------------------------------------------------- declarations

def test_declares_replicas_and_two_clients_and_a_mode_choice():
    assert PROTO.name == "cap" and PROTO.category == "concepts"
    assert PROTO.node_ids(3) == ["r1", "r2", "r3", "c1", "c2"]
    assert PROTO.node_ids(7)[-3:] == ["r7", "c1", "c2"]
    assert (PROTO.nodes_min, PROTO.nodes_default, PROTO.nodes_max) == (3, 3, 7)
    assert cap_node.home("c1", PROTO.node_ids(5)) == "r1" and cap_node.home("c2", PROTO.node_ids(5)) == "r5"
    desc = json.loads(json.dumps(PROTO.describe()))
    mode = next(p for p in desc["params"] if p["name"] == "mode")
    assert mode["kind"] == "choice" and mode["choices"] == ["cp", "ap"] and mode["default"] == "cp"
    assert {o["name"]: (o["roles"], o["default"]) for o in desc["operations"]} == {
        "write": (["client"], "x1"), "read": (["client"], None)}
    assert [b["name"] for b in desc["bugs"]] == ["local_read"]
    assert PROTO.layout(PROTO.node_ids(3))["c2"] == {"place": "top"}
    for choice in ("cp", "ap"):                        # the page names the choices
        assert PROTO.strings[f"param.mode.{choice}"]["zh"]


def test_a_replica_shows_its_copy_on_the_canvas_in_both_languages():
    label = labels(preset("ap_partition"))["r3"]
    assert label == ["cap.label.ap", {"value": "a2", "ts": "2·r1", "conflicts": 1, "stale": 0}]
    assert PROTO.strings[label[0]]["en"].format(**label[1]) == "a2 · 2·r1 · conflicts 1 · stale 0"
    assert PROTO.strings[label[0]]["zh"].format(**label[1]) == "a2 · 2·r1 · 冲突 1 · 过期读 0"


# ---------------------------------------------------------------- CP: ABD

def test_cp_happy_each_operation_queries_then_stores_at_a_majority():
    sim = preset("cp_happy")
    assert sim.violations == []
    assert replies(sim) == [("c1", "write", "ok", "x1"), ("c2", "read", "ok", "x1")]
    assert held(sim) == {r: ("x1", "1·c1.1") for r in ("r1", "r2", "r3")}
    # The write asks for timestamps, then stores; the read asks, then writes back.
    kinds = [(e["src"], e["kind"]) for e in sim.trace if e["type"] == "send" and e["kind"] in ("Query", "Store")]
    assert kinds == [("r1", "Query")] * 2 + [("r1", "Store")] * 2 + [("r3", "Query")] * 2 + [("r3", "Store")] * 2
    assert notes(sim, "cap.cp_read_back", node="r3")
    # Two round trips among the replicas: the client is answered 120 ms after it asked.
    assert [e["t"] for e in sim.trace if e["type"] == "reply"] == [220, 520]
    assert sim.checker.checks == 2 and sim.checker.stale_reads == []


def test_cp_partition_the_minority_refuses_and_nothing_it_refused_shows_up():
    sim = preset("cp_partition")
    assert sim.violations == []
    assert replies(sim) == [("c1", "write", "ok", "x1"), ("c2", "write", "refused", None),
                            ("c2", "read", "refused", None), ("c2", "read", "ok", "x1")]
    refusals = notes(sim, "cap.cp_refuse", node="r3")
    assert [n["t"] for n in refusals] == [620, 1120]      # quorum_timeout after each request arrived
    assert refusals[0]["args"] == {"replica": "r3", "client": "c2", "got": 1, "need": 2}
    # The refused write y1 was never stored anywhere, nor even sent.
    assert not any(e["type"] == "state" and e["changes"].get("value") == "y1" for e in sim.trace)
    assert not [e for e in sends(sim, "Store") if e["body"]["value"] == "y1"]
    assert held(sim) == {r: ("x1", "1·c1.1") for r in ("r1", "r2", "r3")}
    assert labels(sim)["c2"] == ["cap.label.client", {"ok": 1, "refused": 2, "unknown": 0}]
    assert sim.checker.checks == 2          # linearizability judged after each completed operation


def test_cp_minority_read_is_refused_where_the_buggy_replica_answers():
    sim = preset("cp_minority_read")
    assert sim.violations == []
    assert replies(sim, "c2") == [("c2", "read", "refused", None)]
    assert held(sim)["r3"] == ("x1", "1·c1.1")     # r3 holds the old copy, and does not serve it


def test_cp_local_read_the_bug_serves_a_stale_read_and_linearizability_catches_it():
    sim = preset("cp_local_read")
    assert invariants(sim) == {"linearizable"}
    v = sim.violations[0]
    assert v["key"] == "viol.linearizable.read" and v["t"] == 640
    assert v["args"] == {"client": "c2", "value": "x1 (c1.1)", "start": 600, "end": 640, "could": "x2 (c1.2)"}
    assert notes(sim, "cap.local_read", node="r3")
    assert replies(sim, "c2") == [("c2", "read", "ok", "x1")]
    assert len(sim.checker.stale_reads) == 1


def test_a_write_that_reached_only_a_minority_is_unknown_and_may_surface_later():
    """r1 is cut off right after its Query round: it stores x1 on itself only and cannot say
    ok or refused. After the heal a read through r3 sees x1: linearizable, because the
    write was never refused."""
    sim = run(network=FIXED, until=2000, actions=[
        write(100, "c1", "x1"), {"at": 165, "do": "partition", "groups": [["r1", "c1"], ["r2", "r3", "c2"]]},
        {"at": 600, "do": "heal"}, read(700, "c2")])
    assert sim.violations == []
    assert notes(sim, "cap.cp_unknown", node="r1") and notes(sim, "cap.write_unknown", node="c1")
    assert replies(sim) == [("c1", "write", "unknown", None), ("c2", "read", "ok", "x1")]


def test_a_client_that_hears_nothing_gives_up_and_its_write_stays_possible():
    """c1 is cut off just as its ok is on the way (sent at 200): it gives up at 1100, yet
    the write happened; c2's read at 400 sees it, and that is linearizable."""
    sim = run(network=FIXED, until=3000, actions=[
        write(100, "c1", "x1"), {"at": 210, "do": "partition", "groups": [["c1"], ["r1", "r2", "r3", "c2"]]},
        {"at": 300, "do": "heal"}, read(400, "c2")])
    assert sim.violations == []
    assert notes(sim, "cap.gave_up", node="c1")
    assert replies(sim) == [("c2", "read", "ok", "x1"), ("c1", "write", "timeout", None)]
    assert labels(sim)["c1"] == ["cap.label.client", {"ok": 0, "refused": 0, "unknown": 1}]


def test_a_client_sends_one_request_at_a_time():
    sim = run(network=FIXED, until=1000, actions=[write(100, "c1", "x1"), read(110, "c1")])
    assert notes(sim, "cap.busy", node="c1")[0]["args"] == {"client": "c1", "op": "c1.1"}
    assert len(sends(sim, "Request")) == 1


def test_a_repeated_request_is_not_run_twice():
    """A duplicated write could otherwise land again after a later write and undo it."""
    sim = run(network=FIXED, until=1000, actions=[write(100, "c1", "x1"), {"at": 110, "do": "duplicate", "msg": 1}])
    assert notes(sim, "cap.duplicate", node="r1")
    assert len(sends(sim, "Query")) == 2
    assert sim.violations == []


def test_a_replica_comes_back_with_its_copy_from_disk():
    sim = run(network=FIXED, until=2000, actions=[
        write(100, "c1", "x1"), {"at": 300, "do": "crash", "node": "r3"}, {"at": 400, "do": "restart", "node": "r3"},
        read(500, "c2")])
    assert notes(sim, "cap.recover", node="r3")[0]["args"] == {"replica": "r3", "value": "x1", "ts": "1·c1.1"}
    assert replies(sim, "c2") == [("c2", "read", "ok", "x1")]


def test_a_refused_write_that_showed_up_would_be_caught(monkeypatch):
    """refusal_harmless, on its own: a replica that says "refused" once its Store is out."""
    def refuse_always(self, ctx, opid):
        op = self.ops.pop(opid, None)
        if op is not None:
            self.answer(ctx, op["client"], opid, "refused")
    monkeypatch.setattr(cap_node.Replica, "quorum_missed", refuse_always)
    sim = run(network=FIXED, until=2000, actions=[
        write(100, "c1", "x1"), {"at": 165, "do": "partition", "groups": [["r1", "c1"], ["r2", "r3", "c2"]]}])
    assert invariants(sim) == {"refusal_harmless"}
    assert sim.violations[0]["args"] == {"replica": "r1", "client": "c1", "value": "x1", "op": "c1.1"}


# ---------------------------------------------------------------- AP: last writer wins, gossip

def test_ap_happy_answers_at_once_and_gossip_spreads_the_write():
    sim = preset("ap_happy")
    assert sim.violations == []
    assert [e["t"] for e in sim.trace if e["type"] == "reply"] == [140, 1540]     # one round trip each
    assert not sends(sim, "Query") and not sends(sim, "Store")
    assert [(n["node"], n["t"]) for n in notes(sim, "cap.ap_newer")] == [("r2", 520), ("r3", 1020)]
    assert held(sim) == {r: ("x1", "1·r1") for r in ("r1", "r2", "r3")}
    assert sim.checker.judged                     # converged was judged, and holds


def test_ap_partition_both_sides_write_and_last_writer_wins_loses_the_later_write():
    sim = preset("ap_partition")
    assert sim.violations == []
    assert replies(sim) == [("c1", "write", "ok", "a1"), ("c1", "write", "ok", "a2"), ("c2", "write", "ok", "b")]
    assert held(sim) == {r: ("a2", "2·r1") for r in ("r1", "r2", "r3")}     # b is gone
    lost = notes(sim, "cap.ap_conflict_replaced", node="r3")[0]
    assert lost["t"] == 1520 and lost["args"]["lost"] == "b" and lost["args"]["value"] == "a2"
    assert notes(sim, "cap.ap_conflict_discarded", node="r1")
    assert {n: v["conflicts"] for n, v in views(sim).items() if "conflicts" in v} == {"r1": 1, "r2": 0, "r3": 1}
    assert sim.checker.judged


def test_ap_stale_read_is_served_then_found_out_and_counted_not_a_violation():
    sim = preset("ap_stale_read")
    assert sim.violations == []
    assert replies(sim, "c2") == [("c2", "read", "ok", "x1")]
    assert [s["op"] for s in sim.checker.stale_reads] == ["c2.1"]
    found = notes(sim, "cap.ap_stale", node="r3")
    assert [n["t"] for n in found] == [2020]
    assert found[0]["args"] == {"replica": "r3", "client": "c2", "at": 1520, "ts": "1·r1", "value": "x2",
                                "newer": "2·r1", "acked": 1320}
    assert labels(sim)["r3"] == ["cap.label.ap", {"value": "x2", "ts": "2·r1", "conflicts": 0, "stale": 1}]
    assert sim.checker.judged


def test_writes_that_saw_each_other_are_not_conflicts():
    sim = run(params={"mode": "ap"}, network=FIXED, until=5000, actions=[
        write(100, "c1", "x1"), write(1500, "c2", "x2"), write(2600, "c1", "x3")])
    assert sim.violations == []
    assert not notes(sim, "cap.ap_conflict_replaced") and not notes(sim, "cap.ap_conflict_discarded")
    assert set(held(sim).values()) == {("x3", "3·r1")}


def test_ap_that_stays_cut_off_does_not_converge_but_is_not_judged():
    sim = run(params={"mode": "ap"}, network=FIXED, until=3000, actions=[
        {"at": 50, "do": "partition", "groups": [["r1", "r2", "c1"], ["r3", "c2"]]}, write(100, "c1", "x1")])
    assert held(sim)["r3"] == (None, "0")
    assert sim.violations == [] and not sim.checker.judged


# ---------------------------------------------------------------- random fault schedules

def test_the_correct_protocol_survives_200_random_fault_schedules():
    """Every fault kind, drawn parameters (either mode), 3..7 replicas: no linearizability
    violation in CP, and AP converges after the calm."""
    found, violations, runs = fuzz.check("cap", runs=200, model=fuzz.Model())
    assert found is None, violations[:1]
    assert runs == 200


@pytest.mark.parametrize("mode", ["cp", "ap"])
def test_each_mode_survives_200_random_fault_schedules(mode):
    found, violations, _runs = fuzz.check("cap", runs=200, model=fuzz.Model(params={"mode": mode}))
    assert found is None, violations[:1]


def test_random_schedules_really_judge_what_they_claim():
    """Not vacuous: CP runs check linearizability over histories with refusals and unknown
    outcomes, with no stale read; AP runs are judged for convergence and show stale reads
    and conflicts."""
    checks, outcomes, cp_stale, judged, ap_stale, conflicts = 0, set(), 0, 0, 0, 0
    for seed in range(1, 61):
        for mode in ("cp", "ap"):
            out = fuzz.fuzz_run("cap", seed, fuzz.Model(params={"mode": mode}))
            sim = Simulation(out.scenario).run()
            ch = sim.checker
            if mode == "cp":
                checks += ch.checks
                outcomes |= {o["outcome"] for o in ch.ops.values()}
                cp_stale += len(ch.stale_reads)
            else:
                judged += ch.judged
                ap_stale += len(ch.stale_reads)
                conflicts += sum(v.get("conflicts", 0) for v in views(sim).values())
    assert checks > 200
    assert {"ok", "refused", "unknown", None} <= outcomes      # None: the client gave up or crashed
    assert cp_stale == 0
    assert judged > 40 and ap_stale > 0 and conflicts > 0


def test_random_schedules_catch_local_read():
    found, violations, _ = fuzz.check("cap", bugs=["local_read"], runs=200, model=fuzz.Model())
    assert found is not None and violations[0]["invariant"] == "linearizable"
    again = Simulation(found).run()           # the shrunk counterexample replays to it
    assert "linearizable" in {v["invariant"] for v in safety(again)}
