"""The invariants of the local message table.

From kit.business (BusinessChecker), read from every service's disk and the
effects the services report (ctx.observe("effect", gid=, op=, amount=)):

  conservation   available + used stays what each service opened with, and no
                 bucket goes negative
  effects_once   each consumer applies an order at most once, however often the
                 broker delivers its message

The pattern's own:

  outbox_atomic  after every event at pay: an order's payment was taken <=> pay's
                 outbox holds a row for it (the business row and the message are
                 one local transaction). Judged where there is an outbox table:
                 the dual-write bugs have none, and break the end-to-end rules below
  no_phantom     a consumer applies an order only if pay took its payment (a
                 message for an order that never happened is a phantom)
  all_delivered  (eventual) once faults stop and the relay and the broker had time:
                 every order pay took is applied at every consumer, every outbox
                 row is SENT, the broker holds no unacknowledged delivery, and
                 nothing stays held

Nodes are read only through the engine-owned disk and the facts they report.
"""

from __future__ import annotations

from ...kit import business
from .node import BROKER, NEW, PAY, consumers

# all_delivered names at most this many orders (a lost message can strand several).
SHOWN = 5


def settle_time(params: dict, latency_max: int) -> int:
    """A bound on how long every order needs to reach every consumer once faults stop
    (every node up, the network healed and reliable). The relay polls within
    poll_interval (a restarted one a poll_interval after its restart); a row it published
    just before the calm is published again at the first poll past poll_interval: two
    polls, then five flights (Poll, Rows, Publish, PublishAck, MarkSent). The broker
    delivers at once and redelivers within redeliver_interval whatever a crash, a slowed
    consumer or a lost Ack held back (two rounds, for a redelivery that met a slowed
    consumer); the consumer acknowledges ack_delay after its commit. With a dual-write
    bug, pay's second write comes publish_delay later. Plus a few flights of slack."""
    p = params
    return (3 * p["poll_interval"] + 2 * p["redeliver_interval"] + 2 * p["ack_delay"] + p["publish_delay"]
            + 12 * latency_max + 200)


class OutboxChecker(business.BusinessChecker):
    invariants = ("conservation", "effects_once", "outbox_atomic", "no_phantom", "all_delivered")

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.consumers = consumers(node_ids)
        self.paid: dict[str, None] = {}    # gids whose payment pay reported, in order

    def observed(self, node_id, fact, args):
        if fact != "effect":
            return
        gid = args["gid"]
        if node_id == PAY:
            self.paid[gid] = None
        elif gid not in self.paid:
            self.found.append(self.violation("no_phantom", "viol.no_phantom", [node_id, PAY], node=node_id, gid=gid))

    def after_event(self, sim, node_id, msg):
        found = self.judge_business(sim, node_id)
        if node_id == PAY:
            found += self.judge_outbox(sim)
        return found

    def judge_outbox(self, sim) -> list:
        outbox = sim.disk[PAY].get("outbox")
        if outbox is None:
            return []        # no outbox table (a dual write): nothing to be atomic with
        rows = {row["gid"]: None for row in outbox.values()}
        found = [self.violation("outbox_atomic", "viol.outbox_atomic.no_row", [PAY], gid=gid)
                 for gid in self.paid if gid not in rows]
        found += [self.violation("outbox_atomic", "viol.outbox_atomic.no_payment", [PAY], gid=gid)
                  for gid in rows if gid not in self.paid]
        return found

    # ------------------------------------------------------------ all_delivered

    def settle_time(self, sim) -> int:
        return settle_time(self.params, sim.network.latency[1])

    def on_quiet(self, sim):
        if sim.network.loss > 0:
            return []   # random loss: no time bound is honest
        if sim.until - (sim.last_action_at or 0) < self.settle_time(sim):
            return []   # not long enough since the last fault or request to expect every order delivered
        found = []
        missing = {}
        for gid in self.paid:
            absent = [c for c in self.consumers if "action" not in self.effects.get((c, gid), ())]
            if absent:
                missing[gid] = absent
        for gid, absent in list(missing.items())[:SHOWN]:
            found.append(self.violation("all_delivered", "viol.all_delivered.missing", [PAY, *absent], gid=gid,
                                        services=", ".join(absent)))
        outbox = sim.disk[PAY].get("outbox", {})
        new = [mid for mid, row in outbox.items() if row["status"] == NEW]
        if new:
            found.append(self.violation("all_delivered", "viol.all_delivered.outbox", [PAY], count=len(new),
                                        mids=", ".join(new[:SHOWN])))
        for c, queue in sim.disk[BROKER].get("queues", {}).items():
            if queue:
                found.append(self.violation("all_delivered", "viol.all_delivered.queue", [BROKER, c], node=c,
                                            count=len(queue)))
        return found + self.held_left(sim, "all_delivered")
