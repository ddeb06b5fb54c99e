"""Checkpoints (engine/checkpoint.py): a run resumed from one is the run it was taken from.

Byte-identical: the trace before the checkpoint plus the resumed run's trace is
the trace of the whole run, as JSON bytes, for every preset of every protocol
and random fault schedules, taken early, midway and late. And a checkpoint
with a changed action list (actions added live, a fork that cut some) resumes
into exactly the run a replay from t=0 of that list gives.
"""

import json

import pytest

from engine import checkpoint, from_dict, fuzz, registry
from engine.sim import Simulation

PROTOCOLS = [p.name for p in registry.all(include_hidden=True)]


def dump(trace) -> bytes:
    return json.dumps(trace, sort_keys=True, separators=(",", ":")).encode()


# Random runs too costly to even draw: the forwarding demo's seed 4 doubles 30% of its messages,
# millions of them in flight (drawing its schedule alone takes minutes, and teaches nothing new).
STORMS = {("forward", 4)}


def scenarios(name: str, randoms: int):
    proto = registry.get(name)
    yield from (from_dict({"protocol": name, "preset": p.name}) for p in proto.presets)
    yield from (fuzz.fuzz_run(name, seed).scenario for seed in range(1, randoms + 1)
                if (name, seed) not in STORMS)


def run_to_seq(sc, seq: int) -> Simulation:
    sim = Simulation(sc)
    while sim.seq < seq and sim.step_entry():
        pass
    return sim


@pytest.mark.parametrize("name", PROTOCOLS)
def test_a_resumed_run_is_byte_identical_to_the_whole_run(name):
    checked = 0
    for sc in scenarios(name, randoms=5):
        whole = Simulation(sc).run()
        for frac in (0.0, 0.5, 0.97):
            sim = run_to_seq(sc, int(len(whole.trace) * frac))
            cp = checkpoint.take(sim)
            head = list(sim.trace)
            assert cp.seq == len(head) and cp.now == sim.now
            resumed = checkpoint.resume(cp, sim.proto).run()
            assert dump(head + resumed.trace) == dump(whole.trace), f"{name} {sc.preset} at {frac}"
            assert resumed.violations == whole.violations and resumed.summary() == whole.summary()
            checked += 1
    assert checked >= 3 * 4      # every preset and four or five random runs, three times each


def test_the_original_run_goes_on_unchanged_after_a_checkpoint():
    sc = from_dict({"protocol": "raft", "preset": "figure8"})
    whole = Simulation(sc).run()
    sim = run_to_seq(sc, len(whole.trace) // 2)
    checkpoint.take(sim)
    sim.run()
    assert dump(sim.trace) == dump(whole.trace)


@pytest.mark.parametrize("name", ["raft", "2pc", "tcc", "zab"])
def test_resuming_with_a_changed_action_list_equals_a_replay_of_that_list(name):
    """A fork: actions after the checkpoint are cut and a new one added; actions added
    live after it was taken are rescheduled too."""
    for sc in scenarios(name, randoms=10):
        if len(sc.actions) < 2:
            continue
        cut_at = sc.actions[len(sc.actions) // 2]["at"]
        if cut_at == 0:
            continue
        kept = [a for a in sc.actions if a["at"] < cut_at]
        new = dict(sc.actions[0], at=cut_at + 7) if sc.actions[0]["do"] != "request" else \
            {"at": cut_at + 7, "do": "crash", "node": Simulation(sc).ids[-1]}
        forked = sorted([*kept, new], key=lambda a: a["at"])
        replay = Simulation(sc.with_actions(forked)).run()

        sim = Simulation(sc)
        sim.run_until(cut_at - 1)
        cp = checkpoint.take(sim)
        head = list(sim.trace)
        resumed = checkpoint.resume(cp, sim.proto, forked).run()
        assert dump(head + resumed.trace) == dump(replay.trace), f"{name} {sc.preset}"
        assert resumed.actions == replay.actions


def test_a_checkpoint_refuses_an_action_list_that_rewrites_its_past():
    sc = from_dict({"protocol": "raft", "preset": "leader_crash"})
    sim = Simulation(sc)
    sim.run_until(sc.actions[-1]["at"] + 10)
    cp = checkpoint.take(sim)
    with pytest.raises(ValueError, match="differ from the checkpoint"):
        checkpoint.resume(cp, sim.proto, [])


def test_a_checkpoint_holds_no_trace_and_names_the_protocol_instead_of_copying_it():
    sc = from_dict({"protocol": "raft", "preset": "figure8"})
    sim = run_to_seq(sc, 400)
    before = list(sim.trace)
    cp = checkpoint.take(sim)
    assert sim.trace == before                    # the taker's trace is untouched
    resumed = checkpoint.resume(cp, sim.proto)
    assert resumed.trace == [] and resumed.proto is sim.proto
    assert resumed.checker.strings is sim.proto.strings
    assert cp.size < 60_000
