"""The invariants of three-phase commit.

From kit.atomic_commit, reading the write-ahead logs and the decision
messages (DoCommit, Abort) of every node, since a termination coordinator
announces decisions too:

  atomicity            no participant commits what another aborts; 3PC adds the
                       coordinator: its logged COMMIT or ABORT is a decision as well
  decision_stable      no log loses records, no two announcements contradict
  commit_needs_yes     (AC3) a COMMIT decision or COMMITTED record only after every
                       participant force-wrote its yes vote (READY)
  locks_held           (opt-in: LOCKS) isolation: a participant's yes vote (READY,
                       the key at record[2]) takes the lock on the key its CanCommit
                       names, and the transaction holds it, READY and PRECOMMITTED,
                       until its outcome is logged: no two in-doubt transactions
                       share a key at a participant, and the lock table it reports
                       (observe()["locks"]) holds every in-doubt lock, after a
                       restart too

3PC's own:

  precommit_needs_yes  no PreCommit leaves (from the coordinator or a termination
                       coordinator) before every participant voted yes
  all_resolved         (eventual) once faults stop and every node is up long
                       enough, nobody is READY or PRECOMMITTED, no lock is held and
                       the coordinator has finished every transaction

Nodes are read only through what they report (sim.observe: Node.observe) and
the engine-owned disk.
"""

from __future__ import annotations

from ...kit.atomic_commit import AtomicCommitChecker
from ...kit.strings import distinct
from .node import COORDINATOR


def settle_time(params: dict, latency_max: int) -> int:
    """A generous bound on how long every transaction needs to finish once faults stop:
    the coordinator's own timeouts, a participant's, a few termination rounds, a few
    re-sends of a decision or of a restarted node's questions, and message flights."""
    p = params
    return (p["vote_timeout"] + p["log_delay"] + p["ack_timeout"]
            + max(p["ready_timeout"], p["precommit_timeout"]) + 6 * p["state_wait"]
            + 3 * p["resend_interval"] + 10 * latency_max)


class ThreePCChecker(AtomicCommitChecker):
    invariants = ("atomicity", "decision_stable", "commit_needs_yes", "precommit_needs_yes", "locks_held",
                  "all_resolved")
    coordinator = COORDINATOR
    YES = "READY"
    LOCKS = True
    WRITES = "CanCommit"
    ANNOUNCE = {"DoCommit": "COMMIT", "Abort": "ABORT"}
    AC3 = "commit_needs_yes"

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.coordinator_decision: dict[str, str] = {}   # COMMIT or ABORT, as logged

    def announcer(self, node_id):
        """The coordinator, and any participant acting as a termination coordinator."""
        return True

    # ------------------------------------------------------------ precommit_needs_yes

    def on_send(self, sim, msg):
        super().on_send(sim, msg)
        if msg.kind == "PreCommit":
            tx = msg.body["tx"]
            missing = [p for p in self.participants if p not in self.voted_yes.get(tx, [])]
            if missing:
                self.found.append(self.v("precommit_needs_yes", "viol.precommit_needs_yes", (msg.src, *missing),
                                         tx=tx, node=msg.src, missing=", ".join(missing)))

    # ------------------------------------------------------------ atomicity, the coordinator included

    def coordinator_logged(self, node, record, found):
        super().coordinator_logged(node, record, found)
        kind, tx = record[0], record[1]
        if kind not in ("COMMIT", "ABORT"):
            return
        self.coordinator_decision[tx] = kind
        if kind == "COMMIT" and self.aborted.get(tx):
            found.append(self.v("atomicity", "viol.atomicity.coordinator_commit", distinct(node, *self.aborted[tx]),
                                tx=tx, others=", ".join(self.aborted[tx])))
        elif kind == "ABORT" and self.committed.get(tx):
            found.append(self.v("atomicity", "viol.atomicity.coordinator_abort", distinct(node, *self.committed[tx]),
                                tx=tx, others=", ".join(self.committed[tx])))

    def participant_record(self, node, record, found):
        kind, tx = record[0], record[1]
        decided = self.coordinator_decision.get(tx)
        if kind == "ABORTED" and decided == "COMMIT":
            found.append(self.v("atomicity", "viol.atomicity.coordinator_commit", (COORDINATOR, node),
                                tx=tx, others=node))
        elif kind == "COMMITTED" and decided == "ABORT":
            found.append(self.v("atomicity", "viol.atomicity.coordinator_abort", (COORDINATOR, node),
                                tx=tx, others=node))

    # ------------------------------------------------------------ commit_needs_yes (AC3) at a participant

    def participant_committed(self, node, tx, found):
        """A termination coordinator decides without the coordinator: AC3 holds for its commits too."""
        missing = [p for p in self.participants if p not in self.voted_yes.get(tx, [])]
        if missing:
            found.append(self.v(self.AC3, f"viol.{self.AC3}", (node, *missing), tx=tx, missing=", ".join(missing)))

    # ------------------------------------------------------------ all_resolved

    def settle_time(self, sim) -> int:
        return settle_time(self.params, sim.network.latency[1])

    def on_quiet(self, sim):
        if sim.network.loss > 0:
            return []   # random loss: no time bound is honest
        if sim.until - (sim.last_action_at or 0) < self.settle_time(sim):
            return []   # not enough time since the last action to expect everything resolved
        return self.unresolved(sim, lambda facts: list(facts["in_doubt"]))
