"""The orchestrated Saga: each preset's lesson, recovery from the saga log, the fence,
the checker (each invariant caught by a protocol that breaks it), random fault
schedules, and the bug toggles."""

import json
from itertools import pairwise

import pytest

from engine import fuzz, limits
from engine.kit import business
from engine.protocols import registry
from engine.protocols.saga import Saga
from engine.protocols.saga import node as saga_node
from engine.protocols.saga.checker import settle_time
from engine.scenario import from_dict
from engine.sim import Simulation

from .traces import books, notes, safety, sends, views
from .translations import check_violation_texts, placeholders

PROTO = registry.get("saga")
FIXED = {"latency": [20, 20]}
OPENING = {s.name: s.opening() for s in business.SERVICES}


def run(protocol=None, **data) -> Simulation:
    return Simulation(from_dict({"protocol": "saga", **data}), protocol=protocol).run()


def preset(name, **extra) -> Simulation:
    return Simulation(from_dict({"protocol": "saga", "preset": name, **extra})).run()


def order(at):
    return {"at": at, "do": "request", "node": "orch", "op": "order"}


def ask(at, node, op):
    return {"at": at, "do": "request", "node": node, "op": op}


def sagas(sim):
    return sim.disk["orch"]["sagas"]


def replies(sim, op="order"):
    return [e["result"] for e in sim.trace if e["type"] == "reply" and e["op"] == op]


def effects(sim, what):
    """(time, node, key) of the business notes (kit.business) of one kind of effect ("compensation")."""
    return [(e["t"], e["node"], e["key"]) for e in sim.trace
            if e["type"] == "note" and e["key"].startswith("biz.") and e["key"].endswith(f".{what}")]


# ---------------------------------------------------------------- declarations and strings

def test_declares_an_orchestrator_and_the_business_services():
    assert PROTO.name == "saga" and PROTO.category == "transactions"
    assert PROTO.node_ids(3) == ["orch", "pay", "stock", "ship"]
    assert PROTO.node_ids(6) == ["orch", "pay", "stock", "ship", "coupon", "points", "gift"]
    assert (PROTO.nodes_min, PROTO.nodes_default, PROTO.nodes_max) == (2, 3, business.MAX_SERVICES)
    assert PROTO.layout(PROTO.node_ids(2)) == {"orch": {"place": "center"}, "pay": {"place": "ring"},
                                               "stock": {"place": "ring"}}
    assert PROTO.tolerates is None
    desc = json.loads(json.dumps(PROTO.describe()))
    assert {f["name"] for f in desc["fields"] if f["durable"]} == {"next_gid", "sagas", "books", "fence"}
    ops = {o["name"]: o["roles"] for o in desc["operations"]}
    assert ops == {"order": ["orchestrator"], "fail_next": ["service"], "slow_next": ["service"],
                   "fail_compensation": ["service"], "read": ["service"]}
    assert {n for n, _ in PROTO.invariants} == {"conservation", "effects_once", "null_compensation",
                                                "no_action_after_compensation", "no_forward_after_abort",
                                                "compensation_order", "all_resolved"}
    assert {b["name"] for b in desc["bugs"]} == {"compensation_not_idempotent", "no_barrier"}
    assert {p["name"] for p in desc["params"]} >= {"step_timeout", "retry_base", "retry_cap", "max_retries",
                                                   "compensation_failures", "slow_ms"}


def _all_runs():
    sims = [preset(p.name) for p in PROTO.presets]
    for seed in range(1, 11):
        sims.append(Simulation(fuzz.random_run("saga", seed)[0]).run())
        sims.append(Simulation(fuzz.fuzz_run("saga", seed).scenario).run())
    return sims


def test_every_message_kind_note_and_label_has_english_and_chinese():
    s = PROTO.strings
    kinds, emitted, labels = set(), {}, set()
    for sim in _all_runs():
        for e in sim.trace:
            if e["type"] == "send":
                kinds.add(e["kind"])
            elif e["type"] == "note" and e["key"].startswith(("saga.", "biz.")):
                emitted.setdefault(e["key"], set(e["args"]))
            elif e["type"] == "state" and isinstance(e["changes"].get("label"), list):
                labels.add(e["changes"]["label"][0])
    assert kinds == {"Action", "ActionDone", "Compensate", "CompensateDone"}
    for k in kinds:
        assert s[f"kind.{k}"]["en"] and s[f"kind.{k}"]["zh"] != s[f"kind.{k}"]["en"], k
    assert len(emitted) >= 25
    for key, args in emitted.items():
        assert key in s and placeholders(s[key]["en"]) <= args, key
    assert {k for k in labels if k.startswith("saga.")} == {k for k in s if k.startswith("saga.label.")}
    # Every service has its own business words for its step, its failure and its compensation.
    assert set(business.NOTES) == set(business.BY_NAME)
    for keys in business.NOTES.values():
        assert all(keys[what] in s for what in ("action", "refused", "compensation"))


def test_settle_time_covers_every_node_count_and_fits_a_run():
    params = {x.name: x.default for x in PROTO.params}
    for n in range(PROTO.nodes_min, PROTO.nodes_max + 1):
        assert PROTO.settle_ms(params, PROTO.default_network) >= settle_time(params, n, 30)
    biggest = {x.name: x.max for x in PROTO.params}
    assert PROTO.settle_ms(biggest, PROTO.default_network) <= limits.MAX_UNTIL_MS - PROTO.default_until


# ---------------------------------------------------------------- presets: the lessons

def test_happy_every_step_commits_in_turn_and_money_and_stock_move():
    sim = preset("happy")
    assert [(e["dst"], e["body"]["step"]) for e in sends(sim, "Action")] == [("pay", 1), ("stock", 2), ("ship", 3)]
    assert [e["t"] for e in sends(sim, "Action")] == [100, 140, 180]   # each after the previous answer
    assert books(sim) == {"pay": {"balance": 70, "frozen": 0, "spent": 30},
                          "stock": {"stock": 9, "reserved": 0, "sold": 1},
                          "ship": {"slots": 4, "booked": 0, "shipped": 1}}
    assert sagas(sim) == {"g1": {"status": "succeed", "step": 3}}
    assert replies(sim) == [{"gid": "g1", "outcome": "succeed"}]
    assert views(sim)["orch"]["label"] == ["saga.label.succeed", {"gid": "g1"}]
    assert sends(sim, "Compensate") == [] and sim.violations == []


def test_step_fails_compensates_in_reverse_starting_with_the_failed_step_and_restores_every_book():
    sim = preset("step_fails")
    assert notes(sim, "biz.ship.refused") and notes(sim, "saga.step_failed")[0]["args"]["step"] == 3
    comp = sends(sim, "Compensate")
    assert [(e["dst"], e["body"]["step"]) for e in comp] == [("ship", 3), ("stock", 2), ("pay", 1)]
    done = {(e["src"], e["body"]["step"]): e["t"] for e in sends(sim, "CompensateDone")}
    # C_i leaves only after C_{i+1}'s answer came back (sequential).
    assert comp[1]["t"] == done[("ship", 3)] + 20 and comp[2]["t"] == done[("stock", 2)] + 20
    assert [e["node"] for e in notes(sim, "saga.null_compensation")] == ["ship"]
    assert [(n, k) for _, n, k in effects(sim, "compensation")] == [("stock", "biz.stock.compensation"),
                                                                   ("pay", "biz.pay.compensation")]
    assert books(sim) == {n: OPENING[n] for n in ("pay", "stock", "ship")}
    assert sim.disk["ship"]["fence"] == {"g1": business.SUSPENDED}
    assert sim.disk["pay"]["fence"] == sim.disk["stock"]["fence"] == {"g1": business.UNDONE}
    assert sagas(sim) == {"g1": {"status": "failed", "step": 1}}
    assert replies(sim) == [{"gid": "g1", "outcome": "failed"}]
    assert sim.violations == []


def test_orchestrator_crash_resumes_from_the_saga_log_and_the_fence_answers_again():
    sim = preset("orchestrator_crash")
    resumed = notes(sim, "saga.resume_forward")
    assert [(e["t"], e["args"]) for e in resumed] == [(1000, {"gid": "g1", "step": 2, "node": "stock"})]
    assert [e["t"] for e in sends(sim, "Action", dst="stock")] == [140, 1000]
    assert len(notes(sim, "biz.stock.action")) == 1 and notes(sim, "saga.action_again", node="stock")
    assert books(sim)["stock"] == {"stock": 9, "reserved": 0, "sold": 1}
    assert sagas(sim)["g1"]["status"] == "succeed" and sim.violations == []


def test_lost_reply_is_retried_after_the_timeout_and_nothing_is_debited_twice():
    sim = preset("lost_reply")
    assert [e for e in sim.trace if e["type"] == "drop"] and sends(sim, "ActionDone", src="stock")[0]["id"] == 4
    timeout = notes(sim, "saga.timeout")
    assert [(e["t"], e["args"]["step"], e["args"]["ms"]) for e in timeout] == [(440, 2, 100)]
    assert [e["t"] for e in sends(sim, "Action", dst="stock")] == [140, 540]
    assert [e["body"]["why"] for e in sends(sim, "ActionDone", src="stock")] == ["done", "again"]
    assert books(sim)["stock"]["sold"] == 1 and sagas(sim)["g1"]["status"] == "succeed"
    assert sim.violations == []


def test_slow_step_compensates_a_step_of_unknown_outcome_and_the_late_step_is_refused():
    sim = preset("slow_step")
    unknown = notes(sim, "saga.unknown")
    assert [(e["t"], e["args"]["step"], e["args"]["node"]) for e in unknown] == [(480, 3, "ship")]
    null = notes(sim, "saga.null_compensation", node="ship")
    refused = notes(sim, "saga.hanging_refused", node="ship")
    failed = notes(sim, "saga.failed")
    assert null[0]["t"] < failed[0]["t"] < refused[0]["t"] == 1700
    assert sends(sim, "ActionDone", src="ship")[-1]["body"] == {"gid": "g1", "step": 3, "ok": False, "why": "refused"}
    assert notes(sim, "biz.ship.action") == []
    assert books(sim) == {n: OPENING[n] for n in ("pay", "stock", "ship")}
    assert sim.violations == []


def test_a_compensation_that_keeps_failing_is_retried_with_growing_backoff_then_succeeds():
    sim = preset("compensation_keeps_failing")
    errors = notes(sim, "saga.compensation_error")
    assert [e["args"]["ms"] for e in errors] == [100, 200, 400, 800, 1600]
    assert all(e["args"]["step"] == 1 and e["args"]["node"] == "pay" for e in errors)
    alert = notes(sim, "saga.alert")
    assert len(alert) == 1 and alert[0]["args"]["tries"] == saga_node.ALERT_AFTER
    tries = [e["t"] for e in sends(sim, "Compensate", dst="pay")]
    assert [b - a for a, b in pairwise(tries)] == [140, 240, 440, 840, 1640]   # backoff + a round trip
    # The saga stays aborting the whole time, then ends.
    failed = notes(sim, "saga.failed")[0]["t"]
    assert failed > tries[-1] and replies(sim) == [{"gid": "g1", "outcome": "failed"}]
    assert books(sim)["pay"] == OPENING["pay"] and sim.violations == []


def test_long_saga_compensates_five_committed_steps_one_by_one_in_reverse():
    sim = preset("long_saga")
    assert [e["dst"] for e in sends(sim, "Action")] == ["pay", "stock", "ship", "coupon", "points", "gift"]
    comp = sends(sim, "Compensate")
    assert [e["body"]["step"] for e in comp] == [6, 5, 4, 3, 2, 1]
    assert [e["t"] for e in comp] == [340, 380, 420, 460, 500, 540]   # one round trip apart: sequential
    assert [n for _, n, _ in effects(sim, "compensation")] == ["points", "coupon", "ship", "stock", "pay"]
    assert [e["node"] for e in notes(sim, "saga.null_compensation")] == ["gift"]
    assert books(sim) == {n: OPENING[n] for n in business.BY_NAME}
    assert sagas(sim)["g1"]["status"] == "failed" and sim.violations == []


def test_dirty_read_a_reader_sees_a_debit_that_is_later_refunded():
    sim = preset("dirty_read")
    assert replies(sim, "read") == [{"books": {"balance": 70, "frozen": 0, "spent": 30}}]
    warning = notes(sim, "saga.dirty_read")
    assert [(e["node"], e["args"]) for e in warning] == [("pay", {"gid": "g1", "node": "pay"})]
    assert warning[0]["t"] == notes(sim, "biz.pay.compensation")[0]["t"]
    assert books(sim)["pay"] == OPENING["pay"]
    assert sim.violations == []     # a warning, not a violation: sagas promise no isolation


def test_compensation_not_idempotent_preset_refunds_twice_and_is_caught():
    sim = preset("compensation_not_idempotent")
    assert len(notes(sim, "biz.stock.compensation")) == 2
    assert {v["invariant"] for v in sim.violations} == {"effects_once", "conservation"}
    assert books(sim)["stock"]["sold"] == -1
    check_violation_texts(PROTO, sim.violations)


def test_no_barrier_preset_flags_the_empty_compensation_and_the_hanging_step_separately():
    sim = preset("no_barrier")
    found = {v["invariant"]: v for v in sim.violations}
    assert set(found) == {"null_compensation", "conservation", "no_action_after_compensation"}
    assert found["null_compensation"]["t"] == 500 and found["no_action_after_compensation"]["t"] == 1700
    check_violation_texts(PROTO, sim.violations)


def test_the_bug_free_presets_break_nothing_and_the_bug_presets_show_their_bug():
    for p in PROTO.presets:
        sim = preset(p.name)
        bugs = p.scenario.get("bugs", [])
        assert bool(safety(sim)) == bool(bugs), p.name


# ---------------------------------------------------------------- recovery and business failures

def test_orchestrator_crash_while_aborting_resumes_compensation_from_the_log():
    # C2 to stock leaves at 260; orch is down from 265 to 900: stock's answer is lost.
    sim = run(network=FIXED, until=3000, actions=[ask(50, "ship", "fail_next"), order(100),
                                                  {"at": 265, "do": "crash", "node": "orch"},
                                                  {"at": 900, "do": "restart", "node": "orch"}])
    assert [(e["t"], e["args"]["step"]) for e in notes(sim, "saga.resume_undo")] == [(900, 2)]
    assert notes(sim, "saga.compensate_again", node="stock")
    assert len(notes(sim, "biz.stock.compensation")) == 1 and len(notes(sim, "biz.pay.compensation")) == 1
    assert sagas(sim)["g1"]["status"] == "failed"
    assert books(sim) == {n: OPENING[n] for n in ("pay", "stock", "ship")}
    assert sim.violations == []


def test_the_fourth_order_finds_the_balance_short_and_compensates_only_its_null_step():
    sim = run(network=FIXED, until=3000, actions=[order(100 + 300 * i) for i in range(4)])
    assert [sagas(sim)[g]["status"] for g in ("g1", "g2", "g3", "g4")] == ["succeed"] * 3 + ["failed"]
    assert [e["args"]["gid"] for e in notes(sim, "biz.pay.refused")] == ["g4"]
    assert [(e["dst"], e["body"]) for e in sends(sim, "Compensate")] == [("pay", {"gid": "g4", "step": 1,
                                                                                  "amount": 30})]
    assert books(sim)["pay"] == {"balance": 10, "frozen": 0, "spent": 90}
    assert sim.violations == []


def test_unknown_outcome_after_retries_when_the_step_did_run_is_undone():
    # stock's answers are cut off (partition) but T2 ran: with no answer after max_retries,
    # the saga compensates T2 and stock gives the item back.
    sim = run(network=FIXED, until=4000, actions=[
        order(100), {"at": 170, "do": "partition", "groups": [["orch", "pay", "ship"], ["stock"]]},
        {"at": 1500, "do": "heal"}])
    assert notes(sim, "saga.unknown")[0]["args"] == {"gid": "g1", "step": 2, "node": "stock", "tries": 3}
    assert len(notes(sim, "biz.stock.compensation")) == 1 and sagas(sim)["g1"]["status"] == "failed"
    assert books(sim) == {n: OPENING[n] for n in ("pay", "stock", "ship")}
    assert sim.violations == []


# ---------------------------------------------------------------- the checker catches each broken rule

class _Mutant(Saga):
    """The saga with one orchestrator rule broken (for the checker's sake)."""

    def __init__(self, orchestrator):
        self.orchestrator = orchestrator
        super().__init__()

    def create_node(self, node_id, node_ids, params, bugs, disk):
        if node_id == "orch":
            return self.orchestrator(node_id, node_ids, params, bugs, disk)
        return super().create_node(node_id, node_ids, params, bugs, disk)


class _ForwardAfterAbort(saga_node.Orchestrator):
    def abort(self, ctx, gid, step):
        super().abort(ctx, gid, step)
        self.send_action(ctx, gid, step)     # asks the failed step again, after logging aborting


class _CompensateForward(saga_node.Orchestrator):
    def abort(self, ctx, gid, step):
        self.log(ctx, gid, "aborting", step)
        for i in range(1, step + 1):         # every compensation at once
            self.send_compensate(ctx, gid, i)


class _NeverCompensates(saga_node.Orchestrator):
    def abort(self, ctx, gid, step):
        self.log(ctx, gid, "failed", 1)      # gives up without undoing anything


class _StaysAborting(saga_node.Orchestrator):
    def send_compensate(self, ctx, gid, step):
        pass


STEP_FAILS = {"network": FIXED, "actions": [ask(50, "ship", "fail_next"), order(100)]}


@pytest.mark.parametrize("orchestrator,invariant", [
    (_ForwardAfterAbort, "no_forward_after_abort"),
    (_CompensateForward, "compensation_order"),
])
def test_the_checker_catches_an_orchestrator_that_breaks_a_safety_rule(orchestrator, invariant):
    sim = run(protocol=_Mutant(orchestrator), until=2000, **STEP_FAILS)
    assert invariant in {v["invariant"] for v in safety(sim)}
    check_violation_texts(PROTO, sim.violations)


@pytest.mark.parametrize("orchestrator,key", [
    (_NeverCompensates, "viol.all_resolved.failed"),
    (_StaysAborting, "viol.all_resolved.unfinished"),
])
def test_the_checker_catches_a_saga_that_does_not_end_cleanly(orchestrator, key):
    sim = run(protocol=_Mutant(orchestrator), until=60_000, **STEP_FAILS)
    eventual = [v for v in sim.violations if v.get("eventual")]
    assert eventual and {v["key"] for v in eventual} == {key}
    check_violation_texts(PROTO, eventual)
    # The correct saga, on the same schedule, ends cleanly.
    assert run(until=60_000, **STEP_FAILS).violations == []


def test_eventual_properties_wait_for_enough_quiet_time():
    sim = run(protocol=_Mutant(_StaysAborting), until=2000, **STEP_FAILS)
    assert sim.violations == []


# ---------------------------------------------------------------- random fault schedules

def test_random_fault_schedules_find_nothing_wrong_with_the_correct_saga():
    found, violations, runs = fuzz.check("saga", runs=200, model=fuzz.Model())
    assert found is None, violations[:1]
    assert runs == 200


def test_random_fault_schedules_on_the_largest_order_find_nothing():
    found, violations, _ = fuzz.check("saga", runs=60, seed=500, model=fuzz.Model(nodes=business.MAX_SERVICES))
    assert found is None, violations[:1]


@pytest.mark.parametrize("bug,invariants", [
    ("compensation_not_idempotent", {"effects_once", "conservation", "null_compensation"}),
    ("no_barrier", {"null_compensation", "no_action_after_compensation", "conservation", "effects_once"}),
])
def test_each_bug_is_caught_by_random_schedules(bug, invariants):
    found, violations, _ = fuzz.check("saga", bugs=[bug], runs=150, model=fuzz.Model())
    assert found is not None and violations[0]["invariant"] in invariants
