"""Two-phase commit (2PC), as in the design notes' protocols/transactions.md, section 1.

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
deadline of that kind (a dict tx -> virtual time). Forcing a timer from the
page makes its earliest deadline expire now.
  coordinator: vote_timeout, resend, flush (the COMMIT write finishing,
               log_delay ms after the last yes: the window where a crash
               leaves everyone PREPARED and no decision on disk)
  participant: query (ask about a PREPARED transaction), lock_wait

Translation keys in `strings` (each {"en": ..., "zh": ...}):
  summary                       the one-line summary
  preset.<name>, preset.<name>.lesson
  bug.<name>, inv.<name>, field.<name>, role.<name>, op.<name>,
  param.<name>, timer.<name>    names shown in menus and the inspector
  field.<name>.help, param.<name>.help, op.<name>.help, op.<name>.arg
                                tooltips and the request box's placeholder
  2pc.<event>                   narration emitted with ctx.note; "{arg}" is
                                filled from the note's args
"""

from __future__ import annotations

from ..protocol import Bug, Checker, Field, Node, Operation, Param, Preset, Protocol, Violation

COORDINATOR = "c"
RECENT = 8  # finished transactions kept in a view (a long run holds hundreds)


class TxTable(dict):
    """tx -> state (set entries with table[tx] = state). It also remembers
    which transactions are unfinished and which finished last, so a view of a
    run with hundreds of them stays small."""

    def __init__(self, finished: tuple):
        super().__init__()
        self.finished = finished
        self.open: dict[str, None] = {}   # unfinished transactions, in order
        self.last: list[str] = []         # the last RECENT finished ones

    def __setitem__(self, tx, state):
        super().__setitem__(tx, state)
        if state in self.finished:
            self.open.pop(tx, None)
            if tx not in self.last:
                self.last.append(tx)
                del self.last[:-RECENT]
        else:
            self.open[tx] = None

    def recent(self) -> dict:
        txs = sorted([*self.open, *self.last], key=lambda tx: int(tx[2:]))
        return {tx: self[tx] for tx in txs}


class TwoPCNode(Node):
    """What both roles share: the write-ahead log and deadline timers."""

    TIMERS: tuple[str, ...] = ()
    HANDLERS: dict[str, str] = {}   # message kind -> method name

    def reset_volatile(self):
        self.deadlines = {name: {} for name in self.TIMERS}

    def log(self) -> list:
        return self.disk.get("log", [])

    def write(self, ctx, *record):
        """Append one record to the durable log (a forced write)."""
        log = self.disk.get("log", [])
        log.append(list(record))
        ctx.persist(log=log)

    def set_deadline(self, ctx, timer, tx, at):
        self.deadlines[timer][tx] = at
        self.rearm(ctx, timer)

    def clear_deadline(self, ctx, timer, tx):
        if self.deadlines[timer].pop(tx, None) is not None:
            self.rearm(ctx, timer)

    def rearm(self, ctx, timer):
        pending = self.deadlines[timer]
        if pending:
            ctx.set_timer(timer, max(0, min(pending.values()) - ctx.now))
        else:
            ctx.cancel_timer(timer)

    def take_due(self, ctx, timer) -> list:
        """Remove and return the transactions whose `timer` deadline has passed.

        A timer forced early by a person counts as its earliest deadline passing.
        """
        pending = self.deadlines[timer]
        if not pending:
            return []
        cutoff = max(ctx.now, min(pending.values()))
        due = [tx for tx, at in pending.items() if at <= cutoff]
        for tx in due:
            del pending[tx]
        return due

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
        for record in self.log():
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
        self.set_deadline(ctx, "vote_timeout", tx, ctx.now + self.params["vote_timeout"])

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
            self.clear_deadline(ctx, "vote_timeout", tx)
            self.set_deadline(ctx, "flush", tx, ctx.now + self.params["log_delay"])

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
        self.write(ctx, "COMMIT", tx)
        self.decisions[tx] = "COMMIT"
        self.votes.pop(tx, None)
        self.phase[tx] = "COMMITTING"
        self.pending[tx] = list(self.participants)
        ctx.note("2pc.decided", tx=tx, decision="COMMIT")
        ctx.reply("begin", {"tx": tx, "decision": "COMMIT"})
        self.send_decision(ctx, tx)

    def decide_abort(self, ctx, tx):
        """Presumed abort: no log write; forgetting it later is harmless."""
        self.clear_deadline(ctx, "vote_timeout", tx)
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
        self.set_deadline(ctx, "resend", tx, ctx.now + self.params["resend_interval"])

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
        self.clear_deadline(ctx, "resend", tx)
        if self.phase[tx] == "COMMITTING":
            self.write(ctx, "END", tx)   # lazily: only saves work after a crash
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
        for tx in self.take_due(ctx, name):
            if name == "vote_timeout":
                self.vote_timeout(ctx, tx)
            elif name == "flush":
                self.commit_logged(ctx, tx)
            elif name == "resend" and tx in self.pending:
                self.send_decision(ctx, tx)
        self.rearm(ctx, name)

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
        for record in self.log():
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
                self.set_deadline(ctx, "query", tx, ctx.now + self.params["query_interval"])

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
            self.write(ctx, "ABORTED", tx)
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
            self.set_deadline(ctx, "lock_wait", tx, ctx.now + self.params["lock_wait"])

    def prepare(self, ctx, tx, key):
        """Force-write PREPARED with the lock, then promise: vote yes."""
        self.write(ctx, "PREPARED", tx, key)
        self.status[tx] = "PREPARED"
        self.keys[tx] = key
        self.locks[key] = tx
        ctx.note("2pc.prepared", tx=tx, item=key)
        ctx.send(COORDINATOR, "Vote", tx=tx, vote="yes")
        self.set_deadline(ctx, "query", tx, ctx.now + self.params["query_interval"])

    def lock_wait_expired(self, ctx, tx):
        """Not prepared yet, so it may still abort on its own."""
        key = self.waiting.pop(tx, None)
        if key is None:
            return
        ctx.note("2pc.gave_up", tx=tx, item=key)
        self.write(ctx, "ABORTED", tx)
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
            self.clear_deadline(ctx, "lock_wait", tx)
            state = None
        if state == "PREPARED":
            self.finish(ctx, tx, final)
        elif state is None and final == "ABORTED":
            # Never prepared here: record it so a late Prepare is refused.
            self.write(ctx, "ABORTED", tx)
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
        self.write(ctx, final, tx)
        self.status[tx] = final
        self.clear_deadline(ctx, "query", tx)
        key = self.keys[tx]
        if self.locks.get(key) == tx:
            del self.locks[key]
        ctx.note("2pc.committed" if final == "COMMITTED" else "2pc.aborted", tx=tx)
        waiters = [w for w, wkey in self.waiting.items() if wkey == key]
        if waiters:   # first come, first served
            del self.waiting[waiters[0]]
            self.clear_deadline(ctx, "lock_wait", waiters[0])
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
        self.set_deadline(ctx, "query", tx, ctx.now + self.params["query_interval"])

    def on_timer(self, ctx, name):
        for tx in self.take_due(ctx, name):
            if name == "query":
                self.query_due(ctx, tx)
            else:
                self.lock_wait_expired(ctx, tx)
        self.rearm(ctx, name)

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


# ---------------------------------------------------------------- invariants

def _violation(invariant: str, key: str, nodes, **args) -> Violation:
    """A violation whose English message is STRINGS[key]["en"] filled with args,
    so the page can show the same text translated (key and args travel along)."""
    return Violation(invariant, STRINGS[key]["en"].format(**args), tuple(nodes), key=key, args=args)


class TwoPCChecker(Checker):
    """Reads each node's durable log incrementally (only new records)."""

    invariants = (
        ("atomicity", "No transaction is committed at one participant and aborted at another."),
        ("commit_needs_prepared", "The coordinator logs COMMIT only after every participant logged PREPARED."),
        ("commit_matches_decision", "A participant commits only a transaction whose logged decision is COMMIT."),
        ("decision_stable", "A decision, once logged or announced, never changes, not even across crashes."),
        ("locks_held", ("A PREPARED transaction keeps its lock until its outcome is logged, across crashes too: "
                        "no other transaction prepares on that key at that participant meanwhile.")),
        ("all_resolved", ("Eventually (all nodes up, network healed, enough time after the last action): "
                         "no participant is left PREPARED or waiting, no lock is held, every decision is acked.")),
    )

    def __init__(self, params, bugs, node_ids):
        super().__init__(params, bugs, node_ids)
        self.participants = node_ids[1:]
        self.seen = {n: 0 for n in node_ids}     # log records already read, per node
        self.prepared: dict[str, list[str]] = {}
        self.committed: dict[str, list[str]] = {}
        self.aborted: dict[str, list[str]] = {}
        self.decision: dict[str, str] = {}       # logged by the coordinator
        self.announced: dict[str, str] = {}      # told to anyone by the coordinator
        # Per participant, from its log: key -> the PREPARED tx with no outcome yet, and tx -> key.
        self.in_doubt: dict[str, dict[str, str]] = {n: {} for n in self.participants}
        self.key_of: dict[str, dict[str, str]] = {n: {} for n in self.participants}
        self.found: list[Violation] = []

    def on_send(self, sim, msg):
        if msg.src != COORDINATOR or msg.kind not in ("Commit", "Abort", "Outcome"):
            return
        tx = msg.body["tx"]
        said = msg.body["decision"] if msg.kind == "Outcome" else msg.kind.upper()
        before = self.announced.setdefault(tx, said)
        if before != said:
            self.found.append(_violation("decision_stable", "viol.decision_stable.reannounced", (COORDINATOR,),
                                         tx=tx, before=before, said=said))
        if self.decision.get(tx, said) != said:
            self.found.append(_violation("decision_stable", "viol.decision_stable.announced_other", (COORDINATOR,),
                                         tx=tx, said=said))

    def after_event(self, sim, node_id, msg):
        found, self.found = self.found, []
        if node_id is None:
            return found
        log = sim.disk[node_id].get("log", [])
        if len(log) < self.seen[node_id]:
            found.append(_violation("decision_stable", "viol.decision_stable.log_lost", (node_id,), node=node_id))
            self.seen[node_id] = len(log)
        new = log[self.seen[node_id]:]
        self.seen[node_id] = len(log)
        for record in new:
            if node_id == COORDINATOR:
                self.coordinator_logged(record, found)
            else:
                self.participant_logged(node_id, record, found)
        if node_id != COORDINATOR and sim.nodes[node_id] is not None:
            self.check_lock_table(sim.nodes[node_id], node_id, found)
        return found

    def check_lock_table(self, node, n, found):
        """The node's lock table (what it enforces) holds every in-doubt transaction's lock."""
        for key, tx in self.in_doubt[n].items():
            if node.locks.get(key) != tx:
                found.append(_violation("locks_held", "viol.locks_held.lost", (n,), node=n, tx=tx, item=key))

    def coordinator_logged(self, record, found):
        kind, tx = record[0], record[1]
        if kind != "COMMIT":
            return
        missing = [p for p in self.participants if p not in self.prepared.get(tx, [])]
        if missing:
            found.append(_violation("commit_needs_prepared", "viol.commit_needs_prepared", (COORDINATOR, *missing),
                                    tx=tx, missing=", ".join(missing)))
        if self.announced.get(tx, "COMMIT") != "COMMIT":
            found.append(_violation("decision_stable", "viol.decision_stable.commit_after_abort", (COORDINATOR,),
                                    tx=tx))
        self.decision[tx] = "COMMIT"

    def participant_logged(self, node, record, found):
        kind, tx = record[0], record[1]
        if kind == "PREPARED":
            self.prepared.setdefault(tx, []).append(node)
            key = record[2]
            other = self.in_doubt[node].get(key)
            if other is not None and other != tx:
                found.append(_violation("locks_held", "viol.locks_held.shared", (node,),
                                        node=node, tx=tx, item=key, holder=other))
            self.in_doubt[node][key] = tx
            self.key_of[node][tx] = key
        elif tx in self.key_of[node]:            # the outcome is logged: its lock may go
            key = self.key_of[node].pop(tx)
            if self.in_doubt[node].get(key) == tx:
                del self.in_doubt[node][key]
        if kind == "COMMITTED":
            self.committed.setdefault(tx, []).append(node)
            if self.decision.get(tx) != "COMMIT":
                found.append(_violation("commit_matches_decision", "viol.commit_matches_decision",
                                        (node, COORDINATOR), tx=tx, node=node))
            others = self.aborted.get(tx)
            if others:
                found.append(_violation("atomicity", "viol.atomicity.committed", (node, *others),
                                        tx=tx, node=node, others=", ".join(others)))
        elif kind == "ABORTED":
            self.aborted.setdefault(tx, []).append(node)
            others = self.committed.get(tx)
            if others:
                found.append(_violation("atomicity", "viol.atomicity.aborted", (node, *others),
                                        tx=tx, node=node, others=", ".join(others)))

    def settle_time(self, sim) -> int:
        """A generous bound on how long every transaction needs to finish once faults stop."""
        p = self.params
        return (p["lock_wait"] + p["vote_timeout"] + p["query_interval"] + p["resend_interval"]
                + p["log_delay"] + 10 * sim.network.latency[1])

    def on_quiet(self, sim):
        if sim.network.loss > 0:
            return []   # random loss: no time bound is honest
        last = max((a["at"] for a in sim.actions), default=0)
        if sim.until - last < self.settle_time(sim):
            return []   # not enough time since the last action to expect an answer
        out = []
        for n in self.participants:
            node = sim.nodes[n]
            stuck = [tx for tx, s in node.status.items() if s == "PREPARED"]
            if stuck:
                out.append(_violation("all_resolved", "viol.all_resolved.in_doubt", (n, COORDINATOR),
                                      node=n, txs=", ".join(stuck)))
            if node.waiting:
                out.append(_violation("all_resolved", "viol.all_resolved.waiting", (n,),
                                      node=n, txs=", ".join(node.waiting)))
            if node.locks:
                held = ", ".join(f"{k} ({tx})" for k, tx in node.locks.items())
                out.append(_violation("all_resolved", "viol.all_resolved.locks", (n,), node=n, locks=held))
        coord = sim.nodes[COORDINATOR]
        open_tx = [tx for tx, s in coord.phase.items() if s not in coord.phase.finished]
        if open_tx:
            out.append(_violation("all_resolved", "viol.all_resolved.unfinished", (COORDINATOR,),
                                  txs=", ".join(open_tx)))
        return out


# ---------------------------------------------------------------- declarations

def _s(en: str, zh: str) -> dict:
    return {"en": en, "zh": zh}


STRINGS = {
    "summary": _s("A coordinator asks every participant to prepare; all yes means commit, any no or silence "
                  "means abort. A prepared participant must wait for the decision: that is where 2PC blocks.",
                  "协调者请所有参与者准备；全部投赞成才提交，任何反对或超时则中止。已准备的参与者只能等待决定："
                  "这正是两阶段提交会阻塞的地方。"),
    # roles, operations, fields, parameters, timers
    "role.coordinator": _s("coordinator", "协调者"),
    "role.participant": _s("participant", "参与者"),
    "op.begin": _s("begin transaction", "开始事务"),
    "field.role": _s("role", "角色"),
    "field.next_tx": _s("next transaction id", "下一个事务编号"),
    "field.decisions": _s("logged decisions", "已记录的决定"),
    "field.ended": _s("END records", "END 记录"),
    "field.phase": _s("transaction phase", "事务阶段"),
    "field.votes": _s("votes received", "已收到的投票"),
    "field.pending_acks": _s("waiting for acks", "等待确认"),
    "field.status": _s("transaction status", "事务状态"),
    "field.locks": _s("locks held", "持有的锁"),
    "field.waiting": _s("Prepares waiting for a lock", "等待锁的准备请求"),
    # tooltips: what each inspector field, parameter and request means
    "field.next_tx.help": _s("transaction counter, on disk so ids are never reused", "事务计数器，写在磁盘上，编号永不重复"),
    "field.decisions.help": _s("COMMIT records, force-written before anyone is told", "COMMIT 记录，在告诉任何人之前强制写入"),
    "field.ended.help": _s("END records: every participant acknowledged COMMIT", "END 记录：所有参与者都已确认 COMMIT"),
    "field.phase.help": _s("per transaction: COLLECTING, LOGGING, COMMITTING, ABORTING, COMMITTED, ABORTED",
                           "每个事务的阶段：COLLECTING、LOGGING、COMMITTING、ABORTING、COMMITTED、ABORTED"),
    "field.votes.help": _s("vote tally while collecting", "收集投票期间的计票"),
    "field.pending_acks.help": _s("participants that have not acknowledged the decision", "尚未确认决定的参与者"),
    "field.status.help": _s("per transaction, from the log: PREPARED, COMMITTED or ABORTED",
                            "每个事务的状态（来自日志）：PREPARED、COMMITTED 或 ABORTED"),
    "field.locks.help": _s("key -> transaction; part of the PREPARED record, so kept across crashes",
                           "键 -> 事务；属于 PREPARED 记录的一部分，因此崩溃后仍然保留"),
    "field.waiting.help": _s("Prepares queued behind a lock: transaction -> key", "排队等锁的准备请求：事务 -> 键"),
    "param.vote_timeout.help": _s("coordinator aborts if a vote has not arrived by then (ms)",
                                  "到时仍未收到投票，协调者就中止（毫秒）"),
    "param.query_interval.help": _s(
        "a PREPARED participant asks the coordinator after this long without a decision, and again (ms)",
        "已准备的参与者等这么久仍无决定就询问协调者，之后反复询问（毫秒）"),
    "param.resend_interval.help": _s("coordinator re-sends its decision to whoever has not acked (ms)",
                                     "协调者向尚未确认的参与者重发决定的间隔（毫秒）"),
    "param.lock_wait.help": _s("a Prepare waits this long for a lock, then the participant (not yet prepared) votes no (ms)",
                               "准备请求等锁的上限，超时后（尚未准备的）参与者投反对票（毫秒）"),
    "param.log_delay.help": _s("time the coordinator's forced write of COMMIT takes (ms)", "协调者强制写入 COMMIT 所需的时间（毫秒）"),
    "param.no_voter.help": _s("participant number that always votes no (0 = nobody)", "总是投反对票的参与者编号（0 = 无）"),
    "op.begin.help": _s("start a transaction that writes this key at every participant",
                        "开始一个事务，在每个参与者上写入这个键"),
    "op.begin.arg": _s("key", "键"),
    "params.nodes": _s("Participants", "参与者"),
    "preset.free": _s("Free play: click the coordinator c and choose “begin transaction”, then crash nodes, drop "
                      "messages or cut the network and watch what 2PC does.",
                      "自由演练：点击协调者 c，选择“开始事务”，然后让节点崩溃、丢弃消息或切断网络，观察两阶段提交如何应对。"),
    "params.nodes.help": _s("How many participants; the coordinator c comes on top", "参与者的数量；另有协调者 c"),
    "param.vote_timeout": _s("vote timeout (ms)", "投票超时（毫秒）"),
    "param.query_interval": _s("in-doubt query interval (ms)", "存疑询问间隔（毫秒）"),
    "param.resend_interval": _s("decision re-send interval (ms)", "决定重发间隔（毫秒）"),
    "param.lock_wait": _s("lock wait limit (ms)", "等锁上限（毫秒）"),
    "param.log_delay": _s("COMMIT log write time (ms)", "COMMIT 日志写入时间（毫秒）"),
    "param.no_voter": _s("participant that votes no (0 = none)", "投反对票的参与者（0 = 无）"),
    "timer.vote_timeout": _s("vote timeout", "投票超时"),
    "timer.flush": _s("COMMIT write done", "COMMIT 写入完成"),
    "timer.resend": _s("re-send decision", "重发决定"),
    "timer.query": _s("ask the coordinator", "询问协调者"),
    "timer.lock_wait": _s("stop waiting for a lock", "放弃等锁"),
    # bugs and invariants
    "bug.heuristic_abort": _s("Heuristic abort: a PREPARED participant that hears nothing aborts on its own.",
                              "启发式中止：已准备的参与者等不到决定就自行中止。"),
    "inv.atomicity": _s("No transaction is committed at one participant and aborted at another.",
                        "同一事务不能在一个参与者提交而在另一个参与者中止。"),
    "inv.commit_needs_prepared": _s("The coordinator logs COMMIT only after every participant logged PREPARED.",
                                    "只有所有参与者都记录了 PREPARED，协调者才能记录 COMMIT。"),
    "inv.commit_matches_decision": _s("A participant commits only a transaction whose logged decision is COMMIT.",
                                      "参与者只能提交协调者已记录为 COMMIT 的事务。"),
    "inv.decision_stable": _s("A decision, once logged or announced, never changes, not even across crashes.",
                              "决定一旦记录或宣布就不会改变，崩溃重启后也不会。"),
    "inv.locks_held": _s("A PREPARED transaction keeps its lock until its outcome is logged, across crashes too: "
                         "no other transaction prepares on that key at that participant meanwhile.",
                         "已准备的事务在其结果写入日志之前一直持有锁，崩溃重启后也是如此：在此期间，"
                         "同一参与者上不会有其他事务在该键上完成准备。"),
    "inv.all_resolved": _s("Eventually no participant is left PREPARED or waiting, no lock is held, "
                           "and every decision is acknowledged.",
                           "最终没有参与者停留在 PREPARED 或等待状态，没有锁被持有，每个决定都已被确认。"),
    # the canvas label under each node
    "2pc.label.idle": _s("no transaction yet", "尚无事务"),
    "2pc.label.tx": _s("{tx}: {state}", "{tx}：{state}"),
    "2pc.label.locked": _s("{tx}: {state} · locks {locks}", "{tx}：{state} · 锁 {locks}"),
    # narration (ctx.note)
    "2pc.begin": _s("{tx} begins: the coordinator asks every participant to prepare to write {item}.",
                    "{tx} 开始：协调者请所有参与者准备写入 {item}。"),
    "2pc.prepared": _s("{tx}: locked {item}, force-wrote PREPARED, votes yes. From now on it must obey the "
                       "coordinator.",
                       "{tx}：锁住 {item}，强制写入 PREPARED，投赞成票。从此它必须听从协调者。"),
    "2pc.vote_no": _s("{tx}: cannot do the work, writes ABORTED and votes no.",
                      "{tx}：无法完成工作，写入 ABORTED 并投反对票。"),
    "2pc.waits": _s("{tx}: {item} is locked by {holder}, so this Prepare waits.",
                    "{tx}：{item} 被 {holder} 锁住，这个准备请求只能等待。"),
    "2pc.gave_up": _s("{tx}: waited too long for {item}. Not prepared yet, so it may abort on its own: votes no.",
                      "{tx}：等 {item} 太久。尚未准备，所以可以自行中止：投反对票。"),
    "2pc.got_no": _s("{tx}: {node} voted no, so the transaction must abort.",
                     "{tx}：{node} 投了反对票，事务必须中止。"),
    "2pc.logging": _s("{tx}: every vote is yes. Force-writing COMMIT to the log; it is not decided until the "
                      "write completes.",
                      "{tx}：全部赞成。正在强制写入 COMMIT 日志；写完之前还不算决定。"),
    "2pc.vote_timeout": _s("{tx}: no vote from {missing} in time: abort.",
                           "{tx}：{missing} 未按时投票：中止。"),
    "2pc.decided": _s("{tx}: decision {decision}.", "{tx}：决定 {decision}。"),
    "2pc.committed": _s("{tx}: committed, lock released.", "{tx}：已提交，锁已释放。"),
    "2pc.aborted": _s("{tx}: aborted, lock released.", "{tx}：已中止，锁已释放。"),
    "2pc.end": _s("{tx}: every participant acknowledged COMMIT; the coordinator writes END.",
                  "{tx}：所有参与者都确认了 COMMIT；协调者写入 END。"),
    "2pc.forget": _s("{tx}: every participant acknowledged ABORT; nothing to log (presumed abort).",
                     "{tx}：所有参与者都确认了 ABORT；无需写日志（推定中止）。"),
    "2pc.blocked": _s("{tx}: prepared but no decision yet. It may not decide alone: it keeps the lock on {item} "
                      "and asks the coordinator.",
                      "{tx}：已准备但还没有决定。它不能自行决定：继续持有 {item} 的锁，并询问协调者。"),
    "2pc.in_doubt": _s("{tx}: restarted with PREPARED and no outcome in the log: in doubt. Lock on {item} "
                       "re-acquired; asking the coordinator.",
                       "{tx}：重启后日志里有 PREPARED 但没有结果：存疑。重新获得 {item} 的锁，询问协调者。"),
    "2pc.recover_commit": _s("{tx}: restarted with COMMIT but no END in the log: re-sending Commit.",
                             "{tx}：重启后日志里有 COMMIT 但没有 END：重发提交。"),
    "2pc.presumed_abort": _s("{tx}: restarted with no decision in the log: presumed abort. It tells whoever asks.",
                             "{tx}：重启后日志里没有决定：推定中止。谁来询问就告诉谁。"),
    "2pc.answer_presumed": _s("{tx}: {node} asks; no COMMIT record, so the answer is ABORT (presumed abort).",
                              "{tx}：{node} 来询问；没有 COMMIT 记录，所以答复中止（推定中止）。"),
    "2pc.not_yet": _s("{tx}: {node} asks, but the decision is not made yet: no answer.",
                      "{tx}：{node} 来询问，但决定尚未做出：暂不答复。"),
    "2pc.heuristic": _s("BUG {tx}: prepared, heard nothing, and aborts on its own (heuristic abort).",
                        "错误 {tx}：已准备，等不到消息，就自行中止（启发式中止）。"),
    "2pc.heuristic_damage": _s("{tx}: told {decision}, but it already {state} on its own. Atomicity is broken.",
                               "{tx}：收到 {decision}，但它已自行 {state}。原子性被破坏。"),
    "2pc.not_coordinator": _s("Only the coordinator begins transactions ({op} ignored).",
                              "只有协调者能开始事务（已忽略 {op}）。"),
    # Short names (page headings); the inv.* keys above are the full statements.
    "title": _s("Two-phase commit", "两阶段提交"),
    "invariant.atomicity": _s("Atomicity", "原子性"),
    "invariant.commit_needs_prepared": _s("Commit needs prepared", "提交须全员已准备"),
    "invariant.commit_matches_decision": _s("Commit matches decision", "提交与决定一致"),
    "invariant.decision_stable": _s("Decision stable", "决定不变"),
    "invariant.locks_held": _s("Locks held while in doubt", "存疑期间持有锁"),
    "invariant.all_resolved": _s("All resolved", "全部了结"),
    # Violation messages (Violation.key; the English text is the message itself).
    "viol.decision_stable.reannounced": _s("{tx}: the coordinator announced {before} and later {said}",
                                           "{tx}：协调者先宣布了 {before}，后来又宣布 {said}"),
    "viol.decision_stable.announced_other": _s("{tx}: the coordinator logged COMMIT but announced {said}",
                                               "{tx}：协调者记录了 COMMIT，却宣布了 {said}"),
    "viol.decision_stable.log_lost": _s("{node}'s log lost records it had written",
                                        "{node} 的日志丢失了它已写入的记录"),
    "viol.decision_stable.commit_after_abort": _s("{tx}: the coordinator logged COMMIT after announcing ABORT",
                                                  "{tx}：协调者在宣布 ABORT 之后又记录了 COMMIT"),
    "viol.commit_needs_prepared": _s("{tx}: the coordinator logged COMMIT but {missing} never logged PREPARED",
                                     "{tx}：协调者记录了 COMMIT，但 {missing} 从未记录 PREPARED"),
    "viol.commit_matches_decision": _s("{tx}: {node} committed but the coordinator has no COMMIT record",
                                       "{tx}：{node} 已提交，但协调者没有 COMMIT 记录"),
    "viol.atomicity.committed": _s("{tx}: {node} committed but {others} aborted",
                                   "{tx}：{node} 已提交，但 {others} 已中止"),
    "viol.atomicity.aborted": _s("{tx}: {node} aborted but {others} committed",
                                 "{tx}：{node} 已中止，但 {others} 已提交"),
    "viol.locks_held.shared": _s("{node}: {tx} prepared on {item} while {holder} still holds it in doubt",
                                 "{node}：{holder} 仍在存疑中持有 {item}，{tx} 却也在 {item} 上完成了准备"),
    "viol.locks_held.lost": _s("{node} is PREPARED for {tx} but does not hold its lock on {item}",
                               "{node} 对 {tx} 处于 PREPARED 状态，却没有持有 {item} 的锁"),
    "viol.all_resolved.in_doubt": _s("{node} is still PREPARED (in doubt) for {txs}",
                                     "{node} 在 {txs} 上仍处于 PREPARED（存疑）状态"),
    "viol.all_resolved.waiting": _s("{node} still has Prepares waiting for locks: {txs}",
                                    "{node} 仍有等待锁的准备请求：{txs}"),
    "viol.all_resolved.locks": _s("{node} still holds locks: {locks}",
                                  "{node} 仍持有锁：{locks}"),
    "viol.all_resolved.unfinished": _s("the coordinator has not finished {txs}",
                                       "协调者尚未完成 {txs}"),
}

PRESET_TEXT = {
    "commit": ("Commit", ("Everyone votes yes; the coordinator logs COMMIT, every participant commits and releases "
               "its lock, then the coordinator writes END."),
               "提交", "全部投赞成；协调者记录 COMMIT，每个参与者提交并释放锁，然后协调者写入 END。"),
    "vote_no": ("A participant votes no", ("One no vote is enough: the coordinator aborts and the prepared "
                "participants release their locks."),
                "有参与者投反对票", "一票反对就足够：协调者中止，已准备的参与者释放锁。"),
    "coordinator_crash": ("Coordinator crashes before deciding",
                          ("The coordinator crashes after every yes vote but before COMMIT is on disk: the "
                          "participants are blocked, PREPARED and holding locks, and can only ask. After the restart "
                          "there is no decision in the log, so presumed abort answers their questions, while a second "
                          "transaction waits on those locks."),
                          "协调者在决定前崩溃",
                          ("协调者在收到全部赞成票之后、COMMIT 写入磁盘之前崩溃：参与者被阻塞，停在 PREPARED 并持有锁，"
                          "只能询问。重启后日志里没有决定，推定中止回答了它们的询问，而第二个事务一直在等这些锁。")),
    "commit_one": ("Commit reaches one participant; the coordinator crashes",
                   ("COMMIT is logged and sent, but only p1 can be reached (p2 and p3 are cut off), and the "
                    "coordinator crashes right after: p1 commits, while p2 and p3 stay in doubt, holding their locks, "
                    "until the coordinator returns and re-sends Commit."),
                   "提交只送达一个参与者，协调者随即崩溃",
                   ("COMMIT 已记录并发出，但只有 p1 收得到（p2 和 p3 被隔离），协调者随即崩溃：p1 提交，"
                    "而 p2 和 p3 只能存疑并持有锁，直到协调者恢复并重发提交。")),
    "participant_crash": ("Participant crashes while prepared",
                          ("p2 crashes after voting yes. On restart its log says PREPARED with no outcome: it is in "
                          "doubt, takes its lock back, asks the coordinator and learns COMMIT."),
                          "参与者在已准备时崩溃",
                          ("p2 投赞成票后崩溃。重启后日志显示 PREPARED 但没有结果：它处于存疑状态，重新拿回锁，"
                          "询问协调者，得知 COMMIT。")),
    "heuristic_abort": ("Heuristic abort (bug)",
                        ("With the bug on, p3 is cut off after voting yes, gives up and aborts on its own, while p1 and "
                        "p2 commit: atomicity is broken. That is why a prepared participant must wait."),
                        "启发式中止（错误）",
                        ("打开这个错误后，p3 投赞成票后被隔离，等不及就自行中止，而 p1 和 p2 已提交：原子性被破坏。"
                        "这就是已准备的参与者必须等待的原因。")),
}

for _name, (_title, _lesson, _title_zh, _lesson_zh) in PRESET_TEXT.items():
    STRINGS[f"preset.{_name}"] = _s(_title, _title_zh)
    STRINGS[f"preset.{_name}.lesson"] = _s(_lesson, _lesson_zh)


def _begin(at: int, key: str = "x") -> dict:
    return {"at": at, "do": "request", "node": COORDINATOR, "op": "begin", "arg": key}


# Action times below were read from each preset's deterministic trace
# (python -m engine run --protocol 2pc --preset NAME).
PRESET_SCENARIOS = {
    "commit": {"actions": [_begin(100)], "until": 4000},
    "vote_no": {"params": {"no_voter": 2}, "actions": [_begin(100)], "until": 4000},
    # The last vote arrives by t=160 and COMMIT takes 300 ms to write, so the
    # crash at 300 always falls between "all yes" and "decided". The restart
    # at 2165 comes just after the participants' questions of t~2110-2125
    # were lost, so tx2 waits until their next questions, ~500 ms later.
    "coordinator_crash": {"params": {"log_delay": 300}, "until": 6500, "actions": [
        _begin(100), {"at": 300, "do": "crash", "node": COORDINATOR},
        {"at": 2165, "do": "restart", "node": COORDINATOR}, _begin(2170)]},
    # Every vote is in by t=160; COMMIT is written and sent between 170 and
    # 210. The cut at 165 stops the Commits to p2 and p3; the crash at 215
    # comes after COMMIT is on disk. The cut heals while c is still down.
    "commit_one": {"until": 6500, "actions": [
        _begin(100), {"at": 165, "do": "partition", "groups": [["p2", "p3"], [COORDINATOR, "p1"]]},
        {"at": 215, "do": "crash", "node": COORDINATOR}, {"at": 1000, "do": "heal"},
        {"at": 2500, "do": "restart", "node": COORDINATOR}]},
    # p2 has voted yes by t=130; the Commit cannot reach it before t=180.
    "participant_crash": {"until": 5500, "actions": [
        _begin(100), {"at": 170, "do": "crash", "node": "p2"}, {"at": 1500, "do": "restart", "node": "p2"}]},
    # Same window: p3's yes vote is through, the Commit to p3 hits the partition.
    "heuristic_abort": {"bugs": ["heuristic_abort"], "until": 5500, "actions": [
        _begin(100), {"at": 170, "do": "partition", "groups": [["p3"], [COORDINATOR, "p1", "p2"]]},
        {"at": 1500, "do": "heal"}]},
}


def _en(key: str) -> str:
    """The English text of a translated string: declarations and strings say it once."""
    return STRINGS[key]["en"]


class TwoPhaseCommit(Protocol):
    name = "2pc"
    title = "Two-phase commit"
    category = "transactions"
    summary = STRINGS["summary"]["en"]
    nodes_default = 3
    nodes_min = 2
    nodes_max = 8
    params = (
        Param("vote_timeout", 1000, 50, 60_000, _en("param.vote_timeout.help")),
        Param("query_interval", 500, 50, 60_000, _en("param.query_interval.help")),
        Param("resend_interval", 300, 50, 60_000, _en("param.resend_interval.help")),
        Param("lock_wait", 1500, 50, 60_000, _en("param.lock_wait.help")),
        Param("log_delay", 50, 0, 10_000, _en("param.log_delay.help")),
        Param("no_voter", 0, 0, 8, _en("param.no_voter.help")),
    )
    bugs = (Bug("heuristic_abort", "a PREPARED participant that hears no decision aborts on its own"),)
    operations = (Operation("begin", roles=("coordinator",), arg="key", default="x",
                            help=_en("op.begin.help")),)
    fields = (
        Field("role"),
        Field("next_tx", durable=True, help=_en("field.next_tx.help")),
        Field("decisions", durable=True, help=_en("field.decisions.help")),
        Field("ended", durable=True, help=_en("field.ended.help")),
        Field("phase", help=_en("field.phase.help")),
        Field("votes", help=_en("field.votes.help")),
        Field("pending_acks", help=_en("field.pending_acks.help")),
        Field("status", durable=True, help=_en("field.status.help")),
        Field("locks", durable=True, help=_en("field.locks.help")),
        Field("waiting", help=_en("field.waiting.help")),
    )
    roles = {"coordinator": "#2563eb", "participant": "#059669"}
    timers = ("vote_timeout", "resend", "query", "lock_wait")
    presets = tuple(Preset(n, t, lesson, PRESET_SCENARIOS[n]) for n, (t, lesson, _, _) in PRESET_TEXT.items())
    strings = STRINGS
    checker_class = TwoPCChecker

    def node_ids(self, n):
        return [COORDINATOR] + [f"p{i}" for i in range(1, n + 1)]

    def layout(self, ids):
        return {i: {"place": "center" if i == COORDINATOR else "ring"} for i in ids}

    def validate(self, nodes, params):
        if params["no_voter"] > nodes:
            return f"param no_voter={params['no_voter']} names no participant: this run has p1..p{nodes}"
        return None

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = Coordinator if node_id == COORDINATOR else Participant
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        return (COORDINATOR, "begin", rng.choice(("x", "y")))


PROTOCOL = TwoPhaseCommit()
