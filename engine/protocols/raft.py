"""Raft (Ongaro & Ousterhout), as in /work/shared/protocols/consensus.md section 2.

Read it next to Figure 2 of the paper ("In Search of an Understandable
Consensus Algorithm") or chapter 3 of Ongaro's dissertation. Every node is
a sans-I/O state machine in the etcd-io/raft style: one entry point
(`on_message`) does the checks common to every role, then a handler named
after the message does the per-role work.

    RequestVote        {term, lastLogTerm, lastLogIndex}
    RequestVoteReply   {term, voteGranted}
    AppendEntries      {term, prevLogIndex, prevLogTerm, entries, commitIndex}
    AppendEntriesReply {term, success, matchIndex}
                       + on failure {rejectIndex, hint}: the prevLogIndex that
                       failed and the index the follower suggests trying next
                       (the dissertation's "first index of the conflicting
                       term" optimisation; etcd calls it the reject hint)

A log entry is [term, command]; the command is a client's "key=value" string,
or None for the no-op a new leader appends. Index i (1-based, as in the
paper) is log[i - 1].

What is durable (node.disk, survives a crash) and what is volatile:
  disk    term, votedFor, log. The log list *is* disk["log"]: appending to it
          is the durable write. Each is written before any message that
          depends on it is sent (persist before send).
  memory  role, leader, commitIndex, lastApplied, kv (the state machine,
          rebuilt by re-applying entries as commitIndex advances again),
          votes, nextIndex, matchIndex, pending client requests.

Timers (a person may force either):
  election   follower/candidate: randomized in [T, T + T*spread/100), spread
             100 gives the paper's [T, 2T); firing starts an election
  heartbeat  leader: AppendEntries to every follower (with any entries it
             lacks); candidate: ask again the peers that have not answered
             (an RPC retry, as raft.tla allows)

Bug toggles (each breaks one rule; a preset shows what follows):
  volatile_vote        votedFor is not written to disk
  count_old_term       a leader commits older-term entries by counting replicas
                       (and so skips the no-op; the paper's Figure 8)
  no_up_to_date_check  a vote ignores how up to date the candidate's log is

Translation keys in `strings` (each {"en": ..., "zh": ...}):
  summary                       the one-line summary
  preset.<name>, preset.<name>.lesson
  bug.<name>, inv.<name>, field.<name>, role.<name>, op.<name>,
  param.<name>, timer.<name>, msg.<kind>   names shown in menus and the inspector
  field.<name>.help, param.<name>.help, op.<name>.help, op.<name>.arg
                                tooltips and the request box's placeholder
  raft.<event>                  narration emitted with ctx.note; "{arg}" is
                                filled from the note's args

Narration marks what a student should notice, not every step: besides elections,
votes and commits, the moments of the paper's Figure 8 are told wherever they
happen (a follower receiving older-term entries not yet committed, a leader
seeing its last inherited entry on a majority yet not committing it, an entry of
its own term committing the older ones with it, a follower deleting entries and
why that is safe). The node's told_* attributes only remember what was said, so
a moment is told once; the protocol never reads them.
"""

from __future__ import annotations

from ..protocol import Bug, Checker, Field, Node, Operation, Param, Preset, Protocol, Violation

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"
LOG_VIEW = 40   # a view shows at most the last LOG_VIEW entries (field logStart says where they begin)


def _distinct(*nodes) -> tuple:
    """Node ids for a Violation, each once, in order."""
    return tuple(dict.fromkeys(nodes))


def _violation(invariant: str, key: str, nodes, **args) -> Violation:
    """A violation whose English message is STRINGS[key]["en"] filled with args,
    so the page can show the same text translated (key and args travel along)."""
    return Violation(invariant, STRINGS[key]["en"].format(**args), tuple(nodes), key=key, args=args)


def entry_text(entry) -> str:
    """Compact rendering of a log entry: "term:command" ("3:x=1", "2:noop")."""
    cmd = entry[1]
    return f"{entry[0]}:{'noop' if cmd is None else cmd}"


def entries_text(entries, most=3) -> str:
    """Several entries for narration: "1:x=2, 3:noop" (the first `most`, then "…")."""
    shown = ", ".join(entry_text(e) for e in entries[:most])
    return shown + ", …" if len(entries) > most else shown


def command_text(entry) -> str:
    """An entry's command for narration: "x=2", or "noop" for a new leader's no-op."""
    return "noop" if entry[1] is None else entry[1]


class RaftNode(Node):
    role = FOLLOWER

    # ------------------------------------------------------------ boot

    def on_start(self, ctx):
        disk = self.disk
        disk.setdefault("term", 0)
        disk.setdefault("votedFor", None)
        disk.setdefault("log", [])
        self.boot(ctx)

    def on_recover(self, ctx):
        """After a crash: term, vote and log come back from disk; everything else starts over."""
        self.boot(ctx)
        ctx.note("raft.recovered", term=self.term, entries=len(self.log))

    def boot(self, ctx):
        p = self.params
        self.timeout_base = p["election_timeout"]
        self.timeout_width = p["election_timeout"] * p["election_spread"] // 100
        self.heartbeat = p["heartbeat"]
        self.max_entries = p["max_entries"]
        self.majority = len(self.node_ids) // 2 + 1
        bugs = self.bugs
        self.bug_volatile_vote = "volatile_vote" in bugs
        self.bug_count_old_term = "count_old_term" in bugs
        self.bug_no_up_to_date = "no_up_to_date_check" in bugs
        # Durable state, read back from disk.
        disk = self.disk
        self.term = disk["term"]
        self.voted_for = disk.get("votedFor")
        self.log = disk["log"]
        # Volatile state.
        self.role = FOLLOWER
        self.leader = None
        self.commit_index = 0
        self.last_applied = 0
        self.kv = {}
        self.votes = {}          # candidate: peer -> granted?
        self.next_index = {}     # leader: peer -> next index to send
        self.match_index = {}    # leader: peer -> highest index known replicated there
        self.pending = {}        # index -> (op, term) of a client request waiting to be applied
        # Narration memory (what has been said, so a moment is told once; never read by the protocol):
        self.inherited = 0             # leader: its log's length when elected (the older-term entries)
        self.told_old_term = (0, 0)    # leader: (index, replicas) last narrated of its last inherited
                                       # entry stored on a majority yet not committed
        self.told_inherited = 0        # follower: the last term in which it narrated appending
                                       # older-term entries not known to be committed
        # Observer hook for the checker (not protocol state): lowest log index
        # changed since the checker last looked, 0 = unchanged.
        self.log_dirty = 1 if self.log else 0
        self._log_view = None    # cached view renderings, rebuilt only on change
        self._kv_view = {}
        self.reset_election_timer(ctx)

    # ------------------------------------------------------------ durable writes

    def save_term_and_vote(self, ctx, term, voted_for):
        """currentTerm and votedFor go to disk before any message that depends on them."""
        self.term = term
        self.voted_for = voted_for
        if self.bug_volatile_vote:
            ctx.persist(term=term)    # BUG: the vote lives only in memory; a crash forgets it
        else:
            ctx.persist(term=term, votedFor=voted_for)

    def log_changed(self, index):
        """The log changed from `index` on (the change itself is already on disk)."""
        if not self.log_dirty or index < self.log_dirty:
            self.log_dirty = index
        self._log_view = None

    def last_log(self):
        """(lastLogIndex, lastLogTerm)."""
        log = self.log
        return (len(log), log[-1][0]) if log else (0, 0)

    # ------------------------------------------------------------ timers

    def reset_election_timer(self, ctx):
        width = self.timeout_width
        ctx.set_timer("election", self.timeout_base + (ctx.rng.randrange(width) if width > 0 else 0))

    def on_timer(self, ctx, name):
        if name == "election":
            if self.role != LEADER:
                self.start_election(ctx)
        elif name == "heartbeat":
            if self.role == LEADER:
                for p in self.peers:
                    self.send_append_entries(ctx, p)
                ctx.set_timer("heartbeat", self.heartbeat)
            elif self.role == CANDIDATE:
                for p in self.peers:
                    if p not in self.votes:
                        self.send_request_vote(ctx, p)
                ctx.set_timer("heartbeat", self.heartbeat)

    # ------------------------------------------------------------ role changes

    def become_follower(self, ctx, term, leader):
        """Adopt `term` (clearing the vote if it is new) and follow `leader` (None = unknown)."""
        was = self.role
        if term != self.term:
            self.save_term_and_vote(ctx, term, None)
        self.role = FOLLOWER
        self.leader = leader
        if was != FOLLOWER:
            ctx.cancel_timer("heartbeat")
            self.votes = {}
            self.next_index = {}
            self.match_index = {}
            if was == LEADER:
                self.reset_election_timer(ctx)   # a leader has no election timer running
                ctx.note("raft.deposed", term=term)
            else:
                ctx.note("raft.yield", term=term)

    def start_election(self, ctx):
        """Election timeout: a new term, a vote for myself (on disk first), then RequestVote."""
        self.save_term_and_vote(ctx, self.term + 1, self.id)
        self.role = CANDIDATE
        self.leader = None
        self.votes = {self.id: True}
        self.reset_election_timer(ctx)    # a split vote ends when this fires again
        ctx.note("raft.campaign", term=self.term)
        for p in self.peers:
            self.send_request_vote(ctx, p)
        ctx.set_timer("heartbeat", self.heartbeat)   # retry tick for peers that do not answer

    def become_leader(self, ctx):
        self.role = LEADER
        self.leader = self.id
        self.votes = {}
        ctx.cancel_timer("election")
        nxt = len(self.log) + 1
        self.next_index = {p: nxt for p in self.peers}
        self.match_index = {p: 0 for p in self.peers}
        self.inherited = len(self.log)
        self.told_old_term = (0, 0)
        ctx.note("raft.elected", term=self.term)
        # A no-op of the new term: entries of older terms can only be committed
        # indirectly, once an entry of the current term is (paper section 5.4.2),
        # so a new leader needs one of its own to commit what it inherited.
        # (The count_old_term bug thinks counting replicas is enough, so it
        # skips the no-op, exactly as in the paper's Figure 8.)
        if not self.bug_count_old_term:
            self.log.append([self.term, None])
            self.log_changed(len(self.log))
        for p in self.peers:
            self.send_append_entries(ctx, p)
        ctx.set_timer("heartbeat", self.heartbeat)

    # ------------------------------------------------------------ sending

    def send_request_vote(self, ctx, peer):
        last_index, last_term = self.last_log()
        ctx.send(peer, "RequestVote", term=self.term, lastLogTerm=last_term, lastLogIndex=last_index)

    def send_append_entries(self, ctx, peer):
        """Entries from nextIndex on (at most max_entries), with the entry just before them."""
        prev = self.next_index[peer] - 1
        log = self.log
        ctx.send(peer, "AppendEntries", term=self.term, prevLogIndex=prev,
                 prevLogTerm=log[prev - 1][0] if prev else 0,
                 entries=log[prev:prev + self.max_entries], commitIndex=self.commit_index)

    # ------------------------------------------------------------ receiving

    def on_message(self, ctx, msg):
        body = msg.body
        kind = msg.kind
        # Rule for every role: a higher term means I am out of date. Adopt it,
        # forget my vote, and follow (the leader of that term is not known yet).
        if body["term"] > self.term:
            self.become_follower(ctx, body["term"], None)
        if kind == "AppendEntries":
            self.handle_append_entries(ctx, msg.src, body)
        elif kind == "RequestVote":
            self.handle_request_vote(ctx, msg.src, body)
        # Replies count only in the term and role they were asked for; older
        # ones (delayed, duplicated) are dropped.
        elif body["term"] != self.term:
            return
        elif kind == "AppendEntriesReply" and self.role == LEADER:
            self.handle_append_entries_reply(ctx, msg.src, body)
        elif kind == "RequestVoteReply" and self.role == CANDIDATE:
            self.handle_request_vote_reply(ctx, msg.src, body)

    def handle_request_vote(self, ctx, src, b):
        if b["term"] < self.term:     # a stale candidate: my reply tells it the current term
            ctx.send(src, "RequestVoteReply", term=self.term, voteGranted=False)
            return
        # Same term. At most one vote per term, and only for a log at least as
        # up to date as mine (last term first, then length): that is what keeps
        # committed entries in every future leader's log.
        last_index, last_term = self.last_log()
        up_to_date = b["lastLogTerm"] > last_term or (b["lastLogTerm"] == last_term
                                                      and b["lastLogIndex"] >= last_index)
        if self.bug_no_up_to_date:
            up_to_date = True         # BUG: any log will do
        if self.voted_for not in (None, src):
            ctx.note("raft.refuse_voted", candidate=src, term=self.term, voted=self.voted_for)
            granted = False
        elif not up_to_date:
            ctx.note("raft.refuse_log", candidate=src, term=self.term, their_term=b["lastLogTerm"],
                     their_index=b["lastLogIndex"], my_term=last_term, my_index=last_index)
            granted = False
        else:
            if self.voted_for is None:
                self.save_term_and_vote(ctx, self.term, src)   # on disk before the reply leaves
                ctx.note("raft.vote", candidate=src, term=self.term)
            self.reset_election_timer(ctx)
            granted = True
        ctx.send(src, "RequestVoteReply", term=self.term, voteGranted=granted)

    def handle_request_vote_reply(self, ctx, src, b):
        """Candidate, same term: count votes; a majority (me included) makes me leader."""
        self.votes[src] = b["voteGranted"]
        granted = 0
        for ok in self.votes.values():
            if ok:
                granted += 1
        if granted >= self.majority:
            self.become_leader(ctx)

    def handle_append_entries(self, ctx, src, b):
        prev = b["prevLogIndex"]
        if b["term"] < self.term:     # a deposed leader: my reply tells it the current term
            ctx.send(src, "AppendEntriesReply", term=self.term, success=False, matchIndex=0,
                     rejectIndex=prev, hint=0)
            return
        if self.role == LEADER:
            return                    # two leaders in one term: impossible unless a bug is on
        if self.role == CANDIDATE:
            self.become_follower(ctx, self.term, src)   # someone else won this term
        if self.leader != src:
            self.leader = src
            ctx.note("raft.follow", leader=src, term=self.term)
        self.reset_election_timer(ctx)
        log = self.log
        last = len(log)
        # Consistency check: do I hold the entry just before the new ones?
        if prev > last:
            self.reject_append(ctx, src, prev, last + 1)
            return
        if prev and log[prev - 1][0] != b["prevLogTerm"]:
            # Hint: the first index of my conflicting term, so the leader skips
            # the whole term in one round trip instead of one entry per round.
            bad = log[prev - 1][0]
            first = prev
            while first > 1 and log[first - 2][0] == bad:
                first -= 1
            self.reject_append(ctx, src, prev, first)
            return
        # Skip the entries I already have; on the first real conflict (same
        # index, different term) delete my entry and everything after it.
        # Never truncate on a mere match: a delayed, shorter AppendEntries must
        # not erase entries a newer one already delivered.
        entries = b["entries"]
        n = len(entries)
        j = 0
        while j < n and prev + j < last and log[prev + j][0] == entries[j][0]:
            j += 1
        if j < n:
            at = prev + j               # 0-based position of the first new entry
            if at < last:
                # Narration: which entries are lost, and why that is safe (a leader
                # holds every committed entry, so one that conflicts with its log
                # was never committed) unless a bug toggle has broken that rule.
                lost = entries_text(log[at:])
                if self.bugs:
                    ctx.note("raft.truncate.unsafe", index=at + 1, count=last - at, entries=lost)
                else:
                    ctx.note("raft.truncate", index=at + 1, count=last - at, entries=lost)
            elif self.told_inherited != b["term"]:
                # Narration, once per term: the leader passes on entries of an older
                # term that it does not know to be committed (Figure 8's moment; a
                # routine catch-up on committed entries is not told).
                k = max(j, b["commitIndex"] - prev)     # the first new entry above its commit index
                if k < n and entries[k][0] < b["term"]:
                    self.told_inherited = b["term"]
                    older = [e for e in entries[k:] if e[0] < b["term"]]
                    ctx.note("raft.accept_old", index=prev + k + 1, entries=entries_text(older), leader=src,
                             term=b["term"])
            if at < last:
                del log[at:]
            log.extend(entries[j:])     # the log is on disk: durable before the reply
            self.log_changed(at + 1)
        last_new = prev + n
        # Commit what the leader has committed, but only up to the last entry
        # this message proved I share with the leader.
        if b["commitIndex"] > self.commit_index:
            c = min(b["commitIndex"], last_new)
            if c > self.commit_index:
                self.commit_index = c
                self.apply(ctx)
        ctx.send(src, "AppendEntriesReply", term=self.term, success=True, matchIndex=last_new)

    def reject_append(self, ctx, src, prev, hint):
        ctx.note("raft.mismatch", index=prev, leader=src)
        ctx.send(src, "AppendEntriesReply", term=self.term, success=False, matchIndex=0,
                 rejectIndex=prev, hint=hint)

    def handle_append_entries_reply(self, ctx, src, b):
        """Leader, same term: advance or back off this follower's progress."""
        if b["success"]:
            m = b["matchIndex"]
            if m > self.match_index[src]:     # ignore duplicates and reordered older replies
                self.match_index[src] = m
                if m >= self.next_index[src]:
                    self.next_index[src] = m + 1
                self.advance_commit_index(ctx)
                if self.next_index[src] <= len(self.log):
                    self.send_append_entries(ctx, src)   # more to send (max_entries per message)
        elif b["rejectIndex"] == self.next_index[src] - 1:   # an answer to my latest probe
            self.next_index[src] = max(self.match_index[src] + 1, min(b["rejectIndex"], b["hint"]))
            self.send_append_entries(ctx, src)

    def advance_commit_index(self, ctx):
        """The largest N stored on a majority whose entry is of my current term."""
        matches = sorted(self.match_index.values(), reverse=True)
        n = matches[self.majority - 2]        # I hold every entry myself: majority - 1 peers suffice
        if n <= self.commit_index:
            return
        log = self.log
        entry = log[n - 1]
        if entry[0] != self.term and not self.bug_count_old_term:
            # An older-term entry on a majority can still be overwritten (Figure 8).
            if n == self.inherited:
                self.tell_old_term_majority(ctx, n, entry)
            return
        old = self.commit_index
        self.commit_index = n
        ctx.note("raft.commit", index=n, term=self.term)
        if entry[0] != self.term:       # only with the count_old_term bug
            if n == self.inherited:     # told for the last inherited entry, as without the bug
                ctx.note("raft.commit_by_count", index=n, cmd=command_text(entry), entry_term=entry[0],
                         term=self.term, count=self.replicas(n), n=len(self.node_ids))
        else:
            # Older-term commands committed along with this entry of my term (at most
            # once a term: after that the commit index is past every older entry).
            i = n - 1
            while i > old and (log[i - 1][0] == self.term or log[i - 1][1] is None):
                i -= 1
            if i > old and log[i - 1][0] != self.term:
                ctx.note("raft.commit_carries", index=i, cmd=command_text(log[i - 1]),
                         entry_term=log[i - 1][0], term=self.term)
        self.apply(ctx)

    def replicas(self, index):
        """How many logs (mine included) the leader knows hold entry `index`."""
        count = 1
        for m in self.match_index.values():
            if m >= index:
                count += 1
        return count

    def tell_old_term_majority(self, ctx, n, entry):
        """Narration: my last inherited entry (n, of an older term) is on a majority, yet I may
        not commit it. Told when it first reaches a majority, then as more logs store it."""
        told = (n, self.replicas(n))
        if told <= self.told_old_term:
            return
        first = told[0] != self.told_old_term[0]
        self.told_old_term = told
        args = {"index": n, "cmd": command_text(entry), "entry_term": entry[0], "term": self.term,
                "count": told[1], "n": len(self.node_ids)}
        if first:
            ctx.note("raft.old_term_majority", **args)
        else:
            ctx.note("raft.old_term_majority.more", **args)

    def apply(self, ctx):
        """Apply committed entries in order to the key-value state machine; answer waiting clients."""
        log = self.log
        while self.last_applied < self.commit_index:
            i = self.last_applied + 1
            self.last_applied = i
            entry = log[i - 1]
            cmd = entry[1]
            if cmd is not None:
                key, _, value = cmd.partition("=")
                self.kv[key] = value
                self._kv_view = None
            if self.pending:
                req = self.pending.pop(i, None)
                if req is not None:
                    op, term = req
                    if entry[0] == term:
                        ctx.reply(op, {"ok": True, "index": i, "term": term})
                    else:   # my entry was overwritten by a later leader's
                        ctx.reply(op, {"ok": False, "error": "overwritten", "index": i})

    # ------------------------------------------------------------ clients

    def on_request(self, ctx, op, arg):
        if op != "put":
            return
        if self.role != LEADER:
            if self.leader is not None:
                ctx.note("raft.redirect", leader=self.leader)
                ctx.reply(op, {"ok": False, "redirect": self.leader})
            else:
                ctx.note("raft.no_leader")
                ctx.reply(op, {"ok": False, "error": "no leader"})
            return
        key, sep, _ = (arg or "").partition("=")
        if not sep or not key:
            ctx.note("raft.bad_request", arg=arg or "")
            ctx.reply(op, {"ok": False, "error": "expected key=value"})
            return
        self.log.append([self.term, arg])      # on disk before AppendEntries goes out
        index = len(self.log)
        self.log_changed(index)
        self.pending[index] = (op, self.term)   # replied to when applied
        ctx.note("raft.accept", index=index, cmd=arg, term=self.term)
        for p in self.peers:
            self.send_append_entries(ctx, p)

    # ------------------------------------------------------------ view

    def view(self):
        lv = self._log_view
        if lv is None:
            log = self.log
            start = max(0, len(log) - LOG_VIEW)
            lv = self._log_view = ([entry_text(e) for e in log[start:]], start + 1)
        kvv = self._kv_view
        if kvv is None:
            kvv = self._kv_view = dict(self.kv)
        v = {"role": self.role, "term": self.term, "votedFor": self.voted_for, "log": lv[0],
             "logStart": lv[1], "commitIndex": self.commit_index, "leader": self.leader, "kv": kvv}
        if self.role == LEADER:
            v["matchIndex"] = dict(self.match_index)
            v["nextIndex"] = dict(self.next_index)
        elif self.role == CANDIDATE:
            v["votes"] = [n for n, ok in self.votes.items() if ok]
        # The line under the node on the canvas (translated by the page).
        if self.role == CANDIDATE:
            v["label"] = ["raft.label.candidate", {"term": self.term, "votes": len(v["votes"]),
                                                   "n": len(self.node_ids)}]
        else:
            v["label"] = ["raft.label", {"term": self.term, "log": len(self.log), "commit": self.commit_index}]
        return v


# ---------------------------------------------------------------- invariants

class RaftChecker(Checker):
    """Raft's safety properties (dissertation Figure 3.2), checked incrementally.

    Each event looks only at the node that acted: its role and term (Election
    Safety, Leader Completeness at the moment it becomes leader), its vote, the
    log entries it changed (Log Matching, Leader Append-Only) and the entries
    it applied (State Machine Safety). "Committed" means applied by some node:
    nodes apply an entry as soon as they learn it is committed.

    Two lemmas the five properties rest on are checked too, because they fail
    first and so make a bug visible in a short run: one vote per server per
    term (without it two leaders can share a term), and "every committed entry
    is on a majority whose logs are more up to date than any log that lacks
    it" (without it a later leader can erase the entry; checked when the
    committed prefix grows, against every node's disk).
    """

    invariants = (
        ("election_safety", "At most one leader can be elected in a given term."),
        ("leader_append_only", "A leader never overwrites or deletes entries in its log; it only appends."),
        ("log_matching", ("If two logs contain an entry with the same index and term, the logs are "
                          "identical in all entries up through that index.")),
        ("leader_completeness", "A newly elected leader's log contains every committed entry."),
        ("one_vote_per_term", "A server votes for at most one candidate in a term (Election Safety rests on it)."),
        ("committed_electable", ("No server whose log lacks a committed entry is at least as up to date as a "
                                 "majority, so no future leader can erase it (Leader Completeness, checked "
                                 "before the election that would break it).")),
        ("state_machine_safety", ("If a server has applied a log entry at a given index, no other server "
                                  "ever applies a different log entry for the same index.")),
        ("converges", ("Eventually (all nodes up, network healed, long enough after the last action, timeouts "
                       "randomized wider than a round trip): one leader, followed by every node in its term, and "
                       "every node has committed what the leader has.")),
    )

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.leader_of = {}        # term -> first node seen leading it
        self.leading = {}          # node -> [term, log length last seen] while it leads
        self.applied = []          # applied[i - 1] = entry first applied at index i, by anyone
        self.applied_by = []       # ... and who applied it first
        self.seen_applied = {n: 0 for n in node_ids}
        self.vote_of = {}          # (node, term) -> the candidate it voted for
        # Log Matching, inductively: an entry (index, term) must always come
        # with the same command and the same term at index - 1; then any two
        # logs sharing (index, term) share everything before it.
        self.entry_at = {}         # (index, term) -> (command, previous term, node)

    def after_event(self, sim, n, msg):
        if n is None:
            return []
        node = sim.nodes[n]
        if node is None:          # crashed: nothing to look at
            return []
        found = []
        dirty = node.log_dirty
        if node.role == LEADER:
            self.check_leader(node, n, dirty, found)
        elif n in self.leading:
            del self.leading[n]
        if dirty:
            node.log_dirty = 0
            self.check_log(node, n, dirty, found)
        vote = node.voted_for
        if vote is not None:
            key = (n, node.term)
            first = self.vote_of.get(key)
            if first is None:
                self.vote_of[key] = vote
            elif first != vote:
                found.append(_violation("one_vote_per_term", "viol.one_vote_per_term", _distinct(n, first, vote),
                                        node=n, first=first, vote=vote, term=node.term))
        if node.last_applied != self.seen_applied[n]:
            k = len(self.applied)
            self.check_applied(node, n, found)
            if len(self.applied) > k:
                self.check_electable(sim, found)
        return found

    def settle_time(self, sim) -> int | None:
        """How long after the last action a stable, caught-up cluster may be expected, or
        None when it may not: timeouts too close together can split the vote forever."""
        p = self.params
        hi = sim.network.latency[1]
        width = p["election_timeout"] * p["election_spread"] // 100
        if sim.network.loss > 0 or width <= 2 * hi:
            return None
        longest = max(len(sim.disk[n].get("log") or ()) for n in self.node_ids)
        catch_up = (longest // p["max_entries"] + 1) * 2 * hi     # one round trip per AppendEntries batch
        return 20 * (p["election_timeout"] + width) + catch_up + 4 * p["heartbeat"]

    def on_quiet(self, sim):
        settle = self.settle_time(sim)
        if settle is None or sim.until - (sim.last_action_at or 0) < settle:
            return []
        nodes = {n: sim.nodes[n] for n in self.node_ids}
        leaders = [n for n, node in nodes.items() if node.role == LEADER]
        top = max(node.term for node in nodes.values())
        leader = next((n for n in leaders if nodes[n].term == top), None)
        if leader is None:
            return [_violation("converges", "viol.converges.no_leader", self.node_ids, term=top, ms=settle)]
        lead = nodes[leader]
        behind = [n for n, node in nodes.items()
                  if n != leader and (node.term != top or node.leader != leader
                                      or node.commit_index != lead.commit_index)]
        if behind:
            n = behind[0]
            return [_violation("converges", "viol.converges.behind", (n, leader), node=n, leader=leader,
                               term=nodes[n].term, index=nodes[n].commit_index, lead=lead.commit_index)]
        return []

    def check_leader(self, node, n, dirty, found):
        term = node.term
        first = self.leader_of.get(term)
        if first is None:
            self.leader_of[term] = n
            self.leading[n] = [term, len(node.log)]
            self.check_completeness(node, n, found)
            return
        if first != n:
            found.append(_violation("election_safety", "viol.election_safety", _distinct(first, n),
                                    term=term, first=first, node=n))
        lead = self.leading.get(n)
        if lead is None or lead[0] != term:
            self.leading[n] = [term, len(node.log)]
            return
        if dirty and dirty <= lead[1]:
            found.append(_violation("leader_append_only", "viol.leader_append_only", (n,),
                                    node=n, term=term, index=dirty))
        lead[1] = len(node.log)

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
        lasts = {}
        for n in ids:
            log = sim.disk[n].get("log") or ()
            lasts[n] = (log[-1][0], len(log)) if log else (0, 0)
        for n in ids:
            log = sim.disk[n].get("log") or ()
            if len(log) >= i and log[i - 1] == entry:
                continue
            mine = lasts[n]
            voters = [v for v in ids if lasts[v] <= mine]
            if len(voters) * 2 > len(ids):
                found.append(_violation(
                    "committed_electable", "viol.committed_electable", _distinct(n, self.applied_by[i - 1]),
                    index=i, entry=entry_text(entry), node=n, voters=", ".join(voters)))
                return

    def check_completeness(self, node, n, found):
        log = node.log
        applied = self.applied
        for i, e in enumerate(applied):
            if i >= len(log) or log[i] != e:
                found.append(_violation(
                    "leader_completeness", "viol.leader_completeness", _distinct(n, self.applied_by[i]),
                    node=n, term=node.term, index=i + 1, entry=entry_text(e), applier=self.applied_by[i]))
                return

    def check_log(self, node, n, dirty, found):
        log = node.log
        entry_at = self.entry_at
        prev_term = log[dirty - 2][0] if dirty > 1 else 0
        for i in range(dirty, len(log) + 1):
            e = log[i - 1]
            key = (i, e[0])
            rec = entry_at.get(key)
            if rec is None:
                entry_at[key] = (e[1], prev_term, n)
            elif rec[0] != e[1] or rec[1] != prev_term:
                found.append(_violation("log_matching", "viol.log_matching", _distinct(rec[2], n),
                                        node=n, other=rec[2], index=i, term=e[0]))
                return
            prev_term = e[0]

    def check_applied(self, node, n, found):
        la = node.last_applied
        seen = self.seen_applied[n]
        self.seen_applied[n] = la
        if la < seen:             # a restarted node applies again from the start
            return
        log = node.log
        applied = self.applied
        for i in range(seen + 1, min(la, len(log)) + 1):
            e = log[i - 1]
            if i <= len(applied):
                if applied[i - 1] != e:
                    who = self.applied_by[i - 1]
                    if who == n:     # the same node, before a restart, applied something else here
                        found.append(_violation(
                            "state_machine_safety", "viol.state_machine_safety.again", (n,),
                            node=n, entry=entry_text(e), index=i, other_entry=entry_text(applied[i - 1])))
                    else:
                        found.append(_violation(
                            "state_machine_safety", "viol.state_machine_safety", (who, n), node=n,
                            entry=entry_text(e), index=i, other=who, other_entry=entry_text(applied[i - 1])))
                    return
            else:
                applied.append(e)
                self.applied_by.append(n)


# ---------------------------------------------------------------- presets
#
# Scripted presets use "timeout" actions (force a node's election timer) and
# partitions to decide who wins each election, with a long election timeout
# so nothing happens on its own and a fixed 20 ms latency so the script is
# easy to follow: a request arrives 20 ms after it is sent, its reply 20 ms
# later. The other presets are plain seeded runs; their action times were
# read off the deterministic trace (`python -m engine run --protocol raft
# --preset NAME`).

def _put(at, node, arg):
    return {"at": at, "do": "request", "node": node, "op": "put", "arg": arg}


def _timeout(at, node):
    return {"at": at, "do": "timeout", "node": node, "timer": "election"}


def _partition(at, *groups):
    return {"at": at, "do": "partition", "groups": [list(g) for g in groups]}


def _do(at, do, node=None):
    return {"at": at, "do": do, "node": node} if node else {"at": at, "do": do}


SCRIPTED = {"params": {"election_timeout": 2000}, "network": {"latency": [20, 20]}}

# The paper's Figure 8, with n1..n5 for S1..S5 and terms 1, 2, 3, 4 for its 2, 3, 4, 5.
FIGURE8 = [
    _timeout(10, "n1"),                                   # n1 leads term 1
    _put(200, "n1", "x=1"),                               # committed everywhere
    _partition(400, ("n1", "n2"), ("n3", "n4", "n5")),
    _put(410, "n1", "x=2"),                               # (a) x=2 (index 3) reaches n2 only
    _do(500, "crash", "n1"),
    _timeout(510, "n5"),                                  # (b) n5 wins term 2 with n3, n4 ...
    _partition(560, ("n5",), ("n1", "n2", "n3", "n4")),   # ... and is cut off at once
    _put(600, "n5", "x=3"),                               # an entry only n5 holds
    _do(700, "crash", "n5"),
    _do(800, "restart", "n1"),
    _timeout(810, "n1"),                                  # term 2: n3, n4 already voted
    _timeout(900, "n1"),                                  # (c) term 3: n1 wins and sends x=2 on
]
# (d) x=2 is on n1..n4 at t=1020, but n1 is cut off and crashes before its term-3
# no-op spreads (one entry per AppendEntries keeps the two apart): n5 can still win.
FIGURE8_OVERWRITE = FIGURE8 + [
    _partition(1021, ("n1",), ("n2", "n3", "n4", "n5")),
    _do(1022, "crash", "n1"),
    _do(1056, "restart", "n5"),
    _timeout(1061, "n5"),                                 # term 3: everyone voted for n1
    _timeout(1121, "n5"),                                 # term 4: n3, n4 vote; x=3 overwrites x=2
    _do(1400, "heal"),
    _do(1500, "restart", "n1"),
]
# (e) n1's no-op travels with x=2 and reaches a majority before n1 crashes.
FIGURE8_COMMIT = FIGURE8 + [
    _do(1100, "crash", "n1"),
    _do(1105, "heal"),
    _do(1110, "restart", "n5"),
    _timeout(1120, "n5"),                                 # can n5 win now?
    _timeout(1400, "n2"),
    _do(1500, "restart", "n1"),
]

PRESETS = (
    Preset("first_election", "First election",
           "Every node starts as a follower; randomized timeouts let one candidate win a majority for "
           "term 1, and its heartbeats keep everyone else a follower: one leader, one term.",
           {"seed": 1, "until": 1500}),
    Preset("replication", "Replicating a write",
           "The leader appends a put to its log, sends it in AppendEntries, commits it once a majority "
           "stores it, and every node then applies it; a follower redirects the client to the leader.",
           {"seed": 1, "until": 1500,
            "actions": [_put(400, "n2", "x=1"), _put(500, "n4", "y=2"), _put(600, "n2", "y=2")]}),
    Preset("leader_crash", "Leader crash and re-election",
           "When the leader crashes its heartbeats stop; a follower times out, wins term 2 and carries on "
           "with every committed entry; the old leader restarts as a follower and catches up.",
           {"seed": 1, "until": 2500,
            "actions": [_put(400, "n2", "x=1"), _do(800, "crash", "n2"), _put(1300, "n1", "y=2"),
                        _put(1400, "n3", "y=3"), _do(1800, "restart", "n2")]}),
    Preset("split_vote", "Split vote",
           "With four nodes and a narrow timeout range, candidates start together and split the votes, so a "
           "term passes with no leader; the random timeouts spread them apart and a later term elects one.",
           {"seed": 6, "nodes": 4, "until": 1500, "params": {"election_spread": 20}}),
    Preset("partitioned_leader", "Partitioned old leader",
           "A leader cut off in a minority still accepts writes but can never commit them; the majority "
           "elects a new leader, and after the partition heals the old leader steps down and its "
           "uncommitted entries are overwritten.",
           {"seed": 1, "until": 2500,
            "actions": [_put(500, "n2", "x=1"), _partition(600, ("n1", "n2"), ("n3", "n4", "n5")),
                        _put(700, "n2", "x=2"), _put(750, "n2", "y=2"), _put(1000, "n3", "x=3"),
                        _do(1400, "heal")]}),
    Preset("figure8", "Figure 8: an old entry on a majority",
           "An entry from an older term is not safe just because a majority stores it: n1, leader of term 3, "
           "has x=2 (from term 1) on four of five logs but does not commit it, and when n1 crashes before its own "
           "no-op spreads, n5, whose log ends in term 2, wins term 4 and overwrites x=2. That is correct: x=2 "
           "was never committed, and no client was told it was.",
           {**SCRIPTED, "params": {**SCRIPTED["params"], "max_entries": 1}, "until": 2000,
            "actions": FIGURE8_OVERWRITE}),
    Preset("figure8_commit", "Figure 8: committed with the leader's entry",
           "The other ending: n1's term-3 no-op reaches a majority together with x=2, which commits both; n5's "
           "log is now less up to date than a majority's, so n5 can never win and x=2 is safe.",
           {**SCRIPTED, "until": 2000, "actions": FIGURE8_COMMIT}),
    Preset("figure8_bug", "Figure 8 with the old-term bug",
           "The same run as Figure 8, but counting replicas: n1 commits x=2 as soon as a majority stores it and "
           "applies it; then n5 is elected and overwrites it, so two nodes apply different entries at the same "
           "index.",
           {**SCRIPTED, "params": {**SCRIPTED["params"], "max_entries": 1}, "until": 2000,
            "actions": FIGURE8_OVERWRITE, "bugs": ["count_old_term"]}),
    Preset("volatile_vote", "Forgotten vote: two leaders",
           "n2 votes for n1 and crashes; its vote was never written to disk, so after the restart it votes "
           "for n3 in the same term: n1 and n3 both lead term 1 and accept different entries at one index.",
           {**SCRIPTED, "nodes": 3, "until": 800, "bugs": ["volatile_vote"],
            "actions": [_partition(0, ("n1", "n2"), ("n3",)), _timeout(20, "n1"), _timeout(20, "n3"),
                        _partition(61, ("n1",), ("n2", "n3")), _do(62, "crash", "n2"),
                        _do(63, "restart", "n2"), _put(150, "n1", "x=1"), _put(160, "n3", "x=2"),
                        _do(300, "heal")]}),
    Preset("no_up_to_date_check", "Votes without the log check",
           "x=1 is committed on n1 and n2; with the up-to-date check gone, n3, which never saw it, wins "
           "n2's vote, becomes leader and erases the committed entry.",
           {**SCRIPTED, "nodes": 3, "until": 1500, "bugs": ["no_up_to_date_check"],
            "actions": [_timeout(10, "n1"), _partition(200, ("n1", "n2"), ("n3",)), _put(210, "n1", "x=1"),
                        _do(400, "crash", "n1"), _do(410, "heal"), _timeout(420, "n3"), _timeout(600, "n2"),
                        _do(800, "restart", "n1")]}),
)


# ---------------------------------------------------------------- translations

LESSONS = {p.name: p.lesson for p in PRESETS}

STRINGS = {
    "summary": {
        "en": "Leader-based consensus: randomized elections pick one leader per term, which replicates a log "
              "that is committed once a majority stores it.",
        "zh": "基于领导者的共识：随机化选举为每个任期选出一个领导者，由它复制日志，多数节点存下后即提交。"},
    # roles
    "role.follower": {"en": "follower", "zh": "跟随者"},
    "role.candidate": {"en": "candidate", "zh": "候选人"},
    "role.leader": {"en": "leader", "zh": "领导者"},
    # inspector fields
    "field.role": {"en": "role", "zh": "角色"},
    "field.term": {"en": "current term", "zh": "当前任期"},
    "field.votedFor": {"en": "voted for", "zh": "投票给"},
    "field.log": {"en": "log (term:command)", "zh": "日志（任期：命令）"},
    "field.logStart": {"en": "first index shown", "zh": "显示的第一个索引"},
    "field.commitIndex": {"en": "commit index", "zh": "提交索引"},
    "field.leader": {"en": "known leader", "zh": "已知领导者"},
    "field.kv": {"en": "state machine (key-value)", "zh": "状态机（键值）"},
    "field.votes": {"en": "votes received", "zh": "已获选票"},
    "field.matchIndex": {"en": "match index per follower", "zh": "各跟随者的匹配索引"},
    "field.nextIndex": {"en": "next index per follower", "zh": "各跟随者的下一个索引"},
    # tooltips: what each inspector field, parameter and request means
    "field.term.help": {"en": "currentTerm: the newest term this node has seen", "zh": "currentTerm：此节点见过的最新任期"},
    "field.votedFor.help": {"en": "the candidate this node voted for in its current term",
                            "zh": "此节点在当前任期投票给的候选人"},
    "field.log.help": {"en": "entries as term:command, the last 40 at most", "zh": "以“任期：命令”形式显示的条目，最多显示最后 40 条"},
    "field.logStart.help": {"en": "index of the first entry shown", "zh": "显示的第一个条目的索引"},
    "field.commitIndex.help": {"en": "highest entry known to be committed", "zh": "已知已提交的最高条目"},
    "field.leader.help": {"en": "leader of the current term, if known", "zh": "当前任期的领导者（如果已知）"},
    "field.kv.help": {"en": "the state machine: committed puts applied in order", "zh": "状态机：按顺序应用的已提交写入"},
    "field.votes.help": {"en": "candidate: votes received", "zh": "候选人：已获得的选票"},
    "field.matchIndex.help": {"en": "leader: highest entry known to be stored on each follower",
                              "zh": "领导者：已知每个跟随者存下的最高条目"},
    "field.nextIndex.help": {"en": "leader: next entry to send to each follower", "zh": "领导者：下一个要发给每个跟随者的条目"},
    "param.election_timeout.help": {
        "en": "T in ms: election timeouts are drawn from [T, T + T*spread/100)",
        "zh": "T（毫秒）：选举超时从 [T, T + T*spread/100) 中随机抽取"},
    "param.election_spread.help": {
        "en": "width of the random timeout range, % of T (100: [T, 2T); 0: no randomness)",
        "zh": "随机超时范围的宽度，占 T 的百分比（100：[T, 2T)；0：不随机）"},
    "param.heartbeat.help": {"en": "ms between a leader's AppendEntries rounds (and a candidate's retries)",
                             "zh": "领导者两轮 AppendEntries 之间（以及候选人重试之间）的毫秒数"},
    "param.max_entries.help": {"en": "at most this many entries in one AppendEntries (etcd: MaxSizePerMsg)",
                               "zh": "一条 AppendEntries 最多携带的条目数（etcd：MaxSizePerMsg）"},
    "op.put.help": {"en": "write key=value through the leader (a follower redirects you to it)",
                    "zh": "通过领导者写入 key=value（跟随者会把你重定向到领导者）"},
    "op.put.arg": {"en": "key=value", "zh": "键=值"},
    # client operations, timers, parameters, messages
    "op.put": {"en": "put key=value", "zh": "写入 key=value"},
    "timer.election": {"en": "election timeout", "zh": "选举超时"},
    "timer.heartbeat": {"en": "heartbeat", "zh": "心跳"},
    "param.election_timeout": {"en": "election timeout T (ms)", "zh": "选举超时 T（毫秒）"},
    "param.election_spread": {"en": "timeout spread (% of T)", "zh": "超时随机范围（T 的百分比）"},
    "param.heartbeat": {"en": "heartbeat interval (ms)", "zh": "心跳间隔（毫秒）"},
    "param.max_entries": {"en": "entries per AppendEntries", "zh": "每条 AppendEntries 的条目数"},
    "msg.RequestVote": {"en": "RequestVote", "zh": "请求投票"},
    "msg.RequestVoteReply": {"en": "RequestVote reply", "zh": "投票回复"},
    "msg.AppendEntries": {"en": "AppendEntries", "zh": "追加条目"},
    "msg.AppendEntriesReply": {"en": "AppendEntries reply", "zh": "追加条目回复"},
    # bug toggles
    "bug.volatile_vote": {
        "en": "votedFor is kept only in memory: after a restart a node can vote twice in one term",
        "zh": "votedFor 只保存在内存中：节点重启后可能在同一任期投两次票"},
    "bug.count_old_term": {
        "en": "a leader commits entries of older terms by counting replicas, and so appends no no-op when "
              "elected (Figure 8)",
        "zh": "领导者通过统计副本数提交旧任期的条目，因而当选时也不追加空操作条目（图 8）"},
    "bug.no_up_to_date_check": {
        "en": "votes are granted without checking that the candidate's log is up to date",
        "zh": "投票时不检查候选人的日志是否足够新"},
    # invariants
    "inv.election_safety": {"en": "Election Safety: at most one leader per term",
                            "zh": "选举安全：每个任期至多一个领导者"},
    "inv.leader_append_only": {"en": "Leader Append-Only: a leader never overwrites or deletes its entries",
                               "zh": "领导者只追加：领导者从不覆盖或删除自己的日志条目"},
    "inv.log_matching": {"en": "Log Matching: same index and term means identical logs up to there",
                         "zh": "日志匹配：索引和任期相同的条目之前的日志完全相同"},
    "inv.leader_completeness": {"en": "Leader Completeness: a new leader holds every committed entry",
                                "zh": "领导者完整性：新领导者拥有所有已提交的条目"},
    "inv.one_vote_per_term": {"en": "One vote per term: a server votes for at most one candidate in a term",
                              "zh": "每任期一票：服务器在一个任期内至多投票给一个候选人"},
    "inv.committed_electable": {
        "en": "Committed entries are safe: no log lacking one is up to date enough to win an election",
        "zh": "已提交条目安全：缺少它的日志都不足以赢得选举"},
    "inv.converges": {
        "en": "Eventually, after the faults stop: one leader, every node follows it and has committed what it has",
        "zh": "故障停止后最终：只有一个领导者，所有节点都跟随它，并且提交了它已提交的全部条目"},
    "inv.state_machine_safety": {"en": "State Machine Safety: every node applies the same entry at each index",
                                 "zh": "状态机安全：所有节点在同一索引应用相同的条目"},
    # presets
    "preset.first_election": {"en": "First election", "zh": "第一次选举"},
    "preset.first_election.lesson": {
        "en": LESSONS["first_election"],
        "zh": "所有节点都从跟随者开始；随机化的超时让一个候选人赢得任期 1 的多数票，它的心跳让其他节点保持为跟随者："
              "一个任期，一个领导者。"},
    "preset.replication": {"en": "Replicating a write", "zh": "复制一次写入"},
    "preset.replication.lesson": {
        "en": LESSONS["replication"],
        "zh": "领导者把写入追加到日志，通过 AppendEntries 发送，多数节点存下后提交，随后每个节点都应用它；"
              "跟随者会把客户端重定向到领导者。"},
    "preset.leader_crash": {"en": "Leader crash and re-election", "zh": "领导者崩溃与重新选举"},
    "preset.leader_crash.lesson": {
        "en": LESSONS["leader_crash"],
        "zh": "领导者崩溃后心跳停止；一个跟随者超时并赢得任期 2，带着所有已提交的条目继续工作；"
              "旧领导者重启后成为跟随者并追上进度。"},
    "preset.split_vote": {"en": "Split vote", "zh": "选票分裂"},
    "preset.split_vote.lesson": {
        "en": LESSONS["split_vote"],
        "zh": "四个节点、超时范围很窄时，候选人几乎同时出现并瓜分选票，一个任期没有领导者；"
              "随机超时把它们错开，之后的任期选出了领导者。"},
    "preset.partitioned_leader": {"en": "Partitioned old leader", "zh": "被分区的旧领导者"},
    "preset.partitioned_leader.lesson": {
        "en": LESSONS["partitioned_leader"],
        "zh": "被隔离在少数派中的领导者仍接受写入，但永远无法提交；多数派选出新领导者，"
              "分区恢复后旧领导者退位，它未提交的条目被覆盖。"},
    "preset.figure8": {"en": "Figure 8: an old entry on a majority", "zh": "图 8：多数派上的旧任期条目"},
    "preset.figure8.lesson": {
        "en": LESSONS["figure8"],
        "zh": "旧任期的条目即使已存于多数节点也不一定安全：任期 3 的领导者 n1 已把 x=2（来自任期 1）复制到五个日志中的四个，"
              "却并不提交它；n1 在自己的空操作条目扩散之前崩溃，日志以任期 2 结尾的 n5 赢得任期 4 并覆盖了 x=2。"
              "这是正确的：x=2 从未被提交，也没有客户端被告知它已提交。"},
    "preset.figure8_commit": {"en": "Figure 8: committed with the leader's entry",
                              "zh": "图 8：随领导者的条目一起提交"},
    "preset.figure8_commit.lesson": {
        "en": LESSONS["figure8_commit"],
        "zh": "另一种结局：n1 任期 3 的空操作条目连同 x=2 一起到达多数节点，两者同时提交；此后 n5 的日志不如多数节点新，"
              "再也无法当选，x=2 从此安全。"},
    "preset.figure8_bug": {"en": "Figure 8 with the old-term bug", "zh": "图 8：旧任期计数缺陷"},
    "preset.figure8_bug.lesson": {
        "en": LESSONS["figure8_bug"],
        "zh": "与图 8 相同的过程，但按副本数提交：多数节点一存下 x=2，n1 就提交并应用了它；随后 n5 当选并覆盖了它，"
              "于是两个节点在同一索引应用了不同的条目。"},
    "preset.volatile_vote": {"en": "Forgotten vote: two leaders", "zh": "遗忘的投票：两个领导者"},
    "preset.volatile_vote.lesson": {
        "en": LESSONS["volatile_vote"],
        "zh": "n2 投票给 n1 后崩溃；它的选票从未写入磁盘，所以重启后又在同一任期投票给 n3："
              "n1 和 n3 都成为任期 1 的领导者，并在同一索引接受了不同的条目。"},
    "preset.no_up_to_date_check": {"en": "Votes without the log check", "zh": "不检查日志的投票"},
    "preset.no_up_to_date_check.lesson": {
        "en": LESSONS["no_up_to_date_check"],
        "zh": "x=1 已在 n1 和 n2 上提交；去掉日志新旧检查后，从未见过它的 n3 得到 n2 的选票，"
              "成为领导者并抹掉了已提交的条目。"},
    "preset.free": {"en": "Free play: the nodes elect a leader on their own. Click a node to send it a put, crash "
                          "it or force its election timeout; cut the network and watch Raft recover.",
                    "zh": "自由演练：节点会自行选出领导者。点击节点可以向它发送写入、让它崩溃或强制选举超时；"
                          "切断网络，观察 Raft 如何恢复。"},
    # the canvas label under each node
    # "commit 3/5": 3 of the 5 entries in its log are known committed (what matters first if cut short).
    "raft.label": {"en": "term {term} · commit {commit}/{log}", "zh": "任期 {term} · 提交 {commit}/{log}"},
    "raft.label.candidate": {"en": "term {term} · votes {votes}/{n}", "zh": "任期 {term} · 得票 {votes}/{n}"},
    # narration (ctx.note keys)
    "raft.campaign": {"en": "election timeout: starts an election for term {term}",
                      "zh": "选举超时：发起任期 {term} 的选举"},
    "raft.vote": {"en": "votes for {candidate} in term {term}", "zh": "在任期 {term} 投票给 {candidate}"},
    "raft.refuse_voted": {"en": "refuses {candidate}: already voted for {voted} in term {term}",
                          "zh": "拒绝 {candidate}：任期 {term} 已投票给 {voted}"},
    "raft.refuse_log": {
        "en": "refuses {candidate} in term {term}: its log ends at term {their_term}, index {their_index}, "
              "less up to date than mine (term {my_term}, index {my_index})",
        "zh": "在任期 {term} 拒绝 {candidate}：它的日志末尾是任期 {their_term}、索引 {their_index}，"
              "不如我的新（任期 {my_term}、索引 {my_index}）"},
    "raft.elected": {"en": "wins a majority: leader of term {term}", "zh": "获得多数票：成为任期 {term} 的领导者"},
    "raft.deposed": {"en": "sees term {term} and steps down to follower", "zh": "看到任期 {term}，退为跟随者"},
    "raft.yield": {"en": "gives up its candidacy: term {term} has a leader or a newer term",
                   "zh": "放弃竞选：任期 {term} 已有领导者或出现更新的任期"},
    "raft.follow": {"en": "follows {leader} in term {term}", "zh": "在任期 {term} 跟随 {leader}"},
    "raft.mismatch": {"en": "rejects AppendEntries from {leader}: no matching entry at index {index}",
                      "zh": "拒绝 {leader} 的 AppendEntries：索引 {index} 处没有匹配的条目"},
    "raft.truncate": {
        "en": "its log conflicts with the leader's from index {index} on: deletes {entries}. Safe: a leader holds "
              "every committed entry, so these were never committed and no client was told they were",
        "zh": "自索引 {index} 起与领导者的日志冲突：删除 {entries}。这是安全的：领导者拥有所有已提交的条目，"
              "所以这些条目从未提交，也没有客户端被告知它们已提交"},
    "raft.truncate.unsafe": {
        "en": "its log conflicts with the leader's from index {index} on: deletes {entries}. Correct Raft deletes "
              "only entries that were never committed, but with a bug toggle on, a committed one can be lost",
        "zh": "自索引 {index} 起与领导者的日志冲突：删除 {entries}。正确的 Raft 只会删除从未提交的条目，"
              "但开启缺陷开关后，已提交的条目也可能丢失"},
    "raft.accept_old": {
        "en": "appends {entries} from index {index}: entries of an older term, passed on by {leader} (leader of "
              "term {term}) and not committed yet",
        "zh": "从索引 {index} 起追加 {entries}：这是旧任期的条目，由领导者 {leader}（任期 {term}）转发，尚未提交"},
    "raft.old_term_majority": {
        "en": "sees {cmd} (index {index}, term {entry_term}) on {count} of {n} logs, a majority, but does not "
              "commit it: a leader commits by counting replicas only entries of its own term ({term}); an "
              "older-term entry stored on a majority may still be overwritten (Figure 8)",
        "zh": "看到 {cmd}（索引 {index}，任期 {entry_term}）已存于 {n} 个日志中的 {count} 个，达到多数，但并不提交它："
              "领导者只按副本数提交自己任期（{term}）的条目；存于多数节点的旧任期条目仍可能被覆盖（图 8）"},
    "raft.old_term_majority.more": {
        "en": "sees {cmd} (index {index}) on {count} of {n} logs now, and still does not commit it: it is from "
              "term {entry_term}, older than its term {term}",
        "zh": "看到 {cmd}（索引 {index}）现已存于 {n} 个日志中的 {count} 个，仍不提交它：它来自任期 {entry_term}，"
              "比自己的任期 {term} 旧"},
    "raft.commit_carries": {
        "en": "an entry of its own term {term} is committed, so every entry before it is too, including {cmd} "
              "(index {index}) from older term {entry_term}",
        "zh": "自己任期 {term} 的条目已提交，它之前的所有条目也随之提交，包括来自旧任期 {entry_term} 的 {cmd}"
              "（索引 {index}）"},
    "raft.commit_by_count": {
        "en": "commits {cmd} (index {index}) because {count} of {n} logs hold it, though it is from older term "
              "{entry_term}, not its term {term}: the count_old_term bug. A later leader may still overwrite it",
        "zh": "因为 {n} 个日志中有 {count} 个存有 {cmd}（索引 {index}）就提交了它，尽管它来自旧任期 {entry_term}"
              "而不是自己的任期 {term}：这就是 count_old_term 缺陷。之后的领导者仍可能覆盖它"},
    "raft.accept": {"en": "appends {cmd} at index {index} (term {term})",
                    "zh": "在索引 {index} 追加 {cmd}（任期 {term}）"},
    "raft.commit": {"en": "commits up to index {index} (term {term})", "zh": "提交到索引 {index}（任期 {term}）"},
    "raft.redirect": {"en": "not the leader: redirects the client to {leader}",
                      "zh": "不是领导者：把客户端重定向到 {leader}"},
    "raft.no_leader": {"en": "no known leader: the client must retry", "zh": "没有已知的领导者：客户端需要重试"},
    "raft.bad_request": {"en": "rejects \"{arg}\": a put needs key=value", "zh": "拒绝 \"{arg}\"：写入需要 key=value"},
    "raft.recovered": {"en": "restarts from disk: term {term}, {entries} log entries; commit index back to 0",
                       "zh": "从磁盘重启：任期 {term}，{entries} 个日志条目；提交索引回到 0"},
    # Short names (page headings); the inv.* keys above are the full statements.
    "title": {"en": "Raft", "zh": "Raft"},
    "invariant.election_safety": {"en": "Election Safety", "zh": "选举安全"},
    "invariant.leader_append_only": {"en": "Leader Append-Only", "zh": "领导者只追加"},
    "invariant.log_matching": {"en": "Log Matching", "zh": "日志匹配"},
    "invariant.leader_completeness": {"en": "Leader Completeness", "zh": "领导者完整性"},
    "invariant.one_vote_per_term": {"en": "One vote per term", "zh": "每任期只投一票"},
    "invariant.committed_electable": {"en": "Committed entries survive elections", "zh": "已提交条目不会被选举抹去"},
    "invariant.state_machine_safety": {"en": "State Machine Safety", "zh": "状态机安全"},
    "invariant.converges": {"en": "Converges", "zh": "最终收敛"},
    # violation messages (Violation.key; the English text is the message itself)
    "viol.one_vote_per_term": {"en": "{node} voted for {first} and then for {vote} in term {term}",
                               "zh": "{node} 在任期 {term} 先投票给 {first}，后来又投票给 {vote}"},
    "viol.election_safety": {"en": "two leaders in term {term}: {first} and {node}",
                             "zh": "任期 {term} 出现两个领导者：{first} 和 {node}"},
    "viol.leader_append_only": {"en": "leader {node} of term {term} changed its own log at index {index}",
                                "zh": "任期 {term} 的领导者 {node} 改动了自己日志中索引 {index} 处的条目"},
    "viol.committed_electable": {
        "en": "entry {index} ({entry}) is committed, but {node}, whose log lacks it, is at least as up to date "
              "as a majority ({voters}): it could be elected and erase the entry",
        "zh": "条目 {index}（{entry}）已提交，但日志中缺少它的 {node} 至少与多数节点（{voters}）一样新："
              "它可能当选并抹掉这个条目"},
    "viol.leader_completeness": {
        "en": "{node} became leader of term {term} without committed entry {index} ({entry}, applied by {applier})",
        "zh": "{node} 成为任期 {term} 的领导者，却缺少已提交的条目 {index}（{entry}，{applier} 已应用）"},
    "viol.log_matching": {
        "en": "{node} and {other} both hold an entry at index {index} with term {term}, but their logs differ up to it",
        "zh": "{node} 和 {other} 在索引 {index} 处都有任期 {term} 的条目，但到此为止的日志并不相同"},
    "viol.converges.no_leader": {
        "en": "no leader in term {term}, {ms} ms after the last fault",
        "zh": "最后一次故障过后 {ms} 毫秒，任期 {term} 仍没有领导者"},
    "viol.converges.behind": {
        "en": "{node} (term {term}, commit index {index}) has not caught up with leader {leader} (commit index {lead})",
        "zh": "{node}（任期 {term}，提交索引 {index}）没有追上领导者 {leader}（提交索引 {lead}）"},
    "viol.state_machine_safety.again": {
        "en": "{node} applied {entry} at index {index}, but before a restart it had applied {other_entry} there",
        "zh": "{node} 在索引 {index} 应用了 {entry}，但它重启之前在同一索引应用的是 {other_entry}"},
    "viol.state_machine_safety": {
        "en": "{node} applied {entry} at index {index}, but {other} applied {other_entry} there",
        "zh": "{node} 在索引 {index} 应用了 {entry}，但 {other} 在同一索引应用的是 {other_entry}"},
}


# ---------------------------------------------------------------- declarations


def _en(key: str) -> str:
    """The English text of a translated string: declarations and strings say it once."""
    return STRINGS[key]["en"]


class Raft(Protocol):
    name = "raft"
    title = "Raft"
    category = "consensus"
    summary = STRINGS["summary"]["en"]
    nodes_default = 5
    nodes_min = 3
    nodes_max = 9
    params = (
        Param("election_timeout", 150, 10, 10_000, _en("param.election_timeout.help")),
        Param("election_spread", 100, 0, 200, _en("param.election_spread.help")),
        Param("heartbeat", 50, 5, 5_000, _en("param.heartbeat.help")),
        Param("max_entries", 4, 1, 1_000, _en("param.max_entries.help")),
    )
    bugs = (
        Bug("volatile_vote", STRINGS["bug.volatile_vote"]["en"]),
        Bug("count_old_term", STRINGS["bug.count_old_term"]["en"]),
        Bug("no_up_to_date_check", STRINGS["bug.no_up_to_date_check"]["en"]),
    )
    operations = (Operation("put", arg="key=value", default="x=1", help=_en("op.put.help")),)
    fields = (
        Field("role"),
        Field("term", durable=True, help=_en("field.term.help")),
        Field("votedFor", durable=True, help=_en("field.votedFor.help")),
        Field("log", durable=True, help=_en("field.log.help")),
        Field("logStart", help=_en("field.logStart.help")),
        Field("commitIndex", help=_en("field.commitIndex.help")),
        Field("leader", help=_en("field.leader.help")),
        Field("kv", help=_en("field.kv.help")),
        Field("votes", help=_en("field.votes.help")),
        Field("matchIndex", help=_en("field.matchIndex.help")),
        Field("nextIndex", help=_en("field.nextIndex.help")),
    )
    roles = {FOLLOWER: "#64748b", CANDIDATE: "#d97706", LEADER: "#2563eb"}
    timers = ("election", "heartbeat")
    presets = PRESETS
    strings = STRINGS
    default_network = {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}
    default_until = 10_000
    checker_class = RaftChecker
    # Random fault schedules (engine.fuzz): the bugs need leaders cut off in a
    # minority that still take writes (count_old_term) and nodes restarting
    # in the middle of elections (volatile_vote), so crashes, partitions and
    # client writes are drawn more often than the engine's defaults.
    fuzz_weights = {"crash": 12, "restart": 10, "drop": 1, "duplicate": 1, "partition": 10, "heal": 1,
                    "request": 11, "timeout": 5, "protocol": 20}

    def create_node(self, node_id, node_ids, params, bugs, disk):
        return RaftNode(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        key = "xyz"[rng.randrange(3)]
        return rng.choice(node_ids), "put", f"{key}={rng.randrange(1, 10)}"

    def fuzz_action(self, rng, sim, at):
        """A Raft-aware fault for random schedules (a Jepsen-style nemesis), or None.

        Four moves: two nodes time out at once (a contested term) while a third
        bounces; a node that just voted crashes and restarts at once (does it
        remember its vote?);
        a client writes through the leader; the leader is cut off with less
        than a majority around it (it accepts writes it can never commit).
        Returns ordinary actions, so a schedule still replays as data.
        """
        ids = sim.ids
        up = [n for n in ids if sim.up[n]]
        move = rng.random()
        if move < 0.3:
            # Contest an election: two nodes time out at once and compete in one term,
            # and a third crashes and restarts while their vote requests are in flight.
            armed = [n for n in up if sim.timers[n].get("election") is not None]
            if len(armed) >= 3:
                a, b, v = rng.sample(armed, 3)
                lo, hi = sim.network.latency
                bounce = at + rng.randint(lo, hi)
                return [{"at": at, "do": "timeout", "node": a, "timer": "election"},
                        {"at": at, "do": "timeout", "node": b, "timer": "election"},
                        {"at": bounce, "do": "crash", "node": v},
                        {"at": bounce + 1, "do": "restart", "node": v}]
        elif move < 0.45:
            # Bounce a voter: crash a node that voted this term and bring it straight back.
            voters = [n for n in up if sim.nodes[n].voted_for not in (None, n) and sim.nodes[n].role != LEADER]
            if voters:
                n = rng.choice(voters)
                return [{"at": at, "do": "crash", "node": n}, {"at": at + 1, "do": "restart", "node": n}]
        leaders = [n for n in up if sim.nodes[n].role == LEADER]
        if not leaders:
            return None
        leader = rng.choice(leaders)
        if rng.random() < 0.5:
            _, op, arg = self.random_request(rng, ids)
            return {"at": at, "do": "request", "node": leader, "op": op, "arg": arg}
        others = [n for n in ids if n != leader]
        rng.shuffle(others)
        k = rng.randrange(len(ids) // 2)       # companions: the leader's side stays a minority
        return {"at": at, "do": "partition", "groups": [sorted([leader, *others[:k]]), sorted(others[k:])]}


PROTOCOL = Raft()
