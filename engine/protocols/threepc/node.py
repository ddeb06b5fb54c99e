"""Three-phase commit: the coordinator and the participants, as Skeen describes them.

Read it beside the package docstring, which states the rules. Each handler is
one transition of the paper's state diagrams:

  coordinator  WAIT --every Vote yes--> force-write PRECOMMIT, send PreCommit --> PRECOMMIT
               WAIT --a Vote no, or the vote timeout--> ABORT
               PRECOMMIT --every Ack--> COMMIT;  --ack timeout--> COMMIT (Skeen) or ABORT (variant)
  participant  INIT --CanCommit--> force-write the yes vote: READY (or ABORTED, vote no)
               READY --PreCommit--> PRECOMMITTED --DoCommit--> COMMITTED
               READY, PRECOMMITTED --Abort--> ABORTED
               READY, PRECOMMITTED --timeout--> the termination protocol

Every decision is a forced log write (kit.wal) before any message that
depends on it leaves. Volatile state (tallies, termination rounds, timers) is
rebuilt from the log alone after a restart.
"""

from __future__ import annotations

from ...kit import wal
from ...kit.deadlines import Deadlines
from ...kit.txtable import TxTable
from ...protocol import Node

COORDINATOR = "c"
IN_DOUBT = ("READY", "PRECOMMITTED")
OUTCOMES = ("COMMITTED", "ABORTED")
DECISION_MESSAGE = {"COMMITTED": "DoCommit", "ABORTED": "Abort"}
# The termination rule a decider applies, and how it is narrated.
RULE_NOTES = {"aborted": "3pc.rule.aborted", "committed": "3pc.rule.committed",
              "precommitted": "3pc.rule.precommitted", "all_ready": "3pc.rule.all_ready"}


def number(node_id: str) -> int:
    """p3 -> 3: the order of the termination protocol's election."""
    return int(node_id[1:])


def termination_rule(states: dict[str, str]) -> str:
    """Skeen's termination rules over the participants' states (node -> state), in order:

    aborted       someone has ABORTED: abort.
    committed     someone has COMMITTED: commit.
    precommitted  someone is PRECOMMITTED: everyone voted yes and nobody can have
                  aborted; bring the READY ones to PRECOMMITTED, then commit.
    all_ready     everyone is READY: nobody can have committed (whoever commits
                  first has made every participant that is up PRECOMMITTED): abort.
    """
    found = set(states.values())
    if "ABORTED" in found:
        return "aborted"
    if "COMMITTED" in found:
        return "committed"
    if "PRECOMMITTED" in found:
        return "precommitted"
    return "all_ready"


def narrate_rule(ctx, tx, rule: str, states: dict[str, str]) -> None:
    """Say which rule applies, and to whom."""
    ready = [p for p, s in states.items() if s == "READY"]
    decided = [p for p, s in states.items() if s in OUTCOMES]
    if rule == "precommitted" and not ready:
        ctx.note("3pc.rule.all_precommitted", tx=tx)
    else:
        ctx.note(RULE_NOTES[rule], tx=tx, node=", ".join(decided), ready=", ".join(ready))


def listing(states: dict[str, str]) -> str:
    """{"p1": "READY", "p2": "PRECOMMITTED"} -> "p1 READY, p2 PRECOMMITTED" (for narration)."""
    return ", ".join(f"{n} {s}" for n, s in sorted(states.items(), key=lambda item: number(item[0])))


class ThreePCNode(Node):
    """What both roles share: deadline timers and dispatch by message kind and timer name."""

    TIMERS: tuple[str, ...] = ()
    HANDLERS: dict = {}         # message kind -> handler(self, ctx, msg)
    TIMER_HANDLERS: dict = {}   # timer name -> handler(self, ctx, tx)

    def __init__(self, *args):
        super().__init__(*args)
        self.participants = self.node_ids[1:]
        self.deadlines = Deadlines(self.TIMERS)
        self.said: dict[str, tuple] = {}   # tx -> the last "still waiting" note, said once

    def on_message(self, ctx, msg):
        handler = self.HANDLERS.get(msg.kind)
        if handler is not None:
            handler(self, ctx, msg)

    def on_timer(self, ctx, name):
        for tx in self.deadlines.take_due(ctx, name):
            self.TIMER_HANDLERS[name](self, ctx, tx)
        self.deadlines.rearm(ctx, name)

    def later(self, ctx, timer, tx, ms):
        self.deadlines.set(ctx, timer, tx, ctx.now + ms)

    def say(self, ctx, tx, key, **args):
        """Narrate a wait once, not at every retry."""
        if self.said.get(tx) != (key, args):
            self.said[tx] = (key, args)
            ctx.note(key, tx=tx, **args)


# ---------------------------------------------------------------- coordinator

class Coordinator(ThreePCNode):
    role = "coordinator"
    TIMERS = ("vote_timeout", "flush", "ack_timeout", "resend", "ask")

    def __init__(self, *args):
        super().__init__(*args)
        # phase: WAIT -> LOGGING (PRECOMMIT being written) -> PRECOMMIT -> COMMITTING -> COMMITTED
        #        WAIT -> ABORTING -> ABORTED
        #        RECOVERING (restarted with PRECOMMIT and no decision: asking) -> PRECOMMIT or ABORTING
        self.phase = TxTable(finished=("COMMITTED", "ABORTED"))
        self.votes: dict[str, dict[str, str]] = {}
        self.acks: dict[str, list[str]] = {}       # tx -> participants whose Ack is awaited
        self.asking: dict[str, dict[str, str]] = {}  # RECOVERING: tx -> participant -> state it answered
        self.clients: set[str] = set()             # begun since this start: a client awaits the outcome
        self.terminating: set[str] = set()         # PRECOMMIT again after a restart, by the termination rule
        # Durable, read back from the log: per transaction PRECOMMIT, then COMMIT or ABORT; and END.
        self.records = TxTable(finished=("COMMIT", "ABORT"))
        self.ended: set[str] = set()
        for kind, tx in wal.records(self.disk):
            if kind == "END":
                self.ended.add(tx)
            else:
                self.records[tx] = kind

    def on_recover(self, ctx):
        """Rebuild every transaction's phase from the log; votes, acks and timers are gone."""
        for n in range(1, self.disk.get("next_tx", 1)):
            tx = f"tx{n}"
            record = self.records.get(tx)
            if tx in self.ended:
                self.phase[tx] = "COMMITTED" if record == "COMMIT" else "ABORTED"
            elif record in ("COMMIT", "ABORT"):
                # Decided, but someone may not know yet.
                ctx.note("3pc.recover_resend", tx=tx, decision=record)
                self.phase[tx] = "COMMITTING" if record == "COMMIT" else "ABORTING"
                self.acks[tx] = list(self.participants)
                self.send_decision(ctx, tx)
            elif record == "PRECOMMIT":
                # Some participants may be PRECOMMITTED, or have committed by the termination
                # protocol meanwhile: it may not decide alone. It asks, like a restarted participant.
                ctx.note("3pc.recover_ask", tx=tx)
                self.phase[tx] = "RECOVERING"
                self.ask(ctx, tx)
            else:
                # No PRECOMMIT was written, so no PreCommit left: nobody can be PRECOMMITTED.
                ctx.note("3pc.recover_abort", tx=tx)
                self.decide(ctx, tx, "ABORT")

    def on_request(self, ctx, op, arg):
        if op != "begin":
            return
        key = (arg or "").strip() or "x"
        n = self.disk.get("next_tx", 1)
        tx = f"tx{n}"
        ctx.persist(next_tx=n + 1)   # durable, so an id is never reused after a crash
        self.phase[tx] = "WAIT"
        self.votes[tx] = {}
        self.clients.add(tx)
        ctx.note("3pc.begin", tx=tx, item=key)
        for p in self.participants:
            ctx.send(p, "CanCommit", tx=tx, key=key)
        self.later(ctx, "vote_timeout", tx, self.params["vote_timeout"])

    # -- phase one: votes

    def on_vote(self, ctx, msg):
        tx, vote = msg.body["tx"], msg.body["vote"]
        if self.phase.get(tx) != "WAIT":
            return   # late or repeated: the decision is re-sent until acknowledged anyway
        self.votes[tx][msg.src] = vote
        if vote == "no":
            ctx.note("3pc.got_no", tx=tx, node=msg.src)
            self.decide(ctx, tx, "ABORT")
        elif all(self.votes[tx].get(p) == "yes" for p in self.participants):
            ctx.note("3pc.all_yes", tx=tx)
            self.phase[tx] = "LOGGING"
            self.deadlines.clear(ctx, "vote_timeout", tx)
            self.later(ctx, "flush", tx, self.params["log_delay"])

    def vote_timeout(self, ctx, tx):
        if self.phase.get(tx) == "WAIT":
            missing = [p for p in self.participants if p not in self.votes[tx]]
            ctx.note("3pc.vote_timeout", tx=tx, missing=", ".join(missing))
            self.decide(ctx, tx, "ABORT")

    # -- phase two: PreCommit

    def precommit_written(self, ctx, tx):
        """The PRECOMMIT record is on disk: now everyone may learn that everyone voted yes."""
        if self.phase.get(tx) != "LOGGING":
            return
        wal.append(ctx, self.disk, "PRECOMMIT", tx)
        self.records[tx] = "PRECOMMIT"
        self.votes.pop(tx, None)
        ctx.note("3pc.precommit", tx=tx)
        self.send_precommit(ctx, tx, self.participants)

    def send_precommit(self, ctx, tx, to):
        self.phase[tx] = "PRECOMMIT"
        self.acks[tx] = list(to)
        for p in to:
            ctx.send(p, "PreCommit", tx=tx)
        self.later(ctx, "ack_timeout", tx, self.params["ack_timeout"])

    def on_ack(self, ctx, msg):
        tx, state = msg.body["tx"], msg.body["state"]
        waiting = self.acks.get(tx)
        if waiting is None or msg.src not in waiting:
            return
        phase = self.phase[tx]
        if phase == "PRECOMMIT" and state in OUTCOMES:
            # Answering a PreCommit it had decided already (while this node was down): adopt that.
            ctx.note("3pc.learned", tx=tx, node=msg.src, state=state)
            self.decide(ctx, tx, "COMMIT" if state == "COMMITTED" else "ABORT")
            return
        if (phase == "PRECOMMIT") != (state == "PRECOMMITTED"):
            return   # a late Ack of the other step
        waiting.remove(msg.src)
        if waiting:
            return
        if phase == "PRECOMMIT":
            ctx.note("3pc.all_acked", tx=tx)
            self.decide(ctx, tx, "COMMIT")
        else:
            self.finish(ctx, tx)

    def ack_timeout(self, ctx, tx):
        if self.phase.get(tx) != "PRECOMMIT":
            return
        missing = ", ".join(self.acks[tx])
        if self.params["ack_timeout_decision"] == "commit" or tx in self.terminating:
            # Skeen: with delays bounded, a missing Ack means a crash. Everyone still up got
            # PreCommit, so a termination protocol among them would commit too. (After a restart
            # this is the termination rule itself, whatever the variant: someone is PRECOMMITTED.)
            ctx.note("3pc.ack_timeout_commit", tx=tx, missing=missing)
            self.decide(ctx, tx, "COMMIT")
        else:
            ctx.note("3pc.ack_timeout_abort", tx=tx, missing=missing)
            self.decide(ctx, tx, "ABORT")

    # -- phase three: the decision

    def decide(self, ctx, tx, decision):
        """Force-write the decision, then tell the client and every participant (until they Ack)."""
        for timer in ("vote_timeout", "flush", "ack_timeout", "ask"):
            self.deadlines.clear(ctx, timer, tx)
        wal.append(ctx, self.disk, decision, tx)
        self.records[tx] = decision
        self.votes.pop(tx, None)
        self.asking.pop(tx, None)
        self.said.pop(tx, None)
        self.phase[tx] = "COMMITTING" if decision == "COMMIT" else "ABORTING"
        self.acks[tx] = list(self.participants)
        ctx.note("3pc.decided", tx=tx, decision=decision)
        if tx in self.clients:
            self.clients.discard(tx)
            ctx.reply("begin", {"tx": tx, "decision": decision})
        self.send_decision(ctx, tx)

    def send_decision(self, ctx, tx):
        kind = "DoCommit" if self.records[tx] == "COMMIT" else "Abort"
        for p in self.acks[tx]:
            ctx.send(p, kind, tx=tx)
        self.later(ctx, "resend", tx, self.params["resend_interval"])

    def resend_due(self, ctx, tx):
        if self.phase.get(tx) in ("COMMITTING", "ABORTING"):
            self.send_decision(ctx, tx)

    def finish(self, ctx, tx):
        """Every participant acknowledged the decision: stop re-sending."""
        del self.acks[tx]
        self.deadlines.clear(ctx, "resend", tx)
        wal.append(ctx, self.disk, "END", tx)   # lazily: it only saves re-sending after a crash
        self.ended.add(tx)
        decision = self.records[tx]
        self.phase[tx] = "COMMITTED" if decision == "COMMIT" else "ABORTED"
        ctx.note("3pc.end", tx=tx, decision=decision)

    # -- questions: termination rounds and restarted participants ask

    def on_state_req(self, ctx, msg):
        tx = msg.body["tx"]
        phase = self.phase.get(tx)
        state = {"COMMIT": "COMMITTED", "ABORT": "ABORTED"}.get(self.records.get(tx), phase)
        ctx.send(msg.src, "StateResp", tx=tx, state=state, recovering=phase == "RECOVERING")

    def ask(self, ctx, tx):
        self.asking[tx] = {}
        for p in self.participants:
            ctx.send(p, "StateReq", tx=tx, recovering=True)
        self.later(ctx, "ask", tx, self.params["state_wait"])

    def on_state_resp(self, ctx, msg):
        tx, state = msg.body["tx"], msg.body["state"]
        if self.phase.get(tx) != "RECOVERING":
            return
        if state in OUTCOMES:
            ctx.note("3pc.learned", tx=tx, node=msg.src, state=state)
            self.decide(ctx, tx, "COMMIT" if state == "COMMITTED" else "ABORT")
        elif tx in self.asking:
            self.asking[tx][msg.src] = state

    def ask_due(self, ctx, tx):
        if self.phase.get(tx) != "RECOVERING":
            return
        answers = self.asking.pop(tx, None)
        if answers is None:          # the pause between two rounds of questions is over
            self.ask(ctx, tx)
            return
        missing = [p for p in self.participants if p not in answers]
        if missing:
            # A participant that is down may have committed or aborted: wait for everyone.
            self.say(ctx, tx, "3pc.cannot_decide", missing=", ".join(missing))
            self.later(ctx, "ask", tx, self.params["resend_interval"])
            return
        rule = termination_rule(answers)
        ctx.note("3pc.everyone_answered", tx=tx, states=listing(answers))
        narrate_rule(ctx, tx, rule, answers)
        ready = [p for p, s in answers.items() if s == "READY"]
        if rule != "precommitted":
            self.decide(ctx, tx, "ABORT")      # all READY (a decided answer was adopted on arrival)
        elif ready:
            self.terminating.add(tx)
            self.send_precommit(ctx, tx, ready)
        else:
            self.decide(ctx, tx, "COMMIT")

    # -- the page

    def label(self) -> list:
        """The line under the node on the canvas: its newest transaction's phase."""
        txs = list(self.phase.open) or self.phase.last
        if not txs:
            return ["3pc.label.idle", {}]
        return ["3pc.label.tx", {"tx": txs[-1], "state": self.phase[txs[-1]]}]

    def view(self):
        return {
            "role": "coordinator",
            "label": self.label(),
            "next_tx": self.disk.get("next_tx", 1),
            "decisions": self.records.recent(),
            "phase": self.phase.recent(),
            "votes": {tx: dict(v) for tx, v in self.votes.items()},
            "acks": {tx: list(w) for tx, w in self.acks.items()},
            "termination": {tx: {"step": "asking", "answers": dict(a)} for tx, a in self.asking.items()},
        }

    def observe(self):
        """For the checker (and the nemesis): the unfinished transactions, all of them, not only
        the recent ones, each with its phase (tx -> WAIT, LOGGING, PRECOMMIT, RECOVERING...)."""
        return {"unfinished": {tx: self.phase[tx] for tx in self.phase.open}}

    HANDLERS = {"Vote": on_vote, "Ack": on_ack, "StateReq": on_state_req, "StateResp": on_state_resp}
    TIMER_HANDLERS = {"vote_timeout": vote_timeout, "flush": precommit_written, "ack_timeout": ack_timeout,
                      "resend": resend_due, "ask": ask_due}


# ---------------------------------------------------------------- participant

class Participant(ThreePCNode):
    role = "participant"
    TIMERS = ("ready_timeout", "precommit_timeout", "termination", "ask")

    def __init__(self, *args):
        super().__init__(*args)
        self.index = number(self.id)
        self.others = [p for p in self.participants if p != self.id]
        # Durable, replayed from the log: each transaction's state and the locks of those in doubt.
        self.status = TxTable(finished=OUTCOMES)
        self.keys: dict[str, str] = {}
        self.locks: dict[str, str] = {}
        for record in wal.records(self.disk):
            self.replay(record)
        # Volatile: the termination protocol's state per transaction, and which transactions
        # were in doubt at the last restart (those are never decided on a timeout).
        self.rounds: dict[str, dict] = {}
        self.recovering: set[str] = set()

    def replay(self, record):
        state, tx = record[0], record[1]
        self.status[tx] = state
        if state == "READY":             # the yes vote holds the key's lock
            self.keys[tx] = record[2]
            self.locks[record[2]] = tx
        elif state in OUTCOMES and self.locks.get(self.keys.get(tx)) == tx:
            del self.locks[self.keys[tx]]

    def write(self, ctx, *record):
        """Force-write a record, and apply it: memory always says what the log says."""
        wal.append(ctx, self.disk, *record)
        self.replay(record)

    def on_recover(self, ctx):
        """In doubt after a restart: it was away, so a timeout proves nothing. It asks."""
        for tx, state in list(self.status.items()):
            if state not in IN_DOUBT:
                continue
            self.recovering.add(tx)
            if "recovery_decides_alone" in self.bugs:
                # BUG: treats the time it was down as a timeout and decides alone.
                outcome = "ABORTED" if state == "READY" else "COMMITTED"
                ctx.note("3pc.bug_recovery_alone", tx=tx, state=state, outcome=outcome)
                self.finish(ctx, tx, outcome)
                continue
            ctx.note("3pc.recover_in_doubt", tx=tx, state=state, item=self.keys[tx])
            self.ask(ctx, tx)

    def on_request(self, ctx, op, arg):
        ctx.note("3pc.not_coordinator", op=op)

    # -- phase one

    def on_can_commit(self, ctx, msg):
        tx, key = msg.body["tx"], msg.body["key"]
        state = self.status.get(tx)
        if state is not None:   # a repeated CanCommit: repeat the vote
            ctx.send(COORDINATOR, "Vote", tx=tx, vote="no" if state == "ABORTED" else "yes")
            return
        holder = self.locks.get(key)
        if holder is not None or self.index == self.params["no_voter"]:
            # It cannot do the work (the key is held by a transaction in doubt, or a constraint
            # fails): it has promised nothing, so it aborts on its own and votes no.
            self.write(ctx, "ABORTED", tx)
            if holder is not None:
                ctx.note("3pc.vote_no_locked", tx=tx, item=key, holder=holder)
            else:
                ctx.note("3pc.vote_no", tx=tx)
            ctx.send(COORDINATOR, "Vote", tx=tx, vote="no")
            return
        self.write(ctx, "READY", tx, key)   # the yes vote is durable before it leaves
        ctx.note("3pc.vote_yes", tx=tx, item=key)
        ctx.send(COORDINATOR, "Vote", tx=tx, vote="yes")
        self.later(ctx, "ready_timeout", tx, self.params["ready_timeout"])

    # -- phase two

    def on_precommit(self, ctx, msg):
        tx = msg.body["tx"]
        state = self.status.get(tx)
        if state is None:
            return
        if state in OUTCOMES:   # decided already: say so, whoever is precommitting adopts it
            ctx.send(msg.src, "Ack", tx=tx, state=state)
            return
        if state == "READY":
            self.write(ctx, "PRECOMMITTED", tx)
            ctx.note("3pc.precommitted", tx=tx, node=msg.src)
            if self.deadlines.has("ready_timeout", tx):   # still waiting on the coordinator
                self.deadlines.clear(ctx, "ready_timeout", tx)
                self.later(ctx, "precommit_timeout", tx, self.params["precommit_timeout"])
        ctx.send(msg.src, "Ack", tx=tx, state="PRECOMMITTED")

    # -- phase three

    def on_decision(self, ctx, msg):
        """DoCommit or Abort, from the coordinator or a termination coordinator."""
        tx = msg.body["tx"]
        outcome = "COMMITTED" if msg.kind == "DoCommit" else "ABORTED"
        state = self.status.get(tx)
        if state in IN_DOUBT or (state is None and outcome == "ABORTED"):
            self.finish(ctx, tx, outcome)
        elif state is not None and state != outcome:
            # Only after an unsafe run (a partition, a slow network, a bug): the damage is done.
            ctx.note("3pc.damage", tx=tx, decision=msg.kind, state=state)
        if msg.src == COORDINATOR and tx in self.status:
            ctx.send(COORDINATOR, "Ack", tx=tx, state=self.status[tx])

    def finish(self, ctx, tx, outcome):
        """Log the outcome and release the lock; any termination round for it is over."""
        self.write(ctx, outcome, tx)
        for timer in self.TIMERS:
            self.deadlines.clear(ctx, timer, tx)
        self.rounds.pop(tx, None)
        self.recovering.discard(tx)
        self.said.pop(tx, None)
        ctx.note("3pc.committed" if outcome == "COMMITTED" else "3pc.aborted", tx=tx)

    # -- the termination protocol (the coordinator is suspected)

    def coordinator_silent(self, ctx, tx):
        """READY or PRECOMMITTED and nothing from the coordinator in time. With every delay
        below the timeout, the coordinator has crashed: the participants finish without it."""
        state = self.status.get(tx)
        if state not in IN_DOUBT or tx in self.rounds or tx in self.recovering:
            return
        if state == "READY" and "commit_on_ready_timeout" in self.bugs:
            ctx.note("3pc.bug_commit_on_ready", tx=tx)   # BUG: someone may have voted no
            self.finish(ctx, tx, "COMMITTED")
            return
        ctx.note("3pc.ready_timeout" if state == "READY" else "3pc.precommit_timeout", tx=tx)
        self.start_round(ctx, tx)

    def start_round(self, ctx, tx):
        """Ask every other participant for its state; the election happens when the answers are in."""
        for timer in ("ready_timeout", "precommit_timeout"):
            self.deadlines.clear(ctx, timer, tx)
        self.rounds[tx] = {"step": "collecting", "answers": {}, "restarted": []}
        for p in self.others:
            ctx.send(p, "StateReq", tx=tx, recovering=False)
        self.later(ctx, "termination", tx, self.params["state_wait"])

    def on_state_req(self, ctx, msg):
        tx = msg.body["tx"]
        state = self.status.get(tx)
        if state is None:
            # It never voted (it was down when CanCommit came): it may still abort on its own,
            # and doing so makes sure a late CanCommit gets a no.
            self.write(ctx, "ABORTED", tx)
            ctx.note("3pc.abort_unvoted", tx=tx, node=msg.src)
            state = "ABORTED"
        ctx.send(msg.src, "StateResp", tx=tx, state=state, recovering=tx in self.recovering)
        if (state in IN_DOUBT and not msg.body["recovering"] and msg.src != COORDINATOR
                and self.index < number(msg.src) and tx not in self.rounds and tx not in self.recovering):
            # The election: the asker suspects the coordinator, and a lower number outranks it.
            ctx.note("3pc.takes_over", tx=tx, node=msg.src)
            self.start_round(ctx, tx)

    def on_state_resp(self, ctx, msg):
        tx, state = msg.body["tx"], msg.body["state"]
        if self.status.get(tx) not in IN_DOUBT:
            return
        rnd = self.rounds.get(tx)
        if rnd is not None and rnd["step"] in ("collecting", "asking"):
            rnd["answers"][msg.src] = state
            if msg.body["recovering"]:
                rnd["restarted"].append(msg.src)
            if rnd["step"] == "collecting":
                return          # judged when the round ends, by the termination rules
        if state in OUTCOMES:
            ctx.note("3pc.learned", tx=tx, node=msg.src, state=state)
            self.finish(ctx, tx, state)

    def termination_due(self, ctx, tx):
        rnd = self.rounds.get(tx)
        if rnd is None or self.status.get(tx) not in IN_DOUBT:
            return
        if rnd["step"] == "collecting":
            self.elect(ctx, tx, rnd)
        elif rnd["step"] == "precommitting":
            # The PreCommits had time to arrive: whoever did not acknowledge has crashed.
            self.announce(ctx, tx, "COMMITTED")
        else:   # following, and no decision came: the new coordinator has crashed too
            ctx.note("3pc.leader_silent", tx=tx, node=rnd["leader"])
            self.start_round(ctx, tx)

    def elect(self, ctx, tx, rnd):
        """The new coordinator is the lowest-numbered participant that answered, is in doubt
        and has not just restarted (this one included)."""
        answers = rnd["answers"]
        candidates = [p for p, s in answers.items() if s in IN_DOUBT and p not in rnd["restarted"]]
        leader = min([self.id, *candidates], key=number)
        if leader == self.id:
            self.lead(ctx, tx, {self.id: self.status[tx], **answers}, "3pc.elected" if answers else None)
            return
        decided = [(p, s) for p, s in answers.items() if s in OUTCOMES]
        if decided:
            ctx.note("3pc.learned", tx=tx, node=decided[0][0], state=decided[0][1])
            self.finish(ctx, tx, decided[0][1])
            return
        ctx.note("3pc.follows", tx=tx, node=leader)
        self.rounds[tx] = {"step": "following", "leader": leader}
        # The leader decides within a round of its own plus a PreCommit round trip.
        self.later(ctx, "termination", tx, 2 * self.params["state_wait"])

    def lead(self, ctx, tx, states, why):
        """This participant decides, as the termination coordinator: it applies the rules to the
        states. `why` narrates how it came to decide (None: nobody else answered)."""
        rule = termination_rule(states)
        if why is None:   # the simple form: timeout in READY -> abort, in PRECOMMITTED -> commit
            ctx.note("3pc.alone_ready" if rule == "all_ready" else "3pc.alone_precommitted", tx=tx)
        else:
            ctx.note(why, tx=tx, states=listing(states))
            narrate_rule(ctx, tx, rule, states)
        if rule in ("aborted", "all_ready"):
            self.announce(ctx, tx, "ABORTED")
        elif rule == "committed":
            self.announce(ctx, tx, "COMMITTED")
        else:
            if self.status[tx] == "READY":
                self.write(ctx, "PRECOMMITTED", tx)   # its own state first: it is going to commit
            ready = [p for p, s in states.items() if s == "READY" and p != self.id]
            if not ready:
                self.announce(ctx, tx, "COMMITTED")
                return
            self.rounds[tx] = {"step": "precommitting", "waiting": ready}
            for p in ready:
                ctx.send(p, "PreCommit", tx=tx)
            self.later(ctx, "termination", tx, self.params["state_wait"])

    def on_ack(self, ctx, msg):
        """Acks of the PreCommits this participant sent as the termination coordinator."""
        tx, state = msg.body["tx"], msg.body["state"]
        rnd = self.rounds.get(tx)
        if rnd is None or rnd["step"] != "precommitting" or msg.src not in rnd["waiting"]:
            return
        if state in OUTCOMES:   # it had decided already: that decision stands
            ctx.note("3pc.learned", tx=tx, node=msg.src, state=state)
            self.announce(ctx, tx, state)
            return
        rnd["waiting"].remove(msg.src)
        if not rnd["waiting"]:
            self.announce(ctx, tx, "COMMITTED")

    def announce(self, ctx, tx, outcome):
        """Decide, and tell every other participant (one that is down will ask when it is back)."""
        self.finish(ctx, tx, outcome)
        for p in self.others:
            ctx.send(p, DECISION_MESSAGE[outcome], tx=tx)

    # -- recovery: ask everyone, decide only with everyone's answer

    def ask(self, ctx, tx):
        self.rounds[tx] = {"step": "asking", "answers": {}, "restarted": []}
        for n in self.node_ids:
            if n != self.id:
                ctx.send(n, "StateReq", tx=tx, recovering=True)
        self.later(ctx, "ask", tx, self.params["state_wait"])

    def ask_due(self, ctx, tx):
        rnd = self.rounds.get(tx)
        if rnd is None or self.status.get(tx) not in IN_DOUBT:
            return
        if rnd["step"] == "waiting":
            self.ask(ctx, tx)
            return
        answers = rnd["answers"]
        if COORDINATOR in answers and COORDINATOR not in rnd["restarted"]:
            # The coordinator is up and still deciding: its decision will come here too.
            self.say(ctx, tx, "3pc.wait_coordinator")
        elif len(answers) == len(self.node_ids) - 1:
            # Everyone is present and nobody has decided: these states are all there is.
            states = {p: s for p, s in answers.items() if p != COORDINATOR}
            self.lead(ctx, tx, {self.id: self.status[tx], **states}, "3pc.everyone_answered")
            return
        else:
            # Someone is down: it may have committed or aborted. No decision without it.
            missing = [n for n in self.node_ids if n != self.id and n not in answers]
            self.say(ctx, tx, "3pc.cannot_decide", missing=", ".join(missing))
        self.rounds[tx] = {"step": "waiting"}
        self.later(ctx, "ask", tx, self.params["resend_interval"])

    # -- the page

    def label(self) -> list:
        """The line under the node on the canvas: its newest transaction in doubt, else its newest one."""
        if self.status.open:
            tx = list(self.status.open)[-1]
            args = {"tx": tx, "state": self.status[tx]}
            if tx in self.recovering:
                return ["3pc.label.asking", args]
            if tx in self.rounds:
                return ["3pc.label.terminating", args]
            return ["3pc.label.locked", {**args, "locks": ", ".join(self.locks)}]
        if not self.status.last:
            return ["3pc.label.idle", {}]
        tx = self.status.last[-1]
        return ["3pc.label.tx", {"tx": tx, "state": self.status[tx]}]

    def view(self):
        return {
            "role": "participant",
            "label": self.label(),
            "status": self.status.recent(),
            "locks": dict(self.locks),
            "termination": {tx: _round_view(r) for tx, r in self.rounds.items()},
        }

    def observe(self):
        """For the checker (and the nemesis): every transaction in doubt, not only the recent
        ones, with its state (tx -> READY or PRECOMMITTED), and the lock table it enforces
        (key -> tx), which the checker's locks_held holds to its log."""
        return {"in_doubt": {tx: self.status[tx] for tx in self.status.open}, "locks": dict(self.locks)}

    HANDLERS = {"CanCommit": on_can_commit, "PreCommit": on_precommit, "DoCommit": on_decision,
                "Abort": on_decision, "StateReq": on_state_req, "StateResp": on_state_resp, "Ack": on_ack}
    TIMER_HANDLERS = {"ready_timeout": coordinator_silent, "precommit_timeout": coordinator_silent,
                      "termination": termination_due, "ask": ask_due}


def _round_view(rnd: dict) -> dict:
    """A fresh copy for the inspector (views are compared by value, never shared)."""
    out = {"step": rnd["step"]}
    if "answers" in rnd:
        out["answers"] = dict(rnd["answers"])
    if rnd.get("restarted"):
        out["restarted"] = list(rnd["restarted"])
    if "leader" in rnd:
        out["leader"] = rnd["leader"]
    if "waiting" in rnd:
        out["waiting"] = list(rnd["waiting"])
    return out
