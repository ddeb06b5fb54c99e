"""Consensus protocols side by side: role-based faults hit the real leader, step-based
drops hit the real replication message, and the costs tell an election from a calm run."""

import pytest

from engine.compare import FAMILY_BASE, compare, family_of
from engine.protocols import registry
from engine.scenario import from_dict
from engine.schedule import plan
from engine.sim import Simulation

LEADER_ROLE = {"raft": "leader", "zab": "leading"}
REPLICATE_KIND = {"raft": "AppendEntries", "zab": "PROPOSE"}
THREE = FAMILY_BASE["consensus"]


def _run(scenario: dict) -> Simulation:
    sim = Simulation(from_dict(scenario))
    sim.run()
    return sim


def _role_before(sim: Simulation, node: str, t: int) -> str | None:
    """The role `node` showed in its view just before time t."""
    role = None
    for ev in sim.trace:
        if ev["t"] >= t:
            break
        if ev["type"] == "state" and ev["node"] == node and "role" in ev["changes"]:
            role = ev["changes"]["role"]
    return role


@pytest.mark.parametrize("name", ["raft", "zab"])
def test_crashing_the_leader_hits_whoever_leads_at_that_moment(name):
    # The second crash comes after a new leader took over: it must find that one, and
    # the restart in between must bring back the node that crashed first.
    schedule = {"until": 6000, "items": [
        {"at": 1000, "do": "crash", "role": "leader"},
        {"at": 2500, "do": "restart", "role": "leader"},
        {"at": 4000, "do": "crash", "role": "leader"}]}
    p = plan(name, schedule, seed=3, base=THREE)
    assert [o.status for o in p.outcomes] == ["applied"] * 3
    first, restart, second = p.scenario["actions"]
    assert (first["do"], restart["do"], second["do"]) == ("crash", "restart", "crash")
    assert restart["node"] == first["node"]
    assert second["node"] != first["node"]
    sim = _run(p.scenario)
    for action in (first, second):
        assert _role_before(sim, action["node"], action["at"]) == LEADER_ROLE[name]
    assert not sim.violations


@pytest.mark.parametrize("name", ["raft", "zab"])
def test_dropping_a_replicate_message_loses_the_write_on_its_way(name):
    schedule = {"until": 3000, "items": [
        {"at": 1000, "do": "request", "arg": "x=7"},
        {"at": 1000, "do": "drop", "step": "replicate", "nth": 1}]}
    p = plan(name, schedule, seed=1, base=THREE)
    drop = p.scenario["actions"][1]
    assert drop["do"] == "drop"
    sim = _run(p.scenario)
    sent = next(ev for ev in sim.trace if ev["type"] == "send" and ev["id"] == drop["msg"])
    assert sent["kind"] == REPLICATE_KIND[name]
    assert "x=7" in str(sent["body"])          # the write itself, not an idle heartbeat
    assert any(ev["type"] == "drop" and ev["id"] == drop["msg"] for ev in sim.trace)


def test_a_leader_crash_costs_leaderless_time_and_a_calm_run_none():
    result = compare(["raft", "zab", "vr"], ["none", "coordinator_crash"], runs=3)
    rows = {(r["faults"], r["protocol"]): r["metrics"] for r in result["rows"]}
    for name in ("raft", "zab", "vr"):
        calm, crash = rows["none", name], rows["coordinator_crash", name]
        assert calm["leaderless_ms"]["p95"] == 0
        assert calm["served"]["median"] == 1
        assert crash["leaderless_ms"]["median"] > 0
        assert calm["violations"]["p95"] == crash["violations"]["p95"] == 0


def test_a_cut_off_raft_leader_keeps_its_clients_waiting_while_vr_clients_move_on():
    # Raft's isolated leader still holds the role and swallows the writes sent to it;
    # a VR client times out and finds the new primary.
    result = compare(["raft", "vr"], ["partition"], runs=3)
    served = {r["protocol"]: r["metrics"]["served"]["median"] for r in result["rows"]}
    assert served["raft"] < 1
    assert served["vr"] == 1


def test_cap_takes_the_replicated_writes_fault_classes():
    assert family_of(registry.get("cap")) == "consensus"
    assert family_of(registry.get("2pc")) == "transactions"
