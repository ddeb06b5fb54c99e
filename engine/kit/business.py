"""The business story every transaction pattern tells, so patterns can be compared.

An order debits an account, reserves stock and books a shipment (and, with
more services, takes a coupon, loyalty points, gift-card credit). Each
service node keeps its books on disk as three buckets of one resource:

    service  available  held      used       starts with  one order takes
    pay      balance    frozen    spent      100          30
    stock    stock      reserved  sold       10           1
    ship     slots      booked    shipped    5            1
    ...

Patterns move amounts between buckets, never create or destroy them:

    TCC   Try     available -> held       Confirm  held -> used    Cancel  held -> available
    Saga  action  available -> used       compensation  used -> available

so `available + held + used` is constant and no bucket is ever negative: the
conservation invariant every pattern keeps (BusinessChecker). A fourth order
finds the balance short (100 < 4 x 30): a business failure comes naturally.

The fence (as in Seata's tcc_fence_log, one row per global transaction and
branch; dtm's barrier does the same with one row per operation) makes a
service's handlers safe against the three anomalies of compensation:

    empty rollback  a Cancel whose Try never ran here must change nothing
    hanging         a Try that arrives after its Cancel must not run
    idempotency     a repeated Try, Confirm or Cancel runs once

Its row is written in the same local transaction as the business effect (one
ctx.persist call: both are durable, or neither).

Shared strings (labels, operations, the conservation and at-most-once
violations) live in business.toml; a protocol merges them with its own
(`strings_with`).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..protocol import Checker, Field, Node, Operation, Param, Picture
from .deadlines import Deadlines
from .strings import load_strings
from .txtable import newest

AVAILABLE, HELD, USED = 0, 1, 2


@dataclass(frozen=True)
class Service:
    """One branch of the order: its node id, the names of its three buckets, its
    opening stock, and what one order takes."""

    name: str
    buckets: tuple[str, str, str]
    initial: int
    amount: int
    label: str      # strings key of its canvas label: its buckets' names, translated

    def opening(self) -> dict:
        return {self.buckets[AVAILABLE]: self.initial, self.buckets[HELD]: 0, self.buckets[USED]: 0}


SERVICES = (
    Service("pay", ("balance", "frozen", "spent"), 100, 30, "biz.label.pay"),
    Service("stock", ("stock", "reserved", "sold"), 10, 1, "biz.label.stock"),
    Service("ship", ("slots", "booked", "shipped"), 5, 1, "biz.label.ship"),
    Service("coupon", ("coupons", "locked", "redeemed"), 5, 1, "biz.label.coupon"),
    Service("points", ("points", "held", "used"), 100, 10, "biz.label.points"),
    Service("gift", ("credit", "frozen", "spent"), 50, 10, "biz.label.gift"),
)
BY_NAME = {s.name: s for s in SERVICES}
MAX_SERVICES = len(SERVICES)


def services(n: int) -> tuple[Service, ...]:
    """The first n services of the story (the order's branches, in order)."""
    return SERVICES[:n]


def strings_with(package_file: str) -> dict[str, dict[str, str]]:
    """The business story's strings, then the protocol's own (which win on a clash)."""
    return {**load_strings(__file__, "business.toml"), **load_strings(package_file)}


def ask(at: int, node: str, op: str) -> dict:
    """A preset's action: a person picks `op` from `node`'s menu at `at` ("order",
    "fail_next", "slow_next", ...)."""
    return {"at": at, "do": "request", "node": node, "op": op}


# ---------------------------------------------------------------- the books

def can_move(books: dict, service: Service, src: int, amount: int) -> bool:
    return books[service.buckets[src]] >= amount


def moved(books: dict, service: Service, src: int, dst: int, amount: int) -> dict:
    """New books with `amount` moved from bucket src to dst (a new dict: views diff by value)."""
    out = dict(books)
    out[service.buckets[src]] -= amount
    out[service.buckets[dst]] += amount
    return out


# The moves of each pattern: (from, to).
TRY, CONFIRM, CANCEL = (AVAILABLE, HELD), (HELD, USED), (HELD, AVAILABLE)
ACTION, COMPENSATE = (AVAILABLE, USED), (USED, AVAILABLE)

# The effects a service can apply, by name: the move each makes.
MOVES = {"try": TRY, "confirm": CONFIRM, "cancel": CANCEL, "action": ACTION, "compensation": COMPENSATE}

# How each service tells each effect, and a business failure ("refused"), in business
# words (business.toml): the notes ServiceNode.tell and business_fails make.
NOTES = {
    "pay": {"try": "biz.pay.try", "confirm": "biz.pay.confirm", "cancel": "biz.pay.cancel",
            "action": "biz.pay.action", "compensation": "biz.pay.compensation", "refused": "biz.pay.refused"},
    "stock": {"try": "biz.stock.try", "confirm": "biz.stock.confirm", "cancel": "biz.stock.cancel",
              "action": "biz.stock.action", "compensation": "biz.stock.compensation", "refused": "biz.stock.refused"},
    "ship": {"try": "biz.ship.try", "confirm": "biz.ship.confirm", "cancel": "biz.ship.cancel",
             "action": "biz.ship.action", "compensation": "biz.ship.compensation", "refused": "biz.ship.refused"},
    "coupon": {"try": "biz.coupon.try", "confirm": "biz.coupon.confirm", "cancel": "biz.coupon.cancel",
               "action": "biz.coupon.action", "compensation": "biz.coupon.compensation", "refused": "biz.coupon.refused"},
    "points": {"try": "biz.points.try", "confirm": "biz.points.confirm", "cancel": "biz.points.cancel",
               "action": "biz.points.action", "compensation": "biz.points.compensation", "refused": "biz.points.refused"},
    "gift": {"try": "biz.gift.try", "confirm": "biz.gift.confirm", "cancel": "biz.gift.cancel",
             "action": "biz.gift.action", "compensation": "biz.gift.compensation", "refused": "biz.gift.refused"},
}


# ---------------------------------------------------------------- the fence

# A branch's row, per global transaction: forward (Try or saga action) ran, then confirmed,
# or undone (cancelled, compensated); SUSPENDED: undone before the forward step ever ran
# here (empty rollback), which also refuses that step if it arrives late (hanging).
FORWARD, CONFIRMED, UNDONE, SUSPENDED = "TRIED", "CONFIRMED", "CANCELLED", "SUSPENDED"


def fence_forward(row: str | None) -> str:
    """What a Try (saga action) does given the branch's fence row:
    run (no row), again (it ran: answer as before, change nothing), refuse (undone first: hanging)."""
    if row is None:
        return "run"
    if row in (FORWARD, CONFIRMED):
        return "again"
    return "refuse"


def fence_confirm(row: str | None) -> str:
    """run (TRIED), again (CONFIRMED), missing (no Try yet: retry later), refuse (undone)."""
    if row == FORWARD:
        return "run"
    if row == CONFIRMED:
        return "again"
    if row is None:
        return "missing"
    return "refuse"


def fence_undo(row: str | None) -> str:
    """What a Cancel (compensation) does: run (the forward step ran), empty (it never ran:
    write SUSPENDED, change nothing), again (already undone), refuse (already confirmed)."""
    if row == FORWARD:
        return "run"
    if row is None:
        return "empty"
    if row in (UNDONE, SUSPENDED):
        return "again"
    return "refuse"


# ---------------------------------------------------------------- a service node

FIELDS = (Field("books", durable=True), Field("fence", durable=True))
# A service's books drawn as chips under it (balance 70 · frozen 30 · spent 0): strings["value.<bucket>"].
PICTURES = (Picture("values", "books", keys=tuple(dict.fromkeys(b for s in SERVICES for b in s.buckets))),)
OPERATIONS = (
    Operation("fail_next", roles=("service",)),
    Operation("slow_next", roles=("service",)),
)
SLOW_PARAM = Param("slow_ms", 1500, 10, 60_000)
TIMERS = ("slow",)   # a slowed step's timer: forcing it runs the step now


class ServiceNode(Node):
    """A service of the story: its books and fence on disk, and the two business
    conditions a person can cause from its menu:

        fail_next  its next forward step (Try, saga action) fails for a business
                   reason (card declined, out of stock): the one failure that is final
        slow_next  its next forward step takes slow_ms to run (a slow database, a GC
                   pause): the caller times out while the step is still on its way

    Subclasses handle messages in `handle` (called at once, or slow_ms later for a
    slowed forward step) and their own timers in `on_own_timer`.
    """

    role = "service"
    FORWARD: tuple[str, ...] = ()   # message kinds slow_next delays
    SERVICE: str | None = None      # the service whose books it keeps, when not its node id (mq_tx's db: pay)

    def __init__(self, *args):
        super().__init__(*args)
        self.service = BY_NAME[self.SERVICE or self.id]
        self.fail_next = False      # volatile: a crash forgets what the person asked for
        self.slow_next = False
        self.slowed = Deadlines(("slow",))
        self.held_back: dict[int, object] = {}   # message id -> the slowed message

    def on_start(self, ctx):
        if "books" not in self.disk:
            ctx.persist(books=self.service.opening(), fence={})

    def on_request(self, ctx, op, arg):
        if op == "fail_next":
            self.fail_next = True
            ctx.note("biz.fail_next", node=self.id)
        elif op == "slow_next":
            self.slow_next = True
            ctx.note("biz.slow_next", node=self.id, ms=self.params["slow_ms"])
        ctx.reply(op, "ok")

    def on_message(self, ctx, msg):
        if self.slow_next and msg.kind in self.FORWARD:
            self.slow_next = False
            self.held_back[msg.id] = msg
            self.slowed.set(ctx, "slow", msg.id, ctx.now + self.params["slow_ms"])
            ctx.note("biz.slowed", node=self.id, gid=msg.body["gid"], ms=self.params["slow_ms"])
            return
        self.handle(ctx, msg)

    def on_timer(self, ctx, name):
        if name != "slow":
            self.on_own_timer(ctx, name)
            return
        for mid in self.slowed.take_due(ctx, "slow"):
            self.handle(ctx, self.held_back.pop(mid))
        self.slowed.rearm(ctx, "slow")

    def handle(self, ctx, msg):
        pass

    def on_own_timer(self, ctx, name):
        pass

    def business_fails(self, ctx, gid: str, amount: int, say: bool = True) -> bool:
        """Does the forward step fail for a business reason (fail_next, or not enough
        available)? It consumes fail_next, and tells the refusal in business words
        unless the protocol says it in its own (say=False)."""
        fails = self.fail_next or not can_move(self.disk["books"], self.service, AVAILABLE, amount)
        self.fail_next = False
        if fails and say:
            ctx.note(NOTES[self.service.name]["refused"], node=self.id, gid=gid)
        return fails

    def effect(self, gid: str, op: str, amount: int, row: str | None) -> dict:
        """The disk changes of one business effect `op` (a key of MOVES) and its fence
        row (None: no row, the bug that turns the fence off), for the caller to persist
        in one ctx.persist with whatever else its local transaction writes."""
        changes = {"books": moved(self.disk["books"], self.service, *MOVES[op], amount)}
        if row is not None:
            self.disk["fence"][gid] = row
            changes["fence"] = self.disk["fence"]
        return changes

    def tell(self, ctx, gid: str, op: str, amount: int, say: bool = True) -> None:
        """After the effect is durable: say it in business words (unless the protocol
        says it in its own) and report it to the checker."""
        if say:
            ctx.note(NOTES[self.service.name][op], node=self.id, gid=gid, amount=amount)
        ctx.observe("effect", gid=gid, op=op, amount=amount)

    def apply(self, ctx, gid: str, op: str, amount: int, row: str | None) -> None:
        """One local transaction: the business effect and its fence row, durable
        together (one ctx.persist); then told."""
        ctx.persist(**self.effect(gid, op, amount, row))
        self.tell(ctx, gid, op, amount)

    def write_row(self, ctx, gid: str, row: str) -> None:
        """A fence row with no business effect (SUSPENDED: an empty rollback)."""
        self.disk["fence"][gid] = row
        ctx.persist(fence=self.disk["fence"])

    def row(self, gid: str) -> str | None:
        return self.disk["fence"].get(gid)

    def view(self):
        fence = self.disk.get("fence", {})
        return {
            "role": "service",
            "label": [self.service.label, dict(self.disk.get("books", {}))],
            "books": dict(self.disk.get("books", {})),
            # The newest rows only: a long run holds hundreds.
            "fence": newest(fence),
        }


# ---------------------------------------------------------------- the checker

class BusinessChecker(Checker):
    """The invariants every pattern of the story keeps.

    conservation  at every service, available + held + used equals what it opened
                  with, and no bucket is negative (read from the disk after every event)
    effects_once  each business effect (Try, Confirm, Cancel, action, compensation)
                  runs at most once per global transaction and service

    Services report each effect as it is applied: ctx.observe("effect", gid=,
    op=, amount=). Subclasses judge order rules from `self.effects` and call
    `judge_business` from after_event.
    """

    # Nodes that keep a service's books under another id (node id -> service name).
    SERVICE_NODES: dict[str, str] = {}

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        # node id -> the service whose books it keeps
        self.books_of = {n: BY_NAME[self.SERVICE_NODES.get(n, n)] for n in node_ids
                         if self.SERVICE_NODES.get(n, n) in BY_NAME}
        self.services = [BY_NAME[n] for n in node_ids if n in BY_NAME]   # services that are nodes of their own
        self.effects: dict[tuple[str, str], list[str]] = {}   # (service, gid) -> ops in order
        self.fresh: list[tuple[str, str, str]] = []           # (service, gid, op) this event
        self.found: list = []

    def observe(self, node_id, fact, args):
        if fact == "effect":
            self.effects.setdefault((node_id, args["gid"]), []).append(args["op"])
            self.fresh.append((node_id, args["gid"], args["op"]))
        self.observed(node_id, fact, args)

    def observed(self, node_id, fact, args):
        """A subclass's own facts."""

    def judge_business(self, sim, node_id) -> list:
        found, self.found = self.found, []
        for node, gid, op in self.fresh:
            if self.effects[(node, gid)].count(op) == 2:
                found.append(self.violation("effects_once", "viol.effects_once", [node], node=node, gid=gid, op=op))
        self.fresh = []
        service = self.books_of.get(node_id)
        books = sim.disk[node_id].get("books") if service is not None else None
        if books is not None:
            total = sum(books.values())
            if total != service.initial:
                found.append(self.violation("conservation", "viol.conservation", [node_id], node=node_id,
                                            books=_show(books), initial=service.initial))
            for bucket, value in books.items():
                if value < 0:
                    found.append(self.violation("conservation", "viol.conservation.negative", [node_id],
                                                node=node_id, bucket=bucket, value=value))
        return found

    def held_left(self, sim, invariant: str = "all_resolved") -> list:
        """(eventual) Once every order is over, nothing stays frozen, reserved or booked;
        reported under the protocol's eventual invariant."""
        found = []
        for node, s in self.books_of.items():
            books = sim.disk[node].get("books")
            if books and books[s.buckets[HELD]]:
                found.append(self.violation(invariant, "viol.held_left", [node], node=node,
                                            bucket=s.buckets[HELD], value=books[s.buckets[HELD]]))
        return found


def _show(books: dict) -> str:
    return ", ".join(f"{k} {v}" for k, v in books.items())
