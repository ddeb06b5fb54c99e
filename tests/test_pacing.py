"""Long work on one client's behalf (a create from a link, configure, seek, fork) yields
to the other clients by elapsed time (playground/pacing.py): at most work_slice_s of it
between two yields, however cheap or dear each engine step is, and the run it builds is
byte for byte the one built without yielding. Time here is a fake timer: each reading
costs `step` seconds, as if every heap entry took that long.
"""

import dataclasses
import itertools

import pytest

from engine import Simulation
from playground.pacing import Pacer

from .conftest import FakeClock
from .test_seek import LONG, fresh, limited, log_events
from .test_socket_api import act, create, ctl, recv

SLICE = 0.005


class FakeTimer:
    def __init__(self, step: float):
        self.now, self.step = 0.0, step

    def __call__(self) -> float:
        self.now += self.step
        return self.now


def test_a_pacer_yields_once_its_slice_is_spent_not_after_a_count_of_steps():
    now, yields = [0.0], []
    pace = Pacer(lambda: yields.append(now[0]), lambda: now[0], SLICE)
    for cost in [0.001] * 12:          # 1 ms steps: a yield after every fifth
        now[0] += cost
        pace()
    assert yields == pytest.approx([0.005, 0.010])
    for _ in range(10_000):            # free steps: however many, no yield
        pace()
    assert len(yields) == 2
    now[0] += 0.02                     # one dear step: a yield right after it
    pace()
    assert yields[-1] == pytest.approx(0.032) and pace.yields == 3


def heavy_manager(step: float):
    """A manager whose timer moves `step` per reading; returns it, a client factory and the
    fake times of its yields."""
    manager, new_client = limited(FakeClock())
    manager.timer = FakeTimer(step)
    yields = []
    manager.io.sleep = lambda seconds: yields.append(manager.timer.now)
    return manager, new_client, yields


def operation(name: str, manager, c, yields: list) -> int:
    """Do one kind of long work; return how many heap entries it stepped (and leave in
    `yields` the yields of that work only)."""
    entries = []
    real = Simulation.step_entry
    Simulation.step_entry = lambda sim: entries.append(1) or real(sim)
    try:
        if name == "create from a link at 60 s":
            create(c, scenario=LONG, t=60_000)
        else:
            ack, _ = create(c, scenario=LONG)
            if name == "fork":            # a fork replays from a checkpoint to where the run is
                ctl(c, ack, "seek", 40_000)
                act(c, ack, do="crash", node="n2")
                ctl(c, ack, "seek", 24_000)
            elif name == "seek back":
                ctl(c, ack, "seek", 60_000)
            recv(c)
            entries.clear()
            yields.clear()
            if name == "seek forward":
                assert ctl(c, ack, "seek", 60_000)["ok"]
            elif name == "seek back":
                assert ctl(c, ack, "seek", 59_900)["ok"]
            elif name == "fork":
                r = act(c, ack, do="crash", node="n1")
                assert r["ok"] and r["forked"], r
    finally:
        Simulation.step_entry = real
    return len(entries)


# (configure and restart build a run at t=0: a handful of entries, paced the same way)
OPERATIONS = ["create from a link at 60 s", "seek forward", "seek back", "fork"]


@pytest.mark.parametrize("name", OPERATIONS)
def test_long_work_yields_every_slice_of_time(name):
    """1 ms per timer reading (one per heap entry): a yield every ~5 entries, never more than
    a slice and a step of work between two."""
    manager, new_client, yields = heavy_manager(0.001)
    entries = operation(name, manager, new_client(), yields)
    assert entries > 100
    assert len(yields) >= entries / 7
    gaps = [b - a for a, b in itertools.pairwise(yields)]
    assert max(gaps) <= SLICE + 2 * 0.001 + 1e-9


@pytest.mark.parametrize("name", OPERATIONS)
def test_long_work_that_takes_no_time_never_yields_however_many_entries(name):
    manager, new_client, yields = heavy_manager(0.0)
    entries = operation(name, manager, new_client(), yields)
    assert entries > 100 and yields == []


def test_others_play_on_while_a_rebuild_yields_and_the_run_is_the_same_bytes():
    """Every yield of a create at 60 s (about every 100 entries) lets the ticker stream a
    batch to another session; the run built is the one a create that never yields builds."""
    manager, new_client, _ = heavy_manager(SLICE / 100)
    manager.limits = dataclasses.replace(manager.limits, cpu_burst_ms=1e9, address_cpu_burst_ms=1e9)
    clock = manager.clock
    bystander = new_client()
    b_ack, _ = create(bystander, scenario=LONG)
    ctl(bystander, b_ack, "play")
    recv(bystander)
    inside = []

    def other_clients_run(seconds):
        if not inside:                 # the tick yields too: no nesting
            inside.append(1)
            clock.advance(0.05)
            manager.tick()
            inside.clear()
    manager.io.sleep = other_clients_run
    owner = new_client()
    ack, _ = create(owner, scenario=LONG, t=60_000)
    batches = recv(bystander).get("events", [])
    s = manager.sessions[ack["session"]]
    assert len(batches) > 50 and s.sim.handled > 5_000

    manager.timer = FakeTimer(0.0)                  # never yields
    ref = fresh(manager, new_client, s.token(), 60_000)
    assert log_events(s) == log_events(ref)
    assert (s.sim.seq, s.sim.now, s.sim.summary()) == (ref.sim.seq, ref.sim.now, ref.sim.summary())


def test_only_work_past_its_first_slice_takes_the_gate_and_holds_it_until_done():
    """Long jobs run one at a time (the gate); a cheap command never waits for one."""
    class Gate:
        def __init__(self):
            self.log = []

        def acquire(self):
            self.log.append("acquire")

        def release(self):
            self.log.append("release")

    now, gate = [0.0], Gate()
    cheap = Pacer(lambda: None, lambda: now[0], SLICE, gate)
    for _ in range(4):
        now[0] += 0.001
        cheap()
    cheap.done()
    assert gate.log == []
    long = Pacer(lambda: gate.log.append("yield"), lambda: now[0], SLICE, gate)
    for _ in range(16):
        now[0] += 0.001
        long()
    assert gate.log == ["yield", "acquire", "yield", "yield"]
    long.done()
    long.done()
    assert gate.log[-1] == "release" and gate.log.count("release") == 1
