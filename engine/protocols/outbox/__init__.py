"""The local message table (transactional outbox): Chris Richardson's
transactional outbox and idempotent consumer patterns (microservices.io,
"Pattern: Transactional outbox", "Pattern: Idempotent Consumer"); the "local
message table" as dtm describes it, and as Dan Pritchett (eBay) describes the
message queue kept in the same database as the business data in "BASE: An Acid
Alternative" (ACM Queue, 2008). The declarations.

    node.py        the producer, the relay, the broker and the consumers (the protocol itself)
    checker.py     its invariants, on top of kit.business
    presets.py     the lessons' scenarios
    nemesis.py     a fault-injecting adversary aimed at the crash windows, for `check`
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md);
                   the order story's own strings come from kit/business.toml

A service that changes its database and must tell other services about it
cannot do both atomically: a database and a message broker share no
transaction. Writing one and then the other (a dual write) fails in the gap:

    commit, then publish    a crash in between: the order is paid, the message
                            never leaves, stock is never reserved (a lost message)
    publish, then commit    a crash in between: the message leaves, the payment is
                            never made, stock is sold for nothing (a phantom)

The outbox closes the gap with the one atomic tool the service has, its local
transaction: the business row and the message row (the outbox, status NEW) are
written together, or neither. A relay publishes the rows afterwards, as often as
it takes, and marks each SENT only after the broker has stored it:

    pay     order: balance -> spent, order row PAID, outbox row NEW   (one local transaction)
    relay   every poll_interval: Poll -> pay, Rows <- pay (the NEW rows)
            Publish -> broker; PublishAck <- broker; MarkSent -> pay: the row is SENT
    broker  stores the message in every consumer's queue (durable), delivers it
            (Deliver), and delivers it again every redeliver_interval until acked
    stock, ship, ...   ONE local transaction: the message id into its inbox (a
            duplicate: skip the effect) and its effect (stock -> sold ...);
            then Ack to the broker, ack_delay later

Delivery is at least once everywhere, so every hop may repeat:

    relay crash between publish and mark-sent   the next poll publishes the row again:
                                                the broker stores it twice (its
                                                duplicates count), the inboxes absorb it
    consumer crash between commit and Ack       the broker redelivers (its redelivered
                                                count); the inbox absorbs it
    broker cut off                              orders keep committing; the outbox
                                                backlog grows and drains after the heal

The consumers never refuse: the order is paid, and eventual consistency means
every consumer applies it, once, eventually (pay's balance, 100 for orders of
30, keeps their stock ample). Pritchett's consumer keeps the ids of the
messages it applied in a table of its own, updated in the same transaction as
the effect: the inbox here.

An analogy: a restaurant chain shares a blacklist of diners who skip the bill.
The branch writes the diner into its own ledger and, in the same stroke of the
pen, onto its list of news to pass on (the outbox); a clerk phones the list to
head office, again and again until head office says "noted" (the relay), and
head office rings every branch until each one confirms (the broker); a branch
told twice checks its own notes and just nods (the inbox). A branch that only
remembers to phone after closing may never phone (commit first, then crash); one
that phones before writing anything down may have the whole chain turning away
a diner its own ledger never heard of (publish first, then crash).

Durable (node.disk) and volatile state:
  pay       disk: books, orders, outbox (message id -> gid, NEW | SENT), next_order
  relay     nothing: the outbox is its memory; memory: rows published, PublishAck awaited
  broker    disk: a queue per consumer (unacknowledged deliveries), per-message counts;
            memory: the redelivery schedule
  consumer  disk: books and inbox, together; memory: Acks not sent yet

Bug toggles: dual_write_commit_first (no outbox: commit, then publish straight to
the broker publish_delay later, once), dual_write_publish_first (publish, then
commit publish_delay later) and no_inbox (a consumer applies every delivery).

Timers: poll (relay), redeliver (broker), ack (consumer), dual (pay's second
write, with a dual-write bug), slow (kit.business: a slowed delivery).
Narration keys are outbox.<event>, canvas labels outbox.label.<case>.
"""

from __future__ import annotations

from ...kit import business
from ...protocol import Bug, Comparison, Field, Operation, Param, Preset, Protocol
from .checker import OutboxChecker, settle_time
from .nemesis import Nemesis
from .node import BROKER, PAY, RELAY, Broker, Consumer, Producer, Relay
from .presets import PRESET_SCENARIOS


class Outbox(Protocol):
    name = "outbox"
    category = "transactions"
    # The node count is the number of consumers (pay, the relay and the broker come too).
    nodes_default = 2
    nodes_min = 1
    nodes_max = business.MAX_SERVICES - 1
    params = (
        Param("poll_interval", 200, 50, 10_000),
        Param("redeliver_interval", 500, 50, 10_000),
        Param("ack_delay", 50, 0, 5_000),
        Param("publish_delay", 30, 0, 5_000),
        business.SLOW_PARAM,
    )
    bugs = (Bug("dual_write_commit_first"), Bug("dual_write_publish_first"), Bug("no_inbox"))
    operations = (
        Operation("order", roles=("producer",)),
        Operation("fail_next", roles=("producer",)),
        Operation("slow_next", roles=("service",)),
    )
    fields = (
        Field("role"),
        Field("books", durable=True),
        Field("orders", durable=True),
        Field("outbox", durable=True),
        Field("waiting"),
        Field("queues", durable=True),
        Field("messages", durable=True),
        Field("inbox", durable=True),
    )
    roles = {"producer": "#2563eb", "relay": "#d97706", "broker": "#7c3aed", "service": "#059669"}
    timers = ("poll", "redeliver", "ack", "dual", *business.TIMERS)
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("outbox.stored", "outbox.publish", "outbox.marked", "outbox.duplicate", "outbox.blind")
    pictures = business.PICTURES
    presets = tuple(Preset(name, scenario=scenario) for name, scenario in PRESET_SCENARIOS.items())
    # Every fault kind (engine.fuzz.FAULTS): the relay republishes whatever is still NEW,
    # the broker redelivers whatever is unacknowledged, and the inboxes absorb the repeats.
    tolerates = None
    # Random schedules: orders often (only three fit pay's balance, and every lesson needs
    # one in flight), and the nemesis often, since it acts only when a window is open.
    fuzz_weights = {"request": 8, "protocol": 6}
    # The fence (kit.business) is not this pattern's tool: the inbox is. Its strings go.
    strings = {k: v for k, v in business.strings_with(__file__).items() if not k.startswith("field.fence")}
    # Side by side (engine/schedule.py): no coordinator and no first phase. pay's local
    # transaction fixes the order (paid, or declined before anything was written); the relay
    # handing the stored event to the broker is the decision's message, the broker's
    # Deliver and the consumers' Ack follow. Only pay can refuse: consumers never do.
    compare = Comparison(roles={"participant": ("producer", "service"), "producer": ("producer",),
                                "relay": ("relay",), "broker": ("broker",), "consumer": ("service",)},
                         steps={"decision": ("Publish",), "deliver": ("Deliver",), "ack": ("Ack",)},
                         request=("producer", "order", None),
                         decided=("outbox.order", "biz.pay.refused"),
                         fail=("request", "fail_next"), books=True, duplicates=("outbox.duplicate",))
    checker_class = OutboxChecker

    def node_ids(self, n):
        return [PAY, RELAY, BROKER] + [s.name for s in business.services(n + 1)[1:]]

    def layout(self, ids):
        place = {PAY: "top", RELAY: "top", BROKER: "center"}
        return {i: {"place": place.get(i, "bottom")} for i in ids}

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = {PAY: Producer, RELAY: Relay, BROKER: Broker}.get(node_id, Consumer)
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        """Mostly new orders; sometimes pay's next card is declined, or a consumer is slow."""
        r = rng.random()
        if r < 0.75:
            return (PAY, "order", None)
        if r < 0.85:
            return (PAY, "fail_next", None)
        return (rng.choice(node_ids[3:]), "slow_next", None)

    def settle_ms(self, params, network):
        return settle_time(params, network["latency"][1])

    def fuzz_action(self, rng, sim, at):
        """Crashes inside the windows the lessons are about, and repeats (nemesis.py)."""
        return Nemesis(rng, sim, at).move()


PROTOCOL = Outbox()
