"""The invariants of the choreographed saga.

From kit.business (BusinessChecker), read from every service's disk and the
effects the services report (ctx.observe("effect", gid=, op=, amount=)):

  conservation                  available + used stays what each service opened with,
                                and no bucket goes negative
  effects_once                  each action and each compensation runs at most once per
                                order and service, however often its event is delivered

The saga's own (Garcia-Molina & Salem: T1..Tj then Cj..C1), judged as the
effects are reported, and the failures (ctx.observe("failed", gid=)):

  null_compensation             a compensation whose action never ran at that service
                                changes nothing (the fence writes SUSPENDED instead)
  no_action_after_compensation  once a step is compensated (or suspended) at a
                                service, its action never runs there
  compensation_order            s_k compensates an order only after s_k+1 has
                                compensated it or failed it: downstream first
  all_resolved                  (eventual) once faults stop and the relays had time:
                                every order COMPLETED or CANCELLED; COMPLETED: every
                                service ran its action exactly once and compensated
                                nothing; CANCELLED: every service's net effect is zero;
                                no outbox holds an unacknowledged row; nothing held

Nodes are read only through the engine-owned disk and the facts they report.
"""

from __future__ import annotations

from ...kit import business
from .node import CANCELLED, COMPLETED, ORDER, PENDING

# all_resolved names at most this many orders (a lost event can strand many).
SHOWN = 5


def settle_time(params: dict, latency_max: int, services: int = business.MAX_SERVICES) -> int:
    """A bound on how long every order needs to finish once faults stop (every node up, the
    network healed and reliable). Every unacknowledged outbox row is sent again within
    resend_interval (at once by a restarted node); from then on each hop is one message
    flight, and an order takes at most 2 x services + 1 hops (down the chain and back). A
    service told to be slow holds one event back, but its sender's re-send comes within
    resend_interval and is processed at once: at most one resend_interval more per service.
    The last Ack leaves ack_delay after the last commit. Plus one resend_interval and a few
    flights of slack."""
    p = params
    return ((services + 2) * p["resend_interval"] + p["ack_delay"] + (2 * services + 4) * latency_max + 200)


class SagaChoreoChecker(business.BusinessChecker):
    invariants = ("conservation", "effects_once", "null_compensation", "no_action_after_compensation",
                  "compensation_order", "all_resolved")

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.chain = [n for n in node_ids if n != ORDER]
        self.failed: dict[str, list[str]] = {}       # service -> gids whose action failed there
        self.suspended: dict[tuple[str, str], bool] = {}

    def observed(self, node_id, fact, args):
        gid = args.get("gid")
        if fact == "failed":
            self.failed.setdefault(node_id, []).append(gid)
        elif fact == "suspended":
            self.suspended[(node_id, gid)] = True
        elif fact == "effect":
            before = self.effects[(node_id, gid)][:-1]
            if args["op"] == "compensation":
                self.judge_compensation(node_id, gid, before)
            elif "compensation" in before or (node_id, gid) in self.suspended:
                self.found.append(self.violation("no_action_after_compensation", "viol.no_action_after_compensation",
                                                 [node_id], node=node_id, gid=gid))

    def judge_compensation(self, node, gid, before) -> None:
        if "action" not in before:
            self.found.append(self.violation("null_compensation", "viol.null_compensation", [node],
                                             node=node, gid=gid))
        k = self.chain.index(node)
        nxt = self.chain[k + 1] if k + 1 < len(self.chain) else ORDER
        done = "compensation" in self.effects.get((nxt, gid), ()) or gid in self.failed.get(nxt, ())
        if not done:
            self.found.append(self.violation("compensation_order", "viol.compensation_order", [node, nxt],
                                             node=node, gid=gid, next=nxt))

    def after_event(self, sim, node_id, msg):
        return self.judge_business(sim, node_id)

    # ------------------------------------------------------------ all_resolved

    def settle_time(self, sim) -> int:
        return settle_time(self.params, sim.network.latency[1], len(self.chain))

    def on_quiet(self, sim):
        if sim.network.loss > 0:
            return []   # random loss: no time bound is honest
        if sim.until - (sim.last_action_at or 0) < self.settle_time(sim):
            return []   # not long enough since the last fault or request to expect every order over
        found = []
        orders = sim.disk[ORDER].get("orders", {})
        pending = [gid for gid, status in orders.items() if status == PENDING]
        for gid in pending[:SHOWN]:
            taken = [s for s in self.chain if self.net(s, gid)]
            found.append(self.violation("all_resolved", "viol.all_resolved.pending", [ORDER, *taken], gid=gid,
                                        taken=", ".join(taken) or "-"))
        for gid, status in orders.items():
            for s in self.chain:
                ops = self.effects.get((s, gid), [])
                if status == COMPLETED and ops != ["action"]:
                    found.append(self.violation("all_resolved", "viol.all_resolved.completed", [ORDER, s],
                                                gid=gid, node=s, ops=", ".join(ops) or "-"))
                elif status == CANCELLED and self.net(s, gid):
                    found.append(self.violation("all_resolved", "viol.all_resolved.cancelled", [ORDER, s],
                                                gid=gid, node=s, ops=", ".join(ops)))
        for n in self.node_ids:
            outbox = sim.disk[n].get("outbox", {})
            if outbox:
                found.append(self.violation("all_resolved", "viol.all_resolved.outbox", [n], node=n,
                                            count=len(outbox)))
        return found + self.held_left(sim)

    def net(self, service, gid) -> int:
        """Actions minus compensations of `gid` at `service`: 0 when it left nothing behind."""
        ops = self.effects.get((service, gid), [])
        return ops.count("action") - ops.count("compensation")
