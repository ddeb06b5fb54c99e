"""The transaction patterns side by side (engine/schedule.py, engine/compare.py): each
pattern's Comparison turns one schedule written in shared roles and steps into the
faults it means for that pattern, says what the pattern lacks instead of guessing,
and the fault classes show each pattern's lesson in the numbers."""

import pytest

from engine import registry
from engine.compare import FAULT_CLASSES, compare, schedule_for
from engine.costs import measure
from engine.scenario import from_dict
from engine.schedule import plan
from engine.sim import Simulation

PATTERNS = ("tcc", "saga", "saga_choreo", "outbox", "mq_tx")


def run(protocol: str, schedule: dict, seed: int = 1):
    """A schedule planned for one protocol and run: its plan and its finished simulation."""
    p = plan(protocol, schedule, seed)
    sim = Simulation(from_dict(p.scenario), protocol=registry.get(protocol))
    sim.run()
    return p, sim


def kinds_by_id(sim) -> dict:
    return {e["id"]: e["kind"] for e in sim.trace if e["type"] == "send"}


def notes(sim, key: str) -> list[dict]:
    return [e for e in sim.trace if e["type"] == "note" and e["key"] == key]


def outcome(p, index: int) -> dict:
    return p.outcomes[index].as_dict()


# ---------------------------------------------------------------- (a) roles and steps become the right faults

@pytest.mark.parametrize("protocol, node, vote, votes", [
    ("tcc", "tc", "TryDone", 2),          # two branch services by default
    ("saga", "orch", "ActionDone", 3),    # three by default
])
def test_a_coordinator_crash_right_after_the_last_vote(protocol, node, vote, votes):
    sched = {"until": 3000, "items": [
        {"at": 100, "do": "request"},
        {"after": "vote", "nth": "all", "delay": 7, "do": "crash", "role": "coordinator"},
        {"at": 2000, "do": "restart", "role": "coordinator"}]}
    p, sim = run(protocol, sched)
    assert not p.missing
    kinds = kinds_by_id(sim)
    arrived = [e["t"] for e in sim.trace if e["type"] == "deliver" and kinds[e["id"]] == vote]
    assert len(arrived) >= votes
    crashes = [(e["node"], e["t"]) for e in sim.trace if e["type"] == "crash"]
    restarts = [(e["node"], e["t"]) for e in sim.trace if e["type"] == "restart"]
    assert crashes == [(node, arrived[votes - 1] + 7)]
    assert restarts == [(node, 2000)]


@pytest.mark.parametrize("protocol, kinds, recovery", [
    ("tcc", {"Confirm", "Cancel"}, "tcc.retry"),          # the TC calls the branch again
    ("outbox", {"Publish"}, "outbox.republish"),          # the row is still NEW: published again
    ("mq_tx", {"EndTransaction"}, "mq_tx.check"),         # the broker checks back
])
def test_a_dropping_the_first_decision_drops_that_kind_and_the_pattern_recovers(protocol, kinds, recovery):
    p, sim = run(protocol, {"until": 4000, "items": [{"at": 100, "do": "request"},
                                                     {"do": "drop", "step": "decision", "nth": 1}]})
    assert not p.missing
    sent = kinds_by_id(sim)
    first = min(i for i, k in sent.items() if k in kinds)
    dropped = [e["id"] for e in sim.trace if e["type"] == "drop" and e.get("reason") == "user"]
    assert dropped == [first]
    assert notes(sim, recovery), f"{protocol}: no {recovery} after its decision was lost"
    assert measure(sim, p.starts)["violations"] == 0


def test_a_role_references_follow_node_order():
    # Participants are the services that apply the order's effects, in node order.
    def crashed(protocol, role):
        p, sim = run(protocol, {"until": 1000, "items": [{"at": 300, "do": "crash", "role": role}]})
        assert not p.missing, (protocol, role)
        return [e["node"] for e in sim.trace if e["type"] == "crash"]
    assert crashed("tcc", "participant:2") == ["stock"]
    assert crashed("tcc", "initiator") == ["app"]
    assert crashed("saga_choreo", "participant:1") == ["pay"]
    assert crashed("saga_choreo", "initiator") == ["order"]
    assert crashed("outbox", "participant:1") == ["pay"]
    assert crashed("outbox", "consumer:1") == ["stock"]
    assert crashed("outbox", "relay") == ["relay"]
    assert crashed("mq_tx", "participant:1") == ["db"]
    assert crashed("mq_tx", "producer:2") == ["p2"]
    assert crashed("mq_tx", "broker") == ["broker"]


def test_a_choreographed_participant_crash_lands_after_the_first_event():
    sched = {"until": 3000, "items": [
        {"at": 100, "do": "request"},
        {"after": "vote", "nth": 1, "delay": 3, "do": "crash", "role": "participant:2"},
        {"at": 1000, "do": "restart", "role": "participant:2"}]}
    _, sim = run("saga_choreo", sched)
    kinds = kinds_by_id(sim)
    first_event = next(e["t"] for e in sim.trace if e["type"] == "deliver" and kinds[e["id"]] == "StepDone")
    assert [(e["node"], e["t"]) for e in sim.trace if e["type"] == "crash"] == [("stock", first_event + 3)]
    # stock's inbox and pay's outbox carry the order through the crash: it completes.
    assert notes(sim, "saga_choreo.completed")


def test_a_business_failure_makes_the_named_service_refuse():
    _, sim = run("saga", {"until": 3000, "items": [{"at": 50, "do": "fail", "role": "participant:2"},
                                                   {"at": 100, "do": "request"}]})
    assert next((e["node"], e["op"]) for e in sim.trace if e["type"] == "request") == ("stock", "fail_next")
    assert notes(sim, "biz.stock.refused") and notes(sim, "biz.pay.compensation")


# ---------------------------------------------------------------- (b) what a pattern lacks is reported

@pytest.mark.parametrize("protocol", ["outbox", "mq_tx", "saga_choreo"])
def test_b_patterns_without_a_coordinator_say_so(protocol):
    p = plan(protocol, schedule_for("coordinator_crash", 0, "transactions"))
    crash, restart = outcome(p, 1), outcome(p, 2)
    assert crash["status"] == restart["status"] == "no_role"
    assert crash["what"] == restart["what"] == "coordinator"
    assert not [a for a in p.scenario["actions"] if a["do"] in ("crash", "restart")]


def test_b_missing_steps_and_impossible_refusals_are_reported():
    # A saga has no decision message; the outbox has no first phase to answer.
    for protocol in ("saga", "saga_choreo"):
        p = plan(protocol, {"items": [{"at": 100, "do": "request"}, {"do": "drop", "step": "decision"}]})
        assert outcome(p, 1) == {"index": 1, "do": "drop", "status": "no_step", "what": "decision"}
    p = plan("outbox", {"items": [{"after": "vote", "do": "crash", "role": "participant:2"},
                                  {"at": 2000, "do": "restart", "role": "participant:2"}]})
    assert [o.status for o in p.outcomes] == ["no_step", "no_step"]       # the restart falls with its crash
    # The outbox's consumers never refuse (the order is paid): a refusal there is not faked.
    for protocol in ("outbox", "mq_tx"):
        p = plan(protocol, {"items": [{"at": 50, "do": "fail", "role": "participant:2"}]})
        o = outcome(p, 0)
        assert o["status"] == "unresolved" and "stock" in o["what"] and "cannot fail_next" in o["what"]
        assert p.scenario["actions"] == []


# ---------------------------------------------------------------- (c) the lessons, in the numbers

def medians(result: dict) -> dict:
    return {(r["faults"], r["protocol"]): {m: (s["median"] if s else None) for m, s in r["metrics"].items()}
            for r in result["rows"]}


def test_c_business_failure_tcc_cancels_frozen_funds_saga_compensates_spent_ones():
    m = medians(compare(["tcc", "saga", "saga_choreo"], ["none", "business_failure"], runs=3))
    tcc, saga, choreo = (m[("business_failure", p)] for p in ("tcc", "saga", "saga_choreo"))
    assert tcc["compensations"] > 0 and tcc["held_ms"] > 0
    for pattern in (saga, choreo):
        assert pattern["compensations"] > 0 and pattern["held_ms"] == 0
    for p in ("tcc", "saga", "saga_choreo"):
        assert m[("none", p)]["compensations"] == 0


@pytest.mark.parametrize("protocol", ["outbox", "mq_tx"])
def test_c_a_refusal_before_the_local_transaction_leaves_no_effect(protocol):
    sched = {"until": 3000, "items": [{"at": 50, "do": "fail", "role": "participant:1"},
                                      {"at": 100, "do": "request"}]}
    p, sim = run(protocol, sched)
    assert not p.missing
    costs = measure(sim, p.starts)
    assert costs["compensations"] == 0 and costs["held_ms"] == 0 and costs["settled_ms"] == 0
    effects = [e for e in sim.trace if e["type"] == "state" and "books" in e["changes"] and e["t"] > 0]
    assert effects == []                       # nobody's books moved: nothing to undo
    assert "Deliver" not in kinds_by_id(sim).values()


def test_c_duplicates_are_absorbed_where_the_pattern_has_fences_or_inboxes():
    m = medians(compare(["tcc", "outbox", "mq_tx"], ["none", "duplicate"], runs=3))
    for p in ("tcc", "outbox", "mq_tx"):
        assert m[("duplicate", p)]["duplicates"] > 0, p
        assert m[("none", p)]["duplicates"] == 0, p


def test_c_no_violations_in_any_fault_class():
    result = compare(list(PATTERNS), list(FAULT_CLASSES), runs=3)
    bad = [(r["faults"], r["protocol"], r["metrics"]["violations"]) for r in result["rows"]
           if r["metrics"]["violations"]["p95"] != 0]
    assert bad == []
    assert len(result["rows"]) == len(PATTERNS) * len(FAULT_CLASSES)


def test_c_a_crashed_db_leaves_some_customers_unanswered_and_the_table_shows_it():
    # db down when its local transaction arrives: the producer can only answer UNKNOWN (the
    # check-back settles it later, out of the customer's sight). served's bad tail is its low end.
    row = compare(["mq_tx"], ["participant_crash"], runs=8)["rows"][0]
    served = row["metrics"]["served"]
    assert served["median"] == 1 and served["p95"] == 0.5
