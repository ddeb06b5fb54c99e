"""Long work done for one client yields to everyone else by elapsed time.

A seek back, a fork, a configure, a restart, a create from a link: each steps the
engine outside the ticker's batches, up to a whole run (~100,000 events, about a
second). Under eventlet nothing else runs until it yields, so a Pacer, called after
each step, yields once `slice_s` of work has gone by since the last yield. A fixed
count of steps instead was a few ms for one protocol and tens of ms for another
(and a checkpoint taken on the way costs ~2 ms more), so other clients waited that
long. The timer is injected (SessionManager.timer): tests drive it with a fake.

Work that outlasts its first slice is long: it then takes the `gate` (one per
manager) and keeps it until done, so long jobs run one at a time. Otherwise four
clients seeking at once each took a slice in turn between two chances for anyone
else, and a cheap command waited through all four slices at every step of its way
(read, handle, ack). Cheap work never touches the gate.

`waited` is the time spent yielded (others' work) and waiting for the gate: the
CPU budgets (fairness.py) charge a command its own work, not that.
"""

from __future__ import annotations

from collections.abc import Callable


class Pacer:
    __slots__ = ("gate", "holding", "rest", "since", "slice_s", "timer", "waited", "yields")

    def __init__(self, rest: Callable[[], None], timer: Callable[[], float], slice_s: float, gate=None):
        self.rest = rest              # lets other green threads run (io.sleep(0))
        self.timer = timer            # monotonic seconds
        self.slice_s = slice_s
        self.gate = gate              # a lock shared by all long work, or None
        self.holding = False
        self.since = timer()
        self.yields = 0
        self.waited = 0.0             # seconds yielded or waiting for the gate

    def __call__(self) -> None:
        """After one step of work: yield if this slice is spent."""
        now = self.timer()
        if now - self.since >= self.slice_s:
            self.rest()
            self.yields += 1
            if self.gate is not None and not self.holding:
                self.gate.acquire()   # long work: wait for the one running to finish
                self.holding = True
            self.since = self.timer()
            self.waited += self.since - now

    def done(self) -> None:
        """The work is over (or failed): let the next long job run."""
        if self.holding:
            self.holding = False
            self.gate.release()
