"""Checkpoints: a running Simulation's state as bytes, to resume from later.

Seeking back in a long run, or acting in its past (a fork), starts from the
nearest checkpoint instead of replaying from t=0. A checkpoint holds what
decides the run's future: the heap, the clocks and counters, every random
generator's state, the nodes (volatile and durable state), the network and the
checker. It holds no trace (whoever keeps the trace keeps it) and no protocol
object (the protocol is code, shared by every run: the checkpoint names it).

The promise, tested over every preset and random fault schedules
(tests/test_checkpoint.py): a run resumed from a checkpoint emits events that
are byte-identical to those of the run it was taken from, and so to a replay
from t=0.

Pickle is the encoding: it keeps shared references (a node's disk is the
simulator's disk entry) and cycles (contexts point back at the simulator), and
it is compact enough to measure and budget (`len(cp.data)`). Checkpoints live
in memory, in the process that took them; they are never read from a client.
"""

from __future__ import annotations

import heapq
import io
import pickle
from dataclasses import dataclass

from .sim import _ACTION, _DO, Simulation

_PROTOCOL, _STRINGS = "protocol", "strings"


@dataclass(frozen=True)
class Checkpoint:
    now: int          # virtual ms of the last processed entry
    seq: int          # trace events emitted before it (the trace to keep when resuming)
    handled: int      # heap entries processed
    actions: int      # how many of sim.actions were scheduled when it was taken
    data: bytes

    @property
    def size(self) -> int:
        return len(self.data)


class _Pickler(pickle.Pickler):
    def __init__(self, file, proto):
        super().__init__(file, protocol=pickle.HIGHEST_PROTOCOL)
        self._shared = {id(proto): _PROTOCOL, id(proto.strings): _STRINGS}

    def persistent_id(self, obj):
        return self._shared.get(id(obj))


class _Unpickler(pickle.Unpickler):
    def __init__(self, file, proto):
        super().__init__(file)
        self._shared = {_PROTOCOL: proto, _STRINGS: proto.strings}

    def persistent_load(self, pid):
        return self._shared[pid]


def take(sim: Simulation) -> Checkpoint:
    """The simulation's state now, between two heap entries."""
    trace = sim.trace
    sim.trace = []           # not part of the state: the events already emitted stay with their reader
    try:
        buf = io.BytesIO()
        _Pickler(buf, sim.proto).dump(sim)
    finally:
        sim.trace = trace
    return Checkpoint(sim.now, sim.seq, sim.handled, len(sim.actions), buf.getvalue())


def resume(cp: Checkpoint, proto, actions: list[dict] | None = None) -> Simulation:
    """A new Simulation in the checkpoint's state, with an empty trace.

    `actions`: the run's whole action list if it differs from the one the
    checkpoint was taken with (actions added live later, or a fork that cut
    some): every action stamped after the checkpoint is rescheduled from it, in
    its order, exactly as a replay from t=0 of that list would have it. Actions
    at or before the checkpoint's time must be the ones it already applied.
    """
    sim = _Unpickler(io.BytesIO(cp.data), proto).load()
    if actions is not None:
        _reschedule(sim, cp, actions)
    return sim


def _reschedule(sim: Simulation, cp: Checkpoint, actions: list[dict]) -> None:
    past = [a for a in sim.actions if a["at"] <= cp.now]
    if [a for a in actions if a["at"] <= cp.now] != past:
        raise ValueError(f"the actions up to t={cp.now} differ from the checkpoint's: resume from an earlier one")
    # Drop the scheduled future actions; push the new future in list order. Actions sort
    # before events of the same time and among themselves by push order, as in a replay.
    sim._heap = [e for e in sim._heap if not (e[3] == _DO and e[1] == _ACTION and e[0] > cp.now)]
    heapq.heapify(sim._heap)
    sim.actions = list(past)
    for a in actions:
        if a["at"] > cp.now:
            sim._schedule_action(a)
