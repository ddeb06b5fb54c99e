"""Multi-Paxos: every preset's lesson, random fault schedules, the bug toggle, durability rules."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from engine import fuzz
from engine.kit.log_safety import LogSafetyChecker
from engine.protocols import multipaxos
from engine.protocols.multipaxos import node as mp_node
from engine.scenario import from_dict
from engine.sim import Simulation

from . import fakectx
from .fakectx import deliver
from .traces import notes, safety, sends, views
from .translations import check_violation_texts, placeholders, violation_of

PROTO = multipaxos.PROTOCOL


def run(preset=None, **data):
    d = {"protocol": "multipaxos", **data}
    if preset:
        d["preset"] = preset
    return Simulation(from_dict(d), trace=True).run()


def replies(sim, node=None):
    return [e for e in sim.trace if e["type"] == "reply" and (node is None or e["node"] == node)]


def invariants(sim):
    return {v["invariant"] for v in sim.violations}


def elected(sim):
    """(ballot, node) for every phase 1 won, in order."""
    return [(e["args"]["ballot"], e["node"]) for e in sim.trace
            if e["type"] == "note" and e["key"] in ("multipaxos.elected", "multipaxos.elected.skip")]


def delivered(sim):
    ids = {e["id"] for e in sim.trace if e["type"] == "deliver"}
    return [e for e in sim.trace if e["type"] == "send" and e["id"] in ids]


class CheckerWindow:
    """A run as a checker (or the nemesis) may read it: sim.observe, the disks, the network,
    the clock; never a node object."""

    def __init__(self, sim):
        self._sim = sim

    def __getattr__(self, name):
        assert name != "nodes", "read a node object instead of sim.observe"
        return getattr(self._sim, name)


def run_windowed(preset=None, **data):
    d = {"protocol": "multipaxos", **data}
    if preset:
        d["preset"] = preset
    sim = Simulation(from_dict(d), trace=True)
    after = sim.checker.after_event
    sim._after_event = lambda s, n, msg: after(CheckerWindow(s), n, msg)
    return sim.run()


# ---------------------------------------------------------------- presets

def test_steady_phase1_once_then_one_round_trip_per_command():
    sim = run("steady")
    assert sim.violations == []
    assert elected(sim) == [("1.n1", "n1")]
    assert [e["node"] for e in notes(sim, "multipaxos.campaign")] == ["n1"]
    won = notes(sim, "multipaxos.elected")[0]["t"]
    # Phase 1 once: every Prepare and Promise before the election, none after.
    assert all(e["t"] <= won for e in sends(sim, "Prepare") + sends(sim, "Promise"))
    # Then one round trip per command: Accept out, Accepted back, chosen.
    proposed = {e["args"]["slot"]: e["t"] for e in notes(sim, "multipaxos.propose")}
    chosen = {e["args"]["slot"]: e["t"] for e in notes(sim, "multipaxos.chosen")}
    assert sorted(proposed) == sorted(chosen) == [1, 2, 3, 4]
    assert all(chosen[s] - proposed[s] == 40 for s in proposed)          # 2 x 20 ms
    # Puts sent to followers are forwarded to the leader.
    assert [e["args"] for e in notes(sim, "multipaxos.forward")] == [
        {"cmd": "y=2", "leader": "n1"}, {"cmd": "z=3", "leader": "n1"}]
    assert [r["result"] for r in replies(sim, "n1")] == [
        {"ok": True, "slot": 1, "cmd": "x=1"}, {"ok": True, "slot": 4, "cmd": "x=4"}]
    for n, v in views(sim).items():
        assert v["kv"] == {"x": "4", "y": "2", "z": "3"}, n
        assert v["commitIndex"] == 4 and v["log"] == ["1.n1:x=1", "1.n1:y=2", "1.n1:z=3", "1.n1:x=4"], n
        assert v["role"] == ("leader" if n == "n1" else "follower")


def test_failover_learns_minority_values_and_fills_the_hole_with_a_noop():
    sim = run("failover_gaps")
    assert sim.violations == []
    assert elected(sim) == [("1.n1", "n1"), ("2.n3", "n3")]
    (campaign,) = [e for e in notes(sim, "multipaxos.campaign") if e["node"] == "n3"]
    assert campaign["args"] == {"ballot": "2.n3", "commit": 1}       # one Prepare for every slot above 1
    adopted = [(a["slot"], a["cmd"], a["reporter"]) for a in (e["args"] for e in notes(sim, "multipaxos.adopt"))]
    assert adopted == [(2, "y=2", "n2"), (4, "w=4", "n2")]
    assert [e["args"]["slot"] for e in notes(sim, "multipaxos.fill")] == [3]
    # Before the crash y=2 and w=4 were on n1 and n2 only: a minority of five.
    live = Simulation(from_dict({"protocol": "multipaxos", "preset": "failover_gaps"}))
    live.run_until(399)
    holders = {s: sorted(n for n in live.ids if len(live.disk[n]["log"]) >= s and live.disk[n]["log"][s - 1])
               for s in (2, 3, 4)}
    assert holders == {2: ["n1", "n2"], 3: ["n1"], 4: ["n1", "n2"]}
    # The new leader took new puts only after the re-proposed slots: v=5 goes to slot 5.
    assert [(e["args"]["slot"], e["args"]["cmd"]) for e in notes(sim, "multipaxos.propose") if e["node"] == "n3"] \
        == [(5, "v=5")]
    # z=3 was never chosen: the no-op took its place everywhere, n1 (restarted) included.
    assert [e["args"]["slot"] for e in notes(sim, "multipaxos.learn_replaces") if e["node"] == "n1"] == [3]
    for n, v in views(sim).items():
        assert v["log"][2] == "2.n3:noop", n
        assert v["kv"] == {"x": "1", "y": "2", "w": "4", "v": "5"}, n
        assert v["commitIndex"] == 5, n


def test_dueling_leaders_preempt_each_other_but_no_slot_gets_two_values():
    sim = run("dueling_leaders")
    assert sim.violations == []
    assert elected(sim) == [("1.n1", "n1"), ("2.n3", "n3"), ("3.n1", "n1"), ("4.n2", "n2")]
    assert [(e["node"], e["args"]["ballot"], e["args"]["by"]) for e in notes(sim, "multipaxos.preempted")] == [
        ("n1", "1.n1", "2.n3"), ("n3", "2.n3", "3.n1"), ("n1", "3.n1", "4.n2")]
    assert notes(sim, "multipaxos.refuse_accept") and sends(sim, "Nack")
    # Each old leader's value is carried into the next ballot, in its slot.
    assert [(a["slot"], a["cmd"], a["old"], a["ballot"]) for a in (e["args"] for e in notes(sim, "multipaxos.adopt"))] \
        == [(1, "a=1", "1.n1", "2.n3"), (2, "b=2", "2.n3", "3.n1"), (3, "c=3", "3.n1", "4.n2")]
    # Every Accept ever sent for a slot carries the same command: no slot ever gets two values.
    per_slot = {}
    for e in sends(sim, "Accept"):
        per_slot.setdefault(e["body"]["slot"], set()).add(e["body"]["cmd"])
    assert per_slot == {1: {"a=1"}, 2: {"b=2"}, 3: {"c=3"}, 4: {"d=4"}}
    for n, v in views(sim).items():
        assert v["kv"] == {"a": "1", "b": "2", "c": "3", "d": "4"}, n


def test_slow_acceptor_catches_up_in_batches():
    sim = run("slow_acceptor")
    assert sim.violations == []
    live = Simulation(from_dict({"protocol": "multipaxos", "preset": "slow_acceptor"}))
    live.run_until(399)
    assert live.node_view("n3")["commitIndex"] == 0 and live.node_view("n1")["commitIndex"] == 10
    assert live.disk["n3"]["log"] == []          # chosen without it: a majority is enough
    catchups = [e for e in sends(sim, "CatchUp") if e["src"] == "n3"]
    assert [e["body"]["commit"] for e in catchups] == [0, 3, 6, 9]
    answers = [e["body"] for e in sends(sim, "Commit", src="n1", dst="n3") if e["t"] >= 400]
    assert [len(b["entries"]) for b in answers] == [3, 3, 3, 1]       # max_batch 3
    assert [e["args"] for e in notes(sim, "multipaxos.caught_up")] == [
        {"first": 1, "last": 3}, {"first": 4, "last": 6}, {"first": 7, "last": 9}]
    v = views(sim)["n3"]
    assert v["commitIndex"] == 10 and v["kv"] == {f"k{i}": str(i) for i in range(10)}
    assert v["log"] == views(sim)["n1"]["log"]


def test_skip_phase1_overwrites_a_chosen_value():
    sim = run("skip_phase1")
    assert {"chosen_agreement", "state_machine_safety", "leader_completeness", "learned_chosen"} <= invariants(sim)
    (two,) = [v for v in sim.violations if v["invariant"] == "chosen_agreement"]
    assert two["message"] == ("two commands chosen in slot 1: x=1 (by a majority at ballot 1.n1) "
                              "and y=2 (by a majority at ballot 2.n3)")
    assert notes(sim, "multipaxos.elected.skip")[0]["args"]["next"] == 1
    # n2, which applied x=1, accepted y=2 over it.
    assert [e["args"] for e in notes(sim, "multipaxos.overwrite")] == [
        {"slot": 1, "old": "1.n1:x=1", "new": "2.n3:y=2"}]
    # The same script without the bug: n3 proposes x=1 again, y=2 goes to slot 2.
    safe = run("skip_phase1", bugs=[])
    assert safe.violations == []
    assert [(e["args"]["slot"], e["args"]["cmd"]) for e in notes(safe, "multipaxos.adopt")] == [(1, "x=1")]
    for n, v in views(safe).items():
        assert v["kv"] == {"x": "1", "y": "2"} and [e.split(":")[1] for e in v["log"]] == ["x=1", "y=2"], n


@pytest.mark.parametrize("preset", [p.name for p in PROTO.presets])
def test_the_checker_reads_only_observations_and_disks(preset):
    free = run(preset)
    windowed = run_windowed(preset)
    assert windowed.trace == free.trace and windowed.violations == free.violations


# ---------------------------------------------------------------- random fault schedules

def test_random_fault_schedules_find_nothing():
    found, violations, runs = fuzz.check("multipaxos", runs=200, model=fuzz.Model())
    assert found is None, violations[:1]
    assert runs == 200


@pytest.mark.parametrize("base", [None, {"network": {"loss": 0.1, "duplicate": 0.1}},
                                  {"network": {"latency": [1, 400]}}, {"nodes": 9},
                                  {"params": {"heartbeat": 400, "election_spread": 0}}],
                         ids=["default", "lossy", "slow", "nine_nodes", "dueling"])
def test_random_runs_are_safe(base):
    for seed in range(1, 61):
        scenario, found = fuzz.random_run("multipaxos", seed, base=base)
        assert found == [], (seed, found, scenario.to_json())


def test_skip_phase1_is_found_and_replays():
    scenario, found, _runs = fuzz.check("multipaxos", bugs=["skip_phase1"], runs=150)
    assert scenario is not None and found
    again = fuzz.violations_of(scenario)
    assert again and again[0]["invariant"] == found[0]["invariant"]


def test_every_violation_message_is_translated_from_its_own_template():
    checker = PROTO.checker_class
    assert issubclass(checker, LogSafetyChecker)
    assert {inv for inv, _ in checker.VIOLATIONS.values()} == set(checker.invariants)
    emitted = list(run("skip_phase1").violations)
    emitted += fuzz.check("multipaxos", bugs=["skip_phase1"], runs=150)[1]
    for seed in range(1, 30):
        emitted += fuzz.random_run("multipaxos", seed, bugs=["skip_phase1"])[1]
    check_violation_texts(PROTO, emitted)
    for _, key in checker.VIOLATIONS.values():
        args = {name: f"<{name}>" for name in placeholders(PROTO.strings[key]["en"])}
        check_violation_texts(PROTO, [violation_of(PROTO, "chosen_agreement", key, ("n1",), **args).as_dict()])


# ---------------------------------------------------------------- handlers in isolation

def snapshot(d):
    """What a send records of the disk (persist before send)."""
    return (d["round"], list(d["promised"]), [list(e) if e else e for e in d["log"]])


def make_node(node_id="n2", bugs=(), disk=None):
    return fakectx.make_node(PROTO, node_id, ["n1", "n2", "n3"], snapshot, bugs, disk)


def test_acceptor_persists_promises_and_votes_before_answering():
    node, ctx = make_node()
    (r,) = deliver(node, ctx, "n1", "Prepare", ballot=[1, "n1"], commit=0)
    assert r[1] == "Promise" and r[2] == {"ballot": [1, "n1"], "accepted": []} and r[3][1] == [1, "n1"]
    (r,) = deliver(node, ctx, "n1", "Accept", ballot=[1, "n1"], slot=2, cmd="x=1")
    assert r[1] == "Accepted" and r[3][2] == [None, [[1, "n1"], "x=1"]]      # on disk, slot 1 a hole
    assert ctx.facts[-1] == ("accepted", {"slot": 2, "ballot": [1, "n1"], "cmd": "x=1"})
    # A higher Prepare learns about slot 2 (above its commit point 1), and is promised.
    (r,) = deliver(node, ctx, "n3", "Prepare", ballot=[2, "n3"], commit=1)
    assert r[2]["accepted"] == [[2, [1, "n1"], "x=1"]]
    # The older ballot is refused from now on, in phase 1 and phase 2.
    (r,) = deliver(node, ctx, "n1", "Accept", ballot=[1, "n1"], slot=3, cmd="y=2")
    assert r[1] == "Nack" and r[2] == {"ballot": [1, "n1"], "promised": [2, "n3"]}
    (r,) = deliver(node, ctx, "n1", "Prepare", ballot=[1, "n1"], commit=0)
    assert r[1] == "Nack"
    # After a restart the promise and the accepted slot are still there.
    again, ctx2 = make_node(disk=node.disk)
    (r,) = deliver(again, ctx2, "n1", "Accept", ballot=[1, "n1"], slot=3, cmd="y=2")
    assert r[1] == "Nack"
    assert again.view()["log"] == [None, "1.n1:x=1"] and again.view()["commitIndex"] == 0


def test_candidate_persists_its_round_and_promise_before_preparing():
    node, ctx = make_node("n1", disk={"round": 4, "promised": [2, "n3"], "log": []})
    ctx.sent.clear()
    node.on_timer(ctx, "election")
    prepares = [s for s in ctx.sent if s[1] == "Prepare"]
    assert [s[0] for s in prepares] == ["n2", "n3"]
    assert all(s[2]["ballot"] == [5, "n1"] and s[3][:2] == (5, [5, "n1"]) for s in prepares)
    # A majority (itself and n2): phase 1 done; n2 reported slot 1, so it is proposed again.
    deliver(node, ctx, "n2", "Promise", ballot=[5, "n1"], accepted=[[1, [3, "n2"], "x=1"], [3, [2, "n3"], "z=3"]])
    assert node.role == "leader" and node.next_slot == 4
    accepts = [(s[0], s[2]["slot"], s[2]["cmd"]) for s in ctx.sent if s[1] == "Accept"]
    assert sorted(accepts) == [("n2", 1, "x=1"), ("n2", 2, None), ("n2", 3, "z=3"),
                               ("n3", 1, "x=1"), ("n3", 2, None), ("n3", 3, "z=3")]
    # Its own votes are on disk before the first Accept leaves.
    first = next(s for s in ctx.sent if s[1] == "Accept")
    assert first[3][2] == [[[5, "n1"], "x=1"], [[5, "n1"], None], [[5, "n1"], "z=3"]]


def test_skip_phase1_ignores_reports_for_slots_the_leader_has_empty():
    node, ctx = make_node("n1", bugs=["skip_phase1"])
    node.on_timer(ctx, "election")
    deliver(node, ctx, "n2", "Promise", ballot=[1, "n1"], accepted=[[1, [1, "n2"], "x=1"]])
    assert node.role == "leader" and node.next_slot == 1 and not [s for s in ctx.sent if s[1] == "Accept"]


def test_leader_chooses_on_a_majority_of_accepted_and_notifies_learners():
    node, ctx = make_node("n1")
    node.on_timer(ctx, "election")
    deliver(node, ctx, "n2", "Promise", ballot=[1, "n1"], accepted=[])
    ctx.sent.clear()
    node.on_request(ctx, "put", "x=1")
    assert [s[1] for s in ctx.sent] == ["Accept", "Accept"]
    sent = deliver(node, ctx, "n3", "Accepted", ballot=[1, "n1"], slot=1)
    assert ("client", "put", {"ok": True, "slot": 1, "cmd": "x=1"}, None) in sent
    assert sorted((s[0], s[1]) for s in sent if s[1] == "Commit") == [("n2", "Commit"), ("n3", "Commit")]
    assert node.kv == {"x": "1"} and node.commit_index == 1
    assert deliver(node, ctx, "n2", "Accepted", ballot=[1, "n1"], slot=1) == []    # late: nothing more


def test_learner_applies_in_order_and_asks_to_catch_up():
    node, ctx = make_node()
    sent = deliver(node, ctx, "n1", "Commit", ballot=[1, "n1"], entries=[[2, [1, "n1"], "y=2"]], commit=2)
    assert node.commit_index == 0 and node.kv == {}                      # slot 1 unknown: a gap
    assert [(s[1], s[2]["commit"]) for s in sent] == [("CatchUp", 0)]
    deliver(node, ctx, "n1", "Commit", ballot=[1, "n1"], entries=[[1, [1, "n1"], "x=1"]], commit=2)
    assert node.commit_index == 2 and node.kv == {"x": "1", "y": "2"}
    assert node.view()["log"] == ["1.n1:x=1", "1.n1:y=2"]


def test_non_leaders_forward_or_refuse():
    node, ctx = make_node()
    node.on_request(ctx, "put", "x=1")
    assert ctx.sent[-1] == ("client", "put", {"ok": False, "error": "no leader"}, None)
    deliver(node, ctx, "n1", "Heartbeat", ballot=[1, "n1"], commit=0)
    ctx.sent.clear()
    node.on_request(ctx, "put", "x=1")
    assert [(s[0], s[1]) for s in ctx.sent] == [("n1", "Forward"), ("client", "put")]
    node.on_request(ctx, "put", "nonsense")
    assert ctx.sent[-1][2] == {"ok": False, "error": "expected key=value"}


# ---------------------------------------------------------------- declarations

def test_declarations():
    d = PROTO.describe()
    assert (d["name"], d["title"], d["category"]) == ("multipaxos", "Multi-Paxos", "consensus")
    assert d["nodes"] == {"default": 3, "min": 3, "max": 9}
    assert d["log_strip"] == {"field": "log", "start": "logStart", "commit": "commitIndex"}
    assert PROTO.tolerates is None
    assert [f.name for f in PROTO.fields if f.durable] == ["promised", "round", "log"]
    node, op, arg = PROTO.random_request(random.Random(1), ["n1", "n2", "n3"])
    assert node in ("n1", "n2", "n3") and op == "put" and re.fullmatch(r"[xyz]=\d", arg)
    source = Path(mp_node.__file__).read_text(encoding="utf-8")
    kinds = sorted(set(re.findall(r'ctx\.send\([^,]+, "([A-Za-z]+)"', source)))
    assert kinds == ["Accept", "Accepted", "CatchUp", "Commit", "Forward", "Heartbeat", "Nack", "Prepare",
                     "Promise"]


def test_log_strip_entries_are_ballot_colon_command():
    sim = run("failover_gaps")
    for v in views(sim).values():
        assert all(e is None or re.fullmatch(r"\d+\.n\d:(noop|\w+=\w+)", e) for e in v["log"])
    long = run(preset="slow_acceptor", actions=[{"at": 10, "do": "timeout", "node": "n1", "timer": "election"}]
               + [{"at": 100 + 5 * i, "do": "request", "node": "n1", "op": "put", "arg": f"k={i}"} for i in range(20)])
    v = views(long)["n1"]
    assert len(v["log"]) == mp_node.LOG_VIEW and v["logStart"] == 20 - mp_node.LOG_VIEW + 1


def test_fuzz_action_moves_are_valid_replayable_actions():
    sim = Simulation(from_dict({"protocol": "multipaxos", "seed": 5, "until": 6000}), trace=False)
    rng = random.Random(5)
    seen = set()
    for at in range(300, 5000, 60):
        sim.run_until(at - 1)
        got = PROTO.fuzz_action(rng, CheckerWindow(sim), at)
        if got is None:
            continue
        for a in got if isinstance(got, list) else [got]:
            sim.add_action(a)
            seen.add(a["do"])
    assert {"request", "partition", "timeout", "crash", "heal"} <= seen
    sim.run()
    assert safety(sim) == []
