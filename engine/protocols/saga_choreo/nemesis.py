"""A saga-aware nemesis for random schedules: faults aimed at the outbox and the inbox.

Blind faults rarely hit the one message that matters (a Failed event on its way
up the chain, the Ack of a step just committed). This reads the messages in
flight, as `check` may, and picks one:

redeliver   an event in flight (a Failed one when there is one) is duplicated:
            the receiver must apply it once (its inbox, its fence)
lose_ack    an Ack in flight is dropped: the sender re-sends an event already applied
lose_event  an event in flight is dropped: only the outbox brings it back
crash       the receiver of an event crashes just after it arrives, before its Ack
            leaves (ack_delay), and restarts after a while: a redelivery, and the
            restarted relay re-sends what it had not seen acknowledged
bounce      with nothing in flight: a node whose outbox holds unacknowledged rows
            (read through sim.observe) crashes and restarts, and its relay sends
            them all again

Moves are ordinary drop, duplicate, crash and restart actions stamped `at` or
later, so a schedule replays as data.
"""

from __future__ import annotations

MOVES = ("redeliver", "lose_ack", "lose_event", "crash")


class Nemesis:
    """One move of ChoreographedSaga.fuzz_action. Reads `sim`, never changes it."""

    def __init__(self, rng, sim, at):
        self.rng, self.sim, self.at = rng, sim, at
        inflight = list(sim.network.inflight.values())
        self.acks = [m for m in inflight if m.kind == "Ack"]
        self.events = [m for m in inflight if m.kind != "Ack"]
        self.failed = [m for m in self.events if m.kind == "Failed"]

    def pick_event(self):
        if self.failed and self.rng.random() < 0.7:
            return self.rng.choice(self.failed)
        return self.rng.choice(self.events) if self.events else None

    def move(self) -> list[dict] | None:
        rng, at = self.rng, self.at
        move = rng.choice(MOVES)
        if move == "lose_ack":
            if self.acks:
                return [{"at": at, "do": "drop", "msg": rng.choice(self.acks).id}]
            return None
        msg = self.pick_event()
        if msg is None:
            return self.bounce()
        if move == "redeliver":
            return [{"at": at, "do": "duplicate", "msg": msg.id}]
        if move == "lose_event":
            return [{"at": at, "do": "drop", "msg": msg.id}]
        if not self.sim.up[msg.dst]:
            return None
        p = self.sim.params
        when = max(at, msg.deliver_at + rng.randint(1, max(1, p["ack_delay"])))
        back = when + rng.randint(1, 2 * p["resend_interval"])
        return [{"at": when, "do": "crash", "node": msg.dst}, {"at": back, "do": "restart", "node": msg.dst}]

    def bounce(self) -> list[dict] | None:
        sim, rng = self.sim, self.rng
        waiting = [n for n in sim.ids if sim.up[n] and (sim.observe(n) or {}).get("outbox")]
        if not waiting:
            return None
        n = rng.choice(waiting)
        back = self.at + rng.randint(1, 2 * sim.params["resend_interval"])
        return [{"at": self.at, "do": "crash", "node": n}, {"at": back, "do": "restart", "node": n}]
