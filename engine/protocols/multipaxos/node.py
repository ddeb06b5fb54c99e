"""MultiPaxosNode: one replica of Multi-Paxos, as a sans-I/O state machine.

Read it next to Lamport's "Paxos Made Simple" (section 3, "Implementing a
State Machine"), van Renesse & Altinbuken's "Paxos Made Moderately Complex"
and the MultiPaxos-SMR TLA+ specification in tlaplus/Examples. Every node
plays three parts: an acceptor (it promises ballots and accepts values, per
slot), a learner/replica (it applies chosen commands in slot order to a
key-value state machine) and a potential leader (a proposer).

A ballot is [round, node id]: two nodes never share one, and ballots compare
round first, then id. A slot's entry is [ballot, command]; the command is a
client's "key=value" string, or None for the no-op a new leader puts in a
hole. Slot s (1-based) is log[s - 1]; None is an empty slot.

    Prepare    (1a) {ballot, commit}     phase 1 for every slot above `commit` at once
    Promise    (1b) {ballot, accepted}   accepted: [[slot, ballot, command], ...] for
                                         each slot above `commit` this acceptor holds
    Accept     (2a) {ballot, slot, cmd}
    Accepted   (2b) {ballot, slot}
    Nack            {ballot, promised}   the ballot is refused: a higher one is promised
    Commit          {ballot, entries, commit}  chosen entries [[slot, ballot, command], ...]
                                         and the sender's commit point (learners)
    Heartbeat       {ballot, commit}     the leader is alive; its commit point
    CatchUp         {ballot, commit}     a learner behind the leader asks for the chosen
                                         slots after its own commit point
    Forward         {cmd}                a client's put, passed on to the known leader

What is durable (node.disk, survives a crash) and what is volatile:
  disk    round (the highest round this node has used for a ballot of its own),
          promised (the acceptor's highest promised ballot), log (the acceptor's
          accepted [ballot, command] per slot). The log list *is* disk["log"]:
          writing a slot in it is the durable write. Each is on disk before any
          message that depends on it leaves (persist before send).
  memory  role, ballot (mine, while a candidate or leader), leader, what is known
          chosen, commitIndex, the state machine (rebuilt by learning again after
          a restart), promises (candidate), Accepted tallies (leader), pending
          client requests.

Timers (a person may force either):
  election   follower/candidate: randomized in [T, T + T*spread/100); firing
             starts phase 1 with a new, higher ballot
  heartbeat  leader: Heartbeat to every follower, and Accept again to acceptors
             that have not answered for a slot not chosen yet; candidate: Prepare
             again to the acceptors that have not promised

What the checker sees (engine.kit.log_safety's vocabulary, see checker.py):
`observe()` returns role, term (the ballot it leads, or the ballot it has
promised), log, last_applied, applied (the entries applied, in slot order),
promised; every change to the log is reported with ctx.observe("log_changed",
index=i) and every vote (an acceptance, whether or not a 2b message carries
it: a leader's vote for its own proposal is never sent) with
ctx.observe("accepted", slot=s, ballot=b, cmd=c).
"""

from __future__ import annotations

from ...kit.quorum import majority
from ...protocol import Node

FOLLOWER, CANDIDATE, LEADER = "follower", "candidate", "leader"
ZERO = [0, ""]     # the ballot below every real one
LOG_VIEW = 12      # a view shows at most the last LOG_VIEW slots (field logStart says where they begin)


def ballot_text(b) -> str:
    """A ballot as people read it: "2.n1" (round 2 of n1), "0" for none."""
    return f"{b[0]}.{b[1]}" if b and b[0] else "0"


def cmd_text(cmd) -> str:
    return "noop" if cmd is None else cmd


def entry_text(entry) -> str:
    """A slot's entry: "ballot:command" ("2.n1:x=1", "3.n2:noop")."""
    return f"{ballot_text(entry[0])}:{cmd_text(entry[1])}"


class MultiPaxosNode(Node):
    role = FOLLOWER

    # ------------------------------------------------------------ boot

    def on_start(self, ctx):
        disk = self.disk
        disk.setdefault("round", 0)
        disk.setdefault("promised", list(ZERO))
        disk.setdefault("log", [])
        self.boot(ctx)

    def on_recover(self, ctx):
        """After a crash: round, promise and accepted slots come back from disk; what is
        known chosen does not (it is learned again from the leader)."""
        self.boot(ctx)
        ctx.note("multipaxos.recovered", promised=ballot_text(self.disk["promised"]),
                 slots=sum(1 for e in self.log if e is not None))

    def boot(self, ctx):
        p = self.params
        self.timeout_base = p["election_timeout"]
        self.timeout_width = p["election_timeout"] * p["election_spread"] // 100
        self.heartbeat = p["heartbeat"]
        self.max_batch = p["max_batch"]
        self.majority = majority(len(self.node_ids))
        self.bug_skip_phase1 = "skip_phase1" in self.bugs
        self.log = self.disk["log"]
        # Volatile state.
        self.role = FOLLOWER
        self.ballot = None       # candidate/leader: my ballot
        self.leader = None       # the leader I follow, if known
        self.seen_round = 0      # the highest round a Nack has shown me
        self.promises = {}       # candidate: acceptor -> the entries it reported (me included)
        self.p1_commit = 0       # candidate: the commit point my Prepare asked above
        self.acks = {}           # leader: slot not yet chosen -> {acceptor: True} (me included)
        self.next_slot = 1       # leader: the next free slot
        self.chosen = {}         # slot -> [ballot, command] known chosen (the learner)
        self.commit_index = 0    # every slot up to here is known chosen (and applied)
        self.applied = []        # the entries applied, in slot order
        self.kv = {}
        self.pending = {}        # slot -> (op, command) of a client request waiting here
        self.asked = -1          # the commit point my last CatchUp asked above ...
        self.asked_at = 0        # ... and when
        self._log_view = None
        self._kv_view = {}
        self._term_of = self._term_text = None     # observe()'s term, cached
        self.reset_election_timer(ctx)

    @property
    def promised(self):
        return self.disk["promised"]

    # ------------------------------------------------------------ the acceptor's log

    def entry(self, slot):
        return self.log[slot - 1] if slot <= len(self.log) else None

    def write(self, ctx, slot, entry):
        """Slot `slot` now holds `entry` (on disk: the log is disk["log"]); tell the checker."""
        log = self.log
        while len(log) < slot:
            log.append(None)
        log[slot - 1] = entry
        ctx.observe("log_changed", index=slot)
        self._log_view = None

    def vote(self, ctx, slot, ballot, cmd):
        """Accept (ballot, cmd) in `slot`: the acceptor's vote, on disk before its 2b leaves."""
        self.write(ctx, slot, [ballot, cmd])
        ctx.observe("accepted", slot=slot, ballot=ballot, cmd=cmd)

    def report(self, above):
        """Phase 1b: every slot above `above` this acceptor has accepted, as [slot, ballot, command]."""
        return [[s, e[0], e[1]] for s, e in enumerate(self.log, 1) if e is not None and s > above]

    # ------------------------------------------------------------ timers

    def reset_election_timer(self, ctx):
        width = self.timeout_width
        ctx.set_timer("election", self.timeout_base + (ctx.rng.randrange(width) if width > 0 else 0))

    def on_timer(self, ctx, name):
        if name == "election":
            if self.role != LEADER:
                self.start_phase1(ctx)
        elif name == "heartbeat":
            if self.role == LEADER:
                for p in self.peers:
                    ctx.send(p, "Heartbeat", ballot=self.ballot, commit=self.commit_index)
                # Resend the Accepts not yet answered (a lost 2a or 2b, a slow acceptor).
                for s, acks in self.acks.items():
                    e = self.log[s - 1]
                    for p in self.peers:
                        if p not in acks:
                            ctx.send(p, "Accept", ballot=self.ballot, slot=s, cmd=e[1])
                ctx.set_timer("heartbeat", self.heartbeat)
            elif self.role == CANDIDATE:
                for p in self.peers:
                    if p not in self.promises:
                        ctx.send(p, "Prepare", ballot=self.ballot, commit=self.p1_commit)
                ctx.set_timer("heartbeat", self.heartbeat)

    # ------------------------------------------------------------ phase 1 (leader election)

    def start_phase1(self, ctx):
        """No leader heard from: a new ballot above every one seen, promised by my own
        acceptor (both on disk first), then one Prepare for every slot above my commit point."""
        top = max((e[0][0] for e in self.log if e is not None), default=0)     # learned slots may be higher
        rnd = max(self.disk["round"], self.promised[0], self.seen_round, top) + 1
        ballot = [rnd, self.id]
        ctx.persist(round=rnd, promised=ballot)
        self.role = CANDIDATE
        self.ballot = ballot
        self.leader = None
        self.acks = {}
        self.p1_commit = self.commit_index
        self.promises = {self.id: self.report(self.p1_commit)}
        self.reset_election_timer(ctx)      # no majority by then: try again with a higher ballot
        ctx.note("multipaxos.campaign", ballot=ballot_text(ballot), commit=self.p1_commit)
        for p in self.peers:
            ctx.send(p, "Prepare", ballot=ballot, commit=self.p1_commit)
        ctx.set_timer("heartbeat", self.heartbeat)     # retry tick for acceptors that do not answer

    def handle_prepare(self, ctx, src, b):
        ballot = b["ballot"]
        promised = self.promised
        if ballot < promised:
            ctx.note("multipaxos.nack", ballot=ballot_text(ballot), promised=ballot_text(promised))
            ctx.send(src, "Nack", ballot=ballot, promised=promised)
            return
        if ballot > promised:
            ctx.persist(promised=ballot)           # on disk before the Promise leaves
            self.preempt(ctx, ballot)
            self.leader = None
            accepted = self.report(b["commit"])
            ctx.note("multipaxos.promise", ballot=ballot_text(ballot), count=len(accepted), commit=b["commit"])
        else:
            accepted = self.report(b["commit"])    # the same Prepare again: the same answer
        self.reset_election_timer(ctx)             # give the candidate time to finish
        ctx.send(src, "Promise", ballot=ballot, accepted=accepted)

    def handle_promise(self, ctx, src, b):
        if self.role != CANDIDATE or b["ballot"] != self.ballot or src in self.promises:
            return
        self.promises[src] = b["accepted"]
        if len(self.promises) >= self.majority:
            self.become_leader(ctx)

    def become_leader(self, ctx):
        """A majority promised: for every slot above my commit point, propose the value
        with the highest ballot any of them reported (or the value I know chosen), fill
        the holes below the highest reported slot with no-ops, then run phase 2 for
        each of them at my ballot. Phase 1 is done, once, for all slots."""
        ballot = self.ballot
        best = {}        # slot -> [ballot, command, reporter]
        for src, entries in self.promises.items():
            for s, vb, cmd in entries:
                if s not in best or vb > best[s][0]:
                    best[s] = [vb, cmd, src]
        if self.bug_skip_phase1:
            # BUG: slots my own log has empty count as free; what the others reported there is ignored.
            best = {s: v for s, v in best.items() if self.entry(s) is not None or s in self.chosen}
        top = max([self.commit_index, *best, *self.chosen])
        self.role = LEADER
        self.leader = self.id
        self.promises = {}
        ctx.cancel_timer("election")
        adopted = holes = 0
        proposals = []
        for s in range(self.commit_index + 1, top + 1):
            if s in self.chosen:
                cmd = self.chosen[s][1]
            elif s in best:
                vb, cmd, src = best[s]
                adopted += 1
                if src != self.id:
                    ctx.note("multipaxos.adopt", slot=s, cmd=cmd_text(cmd), old=ballot_text(vb), reporter=src,
                             ballot=ballot_text(ballot))
            else:
                cmd = None
                holes += 1
                ctx.note("multipaxos.fill", slot=s, ballot=ballot_text(ballot))
            self.vote(ctx, s, ballot, cmd)
            self.acks[s] = {self.id: True}
            proposals.append((s, cmd))
        self.next_slot = top + 1
        if self.bug_skip_phase1:
            ctx.note("multipaxos.elected.skip", ballot=ballot_text(ballot), adopted=adopted, holes=holes,
                     next=self.next_slot)
        else:
            ctx.note("multipaxos.elected", ballot=ballot_text(ballot), adopted=adopted, holes=holes,
                     next=self.next_slot)
        for p in self.peers:
            ctx.send(p, "Heartbeat", ballot=ballot, commit=self.commit_index)
            for s, cmd in proposals:
                ctx.send(p, "Accept", ballot=ballot, slot=s, cmd=cmd)
        ctx.set_timer("heartbeat", self.heartbeat)

    # ------------------------------------------------------------ preemption

    def preempt(self, ctx, ballot):
        """A higher ballot than mine is about: a candidate or leader steps down."""
        if self.role != FOLLOWER and ballot > self.ballot:
            self.step_down(ctx, ballot)

    def step_down(self, ctx, by):
        ctx.note("multipaxos.preempted", ballot=ballot_text(self.ballot), by=ballot_text(by))
        self.role = FOLLOWER
        self.ballot = None
        self.leader = None
        self.promises = {}
        self.acks = {}
        ctx.cancel_timer("heartbeat")
        self.reset_election_timer(ctx)

    def handle_nack(self, ctx, src, b):
        if self.role == FOLLOWER or b["ballot"] != self.ballot or not b["promised"] > self.ballot:
            return
        self.seen_round = max(self.seen_round, b["promised"][0])
        self.step_down(ctx, b["promised"])

    def follow(self, ctx, src, ballot):
        """A message from the leader of `ballot`, not below my promise: it is the leader."""
        self.preempt(ctx, ballot)
        if self.role == FOLLOWER:
            if self.leader != src:
                self.leader = src
                ctx.note("multipaxos.follow", leader=src, ballot=ballot_text(ballot))
            self.reset_election_timer(ctx)

    # ------------------------------------------------------------ phase 2 (per slot)

    def handle_accept(self, ctx, src, b):
        ballot, s, cmd = b["ballot"], b["slot"], b["cmd"]
        promised = self.promised
        cur = self.entry(s)
        if ballot < promised or (cur is not None and cur[0] > ballot):
            higher = promised if ballot < promised else cur[0]
            ctx.note("multipaxos.refuse_accept", slot=s, cmd=cmd_text(cmd), ballot=ballot_text(ballot),
                     promised=ballot_text(higher))
            ctx.send(src, "Nack", ballot=ballot, promised=higher)
            return
        if ballot > promised:
            ctx.persist(promised=ballot)           # accepting a ballot promises it too
        self.follow(ctx, src, ballot)
        if cur != [ballot, cmd]:
            if cur is not None and cur[1] != cmd:
                ctx.note("multipaxos.overwrite", slot=s, old=entry_text(cur), new=entry_text([ballot, cmd]))
            self.vote(ctx, s, ballot, cmd)          # on disk before the 2b leaves
        ctx.send(src, "Accepted", ballot=ballot, slot=s)

    def handle_accepted(self, ctx, src, b):
        s = b["slot"]
        if self.role != LEADER or b["ballot"] != self.ballot or s not in self.acks:
            return
        acks = self.acks[s]
        if src in acks:
            return
        acks[src] = True
        if len(acks) >= self.majority:
            del self.acks[s]
            entry = self.log[s - 1]
            ctx.note("multipaxos.chosen", slot=s, cmd=cmd_text(entry[1]), ballot=ballot_text(self.ballot),
                     count=len(acks), n=len(self.node_ids))
            self.learn(ctx, s, entry[0], entry[1])
            self.advance(ctx)
            for p in self.peers:
                ctx.send(p, "Commit", ballot=self.ballot, entries=[[s, entry[0], entry[1]]], commit=self.commit_index)

    # ------------------------------------------------------------ learning

    def learn(self, ctx, s, vb, cmd) -> bool:
        """Slot s is chosen with (vb, cmd). The acceptor keeps it too, unless it holds the
        same command already (any ballot above vb carries the chosen command)."""
        if s in self.chosen:
            return False
        self.chosen[s] = [vb, cmd]
        cur = self.entry(s)
        if cur is None or (cur[1] != cmd and vb > cur[0]):
            if cur is not None:
                ctx.note("multipaxos.learn_replaces", slot=s, old=entry_text(cur), new=entry_text([vb, cmd]))
            self.write(ctx, s, [vb, cmd])
        return True

    def advance(self, ctx):
        """Apply the chosen slots in order, with no gaps; answer waiting clients."""
        chosen = self.chosen
        while self.commit_index + 1 in chosen:
            i = self.commit_index + 1
            self.commit_index = i
            entry = chosen[i]
            self.applied.append(entry)
            cmd = entry[1]
            if cmd is not None:
                key, _, value = cmd.partition("=")
                self.kv[key] = value
                self._kv_view = None
            if self.pending:
                req = self.pending.pop(i, None)
                if req is not None:
                    op, mine = req
                    if mine == cmd:
                        ctx.reply(op, {"ok": True, "slot": i, "cmd": cmd})
                    else:       # another leader's value was chosen in my slot
                        ctx.note("multipaxos.lost", slot=i, cmd=mine, chosen=cmd_text(cmd))
                        ctx.reply(op, {"ok": False, "error": "overwritten", "slot": i})

    def handle_commit(self, ctx, src, b):
        ballot = b["ballot"]
        if ballot >= self.promised:
            self.follow(ctx, src, ballot)
        before = self.commit_index
        new = 0
        for s, vb, cmd in b["entries"]:
            new += self.learn(ctx, s, vb, cmd)
        self.advance(ctx)
        if self.commit_index - before > 1:
            ctx.note("multipaxos.caught_up", first=before + 1, last=self.commit_index)
        if new and b["commit"] > self.commit_index and self.commit_index > self.asked:
            self.ask(ctx, src, ballot)

    def ask(self, ctx, src, ballot):
        self.asked = self.commit_index
        self.asked_at = ctx.now
        ctx.send(src, "CatchUp", ballot=ballot, commit=self.commit_index)

    def handle_heartbeat(self, ctx, src, b):
        ballot = b["ballot"]
        if ballot < self.promised:       # a leader of an older ballot: tell it
            ctx.send(src, "Nack", ballot=ballot, promised=self.promised)
            return
        self.follow(ctx, src, ballot)
        if b["commit"] > self.commit_index:
            if self.commit_index > self.asked:
                ctx.note("multipaxos.behind", commit=self.commit_index, lead=b["commit"], leader=src)
                self.ask(ctx, src, ballot)
            elif ctx.now - self.asked_at >= 2 * self.heartbeat:    # no answer yet: ask again
                self.ask(ctx, src, ballot)

    def handle_catch_up(self, ctx, src, b):
        if self.role != LEADER or b["ballot"] != self.ballot:
            return
        first = b["commit"] + 1
        last = min(self.commit_index, b["commit"] + self.max_batch)
        if first > last:
            return
        entries = [[s, self.chosen[s][0], self.chosen[s][1]] for s in range(first, last + 1)]
        ctx.send(src, "Commit", ballot=self.ballot, entries=entries, commit=self.commit_index)

    # ------------------------------------------------------------ receiving

    HANDLERS = {
        "Prepare": handle_prepare,
        "Promise": handle_promise,
        "Accept": handle_accept,
        "Accepted": handle_accepted,
        "Nack": handle_nack,
        "Commit": handle_commit,
        "Heartbeat": handle_heartbeat,
        "CatchUp": handle_catch_up,
    }

    def on_message(self, ctx, msg):
        if msg.kind == "Forward":
            self.handle_forward(ctx, msg.src, msg.body)
        else:
            self.HANDLERS[msg.kind](self, ctx, msg.src, msg.body)

    # ------------------------------------------------------------ clients

    def on_request(self, ctx, op, arg):
        if op != "put":
            return
        key, sep, _ = (arg or "").partition("=")
        if not sep or not key:
            ctx.note("multipaxos.bad_request", arg=arg or "")
            ctx.reply(op, {"ok": False, "error": "expected key=value"})
            return
        if self.role == LEADER:
            self.propose(ctx, arg, op)
        elif self.leader is not None:
            ctx.note("multipaxos.forward", cmd=arg, leader=self.leader)
            ctx.send(self.leader, "Forward", cmd=arg)
            ctx.reply(op, {"ok": None, "forwarded": self.leader})
        else:
            ctx.note("multipaxos.no_leader", cmd=arg)
            ctx.reply(op, {"ok": False, "error": "no leader"})

    def handle_forward(self, ctx, src, b):
        if self.role == LEADER:
            self.propose(ctx, b["cmd"], None)
        else:
            ctx.note("multipaxos.forward_dropped", cmd=b["cmd"], src=src)

    def propose(self, ctx, cmd, op):
        """The leader puts a command in the next free slot: my own vote first (on disk),
        then one Accept to every acceptor. One round trip chooses it."""
        s = self.next_slot
        self.next_slot = s + 1
        self.vote(ctx, s, self.ballot, cmd)
        self.acks[s] = {self.id: True}
        if op is not None:
            self.pending[s] = (op, cmd)
        ctx.note("multipaxos.propose", slot=s, cmd=cmd, ballot=ballot_text(self.ballot))
        for p in self.peers:
            ctx.send(p, "Accept", ballot=self.ballot, slot=s, cmd=cmd)

    # ------------------------------------------------------------ view

    def view(self):
        lv = self._log_view
        if lv is None:
            log = self.log
            start = max(0, len(log) - LOG_VIEW)
            lv = self._log_view = ([None if e is None else entry_text(e) for e in log[start:]], start + 1)
        kvv = self._kv_view
        if kvv is None:
            kvv = self._kv_view = dict(self.kv)
        v = {"role": self.role, "ballot": ballot_text(self.ballot) if self.ballot else None,
             "promised": ballot_text(self.promised), "round": self.disk["round"], "log": lv[0],
             "logStart": lv[1], "commitIndex": self.commit_index, "leader": self.leader, "kv": kvv}
        if self.role == CANDIDATE:
            v["promises"] = list(self.promises)
            v["label"] = ["multipaxos.label.candidate", {"ballot": v["ballot"], "promises": len(self.promises),
                                                         "n": len(self.node_ids)}]
        else:
            if self.role == LEADER:
                v["nextSlot"] = self.next_slot
            v["label"] = ["multipaxos.label", {"ballot": v["ballot"] or v["promised"],
                                               "commit": self.commit_index, "slots": len(self.log)}]
        return v

    def observe(self):
        """Public facts for the checker (kit.log_safety's vocabulary): the log is the
        acceptor's own list and `applied` the learner's; the checker only reads them."""
        b = self.ballot if self.role == LEADER else self.disk["promised"]
        if b is not self._term_of:       # ballots are never changed in place: identity will do
            self._term_of = b
            self._term_text = ballot_text(b)
        return {"role": self.role, "term": self._term_text,
                "log": self.log, "last_applied": self.commit_index, "applied": self.applied,
                "promised": self.promised, "leader": self.leader, "commit_index": self.commit_index}
