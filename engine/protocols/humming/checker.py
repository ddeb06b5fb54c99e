"""Humming Consensus invariants.

Safety, after every event, from the facts the nodes report (ctx.observe) and the disks:
  sane_history    each node's private projections, in the order it adopted them, have
                  strictly increasing epochs and every step passes the sanity rules
  write_once      no register of any store is ever written twice (every write is observed)
  no_lost_writes  a node that joins the UPI holds every write acknowledged by the chain it
                  joins: a write acked at an earlier epoch by a UPI that shares a member
                  with the UPI members it joins, and held by all of them (in AP, writes an
                  island acknowledged and then lost in the merge are on its own nodes
                  only: the chain never had them to lose)
Eventual, when the run ended calm (all up, healed, no one-way fault, staggered timers):
  converges       every member uses the same non-none projection (epoch, csum), and every
                  member is in its UPI or repairing list. AP and CP alike: with every node
                  up and talking, CP's "a majority and all its members" is everyone.
"""

from __future__ import annotations

from ...kit.strings import distinct
from ...protocol import Checker
from .node import insane_reason


def settle_ms(params, latency_hi) -> int:
    """Calm time after which convergence is promised, or 0 when it is not: unstaggered
    timers may collide forever, a one-way fault never stops, and a failure detector whose
    read timeout is shorter than a round trip sees everyone down."""
    if params["stagger"] == "none" or params["one_way"] != "none" or 2 * latency_hi >= params["read_timeout"]:
        return 0
    return 40 * (params["interval"] + 2 * params["read_timeout"]) + 4 * params["repair_ms"] + 2000


class HummingChecker(Checker):
    invariants = ("sane_history", "write_once", "no_lost_writes", "converges")

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.first = {}                          # (store, kind, epoch) -> csum first written
        self.history = {n: None for n in node_ids}   # last adopted projection
        self.good = {n: None for n in node_ids}      # last adopted non-none projection
        self.acked = []                          # (w, epoch, upi)
        self.pending = []

    def observe(self, node_id, fact, args):
        self.pending.append((node_id, fact, args))

    def after_event(self, sim, node_id, msg):
        found = []
        pending, self.pending = self.pending, []
        for n, fact, a in pending:
            if fact == "register":
                key = (a["store"], a["kind"], a["epoch"])
                first = self.first.setdefault(key, a["csum"])
                if a["prev"] is not None or first != a["csum"]:
                    found.append(self.violation("write_once", "viol.write_once", (n,), node=n, kind=a["kind"],
                                                epoch=a["epoch"], old=first, new=a["csum"]))
            elif fact == "acked":
                self.acked.append((a["w"], a["epoch"], frozenset(a["upi"])))
            elif fact == "adopt":
                found += self._adopt(sim, n, a["proj"])
        return found

    def _adopt(self, sim, n, p):
        found = []
        prev = self.history[n]
        why = None if prev is None else insane_reason(prev, p, n)
        if why is not None:
            found.append(self.violation("sane_history", "viol.sane_history", (n,), node=n, old=prev["epoch"],
                                        new=p["epoch"], why=why))
        good = self.good[n]
        if p["upi"] and n in p["upi"] and good is not None and n not in good["upi"]:
            chained = set(p["upi"]) & set(good["upi"])
            data = set(sim.disk[n]["data"])
            held = [set(sim.disk[m]["data"]) for m in sorted(chained)]
            lost = [w for w, e, upi in self.acked if e < p["epoch"] and upi & chained and w not in data
                    and all(w in h for h in held)]
            if lost:
                found.append(self.violation("no_lost_writes", "viol.no_lost_writes", (n,), node=n,
                                            epoch=p["epoch"], w=lost[0], count=len(lost)))
        self.history[n] = p
        if p["upi"]:
            self.good[n] = p
        return found

    def on_quiet(self, sim):
        settle = settle_ms(self.params, sim.network.latency[1])
        if not settle or sim.network.loss > 0 or sim.until - (sim.last_action_at or 0) < settle:
            return []
        views = {n: sim.observe(n) for n in self.node_ids}
        ids = {n: (v["epoch"], v["csum"]) for n, v in views.items()}
        first = self.node_ids[0]
        v0 = views[first]
        odd = [n for n in self.node_ids if ids[n] != ids[first]]
        if odd or not v0["upi"]:
            n = odd[0] if odd else first
            return [self.violation("converges", "viol.converges", distinct(first, n), node=n,
                                   epoch=views[n]["epoch"], other=first, their=v0["epoch"], ms=settle)]
        missing = [n for n in self.node_ids if n not in v0["upi"]]
        if missing:
            return [self.violation("converges", "viol.converges.missing", (missing[0],), node=missing[0],
                                   epoch=v0["epoch"], ms=settle)]
        return []
