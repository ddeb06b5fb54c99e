"""VR's invariants (the paper's section 4 correctness properties), on engine.kit.log_safety.

What the kit checks, with VR's view as the kit's term and "primary" as its leader:

  election_safety       at most one primary per view (a replica is "primary" only in
                        normal status: the one config[v mod N] that started view v)
  leader_append_only    a primary only appends to its log during its view
  log_matching          entries of the same op-number and view are the same op, with
                        the same history before them
  leader_completeness   a primary starting a view holds every committed op at its
                        op-number (the paper: an op committed at n in view v is at n in
                        every later view's log)
  state_machine_safety  no two replicas execute different ops at the same op-number:
                        identical execution order. Replicas execute up to k as soon as
                        they learn it, so this is also "logs agree up to k"
  acked_committed       a client told its request executed (a Reply) was told the truth:
                        the op with its client and number is committed at that op-number

Left out of the kit's list: one_vote_per_term (VR has no votes: the primary of a
view is fixed by the configuration) and committed_electable (it reads each
replica's durable log from sim.disk, and VRR keeps no log on disk; what it
guards, that no later view can start without a committed op, is what
committed_kept below states directly).

VR's own:

  committed_kept        a committed op still exists somewhere: some replica holds it
                        in its log (in memory while up; on disk with disk = "log").
                        With disk = "none" this breaks the moment more than f replicas
                        that hold it are down at once (a power loss): no later view
                        can ever contain it again
  commit_monotonic      a replica in normal status never lowers its commit number k
                        within one incarnation (a restart without disk starts from 0)
  at_most_once          each client request (client, request number) executes at most
                        once: it appears once in the sequence of executed ops

It reads Replica.observe() (role, term, log, last_applied, status, commit), the
"log_changed" facts, the engine-owned disk (committed_kept with disk = "log")
and what clients are told (on_reply). Never a node's attributes.
"""

from __future__ import annotations

from ...kit.log_safety import BOOTED, LogSafetyChecker
from .node import PRIMARY, entry_text, replica_ids


class VRChecker(LogSafetyChecker):
    LEADER = PRIMARY
    ONE_VOTE = False
    invariants = ("election_safety", "leader_append_only", "log_matching", "leader_completeness",
                  "state_machine_safety", "acked_committed", "committed_kept", "commit_monotonic",
                  "at_most_once")
    entry_text = staticmethod(entry_text)

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.replicas = replica_ids(node_ids)
        self.is_replica = {n: n in self.replicas for n in node_ids}
        self.k_seen = {n: None for n in self.replicas}   # k last seen in normal status, this incarnation
        self.executed_keys = set()                       # (client, s) of every executed op

    # ------------------------------------------------------------ hooks

    def acked_entry(self, op, result):
        """(index, (client, s)) of the request a Reply says executed."""
        if isinstance(result, dict) and result.get("ok") and "index" in result:
            return result["index"], (result["client"], result["s"])
        return None

    def check_acked(self, found):
        applied = self.applied
        for node, index, (client, s) in self.acked:
            if index > len(applied) or applied[index - 1][2:] != [client, s]:
                found.append(self.violation("acked_committed", "viol.acked_committed", (node,), node=node, s=s,
                                            index=index))
        self.acked = []

    def check_electable(self, sim, found):
        """Left out (see the module docstring): VRR keeps no log on disk to read it from."""

    # ------------------------------------------------------------ after every event

    def after_event(self, sim, n, msg):
        if n is None:
            return []
        if not self.is_replica[n]:          # a client: only what it was told
            found = []
            if self.acked:
                self.check_acked(found)
            return found
        obs = sim.observe(n)
        if obs is None:                     # crashed: its memory is gone
            self.changed[n] = BOOTED
            self.leading.pop(n, None)       # a restart from disk may lead the same view again
            self.k_seen[n] = None
            return self.check_kept(sim, None)
        dirty = self.changed[n]
        if dirty == BOOTED:
            self.k_seen[n] = None
        before = len(self.applied)
        found = super().after_event(sim, n, msg)
        if obs["status"] == "normal":
            k = obs["commit"]
            last = self.k_seen[n]
            if last is not None and k < last:
                found.append(self.violation("commit_monotonic", "viol.commit_monotonic", (n,), node=n, k=k,
                                            last=last))
            self.k_seen[n] = k
        applied = self.applied
        for i in range(before, len(applied)):
            e = applied[i]
            key = (e[2], e[3])
            if key in self.executed_keys:
                found.append(self.violation("at_most_once", "viol.at_most_once", (n,), client=e[2], s=e[3],
                                            index=i + 1))
            else:
                self.executed_keys.add(key)
        if dirty:
            found += self.check_kept(sim, obs["log"])
        return found

    def check_kept(self, sim, log):
        """Does some replica still hold the newest committed op? (By log matching, whoever
        holds it holds every committed op before it.) `log`: the acting replica's log, which
        settles it at once when it holds the op."""
        i = len(self.applied)
        if i == 0:
            return []
        entry = self.applied[i - 1]
        if log is not None and len(log) >= i and log[i - 1] == entry:
            return []
        for r in self.replicas:
            obs = sim.observe(r)
            held = obs["log"] if obs is not None else (sim.disk[r].get("log") or ())
            if len(held) >= i and held[i - 1] == entry:
                return []
        return [self.violation("committed_kept", "viol.committed_kept", self.replicas, index=i,
                               entry=entry_text(entry))]
