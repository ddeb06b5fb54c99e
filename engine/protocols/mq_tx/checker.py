"""The invariants of MQ transactional messages.

From kit.business (BusinessChecker), read from every service's disk and the
effects the services report (ctx.observe("effect", gid=, op=, amount=)):

  conservation           at pay's database and at every consumer, available + held +
                         used stays what it opened with, and no bucket goes negative
  effects_once           pay debits an order at most once, and each consumer applies
                         it at most once, however often its message is put or delivered

The pattern's own, from db's durable table of local transactions (sim.disk["db"]["txs"]),
the broker's disk (half messages and their op records) and the facts nodes report
("local_tx" at db, "visible" and "discarded" at the broker, "effect" at a consumer):

  visible_needs_commit   a message reaches the real topic (and a consumer) only if db's
                         local transaction for it is COMMITTED
  rollback_never_visible a ROLLED_BACK transaction's message is never in the real topic
                         nor applied by a consumer (judged both ways: a put after the
                         rollback, and a rollback after the put)
  committed_delivered    the broker discards the half message of a COMMITTED transaction
                         (or db commits one whose half message was discarded): the order
                         is paid and will never be delivered, a data loss judged at once;
                         and (eventual) once quiet, every COMMITTED transaction's message
                         was applied at every consumer
  all_resolved           (eventual) once quiet, every half message whose local transaction
                         has an outcome has an op record, and nothing stays held

committed_delivered under faults. RocketMQ gives up on a half message after
transactionCheckMax check-backs: when every one of them fails (the checked instance is
down, the network lost the check or its answer, db is down or still running the
transaction), a COMMITTED order is paid and never delivered. No setting of the protocol
prevents that under arbitrary faults, so the checker separates two cases:

  calm       no fault that can make a check-back fail (the broker, db or a producer
             instance down or restarted, a partition between them, a check-back message
             dropped, loss, latency above the default network, a forced check round)
             between the half message's storage and the loss: the loss is the protocol's
             own (a local transaction slower than the whole check window): always a
             violation. The preset slow_local_tx_discarded shows it (Preset.expects).
  disturbed  a fault hit that window: the discard is the operator-visible outcome RocketMQ
             documents (the broker logs it; the half message is kept with a DISCARDED op
             record, counted on the broker's label, told in the narration); the checker
             counts it (self.excused) and does not report it.

A committed transaction whose half message was never stored at all (nothing to check
back, nothing for the operator to see) is never excused: that is the silent loss bug
local_tx_before_half makes.
"""

from __future__ import annotations

from ...kit import business
from ...kit.strings import distinct
from .node import BROKER, COMMITTED, DB, DISCARDED, FIRST, PAY, PRODUCERS, ROLLED_BACK

SHOWN = 5          # committed_delivered names at most this many orders when quiet
CHECK_PATH = (*PRODUCERS, DB, BROKER)                       # the nodes a check-back needs
CHECK_KINDS = ("CheckTransactionState", "QueryTx", "TxStatus")


def settle_time(params: dict, latency_max: int) -> int:
    """A bound on how long, once faults stop (every node up, the network healed), every
    committed order needs to be delivered. A slowed local transaction commits within
    slow_ms; a half message becomes checkable tx_timeout after it was stored; the next
    check round comes within check_interval and reaches an instance that is up (both
    are), which reads db and answers COMMIT in four flights; allow three rounds. The op
    record follows op_delay later; a delivery lost before the calm is sent again within
    redeliver_interval. Plus the producer's timeouts and flights of slack."""
    p = params
    return (p["tx_timeout"] + p["slow_ms"] + 3 * p["check_interval"] + p["op_delay"]
            + 2 * p["redeliver_interval"] + p["send_timeout"] + p["local_timeout"] + 20 * latency_max + 500)


class MqTxChecker(business.BusinessChecker):
    invariants = ("conservation", "effects_once", "visible_needs_commit", "rollback_never_visible",
                  "committed_delivered", "all_resolved")
    SERVICE_NODES = {DB: PAY.name}    # db keeps pay's books: conservation and held_left read them there

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.consumers = node_ids[FIRST:]
        self.facts: list[tuple[str, str, dict]] = []    # this event's facts, judged in after_event
        self.visible: dict[str, int] = {}               # gid -> times put into the real topic
        self.last_disturbed = -1                        # the last event seen under a fault condition
        self.excused: list[str] = []                    # committed orders discarded under faults
        self.check_path: set[int] = set()               # ids of the check-back's messages

    def observed(self, node_id, fact, args):
        self.facts.append((node_id, fact, args))

    # ------------------------------------------------------------ after every event

    def after_event(self, sim, node_id, msg):
        if self.disturbed(sim):
            self.last_disturbed = sim.now
        facts, self.facts = self.facts, []
        found = self.judge_business(sim, node_id)
        txs = sim.disk[DB].get("txs", {})
        for node, fact, args in facts:
            gid = args.get("gid")
            if fact == "visible":
                self.visible[gid] = self.visible.get(gid, 0) + 1
                found += self.judge_visible(txs.get(gid), [BROKER, DB], "", gid=gid)
            elif fact == "effect" and node != DB:
                found += self.judge_visible(txs.get(gid), [node, DB], ".consumed", node=node, gid=gid)
            elif fact == "local_tx" and args["status"] == ROLLED_BACK and gid in self.visible:
                found.append(self.violation("rollback_never_visible", "viol.rollback_never_visible.late",
                                            [DB, BROKER], gid=gid))
            elif (fact == "local_tx" and args["status"] == COMMITTED) or (fact == "discarded"
                                                                          and txs.get(gid) == COMMITTED):
                found += self.judge_discard(sim, gid, "viol.committed_delivered.late" if fact == "local_tx"
                                            else "viol.committed_delivered.discarded")
        return found

    def judge_visible(self, status, nodes, case, **args) -> list:
        """A rolled back message breaks both rules: it is visible, and not COMMITTED."""
        if status == COMMITTED:
            return []
        found = [self.violation("visible_needs_commit", f"viol.visible_needs_commit{case}", nodes, **args)]
        if status == ROLLED_BACK:
            found.append(self.violation("rollback_never_visible", f"viol.rollback_never_visible{case}", nodes,
                                        **args))
        return found

    def judge_discard(self, sim, gid, key) -> list:
        """A COMMITTED order whose half message is DISCARDED: lost, unless a fault hit its window."""
        h = sim.disk[BROKER].get("half", {}).get(gid)
        if h is None or h["op"] != DISCARDED or gid in self.visible:
            return []       # not discarded, or put before its op record was (not lost: judged when quiet)
        if self.fault_since(sim, h["at"]):
            self.excused.append(gid)
            return []
        return [self.violation("committed_delivered", key, [BROKER, DB], gid=gid, checks=h["checks"])]

    # ------------------------------------------------------------ faults, for the excuse

    def on_send(self, sim, msg):
        """Remember the check-back's messages, so that dropping one counts as a fault against it."""
        if msg.kind in CHECK_KINDS or (msg.kind == "EndTransaction" and msg.body["check"]):
            self.check_path.add(msg.id)

    def disturbed(self, sim) -> bool:
        """Is a fault that can make a check-back fail on now: the broker, db or a producer
        instance down, a partition between them, loss, a network slower than the protocol's
        default? (A consumer down, or duplication, never makes a check-back fail.)"""
        net = sim.network
        if not all(sim.up[n] for n in CHECK_PATH):
            return True
        if net.group_of is not None and len({net.group_of[n] for n in CHECK_PATH}) > 1:
            return True
        return net.loss > 0 or net.latency[1] > sim.proto.default_network["latency"][1]

    def hits_checks(self, action: dict) -> bool:
        """Could this action make a check-back fail?"""
        do = action["do"]
        if do in ("crash", "restart"):
            return action["node"] in CHECK_PATH
        if do == "drop":
            return action["msg"] in self.check_path
        if do == "timeout":
            return action["timer"] == "check"       # an early round spends a check-back
        if do == "set":
            return action["param"] in ("latency", "loss")
        return do in ("partition", "heal")

    def fault_since(self, sim, start: int) -> bool:
        if self.last_disturbed >= start:
            return True
        return any(start <= a["at"] <= sim.now and self.hits_checks(a) for a in sim.actions)

    # ------------------------------------------------------------ when quiet

    def settle_time(self, sim) -> int:
        return settle_time(self.params, sim.network.latency[1])

    def on_quiet(self, sim):
        if sim.network.loss > 0:
            return []   # random loss: no time bound is honest
        if sim.until - (sim.last_action_at or 0) < self.settle_time(sim):
            return []   # not long enough since the last fault or request to expect every order delivered
        txs = sim.disk[DB].get("txs", {})
        half = sim.disk[BROKER].get("half", {})
        found, lost, undelivered = [], [], []
        for gid, status in txs.items():
            if status != COMMITTED:
                continue
            h = half.get(gid)
            if h is None:
                lost.append(gid)
            elif h["op"] != DISCARDED or gid in self.visible:   # a discard was judged when it happened
                missing = [c for c in self.consumers if "action" not in self.effects.get((c, gid), ())]
                if missing:
                    undelivered.append((gid, missing))
        for gid in lost[:SHOWN]:
            found.append(self.violation("committed_delivered", "viol.committed_delivered.lost", [DB], gid=gid))
        for gid, missing in undelivered[:SHOWN]:
            found.append(self.violation("committed_delivered", "viol.committed_delivered.undelivered",
                                        distinct(BROKER, *missing), gid=gid, consumers=", ".join(missing)))
        for gid, h in half.items():
            if h["op"] is None and gid in txs:
                found.append(self.violation("all_resolved", "viol.all_resolved.pending", [BROKER, DB], gid=gid,
                                            status=txs[gid]))
        return found + self.held_left(sim)
