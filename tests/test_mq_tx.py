"""MQ transactional messages (RocketMQ-style): each preset's lesson, the check-back and
the op record window under crashes and lost messages, the checker (safety, eventual,
and the discard it excuses under faults), random fault schedules, and the bug toggles."""

import json

import pytest

from engine import fuzz
from engine.kit import business
from engine.protocols import registry
from engine.protocols.mq_tx import checker as mq_checker
from engine.protocols.mq_tx import node as mq_node
from engine.scenario import from_dict
from engine.sim import Simulation

from .nemesis import nemesis_moves
from .traces import books, notes, safety, sends, views
from .translations import check_violation_texts, placeholders

PROTO = registry.get("mq_tx")
FIXED = {"latency": [20, 20]}
OPENING = {s.name: s.opening() for s in business.SERVICES}
PAID = {"balance": 70, "frozen": 0, "spent": 30}


def run(**data) -> Simulation:
    return Simulation(from_dict({"protocol": "mq_tx", "network": FIXED, **data})).run()


def preset(name, **extra) -> Simulation:
    return Simulation(from_dict({"protocol": "mq_tx", "preset": name, **extra})).run()


def order(at, node="p1"):
    return {"at": at, "do": "request", "node": node, "op": "order"}


def ask(at, node, op):
    return {"at": at, "do": "request", "node": node, "op": op}


def keys(sim):
    return [(v["invariant"], v["key"]) for v in sim.violations]


def applied(sim, gid):
    """Each consumer's number of applications of order gid (its effect notes)."""
    out = {}
    for e in sim.trace:
        if e["type"] == "note" and e["key"].startswith("biz.") and e["key"].endswith(".action") \
                and e["args"]["gid"] == gid and e["node"] != "db":
            out[e["node"]] = out.get(e["node"], 0) + 1
    return out


def judged(sim) -> bool:
    """Were the eventual properties judged at the end of this run?"""
    return sim.network.loss == 0 and sim.until - sim.last_action_at >= sim.checker.settle_time(sim)


def at(sim, key, node=None):
    return [e["t"] for e in notes(sim, key, node)]


# ---------------------------------------------------------------- declarations and strings

def test_declares_the_producer_group_db_broker_and_consumers():
    assert PROTO.name == "mq_tx" and PROTO.category == "transactions"
    assert PROTO.node_ids(2) == ["p1", "p2", "db", "broker", "stock", "ship"]
    assert PROTO.node_ids(5) == ["p1", "p2", "db", "broker", "stock", "ship", "coupon", "points", "gift"]
    assert (PROTO.nodes_min, PROTO.nodes_default, PROTO.nodes_max) == (1, 2, 5)
    assert PROTO.layout(PROTO.node_ids(1)) == {"p1": {"place": "top"}, "p2": {"place": "top"},
                                               "db": {"place": "top"}, "broker": {"place": "center"},
                                               "stock": {"place": "bottom"}}
    assert PROTO.tolerates is None
    desc = json.loads(json.dumps(PROTO.describe()))
    assert {f["name"] for f in desc["fields"] if f["durable"]} == {"books", "fence", "txs", "half", "topic",
                                                                   "unacked", "inbox"}
    assert {o["name"]: o["roles"] for o in desc["operations"]} == {
        "order": ["producer"], "fail_next": ["service"], "slow_next": ["service"]}
    assert {n for n, _ in PROTO.invariants} == {"conservation", "effects_once", "visible_needs_commit",
                                                "rollback_never_visible", "committed_delivered", "all_resolved"}
    assert [p.name for p in PROTO.presets] == [
        "happy", "end_transaction_lost", "producer_crash", "slow_local_tx_discarded", "check_races_local_tx",
        "local_tx_fails", "broker_crash_duplicate_put", "five_consumers", "local_tx_before_half",
        "check_says_commit", "consumer_not_idempotent"]
    assert {p.name: p.expects for p in PROTO.presets if p.expects} == {
        "slow_local_tx_discarded": ("committed_delivered",)}
    assert {p["name"]: p["default"] for p in desc["params"]} == {
        "check_interval": 1000, "tx_timeout": 600, "check_max": 15, "op_delay": 50, "redeliver_interval": 500,
        "send_timeout": 300, "local_timeout": 300, "slow_ms": 1500}


def test_every_message_kind_note_and_label_has_english_and_chinese():
    s = PROTO.strings
    kinds, emitted, labels = set(), {}, set()
    sims = [preset(p.name) for p in PROTO.presets]
    sims += [Simulation(fuzz.fuzz_run("mq_tx", seed, fuzz.Model()).scenario).run() for seed in range(1, 11)]
    for sim in sims:
        for e in sim.trace:
            if e["type"] == "send":
                kinds.add(e["kind"])
            elif e["type"] == "note" and e["key"].startswith("mq_tx."):
                emitted.setdefault(e["key"], set(e["args"]))
            elif e["type"] == "state" and isinstance(e["changes"].get("label"), list):
                labels.add(e["changes"]["label"][0])
    assert kinds == {"SendHalf", "HalfAck", "LocalTx", "LocalTxDone", "EndTransaction", "CheckTransactionState",
                     "QueryTx", "TxStatus", "Deliver", "ConsumeAck"}
    for k in kinds:
        assert s[f"kind.{k}"]["en"] and s[f"kind.{k}"]["zh"] != s[f"kind.{k}"]["en"], k
    for key, args in emitted.items():
        assert key in s and placeholders(s[key]["en"]) <= args, key
    assert {k for k in s if k.startswith("mq_tx.label.")} <= labels
    assert {f"biz.label.{n}" for n in ("pay", "stock", "ship", "coupon", "points", "gift")} <= labels


# ---------------------------------------------------------------- the presets' lessons

def test_happy_half_first_then_the_local_transaction_then_commit():
    sim = preset("happy")
    flow = [(e["t"], e["src"], e["dst"], e["kind"]) for e in sim.trace
            if e["type"] == "send" and e["kind"] != "ConsumeAck"]
    assert flow == [(100, "p1", "broker", "SendHalf"), (120, "broker", "p1", "HalfAck"),
                    (140, "p1", "db", "LocalTx"), (160, "db", "p1", "LocalTxDone"),
                    (180, "p1", "broker", "EndTransaction"), (200, "broker", "stock", "Deliver"),
                    (200, "broker", "ship", "Deliver")]
    assert sends(sim, "EndTransaction")[0]["body"] == {"gid": "p1-1", "verdict": "COMMIT", "check": False}
    assert at(sim, "mq_tx.op_written") == [250]
    v = views(sim)
    assert v["db"]["txs"] == {"p1-1": "COMMITTED"} and v["db"]["label"] == ["biz.label.pay", PAID]
    assert v["broker"]["half"] == {"p1-1": "COMMIT · 0"} and v["broker"]["topic"] == ["0: p1-1"]
    assert v["broker"]["label"] == ["mq_tx.label.broker", {"half": 0, "topic": 1, "discarded": 0}]
    assert v["broker"]["unacked"] == [] and v["broker"]["op_pending"] == []
    assert v["p1"]["label"] == ["mq_tx.label.producer", {"open": 0, "commit": 1, "rollback": 0, "unknown": 0,
                                                                "failed": 0}]
    assert v["p2"]["label"] == ["mq_tx.label.idle", {}]
    assert books(sim) == {"db": PAID, "stock": {"stock": 9, "reserved": 0, "sold": 1},
                          "ship": {"slots": 4, "booked": 0, "shipped": 1}}
    assert v["stock"]["inbox"] == {"p1-1": 0} and v["stock"]["role"] == "consumer"
    assert sends(sim, "CheckTransactionState") == []
    assert sim.violations == [] and judged(sim)


def test_the_half_message_is_durable_and_invisible_before_the_local_transaction():
    sim = Simulation(from_dict({"protocol": "mq_tx", "preset": "happy"}))
    sim.run_until(150)                 # half stored at 120, LocalTx on its way to db
    assert sim.disk["broker"]["half"] == {"p1-1": {"at": 120, "checks": 0, "op": None}}
    assert sim.disk["broker"]["topic"] == [] and sim.disk["db"]["txs"] == {}
    sim.run_until(160)                 # one local transaction: the debit and the status together
    assert sim.disk["db"]["books"] == PAID and sim.disk["db"]["txs"] == {"p1-1": "COMMITTED"}
    sim.run_until(230)                 # the real message written, its op record not yet
    assert sim.disk["broker"]["topic"] == [{"offset": 0, "gid": "p1-1"}]
    assert sim.disk["broker"]["half"]["p1-1"]["op"] is None
    assert sim.node_view("broker")["op_pending"] == ["p1-1"]


def test_end_transaction_lost_the_check_back_commits_from_db():
    sim = preset("end_transaction_lost")
    assert [(e["id"], e["reason"]) for e in sim.trace if e["type"] == "drop"] == [(5, "user")]
    checks = sends(sim, "CheckTransactionState")
    assert [(e["t"], e["dst"], e["body"]) for e in checks] == [(1000, "p1", {"gid": "p1-1", "n": 1})]
    assert notes(sim, "mq_tx.check_answer")[0]["args"] == {"node": "p1", "gid": "p1-1", "status": "COMMITTED",
                                                           "verdict": "COMMIT"}
    assert at(sim, "mq_tx.commit.check") == [1080] and at(sim, "mq_tx.commit") == []
    assert applied(sim, "p1-1") == {"stock": 1, "ship": 1} and at(sim, "biz.stock.action") == [1100]
    assert views(sim)["broker"]["half"] == {"p1-1": "COMMIT · 1"}
    assert sim.violations == [] and judged(sim)


def test_producer_crash_another_instance_answers_the_check_from_db():
    sim = preset("producer_crash")
    assert [(e["id"], e["reason"]) for e in sim.trace if e["type"] == "drop"] == [(4, "crashed"), (5, "crashed")]
    assert sends(sim, "EndTransaction", src="p1") == []        # p1 never ended it
    checks = [(e["t"], e["dst"]) for e in sends(sim, "CheckTransactionState")]
    assert checks == [(1000, "p1"), (2000, "p2")]              # the broker cannot know p1 is down
    assert notes(sim, "mq_tx.check_answer", "p2")[0]["args"]["verdict"] == "COMMIT"
    assert at(sim, "mq_tx.commit.check") == [2080] and applied(sim, "p1-1") == {"stock": 1, "ship": 1}
    v = views(sim)
    assert v["p2"]["orders"] == {} and v["p1"]["orders"] == {}  # stateless: nobody remembers p1-1
    assert at(sim, "mq_tx.producer_back", "p1") == [2500]
    assert sim.violations == [] and judged(sim)


def test_slow_local_tx_discarded_a_committed_order_is_never_delivered():
    sim = preset("slow_local_tx_discarded")
    assert at(sim, "mq_tx.unknown", "p1") == [440]
    assert at(sim, "mq_tx.query.running") == [1040, 2040, 3040]
    assert [e["args"]["verdict"] for e in notes(sim, "mq_tx.check_answer")] == ["UNKNOWN"] * 3
    assert [(e["t"], e["args"]) for e in notes(sim, "mq_tx.discard")] == [(4000, {"gid": "p1-1", "n": 3})]
    assert at(sim, "mq_tx.committed") == [5160] and at(sim, "mq_tx.late", "p1") == [5180]
    assert [(v["invariant"], v["key"], v["args"], v["t"], v.get("eventual")) for v in sim.violations] == [
        ("committed_delivered", "viol.committed_delivered.late", {"gid": "p1-1", "checks": 3}, 5160, None)]
    check_violation_texts(PROTO, sim.violations)
    v = views(sim)
    assert v["db"]["books"] == PAID and applied(sim, "p1-1") == {}
    assert v["broker"]["half"] == {"p1-1": "DISCARDED · 3"}
    assert v["broker"]["label"] == ["mq_tx.label.broker", {"half": 0, "topic": 0, "discarded": 1}]
    assert sim.checker.excused == [] and judged(sim)           # calm: reported, not excused
    # With RocketMQ's default of 15 check-backs, the check at 6000 reads COMMITTED.
    default = preset("slow_local_tx_discarded", params={"check_max": 15})
    assert at(default, "mq_tx.commit.check") == [6080] and applied(default, "p1-1") == {"stock": 1, "ship": 1}
    assert default.violations == []


def test_check_races_local_tx_unknown_while_running_then_commit():
    sim = preset("check_races_local_tx")
    assert at(sim, "biz.slowed", "db") == [160] and at(sim, "mq_tx.unknown", "p1") == [440]
    assert [(e["t"], e["args"]["status"], e["args"]["verdict"]) for e in notes(sim, "mq_tx.check_answer")] == [
        (1060, "UNKNOWN", "UNKNOWN"), (2060, "COMMITTED", "COMMIT")]
    assert at(sim, "mq_tx.query.running") == [1040]             # still running: UNKNOWN, not ROLLBACK
    assert at(sim, "mq_tx.committed") == [1660] and at(sim, "mq_tx.late", "p1") == [1680]
    assert [e["dst"] for e in sends(sim, "CheckTransactionState")] == ["p1", "p2"]
    assert at(sim, "mq_tx.commit.check") == [2080] and applied(sim, "p1-1") == {"stock": 1, "ship": 1}
    sim2 = Simulation(from_dict({"protocol": "mq_tx", "preset": "check_races_local_tx"}))
    sim2.run_until(1050)
    assert sim2.node_view("db")["running"] == ["p1-1"] and sim2.disk["db"]["txs"] == {}
    assert sim.violations == [] and judged(sim)


def test_local_tx_fails_rollback_is_never_visible():
    sim = preset("local_tx_fails")
    assert notes(sim, "mq_tx.rolled_back")[0]["t"] == 160
    assert sends(sim, "EndTransaction")[0]["body"]["verdict"] == "ROLLBACK"
    assert at(sim, "mq_tx.rollback") == [200]
    assert sends(sim, "Deliver") == [] and sends(sim, "CheckTransactionState") == []
    v = views(sim)
    assert v["db"]["txs"] == {"p1-1": "ROLLED_BACK"} and v["broker"]["half"] == {"p1-1": "ROLLBACK · 0"}
    assert books(sim) == {n: OPENING["pay" if n == "db" else n] for n in ("db", "stock", "ship")}
    assert sim.violations == [] and judged(sim)


def test_broker_crash_duplicate_put_the_inbox_absorbs_the_second_put():
    sim = preset("broker_crash_duplicate_put")
    assert [e["t"] for e in sim.trace if e["type"] in ("crash", "restart")] == [230, 400]
    assert notes(sim, "mq_tx.broker_back")[0]["args"] == {"pending": 1, "unacked": 2}
    assert at(sim, "mq_tx.commit") == [200] and at(sim, "mq_tx.commit.check") == [1480]
    dup = [(e["node"], e["t"], e["args"]["offset"], e["args"]["first"]) for e in notes(sim, "mq_tx.duplicate")]
    assert dup == [("stock", 420, 0, 0), ("ship", 420, 0, 0), ("stock", 1500, 1, 0), ("ship", 1500, 1, 0)]
    v = views(sim)
    assert v["broker"]["topic"] == ["0: p1-1", "1: p1-1"]        # put twice: new offset, same key
    assert v["broker"]["half"] == {"p1-1": "COMMIT · 1"}
    assert applied(sim, "p1-1") == {"stock": 1, "ship": 1}
    assert books(sim)["stock"] == {"stock": 9, "reserved": 0, "sold": 1}
    assert sim.violations == [] and judged(sim)
    # Had the broker written the op record first, nothing would be put twice.
    late = preset("broker_crash_duplicate_put", actions=[
        order(100), {"at": 260, "do": "crash", "node": "broker"}, {"at": 400, "do": "restart", "node": "broker"}])
    assert views(late)["broker"]["topic"] == ["0: p1-1"] and sends(late, "CheckTransactionState") == []


def test_five_consumers_each_apply_each_order_once():
    sim = preset("five_consumers")
    consumers = ["stock", "ship", "coupon", "points", "gift"]
    assert [e["id"] for e in sim.trace if e["type"] == "duplicate"] == [11]
    assert [(e["node"], e["t"]) for e in notes(sim, "mq_tx.duplicate")] == [("coupon", 230)]
    assert applied(sim, "p1-1") == applied(sim, "p2-1") == dict.fromkeys(consumers, 1)
    assert books(sim)["db"] == {"balance": 40, "frozen": 0, "spent": 60}
    assert books(sim)["gift"] == {"credit": 30, "frozen": 0, "spent": 20}
    assert sim.violations == [] and judged(sim)


def test_local_tx_before_half_pays_and_never_delivers():
    sim = preset("local_tx_before_half")
    assert [e["kind"] for e in sim.trace if e["type"] == "send"][:3] == ["LocalTx", "LocalTxDone", "SendHalf"]
    assert at(sim, "mq_tx.send_failed.paid", "p1") == [440]
    assert views(sim)["broker"]["half"] == {} and books(sim)["db"] == PAID
    assert [(v["key"], v["args"], v.get("eventual")) for v in sim.violations] == [
        ("viol.committed_delivered.lost", {"gid": "p1-1"}, True)]
    check_violation_texts(PROTO, sim.violations)
    # The same drop in the correct protocol: the send fails first, and nothing is taken.
    fixed = preset("local_tx_before_half", bugs=[], actions=[order(100), {"at": 110, "do": "drop", "msg": 1}])
    assert at(fixed, "mq_tx.send_failed", "p1") == [400] and sends(fixed, "LocalTx") == []
    assert books(fixed)["db"] == OPENING["pay"] and fixed.violations == [] and judged(fixed)


def test_check_says_commit_makes_a_rolled_back_order_visible():
    sim = preset("check_says_commit")
    assert at(sim, "mq_tx.check_blind", "p1") == [1020] and sends(sim, "QueryTx") == []
    assert ("visible_needs_commit", "viol.visible_needs_commit") in keys(sim)
    assert ("rollback_never_visible", "viol.rollback_never_visible") in keys(sim)
    assert ("rollback_never_visible", "viol.rollback_never_visible.consumed") in keys(sim)
    check_violation_texts(PROTO, sim.violations)
    fixed = preset("check_says_commit", bugs=[])
    assert [e["args"]["verdict"] for e in notes(fixed, "mq_tx.check_answer")] == ["ROLLBACK"]
    assert at(fixed, "mq_tx.rollback.check") == [1080] and sends(fixed, "Deliver") == []
    assert fixed.violations == [] and judged(fixed)


def test_check_says_commit_makes_a_running_transaction_visible():
    sim = run(bugs=["check_says_commit"], until=9000, actions=[ask(50, "db", "slow_next"), order(100)])
    assert at(sim, "mq_tx.commit.check") == [1040]                 # db commits only at 1660
    first = sim.violations[0]
    assert (first["invariant"], first["key"], first["t"]) == ("visible_needs_commit", "viol.visible_needs_commit",
                                                               1040)


def test_consumer_not_idempotent_applies_three_times():
    sim = preset("consumer_not_idempotent")
    assert applied(sim, "p1-1") == {"stock": 3, "ship": 3}
    assert [e["t"] for e in notes(sim, "mq_tx.apply_again", "stock")] == [420, 1500]
    assert books(sim)["stock"] == {"stock": 7, "reserved": 0, "sold": 3}
    assert keys(sim) == [("effects_once", "viol.effects_once")] * 2
    check_violation_texts(PROTO, sim.violations)


# ---------------------------------------------------------------- more of the protocol

def test_a_lost_send_means_no_local_transaction_and_a_lost_half_ack_means_a_discard():
    sim = run(until=12_000, params={"check_max": 2}, actions=[order(100), {"at": 130, "do": "drop", "msg": 2}])
    assert at(sim, "mq_tx.send_failed", "p1") == [400] and sends(sim, "LocalTx") == []
    assert at(sim, "mq_tx.query.none") == [1040, 2040]              # no row: UNKNOWN, never ROLLBACK
    assert [(e["t"], e["args"]) for e in notes(sim, "mq_tx.discard")] == [(3000, {"gid": "p1-1", "n": 2})]
    assert books(sim)["db"] == OPENING["pay"] and sim.violations == [] and judged(sim)


def test_the_fourth_order_finds_the_balance_short():
    sim = run(until=12_000, actions=[order(100 + 300 * i, ("p1", "p2")[i % 2]) for i in range(4)])
    assert views(sim)["db"]["txs"] == {"p1-1": "COMMITTED", "p2-1": "COMMITTED", "p1-2": "COMMITTED",
                                       "p2-2": "ROLLED_BACK"}
    assert books(sim)["db"] == {"balance": 10, "frozen": 0, "spent": 90}
    assert views(sim)["broker"]["topic"] == ["0: p1-1", "1: p2-1", "2: p1-2"]
    assert sim.violations == [] and judged(sim)


def test_a_duplicated_local_tx_runs_once():
    sim = run(until=9000, actions=[order(100), {"at": 150, "do": "duplicate", "msg": 3}])
    assert [e["args"] for e in notes(sim, "mq_tx.local_again")] == [{"gid": "p1-1", "status": "COMMITTED"}]
    assert books(sim)["db"] == PAID and sim.violations == []


def test_requests_at_the_wrong_node_change_nothing():
    sim = run(until=1000, actions=[order(10, "db"), order(20, "stock"), ask(30, "p1", "fail_next")])
    replies = [(e["node"], e["result"]) for e in sim.trace if e["type"] == "reply"]
    assert replies == [("db", "not here: ask a producer"), ("stock", "not here: ask a producer or db"),
                       ("p1", "not here: ask db")]
    assert sends(sim, "SendHalf") == [] and sim.violations == []


def test_a_restarted_instance_never_reuses_an_order_id():
    sim = run(until=12_000, actions=[order(100), {"at": 300, "do": "crash", "node": "p1"},
                                     {"at": 500, "do": "restart", "node": "p1"}, order(600)])
    assert list(views(sim)["db"]["txs"]) == ["p1-1", "p1@500-1"] and sim.violations == []


def test_views_stay_small_with_many_orders():
    sim = run(until=20_000, actions=[order(20 + 60 * i, ("p1", "p2")[i % 2]) for i in range(150)])
    v = views(sim)
    assert len(v["p1"]["orders"]) <= 8 and len(v["db"]["txs"]) <= 8 and len(v["broker"]["half"]) <= 8
    assert len(v["broker"]["topic"]) <= 8 and len(v["stock"]["inbox"]) <= 8
    assert v["broker"]["label"][1]["topic"] == 3 and safety(sim) == []


# ---------------------------------------------------------------- the checker

def test_a_discard_under_a_partition_is_counted_not_reported():
    """The broker cut off from the producer group through every check-back: the discard of a
    paid order is the fault's, visible to the operator (label, narration); counted, not hidden."""
    cut = {"at": 150, "do": "partition", "groups": [["broker"], ["p1", "p2", "db", "stock", "ship"]]}
    sim = run(until=14_000, params={"check_max": 2},
              actions=[order(100), cut, {"at": 3500, "do": "heal"}])
    assert [e["t"] for e in notes(sim, "mq_tx.discard")] == [3000]
    assert views(sim)["db"]["txs"] == {"p1-1": "COMMITTED"} and applied(sim, "p1-1") == {}
    assert sim.checker.excused == ["p1-1"]
    assert views(sim)["broker"]["label"][1]["discarded"] == 1
    assert sim.violations == [] and judged(sim)


def test_a_discard_in_calm_is_reported_at_once(monkeypatch):
    """A broker that ignores a COMMIT from check: the order is discarded with no fault in sight."""
    real = mq_node.Broker.on_end

    def deaf(self, ctx, msg):
        if not msg.body["check"]:
            real(self, ctx, msg)
    monkeypatch.setitem(mq_node.Broker.HANDLERS, "EndTransaction", deaf)
    sim = preset("end_transaction_lost", params={"check_max": 2})
    assert [(v["key"], v["args"], v["t"]) for v in sim.violations] == [
        ("viol.committed_delivered.discarded", {"gid": "p1-1", "checks": 2}, 3000)]
    check_violation_texts(PROTO, sim.violations)


def test_a_discard_after_the_put_loses_nothing():
    """An op record slower than the check window: the half message is checked (and put again)
    and then discarded although its message is in the real topic. Not a loss, not excused."""
    sim = run(until=14_000, params={"op_delay": 3000, "check_max": 1}, actions=[order(100)])
    assert at(sim, "mq_tx.commit") == [200] and at(sim, "mq_tx.commit.check") == [1080]
    assert [e["t"] for e in notes(sim, "mq_tx.discard")] == [2000]
    assert views(sim)["broker"]["half"] == {"p1-1": "DISCARDED · 1"}
    assert views(sim)["broker"]["topic"] == ["0: p1-1", "1: p1-1"]
    assert applied(sim, "p1-1") == {"stock": 1, "ship": 1}
    assert sim.violations == [] and sim.checker.excused == [] and judged(sim)


def test_eventual_check_flags_a_broker_that_never_checks_back(monkeypatch):
    monkeypatch.setattr(mq_node.Broker, "check_round", lambda self, ctx: None)
    sim = preset("end_transaction_lost")
    assert [(v["key"], v["args"], v.get("eventual")) for v in sim.violations] == [
        ("viol.committed_delivered.undelivered", {"gid": "p1-1", "consumers": "stock, ship"}, True),
        ("viol.all_resolved.pending", {"gid": "p1-1", "status": "COMMITTED"}, True)]
    check_violation_texts(PROTO, sim.violations)
    assert preset("end_transaction_lost", until=1500).violations == []   # not judged so soon


def test_checker_catches_a_rollback_after_the_message_was_put(monkeypatch):
    """db that answers COMMITTED to a producer but records ROLLED_BACK: visible, then rolled back."""
    real = mq_node.Database.on_local_tx

    def liar(self, ctx, msg):
        real(self, ctx, msg)
        self.disk["txs"][msg.body["gid"]] = "ROLLED_BACK"
        ctx.persist(txs=self.disk["txs"])
    monkeypatch.setattr(mq_node.Database, "on_local_tx", liar)
    monkeypatch.setattr(mq_node.Broker, "write_ops", lambda self, ctx: None)
    sim = run(until=1000, actions=[order(100)])
    assert ("rollback_never_visible", "viol.rollback_never_visible") in keys(sim)
    check_violation_texts(PROTO, sim.violations)


def test_conservation_is_checked_at_db(monkeypatch):
    monkeypatch.setattr(mq_node.Database, "effect", lambda self, gid, op, amount, row: {
        "books": {"balance": 70, "frozen": 0, "spent": 0}})
    sim = preset("happy")
    assert ("conservation", "viol.conservation") in keys(sim)
    check_violation_texts(PROTO, sim.violations)


def test_settle_time_covers_a_slow_local_transaction_and_three_check_rounds():
    p = {x.name: x.default for x in PROTO.params}
    assert mq_checker.settle_time(p, 20) == 600 + 1500 + 3000 + 50 + 1000 + 300 + 300 + 400 + 500
    assert PROTO.settle_ms(p, {"latency": [20, 20]}) == mq_checker.settle_time(p, 20)


# ---------------------------------------------------------------- random schedules and the bugs

def test_check_finds_nothing_in_the_correct_protocol():
    """Every fault kind (crash, restart, partition, drop, loss, duplicate, delay, timeout and the
    nemesis), drawn parameters, node counts and networks: no violation, safety or eventual."""
    found, violations, runs = fuzz.check("mq_tx", runs=200, model=fuzz.Model())
    assert found is None, violations[:1]
    assert runs == 200


def test_random_runs_judge_the_eventual_properties_and_exercise_the_protocol():
    seen, judged_runs = {}, 0
    for seed in range(1, 31):
        sim = Simulation(fuzz.fuzz_run("mq_tx", seed, fuzz.Model()).scenario).run()
        judged_runs += judged(sim)
        for e in sim.trace:
            if e["type"] == "note":
                seen[e["key"]] = seen.get(e["key"], 0) + 1
    assert judged_runs == 30
    for key in ("mq_tx.commit", "mq_tx.commit.check", "mq_tx.rollback", "mq_tx.rollback.check",
                "mq_tx.query.running", "mq_tx.late", "mq_tx.discard", "mq_tx.duplicate", "mq_tx.redeliver",
                "mq_tx.broker_back", "mq_tx.send_failed", "mq_tx.unknown"):
        assert seen.get(key, 0) >= 3, (key, seen.get(key))


def test_random_runs_sometimes_discard_a_paid_order_under_faults():
    """The excuse is real and rare: measured, 2 of the first 400 random runs discard a paid
    order, each with a fault in its check window (seed 174: the broker partitioned away
    through all three check-backs; seed 391: db down through the only one)."""
    sim = Simulation(fuzz.fuzz_run("mq_tx", 174, fuzz.Model()).scenario).run()
    assert sim.checker.excused == ["p2-3"] and sim.violations == []
    assert sim.params["check_max"] == 3 and judged(sim)


@pytest.mark.parametrize("bug,invariant", [("local_tx_before_half", "committed_delivered"),
                                           ("check_says_commit", "visible_needs_commit"),
                                           ("consumer_not_idempotent", "effects_once")])
def test_each_bug_is_caught_by_random_schedules(bug, invariant):
    found, violations, runs = fuzz.check("mq_tx", bugs=[bug], runs=150, model=fuzz.Model())
    assert found is not None and violations[0]["invariant"] == invariant, violations[:1]
    assert runs <= 30          # measured: run 3, run 2, run 11
    sim = Simulation(found).run()
    assert invariant in {v["invariant"] for v in sim.violations}


def test_same_scenario_same_trace():
    sc = fuzz.fuzz_run("mq_tx", 7, fuzz.Model()).scenario
    again = from_dict(json.loads(sc.to_json()))
    assert Simulation(sc).run().trace == Simulation(again).run().trace
    assert preset("broker_crash_duplicate_put").trace == preset("broker_crash_duplicate_put").trace


def test_the_nemesis_only_reads_and_makes_ordinary_moves(monkeypatch):
    moves = nemesis_moves(monkeypatch, PROTO)
    assert len(moves) >= 10
    for at_, move in moves:
        assert {a["do"] for a in move} <= {"drop", "duplicate", "crash", "restart", "request"}
        assert all(a["at"] >= at_ for a in move)
        assert all(a["op"] == "slow_next" and a["node"] == "db" for a in move if a["do"] == "request")
