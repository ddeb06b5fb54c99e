"""The invariants of the orchestrated Saga.

From kit.business (every pattern of the order story keeps them), read from
each service's books on disk and the effects services report
(ctx.observe("effect", gid=, op=, amount=)):

  conservation                  available + held + used stays what a service opened
                                with, and no bucket goes negative
  effects_once                  each action and each compensation runs at most once
                                per order and service

The Saga's own (Garcia-Molina & Salem; dtm's sub-transaction barrier):

  null_compensation             a compensation at a service where that order's action
                                never ran changes nothing (it is "found empty")
  no_action_after_compensation  no action takes effect at a service after that order
                                was compensated or suspended there (hanging)
  no_forward_after_abort        the orchestrator sends no Action for an order after
                                its log says aborting (messages already in flight are
                                exempt: they are the fence's business)
  compensation_order            C_i is applied only after C_{i+1} was applied or found
                                empty (when T_{i+1} was ever sent)
  all_resolved                  (eventual) once faults stop and enough time passed,
                                every saga ended: succeed with every action applied
                                once and none compensated, or failed with a zero net
                                effect at every service; nothing stays held

Nodes are read only through the engine-owned disk, the messages sent and the
facts services report; never through a node's attributes.
"""

from __future__ import annotations

from ...kit import business
from .node import ABORTING, FAILED, ORCHESTRATOR, SUCCEED


def settle_time(params: dict, services: int, latency_max: int) -> int:
    """A generous bound on how long every saga needs to end once faults stop.

    After the calm each step gets its answer within a round trip, unless its
    Action is slowed (slow_next) or the timers were already backing off: then
    the step waits at most a step timeout and a backoff (never above retry_cap).
    Per saga: the wait in progress, n forward steps and n compensations, each
    bounded so; plus, at each service, the refund gateway's remaining errors,
    each costing a backoff and a round trip.
    """
    trip = 2 * latency_max
    step = params["step_timeout"] + params["retry_cap"] + trip
    gateway = services * params["compensation_failures"] * (params["retry_cap"] + trip)
    return (2 * services + 2) * step + gateway + 1000


class SagaChecker(business.BusinessChecker):
    invariants = ("conservation", "effects_once", "null_compensation", "no_action_after_compensation",
                  "no_forward_after_abort", "compensation_order", "all_resolved")

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.step_of = {s.name: i + 1 for i, s in enumerate(self.services)}
        self.events: list[tuple[str, str, str]] = []      # (service, gid, action | compensation | empty)
        self.acted: dict[tuple[str, str], int] = {}       # (service, gid) -> actions applied
        self.undone: dict[tuple[str, str], None] = {}     # compensated or suspended there
        self.compensated: dict[str, set] = {}             # gid -> steps compensated (applied or empty)
        self.sent_to: dict[str, int] = {}                 # gid -> highest step whose Action was sent
        self.sent: dict[int, dict] = {}                   # id(body) -> body of every Action sent

    # ------------------------------------------------------------ facts

    def observed(self, node_id, fact, args):
        if fact == "effect":
            self.events.append((node_id, args["gid"], args["op"]))
        elif fact == "compensation_empty":
            self.events.append((node_id, args["gid"], "empty"))

    def on_send(self, sim, msg):
        if msg.kind != "Action" or msg.src != ORCHESTRATOR:
            return None
        if self.sent.get(id(msg.body)) is msg.body:
            return None     # a copy the network made of a message already sent, not a new send
        self.sent[id(msg.body)] = msg.body
        gid, step = msg.body["gid"], msg.body["step"]
        self.sent_to[gid] = max(step, self.sent_to.get(gid, 0))
        record = sim.disk[ORCHESTRATOR].get("sagas", {}).get(gid)
        if record is not None and record["status"] in (ABORTING, FAILED):
            return [self.violation("no_forward_after_abort", "viol.no_forward_after_abort", [msg.src, msg.dst],
                                   gid=gid, step=step, node=msg.dst, status=record["status"])]
        return None

    # ------------------------------------------------------------ after every event

    def after_event(self, sim, node_id, msg):
        found = []
        for node, gid, what in self.events:
            key = (node, gid)
            step = self.step_of[node]
            if what == "action":
                if key in self.undone:
                    found.append(self.violation("no_action_after_compensation", "viol.no_action_after_compensation",
                                                [node], node=node, gid=gid, step=step))
                self.acted[key] = self.acted.get(key, 0) + 1
                continue
            if what == "compensation" and not self.acted.get(key):
                found.append(self.violation("null_compensation", "viol.null_compensation", [node],
                                            node=node, gid=gid, step=step))
            later = step + 1
            if later <= self.sent_to.get(gid, 0) and later not in self.compensated.get(gid, ()):
                found.append(self.violation("compensation_order", "viol.compensation_order",
                                            [node, self.services[later - 1].name], node=node, gid=gid, step=step,
                                            later=later))
            self.compensated.setdefault(gid, set()).add(step)
            self.undone[key] = None
        self.events = []
        return found + self.judge_business(sim, node_id)

    # ------------------------------------------------------------ all_resolved

    def on_quiet(self, sim):
        if sim.network.loss > 0:
            return []   # random loss: no time bound is honest
        if sim.until - (sim.last_action_at or 0) < settle_time(self.params, len(self.services),
                                                                sim.network.latency[1]):
            return []   # not long enough since the last fault to expect every saga over
        found = []
        for gid, record in sim.disk[ORCHESTRATOR].get("sagas", {}).items():
            status = record["status"]
            if status not in (SUCCEED, FAILED):
                found.append(self.violation("all_resolved", "viol.all_resolved.unfinished", [ORCHESTRATOR],
                                            gid=gid, status=status, step=record["step"]))
                continue
            for s in self.services:
                ops = self.effects.get((s.name, gid), [])
                actions, undos = ops.count("action"), ops.count("compensation")
                if status == SUCCEED and (actions != 1 or undos):
                    found.append(self.violation("all_resolved", "viol.all_resolved.succeed", [s.name],
                                                gid=gid, node=s.name, actions=actions, undos=undos))
                elif status == FAILED and actions != undos:
                    found.append(self.violation("all_resolved", "viol.all_resolved.failed", [s.name],
                                                gid=gid, node=s.name, actions=actions, undos=undos))
        return found + self.held_left(sim)
