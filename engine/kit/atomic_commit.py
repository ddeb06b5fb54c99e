"""Atomic commitment, checked from what the nodes log and announce.

The classic conditions (Bernstein, Hadzilacos & Goodman, "Concurrency Control
and Recovery in Database Systems", ch. 7), under the names a viewer reads:

  AC1 atomicity              no two processes decide differently: no transaction
                             is COMMITTED at one participant and ABORTED at another
  AC2 decision_stable        a process never reverses its decision: what a node
                             logged stays logged, and a decision once announced is
                             never announced otherwise
  AC3 <AC3>                  commit only if every participant voted yes (its yes
                             vote is a durable record before the vote leaves)
  AC4 (non-triviality)       with every vote yes and no failure, the decision is
                             commit: a run with no faults is judged by AC5, which
                             then finds any transaction left unfinished
  AC5 all_resolved           once failures are repaired and nothing new fails for
                             long enough, every process decides (eventual)

The checker reads each node's write-ahead log (kit.wal, the engine-owned
disk) incrementally and the decision messages as they are sent; it never
reads a node's attributes. A protocol subclasses it and says which records
and messages mean what (class attributes below) and may add its own
invariants through the hooks.

Violations carry translated messages: the protocol's strings must hold
"viol.atomicity.committed", "viol.atomicity.aborted",
"viol.decision_stable.reannounced", "viol.decision_stable.announced_other",
"viol.decision_stable.log_lost", "viol.decision_stable.commit_after_abort",
and "viol.<AC3>".
"""

from __future__ import annotations

from ..protocol import Checker, Violation
from .wal import LogReader


class AtomicCommitChecker(Checker):
    coordinator = "c"                 # the node that starts transactions and logs decisions
    # Log records (record[0]); record[1] is always the transaction.
    YES = "PREPARED"                  # a participant's durable yes vote
    COMMITTED = "COMMITTED"           # a participant's outcome records
    ABORTED = "ABORTED"
    DECIDED_COMMIT = "COMMIT"         # the coordinator's logged commit decision
    # Messages that announce a decision: kind -> decision, or kind -> None to read body["decision"].
    ANNOUNCE = {"Commit": "COMMIT", "Abort": "ABORT", "Outcome": None}
    AC3 = "commit_needs_prepared"     # the name of AC3 in this protocol

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.participants = [n for n in node_ids if n != self.coordinator]
        self.logs = LogReader(node_ids)
        self.voted_yes: dict[str, list[str]] = {}
        self.committed: dict[str, list[str]] = {}
        self.aborted: dict[str, list[str]] = {}
        self.decision: dict[str, str] = {}       # logged as a decision
        self.announced: dict[str, str] = {}      # told to anyone
        self.found: list[Violation] = []

    def v(self, invariant, key, nodes, **args) -> Violation:
        return self.violation(invariant, key, nodes, **args)

    # ------------------------------------------------------------ what is said

    def announcer(self, node_id: str) -> bool:
        """Whose decision messages count (2PC: only the coordinator's)."""
        return node_id == self.coordinator

    def on_send(self, sim, msg):
        if msg.kind not in self.ANNOUNCE or not self.announcer(msg.src):
            return
        tx = msg.body["tx"]
        said = self.ANNOUNCE[msg.kind] or msg.body["decision"]
        before = self.announced.setdefault(tx, said)
        if before != said:
            self.found.append(self.v("decision_stable", "viol.decision_stable.reannounced", (msg.src,),
                                     tx=tx, before=before, said=said))
        if self.decision.get(tx, said) != said:
            self.found.append(self.v("decision_stable", "viol.decision_stable.announced_other", (msg.src,),
                                     tx=tx, said=said))

    # ------------------------------------------------------------ what is logged

    def after_event(self, sim, node_id, msg):
        found, self.found = self.found, []
        if node_id is None:
            return found
        new, lost = self.logs.new(node_id, sim.disk[node_id])
        if lost:
            found.append(self.v("decision_stable", "viol.decision_stable.log_lost", (node_id,), node=node_id))
        for record in new:
            if node_id == self.coordinator:
                self.coordinator_logged(node_id, record, found)
            else:
                self.participant_logged(node_id, record, found)
        self.after_records(sim, node_id, found)
        return found

    def after_records(self, sim, node_id, found) -> None:
        """Hook: protocol-specific checks once a node's new records are read."""

    def coordinator_logged(self, node, record, found):
        if record[0] == self.DECIDED_COMMIT:
            self.decided_commit(node, record[1], found)

    def decided_commit(self, node, tx, found):
        """A commit decision was logged: AC3, and it must not contradict an announced abort."""
        missing = [p for p in self.participants if p not in self.voted_yes.get(tx, [])]
        if missing:
            found.append(self.v(self.AC3, f"viol.{self.AC3}", (node, *missing), tx=tx, missing=", ".join(missing)))
        if self.announced.get(tx, "COMMIT") != "COMMIT":
            found.append(self.v("decision_stable", "viol.decision_stable.commit_after_abort", (node,), tx=tx))
        self.decision[tx] = "COMMIT"

    def participant_logged(self, node, record, found):
        kind, tx = record[0], record[1]
        if kind == self.YES:
            self.voted_yes.setdefault(tx, []).append(node)
        self.participant_record(node, record, found)
        if kind == self.COMMITTED:
            self.committed.setdefault(tx, []).append(node)
            self.participant_committed(node, tx, found)
            others = self.aborted.get(tx)
            if others:
                found.append(self.v("atomicity", "viol.atomicity.committed", (node, *others),
                                    tx=tx, node=node, others=", ".join(others)))
        elif kind == self.ABORTED:
            self.aborted.setdefault(tx, []).append(node)
            others = self.committed.get(tx)
            if others:
                found.append(self.v("atomicity", "viol.atomicity.aborted", (node, *others),
                                    tx=tx, node=node, others=", ".join(others)))

    def participant_record(self, node, record, found) -> None:
        """Hook: any participant record, before its outcome (if it is one) is judged."""

    def participant_committed(self, node, tx, found) -> None:
        """Hook: a participant logged COMMITTED (2PC: the coordinator must have logged COMMIT)."""
