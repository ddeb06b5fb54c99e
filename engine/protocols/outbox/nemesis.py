"""An outbox-aware nemesis for random schedules: crashes inside the windows that matter.

Blind faults rarely land in the few milliseconds between a publish and its
mark-sent, or between a consumer's commit and its Ack. This reads the messages
in flight and the armed timers, as `check` may, and picks one:

relay_window     a Publish or a PublishAck is in flight: the relay crashes now and
                 restarts a little later; its next poll publishes the row again. With
                 only a NEW row waiting: the relay crashes somewhere in its next round
consumer_window  a Deliver is in flight: its consumer crashes just after it arrives,
                 before its Ack leaves (ack_delay), and restarts later: a redelivery.
                 With only unacknowledged deliveries at the broker: their consumer crashes now
pay_window       pay has its second write pending (the dual-write bugs: its "dual"
                 timer is armed), or NEW rows in its outbox: pay crashes now and
                 restarts later
redeliver        a Deliver or a Publish in flight is duplicated
lose_ack         an Ack, a PublishAck or a MarkSent in flight is dropped
broker_bounce    the broker holds unacknowledged deliveries: it crashes and restarts

Moves are ordinary drop, duplicate, crash and restart actions stamped `at` or
later, so a schedule replays as data.
"""

from __future__ import annotations

from .node import BROKER, NEW, PAY, RELAY

MOVES = ("relay_window", "consumer_window", "pay_window", "redeliver", "lose_ack", "broker_bounce")
ACKS = ("Ack", "PublishAck", "MarkSent")


class Nemesis:
    """One move of Outbox.fuzz_action. Reads `sim`, never changes it."""

    def __init__(self, rng, sim, at):
        self.rng, self.sim, self.at = rng, sim, at
        self.inflight = list(sim.network.inflight.values())

    def of(self, *kinds):
        return [m for m in self.inflight if m.kind in kinds]

    def bounce(self, node: str, when: int, longest: int) -> list[dict] | None:
        if not self.sim.up[node]:
            return None
        back = when + self.rng.randint(1, max(2, longest))
        return [{"at": when, "do": "crash", "node": node}, {"at": back, "do": "restart", "node": node}]

    def view(self, node: str) -> dict:
        return self.sim.observe(node) or {}

    def move(self) -> list[dict] | None:
        rng, at, sim, p = self.rng, self.at, self.sim, self.sim.params
        move = rng.choice(MOVES)
        if move == "relay_window":
            if self.of("Publish", "PublishAck"):
                return self.bounce(RELAY, at, 2 * p["poll_interval"])
            if NEW in self.view(PAY).get("outbox", {}).values():
                # A row waits: crash the relay somewhere in its next poll round.
                when = at + rng.randint(1, p["poll_interval"] + 4 * sim.network.latency[1])
                return self.bounce(RELAY, when, 2 * p["poll_interval"])
            return None
        if move == "consumer_window":
            delivers = self.of("Deliver")
            if delivers:
                msg = rng.choice(delivers)
                when = max(at, msg.deliver_at + rng.randint(1, max(1, p["ack_delay"])))
                return self.bounce(msg.dst, when, p["redeliver_interval"])
            # A delivery applied (or not yet) and unacknowledged: crash its consumer now.
            waiting = [c for c, q in sorted(self.view(BROKER).get("queues", {}).items()) if q]
            return self.bounce(rng.choice(waiting), at, p["redeliver_interval"]) if waiting else None
        if move == "pay_window":
            if "dual" in sim.timers[PAY] or NEW in self.view(PAY).get("outbox", {}).values():
                return self.bounce(PAY, at, 2 * p["poll_interval"])
            return None
        if move == "redeliver":
            delivers = self.of("Deliver", "Publish")
            return [{"at": at, "do": "duplicate", "msg": rng.choice(delivers).id}] if delivers else None
        if move == "lose_ack":
            acks = self.of(*ACKS)
            return [{"at": at, "do": "drop", "msg": rng.choice(acks).id}] if acks else None
        queued = self.view(BROKER).get("label", [None, {}])[1].get("queued", 0)
        if queued:
            return self.bounce(BROKER, at, p["redeliver_interval"])
        return None
