"""Watching a protocol's nemesis (Protocol.fuzz_action) at work in random schedules."""

import json

from engine import fuzz


def nemesis_moves(monkeypatch, proto, seeds=range(1, 21)) -> list:
    """Run random schedules of `proto` with a spy on its nemesis. Asserts the nemesis only
    reads the run (snapshot and actions unchanged by asking it) and that every run stays
    clean; returns (at, move) for every move it made (a move: a list of actions)."""
    moves = []
    real = type(proto).fuzz_action

    def spy(self, rng, sim, at):
        before = (json.dumps(sim.snapshot(), sort_keys=True), len(sim.actions))
        move = real(self, rng, sim, at)
        assert (json.dumps(sim.snapshot(), sort_keys=True), len(sim.actions)) == before   # reads only
        if move is not None:
            moves.append((at, move if isinstance(move, list) else [move]))
        return move
    monkeypatch.setattr(type(proto), "fuzz_action", spy)
    for seed in seeds:
        assert fuzz.fuzz_run(proto.name, seed, fuzz.Model()).found == [], seed
    return moves
