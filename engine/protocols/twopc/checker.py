"""The invariants of two-phase commit.

Atomicity, AC3 (commit_needs_prepared) and a stable decision come from
kit.atomic_commit, which reads the write-ahead logs and the coordinator's
decision messages. 2PC adds:

  commit_matches_decision  a participant commits only what the coordinator logged as COMMIT
  locks_held               an in-doubt (PREPARED) transaction keeps its lock, across crashes too
                           (kit.atomic_commit, LOCKS: the PREPARED record names the key, the
                           Prepare the key asked for, observe()["locks"] the lock table)
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
    LOCKS = True       # locks_held (kit): PREPARED takes the lock on the key its Prepare names

    # ------------------------------------------------------------ commit_matches_decision

    def participant_committed(self, node, tx, found):
        if self.decision.get(tx) != "COMMIT":
            found.append(self.v("commit_matches_decision", "viol.commit_matches_decision",
                                (node, COORDINATOR), tx=tx, node=node))

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
        # In doubt means PREPARED, which only the coordinator can end; Prepares still
        # queued for a lock are 2PC's own leftover.
        return self.unresolved(sim, lambda facts: [tx for tx, s in facts["status"].items() if s == "PREPARED"],
                               blame=(COORDINATOR,), also=self.still_waiting)

    def still_waiting(self, n, facts):
        if not facts["waiting"]:
            return []
        return [self.v("all_resolved", "viol.all_resolved.waiting", (n,), node=n, txs=", ".join(facts["waiting"]))]
