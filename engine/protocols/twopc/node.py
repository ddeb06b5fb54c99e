"""Two-phase commit (2PC) with presumed abort (Bernstein, Hadzilacos & Goodman,
"Concurrency Control and Recovery in Database Systems", ch. 7; presumed abort:
Mohan, Lindsay & Obermarck, "Transaction Management in the R* Distributed
Database Management System", 1986).

One coordinator "c" (the transaction manager) and participants "p1".."pN"
(resource managers). A client's `begin KEY` at the coordinator starts a
transaction txK that writes KEY at every participant. Locks are taken at
Prepare: a Prepare for a key another PREPARED transaction holds waits in a
queue (it has not voted, so it may still give up and vote no: lock_wait).

    c  --Prepare-->  p      p locks KEY, force-writes PREPARED, answers Vote yes
    c  <--Vote-----  p      (or writes ABORTED and answers Vote no)
    c  force-writes COMMIT if every vote is yes, otherwise decides ABORT
    c  --Commit/Abort--> p  re-sent until every participant Acks; then END
    p  --QueryOutcome--> c  a PREPARED participant that hears nothing asks;
    p  <--Outcome------  c  it may NOT decide alone: this is where 2PC blocks

Presumed abort: the coordinator never logs ABORT. After a crash, any
transaction with no COMMIT record on its disk is aborted, so a question about
it is answered "abort". It must not give that answer while it is still
collecting votes for the transaction.

What is durable (node.disk) and what is volatile (lost in a crash):
  coordinator  disk: next_tx counter; log of [COMMIT, tx] and [END, tx]
               memory: phase of each transaction, vote tallies, pending acks
  participant  disk: log of [PREPARED, tx, key], [COMMITTED, tx], [ABORTED, tx]
                     (locks are part of the PREPARED record)
               memory: Prepares waiting for a lock, when to ask next

Timers. A node has one engine timer per kind, armed for the earliest
deadline of that kind (kit.deadlines: tx -> virtual time). Forcing a timer
from the page makes its earliest deadline expire now.
  coordinator: vote_timeout, resend, flush (the COMMIT write finishing,
               log_delay ms after the last yes: the window where a crash
               leaves everyone PREPARED and no decision on disk)
  participant: query (ask about a PREPARED transaction), lock_wait

Every text a node narrates (ctx.note "2pc.<event>") or shows is in strings.toml.
"""

from __future__ import annotations

from ...kit import wal
from ...kit.deadlines import Deadlines
from ...kit.txtable import RECENT, TxTable
from ...protocol import Node

COORDINATOR = "c"


class TwoPCNode(Node):
    """What both roles share: deadline timers and dispatch by message kind."""

    TIMERS: tuple[str, ...] = ()
    HANDLERS: dict[str, str] = {}   # message kind -> method name

    def reset_volatile(self):
        self.deadlines = Deadlines(self.TIMERS)

    def on_message(self, ctx, msg):
        handler = getattr(self, self.HANDLERS.get(msg.kind, ""), None)
        if handler is not None:
            handler(ctx, msg)


# ---------------------------------------------------------------- coordinator

class Coordinator(TwoPCNode):
    role = "coordinator"
    TIMERS = ("vote_timeout", "flush", "resend")
    HANDLERS = {"Vote": "handle_vote", "Ack": "handle_ack", "QueryOutcome": "handle_query_outcome"}

    def on_start(self, ctx):
        self.reset_volatile()

    def reset_volatile(self):
        super().reset_volatile()
        self.participants = self.node_ids[1:]
        # phase: COLLECTING -> LOGGING -> COMMITTING -> COMMITTED
        #        COLLECTING -> ABORTING -> ABORTED
        self.phase = TxTable(finished=("COMMITTED", "ABORTED"))
        self.votes: dict[str, dict[str, str]] = {}
        self.pending: dict[str, list[str]] = {}   # tx -> participants that have not acked
        # Durable facts, read back from the log.
        self.decisions = TxTable(finished=("COMMIT",))
        self.ended: list[str] = []
        for record in wal.records(self.disk):
            if record[0] == "COMMIT":
                self.decisions[record[1]] = "COMMIT"
            elif record[0] == "END":
                self.ended.append(record[1])

    def on_recover(self, ctx):
        """Rebuild from the log alone: votes, timers and pending acks are gone."""
        self.reset_volatile()
        ended = set(self.ended)
        for n in range(1, self.disk.get("next_tx", 1)):
            tx = f"tx{n}"
            if tx in ended:
                self.phase[tx] = "COMMITTED"
            elif tx in self.decisions:
                # COMMIT is on disk but not END: someone may not know yet.
                ctx.note("2pc.recover_commit", tx=tx)
                self.phase[tx] = "COMMITTING"
                self.pending[tx] = list(self.participants)
                self.send_decision(ctx, tx)
            else:
                # No COMMIT record: presumed abort. Nobody is told now; the
                # answer is given when a participant asks.
                ctx.note("2pc.presumed_abort", tx=tx)
                self.phase[tx] = "ABORTED"

    def on_request(self, ctx, op, arg):
        if op != "begin":
            return
        key = (arg or "").strip() or "x"
        n = self.disk.get("next_tx", 1)
        tx = f"tx{n}"
        ctx.persist(next_tx=n + 1)   # durable, so an id is never reused after a crash
        self.phase[tx] = "COLLECTING"
        self.votes[tx] = {}
        ctx.note("2pc.begin", tx=tx, item=key)
        for p in self.participants:
            ctx.send(p, "Prepare", tx=tx, key=key)
        self.deadlines.set(ctx, "vote_timeout", tx, ctx.now + self.params["vote_timeout"])

    # -- phase one: votes

    def handle_vote(self, ctx, msg):
        tx, vote = msg.body["tx"], msg.body["vote"]
        if self.phase.get(tx) != "COLLECTING":
            # A late or repeated vote: repeat the outcome if there is one.
            outcome = self.outcome(tx)
            if outcome is not None:
                ctx.send(msg.src, "Commit" if outcome == "COMMIT" else "Abort", tx=tx)
            return
        self.votes[tx][msg.src] = vote
        if vote == "no":
            ctx.note("2pc.got_no", tx=tx, node=msg.src)
            self.decide_abort(ctx, tx)
        elif all(self.votes[tx].get(p) == "yes" for p in self.participants):
            # Every participant promised. The decision exists only once it is
            # on disk, so force-write it before telling anyone.
            ctx.note("2pc.logging", tx=tx)
            self.phase[tx] = "LOGGING"
            self.deadlines.clear(ctx, "vote_timeout", tx)
            self.deadlines.set(ctx, "flush", tx, ctx.now + self.params["log_delay"])

    def vote_timeout(self, ctx, tx):
        if self.phase.get(tx) == "COLLECTING":
            missing = [p for p in self.participants if p not in self.votes[tx]]
            ctx.note("2pc.vote_timeout", tx=tx, missing=", ".join(missing))
            self.decide_abort(ctx, tx)

    # -- phase two: the decision

    def commit_logged(self, ctx, tx):
        """The COMMIT record reached the disk: now the decision is final."""
        if self.phase.get(tx) != "LOGGING":
            return
        wal.append(ctx, self.disk, "COMMIT", tx)
        self.decisions[tx] = "COMMIT"
        self.votes.pop(tx, None)
        self.phase[tx] = "COMMITTING"
        self.pending[tx] = list(self.participants)
        ctx.note("2pc.decided", tx=tx, decision="COMMIT")
        ctx.reply("begin", {"tx": tx, "decision": "COMMIT"})
        self.send_decision(ctx, tx)

    def decide_abort(self, ctx, tx):
        """Presumed abort: no log write; forgetting it later is harmless."""
        self.deadlines.clear(ctx, "vote_timeout", tx)
        no_voters = [p for p, v in self.votes.pop(tx, {}).items() if v == "no"]
        self.phase[tx] = "ABORTING"
        self.pending[tx] = [p for p in self.participants if p not in no_voters]
        ctx.note("2pc.decided", tx=tx, decision="ABORT")
        ctx.reply("begin", {"tx": tx, "decision": "ABORT"})
        if self.pending[tx]:
            self.send_decision(ctx, tx)
        else:
            self.finish(ctx, tx)

    def send_decision(self, ctx, tx):
        kind = "Commit" if self.phase[tx] == "COMMITTING" else "Abort"
        for p in self.pending[tx]:
            ctx.send(p, kind, tx=tx)
        self.deadlines.set(ctx, "resend", tx, ctx.now + self.params["resend_interval"])

    def handle_ack(self, ctx, msg):
        tx = msg.body["tx"]
        waiting = self.pending.get(tx)
        if waiting is None or msg.src not in waiting:
            return
        waiting.remove(msg.src)
        if not waiting:
            self.finish(ctx, tx)

    def finish(self, ctx, tx):
        """Everyone knows the outcome: stop re-sending."""
        del self.pending[tx]
        self.deadlines.clear(ctx, "resend", tx)
        if self.phase[tx] == "COMMITTING":
            wal.append(ctx, self.disk, "END", tx)   # lazily: only saves work after a crash
            self.ended.append(tx)
            self.phase[tx] = "COMMITTED"
            ctx.note("2pc.end", tx=tx)
        else:
            self.phase[tx] = "ABORTED"
            ctx.note("2pc.forget", tx=tx)

    # -- recovery questions

    def outcome(self, tx):
        """COMMIT, ABORT, or None while the decision is still being made."""
        if tx in self.decisions:
            return "COMMIT"
        if self.phase.get(tx) in ("COLLECTING", "LOGGING"):
            return None
        return "ABORT"   # aborting, aborted, or unknown: presumed abort

    def handle_query_outcome(self, ctx, msg):
        tx = msg.body["tx"]
        outcome = self.outcome(tx)
        if outcome is None:
            ctx.note("2pc.not_yet", tx=tx, node=msg.src)
            return
        if outcome == "ABORT" and tx not in self.pending:
            ctx.note("2pc.answer_presumed", tx=tx, node=msg.src)
        ctx.send(msg.src, "Outcome", tx=tx, decision=outcome)

    def on_timer(self, ctx, name):
        for tx in self.deadlines.take_due(ctx, name):
            if name == "vote_timeout":
                self.vote_timeout(ctx, tx)
            elif name == "flush":
                self.commit_logged(ctx, tx)
            elif name == "resend" and tx in self.pending:
                self.send_decision(ctx, tx)
        self.deadlines.rearm(ctx, name)

    # -- what is shown and what the checker reads

    def label(self) -> list:
        """The line under the node on the canvas: its newest transaction's phase."""
        txs = list(self.phase.open) or self.phase.last
        if not txs:
            return ["2pc.label.idle", {}]
        tx = txs[-1]
        return ["2pc.label.tx", {"tx": tx, "state": self.phase[tx]}]

    def view(self):
        return {
            "role": "coordinator",
            "label": self.label(),
            "next_tx": self.disk.get("next_tx", 1),
            "decisions": self.decisions.recent(),
            "ended": self.ended[-RECENT:],
            "phase": self.phase.recent(),
            "votes": {tx: dict(v) for tx, v in self.votes.items()},
            "pending_acks": {tx: list(p) for tx, p in self.pending.items()},
        }

    def observe(self):
        """The transactions it has not finished (COLLECTING, LOGGING, COMMITTING, ABORTING), in order."""
        return {"role": "coordinator",
                "unfinished": [tx for tx, s in self.phase.items() if s not in self.phase.finished]}


# ---------------------------------------------------------------- participant

class Participant(TwoPCNode):
    role = "participant"
    TIMERS = ("query", "lock_wait")
    HANDLERS = {"Prepare": "handle_prepare", "Commit": "handle_commit", "Abort": "handle_abort",
                "Outcome": "handle_outcome"}

    def __init__(self, *args):
        super().__init__(*args)
        self.index = int(self.id[1:])

    def on_start(self, ctx):
        self.reset_volatile()

    def reset_volatile(self):
        super().reset_volatile()
        self.waiting: dict[str, str] = {}   # tx -> key: Prepares queued behind a lock
        self.told_blocked: dict[str, None] = {}   # narrate "blocked" once per transaction
        # Replay the log: the status of each transaction and the locks held.
        self.status = TxTable(finished=("COMMITTED", "ABORTED"))
        self.keys: dict[str, str] = {}
        self.locks: dict[str, str] = {}
        for record in wal.records(self.disk):
            state, tx = record[0], record[1]
            self.status[tx] = state
            if state == "PREPARED":
                self.keys[tx] = record[2]
                self.locks[record[2]] = tx
            elif self.locks.get(self.keys.get(tx)) == tx:
                del self.locks[self.keys[tx]]

    def on_recover(self, ctx):
        """PREPARED with no outcome: in doubt. The log gave the locks back; ask."""
        self.reset_volatile()
        for tx, state in self.status.items():
            if state == "PREPARED":
                ctx.note("2pc.in_doubt", tx=tx, item=self.keys[tx])
                ctx.send(COORDINATOR, "QueryOutcome", tx=tx)
                self.deadlines.set(ctx, "query", tx, ctx.now + self.params["query_interval"])

    def on_request(self, ctx, op, arg):
        ctx.note("2pc.not_coordinator", op=op)

    # -- phase one

    def handle_prepare(self, ctx, msg):
        tx, key = msg.body["tx"], msg.body["key"]
        state = self.status.get(tx)
        if state is not None:   # a repeated Prepare: repeat the vote
            ctx.send(COORDINATOR, "Vote", tx=tx, vote="no" if state == "ABORTED" else "yes")
            return
        if tx in self.waiting:
            return
        if self.index == self.params["no_voter"]:
            # This participant cannot do the work (a constraint fails, say).
            wal.append(ctx, self.disk, "ABORTED", tx)
            self.status[tx] = "ABORTED"
            ctx.note("2pc.vote_no", tx=tx)
            ctx.send(COORDINATOR, "Vote", tx=tx, vote="no")
            return
        holder = self.locks.get(key)
        if holder is None:
            self.prepare(ctx, tx, key)
        else:
            # Another transaction holds the lock: wait, do not vote yet.
            ctx.note("2pc.waits", tx=tx, item=key, holder=holder)
            self.waiting[tx] = key
            self.deadlines.set(ctx, "lock_wait", tx, ctx.now + self.params["lock_wait"])

    def prepare(self, ctx, tx, key):
        """Force-write PREPARED with the lock, then promise: vote yes."""
        wal.append(ctx, self.disk, "PREPARED", tx, key)
        self.status[tx] = "PREPARED"
        self.keys[tx] = key
        self.locks[key] = tx
        ctx.note("2pc.prepared", tx=tx, item=key)
        ctx.send(COORDINATOR, "Vote", tx=tx, vote="yes")
        self.deadlines.set(ctx, "query", tx, ctx.now + self.params["query_interval"])

    def lock_wait_expired(self, ctx, tx):
        """Not prepared yet, so it may still abort on its own."""
        key = self.waiting.pop(tx, None)
        if key is None:
            return
        ctx.note("2pc.gave_up", tx=tx, item=key)
        wal.append(ctx, self.disk, "ABORTED", tx)
        self.status[tx] = "ABORTED"
        ctx.send(COORDINATOR, "Vote", tx=tx, vote="no")

    # -- phase two

    def handle_commit(self, ctx, msg):
        self.learn(ctx, msg.body["tx"], "COMMIT")

    def handle_abort(self, ctx, msg):
        self.learn(ctx, msg.body["tx"], "ABORT")

    def handle_outcome(self, ctx, msg):
        self.learn(ctx, msg.body["tx"], msg.body["decision"])

    def learn(self, ctx, tx, decision):
        state = self.status.get(tx)
        final = "COMMITTED" if decision == "COMMIT" else "ABORTED"
        if tx in self.waiting:          # aborted before it got the lock
            del self.waiting[tx]
            self.deadlines.clear(ctx, "lock_wait", tx)
            state = None
        if state == "PREPARED":
            self.finish(ctx, tx, final)
        elif state is None and final == "ABORTED":
            # Never prepared here: record it so a late Prepare is refused.
            wal.append(ctx, self.disk, "ABORTED", tx)
            self.status[tx] = "ABORTED"
            ctx.note("2pc.aborted", tx=tx)
        elif state is None:
            return   # cannot happen: COMMIT needs this participant's yes
        elif state != final:
            # Only possible after a heuristic decision (the bug): the damage is done.
            ctx.note("2pc.heuristic_damage", tx=tx, decision=decision, state=state)
        ctx.send(COORDINATOR, "Ack", tx=tx)

    def finish(self, ctx, tx, final):
        """Log the outcome, release the lock, let the next waiter in."""
        wal.append(ctx, self.disk, final, tx)
        self.status[tx] = final
        self.deadlines.clear(ctx, "query", tx)
        key = self.keys[tx]
        if self.locks.get(key) == tx:
            del self.locks[key]
        ctx.note("2pc.committed" if final == "COMMITTED" else "2pc.aborted", tx=tx)
        waiters = [w for w, wkey in self.waiting.items() if wkey == key]
        if waiters:   # first come, first served
            del self.waiting[waiters[0]]
            self.deadlines.clear(ctx, "lock_wait", waiters[0])
            self.prepare(ctx, waiters[0], key)

    # -- timeouts

    def query_due(self, ctx, tx):
        if self.status.get(tx) != "PREPARED":
            return
        if "heuristic_abort" in self.bugs:
            # BUG: a prepared participant gives up and aborts on its own.
            ctx.note("2pc.heuristic", tx=tx)
            self.finish(ctx, tx, "ABORTED")
            return
        # It promised to obey the coordinator, so it may not decide: ask, keep the lock.
        if tx not in self.told_blocked:
            self.told_blocked[tx] = None
            ctx.note("2pc.blocked", tx=tx, item=self.keys[tx])
        ctx.send(COORDINATOR, "QueryOutcome", tx=tx)
        self.deadlines.set(ctx, "query", tx, ctx.now + self.params["query_interval"])

    def on_timer(self, ctx, name):
        for tx in self.deadlines.take_due(ctx, name):
            if name == "query":
                self.query_due(ctx, tx)
            else:
                self.lock_wait_expired(ctx, tx)
        self.deadlines.rearm(ctx, name)

    # -- what is shown and what the checker reads

    def label(self) -> list:
        """The line under the node on the canvas: what it holds, else its newest transaction."""
        if self.locks:
            tx = next(reversed(self.locks.values()))
            return ["2pc.label.locked", {"tx": tx, "state": self.status[tx], "locks": ", ".join(self.locks)}]
        txs = list(self.status.open) or self.status.last
        if not txs:
            return ["2pc.label.idle", {}]
        tx = txs[-1]
        return ["2pc.label.tx", {"tx": tx, "state": self.status[tx]}]

    def view(self):
        return {
            "role": "participant",
            "label": self.label(),
            "status": self.status.recent(),
            "locks": dict(self.locks),
            "waiting": dict(self.waiting),
        }

    def observe(self):
        """Every transaction's status (not only the recent ones), the lock table it
        enforces (key -> tx) and the Prepares queued for a lock (tx -> key).
        Live tables, read after every event: the checker must not change them."""
        return {"role": "participant", "status": self.status, "locks": self.locks, "waiting": self.waiting}
