"""TCC (Try-Confirm-Cancel): the declarations.

    node.py        the initiator, the transaction coordinator and the branch services
    checker.py     its invariants, on top of kit.business
    presets.py     the lessons' scenarios
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md);
                   the order story's own strings come from kit/business.toml

TCC trades atomic commit for a business-level reservation: each service can
Try (reserve: freeze funds, reserve stock), then Confirm (spend what was
reserved) or Cancel (release it). Nobody holds a database lock across
services; what stays held between the phases is business state everyone can
see, frozen funds. The flow is dtm's and Seata's:

    app --Prepare--> TC              the TC records the global transaction PREPARED
    per branch, in order:
      app --Register--> TC           the branch is recorded BEFORE its Try is sent,
      app --Try--> service           so a Cancel always reaches every branch that may
                                     have frozen something
    every Try ok:  app --Submit--> TC: SUBMITTED, then Confirm every branch
    a Try failed, or unanswered in call_timeout:  app --Abort--> TC: ABORTING,
                                     then Cancel every registered branch, in reverse order
    the TC calls each branch until it succeeds, with exponential backoff
    (retry_base, doubling up to retry_cap): SUCCEED, or FAILED
    a global transaction left PREPARED for global_timeout (its initiator crashed)
    is aborted by the TC

Because registration precedes Try, a Cancel can reach a branch whose Try never
arrived (empty rollback) or arrives later (hanging), and any call can arrive
twice. Each branch guards its handlers with a fence (Seata's tcc_fence_log;
dtm's sub-transaction barrier), one row per global transaction written in the
same local transaction as the business effect:

    Try      no row: freeze, write TRIED;   TRIED: again, no effect;   CANCELLED or
             SUSPENDED: refuse (hanging: its Cancel came first)
    Confirm  TRIED: spend, write CONFIRMED;   CONFIRMED: again, no effect
    Cancel   TRIED: release, write CANCELLED;   no row: write SUSPENDED, change
             nothing (empty rollback);   CANCELLED or SUSPENDED: again, no effect

Durable: the TC's global records (status, registered branches); each branch's
books and fence rows, together. Volatile: the initiator's progress, the TC's
retry schedule, every timer.

Narration keys are tcc.<event>, canvas labels tcc.label.<case>.
"""

from __future__ import annotations

from ...kit import business
from ...protocol import Bug, Comparison, Field, Operation, Param, Preset, Protocol
from .checker import TCCChecker, settle_time
from .node import INITIATOR, TC, Branch, Coordinator, Initiator
from .presets import PRESET_SCENARIOS


def answered(result) -> bool:
    """The customer heard how the order ended (a reply to "order": SUCCEEDED or FAILED)."""
    return isinstance(result, dict) and result.get("result") in ("SUCCEEDED", "FAILED")


class TCC(Protocol):
    name = "tcc"
    category = "transactions"
    # The node count is the number of branch services (the initiator and the TC come too).
    nodes_default = 2
    nodes_min = 2
    nodes_max = business.MAX_SERVICES
    params = (
        Param("call_timeout", 500, 50, 60_000),
        Param("global_timeout", 3000, 100, 120_000),
        Param("retry_base", 200, 10, 60_000),
        Param("retry_cap", 3200, 10, 60_000),
        business.SLOW_PARAM,
    )
    bugs = (Bug("no_barrier"), Bug("confirm_not_idempotent"))
    operations = (Operation("order", roles=("initiator",)), *business.OPERATIONS)
    fields = (
        Field("role"),
        Field("next_gid", durable=True),
        Field("orders"),
        Field("globals", durable=True),
        Field("branches", durable=True),
        *business.FIELDS,
    )
    roles = {"initiator": "#7c3aed", "coordinator": "#2563eb", "service": "#059669"}
    timers = ("call", "expire", "retry", *business.TIMERS)
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("tcc.prepared", "tcc.succeed", "tcc.try_failed", "tcc.empty_rollback", "tcc.hanging_refused")
    pictures = business.PICTURES
    presets = tuple(Preset(name, scenario=scenario) for name, scenario in PRESET_SCENARIOS.items())
    # Safe under every fault: the fence absorbs repeats, reordering and late calls.
    tolerates = None
    fuzz_weights = {"request": 8}
    # Side by side (engine/schedule.py): the initiator opens one order; the TC is the
    # coordinator. Try and its answers are the first phase; Confirm or Cancel, driven by the
    # TC after it recorded SUBMITTED or ABORTING, is the decision. Frozen funds are the hold.
    compare = Comparison(roles={"coordinator": ("coordinator",), "participant": ("service",),
                                "initiator": ("initiator",)},
                         steps={"prepare": ("Try",), "vote": ("TryDone",), "decision": ("Confirm", "Cancel"),
                                "ack": ("ConfirmDone", "CancelDone")},
                         request=("initiator", "order", None),
                         decided=("tcc.submitted", "tcc.aborting", "tcc.succeed", "tcc.failed"),
                         served=answered, fail=("request", "fail_next"), books=True,
                         duplicates=("tcc.confirm_again", "tcc.cancel_again"))
    strings = business.strings_with(__file__)
    checker_class = TCCChecker

    def node_ids(self, n):
        return [INITIATOR, TC] + [s.name for s in business.services(n)]

    def layout(self, ids):
        place = {INITIATOR: "top", TC: "center"}
        return {i: {"place": place.get(i, "ring")} for i in ids}

    def validate(self, nodes, params):
        if params["retry_cap"] < params["retry_base"]:
            return f"retry_cap={params['retry_cap']} is below retry_base={params['retry_base']}"
        return None

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = {INITIATOR: Initiator, TC: Coordinator}.get(node_id, Branch)
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        """Mostly orders; now and then a service's next Try fails or is slow."""
        roll = rng.random()
        if roll < 0.15:
            return (rng.choice(node_ids[2:]), "fail_next", None)
        if roll < 0.3:
            return (rng.choice(node_ids[2:]), "slow_next", None)
        return (INITIATOR, "order", None)

    def settle_ms(self, params, network):
        return settle_time(params, network["latency"][1])


PROTOCOL = TCC()
