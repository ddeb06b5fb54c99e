"""The orchestrated Saga: Garcia-Molina & Salem, "Sagas", SIGMOD 1987; the
orchestrator as dtm's saga runs it (dtm-labs/dtm), each service guarded by
dtm's sub-transaction barrier. The declarations.

    node.py        the orchestrator and the services (the protocol itself)
    checker.py     its invariants, on top of kit.business
    presets.py     the lessons' scenarios
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md)

A saga is a long transaction written as a sequence of local transactions
T1, T2 ... Tn, each committed at once at its own service, and for each a
compensation C_i that semantically undoes it. The system guarantees that
either T1 ... Tn all run, or T1 ... Tj run and then Cj ... C1 (the paper,
section 1): no locks are held across services, so an order never waits on
another, and in exchange a saga gives no isolation: a reader may see T1's
effect before C1 takes it back.

The order of the business story (kit.business): T1 debits the account at
pay, T2 takes an item from stock, T3 books a shipment (and coupon, points,
gift with more services); each moves one order's amount from available to
used, and its compensation moves it back.

    orch  --Action T_i-->  service       the local transaction and its fence row, in one
                                         commit; ActionDone ok, or not ok for a business
                                         failure (declined, out of stock: final)
    orch  logs the next step before T_{i+1} leaves; after T_n it logs succeed
    orch  on a business failure, or when T_i stays unanswered after max_retries
          retries (its outcome unknown), logs aborting, then compensates backward,
          starting with T_i itself (dtm does: if T_i never ran there, C_i is null)
    orch  --Compensate C_i-->  service   CompensateDone; C_{i-1} only after C_i is done
                                         (sequential); a temporary error is retried with
                                         exponential backoff until it succeeds (the paper:
                                         compensations must eventually succeed); then
                                         the log says failed

The saga log (the orchestrator's disk) is written before each message that
depends on it, so a restarted orchestrator resumes every unfinished saga
from it: submitted at step i re-sends T_i, aborting at step i re-sends C_i.
Asking twice is safe because each service fences its handlers (dtm's
barrier, Seata's tcc_fence_log), one row per order written in the same local
transaction as the effect:

    Action      no row: run it (TRIED);  TRIED: ran already, answer the same (idempotent);
                CANCELLED or SUSPENDED: compensated first, refuse (hanging prevented)
    Compensate  TRIED: undo it (CANCELLED);  no row: null compensation, change nothing,
                write SUSPENDED (so a late Action is refused);  undone already: answer the same

Durable (node.disk) and volatile state:
  orchestrator  disk: next_gid; sagas {gid: {status, step}} (the saga log)
                memory: the current step's tries (for the backoff), its deadlines
  service       disk: books (kit.business) and fence rows
                memory: fail_next, slow_next (kit.business), the refund gateway's
                outage (fail_compensation), what a reader saw (read)

Timers (one engine timer per kind, kit.deadlines; forcing one makes its
earliest deadline expire now): orchestrator step_timeout (an Action or a
Compensate unanswered) and retry (the backoff before asking again); service
slow (a slowed Action finally running).

Narration keys are saga.<event>, canvas labels saga.label.<status>.
"""

from __future__ import annotations

from ...kit import business
from ...protocol import Bug, Comparison, Field, Operation, Param, Preset, Protocol
from .checker import SagaChecker, settle_time
from .node import ORCHESTRATOR, Orchestrator, SagaService
from .presets import PRESET_SCENARIOS


def answered(result) -> bool:
    """The customer heard how the order ended (a reply to "order": succeed or failed)."""
    return isinstance(result, dict) and result.get("outcome") in ("succeed", "failed")


class Saga(Protocol):
    name = "saga"
    category = "transactions"
    nodes_default = 3
    nodes_min = 2
    nodes_max = business.MAX_SERVICES
    params = (
        Param("step_timeout", 300, 50, 5_000),
        Param("retry_base", 100, 10, 5_000),
        Param("retry_cap", 2_000, 10, 5_000),
        Param("max_retries", 2, 0, 10),
        Param("compensation_failures", 3, 1, 10),
        business.SLOW_PARAM,
    )
    bugs = (Bug("compensation_not_idempotent"), Bug("no_barrier"))
    operations = (
        Operation("order", roles=("orchestrator",)),
        *business.OPERATIONS,
        Operation("fail_compensation", roles=("service",)),
        Operation("read", roles=("service",)),
    )
    fields = (
        Field("role"),
        Field("next_gid", durable=True),
        Field("sagas", durable=True),
        Field("retries"),
        *business.FIELDS,
        Field("gateway_errors"),
        Field("reader_saw"),
    )
    roles = {"orchestrator": "#2563eb", "service": "#059669"}
    timers = ("step_timeout", "retry")
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("saga.step_failed", "saga.abort", "saga.succeed", "saga.failed", "saga.dirty_read")
    pictures = business.PICTURES
    presets = tuple(Preset(name, scenario=scenario) for name, scenario in PRESET_SCENARIOS.items())
    # The correct saga claims to survive every fault kind (tolerates None): crashes and
    # restarts (the saga log), loss, drops and duplicates (retries and the fence),
    # partitions, delays and timers forced early (an unknown outcome is compensated).
    tolerates = None
    # Orders are the workload (and what every fault acts on); the rest of the requests
    # make steps fail, slow them, or break the refund gateway for a while.
    fuzz_weights = {"request": 8}
    # Side by side (engine/schedule.py): the orchestrator is the coordinator, each action
    # and its answer the first phase. No message carries a decision: success ends with the
    # last answer, and compensations undo steps already committed (so no "decision" step).
    compare = Comparison(roles={"coordinator": ("orchestrator",), "participant": ("service",)},
                         steps={"prepare": ("Action",), "vote": ("ActionDone",)},
                         request=("coordinator", "order", None),
                         decided=("saga.succeed", "saga.abort", "saga.failed"),
                         served=answered, fail=("request", "fail_next"), books=True,
                         duplicates=("saga.action_again", "saga.compensate_again"), stale=("saga.dirty_read",))
    strings = business.strings_with(__file__)
    checker_class = SagaChecker

    def node_ids(self, n):
        return [ORCHESTRATOR] + [s.name for s in business.services(n)]

    def layout(self, ids):
        return {i: {"place": "center" if i == ORCHESTRATOR else "ring"} for i in ids}

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = Orchestrator if node_id == ORCHESTRATOR else SagaService
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        """Mostly orders; sometimes a business failure, a slow step, a broken refund
        gateway or a reader at a random service."""
        if rng.random() < 0.6:
            return (ORCHESTRATOR, "order", None)
        service = rng.choice([n for n in node_ids if n != ORCHESTRATOR])
        return (service, rng.choice(("fail_next", "fail_next", "slow_next", "fail_compensation", "read")), None)

    def settle_ms(self, params, network):
        return settle_time(params, business.MAX_SERVICES, network["latency"][1])


PROTOCOL = Saga()
