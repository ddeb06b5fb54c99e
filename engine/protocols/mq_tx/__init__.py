"""MQ transactional messages, RocketMQ-style: the declarations.

    node.py        the producer group, the pay service's database, the broker, the consumers
    checker.py     its invariants, on top of kit.business
    presets.py     the lessons' scenarios
    nemesis.py     a fault-injecting adversary aimed at the check-back and redelivery, for `check`
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md);
                   the order story's own strings come from kit/business.toml

The problem: pay must debit the order in its own database AND tell stock and ship
through a message broker, and neither write can be undone once the other failed.
RocketMQ's answer (4.3+) is a two-phase send with a check-back. Read it beside
DefaultMQProducerImpl.sendMessageInTransaction (the producer), EndTransactionProcessor
(the broker ending a half message) and TransactionalMessageCheckService with
TransactionalMessageServiceImpl.check (the check-back):

    producer --SendHalf--> broker     a HALF message: stored durably in the hidden half
                                      topic (RMQ_SYS_TRANS_HALF_TOPIC), invisible to consumers
    broker --HalfAck--> producer      only now the local transaction runs; if the send
                                      fails (no HalfAck in send_timeout) it never runs
    producer --LocalTx--> db          ONE local transaction: pay's debit (balance -> spent)
                                      and the status COMMITTED in db's table of local
                                      transactions, keyed by the txId; a business failure
                                      (card declined, balance too low) records ROLLED_BACK
    producer --EndTransaction--> broker   COMMIT | ROLLBACK | UNKNOWN, one-way (no reply);
                                      UNKNOWN when db has not answered in local_timeout
    broker on COMMIT                  the message into the real topic (visible), then its
                                      op record (RMQ_SYS_TRANS_OP_HALF_TOPIC) op_delay later
    broker on ROLLBACK                the op record only: the message is never visible

The check-back. Every check_interval the broker looks at each half message older
than tx_timeout with no op record. It sends CheckTransactionState to an instance of
the producer group (p1, p2, p1 ... in turn: it cannot know which one is up), which
reads db's durable table and answers EndTransaction (from check): COMMITTED ->
COMMIT, ROLLED_BACK -> ROLLBACK, no row -> UNKNOWN (the transaction is still
running, or never ran: a running transaction is invisible to another reader). Each
check is counted on the half message, durably, before it leaves; a half message
already checked check_max times (transactionCheckMax, default 15) is discarded
instead: its op record says DISCARDED and nobody will ever deliver it.

Real times, scaled down so a run shows them: RocketMQ checks half messages older
than transactionTimeout = 6 s every transactionCheckInterval = 30 s (60 s in older
versions). Here tx_timeout is 600 ms and check_interval 1 s, so a check-back comes within
about a second of an order that did not end; every other time (timeouts, the
redelivery interval) is scaled alike.

Durability. The broker writes the real message and the op record as two separate
appends; here the op record is a volatile timer op_delay after the real message, so
a broker crash in between is a real window: after the restart the half message has
no op record, is checked again, db answers COMMIT again, and the message is put a
second time (a new offset, the same order key). Consumers must be idempotent: each
keeps an inbox keyed by the producer's key (the txId, not the broker's offset), and
writes it in the same local transaction as its effect. The broker delivers every
real message to every consumer (one consumer group per service) and sends it again
every redeliver_interval until that consumer acknowledges it.

One simplification. RocketMQ's EndTransactionProcessor looks a half message up by
its offset and does not consult the op records, so a COMMIT that arrives twice is
put twice even with no crash. Here an EndTransaction for a half message that already
has an op record is ignored: a discard is final, and duplicates come only from the
window above (and from the consumers' redeliveries). Real deployments see more
duplicates, never fewer; the consumers' inbox absorbs both.

What the correct protocol survives (tolerates = None: every fault). Safety holds
under every fault: nothing becomes visible that db did not commit, a rolled back
order never reaches a consumer, and no effect runs twice. Delivery of a committed
order does not: when check_max check-backs in a row fail (the instance asked is
down, the network lost the check or its answer, db is down or still running the
transaction), the broker discards a paid order. No setting prevents that under
arbitrary faults, and RocketMQ documents it (the broker logs the discard; newer
versions park the message in TRANS_CHECK_MAX_TIME_TOPIC for the operator). So the
checker (checker.py) reports such a discard as a committed_delivered violation when
no fault that can make a check-back fail (the broker, db or a producer instance down,
a partition between them, a check-back message dropped, loss, a slower network, a
forced check round) touched that half message's window: a local transaction slower
than the whole check window, the lesson slow_local_tx_discarded (Preset.expects).
When such a fault did, it counts the discard (checker.excused) without reporting it:
the operator sees it on the broker's label and in the narration. Measured: 2 of the
first 400 random runs of `check` discard a paid order, each under a fault. A discard
whose message was already put (its op record slower than the check window) loses
nothing and is not one. A committed order with no half message at all (bug
local_tx_before_half) is never excused. The nemesis makes db slow only as slow as
the check window absorbs; check_interval is at least 200 ms, above a check-back's
four flights on the default network.

Bug toggles: local_tx_before_half (the producer runs the local transaction before
the half message is stored: a failed send or a crash leaves the order paid and never
delivered), check_says_commit (the check-back answers COMMIT without reading db: a
rolled back or still running transaction becomes visible), consumer_not_idempotent
(no inbox: a message put twice or redelivered is applied twice).

Durable (node.disk) and volatile state:
  producer  nothing durable: its orders in progress, its pending check-backs, its timers
  db        disk: books (pay's), txs {gid: COMMITTED | ROLLED_BACK}; memory: the slowed
            transaction (kit.business slow_next), fail_next
  broker    disk: half {gid: at, checks, op}, topic [offset, gid], acked {consumer: offsets};
            memory: op records not written yet, the redelivery schedule, the check turn
  consumer  disk: books, fence rows (kit.business), inbox {gid: first offset}

Timers: call (a producer's send_timeout or local_timeout), check (the broker's check
round), op (an op record due), redeliver (a delivery not acknowledged), slow
(kit.business). Narration keys are mq_tx.<event>, canvas labels mq_tx.label.<case>.
"""

from __future__ import annotations

from ...kit import business
from ...protocol import Bug, Comparison, Field, Operation, Param, Preset, Protocol
from .checker import MqTxChecker, settle_time
from .nemesis import Nemesis
from .node import BROKER, DB, PRODUCERS, Broker, Consumer, Database, Producer
from .presets import PRESET_EXPECTS, PRESET_SCENARIOS


def answered(result) -> bool:
    """The customer heard a definite answer: paid (COMMIT) or not (ROLLBACK, SEND_FAILED);
    UNKNOWN leaves it to the check-back, out of the customer's sight."""
    return isinstance(result, dict) and result.get("result") in ("COMMIT", "ROLLBACK", "SEND_FAILED")


class MqTx(Protocol):
    name = "mq_tx"
    category = "transactions"
    # The node count is the number of consumers (the services after pay); the two
    # producer instances, db and the broker come too.
    nodes_default = 2
    nodes_min = 1
    nodes_max = business.MAX_SERVICES - 1
    params = (
        Param("check_interval", 1000, 200, 60_000),
        Param("tx_timeout", 600, 100, 60_000),
        Param("check_max", 15, 1, 50),
        Param("op_delay", 50, 0, 5_000),
        Param("redeliver_interval", 500, 50, 10_000),
        Param("send_timeout", 300, 50, 10_000),
        Param("local_timeout", 300, 50, 60_000),
        business.SLOW_PARAM,
    )
    bugs = (Bug("local_tx_before_half"), Bug("check_says_commit"), Bug("consumer_not_idempotent"))
    operations = (Operation("order", roles=("producer",)), *business.OPERATIONS)
    fields = (
        Field("role"),
        Field("orders"),
        *business.FIELDS,
        Field("txs", durable=True),
        Field("running"),
        Field("half", durable=True),
        Field("topic", durable=True),
        Field("unacked", durable=True),
        Field("op_pending"),
        Field("inbox", durable=True),
    )
    roles = {"producer": "#7c3aed", "service": "#059669", "broker": "#2563eb", "consumer": "#d97706"}
    timers = ("call", "check", "redeliver", *business.TIMERS)
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("mq_tx.half_stored", "mq_tx.committed", "mq_tx.rolled_back", "mq_tx.check",
                 "mq_tx.redeliver", "mq_tx.duplicate")
    pictures = business.PICTURES
    presets = tuple(Preset(name, scenario=scenario, expects=PRESET_EXPECTS.get(name, ()))
                    for name, scenario in PRESET_SCENARIOS.items())
    # Every fault kind: safety holds under all of them; a committed order discarded after
    # check_max failed check-backs is judged by the checker as the docstring explains.
    tolerates = None
    fuzz_weights = {"request": 8, "protocol": 6}
    # Side by side (engine/schedule.py): no coordinator. The half message and its HalfAck are
    # the first phase, EndTransaction the decision (the check-back asks for it again); db's
    # local transaction fixes the order. db (pay's books) and the consumers apply the
    # order's effects; only db can refuse.
    compare = Comparison(roles={"participant": ("service", "consumer"), "producer": ("producer",),
                                "broker": ("broker",), "consumer": ("consumer",)},
                         steps={"prepare": ("SendHalf",), "vote": ("HalfAck",), "decision": ("EndTransaction",),
                                "deliver": ("Deliver",), "ack": ("ConsumeAck",),
                                "query": ("CheckTransactionState",)},
                         request=("producer", "order", None),
                         decided=("mq_tx.committed", "mq_tx.rolled_back", "mq_tx.send_failed"),
                         served=answered, fail=("request", "fail_next"), books=True,
                         duplicates=("mq_tx.duplicate", "mq_tx.ignored", "mq_tx.local_again"))
    strings = business.strings_with(__file__)
    checker_class = MqTxChecker

    def node_ids(self, n):
        return [*PRODUCERS, DB, BROKER] + [s.name for s in business.services(n + 1)[1:]]

    def layout(self, ids):
        place = {p: "top" for p in PRODUCERS} | {DB: "top", BROKER: "center"}
        return {i: {"place": place.get(i, "bottom")} for i in ids}

    def create_node(self, node_id, node_ids, params, bugs, disk):
        if node_id in PRODUCERS:
            cls = Producer
        else:
            cls = {DB: Database, BROKER: Broker}.get(node_id, Consumer)
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        """Mostly orders, on either instance; now and then db's next local transaction fails.
        (A slow db comes from the nemesis, as slow as the check window absorbs.)"""
        if rng.random() < 0.15:
            return (DB, "fail_next", None)
        return (rng.choice(PRODUCERS), "order", None)

    def settle_ms(self, params, network):
        return settle_time(params, network["latency"][1])

    def fuzz_action(self, rng, sim, at):
        """Faults aimed at the check-back, the op record window and redelivery (nemesis.py)."""
        return Nemesis(rng, sim, at).move()


PROTOCOL = MqTx()
