"""The invariants of TCC.

From kit.business, as every pattern of the order story:

  conservation          at every service, available + held + used stays what it opened
                        with and no bucket goes negative
  effects_once          each Try, Confirm and Cancel takes effect at most once per
                        order and branch

TCC's own, from the effects the branches report (ctx.observe "effect", and
"cancel_seen" when a Cancel reaches a branch) and the TC's global records:

  empty_rollback        a Cancel whose Try never took effect at that branch changes nothing
  hanging               no Try takes effect at a branch after that branch saw the order's Cancel
  confirm_needs_submit  a Confirm takes effect only once the TC recorded the order
                        SUBMITTED, and after every registered branch's Try took effect
  confirm_or_cancel     no branch both confirms and cancels one order
  all_resolved          (eventual) once faults stop and every node is up long enough:
                        every order the TC knows is SUCCEED or FAILED; SUCCEED: every
                        registered branch confirmed; FAILED: every Try that took effect
                        was cancelled; nothing stays frozen anywhere
"""

from __future__ import annotations

from ...kit.business import BusinessChecker
from .node import TC


def settle_time(params: dict, latency_max: int) -> int:
    """How long every order needs to end once faults stop: the TC's timeout on an order
    its initiator left, then a few calls per branch at the longest backoff."""
    p = params
    return p["global_timeout"] + 2 * p["call_timeout"] + 4 * p["retry_cap"] + p["slow_ms"] + 20 * latency_max


class TCCChecker(BusinessChecker):
    invariants = ("conservation", "effects_once", "empty_rollback", "hanging", "confirm_needs_submit",
                  "confirm_or_cancel", "all_resolved")

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.cancel_seen: set[tuple[str, str]] = set()   # (branch, gid) reached by a Cancel

    def observed(self, node_id, fact, args):
        if fact == "cancel_seen":
            self.cancel_seen.add((node_id, args["gid"]))

    def after_event(self, sim, node_id, msg):
        fresh = list(self.fresh)
        found = self.judge_business(sim, node_id)
        for node, gid, op in fresh:
            done = self.effects[(node, gid)]
            if op == "cancel" and "try" not in done:
                found.append(self.violation("empty_rollback", "viol.empty_rollback", [node], node=node, gid=gid))
            elif op == "try" and (node, gid) in self.cancel_seen:
                found.append(self.violation("hanging", "viol.hanging", [node], node=node, gid=gid))
            elif op == "confirm":
                found += self.confirm_allowed(sim, node, gid)
            if {"confirm", "cancel"} <= set(done) and op in ("confirm", "cancel"):
                found.append(self.violation("confirm_or_cancel", "viol.confirm_or_cancel", [node], node=node,
                                            gid=gid))
        return found

    def confirm_allowed(self, sim, node, gid) -> list:
        g = sim.disk[TC].get("globals", {}).get(gid)
        status = g["status"] if g else "unknown"
        if status not in ("SUBMITTED", "SUCCEED"):
            return [self.violation("confirm_needs_submit", "viol.confirm_needs_submit", [node, TC], node=node,
                                   gid=gid, status=status)]
        untried = [b for b, _ in g["branches"] if "try" not in self.effects.get((b, gid), [])]
        if untried:
            return [self.violation("confirm_needs_submit", "viol.confirm_needs_submit.untried", [node, *untried],
                                   node=node, gid=gid, untried=", ".join(untried))]
        return []

    def on_quiet(self, sim):
        if sim.network.loss > 0:
            return []   # random loss: no time bound is honest
        if sim.until - (sim.last_action_at or 0) < settle_time(self.params, sim.network.latency[1]):
            return []   # not enough time since the last fault to expect every order over
        found = []
        for gid, g in sim.disk[TC].get("globals", {}).items():
            branches = [b for b, _ in g["branches"]]
            if g["status"] not in ("SUCCEED", "FAILED"):
                found.append(self.violation("all_resolved", "viol.all_resolved.open", [TC], gid=gid,
                                            status=g["status"]))
            elif g["status"] == "SUCCEED":
                missing = [b for b in branches if "confirm" not in self.effects.get((b, gid), [])]
                if missing:
                    found.append(self.violation("all_resolved", "viol.all_resolved.unconfirmed", [TC, *missing],
                                                gid=gid, branches=", ".join(missing)))
            else:
                frozen = [s.name for s in self.services
                          if "try" in (done := self.effects.get((s.name, gid), [])) and "cancel" not in done]
                if frozen:
                    found.append(self.violation("all_resolved", "viol.all_resolved.uncancelled", [TC, *frozen],
                                                gid=gid, branches=", ".join(frozen)))
        return [*found, *self.held_left(sim)]
