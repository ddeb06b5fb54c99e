"""The choreographed saga: the order service and the services of the chain, with no orchestrator.

Read it beside the package docstring, which states the rules. Every node is a
consumer and a producer at once:

  consume  an event arrives: in ONE local transaction (one ctx.persist) the node
           records the event id in its inbox, applies its business effect
           through the fence and writes the next event into its outbox; then it
           acknowledges (Ack) the event, ack_delay ms later
  relay    every outbox row is sent at once and again every resend_interval
           until its receiver acknowledges it; the Ack deletes the row
  inbox    an event id already in the inbox is a redelivery: skip its effect,
           acknowledge it again

  order    request "order": a new order, PENDING, and OrderCreated for the first
           service (one local transaction). Completed -> COMPLETED, Failed -> CANCELLED.
  service  OrderCreated / StepDone: its action (available -> used); StepDone to
           the next service, or Completed to the order service after the last one.
           A business failure: nothing changes here; Failed to the previous one.
           Failed: its compensation (used -> available); Failed goes on up the chain.

Volatile state (a crash loses it): the relay's deadlines, Acks not sent yet,
what readers saw, a slowed message, fail_next and slow_next. Everything an
event depends on is on disk before the event leaves.
"""

from __future__ import annotations

from ...kit import business
from ...kit.deadlines import Deadlines
from ...kit.txtable import TxTable, newest
from ...protocol import Node

ORDER = "order"
PENDING, COMPLETED, CANCELLED = "PENDING", "COMPLETED", "CANCELLED"
FORWARD_KINDS = ("OrderCreated", "StepDone")

# What each service does, fails and undoes, in business words (strings.toml).
ACTION_NOTES = {
    "pay": "saga_choreo.action.pay", "stock": "saga_choreo.action.stock", "ship": "saga_choreo.action.ship",
    "coupon": "saga_choreo.action.coupon", "points": "saga_choreo.action.points",
    "gift": "saga_choreo.action.gift",
}
FAIL_NOTES = {
    "pay": "saga_choreo.fail.pay", "stock": "saga_choreo.fail.stock", "ship": "saga_choreo.fail.ship",
    "coupon": "saga_choreo.fail.coupon", "points": "saga_choreo.fail.points", "gift": "saga_choreo.fail.gift",
}
UNDO_NOTES = {
    "pay": "saga_choreo.undo.pay", "stock": "saga_choreo.undo.stock", "ship": "saga_choreo.undo.ship",
    "coupon": "saga_choreo.undo.coupon", "points": "saga_choreo.undo.points", "gift": "saga_choreo.undo.gift",
}



class Choreographed:
    """What every node of the choreography shares: the outbox and its relay, the inbox, Acks.

    Disk: outbox {event id: row} (unacknowledged rows only), inbox {event id: gid}
    (every event processed), next_event (event ids are "<node>:<n>", never reused).
    """

    def __init__(self, *args):
        super().__init__(*args)
        self.chain = self.node_ids[1:]          # the services, in the order an order visits them
        self.timing = Deadlines(("relay", "ack"))

    def init_disk(self, ctx, **fields) -> None:
        if "outbox" not in self.disk:
            ctx.persist(outbox={}, inbox={}, next_event=1, **fields)

    # ------------------------------------------------------------ one local transaction

    def commit(self, ctx, consumed: str | None, gid: str, emit=(), changes: dict | None = None) -> None:
        """Record `consumed` in the inbox, apply `changes` (books, fence, orders) and write each
        event of `emit` ((dst, kind, body)) into the outbox: one ctx.persist, durable together.
        Then the relay sends the new rows. With bug no_outbox the events are not written
        anywhere: sent once, straight after the commit (a dual write)."""
        disk = self.disk
        fields = dict(changes or {})
        if consumed is not None:
            disk["inbox"][consumed] = gid
            fields["inbox"] = disk["inbox"]
        rows = []
        n = disk["next_event"]
        for dst, kind, body in emit:
            eid = f"{self.id}:{n}"
            n += 1
            rows.append((eid, {"dst": dst, "kind": kind, "gid": gid, "body": {"event": eid, "gid": gid, **body}}))
        direct = "no_outbox" in self.bugs
        if rows:
            fields["next_event"] = n
            if not direct:
                for eid, row in rows:
                    disk["outbox"][eid] = row
                fields["outbox"] = disk["outbox"]
        ctx.persist(**fields)
        for eid, row in rows:
            if direct:
                ctx.note("saga_choreo.direct", node=self.id, kind=row["kind"], gid=gid, dst=row["dst"])
                ctx.send(row["dst"], row["kind"], **row["body"])
            else:
                self.publish(ctx, eid)

    # ------------------------------------------------------------ the relay

    def publish(self, ctx, eid: str) -> None:
        """Send an outbox row, and again resend_interval later unless it is acknowledged."""
        row = self.disk["outbox"][eid]
        ctx.send(row["dst"], row["kind"], **row["body"])
        self.timing.set(ctx, "relay", eid, ctx.now + self.params["resend_interval"])

    def relay_due(self, ctx) -> None:
        for eid in self.timing.take_due(ctx, "relay"):
            row = self.disk["outbox"].get(eid)
            if row is not None:
                ctx.note("saga_choreo.resend", node=self.id, event=eid, kind=row["kind"], gid=row["gid"],
                         dst=row["dst"])
                self.publish(ctx, eid)
        self.timing.rearm(ctx, "relay")

    def restart_relay(self, ctx) -> None:
        """After a crash: the relay finds the unacknowledged rows on disk and sends them again."""
        outbox = self.disk["outbox"]
        ctx.note("saga_choreo.recover", node=self.id, count=len(outbox))
        for eid in list(outbox):
            self.publish(ctx, eid)

    def on_ack(self, ctx, msg) -> None:
        eid = msg.body["event"]
        if eid in self.disk["outbox"]:
            del self.disk["outbox"][eid]
            ctx.persist(outbox=self.disk["outbox"])
            self.timing.clear(ctx, "relay", eid)

    # ------------------------------------------------------------ consuming

    def consume(self, ctx, msg) -> None:
        """Every message: an Ack, or an event (processed once, acknowledged every time)."""
        if msg.kind == "Ack":
            self.on_ack(ctx, msg)
            return
        eid = msg.body["event"]
        if eid in self.disk["inbox"] and not self.apply_again(msg):
            ctx.note("saga_choreo.duplicate", node=self.id, event=eid, kind=msg.kind, gid=msg.body["gid"])
        else:
            self.HANDLERS[msg.kind](self, ctx, msg)
        self.acknowledge(ctx, msg.src, eid)

    def apply_again(self, msg) -> bool:
        """Bug compensation_not_idempotent: a service re-applies a redelivered Failed."""
        return False

    def acknowledge(self, ctx, dst: str, eid: str) -> None:
        """Ack after the local commit: at once, or ack_delay ms later (a consumer that commits
        its offsets periodically); a crash before then loses the Ack, and the sender re-sends."""
        if self.params["ack_delay"] == 0:
            ctx.send(dst, "Ack", event=eid)
        elif not self.timing.has("ack", (dst, eid)):
            self.timing.set(ctx, "ack", (dst, eid), ctx.now + self.params["ack_delay"])

    def acks_due(self, ctx) -> None:
        for dst, eid in self.timing.take_due(ctx, "ack"):
            ctx.send(dst, "Ack", event=eid)
        self.timing.rearm(ctx, "ack")

    def chore_timer(self, ctx, name: str) -> None:
        if name == "relay":
            self.relay_due(ctx)
        elif name == "ack":
            self.acks_due(ctx)

    # ------------------------------------------------------------ the page

    def queues_view(self) -> dict:
        outbox = self.disk.get("outbox", {})
        inbox = self.disk.get("inbox", {})
        return {
            "outbox": {eid: f"{row['kind']} {row['gid']} -> {row['dst']}" for eid, row in outbox.items()},
            "inbox": {"count": len(inbox), "newest": list(newest(inbox))},
        }

    HANDLERS: dict = {}


# ---------------------------------------------------------------- the order service

class OrderNode(Choreographed, Node):
    """Holds each order's status, durable: PENDING -> COMPLETED or CANCELLED."""

    role = "order"

    def __init__(self, *args):
        super().__init__(*args)
        self.orders = TxTable(finished=(COMPLETED, CANCELLED))   # the view's window onto disk["orders"]
        for gid, status in self.disk.get("orders", {}).items():
            self.orders[gid] = status

    def on_start(self, ctx):
        self.init_disk(ctx, orders={}, next_order=1)

    def on_recover(self, ctx):
        self.on_start(ctx)
        self.restart_relay(ctx)

    def on_request(self, ctx, op, arg):
        if op != "order":
            ctx.reply(op, "not here: ask a service")
            return
        n = self.disk["next_order"]
        gid = f"g{n}"
        self.disk["orders"][gid] = PENDING
        self.orders[gid] = PENDING
        first = self.chain[0]
        ctx.note("saga_choreo.order_created", gid=gid, next=first)
        # The order row and its OrderCreated event: one local transaction.
        self.commit(ctx, None, gid, emit=[(first, "OrderCreated", {})],
                    changes={"orders": self.disk["orders"], "next_order": n + 1})
        ctx.reply("order", {"gid": gid, "status": PENDING})

    def on_message(self, ctx, msg):
        self.consume(ctx, msg)

    def on_timer(self, ctx, name):
        self.chore_timer(ctx, name)

    def settle(self, ctx, msg, status: str) -> None:
        gid = msg.body["gid"]
        if self.disk["orders"].get(gid) == PENDING:
            self.disk["orders"][gid] = status
            self.orders[gid] = status
            if status == COMPLETED:
                ctx.note("saga_choreo.completed", gid=gid)
            else:
                ctx.note("saga_choreo.cancelled", gid=gid, origin=msg.body["origin"])
        self.commit(ctx, msg.body["event"], gid, changes={"orders": self.disk["orders"]})

    def on_completed(self, ctx, msg):
        self.settle(ctx, msg, COMPLETED)

    def on_failed(self, ctx, msg):
        self.settle(ctx, msg, CANCELLED)

    def label(self) -> list:
        orders = self.disk.get("orders", {})
        if not orders:
            return ["saga_choreo.label.idle", {}]
        count = {PENDING: 0, COMPLETED: 0, CANCELLED: 0}
        for status in orders.values():
            count[status] += 1
        return ["saga_choreo.label.orders", {"pending": count[PENDING], "completed": count[COMPLETED],
                                             "cancelled": count[CANCELLED]}]

    def view(self):
        return {"role": "order", "label": self.label(), "orders": self.orders.recent(), **self.queues_view()}

    HANDLERS = {"Completed": on_completed, "Failed": on_failed}


# ---------------------------------------------------------------- a service of the chain

class Service(Choreographed, business.ServiceNode):
    """One step of the chain: its action on the way down, its compensation on the way back."""

    FORWARD = FORWARD_KINDS

    def __init__(self, *args):
        super().__init__(*args)
        k = self.chain.index(self.id)
        self.prev = self.chain[k - 1] if k > 0 else ORDER
        self.next = self.chain[k + 1] if k + 1 < len(self.chain) else ORDER
        self.seen: dict[str, int] = {}   # gid -> when a reader saw its action applied here (volatile)

    def on_start(self, ctx):
        super().on_start(ctx)            # the books and the fence
        self.init_disk(ctx)

    def on_recover(self, ctx):
        self.on_start(ctx)
        self.restart_relay(ctx)

    def on_request(self, ctx, op, arg):
        if op == "read":
            self.read(ctx)
        elif op in ("fail_next", "slow_next"):
            super().on_request(ctx, op, arg)
        else:
            ctx.reply(op, "not here: ask the order service")

    def handle(self, ctx, msg):
        self.consume(ctx, msg)

    def on_own_timer(self, ctx, name):
        self.chore_timer(ctx, name)

    def apply_again(self, msg):
        return msg.kind == "Failed" and "compensation_not_idempotent" in self.bugs

    # -- one local transaction with a business effect

    def step(self, ctx, consumed, gid, op, row, emit) -> None:
        """The business effect, its fence row, the inbox row and the next event: one commit.
        Told in this protocol's own words (who is told next, why it is undone)."""
        amount = self.service.amount
        self.commit(ctx, consumed, gid, emit=emit, changes=self.effect(gid, op, amount, row))
        self.tell(ctx, gid, op, amount, say=False)

    # -- forward: the action

    def on_forward(self, ctx, msg):
        gid, eid = msg.body["gid"], msg.body["event"]
        decision = business.fence_forward(self.row(gid))
        if decision == "again":      # ran already under another event id: change nothing
            ctx.note("saga_choreo.again", node=self.id, gid=gid)
            self.commit(ctx, eid, gid)
        elif decision == "refuse":   # compensated before its action came: it must not run (hanging)
            ctx.note("saga_choreo.refused", node=self.id, gid=gid)
            self.commit(ctx, eid, gid)
        elif self.business_fails(ctx, gid, self.service.amount, say=False):
            # The local transaction rolls back: no effect, no fence row; only the inbox
            # row and the Failed event are written.
            ctx.note(FAIL_NOTES[self.id], gid=gid, back=self.prev)
            ctx.observe("failed", gid=gid)
            self.commit(ctx, eid, gid, emit=[(self.prev, "Failed", {"origin": self.id})])
        else:
            kind = "Completed" if self.next == ORDER else "StepDone"
            ctx.note(ACTION_NOTES[self.id], gid=gid, amount=self.service.amount, next=self.next)
            self.step(ctx, eid, gid, "action", business.FORWARD, [(self.next, kind, {})])

    # -- backward: the compensation

    def on_failed(self, ctx, msg):
        gid, eid, origin = msg.body["gid"], msg.body["event"], msg.body["origin"]
        up = [(self.prev, "Failed", {"origin": origin})]
        if "compensation_not_idempotent" in self.bugs:
            decision = "run"           # the bug: no fence, no inbox for compensations
            if eid in self.disk["inbox"]:
                ctx.note("saga_choreo.compensate_again", node=self.id, gid=gid, event=eid)
        else:
            decision = business.fence_undo(self.row(gid))
        if decision == "run":
            ctx.note(UNDO_NOTES[self.id], gid=gid, amount=self.service.amount, origin=origin)
            self.step(ctx, eid, gid, "compensation", business.UNDONE, up)
            self.dirty_read(ctx, gid)
        elif decision == "empty":    # its action never ran here: nothing to undo, and never run it later
            ctx.note("saga_choreo.empty", node=self.id, gid=gid)
            self.disk["fence"][gid] = business.SUSPENDED
            self.commit(ctx, eid, gid, emit=up, changes={"fence": self.disk["fence"]})
            ctx.observe("suspended", gid=gid)
        else:                        # undone already: change nothing
            ctx.note("saga_choreo.again", node=self.id, gid=gid)
            self.commit(ctx, eid, gid)

    # -- no isolation: readers see intermediate states

    def read(self, ctx) -> None:
        """A reader reads the books now; remember which orders' actions it saw applied here."""
        applied = [gid for gid, row in self.disk["fence"].items() if row == business.FORWARD]
        for gid in applied:
            self.seen.setdefault(gid, ctx.now)
        books = dict(self.disk["books"])
        ctx.note("saga_choreo.read", node=self.id, books=", ".join(f"{k} {v}" for k, v in books.items()))
        ctx.reply("read", {"books": books, "applied": applied})

    def dirty_read(self, ctx, gid) -> None:
        at = self.seen.pop(gid, None)
        if at is not None:
            ctx.note("saga_choreo.dirty_read", node=self.id, gid=gid, at=at)

    def view(self):
        return {**super().view(), **self.queues_view()}

    HANDLERS = {"OrderCreated": on_forward, "StepDone": on_forward, "Failed": on_failed}
