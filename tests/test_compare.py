"""Role-based fault schedules, costs read from traces, and `python -m engine compare`,
on the two atomic-commit protocols (the other families have their own files)."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import ScenarioError, from_dict
from engine.cli import main
from engine.compare import FAULT_CLASSES, compare, run_one, schedule_for, table
from engine.schedule import plan, validate
from engine.sim import Simulation

ROOT = Path(__file__).resolve().parents[1]

CRASH_AFTER_VOTES = {"until": 6500, "items": [
    {"at": 100, "do": "request"},
    {"after": "vote", "nth": "all", "delay": 5, "do": "crash", "role": "coordinator"},
    {"at": 2165, "do": "restart", "role": "coordinator"},
    {"at": 2170, "do": "request"}]}


def traced(protocol: str, schedule: dict, seed: int = 1):
    p = plan(protocol, schedule, seed)
    sim = Simulation(from_dict(p.scenario))
    sim.run()
    return p, sim.trace


def kinds_by_id(trace) -> dict[int, str]:
    return {ev["id"]: ev["kind"] for ev in trace if ev["type"] == "send"}


@pytest.mark.parametrize("protocol,vote_kind", [("2pc", "Vote"), ("3pc", "Vote")])
def test_crash_the_coordinator_after_the_last_vote(protocol, vote_kind):
    p, trace = traced(protocol, CRASH_AFTER_VOTES)
    ids = kinds_by_id(trace)
    votes = [ev["t"] for ev in trace if ev["type"] == "deliver" and ids.get(ev["id"]) == vote_kind]
    crashes = [(ev["t"], ev["node"]) for ev in trace if ev["type"] == "crash"]
    restarts = [(ev["t"], ev["node"]) for ev in trace if ev["type"] == "restart"]
    # Three participants: the crash is 5 ms after the third vote arrived, at the coordinator.
    assert len(votes) >= 3
    assert crashes == [(votes[2] + 5, "c")]
    assert restarts == [(2165, "c")]
    assert [o.status for o in p.outcomes] == ["applied"] * 4
    assert p.outcomes[1].nodes == ["c"] and p.outcomes[1].at == votes[2] + 5
    requests = [ev for ev in trace if ev["type"] == "request"]
    assert [(ev["t"], ev["node"], ev["op"]) for ev in requests] == [(100, "c", "begin"), (2170, "c", "begin")]


def test_one_schedule_drops_each_protocols_own_decision_message():
    sched = {"until": 4000, "items": [{"at": 100, "do": "request"},
                                      {"do": "drop", "step": "decision", "nth": 1, "to": "participant:2"}]}
    for protocol, kinds in (("2pc", {"Commit", "Abort"}), ("3pc", {"DoCommit", "Abort"})):
        _, trace = traced(protocol, sched)
        ids = kinds_by_id(trace)
        sends = {ev["id"]: ev for ev in trace if ev["type"] == "send"}
        drops = [ev for ev in trace if ev["type"] == "drop" and ev["reason"] == "user"]
        assert len(drops) == 1, protocol
        dropped = sends[drops[0]["id"]]
        assert ids[dropped["id"]] in kinds and dropped["dst"] == "p2", (protocol, dropped)
        # and it was the first such message to p2
        first = min(i for i, ev in sends.items() if ev["kind"] in kinds and ev["dst"] == "p2")
        assert dropped["id"] == first


def test_isolate_the_coordinator_and_heal():
    sched = {"until": 5000, "items": [{"at": 100, "do": "request"},
                                      {"after": "prepare", "nth": 1, "delay": 2, "do": "partition",
                                       "isolate": "coordinator"},
                                      {"at": 1500, "do": "heal"}]}
    for protocol in ("2pc", "3pc"):
        _, trace = traced(protocol, sched)
        parts = [ev for ev in trace if ev["type"] == "partition"]
        assert len(parts) == 1
        assert sorted(map(sorted, parts[0]["groups"])) == [["c"], ["p1", "p2", "p3"]]
        assert [ev["t"] for ev in trace if ev["type"] == "heal"] == [1500]


def test_a_role_or_step_the_protocol_lacks_is_reported_and_nothing_is_guessed():
    sched = {"until": 3000, "items": [{"at": 100, "do": "request"},
                                      {"at": 500, "do": "crash", "role": "leader"},
                                      {"do": "drop", "step": "replicate", "nth": 1}]}
    p, trace = traced("2pc", sched)
    assert [(o.status, o.what) for o in p.outcomes[1:]] == [("no_role", "leader"), ("no_step", "replicate")]
    assert not [ev for ev in trace if ev["type"] in ("crash", "drop")]
    assert len(p.scenario["actions"]) == 1


def test_a_role_binds_to_one_node_and_rebind_reads_it_afresh():
    sched = {"until": 4000, "items": [{"at": 100, "do": "crash", "role": "participant:2"},
                                      {"at": 200, "do": "crash", "role": "participant:2", "rebind": True},
                                      {"at": 300, "do": "restart", "role": "participant:2"}]}
    p = plan("2pc", sched)
    # p2 crashed, so the second crash reads "the second running participant" afresh: p3;
    # and the restart uses that binding.
    assert [a["node"] for a in p.scenario["actions"]] == ["p2", "p3", "p3"]


def test_a_business_failure_by_parameter_makes_that_participant_vote_no():
    sched = {"until": 3000, "items": [{"at": 50, "do": "fail", "role": "participant:3"},
                                      {"at": 100, "do": "request"}]}
    p, trace = traced("2pc", sched)
    assert p.scenario["params"] == {"no_voter": 3}
    assert any(ev["type"] == "note" and ev["key"] == "2pc.decided" and ev["args"]["decision"] == "ABORT"
               for ev in trace)


@pytest.mark.parametrize("bad,words", [
    ([], "JSON object"),
    ({"items": [{"do": "explode", "at": 1}]}, "do must be one of"),
    ({"items": [{"do": "crash", "role": "c"}]}, "exactly one of at"),
    ({"items": [{"do": "crash", "at": 5, "after": "vote", "role": "c"}]}, "exactly one of at"),
    ({"items": [{"do": "drop", "after": "vote", "step": "decision"}]}, "by step and nth"),
    ({"items": [{"do": "drop", "nth": 1}]}, "step"),
    ({"items": [{"do": "crash", "at": 5, "role": "co ord"}]}, "not a role name"),
    ({"items": [{"do": "partition", "at": 5}]}, "isolate"),
    ({"items": [{"do": "heal", "at": 5, "zap": 1}]}, "unknown field"),
    ({"until": 10**9}, "until"),
    ({"items": [{"do": "heal", "at": i} for i in range(41)]}, "at most 40"),
])
def test_bad_schedules_get_one_clear_sentence(bad, words):
    with pytest.raises(ScenarioError, match=words):
        validate(bad)


def test_items_must_keep_time_order():
    sched = {"items": [{"at": 900, "do": "heal"}, {"at": 100, "do": "request"}]}
    with pytest.raises(ScenarioError, match="time order"):
        plan("2pc", sched)


def test_costs_show_2pc_blocking_where_3pc_decides():
    two = run_one("2pc", CRASH_AFTER_VOTES, 1)["costs"]
    three = run_one("3pc", CRASH_AFTER_VOTES, 1)["costs"]
    # 2PC's participants wait for the coordinator (back at 2165); 3PC's terminate on their own.
    assert two["decided_ms"] >= 2165 - 100 and three["decided_ms"] < 1500
    assert two["blocked_ms"] > 2 * three["blocked_ms"] > 0
    assert two["held_ms"] > three["held_ms"]
    assert two["violations"] == three["violations"] == 0
    assert two["served"] == three["served"] == 1.0
    # What does not apply to atomic commit is None, not 0.
    assert two["compensations"] is None and two["leaderless_ms"] is None


def test_without_faults_3pc_pays_one_more_round():
    none = {"until": 3000, "items": [{"at": 100, "do": "request"}]}
    two = run_one("2pc", none, 1)["costs"]
    three = run_one("3pc", none, 1)["costs"]
    assert three["messages"] - two["messages"] == 6      # PreCommit and Ack to and from three participants
    assert three["writes"] > two["writes"]
    assert three["decided_ms"] > two["decided_ms"]
    assert two["settled_ms"] is not None and two["blocked_ms"] > 0


def test_every_fault_class_makes_a_valid_schedule_for_both_families():
    for cls, fc in FAULT_CLASSES.items():
        for family in fc.families:
            for i in range(5):
                s = validate(schedule_for(cls, i, family))
                assert s["items"], (cls, family)
    assert schedule_for("partition", 3, "consensus") == schedule_for("partition", 3, "consensus")
    with pytest.raises(ScenarioError, match="unknown fault class"):
        schedule_for("meteor", 0, "transactions")


def test_compare_gives_medians_and_p95_and_a_table():
    result = compare(["2pc", "3pc"], ["none", "coordinator_crash"], runs=4, seed=3)
    rows = {(r["faults"], r["protocol"]): r for r in result["rows"]}
    assert set(rows) == {(f, p) for f in ("none", "coordinator_crash") for p in ("2pc", "3pc")}
    crash2, crash3 = rows["coordinator_crash", "2pc"]["metrics"], rows["coordinator_crash", "3pc"]["metrics"]
    assert crash2["decided_ms"]["median"] > crash3["decided_ms"]["median"]
    assert crash2["decided_ms"]["p95"] >= crash2["decided_ms"]["median"]
    assert rows["none", "2pc"]["metrics"]["compensations"] is None
    text = table(result)
    assert text.splitlines()[0].split()[:3] == ["faults", "protocol", "msgs"]
    assert "coordinator_crash  2pc" in text


def test_cli_compare_prints_a_table_and_json():
    out, err = io.StringIO(), io.StringIO()
    assert main(["compare", "--protocols", "2pc,3pc", "--faults", "none", "--runs", "2"], out, err) == 0
    assert [line.split()[:2] for line in out.getvalue().splitlines()[2:4]] == [["none", "2pc"], ["none", "3pc"]]
    out = io.StringIO()
    assert main(["compare", "--protocols", "2pc", "--faults", "none", "--runs", "2", "--json"], out, err) == 0
    data = json.loads(out.getvalue())
    assert data["runs"] == 2 and data["rows"][0]["metrics"]["messages"]["median"] > 0
    err = io.StringIO()
    assert main(["compare", "--protocols", "2pc", "--faults", "meteor", "--runs", "2"], io.StringIO(), err) == 2
    assert "unknown fault class" in err.getvalue()
    err = io.StringIO()
    assert main(["compare", "--protocols", "nope"], io.StringIO(), err) == 2
    assert "unknown protocol" in err.getvalue()


def test_cli_compare_runs_one_schedule_file(tmp_path):
    f = tmp_path / "s.json"
    f.write_text(json.dumps({"until": 3000, "items": [{"at": 100, "do": "request"},
                                                      {"at": 120, "do": "crash", "role": "leader"}]}))
    out = io.StringIO()
    assert main(["compare", "--protocols", "2pc,3pc", "--schedule", str(f)], out, io.StringIO()) == 0
    assert out.getvalue().count("item 2 (crash): no_role leader") == 2


def test_compare_is_the_same_bytes_under_other_hash_seeds():
    cmd = [sys.executable, "-m", "engine", "compare", "--protocols", "2pc,3pc",
           "--faults", "partition,duplicate", "--runs", "3", "--json"]
    outs = {subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, check=True,
                           env={**os.environ, "PYTHONHASHSEED": s}).stdout for s in ("0", "4242")}
    assert len(outs) == 1


@pytest.mark.parametrize("protocol,cls,i", [
    ("2pc", "coordinator_crash", 0), ("3pc", "message_loss", 1), ("2pc", "business_failure", 2),
    ("tcc", "duplicate", 0), ("saga", "partition", 3), ("raft", "coordinator_crash", 1),
    ("zab", "message_loss", 2), ("vr", "partition", 0)])
def test_the_planners_live_run_is_the_replay_of_its_scenario(protocol, cls, i):
    """Planning adds each action live to one run; costs read that run. It must be the very
    run the plan's scenario replays to (and so the run its share link opens)."""
    from engine.compare import FAMILY_BASE, family_of
    from engine.protocols import registry
    family = family_of(registry.get(protocol))
    p = plan(protocol, schedule_for(cls, i, family), 7 + i, FAMILY_BASE.get(family))
    replay = Simulation(from_dict(p.scenario))
    replay.run()
    assert p.sim.trace == replay.trace
    assert p.sim.violations == replay.violations


def test_a_run_that_cannot_be_planned_is_noted_and_the_table_goes_on(monkeypatch):
    """A step that comes after the item listed below it cannot be placed as written: that run
    is left out and said, the other runs and protocols are still measured."""
    from engine import compare as cmp

    def late(r, family):
        return {"until": 4000, "items": [{"at": 100, "do": "request"},
                                         {"after": "ack", "nth": 1, "delay": 1, "do": "crash", "role": "participant"},
                                         {"at": 150, "do": "heal"}]}
    monkeypatch.setitem(cmp.FAULT_CLASSES, "late", cmp.FaultClass("late", late, ("transactions",)))
    result = compare(["2pc"], ["late", "none"], runs=2)
    late_row, none_row = result["rows"]
    assert list(late_row["missing"]) == [k for k in late_row["missing"] if k.startswith("unplanned:")]
    assert sum(late_row["missing"].values()) == 2 and "time order" in next(iter(late_row["missing"]))
    assert none_row["metrics"]["messages"]["median"] > 0
    assert "could not place" in table(result)
