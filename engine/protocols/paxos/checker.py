"""Single-decree Paxos's safety invariants (Paxos.tla's Consistency and the acceptor
invariants its proof rests on), from the messages sent and what acceptors report.

  at_most_one_chosen     a value is chosen at ballot b when a majority of distinct acceptors
                         sent 2b for b with that value; at most one value is ever chosen.
                         Judged from every 2b sent (Checker.on_send), never from what the
                         learners believe: a learner that missed messages cannot hide it
  one_value_per_ballot   no two 2a or 2b messages carry the same ballot and different values
  max_bal_monotonic      an acceptor's maxBal never decreases, across crashes and restarts
                         (a promise, once given, is kept)
  max_vbal_le_max_bal    an acceptor never voted at a ballot above its promise

Why not engine.kit.log_safety: it judges a replicated log under elected leaders (one
leader per term, logs that match, entries applied by state machines). Single-decree
Paxos has no log, no leader election and nothing applied: one slot, chosen by a vote
count that no single node sees. What is chosen is a fact about the 2b history, so it
is checked here from the messages themselves.
"""

from __future__ import annotations

from ...kit.quorum import majority
from ...kit.strings import distinct
from ...protocol import Checker
from .node import ACCEPTOR, acceptor_ids, bkey, btext


class PaxosChecker(Checker):
    invariants = ("at_most_one_chosen", "one_value_per_ballot", "max_bal_monotonic", "max_vbal_le_max_bal")

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.acceptors = acceptor_ids(node_ids)
        self.acceptor_set = frozenset(self.acceptors)
        self.majority = majority(len(self.acceptors))
        self.ballot_value = {}    # ballot text -> (value, kind and sender of the first message carrying it)
        self.votes = {}           # ballot text -> {acceptor: value}, from every 2b sent
        self.chosen = {}          # value -> (ballot text, acceptors), the first ballot it was chosen at
        self.max_bal = {}         # acceptor -> the highest maxBal it has reported (kept across crashes)

    def on_send(self, sim, msg):
        if msg.kind not in ("2a", "2b"):
            return None
        b = msg.body
        bal, val = btext(b["bal"]), b["val"]
        found = []
        first = self.ballot_value.get(bal)
        if first is None:
            self.ballot_value[bal] = (val, msg.kind, msg.src)
        elif first[0] != val:
            found.append(self.violation("one_value_per_ballot", "viol.one_value_per_ballot", distinct(first[2], msg.src),
                                        bal=bal, val=str(val), other=str(first[0])))
        if msg.kind == "2b":
            votes = self.votes.setdefault(bal, {})
            votes[b["acc"]] = val
            voters = [a for a, v in votes.items() if v == val]
            if len(voters) >= self.majority and val not in self.chosen:
                for other, (obal, oaccs) in self.chosen.items():
                    found.append(self.violation("at_most_one_chosen", "viol.at_most_one_chosen",
                                                distinct(*oaccs, *voters), val=str(val), bal=bal,
                                                first=str(other), first_bal=obal))
                    break
                self.chosen[val] = (bal, voters)
        return found

    def after_event(self, sim, node_id, msg):
        if node_id not in self.acceptor_set:
            return []
        o = sim.observe(node_id)
        if o is None or o.get("role") != ACCEPTOR:
            return []
        found = []
        now = o["maxBal"]
        was = self.max_bal.get(node_id)
        if bkey(now) < bkey(was):
            found.append(self.violation("max_bal_monotonic", "viol.max_bal_monotonic", (node_id,),
                                        node=node_id, was=btext(was), now=btext(now)))
        if bkey(now) > bkey(was):
            self.max_bal[node_id] = now
        if bkey(o["maxVBal"]) > bkey(now):
            found.append(self.violation("max_vbal_le_max_bal", "viol.max_vbal_le_max_bal", (node_id,),
                                        node=node_id, vbal=btext(o["maxVBal"]), bal=btext(now)))
        return found
