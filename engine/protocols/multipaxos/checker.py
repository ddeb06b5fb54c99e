"""Multi-Paxos's invariants: engine.kit.log_safety's replicated-log properties,
fitted to a log of slots that may have holes and leaders that are ballots, and
per-slot agreement computed from the votes, as in single-decree Paxos.

What is kept from kit.log_safety, with a ballot ("2.n1") as the term:

  election_safety       at most one leader per ballot (ballots are [round, id],
                        so this holds by construction unless a ballot is reused)
  leader_append_only    a leader never changes a slot it holds: once phase 1
                        is done it only fills new slots
  leader_completeness   a leader, once phase 1 is done, holds the command of
                        every slot applied anywhere (compared by command: it
                        proposes them again at its own ballot)
  state_machine_safety  no two nodes apply different commands in a slot
                        (compared by command, for the same reason)
  acked_committed       a client told "ok" for (slot, command) was told the
                        truth: that command is applied in that slot

What is replaced, and why:

  log_matching  -> one_value_per_ballot. Raft's Log Matching (same index and
                   term => same prefix) does not hold in Multi-Paxos: slots are
                   decided independently, so two logs can agree at slot 5 and
                   differ at slot 4 (a hole here, a value there; or the same
                   command accepted at two ballots). What holds per slot is
                   Paxos's "one value per ballot": every log that holds slot s
                   at ballot b holds the same command there.
  one_vote_per_term -> promise_monotonic. There are no votes for candidates;
                   the acceptor's promise on disk must never go down (an
                   acceptor that forgets a promise can accept an older ballot).
  committed_electable -> left out. It is Raft's election rule (a node wins only
                   with a log at least as up to date as a majority's); a
                   Multi-Paxos leader may start with an empty log and learns
                   what it lacks in phase 1, so the rule does not apply.

And Paxos's own, from the history of votes (every acceptance an acceptor
reports with ctx.observe("accepted", slot, ballot, cmd): the 2b it sends, or
the leader's vote for its own proposal, which no message carries):

  chosen_agreement      a command is chosen in slot s when a majority voted for
                        it at one ballot; at most one command is ever chosen per
                        slot, so a chosen command never changes
  learned_chosen        a node applies in slot s only the command chosen there

Like every checker it reads only what nodes report (observe(), facts) and the
engine-owned disk.
"""

from __future__ import annotations

from ...kit.log_safety import LogSafetyChecker
from ...kit.quorum import majority
from ...kit.strings import distinct
from .node import LEADER, ballot_text, cmd_text, entry_text


class MultiPaxosChecker(LogSafetyChecker):
    LEADER = LEADER
    ONE_VOTE = False
    invariants = ("election_safety", "leader_append_only", "one_value_per_ballot", "leader_completeness",
                  "promise_monotonic", "chosen_agreement", "learned_chosen", "state_machine_safety",
                  "acked_committed")
    VIOLATIONS = {
        "two_leaders": ("election_safety", "viol.election_safety"),
        "leader_changed_log": ("leader_append_only", "viol.leader_append_only"),
        "logs_differ": ("one_value_per_ballot", "viol.one_value_per_ballot"),
        "leader_incomplete": ("leader_completeness", "viol.leader_completeness"),
        "applied_other": ("state_machine_safety", "viol.state_machine_safety"),
        "applied_other_again": ("state_machine_safety", "viol.state_machine_safety.again"),
        "acked_uncommitted": ("acked_committed", "viol.acked_committed"),
        "promise_lowered": ("promise_monotonic", "viol.promise_monotonic"),
        "two_chosen": ("chosen_agreement", "viol.chosen_agreement"),
        "learned_unchosen": ("learned_chosen", "viol.learned_chosen"),
        "learned_other": ("learned_chosen", "viol.learned_chosen.other"),
    }
    entry_text = staticmethod(entry_text)

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.quorum = majority(len(node_ids))
        self.votes = {}          # (slot, ballot) -> {acceptor: command}
        self.chosen = {}         # slot -> (command, ballot text) first chosen there
        self.new_votes = []      # (acceptor, slot, ballot, command) reported during this event
        self.promised = {}       # node -> its promise last seen on disk
        self.learned = ()        # the acting node's applied entries (observe()["applied"])

    # ------------------------------------------------------------ observing

    def observe(self, node_id, fact, args):
        if fact == "accepted":
            self.new_votes.append((node_id, args["slot"], tuple(args["ballot"]), args["cmd"]))
        else:
            super().observe(node_id, fact, args)

    def acked_entry(self, op, result):
        """(slot, command) of a put the reply says is done."""
        if isinstance(result, dict) and result.get("ok") is True:
            return result["slot"], result["cmd"]
        return None

    def after_event(self, sim, n, msg):
        found = []
        if self.new_votes:
            self.count_votes(found)
        obs = sim.observe(n) if n is not None else None
        self.learned = obs["applied"] if obs is not None else ()
        found += super().after_event(sim, n, msg)
        if obs is not None:
            p = sim.disk[n]["promised"]
            before = self.promised.get(n)
            if before is not None and p < before:
                found.append(self.v("promise_lowered", (n,), node=n, before=ballot_text(before),
                                    after=ballot_text(p)))
            self.promised[n] = p
        return found

    # ------------------------------------------------------------ Paxos, per slot

    def count_votes(self, found):
        """Tally the votes of this event; a majority at one ballot chooses a command."""
        for node, slot, ballot, cmd in self.new_votes:
            voters = self.votes.setdefault((slot, ballot), {})
            if node in voters:
                continue
            voters[node] = cmd
            if len(voters) != self.quorum:
                continue
            first = self.chosen.get(slot)
            if first is None:
                self.chosen[slot] = (cmd, ballot_text(ballot))
            elif first[0] != cmd:
                found.append(self.v("two_chosen", distinct(*voters), slot=slot, first=cmd_text(first[0]),
                                    first_ballot=first[1], second=cmd_text(cmd), ballot=ballot_text(ballot)))
        self.new_votes = []

    # ------------------------------------------------------------ the kit's properties, fitted

    def check_log(self, n, log, dirty, found):
        """One value per ballot: slot s at ballot b holds one command in every log."""
        entry_at = self.entry_at
        for i in range(dirty, len(log) + 1):
            e = log[i - 1]
            if e is None:
                continue
            key = (i, tuple(e[0]))
            rec = entry_at.get(key)
            if rec is None:
                entry_at[key] = (e[1], n)
            elif rec[0] != e[1]:
                found.append(self.v("logs_differ", distinct(rec[1], n), node=n, other=rec[1], index=i,
                                    term=ballot_text(e[0])))
                return

    def check_completeness(self, n, term, log, found):
        """Leader Completeness by command: the new leader holds every applied command."""
        for i, e in enumerate(self.applied):
            mine = log[i] if i < len(log) else None
            if mine is None or mine[1] != e[1]:
                found.append(self.v("leader_incomplete", distinct(n, self.applied_by[i]), node=n, term=term,
                                    index=i + 1, entry=self.entry_text(e), applier=self.applied_by[i]))
                return

    def check_applied(self, n, log, last_applied, found):
        """State Machine Safety (by command) and learned_chosen, for the slots applied since last time.
        `log` is the acceptor's; what the learner applied is observe()["applied"]."""
        seen = self.seen_applied[n]
        self.seen_applied[n] = last_applied
        if last_applied < seen:   # a restarted node learns and applies again from slot 1
            return
        learned = self.learned
        applied = self.applied
        for i in range(seen + 1, min(last_applied, len(learned)) + 1):
            e = learned[i - 1]
            chosen = self.chosen.get(i)
            if chosen is None:
                found.append(self.v("learned_unchosen", (n,), node=n, slot=i, cmd=cmd_text(e[1])))
            elif chosen[0] != e[1]:
                found.append(self.v("learned_other", (n,), node=n, slot=i, cmd=cmd_text(e[1]),
                                    chosen=cmd_text(chosen[0])))
            if i <= len(applied):
                if applied[i - 1][1] != e[1]:
                    who = self.applied_by[i - 1]
                    if who == n:
                        found.append(self.v("applied_other_again", (n,), node=n, entry=self.entry_text(e),
                                            index=i, other_entry=self.entry_text(applied[i - 1])))
                    else:
                        found.append(self.v("applied_other", (who, n), node=n, entry=self.entry_text(e),
                                            index=i, other=who, other_entry=self.entry_text(applied[i - 1])))
                    return
            else:
                applied.append(e)
                self.applied_by.append(n)

    def check_electable(self, sim, found):
        """Raft's election rule has no Multi-Paxos counterpart (see the module docstring)."""

    def check_acked(self, found):
        applied = self.applied
        for node, slot, cmd in self.acked:
            if slot > len(applied) or applied[slot - 1][1] != cmd:
                found.append(self.v("acked_uncommitted", (node,), node=node, slot=slot, cmd=cmd_text(cmd)))
        self.acked = []
