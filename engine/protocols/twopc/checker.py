"""The invariants of two-phase commit.

Atomicity, AC3 (commit_needs_prepared) and a stable decision come from
kit.atomic_commit, which reads the write-ahead logs and the coordinator's
decision messages. 2PC adds:

  commit_matches_decision  a participant commits only what the coordinator logged as COMMIT
  locks_held               an in-doubt (PREPARED) transaction keeps its lock, across crashes too
  all_resolved             (eventual) nobody is left in doubt, waiting or holding a lock,
                           and the coordinator finished every transaction

Nodes are read only through what they report (sim.observe: Node.observe).
"""

from __future__ import annotations

from ...kit.atomic_commit import AtomicCommitChecker
from .node import COORDINATOR


class TwoPCChecker(AtomicCommitChecker):
    invariants = ("atomicity", "commit_needs_prepared", "commit_matches_decision", "decision_stable",
                  "locks_held", "all_resolved")
    coordinator = COORDINATOR

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        # Per participant, from its log: key -> the PREPARED tx with no outcome yet, and tx -> key.
        self.in_doubt: dict[str, dict[str, str]] = {n: {} for n in self.participants}
        self.key_of: dict[str, dict[str, str]] = {n: {} for n in self.participants}
        self.writes: dict[str, str] = {}   # tx -> the key its Prepare asked to lock

    # ------------------------------------------------------------ commit_matches_decision

    def participant_committed(self, node, tx, found):
        if self.decision.get(tx) != "COMMIT":
            found.append(self.v("commit_matches_decision", "viol.commit_matches_decision",
                                (node, COORDINATOR), tx=tx, node=node))

    # ------------------------------------------------------------ locks_held

    def on_send(self, sim, msg):
        if msg.kind == "Prepare" and msg.src == COORDINATOR:
            self.writes.setdefault(msg.body["tx"], msg.body["key"])   # the key a transaction writes
        return super().on_send(sim, msg)

    def participant_record(self, node, record, found):
        """The log says which locks an in-doubt transaction holds."""
        kind, tx = record[0], record[1]
        if kind == "PREPARED":
            key = record[2]
            wanted = self.writes.get(tx, key)
            if wanted != key:
                found.append(self.v("locks_held", "viol.locks_held.wrong_key", (node,),
                                    node=node, tx=tx, item=key, wanted=wanted))
            other = self.in_doubt[node].get(key)
            if other is not None and other != tx:
                found.append(self.v("locks_held", "viol.locks_held.shared", (node,),
                                    node=node, tx=tx, item=key, holder=other))
            self.in_doubt[node][key] = tx
            self.key_of[node][tx] = key
        elif tx in self.key_of[node]:            # the outcome is logged: its lock may go
            key = self.key_of[node].pop(tx)
            if self.in_doubt[node].get(key) == tx:
                del self.in_doubt[node][key]

    def after_records(self, sim, node_id, found):
        """The node's lock table (what it enforces) holds every in-doubt transaction's lock."""
        if node_id == COORDINATOR:
            return
        facts = sim.observe(node_id)
        if facts is None:
            return   # down: its locks are on disk, in the PREPARED records
        locks = facts["locks"]
        for key, tx in self.in_doubt[node_id].items():
            if locks.get(key) != tx:
                found.append(self.v("locks_held", "viol.locks_held.lost", (node_id,),
                                    node=node_id, tx=tx, item=key))

    # ------------------------------------------------------------ all_resolved

    def settle_time(self, sim) -> int:
        """A generous bound on how long every transaction needs to finish once faults stop."""
        p = self.params
        return (p["lock_wait"] + p["vote_timeout"] + p["query_interval"] + p["resend_interval"]
                + p["log_delay"] + 10 * sim.network.latency[1])

    def on_quiet(self, sim):
        if sim.network.loss > 0:
            return []   # random loss: no time bound is honest
        last = max((a["at"] for a in sim.actions), default=0)
        if sim.until - last < self.settle_time(sim):
            return []   # not enough time since the last action to expect an answer
        out = []
        for n in self.participants:
            facts = sim.observe(n)
            stuck = [tx for tx, s in facts["status"].items() if s == "PREPARED"]
            if stuck:
                out.append(self.v("all_resolved", "viol.all_resolved.in_doubt", (n, COORDINATOR),
                                  node=n, txs=", ".join(stuck)))
            if facts["waiting"]:
                out.append(self.v("all_resolved", "viol.all_resolved.waiting", (n,),
                                  node=n, txs=", ".join(facts["waiting"])))
            if facts["locks"]:
                held = ", ".join(f"{k} ({tx})" for k, tx in facts["locks"].items())
                out.append(self.v("all_resolved", "viol.all_resolved.locks", (n,), node=n, locks=held))
        unfinished = sim.observe(COORDINATOR)["unfinished"]
        if unfinished:
            out.append(self.v("all_resolved", "viol.all_resolved.unfinished", (COORDINATOR,),
                              txs=", ".join(unfinished)))
        return out
