"""RaftNode: one server of Raft, as a sans-I/O state machine.

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

What the checker sees (engine.kit.log_safety's vocabulary): `observe()`
returns role, term, voted_for, log, last_applied (and leader, commit_index
for the converges property); every change to the log is reported with
ctx.observe("log_changed", index=i), i the lowest index that changed.

Narration marks what a student should notice, not every step: besides elections,
votes and commits, the moments of the paper's Figure 8 are told wherever they
happen (a follower receiving older-term entries not yet committed, a leader
seeing its last inherited entry on a majority yet not committing it, an entry of
its own term committing the older ones with it, a follower deleting entries and
why that is safe). The node's told_* attributes only remember what was said, so
a moment is told once; the protocol never reads them.
"""

from __future__ import annotations

from ...kit.quorum import Tally, majority
from ...protocol import Node

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"
LOG_VIEW = 40   # a view shows at most the last LOG_VIEW entries (field logStart says where they begin)


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
        self.majority = majority(len(self.node_ids))
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
        self.tally = Tally()     # candidate: the votes it has received (peer -> granted?)
        self.next_index = {}     # leader: peer -> next index to send
        self.match_index = {}    # leader: peer -> highest index known replicated there
        self.pending = {}        # index -> (op, term) of a client request waiting to be applied
        # Narration memory (what has been said, so a moment is told once; never read by the protocol):
        self.inherited = 0             # leader: its log's length when elected (the older-term entries)
        self.told_old_term = (0, 0)    # leader: (index, replicas) last narrated of its last inherited
                                       # entry stored on a majority yet not committed
        self.told_inherited = 0        # follower: the last term in which it narrated appending
                                       # older-term entries not known to be committed
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

    def log_changed(self, ctx, index):
        """The log changed from `index` on (the change itself is already on disk): tell the checker."""
        ctx.observe("log_changed", index=index)
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
                    if p not in self.tally:
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
            self.tally = Tally()
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
        self.tally = Tally()
        self.tally.add(self.id, True)
        self.reset_election_timer(ctx)    # a split vote ends when this fires again
        ctx.note("raft.campaign", term=self.term)
        for p in self.peers:
            self.send_request_vote(ctx, p)
        ctx.set_timer("heartbeat", self.heartbeat)   # retry tick for peers that do not answer

    def become_leader(self, ctx):
        self.role = LEADER
        self.leader = self.id
        self.tally = Tally()
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
            self.log_changed(ctx, len(self.log))
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
        self.tally.add(src, b["voteGranted"])
        if self.tally.reached(self.majority):
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
            self.log_changed(ctx, at + 1)
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
        self.log_changed(ctx, index)
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
            v["votes"] = self.tally.yes()
        # The line under the node on the canvas (translated by the page).
        if self.role == CANDIDATE:
            v["label"] = ["raft.label.candidate", {"term": self.term, "votes": len(v["votes"]),
                                                   "n": len(self.node_ids)}]
        else:
            v["label"] = ["raft.label", {"term": self.term, "log": len(self.log), "commit": self.commit_index}]
        return v

    def observe(self):
        """Public facts for the checker (kit.log_safety's vocabulary, plus leader and
        commit_index for converges). The log is the node's own list: the checker only reads it."""
        return {"role": self.role, "term": self.term, "voted_for": self.voted_for, "log": self.log,
                "last_applied": self.last_applied, "leader": self.leader, "commit_index": self.commit_index}
