"""MQ transactional messages: the producer group, the pay service's database, the broker, the consumers.

Read it beside the package docstring, which states the rules. Each handler is
one step of the flow RocketMQ implements (DefaultMQProducerImpl's
sendMessageInTransaction, EndTransactionProcessor, TransactionalMessageCheckService):

  producer  order: SendHalf --> broker; HalfAck: LocalTx --> db; LocalTxDone:
            EndTransaction COMMIT / ROLLBACK (one-way); no HalfAck in send_timeout:
            the send failed and the local transaction never runs; no LocalTxDone in
            local_timeout: EndTransaction UNKNOWN.
            CheckTransactionState: QueryTx --> db; TxStatus: EndTransaction (from check)
  db        LocalTx: ONE local transaction: pay's debit (balance -> spent) and the
            status COMMITTED, or ROLLED_BACK on a business failure; QueryTx: the status
  broker    SendHalf: the half message, durable, in the hidden half topic; HalfAck.
            EndTransaction COMMIT: the real message into the topic, then (op_delay ms
            later, a volatile timer) the op record; ROLLBACK: the op record only.
            Every check_interval: each half message older than tx_timeout with no op
            record is checked (CheckTransactionState to p1, p2, p1 ...), or discarded
            after check_max checks. Deliver every real message to every consumer until
            it acknowledges it.
  consumer  Deliver: its action once per order key (inbox), then ConsumeAck

Everything a message depends on is on disk before the message leaves (persist
before send); the producers have no disk at all.
"""

from __future__ import annotations

from ...kit import business
from ...kit.deadlines import Deadlines
from ...kit.txtable import RECENT, newest
from ...protocol import Node

PRODUCERS = ("p1", "p2")
DB, BROKER = "db", "broker"
PAY = business.BY_NAME["pay"]
FIRST = 4                       # node_ids: p1, p2, db, broker, then the consumers

# The local transaction's durable status at db (no row: still running, or never ran).
COMMITTED, ROLLED_BACK = "COMMITTED", "ROLLED_BACK"
# EndTransaction's verdicts, and the op record of a half message the broker gave up on.
COMMIT, ROLLBACK, UNKNOWN, DISCARDED = "COMMIT", "ROLLBACK", "UNKNOWN", "DISCARDED"
VERDICT = {COMMITTED: COMMIT, ROLLED_BACK: ROLLBACK}

# A producer instance's orders: in progress, then how it ended there.
SENDING, LOCAL, LOCAL_FIRST = "SENDING_HALF", "LOCAL_TX", "LOCAL_FIRST"
SEND_FAILED = "SEND_FAILED"
ENDED = (COMMIT, ROLLBACK, UNKNOWN, SEND_FAILED)



# ---------------------------------------------------------------- a producer instance

class Producer(Node):
    """One instance of the producer group: no disk. What it was doing is lost in a crash;
    the broker's check-backs, answered by any instance from db, settle it."""

    role = "producer"

    def __init__(self, *args):
        super().__init__(*args)
        self.orders: dict[str, str] = {}     # gid -> step or ending (volatile)
        self.paid: set[str] = set()          # bug local_tx_before_half: committed before the half
        self.checking: dict[str, int] = {}   # gid -> check number waiting for db's answer
        self.calls = Deadlines(("call",))
        self.tag = ""                        # this process's start, in its order ids
        self.count = 0

    def on_start(self, ctx):
        self.tag = ""

    def on_recover(self, ctx):
        # A new process: RocketMQ's message keys carry the process's start time, so a
        # restarted instance never reuses an id.
        self.tag = f"@{ctx.now}"
        ctx.note("mq_tx.producer_back", node=self.id)

    # ------------------------------------------------------------ sending an order

    def on_request(self, ctx, op, arg):
        if op != "order":
            ctx.reply(op, "not here: ask db")
            return
        self.count += 1
        gid = f"{self.id}{self.tag}-{self.count}"
        if "local_tx_before_half" in self.bugs:
            ctx.note("mq_tx.local_first", node=self.id, gid=gid)
            self.local_tx(ctx, gid, LOCAL_FIRST)
            return
        ctx.note("mq_tx.order", node=self.id, gid=gid)
        self.send_half(ctx, gid)

    def send_half(self, ctx, gid):
        self.orders[gid] = SENDING
        ctx.send(BROKER, "SendHalf", gid=gid, amount=PAY.amount)
        self.calls.set(ctx, "call", gid, ctx.now + self.params["send_timeout"])

    def local_tx(self, ctx, gid, step):
        self.orders[gid] = step
        ctx.send(DB, "LocalTx", gid=gid, amount=PAY.amount)
        self.calls.set(ctx, "call", gid, ctx.now + self.params["local_timeout"])

    def on_half_ack(self, ctx, msg):
        gid = msg.body["gid"]
        if self.orders.get(gid) != SENDING:
            return
        self.calls.clear(ctx, "call", gid)
        if gid in self.paid:             # bug local_tx_before_half: the local transaction ran first
            self.end(ctx, gid, COMMIT)
            return
        ctx.note("mq_tx.half_acked", node=self.id, gid=gid)
        self.local_tx(ctx, gid, LOCAL)

    def on_local_done(self, ctx, msg):
        gid, status = msg.body["gid"], msg.body["status"]
        step = self.orders.get(gid)
        if step == LOCAL:
            self.calls.clear(ctx, "call", gid)
            self.end(ctx, gid, VERDICT[status])
        elif step == LOCAL_FIRST:
            self.calls.clear(ctx, "call", gid)
            if status == COMMITTED:       # the bug: paid, and only now the half message
                self.paid.add(gid)
                self.send_half(ctx, gid)
            else:
                self.finish(ctx, gid, ROLLBACK)
        elif step == UNKNOWN:
            ctx.note("mq_tx.late", node=self.id, gid=gid, status=status)

    def on_call_timeout(self, ctx, gid):
        step = self.orders.get(gid)
        if step == SENDING:
            if gid in self.paid:
                ctx.note("mq_tx.send_failed.paid", node=self.id, gid=gid)
            else:
                ctx.note("mq_tx.send_failed", node=self.id, gid=gid, ms=self.params["send_timeout"])
            self.finish(ctx, gid, SEND_FAILED)
        elif step == LOCAL:
            ctx.note("mq_tx.unknown", node=self.id, gid=gid, ms=self.params["local_timeout"])
            self.end(ctx, gid, UNKNOWN)
        elif step == LOCAL_FIRST:
            self.finish(ctx, gid, UNKNOWN)

    def end(self, ctx, gid, verdict):
        """EndTransaction, one-way: nobody acknowledges it; a lost one is the check-back's job."""
        ctx.note("mq_tx.end", node=self.id, gid=gid, verdict=verdict)
        ctx.send(BROKER, "EndTransaction", gid=gid, verdict=verdict, check=False)
        self.finish(ctx, gid, verdict)

    def finish(self, ctx, gid, ending):
        self.orders[gid] = ending
        self.paid.discard(gid)
        ctx.reply("order", {"gid": gid, "result": ending})

    # ------------------------------------------------------------ the check-back

    def on_check(self, ctx, msg):
        gid = msg.body["gid"]
        if "check_says_commit" in self.bugs:     # the bug: answer without reading db
            ctx.note("mq_tx.check_blind", node=self.id, gid=gid)
            ctx.send(BROKER, "EndTransaction", gid=gid, verdict=COMMIT, check=True)
            return
        ctx.note("mq_tx.check_asked", node=self.id, gid=gid)
        self.checking[gid] = msg.body["n"]
        ctx.send(DB, "QueryTx", gid=gid)

    def on_tx_status(self, ctx, msg):
        gid, status = msg.body["gid"], msg.body["status"]
        if self.checking.pop(gid, None) is None:
            return
        verdict = VERDICT.get(status, UNKNOWN)
        ctx.note("mq_tx.check_answer", node=self.id, gid=gid, status=status, verdict=verdict)
        ctx.send(BROKER, "EndTransaction", gid=gid, verdict=verdict, check=True)

    def on_message(self, ctx, msg):
        handler = self.HANDLERS.get(msg.kind)
        if handler is not None:
            handler(self, ctx, msg)

    def on_timer(self, ctx, name):
        for gid in self.calls.take_due(ctx, name):
            self.on_call_timeout(ctx, gid)
        self.calls.rearm(ctx, name)

    def view(self):
        if not self.orders:
            label = ["mq_tx.label.idle", {}]
        else:
            ended = list(self.orders.values())
            label = ["mq_tx.label.producer", {"open": sum(s not in ENDED for s in ended),
                                              "commit": ended.count(COMMIT), "rollback": ended.count(ROLLBACK),
                                              "unknown": ended.count(UNKNOWN), "failed": ended.count(SEND_FAILED)}]
        return {"role": self.role, "label": label, "orders": newest(self.orders)}

    HANDLERS = {"HalfAck": on_half_ack, "LocalTxDone": on_local_done, "CheckTransactionState": on_check,
                "TxStatus": on_tx_status}


# ---------------------------------------------------------------- the pay service's database

class Database(business.ServiceNode):
    """pay's books and its table of local transactions (txs: gid -> COMMITTED | ROLLED_BACK),
    both on disk, written together by each local transaction."""

    FORWARD = ("LocalTx",)     # what "make the next step slow" holds back
    SERVICE = PAY.name         # pay's books, kept by its database node db

    def on_start(self, ctx):
        super().on_start(ctx)
        if "txs" not in self.disk:
            ctx.persist(txs={})

    def on_request(self, ctx, op, arg):
        if op in ("fail_next", "slow_next"):
            super().on_request(ctx, op, arg)
        else:
            ctx.reply(op, "not here: ask a producer")

    def handle(self, ctx, msg):
        if msg.kind == "LocalTx":
            self.on_local_tx(ctx, msg)
        elif msg.kind == "QueryTx":
            self.on_query(ctx, msg)

    def on_local_tx(self, ctx, msg):
        gid, amount = msg.body["gid"], msg.body["amount"]
        txs = self.disk["txs"]
        if gid in txs:        # the txId is the table's key: a repeated LocalTx runs nothing
            ctx.note("mq_tx.local_again", gid=gid, status=txs[gid])
        elif self.business_fails(ctx, gid, amount, say=False):
            txs[gid] = ROLLED_BACK
            ctx.persist(txs=txs)
            ctx.note("mq_tx.rolled_back", gid=gid)
            ctx.observe("local_tx", gid=gid, status=ROLLED_BACK)
        else:
            # ONE local transaction: the debit and the status, durable together.
            changes = self.effect(gid, "action", amount, None)
            txs[gid] = COMMITTED
            ctx.persist(**changes, txs=txs)
            ctx.note("mq_tx.committed", gid=gid, amount=amount)
            self.tell(ctx, gid, "action", amount, say=False)
            ctx.observe("local_tx", gid=gid, status=COMMITTED)
        ctx.send(msg.src, "LocalTxDone", gid=gid, status=txs[gid])

    def on_query(self, ctx, msg):
        gid = msg.body["gid"]
        status = self.disk["txs"].get(gid)
        if status is not None:
            ctx.note("mq_tx.query", gid=gid, status=status)
        elif gid in self.running():
            ctx.note("mq_tx.query.running", gid=gid)
        else:
            ctx.note("mq_tx.query.none", gid=gid)
        ctx.send(msg.src, "TxStatus", gid=gid, status=status or UNKNOWN)

    def running(self) -> list[str]:
        """Local transactions under way (slowed): volatile, invisible to another reader."""
        return [m.body["gid"] for m in self.held_back.values()]

    def view(self):
        books = dict(self.disk.get("books", {}))
        return {"role": self.role, "label": [PAY.label, books], "books": books,
                "txs": newest(self.disk.get("txs", {})), "running": self.running()}


# ---------------------------------------------------------------- the broker

class Broker(Node):
    """Durable: half {gid: {at, checks, op}} (the half topic and its op records), topic
    [{offset, gid}] (the real topic), acked {consumer: [offsets]}. Volatile: the op records
    not written yet, the redelivery schedule, the check rotation."""

    role = "broker"

    def __init__(self, *args):
        super().__init__(*args)
        self.consumers = self.node_ids[FIRST:]
        self.timing = Deadlines(("op", "redeliver"))
        self.turn = 0                # which producer instance the next check goes to

    def on_start(self, ctx):
        if "half" not in self.disk:
            ctx.persist(half={}, topic=[], acked={c: [] for c in self.consumers})
        ctx.set_timer("check", self.params["check_interval"])

    def on_recover(self, ctx):
        self.on_start(ctx)
        pending = [gid for gid, h in self.disk["half"].items() if h["op"] is None]
        unacked = self.unacked()
        ctx.note("mq_tx.broker_back", pending=len(pending), unacked=len(unacked))
        for c, offset in unacked:
            self.deliver(ctx, c, offset)

    # ------------------------------------------------------------ half messages

    def on_send_half(self, ctx, msg):
        gid = msg.body["gid"]
        half = self.disk["half"]
        if gid not in half:
            half[gid] = {"at": ctx.now, "checks": 0, "op": None}
            ctx.persist(half=half)
            ctx.note("mq_tx.half_stored", gid=gid)
        ctx.send(msg.src, "HalfAck", gid=gid)

    def on_end(self, ctx, msg):
        gid, verdict, check = msg.body["gid"], msg.body["verdict"], msg.body["check"]
        h = self.disk["half"].get(gid)
        if h is None:
            ctx.note("mq_tx.no_half", gid=gid, verdict=verdict)
        elif h["op"] is not None:
            ctx.note("mq_tx.ignored", gid=gid, verdict=verdict, op=h["op"])
        elif verdict == UNKNOWN:
            ctx.note("mq_tx.still_unknown.check" if check else "mq_tx.still_unknown", gid=gid)
        elif verdict == COMMIT:
            self.put(ctx, gid, check)
        else:
            h["op"] = ROLLBACK        # the op record only: the message is never put
            ctx.persist(half=self.disk["half"])
            self.timing.clear(ctx, "op", gid)
            ctx.note("mq_tx.rollback.check" if check else "mq_tx.rollback", gid=gid)

    def put(self, ctx, gid, check):
        """The real message, visible to consumers; its op record is a separate write op_delay later."""
        topic = self.disk["topic"]
        offset = len(topic)
        topic.append({"offset": offset, "gid": gid})
        ctx.persist(topic=topic)
        ctx.observe("visible", gid=gid, offset=offset)
        ctx.note("mq_tx.commit.check" if check else "mq_tx.commit", gid=gid, offset=offset,
                 ms=self.params["op_delay"])
        if not self.timing.has("op", gid):      # a second put does not push the first one's op record back
            self.timing.set(ctx, "op", gid, ctx.now + self.params["op_delay"])
        for c in self.consumers:
            self.deliver(ctx, c, offset)

    def write_ops(self, ctx):
        half = self.disk["half"]
        done = [gid for gid in self.timing.take_due(ctx, "op") if half[gid]["op"] is None]
        for gid in done:
            half[gid]["op"] = COMMIT
        if done:
            ctx.persist(half=half)
        for gid in done:
            ctx.note("mq_tx.op_written", gid=gid)
        self.timing.rearm(ctx, "op")

    # ------------------------------------------------------------ the check-back

    def check_round(self, ctx):
        """TransactionalMessageCheckService: every half message old enough with no op
        record is checked, or discarded once it has been checked check_max times."""
        half = self.disk["half"]
        asks, dropped = [], []
        for gid, h in half.items():
            if h["op"] is not None or ctx.now - h["at"] < self.params["tx_timeout"]:
                continue
            if h["checks"] >= self.params["check_max"]:
                h["op"] = DISCARDED
                dropped.append((gid, h["checks"]))
            else:
                h["checks"] += 1
                asks.append((gid, h["checks"], PRODUCERS[self.turn % len(PRODUCERS)]))
                self.turn += 1
        if asks or dropped:
            ctx.persist(half=half)       # the check counts, durable before the checks leave
        for gid, n in dropped:
            ctx.note("mq_tx.discard", gid=gid, n=n)
            ctx.observe("discarded", gid=gid)
        for gid, n, dst in asks:
            ctx.note("mq_tx.check", gid=gid, n=n, max=self.params["check_max"], dst=dst)
            ctx.send(dst, "CheckTransactionState", gid=gid, n=n)
        ctx.set_timer("check", self.params["check_interval"])

    # ------------------------------------------------------------ delivery

    def deliver(self, ctx, consumer, offset):
        gid = self.disk["topic"][offset]["gid"]
        ctx.send(consumer, "Deliver", gid=gid, offset=offset)
        self.timing.set(ctx, "redeliver", (consumer, offset), ctx.now + self.params["redeliver_interval"])

    def redeliver(self, ctx):
        for consumer, offset in self.timing.take_due(ctx, "redeliver"):
            if offset not in self.disk["acked"][consumer]:
                ctx.note("mq_tx.redeliver", dst=consumer, offset=offset, gid=self.disk["topic"][offset]["gid"])
                self.deliver(ctx, consumer, offset)
        self.timing.rearm(ctx, "redeliver")

    def on_ack(self, ctx, msg):
        consumer, offset = msg.src, msg.body["offset"]
        acked = self.disk["acked"]
        if offset not in acked[consumer]:
            acked[consumer].append(offset)
            ctx.persist(acked=acked)
        self.timing.clear(ctx, "redeliver", (consumer, offset))

    def unacked(self) -> list[tuple[str, int]]:
        acked = self.disk["acked"]
        return [(c, e["offset"]) for e in self.disk["topic"] for c in self.consumers
                if e["offset"] not in acked[c]]

    def on_message(self, ctx, msg):
        handler = self.HANDLERS.get(msg.kind)
        if handler is not None:
            handler(self, ctx, msg)

    def on_timer(self, ctx, name):
        if name == "check":
            self.check_round(ctx)
        elif name == "op":
            self.write_ops(ctx)
        elif name == "redeliver":
            self.redeliver(ctx)

    def view(self):
        half = self.disk.get("half", {})
        topic = self.disk.get("topic", [])
        pending = sum(h["op"] is None for h in half.values())
        discarded = sum(h["op"] == DISCARDED for h in half.values())
        shown = newest({gid: f"{h['op'] or 'HALF'} · {h['checks']}" for gid, h in half.items()})
        return {
            "role": self.role,
            "label": ["mq_tx.label.broker", {"half": pending, "topic": len(topic), "discarded": discarded}],
            "half": shown,
            "topic": [f"{e['offset']}: {e['gid']}" for e in topic[-RECENT:]],
            "unacked": [f"{c} {o}" for c, o in self.unacked()][:RECENT] if "acked" in self.disk else [],
            "op_pending": sorted(self.timing.pending["op"]),
        }

    HANDLERS = {"SendHalf": on_send_half, "EndTransaction": on_end, "ConsumeAck": on_ack}


# ---------------------------------------------------------------- a consumer

class Consumer(business.ServiceNode):
    """A service after pay (stock, ship, ...): applies its action once per order key (its
    inbox, keyed by the producer's key, not by the broker's offset), then acknowledges."""

    role = "consumer"

    def on_start(self, ctx):
        super().on_start(ctx)
        if "inbox" not in self.disk:
            ctx.persist(inbox={})

    def on_request(self, ctx, op, arg):
        ctx.reply(op, "not here: ask a producer or db")

    def handle(self, ctx, msg):
        if msg.kind != "Deliver":
            return
        gid, offset = msg.body["gid"], msg.body["offset"]
        inbox = self.disk["inbox"]
        if gid in inbox and "consumer_not_idempotent" not in self.bugs:
            ctx.note("mq_tx.duplicate", node=self.id, gid=gid, offset=offset, first=inbox[gid])
        else:
            if gid in inbox:
                ctx.note("mq_tx.apply_again", node=self.id, gid=gid, offset=offset)
            inbox.setdefault(gid, offset)
            # One local transaction: the effect, its fence row and the inbox row.
            ctx.persist(**self.effect(gid, "action", self.service.amount, business.FORWARD), inbox=inbox)
            self.tell(ctx, gid, "action", self.service.amount)
        ctx.send(BROKER, "ConsumeAck", offset=offset)

    def view(self):
        return {**super().view(), "role": self.role, "inbox": newest(self.disk.get("inbox", {}))}
