"""TCC: each preset's lesson, the fence's three answers, recovery of the coordinator,
the checker (each invariant on its own), random fault schedules and the bug toggles."""

import json

import pytest

from engine import fuzz
from engine.kit import business
from engine.protocols import registry
from engine.scenario import from_dict
from engine.sim import Simulation

from .traces import books, notes, safety, sends, views

PROTO = registry.get("tcc")
FIXED = {"latency": [20, 20]}
OPENING = {s.name: s.opening() for s in business.SERVICES}


def run(**data) -> Simulation:
    return Simulation(from_dict({"protocol": "tcc", **data})).run()


def preset(name, **extra) -> Simulation:
    return Simulation(from_dict({"protocol": "tcc", "preset": name, **extra})).run()


def order(at):
    return {"at": at, "do": "request", "node": "app", "op": "order"}


def invariants(sim):
    return {v["invariant"] for v in sim.violations}


def replies(sim):
    return [e["result"] for e in sim.trace if e["type"] == "reply" and e["op"] == "order"]


# ---------------------------------------------------------------- declarations

def test_declares_initiator_coordinator_and_the_order_services():
    assert PROTO.name == "tcc" and PROTO.category == "transactions"
    assert PROTO.node_ids(2) == ["app", "tc", "pay", "stock"]
    assert PROTO.node_ids(6) == ["app", "tc", "pay", "stock", "ship", "coupon", "points", "gift"]
    assert (PROTO.nodes_min, PROTO.nodes_default, PROTO.nodes_max) == (2, 2, 6)
    desc = json.loads(json.dumps(PROTO.describe()))
    ops = {o["name"]: o["roles"] for o in desc["operations"]}
    assert ops == {"order": ["initiator"], "fail_next": ["service"], "slow_next": ["service"]}
    assert {b["name"] for b in desc["bugs"]} == {"no_barrier", "confirm_not_idempotent"}
    assert {f["name"] for f in desc["fields"] if f["durable"]} == {"next_gid", "globals", "branches", "books",
                                                                  "fence"}


def test_a_service_shows_its_books_on_the_canvas_in_both_languages():
    sim = preset("happy")
    label = views(sim)["pay"]["label"]
    assert label == ["biz.label.pay", {"balance": 70, "frozen": 0, "spent": 30}]
    assert PROTO.strings[label[0]]["en"].format(**label[1]) == "balance 70 · frozen 0 · spent 30"
    assert PROTO.strings[label[0]]["zh"].format(**label[1]) == "余额 70 · 冻结 0 · 已付 30"


# ---------------------------------------------------------------- the lessons

def test_happy_money_freezes_then_is_spent_and_every_branch_confirms():
    sim = preset("happy")
    assert sim.violations == []
    assert books(sim) == {"pay": {"balance": 70, "frozen": 0, "spent": 30},
                          "stock": {"stock": 9, "reserved": 0, "sold": 1}}
    # Between Try and Confirm the money was visibly frozen.
    frozen = [e for e in sim.trace if e["type"] == "state" and e["node"] == "pay"
              and e["changes"].get("books", {}).get("frozen") == 30]
    assert frozen
    assert views(sim)["tc"]["globals"] == {"g1": "SUCCEED"}
    assert replies(sim) == [{"gid": "g1", "result": "SUCCEEDED"}]
    # Registration comes before each Try.
    order_of = [(e["kind"], e["body"].get("branch") or e["dst"]) for e in sim.trace
                if e["type"] == "send" and e["kind"] in ("Register", "Try")]
    assert order_of == [("Register", "pay"), ("Try", "pay"), ("Register", "stock"), ("Try", "stock")]


def test_try_fails_cancels_in_reverse_order_and_stock_rolls_back_empty():
    sim = preset("try_fails")
    assert sim.violations == []
    assert [e["dst"] for e in sends(sim, "Cancel")] == ["stock", "pay"]
    assert notes(sim, "tcc.empty_rollback", node="stock") and notes(sim, "biz.pay.cancel", node="pay")
    assert books(sim) == {"pay": OPENING["pay"], "stock": OPENING["stock"]}
    assert views(sim)["tc"]["globals"] == {"g1": "FAILED"}
    assert views(sim)["stock"]["fence"] == {"g1": "SUSPENDED"}
    assert replies(sim) == [{"gid": "g1", "result": "FAILED"}]


def test_empty_rollback_a_cancel_for_a_lost_try_releases_nothing():
    sim = preset("empty_rollback")
    assert sim.violations == []
    assert [e["id"] for e in sim.trace if e["type"] == "drop"] == [9]
    assert notes(sim, "tcc.try_timeout")
    assert notes(sim, "tcc.empty_rollback", node="stock")
    assert views(sim)["stock"]["fence"] == {"g1": "SUSPENDED"}
    assert books(sim) == {"pay": OPENING["pay"], "stock": OPENING["stock"]}


def test_hanging_a_try_after_its_cancel_is_refused():
    sim = preset("hanging")
    assert sim.violations == []
    cancel_at = notes(sim, "tcc.empty_rollback", node="stock")[0]["t"]
    refused = notes(sim, "tcc.hanging_refused", node="stock")
    assert refused and refused[0]["t"] > cancel_at
    assert books(sim)["stock"] == OPENING["stock"]   # never reserved for an order that is over


def test_lost_confirm_reply_is_retried_and_spends_once():
    sim = preset("lost_confirm_reply")
    assert sim.violations == []
    assert len(sends(sim, "Confirm", dst="pay")) == 2
    assert notes(sim, "tcc.retry") and notes(sim, "tcc.confirm_again", node="pay")
    assert books(sim)["pay"] == {"balance": 70, "frozen": 0, "spent": 30}


def test_initiator_crash_leaves_funds_frozen_until_the_global_timeout_cancels():
    sim = preset("initiator_crash")
    assert sim.violations == []
    expired = notes(sim, "tcc.expired")[0]["t"]
    assert expired == 120 + PROTO.params[1].default     # Prepare arrived at 120; global_timeout later
    frozen_until = max(e["t"] for e in sim.trace if e["type"] == "state" and e["node"] == "pay"
                       and e["changes"].get("books", {}).get("frozen") == 30)
    assert frozen_until < expired    # frozen from the Try ...
    assert books(sim) == {"pay": OPENING["pay"], "stock": OPENING["stock"]}   # ... back after the timeout
    assert views(sim)["tc"]["globals"] == {"g1": "FAILED"}
    assert replies(sim) == []    # the initiator died: nobody told the customer


def test_coordinator_crash_resumes_confirming_from_its_disk():
    sim = preset("coordinator_crash")
    assert sim.violations == []
    assert notes(sim, "tcc.recover")[0]["args"] == {"gid": "g1", "status": "SUBMITTED"}
    assert notes(sim, "tcc.confirm_again", node="pay")
    assert books(sim) == {"pay": {"balance": 70, "frozen": 0, "spent": 30},
                          "stock": {"stock": 9, "reserved": 0, "sold": 1}}


def test_a_fourth_order_finds_the_balance_short_and_is_cancelled():
    sim = run(network=FIXED, until=6000, actions=[order(100 + 1000 * i) for i in range(4)])
    assert sim.violations == []
    assert [r["result"] for r in replies(sim)] == ["SUCCEEDED"] * 3 + ["FAILED"]
    assert notes(sim, "biz.pay.refused", node="pay")
    assert books(sim) == {"pay": {"balance": 10, "frozen": 0, "spent": 90},
                          "stock": {"stock": 7, "reserved": 0, "sold": 3}}


def test_six_branches_the_last_fails_and_everything_comes_back():
    sim = preset("six_branches")
    assert sim.violations == []
    assert [e["dst"] for e in sends(sim, "Cancel")] == ["gift", "points", "coupon", "ship", "stock", "pay"]
    assert books(sim) == {n: OPENING[n] for n in ("pay", "stock", "ship", "coupon", "points", "gift")}


def test_three_branches_confirm_in_order_and_cancel_in_reverse():
    sim = run(nodes=3, network=FIXED, until=3000, actions=[
        {"at": 50, "do": "request", "node": "ship", "op": "fail_next"}, order(100)])
    assert sim.violations == []
    assert [e["dst"] for e in sends(sim, "Cancel")] == ["ship", "stock", "pay"]
    assert books(sim) == {n: OPENING[n] for n in ("pay", "stock", "ship")}


# ---------------------------------------------------------------- the bugs, each caught as itself

@pytest.mark.parametrize("name,caught", [
    ("no_barrier_empty_rollback", {"empty_rollback", "conservation"}),
    ("no_barrier_hanging", {"empty_rollback", "conservation", "hanging"}),
    ("no_barrier_duplicate", {"effects_once"}),
    ("confirm_not_idempotent", {"effects_once", "conservation"}),
])
def test_each_bug_preset_is_caught_by_the_invariant_it_breaks(name, caught):
    assert invariants(preset(name)) == caught


def test_a_duplicated_try_without_the_fence_leaves_money_frozen_after_the_order_succeeded():
    sim = preset("no_barrier_duplicate")
    assert views(sim)["tc"]["globals"] == {"g1": "SUCCEED"}
    assert books(sim)["pay"] == {"balance": 40, "frozen": 30, "spent": 30}
    # Judged once the run is long enough to expect every order over: frozen money left behind.
    long = preset("no_barrier_duplicate", until=30_000)
    assert "viol.held_left" in {v.get("key") for v in long.violations}


def test_the_same_schedules_without_the_bugs_break_nothing():
    for name in ("empty_rollback", "hanging", "lost_confirm_reply"):
        assert preset(name).violations == []
    sim = run(network=FIXED, until=2000, actions=[order(100), {"at": 190, "do": "duplicate", "msg": 5}])
    assert sim.violations == [] and books(sim)["pay"] == {"balance": 70, "frozen": 0, "spent": 30}


# ---------------------------------------------------------------- random fault schedules

def test_the_correct_protocol_survives_200_random_fault_schedules_and_every_order_ends():
    """Every fault kind, drawn parameters, 2..6 branches; after the calm every order is
    SUCCEED or FAILED, nothing stays frozen and the books balance."""
    found, violations, runs = fuzz.check("tcc", runs=200, model=fuzz.Model())
    assert found is None, violations[:1]
    assert runs == 200


def test_random_schedules_really_exercise_both_outcomes():
    """The 200 schedules above are not vacuous: orders succeed and fail, Cancels come first."""
    outcomes, empty = set(), 0
    for seed in range(1, 31):
        out = fuzz.fuzz_run("tcc", seed)
        sim = Simulation(out.scenario).run()
        outcomes |= set(views(sim)["tc"]["globals"].values())
        empty += len(notes(sim, "tcc.empty_rollback"))
    assert {"SUCCEED", "FAILED"} <= outcomes
    assert empty > 0


@pytest.mark.parametrize("bug", ["no_barrier", "confirm_not_idempotent"])
def test_random_schedules_catch_each_bug(bug):
    found, violations, _ = fuzz.check("tcc", bugs=[bug], runs=200, model=fuzz.Model())
    assert found is not None and violations
    # The shrunk counterexample replays to the same finding.
    again = Simulation(found).run()
    assert safety(again) or again.violations
