"""The local message table: the producer, the relay, the broker and the consumers.

Read it beside the package docstring, which states the rules.

  pay      request "order": ONE local transaction (one ctx.persist) debits the
           account (balance -> spent), writes the order row (PAID) and an
           outbox row for its message, status NEW. A business failure (card
           declined, balance short) writes none of them. Poll: answers with the
           oldest NEW rows (Rows). MarkSent: the row becomes SENT.
  relay    every poll_interval: Poll to pay. Rows: each NEW row is published to
           the broker (Publish), unless it published it less than a poll
           interval ago and still waits for its PublishAck. PublishAck: MarkSent
           to pay. It keeps nothing on disk: the outbox is its memory.
  broker   Publish: the message is stored, durable, in the queue of every
           consumer's subscription, then acknowledged (PublishAck) and
           delivered (Deliver). A delivery not acknowledged within
           redeliver_interval is delivered again, forever. A message published
           twice is stored twice: it deduplicates nothing.
  consumer Deliver: ONE local transaction records the message id in its inbox
           and applies its effect (stock -> sold, slots -> shipped ...); a
           message id its inbox holds already is skipped. Then it acknowledges
           the delivery (Ack), ack_delay ms after its commit.

The bugs (dual writes, no inbox) are marked where they change a decision.
Volatile state (a crash loses it): the relay's published-rows list, the
broker's redelivery schedule, the consumers' Acks not sent yet, pay's half-done
dual write, fail_next and slow_next. Everything a message depends on is on
disk before the message leaves.
"""

from __future__ import annotations

from itertools import islice

from ...kit import business
from ...kit.deadlines import Deadlines
from ...kit.txtable import RECENT, TxTable, newest
from ...protocol import Node

PAY, RELAY, BROKER = "pay", "relay", "broker"
NEW, SENT = "NEW", "SENT"
PAID = "PAID"
BATCH = 10            # rows one poll returns, oldest first

COMMIT_FIRST, PUBLISH_FIRST = "dual_write_commit_first", "dual_write_publish_first"

# How each consumer applies an order, in business words (strings.toml).
CONSUME_NOTES = {
    "stock": "outbox.consume.stock", "ship": "outbox.consume.ship", "coupon": "outbox.consume.coupon",
    "points": "outbox.consume.points", "gift": "outbox.consume.gift",
}



def consumers(node_ids) -> list[str]:
    return [n for n in node_ids if n not in (PAY, RELAY, BROKER)]


# ---------------------------------------------------------------- the producer

class Producer(business.ServiceNode):
    """pay: the business table (books, orders) and the outbox table in one database.

    Disk: books; orders {gid: PAID}; outbox {message id: {gid, status NEW | SENT}}
    (no outbox with a dual-write bug: there is no table to write it to); next_order.
    Order g<n> travels as message m<n>.
    """

    role = "producer"

    def __init__(self, *args):
        super().__init__(*args)
        self.dual = next((b for b in (COMMIT_FIRST, PUBLISH_FIRST) if b in self.bugs), None)
        self.later = Deadlines(("dual",))       # a dual write's second half, due publish_delay later
        self.half: dict[str, str] = {}          # gid -> its message id, the second half not done yet
        self.outbox = TxTable(finished=(SENT,))  # the view's window onto disk["outbox"]
        for mid, row in self.disk.get("outbox", {}).items():
            self.outbox[mid] = row["status"]

    def on_start(self, ctx):
        if "books" not in self.disk:
            tables = {} if self.dual else {"outbox": {}}
            ctx.persist(books=self.service.opening(), orders={}, next_order=1, **tables)

    def on_recover(self, ctx):
        self.on_start(ctx)
        if self.dual is None:
            ctx.note("outbox.recover_pay", node=self.id, count=len(self.outbox.open))

    def on_request(self, ctx, op, arg):
        if op == "order":
            self.order(ctx)
        elif op == "fail_next":
            super().on_request(ctx, op, arg)
        else:
            ctx.reply(op, "not here: ask a consumer")

    # -- the order: one local transaction

    def order(self, ctx) -> None:
        n = self.disk["next_order"]
        gid, mid = f"g{n}", f"m{n}"
        if self.dual == PUBLISH_FIRST:
            self.publish_first(ctx, n, gid, mid)
            return
        if self.business_fails(ctx, gid, self.service.amount):
            ctx.persist(next_order=n + 1)          # the local transaction rolls back: no effect, no row
            ctx.reply("order", {"gid": gid, "status": "DECLINED"})
            return
        if self.dual == COMMIT_FIRST:
            self.commit_first(ctx, n, gid, mid)
            return
        amount = self.service.amount
        changes = self.effect(gid, "action", amount, None)
        self.disk["orders"][gid] = PAID
        self.disk["outbox"][mid] = {"gid": gid, "status": NEW}
        ctx.persist(**changes, orders=self.disk["orders"], outbox=self.disk["outbox"], next_order=n + 1)
        self.outbox[mid] = NEW
        ctx.note("outbox.order", node=self.id, gid=gid, mid=mid, amount=amount)
        self.tell(ctx, gid, "action", amount, say=False)
        ctx.reply("order", {"gid": gid, "message": mid, "status": PAID})

    def pay_now(self, ctx, gid: str, **more) -> None:
        """The debit and the order row, with no outbox row (the dual writes)."""
        amount = self.service.amount
        changes = self.effect(gid, "action", amount, None)
        self.disk["orders"][gid] = PAID
        ctx.persist(**changes, orders=self.disk["orders"], **more)
        self.tell(ctx, gid, "action", amount, say=False)

    def commit_first(self, ctx, n, gid, mid) -> None:
        """Bug dual_write_commit_first: commit, then publish straight to the broker, once,
        publish_delay later; a crash in between loses the message."""
        self.pay_now(ctx, gid, next_order=n + 1)
        ctx.note("outbox.dual_commit", node=self.id, gid=gid, mid=mid, amount=self.service.amount,
                 ms=self.params["publish_delay"])
        self.half[gid] = mid
        self.later.set(ctx, "dual", gid, ctx.now + self.params["publish_delay"])
        ctx.reply("order", {"gid": gid, "message": mid, "status": PAID})

    def publish_first(self, ctx, n, gid, mid) -> None:
        """Bug dual_write_publish_first: publish straight to the broker, then commit
        publish_delay later; a crash in between (or a declined card) leaves a phantom."""
        ctx.persist(next_order=n + 1)              # the order number, before it leaves in a message
        ctx.note("outbox.dual_publish", node=self.id, gid=gid, mid=mid, ms=self.params["publish_delay"])
        ctx.send(BROKER, "Publish", mid=mid, gid=gid)
        self.half[gid] = mid
        self.later.set(ctx, "dual", gid, ctx.now + self.params["publish_delay"])
        ctx.reply("order", {"gid": gid, "message": mid, "status": "PUBLISHED"})

    def second_half(self, ctx) -> None:
        for gid in self.later.take_due(ctx, "dual"):
            mid = self.half.pop(gid)
            if self.dual == COMMIT_FIRST:
                ctx.note("outbox.dual_send", node=self.id, gid=gid, mid=mid)
                ctx.send(BROKER, "Publish", mid=mid, gid=gid)
            elif self.business_fails(ctx, gid, self.service.amount, say=False):
                ctx.note("outbox.dual_declined", node=self.id, gid=gid, mid=mid)
            else:
                ctx.note("outbox.dual_paid", node=self.id, gid=gid, amount=self.service.amount)
                self.pay_now(ctx, gid)
        self.later.rearm(ctx, "dual")

    def on_own_timer(self, ctx, name):
        if name == "dual":
            self.second_half(ctx)

    # -- the relay's side of the outbox

    def handle(self, ctx, msg):
        if msg.kind == "Poll":
            rows = [[mid, self.disk["outbox"][mid]["gid"]] for mid in islice(self.outbox.open, BATCH)]
            ctx.send(msg.src, "Rows", rows=rows)
        elif msg.kind == "MarkSent":
            mid = msg.body["mid"]
            row = self.disk.get("outbox", {}).get(mid)
            if row is not None and row["status"] == NEW:
                row["status"] = SENT
                ctx.persist(outbox=self.disk["outbox"])
                self.outbox[mid] = SENT
                ctx.note("outbox.marked", node=self.id, mid=mid, gid=row["gid"])
        # PublishAck (the dual writes publish themselves): nothing to record.

    def view(self):
        books = dict(self.disk.get("books", {}))
        return {
            "role": self.role,
            "label": [self.service.label, books],
            "books": books,
            "orders": newest(self.disk.get("orders", {})),
            "outbox": self.outbox.recent(),
        }


# ---------------------------------------------------------------- the relay

class Relay(Node):
    """The message relay (poller). Nothing on disk: after a crash it polls again and
    republishes whatever is still NEW, including rows it had published just before."""

    role = "relay"

    def __init__(self, *args):
        super().__init__(*args)
        self.waiting: dict[str, int] = {}   # message id -> when it may be published again
        self.backlog = 0                     # NEW rows in pay's last answer

    def on_start(self, ctx):
        ctx.set_timer("poll", self.params["poll_interval"])

    def on_recover(self, ctx):
        ctx.note("outbox.recover_relay", node=self.id)
        self.on_start(ctx)

    def on_timer(self, ctx, name):
        if name == "poll":
            ctx.send(PAY, "Poll")
            ctx.set_timer("poll", self.params["poll_interval"])

    def on_message(self, ctx, msg):
        if msg.kind == "Rows":
            self.on_rows(ctx, msg.body["rows"])
        elif msg.kind == "PublishAck":
            # Stored by the broker: the row may be marked, even if this relay restarted since.
            mid = msg.body["mid"]
            self.waiting.pop(mid, None)
            ctx.send(PAY, "MarkSent", mid=mid)

    def on_rows(self, ctx, rows) -> None:
        self.backlog = len(rows)
        if len(rows) < BATCH:
            # Every NEW row is in this answer: a row not in it was marked SENT meanwhile.
            listed = {mid for mid, _gid in rows}
            self.waiting = {mid: due for mid, due in self.waiting.items() if mid in listed}
        for mid, gid in rows:
            due = self.waiting.get(mid)
            if due is not None and due > ctx.now:
                continue                    # published lately: its PublishAck may still come
            if due is None:
                ctx.note("outbox.publish", node=self.id, mid=mid, gid=gid)
            else:
                ctx.note("outbox.republish", node=self.id, mid=mid, gid=gid)
            ctx.send(BROKER, "Publish", mid=mid, gid=gid)
            self.waiting[mid] = ctx.now + self.params["poll_interval"]

    def view(self):
        return {"role": self.role,
                "label": ["outbox.label.relay", {"backlog": self.backlog, "waiting": len(self.waiting)}],
                "waiting": sorted(self.waiting)}


# ---------------------------------------------------------------- the broker

class Broker(Node):
    """A durable queue per consumer subscription; at-least-once delivery.

    Disk: queues {consumer: {delivery id: [message id, gid]}} (unacknowledged deliveries),
    next_delivery, stats {message id: {published, deliveries, redeliveries}},
    redelivered and duplicates (totals, for the label).
    """

    role = "broker"

    def __init__(self, *args):
        super().__init__(*args)
        self.subscribers = consumers(self.node_ids)
        self.timing = Deadlines(("redeliver",))

    def on_start(self, ctx):
        if "queues" not in self.disk:
            ctx.persist(queues={c: {} for c in self.subscribers}, next_delivery=1, stats={},
                        redelivered=0, duplicates=0)

    def on_recover(self, ctx):
        self.on_start(ctx)
        queued = [(c, did) for c in self.subscribers for did in self.disk["queues"][c]]
        ctx.note("outbox.recover_broker", node=self.id, count=len(queued))
        for c, did in queued:
            self.deliver(ctx, c, did, again=True)

    def on_message(self, ctx, msg):
        if msg.kind == "Publish":
            self.on_publish(ctx, msg)
        elif msg.kind == "Ack":
            c, did = msg.src, msg.body["delivery"]
            queue = self.disk["queues"].get(c, {})
            if did in queue:
                del queue[did]
                ctx.persist(queues=self.disk["queues"])
                self.timing.clear(ctx, "redeliver", (c, did))

    def on_publish(self, ctx, msg) -> None:
        mid, gid = msg.body["mid"], msg.body["gid"]
        disk = self.disk
        stats = disk["stats"]
        duplicate = mid in stats
        stat = stats.setdefault(mid, {"published": 0, "deliveries": 0, "redeliveries": 0})
        stat["published"] += 1
        n = disk["next_delivery"]
        made = []
        for c in self.subscribers:
            did = f"d{n}"
            n += 1
            disk["queues"][c][did] = [mid, gid]
            made.append((c, did))
        # The message, in every subscription's queue: durable before the PublishAck.
        ctx.persist(queues=disk["queues"], next_delivery=n, stats=stats,
                    duplicates=disk["duplicates"] + (1 if duplicate else 0))
        if duplicate:
            ctx.note("outbox.stored_again", node=self.id, mid=mid, gid=gid, times=stat["published"])
        else:
            ctx.note("outbox.stored", node=self.id, mid=mid, gid=gid, count=len(made))
        ctx.send(msg.src, "PublishAck", mid=mid)
        for c, did in made:
            self.deliver(ctx, c, did)

    def deliver(self, ctx, c: str, did: str, again: bool = False) -> None:
        mid, gid = self.disk["queues"][c][did]
        stat = self.disk["stats"][mid]
        stat["deliveries"] += 1
        more = {}
        if again:
            stat["redeliveries"] += 1
            more["redelivered"] = self.disk["redelivered"] + 1
        ctx.persist(stats=self.disk["stats"], **more)
        ctx.send(c, "Deliver", delivery=did, mid=mid, gid=gid)
        self.timing.set(ctx, "redeliver", (c, did), ctx.now + self.params["redeliver_interval"])

    def on_timer(self, ctx, name):
        if name != "redeliver":
            return
        for c, did in self.timing.take_due(ctx, "redeliver"):
            if did in self.disk["queues"][c]:
                ctx.note("outbox.redeliver", node=self.id, mid=self.disk["queues"][c][did][0], dst=c)
                self.deliver(ctx, c, did, again=True)
        self.timing.rearm(ctx, "redeliver")

    def view(self):
        queues = self.disk.get("queues", {})
        return {
            "role": self.role,
            "label": ["outbox.label.broker", {"queued": sum(len(q) for q in queues.values()),
                                              "redelivered": self.disk.get("redelivered", 0),
                                              "duplicates": self.disk.get("duplicates", 0)}],
            "queues": {c: [row[0] for row in q.values()][-RECENT:] for c, q in queues.items()},
            "messages": {mid: dict(s) for mid, s in newest(self.disk.get("stats", {})).items()},
        }


# ---------------------------------------------------------------- a consumer

class Consumer(business.ServiceNode):
    """An idempotent consumer: its books and its inbox {message id: gid} in one database."""

    FORWARD = ("Deliver",)   # what slow_next holds back

    def __init__(self, *args):
        super().__init__(*args)
        self.acks = Deadlines(("ack",))

    def on_start(self, ctx):
        if "books" not in self.disk:
            ctx.persist(books=self.service.opening(), inbox={})

    def on_request(self, ctx, op, arg):
        if op == "slow_next":
            super().on_request(ctx, op, arg)
        else:
            ctx.reply(op, "not here: ask pay")

    def handle(self, ctx, msg):
        if msg.kind != "Deliver":
            return
        mid, gid, did = msg.body["mid"], msg.body["gid"], msg.body["delivery"]
        inbox = self.disk["inbox"]
        amount = self.service.amount
        if "no_inbox" in self.bugs:
            # The bug: no inbox to look in; every delivery is applied.
            ctx.persist(**self.effect(gid, "action", amount, None))
            ctx.note("outbox.blind", node=self.id, mid=mid, gid=gid)
            self.tell(ctx, gid, "action", amount)
        elif mid in inbox:
            ctx.note("outbox.duplicate", node=self.id, mid=mid, gid=gid)
        else:
            inbox[mid] = gid
            # The inbox row and the effect: one local transaction.
            ctx.persist(**self.effect(gid, "action", amount, None), inbox=inbox)
            ctx.note(CONSUME_NOTES[self.id], node=self.id, mid=mid, gid=gid, amount=amount)
            self.tell(ctx, gid, "action", amount, say=False)
        self.acknowledge(ctx, did)

    def acknowledge(self, ctx, did: str) -> None:
        """Ack after the local commit: at once, or ack_delay ms later (a consumer that commits
        its offsets periodically); a crash before then loses the Ack, and the broker redelivers."""
        if self.params["ack_delay"] == 0:
            ctx.send(BROKER, "Ack", delivery=did)
        elif not self.acks.has("ack", did):
            self.acks.set(ctx, "ack", did, ctx.now + self.params["ack_delay"])

    def on_own_timer(self, ctx, name):
        if name == "ack":
            for did in self.acks.take_due(ctx, "ack"):
                ctx.send(BROKER, "Ack", delivery=did)
            self.acks.rearm(ctx, "ack")

    def view(self):
        books = dict(self.disk.get("books", {}))
        inbox = self.disk.get("inbox", {})
        return {
            "role": self.role,
            "label": [self.service.label, books],
            "books": books,
            "inbox": {"count": len(inbox), "newest": list(newest(inbox))},
        }
