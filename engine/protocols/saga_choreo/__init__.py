"""The choreographed saga: Garcia-Molina & Salem, "Sagas", SIGMOD 1987; the
choreography-based saga as Chris Richardson describes it (microservices.io,
"Pattern: Saga", the order / customer / stock example); the transactional
outbox and the idempotent consumer (inbox) patterns. The declarations.

    node.py        the order service and the services of the chain (the protocol itself)
    checker.py     its invariants, on top of kit.business
    presets.py     the lessons' scenarios
    nemesis.py     a fault-injecting adversary aimed at redeliveries, for `check`
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md)

A saga is a long-lived transaction cut into local transactions T1..Tn, each
with a compensation Ci that semantically undoes it. Garcia-Molina and Salem's
promise: either T1..Tn all run, or T1..Tj run and then Cj..C1. Nothing locks
across the steps, so other transactions see the intermediate states (a saga has
no isolation).

Choreographed: no orchestrator. Each service reacts to the previous step's event
and emits the next one; the order travels down a chain and, on a failure, back:

    order  --OrderCreated-->  s1  --StepDone-->  s2  --StepDone--> ... sn  --Completed-->  order
    order  <--Failed--  s1  <--Failed--  s2  <--Failed--  ... sk fails (card declined, out of stock)

    order    "order": a new order gid (g1, g2...) PENDING, and OrderCreated for s1;
             Completed -> COMPLETED; Failed -> CANCELLED
    s_k      OrderCreated / StepDone: its action (available -> used: money spent, stock
             sold), then StepDone to s_k+1 (the last one: Completed to the order service).
             A business failure: the local transaction rolls back (no effect) and Failed
             goes to s_k-1 (or to the order service when k = 1)
    s_k      Failed: its compensation (used -> available: the payment refunded, the stock
             released), then Failed to s_k-1: compensations run downstream first, the
             reverse of the actions, as an orchestrator would run them

Every step is one local transaction that also writes the next event into the
service's OUTBOX (the transactional outbox: the business change and the event are
durable together, or neither is). A relay sends every outbox row and sends it
again every resend_interval until the receiver acknowledges it: delivery is at
least once. So every consumer is idempotent: in the same local transaction it
records the event id in its INBOX, and an event id it has seen is skipped (and
acknowledged again). Behind the inbox, a service's fence row per order
(kit.business: TRIED, CANCELLED, SUSPENDED) keeps a compensation from running
twice, or where its action never ran.

    consumer crash between its commit and its Ack   the sender re-sends; the inbox absorbs it
    a Failed event lost                             no compensation until the relay re-sends it
    a crash with events in the outbox               the restarted relay sends them again

Durable (node.disk) and volatile state:
  order    disk: next_order; orders {gid: PENDING | COMPLETED | CANCELLED}; outbox; inbox; next_event
  service  disk: books and fence (kit.business); outbox; inbox; next_event
  every    memory: the relay's deadlines, Acks not sent yet (ack_delay), what readers saw

Bug toggles: compensation_not_idempotent (a service applies every Failed it receives,
ignoring its inbox and its fence: a re-sent Failed refunds twice) and no_outbox (a dual
write: commit, then send the event once, with no outbox row: a lost message is lost
for good, and the order stays PENDING with the money taken).

Timers: relay (the earliest outbox row due for a re-send), ack (the earliest Ack due),
slow (kit.business: a slowed step). Narration keys are saga_choreo.<event>, canvas
labels saga_choreo.label.<case>.
"""

from __future__ import annotations

from ...kit import business
from ...protocol import Bug, Comparison, Field, Operation, Param, Preset, Protocol
from .checker import SagaChoreoChecker, settle_time
from .nemesis import Nemesis
from .node import ORDER, OrderNode, Service
from .presets import PRESET_SCENARIOS


class ChoreographedSaga(Protocol):
    name = "saga_choreo"
    category = "transactions"
    nodes_default = 3
    nodes_min = 2
    nodes_max = business.MAX_SERVICES
    params = (
        Param("resend_interval", 300, 50, 10_000),
        Param("ack_delay", 50, 0, 5_000),
        business.SLOW_PARAM,
    )
    bugs = (Bug("compensation_not_idempotent"), Bug("no_outbox"))
    operations = (Operation("order", roles=("order",)), *business.OPERATIONS, Operation("read", roles=("service",)))
    fields = (
        Field("role"),
        Field("orders", durable=True),
        *business.FIELDS,
        Field("outbox", durable=True),
        Field("inbox", durable=True),
    )
    roles = {"order": "#2563eb", "service": "#059669"}
    timers = ("relay", "ack")
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("saga_choreo.order_created", "saga_choreo.completed", "saga_choreo.cancelled", "saga_choreo.dirty_read",
                 )
    pictures = business.PICTURES
    presets = tuple(Preset(name, scenario=scenario) for name, scenario in PRESET_SCENARIOS.items())
    # Every fault kind (engine.fuzz.FAULTS): the outbox re-sends whatever a crash, a partition
    # or the network lost, and the inbox absorbs whatever it duplicated.
    tolerates = None
    # Random schedules: clients order often (every lesson needs orders in flight), and the
    # nemesis is asked often, since it acts only when an event or an Ack is in flight.
    fuzz_weights = {"request": 10, "protocol": 6}
    # Side by side (engine/schedule.py): no coordinator; the order service starts the chain.
    # Each service's event (StepDone, Completed, Failed) is its answer about its own step,
    # passed on to the next service instead of back to a driver. No message decides for
    # everyone: the outcome is fixed by the last step or by a refusal.
    compare = Comparison(roles={"initiator": ("order",), "participant": ("service",)},
                         steps={"prepare": ("OrderCreated",), "vote": ("StepDone", "Completed", "Failed"),
                                "ack": ("Ack",)},
                         request=("initiator", "order", None),
                         decided=("saga_choreo.completed", "saga_choreo.cancelled",
                                  *(f"saga_choreo.fail.{s.name}" for s in business.SERVICES)),
                         fail=("request", "fail_next"), books=True,
                         duplicates=("saga_choreo.duplicate", "saga_choreo.again"),
                         stale=("saga_choreo.dirty_read",))
    strings = business.strings_with(__file__)
    checker_class = SagaChoreoChecker

    def node_ids(self, n):
        return [ORDER] + [s.name for s in business.services(n)]

    def layout(self, ids):
        return {i: {"place": "top" if i == ORDER else "ring"} for i in ids}

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = OrderNode if node_id == ORDER else Service
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        """Mostly new orders; sometimes a service is told to fail or be slow, or is read."""
        r = rng.random()
        if r < 0.6:
            return (ORDER, "order", None)
        service = rng.choice(node_ids[1:])
        if r < 0.85:
            return (service, "fail_next", None)
        if r < 0.95:
            return (service, "slow_next", None)
        return (service, "read", None)

    def settle_ms(self, params, network):
        return settle_time(params, network["latency"][1])

    def fuzz_action(self, rng, sim, at):
        """Faults aimed at the outbox and the inbox: redeliveries, lost Acks, lost events (nemesis.py)."""
        return Nemesis(rng, sim, at).move()


PROTOCOL = ChoreographedSaga()
