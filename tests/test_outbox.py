"""The local message table (transactional outbox): each preset's lesson, the one local
transaction at pay and at each consumer, the relay, the broker and the inbox under
crashes, partitions and repeats, the checker (safety and eventual), random fault
schedules, and the bug toggles."""

import json

import pytest

from engine import fuzz
from engine.kit import business
from engine.protocols import registry
from engine.protocols.outbox import node as outbox_node
from engine.protocols.outbox.checker import settle_time
from engine.scenario import from_dict
from engine.sim import Simulation

from .nemesis import nemesis_moves
from .traces import books, notes, safety, sends, views
from .translations import check_violation_texts, placeholders

PROTO = registry.get("outbox")
FIXED = {"latency": [20, 20]}
OPENING = {s.name: s.opening() for s in business.SERVICES}
CONSUMERS = ("stock", "ship", "coupon", "points", "gift")


def run(**data) -> Simulation:
    return Simulation(from_dict({"protocol": "outbox", "network": FIXED, **data})).run()


def preset(name, **extra) -> Simulation:
    return Simulation(from_dict({"protocol": "outbox", "preset": name, **extra})).run()


def order(at):
    return {"at": at, "do": "request", "node": "pay", "op": "order"}


def ask(at, node, op):
    return {"at": at, "do": "request", "node": node, "op": op}


def crash(at, node):
    return {"at": at, "do": "crash", "node": node}


def restart(at, node):
    return {"at": at, "do": "restart", "node": node}


def keys(sim):
    return [(v["invariant"], v["key"]) for v in sim.violations]


def at(sim, key, node=None):
    return [e["t"] for e in notes(sim, key, node)]


def label_args(sim, node):
    """Every label `node` showed during the run, in order."""
    return [e["changes"]["label"][1] for e in sim.trace
            if e["type"] == "state" and e["node"] == node and isinstance(e["changes"].get("label"), list)]


# ---------------------------------------------------------------- declarations and strings

def test_declares_producer_relay_broker_and_the_consumers():
    assert PROTO.name == "outbox" and PROTO.category == "transactions"
    assert PROTO.node_ids(1) == ["pay", "relay", "broker", "stock"]
    assert PROTO.node_ids(2) == ["pay", "relay", "broker", "stock", "ship"]
    assert PROTO.node_ids(5) == ["pay", "relay", "broker", *CONSUMERS]
    assert (PROTO.nodes_min, PROTO.nodes_default, PROTO.nodes_max) == (1, 2, 5)
    assert PROTO.layout(PROTO.node_ids(1)) == {"pay": {"place": "top"}, "relay": {"place": "top"},
                                               "broker": {"place": "center"}, "stock": {"place": "bottom"}}
    assert PROTO.tolerates is None
    desc = json.loads(json.dumps(PROTO.describe()))
    # "order" only on pay: the consumers keep the role "service" and their menu offers slow_next.
    assert {o["name"]: o["roles"] for o in desc["operations"]} == {
        "order": ["producer"], "fail_next": ["producer"], "slow_next": ["service"]}
    assert {f["name"] for f in desc["fields"] if f["durable"]} == {"books", "orders", "outbox", "queues",
                                                                  "messages", "inbox"}
    assert {n for n, _ in PROTO.invariants} == {"conservation", "effects_once", "outbox_atomic", "no_phantom",
                                                "all_delivered"}
    assert {b["name"] for b in desc["bugs"]} == {"dual_write_commit_first", "dual_write_publish_first", "no_inbox"}
    assert [p.name for p in PROTO.presets] == [
        "happy", "declined", "relay_crash", "consumer_crash", "broker_partition", "five_consumers",
        "dual_write_commit_first_crash", "dual_write_publish_first_crash", "no_inbox"]
    assert not any(k.startswith("field.fence") for k in PROTO.strings)      # the inbox is this pattern's fence


def _all_runs():
    sims = [preset(p.name) for p in PROTO.presets]
    for seed in range(1, 21):
        sims.append(Simulation(fuzz.fuzz_run("outbox", seed, fuzz.Model()).scenario).run())
    sims.append(run(bugs=["dual_write_publish_first"], until=3000, actions=[ask(50, "pay", "fail_next"), order(100)]))
    sims.append(run(bugs=["dual_write_commit_first"], until=3000, actions=[order(100)]))
    sims.append(run(bugs=["dual_write_publish_first"], until=3000, actions=[order(100)]))
    return sims


def test_every_message_kind_note_and_label_has_english_and_chinese():
    s = PROTO.strings
    kinds, emitted, labels = set(), {}, set()
    for sim in _all_runs():
        for e in sim.trace:
            if e["type"] == "send":
                kinds.add(e["kind"])
            elif e["type"] == "note" and e["key"].startswith("outbox."):
                emitted.setdefault(e["key"], set(e["args"]))
            elif e["type"] == "state" and isinstance(e["changes"].get("label"), list):
                labels.add(e["changes"]["label"][0])
    assert kinds == {"Poll", "Rows", "Publish", "PublishAck", "MarkSent", "Deliver", "Ack"}
    for k in kinds:
        assert s[f"kind.{k}"]["en"] and s[f"kind.{k}"]["zh"] != s[f"kind.{k}"]["en"], k
    ours = {k for k in s if k.startswith("outbox.") and ".label." not in k}
    assert ours == set(emitted), ours ^ set(emitted)                        # every note is said somewhere
    for key, args in emitted.items():
        assert placeholders(s[key]["en"]) == placeholders(s[key]["zh"]) <= args, key
    assert {"outbox.label.relay", "outbox.label.broker"} | {f"biz.label.{n}" for n in ("pay", *CONSUMERS)} <= labels


# ---------------------------------------------------------------- the presets' lessons

def test_happy_one_local_transaction_then_the_relay_the_broker_and_the_inboxes():
    sim = preset("happy")
    chain = [(e["t"], e["src"], e["dst"], e["kind"]) for e in sim.trace
             if e["type"] == "send" and e["kind"] not in ("Poll", "Rows")]
    assert chain == [(240, "relay", "broker", "Publish"), (260, "broker", "relay", "PublishAck"),
                     (260, "broker", "stock", "Deliver"), (260, "broker", "ship", "Deliver"),
                     (280, "relay", "pay", "MarkSent"), (330, "stock", "broker", "Ack"),
                     (330, "ship", "broker", "Ack")]
    assert at(sim, "outbox.order") == [100]
    assert at(sim, "outbox.consume.stock") == [280] and at(sim, "outbox.consume.ship") == [280]
    assert at(sim, "outbox.marked") == [300]                                # SENT only after the broker has it
    assert books(sim) == {"pay": {"balance": 70, "frozen": 0, "spent": 30},
                          "stock": {"stock": 9, "reserved": 0, "sold": 1},
                          "ship": {"slots": 4, "booked": 0, "shipped": 1}}
    v = views(sim)
    assert v["pay"]["outbox"] == {"m1": "SENT"} and v["pay"]["orders"] == {"g1": "PAID"}
    assert v["stock"]["inbox"] == {"count": 1, "newest": ["m1"]}
    assert v["broker"]["label"] == ["outbox.label.broker", {"queued": 0, "redelivered": 0, "duplicates": 0}]
    assert v["broker"]["messages"] == {"m1": {"published": 1, "deliveries": 2, "redeliveries": 0}}
    assert sim.violations == []


def test_the_payment_and_the_outbox_row_are_one_local_transaction():
    """Right after the order, pay's disk holds the debit, the order row and the NEW row together
    (the engine applies a handler atomically: one ctx.persist)."""
    sim = Simulation(from_dict({"protocol": "outbox", "network": FIXED, "until": 3000, "actions": [order(100)]}))
    sim.run_until(100)
    disk = sim.disk["pay"]
    assert disk["books"]["spent"] == 30 and disk["orders"] == {"g1": "PAID"}
    assert disk["outbox"] == {"m1": {"gid": "g1", "status": "NEW"}} and disk["next_order"] == 2
    sim.run_until(280)                       # the consumer's inbox row and its effect, together too
    assert sim.disk["stock"]["inbox"] == {"m1": "g1"} and sim.disk["stock"]["books"]["sold"] == 1
    assert sim.disk["pay"]["outbox"]["m1"]["status"] == "NEW"               # MarkSent lands at 300


def test_declined_a_business_failure_writes_neither_row():
    sim = preset("declined")
    assert at(sim, "biz.pay.refused", "pay") == [100]
    replies = [e["result"] for e in sim.trace if e["type"] == "reply" and e["op"] == "order"]
    assert replies == [{"gid": "g1", "status": "DECLINED"}, {"gid": "g2", "message": "m2", "status": "PAID"}]
    assert [e["body"]["mid"] for e in sends(sim, "Publish")] == ["m2"]      # m1 never existed
    assert at(sim, "outbox.consume.stock") == [480]
    v = views(sim)
    assert v["pay"]["outbox"] == {"m2": "SENT"} and v["pay"]["orders"] == {"g2": "PAID"}
    assert books(sim)["pay"] == {"balance": 70, "frozen": 0, "spent": 30} and sim.violations == []


def test_relay_crash_the_duplicate_publish_is_absorbed_by_the_inbox():
    sim = preset("relay_crash")
    drops = [(e["t"], e["id"], e["reason"]) for e in sim.trace if e["type"] == "drop"]
    assert drops == [(280, 4, "crashed")]                                   # the PublishAck, to a dead relay
    assert sends(sim, "PublishAck")[0]["id"] == 4
    assert [e["t"] for e in sends(sim, "Publish")] == [240, 540]           # m1 still NEW: published again
    assert [e["t"] for e in sends(sim, "MarkSent")] == [580]
    assert at(sim, "outbox.stored_again", "broker") == [560]
    assert [(e["node"], e["t"]) for e in notes(sim, "outbox.duplicate")] == [("stock", 580), ("ship", 580)]
    assert at(sim, "outbox.consume.stock") == [280]                        # applied once
    v = views(sim)
    assert v["broker"]["label"] == ["outbox.label.broker", {"queued": 0, "redelivered": 0, "duplicates": 1}]
    assert v["broker"]["messages"] == {"m1": {"published": 2, "deliveries": 4, "redeliveries": 0}}
    assert v["pay"]["outbox"] == {"m1": "SENT"}
    assert books(sim)["stock"] == {"stock": 9, "reserved": 0, "sold": 1}
    assert sim.violations == []


def test_consumer_crash_the_redelivery_is_absorbed_by_the_inbox():
    sim = preset("consumer_crash")
    assert at(sim, "outbox.consume.stock") == [280]                        # committed, then crashed at 300
    assert [e["t"] for e in sends(sim, "Ack", src="stock")] == [830]       # its first Ack died with it
    assert [(e["t"], e["args"]["dst"]) for e in notes(sim, "outbox.redeliver")] == [(760, "stock")]
    assert at(sim, "outbox.duplicate", "stock") == [780]
    assert [e["t"] for e in sends(sim, "Deliver", dst="ship")] == [260]    # ship acked in time
    v = views(sim)
    assert v["broker"]["label"] == ["outbox.label.broker", {"queued": 0, "redelivered": 1, "duplicates": 0}]
    assert v["broker"]["messages"]["m1"] == {"published": 1, "deliveries": 3, "redeliveries": 1}
    assert v["broker"]["queues"] == {"stock": [], "ship": []}
    assert books(sim)["stock"] == {"stock": 9, "reserved": 0, "sold": 1}
    assert sim.violations == []


def test_broker_partition_the_backlog_grows_then_drains():
    sim = Simulation(from_dict({"protocol": "outbox", "preset": "broker_partition"}))
    sim.run_until(1299)
    assert sim.node_view("pay")["outbox"] == {"m1": "NEW", "m2": "NEW", "m3": "NEW"}
    assert sim.node_view("pay")["books"]["spent"] == 90                     # orders kept committing
    assert sim.node_view("relay")["label"] == ["outbox.label.relay", {"backlog": 3, "waiting": 3}]
    assert books(sim)["stock"]["sold"] == 0
    sim.run()
    backlog = [a["backlog"] for a in label_args(sim, "relay")]
    assert max(backlog) == 3 and backlog[-1] == 0
    partition_drops = [e["t"] for e in sim.trace if e["type"] == "drop" and e["reason"] == "partition"]
    assert len(partition_drops) == 15 and max(partition_drops) < 1300       # every publish lost until the heal
    assert at(sim, "outbox.stored", "broker") == [1460, 1460, 1460]
    assert at(sim, "outbox.marked", "pay") == [1500, 1500, 1500]
    assert views(sim)["pay"]["outbox"] == {"m1": "SENT", "m2": "SENT", "m3": "SENT"}
    assert books(sim)["stock"] == {"stock": 7, "reserved": 0, "sold": 3}
    assert books(sim)["ship"] == {"slots": 2, "booked": 0, "shipped": 3}
    assert sim.violations == []


def test_five_consumers_one_row_fans_out_to_every_subscription():
    sim = preset("five_consumers")
    assert [e["dst"] for e in sends(sim, "Deliver")] == list(CONSUMERS)
    for name in CONSUMERS:
        assert at(sim, f"outbox.consume.{name}", name) == [280], name
        s = business.BY_NAME[name]
        assert books(sim)[name][s.buckets[business.USED]] == s.amount
    assert views(sim)["gift"]["label"] == ["biz.label.gift", {"credit": 40, "frozen": 0, "spent": 10}]
    assert sim.violations == []


def test_dual_write_commit_first_crash_loses_the_message():
    sim = preset("dual_write_commit_first_crash")
    assert at(sim, "outbox.dual_commit", "pay") == [100]
    assert sends(sim, "Publish") == [] and at(sim, "outbox.dual_send") == []
    assert "outbox" not in sim.disk["pay"]                                  # no table to remember it
    assert books(sim) == {"pay": {"balance": 70, "frozen": 0, "spent": 30},
                          "stock": OPENING["stock"], "ship": OPENING["ship"]}
    assert [(v["key"], v["args"], v.get("eventual")) for v in sim.violations] == [
        ("viol.all_delivered.missing", {"gid": "g1", "services": "stock, ship"}, True)]
    check_violation_texts(PROTO, sim.violations)
    # Without the crash, the dual write gets lucky: published at 130, applied at 170.
    lucky = preset("dual_write_commit_first_crash", actions=[order(100)])
    assert at(lucky, "outbox.dual_send", "pay") == [130] and at(lucky, "outbox.consume.stock") == [170]
    assert lucky.violations == []


def test_dual_write_publish_first_crash_leaves_a_phantom():
    sim = preset("dual_write_publish_first_crash")
    assert at(sim, "outbox.dual_publish", "pay") == [100]
    assert at(sim, "outbox.dual_paid") == []                                # the commit never came
    assert books(sim) == {"pay": OPENING["pay"], "stock": {"stock": 9, "reserved": 0, "sold": 1},
                          "ship": {"slots": 4, "booked": 0, "shipped": 1}}
    assert [(v["t"], v["key"], v["args"]) for v in sim.violations] == [
        (140, "viol.no_phantom", {"node": "stock", "gid": "g1"}),
        (140, "viol.no_phantom", {"node": "ship", "gid": "g1"})]
    check_violation_texts(PROTO, sim.violations)
    lucky = preset("dual_write_publish_first_crash", actions=[order(100)])  # committed at 130, applied at 140
    assert at(lucky, "outbox.dual_paid", "pay") == [130] and lucky.violations == []


def test_publish_first_with_a_declined_card_is_a_phantom_without_any_crash():
    sim = run(bugs=["dual_write_publish_first"], until=3000, actions=[ask(50, "pay", "fail_next"), order(100)])
    assert at(sim, "outbox.dual_declined", "pay") == [130]
    assert ("no_phantom", "viol.no_phantom") in keys(sim)


def test_no_inbox_a_duplicate_is_applied_twice():
    sim = preset("no_inbox")
    assert [(e["node"], e["t"]) for e in notes(sim, "outbox.blind")] == [
        ("stock", 280), ("ship", 280), ("stock", 580), ("ship", 580)]
    assert books(sim)["stock"] == {"stock": 8, "reserved": 0, "sold": 2}
    assert books(sim)["ship"] == {"slots": 3, "booked": 0, "shipped": 2}
    assert [(v["t"], v["key"], v["args"]["node"]) for v in sim.violations] == [
        (580, "viol.effects_once", "stock"), (580, "viol.effects_once", "ship")]
    check_violation_texts(PROTO, sim.violations)
    assert preset("no_inbox", bugs=[]).violations == []                    # relay_crash: the inbox absorbs it


def test_no_inbox_can_spend_what_is_not_there():
    """ship has 5 slots: one delivery copied five times ships six times, and its books go negative."""
    copies = [{"at": 261 + i, "do": "duplicate", "msg": 6} for i in range(5)]
    sim = run(bugs=["no_inbox"], until=3000, actions=[order(100), *copies])
    assert books(sim)["ship"] == {"slots": -1, "booked": 0, "shipped": 6}
    assert ("conservation", "viol.conservation.negative") in keys(sim)
    check_violation_texts(PROTO, sim.violations)
    fixed = run(until=3000, actions=[order(100), *copies])
    assert len(notes(fixed, "outbox.duplicate", "ship")) == 5 and fixed.violations == []


# ---------------------------------------------------------------- more of the pattern

def test_the_fourth_order_finds_the_balance_short_and_writes_no_row():
    sim = run(until=4000, actions=[order(100 + 100 * i) for i in range(4)])
    assert at(sim, "biz.pay.refused", "pay") == [400]
    assert views(sim)["pay"]["outbox"] == {"m1": "SENT", "m2": "SENT", "m3": "SENT"}
    assert books(sim)["stock"]["sold"] == 3 and sim.violations == []


def test_a_slow_consumer_is_overtaken_by_the_redelivery_and_the_late_copy_is_skipped():
    sim = run(until=4000, actions=[ask(10, "stock", "slow_next"), order(100)])
    assert at(sim, "biz.slowed", "stock") == [280]
    assert at(sim, "outbox.redeliver", "broker") == [760]
    assert at(sim, "outbox.consume.stock") == [780]
    assert at(sim, "outbox.duplicate", "stock") == [1780]                   # the held copy, 1500 ms on
    assert books(sim)["stock"]["sold"] == 1 and sim.violations == []


def test_a_broker_crash_redelivers_what_is_unacknowledged():
    sim = run(until=4000, actions=[order(100), crash(270, "broker"), restart(400, "broker")])
    assert notes(sim, "outbox.recover_broker")[0]["args"] == {"node": "broker", "count": 2}
    assert [e["t"] for e in sends(sim, "Deliver")] == [260, 260, 400, 400]
    assert [(e["node"], e["t"]) for e in notes(sim, "outbox.duplicate")] == [("stock", 420), ("ship", 420)]
    assert views(sim)["broker"]["label"][1]["redelivered"] == 2 and sim.violations == []


def test_a_pay_crash_keeps_the_outbox_and_the_relay_finds_the_row():
    sim = run(until=4000, actions=[order(100), crash(150, "pay"), restart(700, "pay")])
    assert notes(sim, "outbox.recover_pay")[0]["args"] == {"node": "pay", "count": 1}
    assert at(sim, "outbox.publish", "relay") == [840]                      # the first poll after the restart
    assert views(sim)["pay"]["outbox"] == {"m1": "SENT"} and sim.violations == []


def test_a_lost_mark_sent_means_one_more_publish_and_nothing_else():
    sim = run(until=4000, actions=[order(100), {"at": 285, "do": "drop", "msg": 7}])
    assert sends(sim, "MarkSent")[0]["id"] == 7
    assert at(sim, "outbox.publish", "relay") == [240, 440]                # the relay saw its PublishAck
    assert at(sim, "outbox.stored_again", "broker") == [460]
    assert books(sim)["stock"]["sold"] == 1 and sim.violations == []


def test_acks_leave_at_once_with_no_ack_delay():
    sim = run(until=3000, params={"ack_delay": 0}, actions=[order(100)])
    assert [e["t"] for e in sends(sim, "Ack")] == [280, 280]
    assert not any(e["type"] == "timer" and e["name"] == "ack" for e in sim.trace) and sim.violations == []


def test_requests_at_the_wrong_node_change_nothing():
    sim = run(until=1000, actions=[{**order(10), "node": "stock"}, ask(20, "pay", "slow_next")])
    replies = [(e["node"], e["result"]) for e in sim.trace if e["type"] == "reply"]
    assert replies == [("stock", "not here: ask pay"), ("pay", "not here: ask a consumer")]
    assert sends(sim, "Publish") == [] and sim.violations == []


def test_views_stay_small():
    sim = run(until=20_000, actions=[order(20 + 60 * i) for i in range(150)])
    v = views(sim)
    assert len(v["pay"]["orders"]) <= 8 and len(v["pay"]["outbox"]) <= 8 and len(v["broker"]["messages"]) <= 8
    assert safety(sim) == []


# ---------------------------------------------------------------- the checker

def test_checker_catches_a_payment_without_its_outbox_row(monkeypatch):
    monkeypatch.setattr(outbox_node.Producer, "order",
                        lambda self, ctx: self.pay_now(ctx, f"g{self.disk['next_order']}",
                                                       next_order=self.disk["next_order"] + 1))
    sim = run(until=3000, actions=[order(100)])
    assert [(v["t"], v["key"], v["args"]) for v in safety(sim)] == [
        (100, "viol.outbox_atomic.no_row", {"gid": "g1"})]
    assert ("all_delivered", "viol.all_delivered.missing") in keys(sim)
    check_violation_texts(PROTO, sim.violations)


def test_checker_catches_an_outbox_row_without_its_payment(monkeypatch):
    def row_only(self, ctx):
        self.disk["outbox"]["m1"] = {"gid": "g1", "status": outbox_node.NEW}
        ctx.persist(outbox=self.disk["outbox"])
        self.outbox["m1"] = outbox_node.NEW
    monkeypatch.setattr(outbox_node.Producer, "order", row_only)
    sim = run(until=3000, actions=[order(100)])
    assert ("outbox_atomic", "viol.outbox_atomic.no_payment") in keys(sim)
    assert ("no_phantom", "viol.no_phantom") in keys(sim)                 # and the consumers act on it
    check_violation_texts(PROTO, sim.violations)


def test_eventual_check_flags_rows_never_marked_and_deliveries_never_acked(monkeypatch):
    original = outbox_node.Producer.handle
    monkeypatch.setattr(outbox_node.Producer, "handle",
                        lambda self, ctx, msg: None if msg.kind == "MarkSent" else original(self, ctx, msg))
    monkeypatch.setattr(outbox_node.Consumer, "acknowledge", lambda self, ctx, did: None)
    sim = preset("happy")
    copies = len(sends(sim, "Publish"))            # m1 stays NEW: every poll publishes it again
    assert copies > 10
    assert [(v["key"], v["args"], v.get("eventual")) for v in sim.violations] == [
        ("viol.all_delivered.outbox", {"count": 1, "mids": "m1"}, True),
        ("viol.all_delivered.queue", {"node": "stock", "count": copies}, True),
        ("viol.all_delivered.queue", {"node": "ship", "count": copies}, True)]
    assert books(sim)["stock"]["sold"] == 1                                 # every repeat absorbed meanwhile
    check_violation_texts(PROTO, sim.violations)



def test_eventual_check_reports_held_stock_under_all_delivered(monkeypatch):
    """A consumer that only reserves (available -> held) never applies the order, and what it
    holds stays held: the kit's held_left is part of all_delivered here."""
    real = outbox_node.Consumer.effect
    monkeypatch.setattr(outbox_node.Consumer, "effect", lambda self, gid, op, amount, row: real(self, gid, "try",
                                                                                                amount, row))
    sim = preset("happy")
    assert {v["invariant"] for v in sim.violations} == {"all_delivered"}
    assert ("all_delivered", "viol.held_left") in keys(sim)


def test_eventual_check_waits_until_the_relay_and_the_broker_had_time():
    assert preset("dual_write_commit_first_crash", until=1500).violations == []
    params = {p.name: p.default for p in PROTO.params}
    assert settle_time(params, 20) == 3 * 200 + 2 * 500 + 2 * 50 + 30 + 12 * 20 + 200
    assert PROTO.settle_ms(params, {"latency": [20, 20]}) == settle_time(params, 20)


# ---------------------------------------------------------------- random schedules and the bugs

def test_check_finds_nothing_in_the_correct_protocol():
    """Every fault kind (crash, restart, partition, drop, loss, duplicate, delay, timeout and the
    nemesis), drawn parameters, node counts and networks: no violation, safety or eventual."""
    found, violations, runs = fuzz.check("outbox", runs=200, model=fuzz.Model())
    assert found is None, violations[:1]
    assert runs == 200


def windows(sim) -> tuple[bool, bool]:
    """Did the relay crash between a publish and its mark-sent (its PublishAck died with it)?
    Did a consumer crash between its commit and its Ack?"""
    kinds, applied = {}, {}
    relay = consumer = False
    for e in sim.trace:
        if e["type"] == "send":
            kinds[e["id"]] = e["kind"]
            if e["kind"] == "Ack":
                applied.pop(e["src"], None)
        elif e["type"] == "duplicate":
            kinds[e["new_id"]] = kinds.get(e["id"])
        elif e["type"] == "drop" and e["reason"] == "crashed" and kinds.get(e["id"]) == "PublishAck":
            relay = True
        elif e["type"] == "note" and e["key"].startswith("outbox.consume."):
            applied[e["node"]] = True
        elif e["type"] == "crash" and applied.pop(e["node"], None):
            consumer = True
    return relay, consumer


def test_random_runs_are_judged_and_exercise_every_repeat():
    seen, judged, relay, consumer = {}, 0, 0, 0
    for seed in range(1, 41):
        sim = Simulation(fuzz.fuzz_run("outbox", seed, fuzz.Model()).scenario).run()
        if sim.until - sim.last_action_at >= sim.checker.settle_time(sim):
            judged += 1                                                     # all_delivered was judged
        for e in sim.trace:
            if e["type"] == "note":
                seen[e["key"]] = seen.get(e["key"], 0) + 1
        r, c = windows(sim)
        relay += r
        consumer += c
    assert judged >= 35, judged
    assert relay >= 2 and consumer >= 2, (relay, consumer)                 # both crash windows are reached
    for key in ("outbox.order", "outbox.marked", "outbox.republish", "outbox.stored_again", "outbox.redeliver",
                "outbox.duplicate", "outbox.recover_relay", "outbox.recover_broker", "outbox.recover_pay",
                "biz.slowed", "biz.pay.refused"):
        assert seen.get(key, 0) >= 5, (key, seen.get(key))


@pytest.mark.parametrize("bug,invariant", [("dual_write_commit_first", "all_delivered"),
                                           ("dual_write_publish_first", "no_phantom"),
                                           ("no_inbox", "effects_once")])
def test_each_bug_is_caught_by_random_schedules(bug, invariant):
    found, violations, runs = fuzz.check("outbox", bugs=[bug], runs=150, model=fuzz.Model())
    assert found is not None and violations[0]["invariant"] == invariant, violations[:1]
    assert runs <= 30          # measured: run 3 (commit first), run 1 (publish first, no inbox)
    sim = Simulation(found).run()
    assert invariant in {v["invariant"] for v in sim.violations}


def test_the_dual_write_bugs_are_caught_by_crashes_alone():
    """With only crashes and restarts (no partition, no lost message), a crash inside pay's
    gap is what loses the message or leaves the phantom."""
    model = fuzz.Model(faults=("crash", "restart", "protocol"))
    for bug, invariant in (("dual_write_commit_first", "all_delivered"), ("dual_write_publish_first", "no_phantom")):
        found, violations, _runs = fuzz.check("outbox", bugs=[bug], runs=150, model=model)
        assert found is not None and invariant in {v["invariant"] for v in violations}, bug


def test_same_scenario_same_trace():
    sc = fuzz.fuzz_run("outbox", 7, fuzz.Model()).scenario
    again = from_dict(json.loads(sc.to_json()))
    assert Simulation(sc).run().trace == Simulation(again).run().trace
    assert preset("relay_crash").trace == preset("relay_crash").trace


def test_the_nemesis_only_drops_duplicates_crashes_and_restarts(monkeypatch):
    moves = nemesis_moves(monkeypatch, PROTO)
    assert len(moves) >= 10
    for at_, move in moves:
        assert {a["do"] for a in move} <= {"drop", "duplicate", "crash", "restart"}
        assert all(a["at"] >= at_ for a in move)
