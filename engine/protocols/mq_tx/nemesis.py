"""An adversary aimed at transactional messages, for random schedules (`check`).

Blind faults rarely hit the one message that matters. This reads the messages in
flight, as `check` may, and picks one:

lose_end      an EndTransaction in flight is dropped: only the check-back settles it
lose_half     a SendHalf or a HalfAck in flight is dropped: the producer gives up, and
              must not have run (or must not run) the local transaction
crash_producer  a producer instance with an answer on its way to it (HalfAck, LocalTxDone,
              TxStatus) crashes before it arrives, and restarts later: what it was doing
              is lost; the broker's check-back asks another instance
crash_broker  the broker crashes just after a COMMIT put the real message and before its
              op record (op_delay later): the message is put twice after the restart
redeliver     a Deliver in flight is duplicated, or a ConsumeAck dropped: the consumer
              sees an order twice and must apply it once
slow_db       db's next local transaction is made slow, but only as slow as the check
              window absorbs (slow_ms below tx_timeout + (check_max - 1) x check_interval):
              a longer one loses the order by design (the lesson slow_local_tx_discarded)

Moves are ordinary drop, duplicate, crash, restart and request actions stamped `at`
or later, so a schedule replays as data.
"""

from __future__ import annotations

from .node import BROKER, DB

MOVES = ("lose_end", "lose_half", "crash_producer", "crash_broker", "redeliver", "slow_db")


class Nemesis:
    """One move of MqTx.fuzz_action. Reads `sim`, never changes it."""

    def __init__(self, rng, sim, at):
        self.rng, self.sim, self.at = rng, sim, at
        self.inflight = list(sim.network.inflight.values())

    def of(self, *kinds):
        return [m for m in self.inflight if m.kind in kinds]

    def move(self):
        rng, at, sim = self.rng, self.at, self.sim
        move = rng.choice(MOVES)
        p = sim.params
        if move == "lose_end":
            msgs = self.of("EndTransaction")
            return [{"at": at, "do": "drop", "msg": rng.choice(msgs).id}] if msgs else None
        if move == "lose_half":
            msgs = self.of("SendHalf", "HalfAck")
            return [{"at": at, "do": "drop", "msg": rng.choice(msgs).id}] if msgs else None
        if move == "crash_producer":
            msgs = [m for m in self.of("HalfAck", "LocalTxDone", "TxStatus") if sim.up[m.dst]]
            if not msgs:
                return None
            dst = rng.choice(msgs).dst
            back = at + rng.randint(1, 2 * p["check_interval"])
            return [{"at": at, "do": "crash", "node": dst}, {"at": back, "do": "restart", "node": dst}]
        if move == "crash_broker":
            msgs = [m for m in self.of("EndTransaction") if m.body["verdict"] == "COMMIT"]
            if not msgs or not sim.up[BROKER]:
                return None
            msg = rng.choice(msgs)
            when = max(at, msg.deliver_at + rng.randint(1, max(1, p["op_delay"])))
            back = when + rng.randint(1, 2 * p["redeliver_interval"])
            return [{"at": when, "do": "crash", "node": BROKER}, {"at": back, "do": "restart", "node": BROKER}]
        if move == "redeliver":
            delivers, acks = self.of("Deliver"), self.of("ConsumeAck")
            if delivers and (not acks or rng.random() < 0.5):
                return [{"at": at, "do": "duplicate", "msg": rng.choice(delivers).id}]
            return [{"at": at, "do": "drop", "msg": rng.choice(acks).id}] if acks else None
        window = p["tx_timeout"] + (p["check_max"] - 1) * p["check_interval"]
        if p["slow_ms"] + 4 * sim.network.latency[1] + 100 < window:
            return [{"at": at, "do": "request", "node": DB, "op": "slow_next"}]
        return None
