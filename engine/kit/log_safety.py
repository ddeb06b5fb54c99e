"""Replicated-log safety, checked from what the nodes report.

For any protocol that replicates a log of entries under leaders numbered by
a term (Raft's term, a Multi-Paxos ballot, a ZAB epoch, a VR view; "term"
below), the properties of the Raft paper's Figure 3 (dissertation Figure 3.2):

  election_safety       at most one leader can be elected in a given term
  leader_append_only    a leader never overwrites or deletes entries in its
                        log; it only appends
  log_matching          if two logs contain an entry with the same index and
                        term, the logs are identical in all entries up
                        through that index
  leader_completeness   a newly elected leader's log contains every
                        committed entry
  state_machine_safety  if a server has applied a log entry at a given index,
                        no other server ever applies a different entry there
  acked_committed       a client told its write succeeded (ctx.reply with
                        {"ok": True, "index": i, "term": t}) was told the
                        truth: entry i of term t is committed by the end of
                        the event that answered (a protocol whose replies
                        say it otherwise overrides `acked_entry`)

and two lemmas they rest on, checked because they fail first and so make a
bug visible in a short run:

  one_vote_per_term     a server votes for at most one candidate in a term
                        (without it two leaders can share a term); a protocol
                        without votes sets ONE_VOTE = False and leaves it out
                        of its invariants
  committed_electable   no server whose log lacks a committed entry is at
                        least as up to date as a majority (itself included),
                        so no future leader can erase the entry: Leader
                        Completeness, checked before the election that
                        would break it

"Committed" means applied by some node: nodes apply an entry as soon as they
learn it is committed.

What the checker reads (never a node's attributes)
--------------------------------------------------

Node.observe() of the node whose handler ran (through sim.observe):

  role          its role now (the leader's role is the class attribute LEADER)
  term          its current term (ballot, epoch, view): an int
  voted_for     the node it voted for in `term`, or None (read only when
                ONE_VOTE)
  log           its log, a list of [term, command] entries; index i
                (1-based) is log[i - 1]. The node's own list will do: the
                checker only reads it, and only the part that changed
  last_applied  entries 1..last_applied are applied to its state machine;
                a restarted node starts again from 0 and re-applies

Facts reported with ctx.observe during the handler:

  "log_changed", index=i   the log changed from index i on (an append, an
                           overwrite or a truncation). Report every change;
                           the checker keeps the lowest index and judges
                           the log from there once the handler is done

A node that boots (first start or restart) is read from index 1: its whole
log is new to the checker, no report needed.

The engine-owned disk: sim.disk[n][DISK_LOG], every node's durable log (a
crashed node's too), for committed_electable. And the clients' replies
(Checker.on_reply), for acked_committed.

Cost: after each event the checker looks at the node that acted, O(1) unless
its log changed (the changed suffix), it applied entries (those entries), it
became leader (the committed prefix, once a term) or the committed prefix
grew (every node's last entry).

A protocol subclasses LogSafetyChecker (its strings come from the simulator), sets the
class attributes below (LEADER, ONE_VOTE, DISK_LOG, invariants, VIOLATIONS),
and may override the hooks `entry_text` (how an entry reads in a message)
and `last_key` (which of two logs is more up to date). It adds invariants of
its own by extending after_event (super() returns the list of what it found)
or on_quiet. Its strings must hold the keys VIOLATIONS names, with these
placeholders:

  viol.election_safety           {term} {first} {node}
  viol.leader_append_only        {node} {term} {index}
  viol.log_matching              {node} {other} {index} {term}
  viol.leader_completeness       {node} {term} {index} {entry} {applier}
  viol.one_vote_per_term         {node} {first} {vote} {term}
  viol.committed_electable       {index} {entry} {node} {voters}
  viol.state_machine_safety      {node} {entry} {index} {other} {other_entry}
  viol.state_machine_safety.again  {node} {entry} {index} {other_entry}
                                 (the same node applied something else there
                                 before a restart)
"""

from __future__ import annotations

from ..protocol import Checker
from .strings import distinct

BOOTED = -1


class LogSafetyChecker(Checker):
    LEADER = "leader"                 # the role that leads a term
    ONE_VOTE = True                   # one vote per node per term (a voting protocol)
    DISK_LOG = "log"                  # where a node's durable log lives on its disk
    invariants = ("election_safety", "leader_append_only", "log_matching", "leader_completeness",
                  "one_vote_per_term", "committed_electable", "state_machine_safety", "acked_committed")
    # What is found -> (invariant, strings key of its message).
    VIOLATIONS = {
        "two_leaders": ("election_safety", "viol.election_safety"),
        "leader_changed_log": ("leader_append_only", "viol.leader_append_only"),
        "logs_differ": ("log_matching", "viol.log_matching"),
        "leader_incomplete": ("leader_completeness", "viol.leader_completeness"),
        "voted_twice": ("one_vote_per_term", "viol.one_vote_per_term"),
        "committed_erasable": ("committed_electable", "viol.committed_electable"),
        "applied_other": ("state_machine_safety", "viol.state_machine_safety"),
        "applied_other_again": ("state_machine_safety", "viol.state_machine_safety.again"),
        "acked_uncommitted": ("acked_committed", "viol.acked_committed"),
    }

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        # Per node: the lowest log index reported changed during this event, 0 = none,
        # BOOTED = the node has booted since the checker last looked: all of its log is news.
        self.changed = {n: BOOTED for n in node_ids}
        self.leader_role = self.LEADER   # read once: after_event runs for every event
        self.one_vote = self.ONE_VOTE
        self.leader_of = {}        # term -> first node seen leading it
        self.leading = {}          # node -> [term, log length last seen] while it leads
        self.applied = []          # applied[i - 1] = entry first applied at index i, by anyone
        self.applied_by = []       # ... and who applied it first
        self.seen_applied = {n: 0 for n in node_ids}
        self.vote_of = {n: {} for n in node_ids}   # node -> term -> the candidate it voted for
        # Log Matching, inductively: an entry (index, term) must always come
        # with the same command and the same term at index - 1; then any two
        # logs sharing (index, term) share everything before it.
        self.entry_at = {}         # (index, term) -> (command, previous term, node)
        self.acked = []            # (node, index, term) told to clients during this event

    # ------------------------------------------------------------ hooks

    def entry_text(self, entry) -> str:
        """An entry as a violation message shows it."""
        return f"{entry[0]}:{entry[1]}"

    def last_key(self, log) -> tuple:
        """How up to date a log is, as a key to compare: (last entry's term, length)."""
        return (log[-1][0], len(log)) if log else (0, 0)

    def acked_entry(self, op, result) -> tuple[int, int] | None:
        """(index, term) of the write a successful reply acknowledges, or None."""
        if isinstance(result, dict) and result.get("ok") and "index" in result and "term" in result:
            return result["index"], result["term"]
        return None

    def v(self, what, nodes, **args):
        invariant, key = self.VIOLATIONS[what]
        return self.violation(invariant, key, nodes, **args)

    # ------------------------------------------------------------ observing

    def observe(self, node_id, fact, args):
        if fact == "log_changed":
            i = args["index"]
            d = self.changed[node_id]
            if not d or i < d:        # (BOOTED, below every index, stays)
                self.changed[node_id] = i

    def on_reply(self, sim, node_id, op, result):
        entry = self.acked_entry(op, result)
        if entry is not None:      # judged after the event, once what it applied is counted
            self.acked.append((node_id, *entry))

    def after_event(self, sim, n, msg):
        if n is None:
            return []
        obs = sim.observe(n)
        if obs is None:           # crashed: nothing to look at until it boots again
            self.changed[n] = BOOTED
            return []
        dirty = self.changed[n]
        if dirty:
            self.changed[n] = 0
            if dirty == BOOTED:
                dirty = 1 if obs["log"] else 0
        found = []
        term = obs["term"]
        if obs["role"] == self.leader_role:
            lead = self.leading.get(n)
            if dirty or lead is None or lead[0] != term:    # else: leading as before, log unchanged
                self.check_leader(n, term, obs["log"], dirty, lead, found)
        elif n in self.leading:
            del self.leading[n]
        if dirty:
            self.check_log(n, obs["log"], dirty, found)
        if self.one_vote:
            vote = obs["voted_for"]
            if vote is not None:
                votes = self.vote_of[n]
                first = votes.get(term)
                if first is None:
                    votes[term] = vote
                elif first != vote:
                    found.append(self.v("voted_twice", distinct(n, first, vote),
                                        node=n, first=first, vote=vote, term=term))
        last_applied = obs["last_applied"]
        if last_applied != self.seen_applied[n]:
            k = len(self.applied)
            self.check_applied(n, obs["log"], last_applied, found)
            if len(self.applied) > k:
                self.check_electable(sim, found)
        if self.acked:
            self.check_acked(found)
        return found

    def check_acked(self, found):
        applied = self.applied
        for node, index, term in self.acked:
            if index > len(applied) or applied[index - 1][0] != term:
                found.append(self.v("acked_uncommitted", (node,), node=node, index=index, term=term))
        self.acked = []

    # ------------------------------------------------------------ the properties

    def check_leader(self, n, term, log, dirty, lead, found):
        """Election Safety and Leader Completeness when it starts leading (`lead` is None or
        of an older term), Leader Append-Only while it leads ([term, log length last seen])."""
        first = self.leader_of.get(term)
        if first is None:
            self.leader_of[term] = n
            self.leading[n] = [term, len(log)]
            self.check_completeness(n, term, log, found)
            return
        if first != n:
            found.append(self.v("two_leaders", distinct(first, n), term=term, first=first, node=n))
        if lead is None or lead[0] != term:
            self.leading[n] = [term, len(log)]
            return
        if dirty and dirty <= lead[1]:
            found.append(self.v("leader_changed_log", (n,), node=n, term=term, index=dirty))
        lead[1] = len(log)

    def check_completeness(self, n, term, log, found):
        applied = self.applied
        for i, e in enumerate(applied):
            if i >= len(log) or log[i] != e:
                found.append(self.v("leader_incomplete", distinct(n, self.applied_by[i]), node=n, term=term,
                                    index=i + 1, entry=self.entry_text(e), applier=self.applied_by[i]))
                return

    def check_log(self, n, log, dirty, found):
        """Log Matching for the entries from index `dirty` on."""
        entry_at = self.entry_at
        prev_term = log[dirty - 2][0] if dirty > 1 else 0
        for i in range(dirty, len(log) + 1):
            e = log[i - 1]
            key = (i, e[0])
            rec = entry_at.get(key)
            if rec is None:
                entry_at[key] = (e[1], prev_term, n)
            elif rec[0] != e[1] or rec[1] != prev_term:
                found.append(self.v("logs_differ", distinct(rec[2], n), node=n, other=rec[2], index=i, term=e[0]))
                return
            prev_term = e[0]

    def check_applied(self, n, log, last_applied, found):
        """State Machine Safety for the entries applied since last time; extends the committed prefix."""
        seen = self.seen_applied[n]
        self.seen_applied[n] = last_applied
        if last_applied < seen:   # a restarted node applies again from the start
            return
        applied = self.applied
        for i in range(seen + 1, min(last_applied, len(log)) + 1):
            e = log[i - 1]
            if i <= len(applied):
                if applied[i - 1] != e:
                    who = self.applied_by[i - 1]
                    if who == n:     # the same node, before a restart, applied something else here
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
        """The newest committed entry must be safe from every log that lacks it.

        A server can win an election only with votes from servers whose logs
        are no more up to date than its own. If a server lacking a committed
        entry is at least as up to date as a majority (itself included), a
        future leader could erase that entry: Leader Completeness is already
        lost, even if that election never happens.
        """
        i = len(self.applied)
        entry = self.applied[i - 1]
        ids = self.node_ids
        logs = {n: sim.disk[n].get(self.DISK_LOG) or () for n in ids}
        lasts = {n: self.last_key(log) for n, log in logs.items()}
        for n in ids:
            log = logs[n]
            if len(log) >= i and log[i - 1] == entry:
                continue
            mine = lasts[n]
            voters = [v for v in ids if lasts[v] <= mine]
            if len(voters) * 2 > len(ids):
                found.append(self.v("committed_erasable", distinct(n, self.applied_by[i - 1]),
                                    index=i, entry=self.entry_text(entry), node=n, voters=", ".join(voters)))
                return
