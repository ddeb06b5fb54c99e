"""The choreographed saga: each preset's lesson, the outbox and the inbox under
crashes and lost messages, the checker (safety and eventual), random fault
schedules, and the bug toggles."""

import json

import pytest

from engine import fuzz
from engine.kit import business
from engine.protocols import registry
from engine.protocols.saga_choreo import node as choreo_node
from engine.scenario import from_dict
from engine.sim import Simulation

from .nemesis import nemesis_moves
from .traces import books, notes, safety, sends, views
from .translations import check_violation_texts, placeholders

PROTO = registry.get("saga_choreo")
FIXED = {"latency": [20, 20]}
OPENING = {s.name: s.opening() for s in business.SERVICES}


def run(**data) -> Simulation:
    return Simulation(from_dict({"protocol": "saga_choreo", "network": FIXED, **data})).run()


def preset(name, **extra) -> Simulation:
    return Simulation(from_dict({"protocol": "saga_choreo", "preset": name, **extra})).run()


def order(at):
    return {"at": at, "do": "request", "node": "order", "op": "order"}


def ask(at, node, op):
    return {"at": at, "do": "request", "node": node, "op": op}


def outboxes(sim):
    return {n: v["outbox"] for n, v in views(sim).items()}


def keys(sim):
    return [(v["invariant"], v["key"]) for v in sim.violations]


# ---------------------------------------------------------------- declarations and strings

def test_declares_the_order_service_and_the_chain_and_a_json_description():
    assert PROTO.name == "saga_choreo" and PROTO.category == "transactions"
    assert PROTO.node_ids(3) == ["order", "pay", "stock", "ship"]
    assert PROTO.node_ids(6) == ["order", "pay", "stock", "ship", "coupon", "points", "gift"]
    assert (PROTO.nodes_min, PROTO.nodes_default, PROTO.nodes_max) == (2, 3, business.MAX_SERVICES)
    assert PROTO.layout(PROTO.node_ids(2)) == {"order": {"place": "top"}, "pay": {"place": "ring"},
                                               "stock": {"place": "ring"}}
    assert PROTO.tolerates is None
    desc = json.loads(json.dumps(PROTO.describe()))
    assert {f["name"] for f in desc["fields"] if f["durable"]} == {"orders", "books", "fence", "outbox", "inbox"}
    assert {o["name"]: o["roles"] for o in desc["operations"]} == {
        "order": ["order"], "fail_next": ["service"], "slow_next": ["service"], "read": ["service"]}
    assert {n for n, _ in PROTO.invariants} == {"conservation", "effects_once", "null_compensation",
                                                "no_action_after_compensation", "compensation_order",
                                                "all_resolved"}
    assert [p.name for p in PROTO.presets] == ["happy", "step_fails", "failed_event_dropped", "consumer_crash",
                                               "long_chain", "dirty_read", "compensation_not_idempotent", "no_outbox"]


def _all_runs():
    sims = [preset(p.name) for p in PROTO.presets]
    for seed in range(1, 21):
        sims.append(Simulation(fuzz.fuzz_run("saga_choreo", seed, fuzz.Model()).scenario).run())
    sims.append(run(nodes=6, until=3000, actions=[order(100)]))
    sims.append(run(nodes=6, until=3000, actions=[ask(10, s, "fail_next") for s in
                                                  ("pay", "stock", "ship", "coupon", "points", "gift")]
                    + [order(100 + 300 * i) for i in range(7)]))
    return sims


def test_every_message_kind_note_and_label_has_english_and_chinese():
    s = PROTO.strings
    kinds, emitted, labels = set(), {}, set()
    for sim in _all_runs():
        for e in sim.trace:
            if e["type"] == "send":
                kinds.add(e["kind"])
            elif e["type"] == "note" and e["key"].startswith("saga_choreo."):
                emitted.setdefault(e["key"], set(e["args"]))
            elif e["type"] == "state" and isinstance(e["changes"].get("label"), list):
                labels.add(e["changes"]["label"][0])
    assert kinds == {"OrderCreated", "StepDone", "Completed", "Failed", "Ack"}
    for k in kinds:
        assert s[f"kind.{k}"]["en"] and s[f"kind.{k}"]["zh"] != s[f"kind.{k}"]["en"], k
    for name in ("pay", "stock", "ship", "coupon", "points", "gift"):
        for what in ("action", "fail", "undo"):
            if (what, name) != ("undo", "gift"):     # the last service: nothing after it can fail
                assert f"saga_choreo.{what}.{name}" in emitted, (what, name)
    for key, args in emitted.items():
        assert key in s and placeholders(s[key]["en"]) <= args, key
    assert {k for k in s if k.startswith("saga_choreo.label.")} <= labels
    assert {"biz.label.pay", "biz.label.ship", "biz.label.gift"} <= labels


# ---------------------------------------------------------------- the presets' lessons

def test_happy_the_order_travels_down_the_chain_and_completes():
    sim = preset("happy")
    chain = [(e["src"], e["dst"], e["kind"]) for e in sim.trace if e["type"] == "send" and e["kind"] != "Ack"]
    assert chain == [("order", "pay", "OrderCreated"), ("pay", "stock", "StepDone"),
                     ("stock", "ship", "StepDone"), ("ship", "order", "Completed")]
    assert notes(sim, "saga_choreo.completed")[0]["t"] == 180
    v = views(sim)
    assert v["order"]["orders"] == {"g1": "COMPLETED"}
    assert v["order"]["label"] == ["saga_choreo.label.orders", {"pending": 0, "completed": 1, "cancelled": 0}]
    assert books(sim) == {"pay": {"balance": 70, "frozen": 0, "spent": 30},
                          "stock": {"stock": 9, "reserved": 0, "sold": 1},
                          "ship": {"slots": 4, "booked": 0, "shipped": 1}}
    assert set(map(json.dumps, outboxes(sim).values())) == {"{}"}          # every row acknowledged
    assert [len(sends(sim, "Ack", src=n)) for n in ("pay", "stock", "ship", "order")] == [1, 1, 1, 1]
    assert sim.violations == []


def test_step_fails_failed_travels_back_and_every_earlier_step_is_compensated():
    sim = preset("step_fails")
    assert notes(sim, "saga_choreo.fail.ship")[0]["t"] == 160
    undo = [(e["node"], e["t"]) for e in sim.trace if e["type"] == "note" and e["key"].startswith("saga_choreo.undo.")]
    assert undo == [("stock", 180), ("pay", 200)]                        # downstream first
    failed = [(e["src"], e["dst"]) for e in sends(sim, "Failed")]
    assert failed == [("ship", "stock"), ("stock", "pay"), ("pay", "order")]
    assert notes(sim, "saga_choreo.cancelled")[0]["args"] == {"gid": "g1", "origin": "ship"}
    v = views(sim)
    assert v["order"]["orders"] == {"g1": "CANCELLED"}
    assert books(sim) == {n: OPENING[n] for n in ("pay", "stock", "ship")}   # back to the opening
    assert v["pay"]["fence"] == {"g1": "CANCELLED"} and v["ship"]["fence"] == {}   # ship rolled back locally
    assert sim.violations == []


def test_failed_event_dropped_no_compensation_until_the_outbox_sends_it_again():
    sim = preset("failed_event_dropped")
    dropped = [e for e in sim.trace if e["type"] == "drop"]
    assert [(d["id"], d["reason"]) for d in dropped] == [(4, "user")]
    assert sends(sim, "Failed", "ship", "stock")[0]["id"] == 4
    resend = notes(sim, "saga_choreo.resend", "ship")
    assert [(r["t"], r["args"]["event"], r["args"]["kind"]) for r in resend] == [(460, "ship:1", "Failed")]
    undo = [(e["node"], e["t"]) for e in sim.trace if e["type"] == "note" and e["key"].startswith("saga_choreo.undo.")]
    assert undo == [("stock", 480), ("pay", 500)]
    sim2 = Simulation(from_dict({"protocol": "saga_choreo", "preset": "failed_event_dropped"}))
    sim2.run_until(450)                                                  # meanwhile: money taken, order open
    assert sim2.node_view("pay")["books"]["spent"] == 30 and sim2.node_view("order")["orders"] == {"g1": "PENDING"}
    assert sim2.node_view("ship")["outbox"] == {"ship:1": "Failed g1 -> stock"}
    assert views(sim)["order"]["orders"] == {"g1": "CANCELLED"}
    assert books(sim) == {n: OPENING[n] for n in ("pay", "stock", "ship")}
    assert sim.violations == []


def test_consumer_crash_the_redelivery_is_absorbed_by_the_inbox():
    sim = preset("consumer_crash")
    assert notes(sim, "saga_choreo.action.stock")[0]["t"] == 140             # committed, then crashed at 150
    assert sends(sim, "Ack", src="stock", dst="pay")[0]["t"] == 490          # only after the redelivery
    dup = [(e["node"], e["t"], e["args"]["event"]) for e in notes(sim, "saga_choreo.duplicate")]
    assert dup == [("ship", 320, "stock:1"), ("stock", 440, "pay:1")]
    assert notes(sim, "saga_choreo.recover", "stock")[0]["args"] == {"node": "stock", "count": 1}
    assert [r["args"]["event"] for r in notes(sim, "saga_choreo.resend", "pay")] == ["pay:1"]
    assert len(notes(sim, "saga_choreo.action.stock")) == 1                  # applied once
    assert views(sim)["order"]["orders"] == {"g1": "COMPLETED"}
    assert books(sim)["stock"] == {"stock": 9, "reserved": 0, "sold": 1}
    assert set(map(json.dumps, outboxes(sim).values())) == {"{}"}
    assert sim.violations == []


def test_long_chain_six_services_compensate_one_after_the_other():
    sim = preset("long_chain")
    assert notes(sim, "saga_choreo.fail.gift")[0]["t"] == 220
    undo = [(e["node"], e["t"]) for e in sim.trace if e["type"] == "note" and e["key"].startswith("saga_choreo.undo.")]
    assert undo == [("points", 240), ("coupon", 260), ("ship", 280), ("stock", 300), ("pay", 320)]
    assert notes(sim, "saga_choreo.cancelled")[0]["t"] == 340
    assert books(sim) == {n: OPENING[n] for n in ("pay", "stock", "ship", "coupon", "points", "gift")}
    assert sim.violations == []


def test_dirty_read_a_reader_sees_a_debit_that_is_later_refunded():
    sim = preset("dirty_read")
    reply = next(e for e in sim.trace if e["type"] == "reply" and e["op"] == "read")
    assert reply["t"] == 150 and reply["result"] == {"books": {"balance": 70, "frozen": 0, "spent": 30},
                                                     "applied": ["g1"]}
    warning = notes(sim, "saga_choreo.dirty_read")
    assert [(w["node"], w["t"], w["args"]) for w in warning] == [("pay", 200, {"node": "pay", "gid": "g1", "at": 150})]
    assert views(sim)["order"]["orders"] == {"g1": "CANCELLED"}
    assert sim.violations == []                                               # a warning, not a violation
    # A read after the refund, or of an order that completes, is not dirty.
    assert notes(preset("dirty_read", actions=[ask(50, "ship", "fail_next"), order(100), ask(250, "pay", "read")]),
                 "saga_choreo.dirty_read") == []
    assert notes(run(until=3000, actions=[order(100), ask(150, "pay", "read")]), "saga_choreo.dirty_read") == []


def test_compensation_not_idempotent_a_duplicated_failed_refunds_twice():
    sim = preset("compensation_not_idempotent")
    assert [e["id"] for e in sim.trace if e["type"] == "duplicate"] == [4]
    assert [e["node"] for e in notes(sim, "saga_choreo.compensate_again")] == ["stock"]
    assert len(notes(sim, "saga_choreo.undo.pay")) == 2
    assert books(sim)["pay"] == {"balance": 130, "frozen": 0, "spent": -30}
    assert ("effects_once", "viol.effects_once") in keys(sim)
    assert ("conservation", "viol.conservation.negative") in keys(sim)
    check_violation_texts(PROTO, sim.violations)
    # The same schedule without the bug: the inbox skips the copy.
    fixed = preset("compensation_not_idempotent", bugs=[])
    assert notes(fixed, "saga_choreo.duplicate", "stock") and fixed.violations == []
    assert books(fixed) == {n: OPENING[n] for n in ("pay", "stock", "ship")}


def test_no_outbox_a_lost_event_is_lost_for_good():
    sim = preset("no_outbox")
    assert [e["args"]["kind"] for e in notes(sim, "saga_choreo.direct")] == ["OrderCreated", "StepDone"]
    assert notes(sim, "saga_choreo.resend") == []
    assert views(sim)["order"]["orders"] == {"g1": "PENDING"}
    assert books(sim)["pay"]["spent"] == 30
    assert [(v["key"], v["args"], v.get("eventual")) for v in sim.violations] == [
        ("viol.all_resolved.pending", {"gid": "g1", "taken": "pay"}, True)]
    check_violation_texts(PROTO, sim.violations)
    # The same drop with the outbox: pay's relay sends StepDone again, and the order completes.
    fixed = preset("no_outbox", bugs=[])
    assert notes(fixed, "saga_choreo.resend", "pay")[0]["t"] == 420
    assert views(fixed)["order"]["orders"] == {"g1": "COMPLETED"} and fixed.violations == []


# ---------------------------------------------------------------- the business story

def test_the_fourth_order_finds_the_balance_short_and_is_cancelled_at_pay():
    sim = run(until=5000, actions=[order(100 + 200 * i) for i in range(4)])
    assert views(sim)["order"]["orders"] == {"g1": "COMPLETED", "g2": "COMPLETED", "g3": "COMPLETED",
                                             "g4": "CANCELLED"}
    assert notes(sim, "saga_choreo.fail.pay")[0]["args"] == {"gid": "g4", "back": "order"}
    assert [e["key"] for e in sim.trace if e["type"] == "note" and e["key"].startswith("saga_choreo.undo.")] == []
    assert books(sim)["pay"] == {"balance": 10, "frozen": 0, "spent": 90} and sim.violations == []


def test_a_slow_step_is_overtaken_by_its_redelivery_and_the_late_copy_is_skipped():
    sim = run(until=5000, actions=[ask(10, "stock", "slow_next"), order(100)])
    assert notes(sim, "biz.slowed", "stock")[0]["t"] == 140
    assert notes(sim, "saga_choreo.action.stock")[0]["t"] == 440                 # pay's re-send at 420
    assert notes(sim, "saga_choreo.duplicate", "stock")[0]["t"] == 1640          # the held copy, 1500 ms on
    assert views(sim)["order"]["orders"] == {"g1": "COMPLETED"} and sim.violations == []


def test_acks_leave_at_once_with_no_ack_delay():
    sim = run(until=3000, params={"ack_delay": 0}, actions=[order(100)])
    assert [e["t"] for e in sends(sim, "Ack")] == [120, 140, 160, 180]
    assert not any(e["type"] == "timer" and e["name"] == "ack" for e in sim.trace) and sim.violations == []


def test_the_event_and_the_step_are_one_local_transaction():
    """After pay's step, its disk holds the effect, the fence row, the inbox row and the
    outbox row together (the engine applies a handler atomically: one ctx.persist)."""
    sim = Simulation(from_dict({"protocol": "saga_choreo", "network": FIXED, "until": 3000, "actions": [order(100)]}))
    sim.run_until(120)
    disk = sim.disk["pay"]
    assert disk["books"]["spent"] == 30 and disk["fence"] == {"g1": business.FORWARD}
    assert disk["inbox"] == {"order:1": "g1"} and list(disk["outbox"]) == ["pay:1"]
    assert disk["outbox"]["pay:1"]["kind"] == "StepDone" and disk["next_event"] == 2


def test_requests_at_the_wrong_node_change_nothing():
    sim = run(until=1000, actions=[{**order(10), "node": "pay"}, ask(20, "order", "read")])
    replies = [(e["node"], e["result"]) for e in sim.trace if e["type"] == "reply"]
    assert replies == [("pay", "not here: ask the order service"), ("order", "not here: ask a service")]
    assert sends(sim, "OrderCreated") == [] and sim.violations == []


def test_views_stay_small_with_many_orders():
    sim = run(until=20_000, actions=[order(20 + 60 * i) for i in range(150)])
    v = views(sim)
    assert len(v["order"]["orders"]) <= 8 and len(v["pay"]["fence"]) <= 8
    assert v["order"]["inbox"]["count"] == 150 and len(v["order"]["inbox"]["newest"]) <= 8
    assert v["order"]["label"][1]["completed"] == 3 and safety(sim) == []


# ---------------------------------------------------------------- the checker

def test_eventual_check_flags_a_relay_that_does_not_restart(monkeypatch):
    monkeypatch.setattr(choreo_node.Choreographed, "restart_relay", lambda self, ctx: None)
    sim = preset("consumer_crash")
    assert [(v["key"], v["args"], v.get("eventual")) for v in sim.violations] == [
        ("viol.all_resolved.outbox", {"node": "stock", "count": 1}, True)]
    check_violation_texts(PROTO, sim.violations)


def test_eventual_check_waits_until_the_relays_had_time():
    assert preset("no_outbox", until=1500).violations == []


def test_checker_catches_compensations_that_skip_a_step(monkeypatch):
    """ship fails and sends Failed straight to pay: pay compensates before stock did."""
    original = choreo_node.Service.on_forward

    def skip(self, ctx, msg):
        if self.id == "ship":
            self.prev = "pay"
        original(self, ctx, msg)
    monkeypatch.setitem(choreo_node.Service.HANDLERS, "StepDone", skip)
    sim = preset("step_fails")
    assert ("compensation_order", "viol.compensation_order") in keys(sim)
    found = next(v for v in sim.violations if v["invariant"] == "compensation_order")
    assert found["args"] == {"node": "pay", "gid": "g1", "next": "stock"}
    assert ("all_resolved", "viol.all_resolved.cancelled") in keys(sim)     # stock keeps its sale
    check_violation_texts(PROTO, sim.violations)


def test_checker_catches_a_service_that_compensates_its_own_failed_step(monkeypatch):
    """dtm compensates the failed step too; without the fence that refunds what never ran."""
    original = choreo_node.Service.on_forward

    def undo_self(self, ctx, msg):
        failing = self.fail_next
        original(self, ctx, msg)
        if failing:
            self.step(ctx, None, msg.body["gid"], "compensation", business.UNDONE, [])
    monkeypatch.setitem(choreo_node.Service.HANDLERS, "StepDone", undo_self)
    sim = preset("step_fails")
    assert ("null_compensation", "viol.null_compensation") in keys(sim)
    assert ("compensation_order", "viol.compensation_order") in keys(sim)   # nothing after ship failed
    check_violation_texts(PROTO, sim.violations)


def test_checker_catches_an_action_after_its_compensation(monkeypatch):
    """With neither inbox nor fence, a StepDone delayed past the compensation runs the step again."""
    monkeypatch.setattr(choreo_node.Service, "apply_again", lambda self, msg: True)
    monkeypatch.setattr(choreo_node.business, "fence_forward", lambda row: "run")
    slow = {"do": "set", "param": "latency"}
    sim = run(until=5000, actions=[ask(50, "ship", "fail_next"), order(100), {**slow, "at": 129, "value": [100, 100]},
                                   {"at": 130, "do": "duplicate", "msg": 2}, {**slow, "at": 131, "value": [20, 20]}])
    assert ("no_action_after_compensation", "viol.no_action_after_compensation") in keys(sim)
    assert ("effects_once", "viol.effects_once") in keys(sim)
    check_violation_texts(PROTO, sim.violations)


# ---------------------------------------------------------------- random schedules and the bugs

def test_check_finds_nothing_in_the_correct_protocol():
    """Every fault kind (crash, restart, partition, drop, loss, duplicate, delay, timeout and the
    nemesis), drawn parameters, node counts and networks: no violation, safety or eventual."""
    found, violations, runs = fuzz.check("saga_choreo", runs=200, model=fuzz.Model())
    assert found is None, violations[:1]
    assert runs == 200


def test_random_runs_exercise_compensations_redeliveries_and_restarts():
    seen = {}
    for seed in range(1, 41):
        sim = Simulation(fuzz.fuzz_run("saga_choreo", seed, fuzz.Model()).scenario).run()
        assert sim.until - sim.last_action_at >= sim.checker.settle_time(sim)      # so it was judged
        for e in sim.trace:
            if e["type"] == "note":
                key = e["key"].rsplit(".", 1)[0] if ".undo." in e["key"] else e["key"]
                seen[key] = seen.get(key, 0) + 1
    for key in ("saga_choreo.undo", "saga_choreo.duplicate", "saga_choreo.resend", "saga_choreo.recover",
                "saga_choreo.cancelled", "saga_choreo.completed"):
        assert seen.get(key, 0) >= 5, (key, seen.get(key))


@pytest.mark.parametrize("bug,invariant", [("compensation_not_idempotent", "effects_once"),
                                           ("no_outbox", "all_resolved")])
def test_each_bug_is_caught_by_random_schedules(bug, invariant):
    found, violations, runs = fuzz.check("saga_choreo", bugs=[bug], runs=150, model=fuzz.Model())
    assert found is not None and violations[0]["invariant"] == invariant, violations[:1]
    assert runs <= 60          # measured: run 19 (compensation_not_idempotent), run 1 (no_outbox)
    sim = Simulation(found).run()
    assert invariant in {v["invariant"] for v in sim.violations}


def test_same_scenario_same_trace():
    sc = fuzz.fuzz_run("saga_choreo", 7, fuzz.Model()).scenario
    again = from_dict(json.loads(sc.to_json()))
    assert Simulation(sc).run().trace == Simulation(again).run().trace
    assert preset("consumer_crash").trace == preset("consumer_crash").trace


def test_the_nemesis_only_drops_duplicates_crashes_and_restarts(monkeypatch):
    moves = nemesis_moves(monkeypatch, PROTO)
    assert len(moves) >= 10          # measured: 28 moves in 117 calls (most calls find nothing to aim at)
    for at, move in moves:
        assert {a["do"] for a in move} <= {"drop", "duplicate", "crash", "restart"}
        assert all(a["at"] >= at for a in move)
