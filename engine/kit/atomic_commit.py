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

and, opt-in (LOCKS = True), the isolation an in-doubt participant owes the
transactions after it (strict two-phase locking held across crashes):

  locks_held                 a transaction a participant voted yes on holds the lock
                             on the key it writes until its outcome is logged: the
                             yes record names that key (the one the coordinator asked
                             for), no two in-doubt transactions share a key at one
                             participant, and the node's reported lock table holds
                             every in-doubt lock, after a restart too

The checker reads each node's write-ahead log (kit.wal, the engine-owned
disk) incrementally and the decision messages as they are sent; it never
reads a node's attributes. A protocol subclasses it and says which records
and messages mean what (class attributes below) and may add its own
invariants through the hooks.

Violations carry translated messages: the protocol's strings must hold
"viol.atomicity.committed", "viol.atomicity.aborted",
"viol.decision_stable.reannounced", "viol.decision_stable.announced_other",
"viol.decision_stable.log_lost", "viol.decision_stable.commit_after_abort",
and "viol.<AC3>"; with LOCKS, "viol.locks_held.wrong_key", "viol.locks_held.shared"
and "viol.locks_held.lost", and the invariant "locks_held" in `invariants`.
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
    # locks_held, opt-in. The YES record takes the lock on the key at record[2]; the
    # outcome record (COMMITTED, ABORTED) releases it.
    LOCKS = False
    WRITES = "Prepare"                # the coordinator's message whose body["key"] names the key a tx writes
    LOCK_TABLE = "locks"              # the field of a participant's observe(): its lock table, key -> tx

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
        # locks_held, per participant, from its log: key -> the tx voted yes with no outcome yet, tx -> key.
        self.in_doubt: dict[str, dict[str, str]] = {n: {} for n in self.participants}
        self.key_of: dict[str, dict[str, str]] = {n: {} for n in self.participants}
        self.writes: dict[str, str] = {}   # tx -> the key the coordinator asked it to lock

    def v(self, invariant, key, nodes, **args) -> Violation:
        return self.violation(invariant, key, nodes, **args)

    # ------------------------------------------------------------ what is said

    def announcer(self, node_id: str) -> bool:
        """Whose decision messages count (2PC: only the coordinator's)."""
        return node_id == self.coordinator

    def on_send(self, sim, msg):
        if self.LOCKS and msg.kind == self.WRITES and msg.src == self.coordinator:
            self.writes.setdefault(msg.body["tx"], msg.body["key"])   # the key a transaction writes
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
        if self.LOCKS and node_id != self.coordinator:
            self.locks_enforced(sim, node_id, found)
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
        if self.LOCKS:
            self.locks_logged(node, record, found)
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

    # ------------------------------------------------------------ locks_held (opt-in: LOCKS)

    # ------------------------------------------------------------ AC5: everything resolves

    def unresolved(self, sim, in_doubt, blame=(), also=None) -> list[Violation]:
        """What AC5 finds once a run should have resolved: per participant the transactions
        `in_doubt(facts)` still holds open and the locks it still holds (its observe() facts),
        then the coordinator's unfinished transactions (observe()["unfinished"]). `blame`: who
        else an in-doubt participant implicates; `also(node, facts)`: a protocol's own findings.
        The protocol's on_quiet calls it once it has decided the run was calm for long enough."""
        out = []
        for n in self.participants:
            facts = sim.observe(n)
            txs = in_doubt(facts)
            if txs:
                out.append(self.v("all_resolved", "viol.all_resolved.in_doubt", (n, *blame),
                                  node=n, txs=", ".join(txs)))
            if also is not None:
                out += also(n, facts)
            if facts[self.LOCK_TABLE]:
                held = ", ".join(f"{k} ({tx})" for k, tx in facts[self.LOCK_TABLE].items())
                out.append(self.v("all_resolved", "viol.all_resolved.locks", (n,), node=n, locks=held))
        unfinished = sim.observe(self.coordinator)["unfinished"]
        if unfinished:
            out.append(self.v("all_resolved", "viol.all_resolved.unfinished", (self.coordinator,),
                              txs=", ".join(unfinished)))
        return out

    def locks_logged(self, node, record, found) -> None:
        """The log says which locks an in-doubt transaction holds: its yes vote takes the lock
        on the key at record[2], its outcome releases it."""
        kind, tx = record[0], record[1]
        if kind == self.YES:
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
        elif kind in (self.COMMITTED, self.ABORTED) and tx in self.key_of[node]:
            key = self.key_of[node].pop(tx)     # the outcome is logged: its lock may go
            if self.in_doubt[node].get(key) == tx:
                del self.in_doubt[node][key]

    def locks_enforced(self, sim, node_id, found) -> None:
        """The node's lock table (what it enforces) holds every in-doubt transaction's lock."""
        facts = sim.observe(node_id)
        if facts is None:
            return   # down: its locks are on disk, in its yes records
        locks = facts[self.LOCK_TABLE]
        for key, tx in self.in_doubt[node_id].items():
            if locks.get(key) != tx:
                found.append(self.v("locks_held", "viol.locks_held.lost", (node_id,),
                                    node=node_id, tx=tx, item=key))
