"""Raft: every preset's lesson, random fault schedules, bug toggles, durability rules."""

from __future__ import annotations

import random
import re
from pathlib import Path

import pytest

from engine import fuzz
from engine.kit import log_safety
from engine.kit.log_safety import LogSafetyChecker
from engine.protocols import raft
from engine.protocols.raft import checker as raft_checker
from engine.protocols.raft import node as raft_node
from engine.scenario import from_dict
from engine.sim import Simulation

from . import fakectx
from .fakectx import deliver
from .traces import notes
from .translations import check_violation_texts, placeholders, violation_of

PROTO = raft.PROTOCOL


def run(preset=None, **data):
    d = {"protocol": "raft", **data}
    if preset:
        d["preset"] = preset
    return Simulation(from_dict(d), trace=True).run()


def replies(sim, node=None):
    return [e for e in sim.trace if e["type"] == "reply" and (node is None or e["node"] == node)]


def leaders(sim):
    views = sim.summary()["nodes"]
    return sorted(n for n, v in views.items() if v["up"] and v["role"] == "leader")


class CheckerWindow:
    """A run as a checker (or the nemesis) may read it: sim.observe, the disks, the network,
    the clock; never a node object."""

    def __init__(self, sim):
        self._sim = sim

    def __getattr__(self, name):
        assert name != "nodes", "read a node object instead of sim.observe"
        return getattr(self._sim, name)


def run_windowed(preset=None, **data):
    """run(), with the checker reading the run only through a CheckerWindow."""
    d = {"protocol": "raft", **data}
    if preset:
        d["preset"] = preset
    sim = Simulation(from_dict(d), trace=True)
    checker = sim.checker
    after, quiet = checker.after_event, checker.on_quiet
    sim._after_event = lambda s, n, msg: after(CheckerWindow(s), n, msg)
    checker.on_quiet = lambda s: quiet(CheckerWindow(s))
    return sim.run()


def invariants(sim):
    return [v["invariant"] for v in sim.violations]


def disk_logs(sim):
    return {n: [list(e) for e in sim.disk[n]["log"]] for n in sim.ids}


def elected(sim):
    """(term, node) for every election won, in order."""
    return [(e["args"]["term"], e["node"]) for e in notes(sim, "raft.elected")]


# ---------------------------------------------------------------- presets

def test_first_election_one_leader_one_term():
    sim = run("first_election")
    assert sim.violations == []
    views = sim.summary()["nodes"]
    assert leaders(sim) == ["n2"]
    assert {v["term"] for v in views.values()} == {1}
    assert {v["leader"] for v in views.values()} == {"n2"}
    # Several candidates started term 1, yet only one won it.
    assert len({e["node"] for e in notes(sim, "raft.campaign")}) > 1
    assert elected(sim) == [(1, "n2")]


def test_replication_commits_applies_everywhere_and_redirects():
    sim = run("replication")
    assert sim.violations == []
    for n, v in sim.summary()["nodes"].items():
        assert v["kv"] == {"x": "1", "y": "2"}, n
        assert v["commitIndex"] == 3
    assert [r["result"] for r in replies(sim, "n4")] == [{"ok": False, "redirect": "n2"}]
    assert [r["result"]["ok"] for r in replies(sim, "n2")] == [True, True]


def test_leader_crash_elects_a_new_leader_in_a_higher_term():
    sim = run("leader_crash")
    assert sim.violations == []
    won = elected(sim)
    assert won[0] == (1, "n2")
    crash_t = next(e["t"] for e in sim.trace if e["type"] == "crash")
    later = [(term, n) for term, n in won if term > 1]
    assert later and later[0][1] != "n2"
    assert all(e["t"] > crash_t for e in notes(sim, "raft.elected")[1:])
    views = sim.summary()["nodes"]
    assert leaders(sim) == [later[-1][1]]
    assert views["n2"]["role"] == "follower" and views["n2"]["term"] == later[-1][0]
    # The entry committed before the crash survives it, everywhere.
    assert all(v["kv"].get("x") == "1" and v["kv"].get("y") == "2" for v in views.values())


def test_split_vote_leaves_a_term_without_leader_then_resolves():
    sim = run("split_vote")
    assert sim.violations == []
    campaigned = {e["args"]["term"] for e in notes(sim, "raft.campaign")}
    won = {term for term, _ in elected(sim)}
    assert min(campaigned) not in won                 # term 1 split: nobody won
    assert len({e["node"] for e in notes(sim, "raft.campaign") if e["args"]["term"] == 1}) >= 2
    assert won and len(leaders(sim)) == 1            # a later term elected one
    assert max(won) > min(campaigned)


def test_partitioned_old_leader_loses_its_minority_entries():
    sim = run("partitioned_leader")
    assert sim.violations == []
    accepted_by_old = [e["args"] for e in notes(sim, "raft.accept") if e["node"] == "n2" and e["t"] > 600]
    assert [a["cmd"] for a in accepted_by_old] == ["x=2", "y=2"]
    logs = disk_logs(sim)
    first = logs["n1"]
    assert all(log == first for log in logs.values())   # every log matches after the heal
    for a in accepted_by_old:                            # the minority entries are gone
        assert first[a["index"] - 1] != [a["term"], a["cmd"]]
    assert [e for e in first if e[1] in ("x=2", "y=2")] == []
    assert leaders(sim) == ["n3"]
    assert sim.summary()["nodes"]["n2"]["role"] == "follower"
    results = [r["result"] for r in replies(sim, "n2")]
    assert results[0]["ok"] is True                       # x=1, before the partition
    assert [r.get("error") for r in results[1:]] == ["overwritten", "overwritten"]


def test_figure8_old_term_entry_on_a_majority_is_not_committed_and_is_overwritten():
    sim = Simulation(from_dict({"protocol": "raft", "preset": "figure8"}))
    sim.run_until(1021)
    # x=2 (index 3, term 1) sits on four of five logs, n1 leads term 3 ...
    holders = [n for n in sim.ids if sim.disk[n]["log"][2:3] == [[1, "x=2"]]]
    assert holders == ["n1", "n2", "n3", "n4"]
    assert sim.nodes["n1"].role == "leader" and sim.nodes["n1"].term == 3
    # ... yet nobody has committed it: n1 counts only entries of its own term.
    assert all(sim.nodes[n].commit_index < 3 for n in holders)
    sim.run()
    assert sim.violations == []
    assert (4, "n5") in elected(sim)
    for n, log in disk_logs(sim).items():                # overwritten everywhere, n1 included
        assert log[2:4] == [[2, None], [2, "x=3"]], n   # n5's term-2 no-op and x=3
        assert [1, "x=2"] not in log, n
    assert all(v["kv"] == {"x": "3"} for v in sim.summary()["nodes"].values())
    assert not [e for e in notes(sim, "raft.commit") if e["node"] == "n1" and e["args"]["term"] == 3]


def test_figure8_commit_current_term_entry_carries_the_old_one():
    sim = run("figure8_commit")
    assert sim.violations == []
    # n5, whose log ends in term 2, cannot win once n1's term-3 no-op is on a majority.
    refused = {e["node"] for e in notes(sim, "raft.refuse_log") if e["args"]["candidate"] == "n5"}
    assert len(refused) >= 2
    for n, log in disk_logs(sim).items():
        assert [1, "x=2"] in log, n
        assert [2, "x=3"] not in log, n
    assert all(v["kv"]["x"] == "2" for v in sim.summary()["nodes"].values())


def test_figure8_with_count_old_term_overwrites_a_committed_entry():
    sim = run("figure8_bug")
    assert "state_machine_safety" in invariants(sim)
    assert "leader_completeness" in invariants(sim)
    first = next(e for e in notes(sim, "raft.commit") if e["node"] == "n1" and e["args"]["term"] == 3)
    assert first["t"] <= 1021          # committed by counting, before the crash
    # The same script with the bug turned off is safe.
    assert run("figure8_bug", bugs=[]).violations == []


FIGURE8_NOTES = ("raft.accept_old", "raft.old_term_majority", "raft.old_term_majority.more", "raft.commit_carries",
                 "raft.commit_by_count", "raft.truncate.unsafe")


def story(sim):
    """The narration as (t, node, key, args), in trace order."""
    return [(e["t"], e["node"], e["key"], e["args"]) for e in sim.trace if e["type"] == "note"]


def first_at(sim, key, node=None, **args):
    """Position in the trace of the first note `key` (by `node`, with these args), or fail."""
    for i, e in enumerate(sim.trace):
        if e["type"] == "note" and e["key"] == key and node in (None, e["node"]) \
                and all(e["args"].get(k) == v for k, v in args.items()):
            return i
    raise AssertionError(f"no note {key} {node} {args}")


def test_figure8_narration_tells_the_old_term_entry_story():
    sim = run("figure8")
    # (c) n1, leader of term 3, passes x=2 (term 1) on to n3 and n4; it has committed nothing yet.
    passed = [(n, a["entries"], a["index"]) for t, n, k, a in story(sim) if k == "raft.accept_old" and t < 1022]
    assert passed == [("n3", "1:x=2", 3), ("n4", "1:x=2", 3)]
    # The key moment: x=2 is on a majority, then on 4 of 5 logs, and n1 does not commit it.
    told = [(n, k, a) for t, n, k, a in story(sim) if k.startswith("raft.old_term_majority") and t < 1022]
    assert told == [
        ("n1", "raft.old_term_majority", {"index": 3, "cmd": "x=2", "entry_term": 1, "term": 3, "count": 3, "n": 5}),
        ("n1", "raft.old_term_majority.more",
         {"index": 3, "cmd": "x=2", "entry_term": 1, "term": 3, "count": 4, "n": 5})]
    # The notes tell the truth at the moment they are emitted.
    at = next(t for t, n, k, a in story(sim) if k == "raft.old_term_majority.more")
    live = Simulation(from_dict({"protocol": "raft", "preset": "figure8"}))
    live.run_until(at)
    holders = [n for n in live.ids if live.disk[n]["log"][2:3] == [[1, "x=2"]]]
    assert holders == ["n1", "n2", "n3", "n4"]
    assert live.nodes["n1"].role == "leader" and all(live.nodes[n].commit_index < 3 for n in holders)
    # It is the caption while n1 is cut off and crashes: the last note before n5 restarts.
    last = [(t, k) for t, n, k, a in story(sim) if t < 1056][-1]
    assert last == (at, "raft.old_term_majority.more")
    # ... and x=2 is never committed: no commit from n1 in term 3, no state machine ever holds x=2.
    assert not [a for t, n, k, a in story(sim) if k == "raft.commit" and n == "n1" and a["term"] == 3]
    assert not [e for e in sim.trace if e["type"] == "state" and e["changes"].get("kv", {}).get("x") == "2"]
    # (d) n5 wins term 4 (n2, whose log ends in term 3, refuses it and says why) and every holder
    # deletes x=2, saying which entry goes and why that is safe.
    refused = [a for t, n, k, a in story(sim) if k == "raft.refuse_log" and n == "n2" and a["term"] == 4]
    assert refused == [{"candidate": "n5", "term": 4, "their_term": 2, "their_index": 4, "my_term": 3, "my_index": 4}]
    won = first_at(sim, "raft.elected", "n5", term=4)
    assert first_at(sim, "raft.old_term_majority.more", "n1") < won
    deleted = [(n, a["entries"]) for t, n, k, a in story(sim) if k == "raft.truncate"]
    assert deleted == [("n2", "1:x=2, 3:noop"), ("n3", "1:x=2"), ("n4", "1:x=2"), ("n1", "1:x=2, 3:noop")]
    assert first_at(sim, "raft.truncate") > won
    assert "never committed" in PROTO.strings["raft.truncate"]["en"]
    # x=3 takes its place: on a majority, not committed by counting, then committed with n5's no-op.
    assert first_at(sim, "raft.old_term_majority", "n5", cmd="x=3", entry_term=2, term=4) > first_at(sim, "raft.truncate")
    carried = [(n, a) for t, n, k, a in story(sim) if k == "raft.commit_carries"]
    assert carried == [("n5", {"index": 4, "cmd": "x=3", "entry_term": 2, "term": 4})]
    assert first_at(sim, "raft.commit_carries") > first_at(sim, "raft.old_term_majority", "n5")
    # Neither the bug's notes nor its unsafe deletion appear in the correct run.
    assert not [k for t, n, k, a in story(sim) if k in ("raft.commit_by_count", "raft.truncate.unsafe")]


def test_figure8_commit_narration_tells_its_own_ending():
    sim = run("figure8_commit")
    # n1's no-op travels with x=2: they reach a majority together, so the old-term note is never needed.
    assert not notes(sim, "raft.old_term_majority")
    carried = [(n, a) for t, n, k, a in story(sim) if k == "raft.commit_carries"]
    assert carried[0] == ("n1", {"index": 3, "cmd": "x=2", "entry_term": 1, "term": 3})
    # n5 cannot win any more: each refusal says its log (ending in term 2) is less up to date.
    refused = [(n, a["their_term"], a["my_term"]) for t, n, k, a in story(sim)
               if k == "raft.refuse_log" and a["candidate"] == "n5"]
    assert refused == [("n2", 2, 3), ("n3", 2, 3), ("n4", 2, 3)]
    assert first_at(sim, "raft.refuse_log") > first_at(sim, "raft.commit_carries")
    # What n5 loses in the end is its own uncommitted x=3, and that is safe.
    deleted = [(n, a["entries"]) for t, n, k, a in story(sim) if k == "raft.truncate"]
    assert deleted == [("n5", "2:noop, 2:x=3")]


def test_figure8_bug_narration_tells_the_commit_by_counting_then_the_overwrite():
    sim = run("figure8_bug")
    counted = [(t, n, a) for t, n, k, a in story(sim) if k == "raft.commit_by_count"]
    assert counted[0] == (1020, "n1", {"index": 2, "cmd": "x=2", "entry_term": 1, "term": 3, "count": 3, "n": 5})
    # No "not committed: older term" note: with the bug, n1 commits instead.
    assert not [k for t, n, k, a in story(sim) if k.startswith("raft.old_term_majority")]
    # The deletions of x=2 do not claim to be safe: x=2 was committed.
    assert not notes(sim, "raft.truncate")
    deleted = [(n, a["entries"]) for t, n, k, a in story(sim) if k == "raft.truncate.unsafe"]
    assert deleted == [("n2", "1:x=2"), ("n3", "1:x=2"), ("n4", "1:x=2"), ("n1", "1:x=2")]
    # Then the State Machine Safety violation: x=3 applied where n1 had applied x=2.
    smv = next(i for i, e in enumerate(sim.trace) if e["type"] == "violation"
               and e["invariant"] == "state_machine_safety")
    assert "1:x=2" in sim.trace[smv]["message"] and "2:x=3" in sim.trace[smv]["message"]
    assert first_at(sim, "raft.commit_by_count", "n1") < first_at(sim, "raft.truncate.unsafe") < smv
    assert first_at(sim, "raft.commit_by_count", "n5", cmd="x=3") < smv


@pytest.mark.parametrize("preset", [None, "first_election", "replication", "leader_crash", "split_vote",
                                    "volatile_vote"])
def test_ordinary_runs_are_not_flooded_with_figure8_narration(preset):
    sim = run(preset) if preset else run(seed=3)
    assert [e["key"] for e in sim.trace if e["type"] == "note" and e["key"] in FIGURE8_NOTES] == []


def test_old_term_majority_is_told_once_per_count_and_not_again_for_duplicates():
    node, ctx = make_node("n1", disk={"term": 1, "votedFor": "n1", "log": [[1, None], [1, "x=1"]]})
    told = []
    ctx.note = lambda key, **args: told.append((key, args))
    node.on_timer(ctx, "election")                     # term 2
    deliver(node, ctx, "n2", "RequestVoteReply", term=2, voteGranted=True)
    assert node.role == "leader" and node.log[-1] == [2, None]
    for src in ("n2", "n2", "n3", "n3"):               # each acknowledges the inherited entries twice
        deliver(node, ctx, src, "AppendEntriesReply", term=2, success=True, matchIndex=2)
    old = [(k, a["count"]) for k, a in told if k.startswith("raft.old_term_majority")]
    assert old == [("raft.old_term_majority", 2), ("raft.old_term_majority.more", 3)]
    assert node.commit_index == 0
    deliver(node, ctx, "n2", "AppendEntriesReply", term=2, success=True, matchIndex=3)
    assert node.commit_index == 3
    assert told[-2:] == [("raft.commit", {"index": 3, "term": 2}),
                         ("raft.commit_carries", {"index": 2, "cmd": "x=1", "entry_term": 1, "term": 2})]


def test_volatile_vote_gives_two_leaders_in_one_term():
    sim = run("volatile_vote")
    assert "election_safety" in invariants(sim)
    assert "one_vote_per_term" in invariants(sim)
    assert sorted(n for term, n in elected(sim) if term == 1) == ["n1", "n3"]
    safe = run("volatile_vote", bugs=[])
    assert safe.violations == []
    assert [n for term, n in elected(safe) if term == 1] == ["n1"]


def test_no_up_to_date_check_elects_a_leader_missing_committed_entries():
    sim = run("no_up_to_date_check")
    assert "leader_completeness" in invariants(sim)
    assert "state_machine_safety" in invariants(sim)
    safe = run("no_up_to_date_check", bugs=[])
    assert safe.violations == []
    assert notes(safe, "raft.refuse_log")
    assert all(v["kv"] == {"x": "1"} for v in safe.summary()["nodes"].values())


# ---------------------------------------------------------------- random fault schedules

@pytest.mark.parametrize("base, weights", [
    (None, None),                                                      # the protocol's fuzz weights
    ({"network": {"loss": 0.1, "duplicate": 0.1}}, fuzz.DEFAULT_WEIGHTS),  # lossy, duplicating network
    # Latency up to 400 ms: replies from an old term arrive after the next election has begun.
    ({"network": {"latency": [1, 400]}}, None),
    # One entry per AppendEntries, reordering and duplicates: replication and commit
    # advance in small, out-of-order steps.
    ({"params": {"max_entries": 1}, "network": {"latency": [1, 200], "duplicate": 0.2}}, None),
    ({"nodes": 3}, None),
    ({"nodes": 9}, None),
], ids=["default", "lossy", "slow", "one_entry", "three_nodes", "nine_nodes"])
def test_random_fault_schedules_are_safe(base, weights):
    for seed in range(1, 121):
        scenario, found = fuzz.random_run("raft", seed, base=base, weights=weights)
        assert found == [], (seed, found, scenario.to_json())


@pytest.mark.parametrize("base", [None, {"network": {"latency": [1, 40]}}, {"nodes": 9}],
                         ids=["default", "jittery", "nine_nodes"])
def test_after_random_faults_stop_the_cluster_converges(base):
    """Faults for 8 s, then heal and restart everyone: 12 s later one leader, all caught up."""
    judged = 0
    for seed in range(1, 41):
        scenario, found = fuzz.random_run("raft", seed, base=base, until=8000, settle=12000, eventual=True)
        assert found == [], (seed, found, scenario.to_json())
        sim = Simulation(scenario, trace=False)
        judged += sim.checker.settle_time(sim.run()) is not None
    assert judged == 40


def test_converges_flags_a_follower_that_never_learns_the_commit_index(monkeypatch):
    original = raft.RaftNode.handle_append_entries
    monkeypatch.setattr(raft.RaftNode, "handle_append_entries",
                        lambda self, ctx, src, b: original(self, ctx, src, {**b, "commitIndex": 0}))
    sim = run_windowed(until=10_000, actions=[{"at": 500, "do": "request", "node": "n2", "op": "put", "arg": "x=1"}])
    assert [v["key"] for v in sim.violations] == ["viol.converges.behind"]
    assert sim.violations[0]["eventual"] is True


def test_converges_is_not_judged_when_timeouts_cannot_separate_candidates():
    sim = run(until=20_000, params={"election_spread": 0})
    assert sim.checker.settle_time(sim) is None and sim.violations == []


@pytest.mark.parametrize("bug", [b.name for b in PROTO.bugs])
def test_each_bug_is_found_and_replays(bug):
    scenario, found, _runs = fuzz.check("raft", bugs=[bug], runs=300)
    assert scenario is not None, f"{bug} not found in 300 runs"
    assert found
    again = fuzz.violations_of(scenario)
    assert again and again[0]["invariant"] == found[0]["invariant"]
    assert any(v["invariant"] == found[0]["invariant"] for v in fuzz.violations_of(from_dict(scenario.to_dict())))


def test_every_violation_message_is_translated_from_its_own_template():
    checker = PROTO.checker_class
    # The kit's log-safety findings, each under one of the checker's invariants ...
    assert {inv for inv, _ in checker.VIOLATIONS.values()} == set(checker.invariants) - {"converges"}
    declared = {key for _, key in checker.VIOLATIONS.values()}
    # ... and Raft's own (converges), named in its checker.
    source = Path(raft_checker.__file__).read_text(encoding="utf-8")
    own = set(re.findall(r'\.violation\(\s*"\w+",\s*"([^"]+)"', source))
    assert own == {"viol.converges.no_leader", "viol.converges.behind"}
    declared |= own
    one_message = {f"viol.{name}" for name in checker.invariants if name != "converges"}
    assert declared == one_message | {"viol.converges.no_leader", "viol.converges.behind",
                                      "viol.state_machine_safety.again"}
    emitted = []
    for p in PROTO.presets:
        emitted += run(p.name).violations
    for bug in PROTO.bugs:
        emitted += fuzz.check("raft", bugs=[bug.name], runs=300)[1]
        for seed in range(1, 15):
            emitted += fuzz.random_run("raft", seed, bugs=[bug.name])[1]
    keys = {v["key"] for v in emitted}
    assert {"viol.state_machine_safety", "viol.leader_completeness", "viol.election_safety",
            "viol.one_vote_per_term"} <= keys
    check_violation_texts(PROTO, emitted)
    for key in declared:
        args = {name: f"<{name}>" for name in placeholders(PROTO.strings[key]["en"])}
        check_violation_texts(PROTO, [violation_of(PROTO, "log_matching", key, ("n1",), **args).as_dict()])


@pytest.mark.parametrize("preset", ["figure8_bug", "volatile_vote", "no_up_to_date_check", "partitioned_leader"])
def test_the_checker_reads_only_observations_and_disks(preset):
    """Same trace, same violations, with the checker kept away from the node objects."""
    free = run(preset)
    windowed = run_windowed(preset)
    assert windowed.trace == free.trace and windowed.violations == free.violations
    bugs = next(p for p in PROTO.presets if p.name == preset).scenario.get("bugs")
    assert bool(free.violations) == bool(bugs)          # the bug presets do break something


def test_the_log_safety_checker_is_protocol_agnostic():
    source = Path(log_safety.__file__).read_text(encoding="utf-8")
    imports = [line for line in source.splitlines() if line.startswith(("from ", "import "))]
    assert imports and not [line for line in imports if "protocols" in line or "raft" in line.lower()]
    assert issubclass(PROTO.checker_class, LogSafetyChecker)
    assert not [k for k in vars(PROTO.checker_class) if k.startswith("check_") or k == "after_event"]


# ---------------------------------------------------------------- durability and clients

def test_restart_keeps_term_vote_log_but_not_commit_or_role():
    sim = Simulation(from_dict({
        "protocol": "raft", "preset": "replication",
        "actions": [{"at": 400, "do": "request", "node": "n2", "op": "put", "arg": "x=1"},
                    {"at": 800, "do": "crash", "node": "n2"}, {"at": 801, "do": "restart", "node": "n2"},
                    {"at": 800, "do": "crash", "node": "n4"}, {"at": 801, "do": "restart", "node": "n4"}],
    }), trace=True)
    sim.run_until(799)
    before = {n: sim.node_view(n) for n in ("n2", "n4")}
    assert before["n2"]["role"] == "leader" and before["n2"]["commitIndex"] == 2
    assert before["n4"]["commitIndex"] == 2 and before["n4"]["kv"] == {"x": "1"}
    sim.run_until(801)
    for n in ("n2", "n4"):
        after = sim.node_view(n)
        for f in ("term", "votedFor", "log"):
            assert after[f] == before[n][f], (n, f)
        assert after["role"] == "follower"
        assert after["commitIndex"] == 0 and after["kv"] == {} and after["leader"] is None
    assert [f.name for f in PROTO.fields if f.durable] == ["term", "votedFor", "log"]
    # The state machine is rebuilt as the commit index advances again.
    sim.run()
    assert sim.node_view("n4")["kv"] == {"x": "1"}


def test_follower_redirects_and_candidate_reports_no_leader():
    sim = run(seed=1, until=1000, actions=[
        {"at": 100, "do": "request", "node": "n3", "op": "put", "arg": "a=1"},   # before any election
        {"at": 500, "do": "request", "node": "n3", "op": "put", "arg": "a=1"},
        {"at": 600, "do": "request", "node": "n2", "op": "put", "arg": "nonsense"},
    ])
    results = [r["result"] for r in replies(sim)]
    assert results == [{"ok": False, "error": "no leader"}, {"ok": False, "redirect": "n2"},
                       {"ok": False, "error": "expected key=value"}]
    assert notes(sim, "raft.redirect")[0]["args"] == {"leader": "n2"}


def test_committed_put_is_applied_at_every_node():
    sim = run(seed=3, until=2000, actions=[{"at": 600, "do": "request", "node": n, "op": "put", "arg": f"k={n}"}
                                           for n in ("n1", "n2", "n3", "n4", "n5")])
    assert sim.violations == []
    (leader,) = leaders(sim)
    ok = [r for r in replies(sim, leader) if r["result"]["ok"]]
    assert len(ok) == 1
    for n, v in sim.summary()["nodes"].items():
        assert v["kv"] == {"k": leader}, n
        assert v["commitIndex"] == ok[0]["result"]["index"]


# ---------------------------------------------------------------- handlers in isolation

def snapshot(d):
    """What a send records of the disk (persist before send)."""
    return (d["term"], d.get("votedFor"), len(d["log"]))


def make_node(node_id="n2", bugs=(), disk=None):
    return fakectx.make_node(PROTO, node_id, ["n1", "n2", "n3"], snapshot, bugs, disk)


def append(node, ctx, prev, prev_term, entries, commit=0, term=1, src="n1"):
    return deliver(node, ctx, src, "AppendEntries", term=term, prevLogIndex=prev, prevLogTerm=prev_term,
                   entries=entries, commitIndex=commit)


def test_stale_shorter_append_entries_never_truncates():
    node, ctx = make_node()
    append(node, ctx, 0, 0, [[1, None], [1, "x=1"], [1, "y=2"]])
    assert node.log == [[1, None], [1, "x=1"], [1, "y=2"]]
    # A delayed copy of an older, shorter AppendEntries arrives afterwards.
    (reply,) = append(node, ctx, 0, 0, [[1, None]], commit=1)
    assert node.log == [[1, None], [1, "x=1"], [1, "y=2"]]
    assert reply[1] == "AppendEntriesReply" and reply[2]["success"] and reply[2]["matchIndex"] == 1
    assert node.commit_index == 1          # min(leaderCommit, last new entry), not the log's end
    # A real conflict (same index, other term) deletes the suffix.
    (reply,) = append(node, ctx, 1, 1, [[2, "z=3"]], term=2, src="n3")
    assert node.log == [[1, None], [2, "z=3"]]
    assert reply[2]["matchIndex"] == 2
    # A prev mismatch is rejected with a hint.
    (reply,) = append(node, ctx, 2, 1, [], term=2, src="n3")
    assert not reply[2]["success"] and reply[2]["rejectIndex"] == 2 and reply[2]["hint"] == 2
    (reply,) = append(node, ctx, 5, 2, [], term=2, src="n3")
    assert not reply[2]["success"] and reply[2]["hint"] == 3
    # A stale term is rejected with the current term.
    (reply,) = append(node, ctx, 0, 0, [], term=1)
    assert reply[2]["term"] == 2 and not reply[2]["success"]


def test_follower_commits_only_what_the_message_proved():
    node, ctx = make_node()
    append(node, ctx, 0, 0, [[1, None], [1, "x=1"]])           # x=1 never committed by term 1's leader
    # Term 2's leader has a different entry at index 2 and has committed it; this
    # heartbeat only proves index 1 matches, so the stale x=1 must not be applied.
    append(node, ctx, 1, 1, [], commit=2, term=2, src="n3")
    assert node.commit_index == 1 and node.kv == {}
    append(node, ctx, 1, 1, [[2, "x=2"]], commit=2, term=2, src="n3")
    assert node.commit_index == 2 and node.kv == {"x": "2"}


def test_votes_are_persisted_before_the_reply_and_given_once_per_term():
    node, ctx = make_node()
    append(node, ctx, 0, 0, [[1, None], [1, "x=1"]])
    # A candidate with a shorter log in a higher term: adopt the term, refuse the vote.
    (r,) = deliver(node, ctx, "n3", "RequestVote", term=2, lastLogTerm=1, lastLogIndex=1)
    assert r[2] == {"term": 2, "voteGranted": False} and node.disk["term"] == 2
    (r,) = deliver(node, ctx, "n1", "RequestVote", term=2, lastLogTerm=1, lastLogIndex=2)
    assert r[2]["voteGranted"] and r[3] == (2, "n1", 2)        # on disk when the reply left
    (r,) = deliver(node, ctx, "n3", "RequestVote", term=2, lastLogTerm=1, lastLogIndex=5)
    assert not r[2]["voteGranted"]                              # already voted this term
    (r,) = deliver(node, ctx, "n1", "RequestVote", term=2, lastLogTerm=1, lastLogIndex=2)
    assert r[2]["voteGranted"]                                  # a retry from the same candidate
    # After a restart the vote is still there...
    again, ctx2 = make_node(disk=node.disk)
    (r,) = deliver(again, ctx2, "n3", "RequestVote", term=2, lastLogTerm=1, lastLogIndex=5)
    assert not r[2]["voteGranted"]
    # ... unless it was never written (the volatile_vote bug).
    buggy, bctx = make_node(bugs=["volatile_vote"])
    deliver(buggy, bctx, "n1", "RequestVote", term=2, lastLogTerm=0, lastLogIndex=0)
    restarted, rctx = make_node(bugs=["volatile_vote"], disk=buggy.disk)
    (r,) = deliver(restarted, rctx, "n3", "RequestVote", term=2, lastLogTerm=0, lastLogIndex=0)
    assert r[2]["voteGranted"]


def test_candidate_persists_its_term_and_self_vote_before_asking():
    node, ctx = make_node()
    ctx.sent.clear()
    node.on_timer(ctx, "election")
    asks = [s for s in ctx.sent if s[1] == "RequestVote"]
    assert [s[0] for s in asks] == ["n1", "n3"]
    assert all(s[2]["term"] == 1 and s[3][:2] == (1, "n2") for s in asks)
    assert node.role == "candidate" and "heartbeat" in ctx.timers
    # Retry only the peer that has not answered.
    deliver(node, ctx, "n1", "RequestVoteReply", term=1, voteGranted=False)
    ctx.sent.clear()
    node.on_timer(ctx, "heartbeat")
    assert [s[0] for s in ctx.sent] == ["n3"]
    # A majority makes a leader, whose no-op is on disk before AppendEntries goes out.
    deliver(node, ctx, "n3", "RequestVoteReply", term=1, voteGranted=True)
    assert node.role == "leader" and node.log == [[1, None]]
    assert {s[0] for s in ctx.sent if s[1] == "AppendEntries"} == {"n1", "n3"}
    assert all(s[3][2] == 1 for s in ctx.sent if s[1] == "AppendEntries")
    assert "election" not in ctx.timers


def test_the_node_reports_each_log_change_and_its_public_facts():
    node, ctx = make_node()
    obs = node.observe()
    assert {k: obs[k] for k in ("role", "term", "voted_for", "log", "last_applied")} == {
        "role": "follower", "term": 0, "voted_for": None, "log": [], "last_applied": 0}
    append(node, ctx, 0, 0, [[1, None], [1, "x=1"]])
    assert ctx.facts == [("log_changed", {"index": 1})]
    ctx.facts.clear()
    append(node, ctx, 0, 0, [[1, None]], commit=1)              # nothing new: nothing to report
    assert ctx.facts == []
    append(node, ctx, 1, 1, [[2, "z=3"]], term=2, src="n3")     # overwrites from index 2
    assert ctx.facts == [("log_changed", {"index": 2})]
    obs = node.observe()
    assert (obs["term"], obs["log"], obs["last_applied"]) == (2, [[1, None], [2, "z=3"]], 1)
    # A leader's no-op and a client's put are reported too.
    leader, lctx = make_node("n1", disk={"term": 1, "votedFor": "n1", "log": [[1, None]]})
    leader.on_timer(lctx, "election")
    deliver(leader, lctx, "n2", "RequestVoteReply", term=2, voteGranted=True)
    leader.on_request(lctx, "put", "y=1")
    assert lctx.facts == [("log_changed", {"index": 2}), ("log_changed", {"index": 3})]
    assert (leader.observe()["role"], leader.observe()["voted_for"]) == ("leader", "n1")


def test_leader_commits_only_current_term_entries_by_counting():
    for bugs, expect in (((), 0), (("count_old_term",), 2)):
        node, ctx = make_node("n1", bugs=bugs, disk={"term": 1, "votedFor": "n1",
                                                     "log": [[1, None], [1, "x=1"]]})
        node.on_timer(ctx, "election")                     # term 2
        deliver(node, ctx, "n2", "RequestVoteReply", term=2, voteGranted=True)
        assert node.role == "leader"
        # n2 acknowledges only the two term-1 entries.
        deliver(node, ctx, "n2", "AppendEntriesReply", term=2, success=True, matchIndex=2)
        assert node.commit_index == expect, bugs


# ---------------------------------------------------------------- declarations

def test_translations_cover_every_key():
    keys = ["summary"]
    keys += [f"role.{r}" for r in PROTO.roles]
    keys += [f"field.{f.name}" for f in PROTO.fields]
    keys += [f"op.{o.name}" for o in PROTO.operations]
    keys += [f"timer.{t}" for t in PROTO.timers]
    keys += [f"param.{p.name}" for p in PROTO.params]
    keys += [f"bug.{b.name}" for b in PROTO.bugs]
    keys += [f"inv.{name}" for name in PROTO.checker_class.invariants]
    for p in PROTO.presets:
        keys += [f"preset.{p.name}", f"preset.{p.name}.lesson"]
    source = Path(raft_node.__file__).read_text(encoding="utf-8")
    emitted = set(re.findall(r'ctx\.note\("([^"]+)"', source))
    assert len(emitted) >= 10
    keys += sorted(emitted)
    # Message kinds: the page looks a kind up as strings["kind.<Kind>"].
    kinds = sorted(set(re.findall(r'ctx\.send\([^,]+, "([A-Za-z]+)"', source)))
    assert kinds == ["AppendEntries", "AppendEntriesReply", "RequestVote", "RequestVoteReply"]
    keys += [f"kind.{k}" for k in kinds]
    assert [k for k in PROTO.strings if k.startswith("msg.")] == []
    for k in keys:
        assert k in PROTO.strings, k
        assert set(PROTO.strings[k]) == {"en", "zh"}, k
        en, zh = PROTO.strings[k]["en"], PROTO.strings[k]["zh"]
        assert en and zh and sorted(re.findall(r"\{(\w+)\}", en)) == sorted(re.findall(r"\{(\w+)\}", zh)), k
    for p in PROTO.presets:
        assert PROTO.strings[f"preset.{p.name}.lesson"]["en"] == p.lesson


def test_declarations_write_no_english():
    """English is written once, in strings.toml: the declarations leave every text empty."""
    cls = type(PROTO)
    assert (cls.title, cls.summary) == ("", "")
    assert [p.help for p in cls.params] == [""] * len(cls.params)
    assert [b.help for b in cls.bugs] == [""] * len(cls.bugs)
    assert [o.help for o in cls.operations] == [""] * len(cls.operations)
    assert [f.help for f in cls.fields] == [""] * len(cls.fields)
    assert [(p.title, p.lesson) for p in cls.presets] == [("", "")] * len(cls.presets)
    assert all(isinstance(name, str) for name in PROTO.checker_class.invariants)
    d = PROTO.describe()
    en = {k: v["en"] for k, v in PROTO.strings.items()}
    assert (d["title"], d["summary"]) == (en["title"], en["summary"])
    assert all(p["help"] == en[f"param.{p['name']}.help"] for p in d["params"])
    assert all(b["help"] == en[f"bug.{b['name']}"] for b in d["bugs"])
    assert all((p["title"], p["lesson"]) == (en[f"preset.{p['name']}"], en[f"preset.{p['name']}.lesson"])
               for p in d["presets"])
    assert all(i["help"] == en[f"inv.{i['name']}"] for i in d["invariants"])


def test_declarations():
    d = PROTO.describe()
    assert (d["name"], d["title"], d["category"]) == ("raft", "Raft", "consensus")
    assert d["nodes"] == {"default": 5, "min": 3, "max": 9}
    assert set(d["roles"]) == {"follower", "candidate", "leader"}
    assert d["timers"] == ["election", "heartbeat"]
    names = [i["name"] for i in d["invariants"]]
    for need in ("election_safety", "log_matching", "leader_completeness", "state_machine_safety"):
        assert need in names
    node, op, arg = PROTO.random_request(random.Random(1), ["n1", "n2", "n3"])
    assert node in ("n1", "n2", "n3") and op == "put" and re.fullmatch(r"[xyz]=\d", arg)


def test_fuzz_action_moves_are_valid_replayable_actions():
    sim = Simulation(from_dict({"protocol": "raft", "seed": 1, "until": 6000}), trace=False)
    rng = random.Random(5)
    seen = set()
    for at in range(300, 5000, 50):
        sim.run_until(at - 1)
        leaders = [n for n in sim.ids if sim.up[n] and sim.nodes[n].role == "leader"]
        got = PROTO.fuzz_action(rng, CheckerWindow(sim), at)     # it reads sim.observe, not nodes
        if got is None:
            continue
        for a in got if isinstance(got, list) else [got]:
            a = sim.add_action(a)                             # each a valid, replayable action
            seen.add(a["do"])
            if a["do"] == "request":
                assert a["node"] in leaders
            elif a["do"] == "partition":
                side = next(g for g in a["groups"] if leaders[0] in g)
                assert 2 * len(side) < len(sim.ids)           # the leader is cut off in a minority
                sim.add_action({"at": at + 1, "do": "heal"})
            elif a["do"] == "restart":
                assert a["at"] >= at + 1                      # a bounce: crash, then straight back
    assert seen == {"request", "partition", "timeout", "crash", "restart"}
    sim.run()
    assert sim.violations == []
