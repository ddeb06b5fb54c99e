"""A 3PC-aware nemesis for random schedules: crashes, each with its restart later,
aimed at the windows where 3PC's rules are tested, or None (nothing to aim at).

Blind crashes rarely land in them: the PreCommit round lasts a round trip, and a
crash must then outlast the participants' timeouts. This reads the nodes as a
checker does (sim.observe: the coordinator's phase per open transaction, the
participants' in-doubt states) and the messages in flight (when votes and
PreCommits arrive), and times every move from the run's own parameters:

coordinator  the coordinator crashes while a transaction is open: as the votes
             come in, between its PRECOMMIT write and the Acks (mostly), around
             its decision, or while it recovers or re-sends a decision
participant  participants crash READY or PRECOMMITTED, or just after voting
             (before PreCommit reaches them)
cascade      the coordinator crashes in its window; then, as the participants
             time out, the termination coordinator (the lowest-numbered
             participant up) crashes, and maybe the one that replaces it
all_down     every participant crashes before its PreCommit comes; the
             coordinator decides alone on its timeouts and crashes about then;
             the participants come back (and ask) while it is still down
last_to_fail the coordinator is down: the participants that are up and in
             doubt about nothing (those that may know an outcome) crash, and
             the others and the coordinator come back without them (Skeen's
             total-failure recovery must wait for whoever failed last)

A crashed node comes back after a downtime drawn from the run's timeouts (before
the coordinator's own timeouts decide, before the participants suspect it, while
their termination protocol runs, after it); a quarter of the restarted nodes
crash once more while they recover. The moves are ordinary crash and restart
actions stamped `at` or later, so a schedule replays as data.
"""

from __future__ import annotations

from .node import COORDINATOR


class Nemesis:
    """One move of ThreePhaseCommit.fuzz_action. Reads `sim`, never changes it."""

    MOVES = ("coordinator", "participant", "cascade", "all_down", "last_to_fail")

    def __init__(self, rng, sim, at):
        self.rng, self.sim, self.at = rng, sim, at
        self.p = sim.params
        self.lo, self.hi = sim.network.latency
        self.participants = sim.ids[1:]
        c = sim.observe(COORDINATOR)
        self.open = c["unfinished"] if c is not None else None    # tx -> phase; None: the coordinator is down
        self.in_doubt = {n: f["in_doubt"] for n in self.participants
                         if (f := sim.observe(n)) is not None and f["in_doubt"]}
        self.out: list[dict] = []

    def move(self) -> list[dict] | None:
        rng = self.rng
        move = rng.choice(self.MOVES)
        if move == "participant":
            self.participants_crash()
        elif move == "last_to_fail":
            self.last_to_fail()
        elif self.open:
            tx = rng.choice(list(self.open))
            phase = self.open[tx]
            if move == "coordinator":
                self.coordinator_crash(tx, phase)
            elif phase not in ("WAIT", "LOGGING", "PRECOMMIT"):
                pass                      # decided, or recovering: no PreCommit round to aim at
            elif move == "cascade":
                self.cascade(tx, phase)
            else:
                self.all_down(tx, phase)
        return self.out or None

    # ---------------------------------------------------------------- timing

    def downtime(self) -> int:
        """How long a crashed node stays down, drawn from the run's timeouts: back before the
        coordinator's own timeouts decide, before the participants suspect it, while their
        termination protocol runs, or after it is over."""
        p, rng = self.p, self.rng
        quick = min(p["vote_timeout"], p["ack_timeout"])
        first, last = sorted((p["ready_timeout"], p["precommit_timeout"]))
        r = rng.random()
        if r < 0.2:
            return rng.randint(1, quick)
        if r < 0.35:
            return rng.randint(quick, max(quick, first - 1))
        if r < 0.65:
            return rng.randint(first, last + 2 * p["state_wait"] + 2 * self.hi)
        return last + rng.randint(2 * p["state_wait"], 6 * p["state_wait"] + 3 * p["resend_interval"])

    def crash(self, node, at, back=None, bounce=True) -> None:
        """Crash `node` at `at` and restart it `back` ms later (None: a drawn downtime); a
        quarter of the time it crashes again while it recovers."""
        if back is None:
            back = self.downtime()
        self.out.append({"at": at, "do": "crash", "node": node})
        self.out.append({"at": at + back, "do": "restart", "node": node})
        if bounce and self.rng.random() < 0.25:
            p = self.p
            again = at + back + self.rng.randint(1, p["state_wait"] + max(p["ack_timeout"], 2 * self.hi))
            self.crash(node, again, bounce=False)

    def precommit_at(self, tx, phase) -> int:
        """When the coordinator writes PRECOMMIT for `tx` (or would, if every vote is yes):
        its last vote's arrival (from the CanCommits and Votes in flight) plus log_delay."""
        if phase == "PRECOMMIT":
            return self.at
        if phase == "LOGGING":
            return self.at + self.rng.randint(0, self.p["log_delay"])
        arrivals = [self.at]
        for m in self.sim.network.inflight.values():
            if m.body.get("tx") != tx:
                continue
            if m.kind == "CanCommit":
                arrivals.append(m.deliver_at + self.rng.randint(self.lo, self.hi))   # and the vote's flight back
            elif m.kind == "Vote" and m.dst == COORDINATOR:
                arrivals.append(m.deliver_at)
        return max(arrivals) + self.p["log_delay"]

    def window(self, tx, phase) -> int:
        """A moment in the life of an undecided `tx` at which the coordinator crashing
        matters: mostly between its PRECOMMIT write and the Acks (a round trip), else as
        the votes come in, or around its decision."""
        rng, lo, hi = self.rng, self.lo, self.hi
        pc = self.precommit_at(tx, phase)
        r = rng.random()
        if r < 0.6:
            return rng.randint(pc, pc + 2 * lo)            # PreCommits sent, no Ack back yet
        if r < 0.8:
            return rng.randint(self.at, pc)                # votes coming in, PRECOMMIT being written
        return rng.randint(pc + 2 * lo, pc + 3 * hi)       # the Acks and the decision

    def longest_timeout(self) -> int:
        return max(self.p["ready_timeout"], self.p["precommit_timeout"])

    # ---------------------------------------------------------------- moves

    def coordinator_crash(self, tx, phase) -> None:
        if phase in ("WAIT", "LOGGING", "PRECOMMIT"):
            when = self.window(tx, phase)
        else:   # recovering (asking), or re-sending a decision
            when = self.at + self.rng.randint(0, self.p["state_wait"])
        self.crash(COORDINATOR, when)

    def participants_crash(self) -> None:
        """Participants crash in doubt (now), or just after voting (as their CanCommit arrives)."""
        rng = self.rng
        when = {n: self.at for n in self.in_doubt}
        for m in self.sim.network.inflight.values():
            if m.kind == "CanCommit" and self.open and m.body["tx"] in self.open and self.sim.up[m.dst]:
                when.setdefault(m.dst, m.deliver_at + rng.randint(1, 2 * self.lo))   # voted; PreCommit not come
        if not when:
            return
        k = 1 if rng.random() < 0.6 else rng.randint(1, len(when))
        for n in rng.sample(sorted(when), k):
            self.crash(n, when[n])

    def cascade(self, tx, phase) -> None:
        """The coordinator crashes in its window; then, as the participants time out, the
        termination coordinator they elect, and maybe the next one."""
        p, rng = self.p, self.rng
        when = self.window(tx, phase)
        self.crash(COORDINATOR, when, self.downtime() + self.longest_timeout())
        first, last = sorted((p["ready_timeout"], p["precommit_timeout"]))
        t = when + first + rng.randint(0, last - first + 3 * p["state_wait"])
        up = [n for n in self.participants if self.sim.up[n]]
        for n in up[:rng.randint(1, 2)]:                    # the lowest numbers lead
            self.crash(n, t)
            t += rng.randint(p["state_wait"], 3 * p["state_wait"] + 2 * self.hi)   # a follower takes over

    def all_down(self, tx, phase) -> None:
        """Every participant down before its PreCommit comes; the coordinator decides on its
        timeouts (vote or ack) with nobody to tell, and crashes about then; the participants
        come back while it is down."""
        p, rng = self.p, self.rng
        pc = self.precommit_at(tx, phase)
        down = rng.randint(self.at, max(self.at, pc + self.lo))
        voted = phase != "WAIT" or down > pc - p["log_delay"]
        decided = pc + p["ack_timeout"] if voted else self.at + p["vote_timeout"]
        c_down = max(down, decided + rng.randint(-2 * self.hi, p["resend_interval"]))
        for n in self.participants:
            if self.sim.up[n]:
                self.crash(n, down, c_down - down + rng.randint(1, self.longest_timeout()))
        self.crash(COORDINATOR, c_down, self.downtime() + self.longest_timeout())

    def last_to_fail(self) -> None:
        """The coordinator is down: whoever may know an outcome crashes, the rest come back."""
        if self.open is not None:
            return
        sim, rng, p = self.sim, self.rng, self.p
        knowers = [n for n in self.participants if sim.up[n] and n not in self.in_doubt]
        if not knowers:
            return
        for n in knowers:
            self.crash(n, self.at)
        for n in self.participants:
            if not sim.up[n]:
                self.out.append({"at": self.at + rng.randint(1, 2 * p["state_wait"]), "do": "restart", "node": n})
        self.out.append({"at": self.at + rng.randint(1, self.longest_timeout()), "do": "restart",
                         "node": COORDINATOR})
