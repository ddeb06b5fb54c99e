"""Single-decree Paxos: the proposers p1, p2 (also the learners) and the acceptors a1..aN.

Read it beside Lamport's "Paxos Made Simple" (section 2) or Paxos.tla in
tlaplus/Examples, whose names it keeps:

    1a    {bal}                      proposer -> every acceptor: prepare ballot bal
    1b    {acc, bal, mbal, mval}     acceptor -> proposer: a promise for bal, with the
                                     acceptor's last vote (mbal None: it never voted)
    2a    {bal, val}                 proposer -> every acceptor: accept val at bal
    2b    {acc, bal, val}            acceptor -> every learner: I accepted val at bal
    Nack  {bal, maxBal}              acceptor -> proposer: bal is below my promise maxBal
                                     (only with the parameter nack = on)

A ballot is [round, proposer]: ballots of different proposers never collide, and
they are ordered by round, then by proposer id ("1.p1" < "1.p2" < "2.p1"). None
stands for "no ballot" (below every ballot; TLA+'s -1).

Acceptor (all durable: node.disk, written before the message that depends on it):
  maxBal   the highest ballot it has promised (or accepted at)
  maxVBal  the ballot of its last vote, maxVal the value it voted for
  1a with bal > maxBal      maxBal := bal; 1b (reporting maxVBal, maxVal)
  2a with bal >= maxBal     maxBal := maxVBal := bal, maxVal := val; 2b to every learner
  anything lower            a Nack (nack = on) or silence (nack = off)

Proposer (durable: round, the highest round it has used, saved before its ballot's 1a):
  phase 1   pick ballot [round + 1, me]; 1a to every acceptor; wait for a quorum of 1b
  phase 2   at most one 2a per ballot: the value of the highest mbal the quorum reported,
            else its own value
  retry     no decision within `timeout` (from the ballot's start), or a Nack: a new ballot,
            above every ballot a Nack has shown it. backoff = fixed: exactly `timeout`, and
            `retry` ms after a Nack; backoff = random: once a ballot is lost, the next
            timeout is drawn from [T, 2T) and the pause after a Nack from [0, retry * 2^k]
            (k = ballots lost in a row)
  Its proposal, phase and promises are volatile: a crashed proposer forgets its client.

Learner (volatile; both proposers are learners): a value is chosen once a majority of the
acceptors sent 2b for it with the same ballot. A learner that knows the chosen value
answers a new request with it instead of proposing.

Bug toggles (self.bug_* flags mark where): acceptor_amnesia keeps an acceptor's maxBal,
maxVBal, maxVal in memory only, so a restart forgets promises and votes; small_quorum
lets a proposer's phase 1 count floor(n/2) promises as a quorum.

Narration (ctx.note) says what a student should notice: ballots, promises and the
votes they report, adoption of an earlier value, preemption, what is chosen.
"""

from __future__ import annotations

from ...kit.quorum import majority
from ...protocol import Node

PROPOSER, ACCEPTOR = "proposer", "acceptor"
PROPOSERS = ("p1", "p2")
IDLE, PHASE1, PHASE2, WAIT, DONE = "idle", "phase1", "phase2", "wait", "done"
LIVELOCK_AFTER = 3      # ballots lost in a row before the narration names livelock


def bkey(b):
    """A ballot as a sortable key; None (no ballot) is below every ballot."""
    return (-1, "") if b is None else (b[0], b[1])


def btext(b) -> str:
    """A ballot as people read it: "2.p1" (round 2 of p1); "—" for none."""
    return "—" if b is None else f"{b[0]}.{b[1]}"


def acceptor_ids(node_ids) -> list[str]:
    return [n for n in node_ids if n not in PROPOSERS]


# ---------------------------------------------------------------- acceptor

class Acceptor(Node):
    role = ACCEPTOR

    def on_start(self, ctx):
        self.boot()

    def on_recover(self, ctx):
        self.boot()
        if self.bug_amnesia:
            ctx.note("paxos.recover.amnesia")
        else:
            ctx.note("paxos.recover.acceptor", bal=btext(self.max_bal), vbal=btext(self.max_vbal),
                     val=self.shown_val())

    def boot(self):
        self.bug_amnesia = "acceptor_amnesia" in self.bugs
        self.nack = self.params["nack"] == "on"
        self.learners = [p for p in PROPOSERS if p in self.node_ids]
        disk = self.disk
        self.max_bal = disk.get("maxBal")
        self.max_vbal = disk.get("maxVBal")
        self.max_val = disk.get("maxVal")

    def save(self, ctx, **fields):
        """Promise and vote go to disk before the 1b or 2b that reports them."""
        self.max_bal = fields["maxBal"]
        if "maxVBal" in fields:
            self.max_vbal = fields["maxVBal"]
            self.max_val = fields["maxVal"]
        if not self.bug_amnesia:
            ctx.persist(**fields)
        # BUG (acceptor_amnesia): kept in memory only; a restart forgets them.

    def shown_val(self) -> str:
        return "—" if self.max_val is None else str(self.max_val)

    def on_message(self, ctx, msg):
        if msg.kind == "1a":
            self.handle_1a(ctx, msg.src, msg.body)
        elif msg.kind == "2a":
            self.handle_2a(ctx, msg.src, msg.body)

    def handle_1a(self, ctx, src, b):
        bal = b["bal"]
        if bkey(bal) > bkey(self.max_bal):
            self.save(ctx, maxBal=bal)
            if self.max_vbal is None:
                ctx.note("paxos.promise", bal=btext(bal), proposer=src)
            else:
                ctx.note("paxos.promise.voted", bal=btext(bal), proposer=src, vbal=btext(self.max_vbal),
                         val=self.shown_val())
            ctx.send(src, "1b", acc=self.id, bal=bal, mbal=self.max_vbal, mval=self.max_val)
        elif bkey(bal) < bkey(self.max_bal):
            self.refuse(ctx, src, "1a", bal)
        # bal == maxBal: promised already (a duplicate 1a); the first 1b answered it.

    def handle_2a(self, ctx, src, b):
        bal = b["bal"]
        if bkey(bal) >= bkey(self.max_bal):
            self.save(ctx, maxBal=bal, maxVBal=bal, maxVal=b["val"])
            ctx.note("paxos.accept", bal=btext(bal), val=str(b["val"]))
            for learner in self.learners:
                ctx.send(learner, "2b", acc=self.id, bal=bal, val=b["val"])
        else:
            self.refuse(ctx, src, "2a", bal)

    def refuse(self, ctx, src, kind, bal):
        if self.nack:
            ctx.note("paxos.refuse", kind=kind, bal=btext(bal), proposer=src, max=btext(self.max_bal))
            ctx.send(src, "Nack", bal=bal, maxBal=self.max_bal)
        else:
            ctx.note("paxos.refuse.silent", kind=kind, bal=btext(bal), proposer=src, max=btext(self.max_bal))

    def view(self):
        accepted = [] if self.max_vbal is None else [f"{btext(self.max_vbal)}:{self.max_val}"]
        if self.max_bal is None:
            label = ["paxos.label.acceptor.none", {}]
        elif self.max_vbal is None:
            label = ["paxos.label.acceptor.promised", {"bal": btext(self.max_bal)}]
        else:
            label = ["paxos.label.acceptor.accepted", {"bal": btext(self.max_bal), "vbal": btext(self.max_vbal),
                                                       "val": self.shown_val()}]
        return {"role": ACCEPTOR, "maxBal": btext(self.max_bal), "maxVBal": btext(self.max_vbal),
                "maxVal": self.max_val, "accepted": accepted, "label": label}

    def observe(self):
        """The acceptor's state as the checker reads it (ballots as [round, proposer])."""
        return {"role": ACCEPTOR, "maxBal": self.max_bal, "maxVBal": self.max_vbal, "maxVal": self.max_val}


# ---------------------------------------------------------------- proposer and learner

class Proposer(Node):
    role = PROPOSER

    def on_start(self, ctx):
        self.disk.setdefault("round", 0)
        self.boot()

    def on_recover(self, ctx):
        self.boot()
        ctx.note("paxos.recover.proposer", round=self.disk["round"])

    def boot(self):
        p = self.params
        self.timeout = p["timeout"]
        self.retry = p["retry"]
        self.random = p["backoff"] == "random"
        self.acceptors = acceptor_ids(self.node_ids)
        self.majority = majority(len(self.acceptors))
        self.bug_small_quorum = "small_quorum" in self.bugs
        # BUG (small_quorum): floor(n/2) promises count as a quorum; two such sets can miss each other.
        self.quorum = max(1, len(self.acceptors) // 2) if self.bug_small_quorum else self.majority
        # Volatile state.
        self.phase = IDLE
        self.ballot = None
        self.value = None        # my client's value
        self.pending = False     # a client waits for an answer
        self.proposal = None     # the value of my 2a in this ballot
        self.promises = {}       # acceptor -> (mbal, mval), for my current ballot
        self.seen_round = 0      # the highest round a Nack has shown me
        self.lost = 0            # ballots lost in a row
        self.told_livelock = False
        # Learner.
        self.votes = {}          # ballot text -> {acceptor: value}
        self.chosen = None       # (value, ballot) first learned chosen

    # ------------------------------------------------------------ client

    def on_request(self, ctx, op, arg):
        if op != "propose":
            return
        val = (arg or "").strip() or "v1"
        if self.chosen is not None:
            ctx.note("paxos.request.known", val=val, chosen=str(self.chosen[0]))
            ctx.reply(op, {"ok": True, "chosen": self.chosen[0]})
            return
        if self.phase != IDLE:
            ctx.note("paxos.request.busy", val=val, bal=btext(self.ballot))
            ctx.reply(op, {"ok": False, "error": "busy"})
            return
        self.value = val
        self.pending = True
        self.lost = 0
        self.told_livelock = False
        ctx.note("paxos.request", val=val)
        self.start_ballot(ctx)

    # ------------------------------------------------------------ phase 1

    def start_ballot(self, ctx):
        rnd = max(self.disk["round"], self.seen_round) + 1
        ctx.persist(round=rnd)                  # on disk before the ballot is used
        self.ballot = [rnd, self.id]
        self.phase = PHASE1
        self.promises = {}
        self.proposal = None
        ctx.cancel_timer("backoff")
        # Random backoff: after a lost ballot the timeout is drawn from [T, 2T).
        wait = self.timeout + (ctx.rng.randrange(self.timeout) if self.random and self.lost else 0)
        ctx.set_timer("timeout", wait)
        ctx.note("paxos.prepare", bal=btext(self.ballot), n=len(self.acceptors), ms=wait)
        for a in self.acceptors:
            ctx.send(a, "1a", bal=self.ballot)

    def handle_1b(self, ctx, b):
        if self.phase != PHASE1 or b["bal"] != self.ballot:
            return          # an old ballot's promise, or a quorum already reached
        self.promises[b["acc"]] = (b["mbal"], b["mval"])
        if len(self.promises) < self.quorum:
            return
        # Phase 2: the value of the highest vote reported, else my own.
        best, best_acc = None, None
        for acc, (mbal, mval) in self.promises.items():
            if mbal is not None and bkey(mbal) > bkey(best[0] if best else None):
                best, best_acc = (mbal, mval), acc
        count = len(self.promises)
        if self.bug_small_quorum and count < self.majority:
            ctx.note("paxos.quorum.small", count=count, n=len(self.acceptors), need=self.majority)
        if best is None:
            self.proposal = self.value
            ctx.note("paxos.quorum.free", bal=btext(self.ballot), count=count, val=str(self.value))
        else:
            self.proposal = best[1]
            ctx.note("paxos.quorum.adopt", bal=btext(self.ballot), count=count, acc=best_acc,
                     vbal=btext(best[0]), val=str(best[1]), own=str(self.value))
        self.phase = PHASE2
        for a in self.acceptors:
            ctx.send(a, "2a", bal=self.ballot, val=self.proposal)

    # ------------------------------------------------------------ losing a ballot

    def handle_nack(self, ctx, src, b):
        if b["maxBal"] is not None:
            self.seen_round = max(self.seen_round, b["maxBal"][0])
        if self.phase not in (PHASE1, PHASE2) or b["bal"] != self.ballot:
            return
        ctx.cancel_timer("timeout")
        self.lost += 1
        if self.random:
            wait = ctx.rng.randint(0, self.retry << min(self.lost, 4))
        else:
            wait = self.retry
        self.phase = WAIT
        ctx.set_timer("backoff", wait)
        ctx.note("paxos.nacked", bal=btext(self.ballot), acc=src, max=btext(b["maxBal"]), ms=wait)
        self.tell_livelock(ctx)

    def on_timer(self, ctx, name):
        if name == "timeout" and self.phase in (PHASE1, PHASE2):
            self.lost += 1
            ctx.note("paxos.timeout", bal=btext(self.ballot))
            self.tell_livelock(ctx)
            self.start_ballot(ctx)
        elif name == "backoff" and self.phase == WAIT:
            self.start_ballot(ctx)

    def tell_livelock(self, ctx):
        if self.lost >= LIVELOCK_AFTER and not self.told_livelock:
            self.told_livelock = True
            ctx.note("paxos.livelock.random" if self.random else "paxos.livelock.fixed", count=self.lost)

    # ------------------------------------------------------------ learning

    def handle_2b(self, ctx, b):
        key = btext(b["bal"])
        votes = self.votes.setdefault(key, {})
        votes[b["acc"]] = b["val"]
        count = sum(1 for v in votes.values() if v == b["val"])
        if count < self.majority:
            return
        val = b["val"]
        if self.chosen is None:
            self.chosen = (val, key)
            ctx.note("paxos.chosen", val=str(val), bal=key, count=count, n=len(self.acceptors))
            self.finish(ctx)
        elif self.chosen[0] != val and count == self.majority:
            ctx.note("paxos.chosen.conflict", val=str(val), bal=key, first=str(self.chosen[0]),
                     first_bal=self.chosen[1])

    def finish(self, ctx):
        """A value is chosen: stop proposing, answer my client."""
        if self.phase in (PHASE1, PHASE2, WAIT):
            ctx.cancel_timer("timeout")
            ctx.cancel_timer("backoff")
            self.phase = DONE
        if self.pending:
            self.pending = False
            ctx.reply("propose", {"ok": True, "chosen": self.chosen[0]})

    def on_message(self, ctx, msg):
        kind = msg.kind
        if kind == "1b":
            self.handle_1b(ctx, msg.body)
        elif kind == "2b":
            self.handle_2b(ctx, msg.body)
        elif kind == "Nack":
            self.handle_nack(ctx, msg.src, msg.body)

    # ------------------------------------------------------------ view

    def view(self):
        v = {"role": PROPOSER, "round": self.disk["round"], "phase": self.phase, "ballot": btext(self.ballot),
             "value": self.value, "proposal": self.proposal, "promises": list(self.promises),
             "chosen": None if self.chosen is None else self.chosen[0]}
        if self.chosen is not None:
            v["label"] = ["paxos.label.proposer.chosen", {"val": str(self.chosen[0]), "bal": self.chosen[1]}]
        elif self.phase == PHASE1:
            v["label"] = ["paxos.label.proposer.phase1", {"bal": btext(self.ballot), "count": len(self.promises),
                                                          "quorum": self.quorum}]
        elif self.phase == PHASE2:
            v["label"] = ["paxos.label.proposer.phase2", {"bal": btext(self.ballot), "val": str(self.proposal)}]
        elif self.phase == WAIT:
            v["label"] = ["paxos.label.proposer.wait", {"bal": btext(self.ballot)}]
        else:
            v["label"] = ["paxos.label.proposer.idle", {}]
        return v
