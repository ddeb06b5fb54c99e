"""Humming Consensus preset scenarios. Titles and lessons are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Scripted presets use a fixed 20 ms latency so times are easy to follow. The
times below were read off the deterministic traces
(`python -m engine run --protocol humming --preset NAME --jsonl`).
"""

from __future__ import annotations

from ...protocol import Preset

FIXED = {"network": {"latency": [20, 20]}}


def _append(at, node):
    return {"at": at, "do": "request", "node": node, "op": "append"}


def _partition(at, *groups):
    return {"at": at, "do": "partition", "groups": [list(g) for g in groups]}


def _do(at, do, node=None):
    return {"at": at, "do": do, "node": node} if node else {"at": at, "do": do}


# The chain of seed 1 at 20 ms is b→a→c→d→e from about t=2200 (AP).
SYMMETRIC = [
    _append(2400, "b"),                                  # b1 through the whole chain
    _partition(2500, ("a", "b"), ("c", "d", "e")),
    # ~2700..3500: each island writes its own epoch 4: b→a on one side, c→d→e on the other
    _append(4000, "b"), _append(4000, "c"),               # b2 acked on a,b only; c1 on c,d,e
    _do(5000, "heal"),
    # ~5050: epoch 5 = c→d→e (3 in the UPI outranks 2) with a,b repairing; ~6250: all five
]

# CP, the same cut: at seed 1 and 20 ms the CP chain is c-headed from about t=2300.
CP_WEDGE = [
    _append(2400, "c"),
    _partition(2500, ("a", "b"), ("c", "d", "e")),
    # ~2640: c, d, e keep c→d→e (3 of 5 is a majority); ~3100..3500: a and b adopt none
    _append(4000, "b"),                                   # answered "wedged"
    _append(4000, "c"),                                   # acked on c→d→e
    _do(6000, "heal"),
    # ~6100: epoch 5 c→d→e with a,b repairing; ~7550: all five in the UPI
]

# promote_early: seed 1 at 20 ms has chain c→a→b→d→e; e crashes, writes go on without it.
PROMOTE = [
    _append(2400, "c"),
    _do(2500, "crash", "e"),
    _append(3500, "c"), _append(3600, "c"),               # c2, c3 acked by c→a→b→d, not on e
    _do(4000, "restart", "e"),
    # ~4260 e joins repairing; ~4740 the tail d promotes it at once: e is the tail without c2, c3
]

# no_sanity: found by `check --bug no_sanity` and kept as found: a and d crash and come
# back; a, back at 8185, adopts the newest projection although nodes joined its UPI from
# outside its own repairing list (it missed the epochs that explain them).
NO_SANITY = [_do(3528, "crash", "a"), _do(5121, "crash", "d"), _do(6020, "restart", "d"),
             _do(8185, "restart", "a")]

# The same crash and restart, with and without staggered timers.
STAGGER = [_do(2000, "crash", "c"), _do(3000, "restart", "c")]


PRESETS = (
    # Every member proposes epoch 1 at once; each store keeps the first writer; ~2200 full chain.
    Preset("startup_jostle", scenario={"seed": 1, "until": 3000}),
    Preset("symmetric_partition", scenario={**FIXED, "seed": 1, "until": 9000, "actions": SYMMETRIC}),
    # b discards everything from a: a and b each see the other down, c, d, e see both up.
    Preset("asymmetric_flapping", scenario={"seed": 1, "until": 8000, "params": {"one_way": "a_to_b"}}),
    Preset("cp_minority_wedge", scenario={**FIXED, "seed": 1, "until": 10000, "params": {"mode": "cp"},
                                          "actions": CP_WEDGE}),
    Preset("promote_before_repair", scenario={**FIXED, "seed": 1, "until": 7000, "bugs": ["promote_early"],
                                              "actions": PROMOTE}),
    Preset("no_sanity", scenario={"seed": 1, "until": 10000, "bugs": ["no_sanity"], "actions": NO_SANITY}),
    # Two members propose epoch 1 at once at 20 ms: b's store ends up holding a second value.
    Preset("overwrite", scenario={**FIXED, "seed": 1, "nodes": 3, "until": 3000, "bugs": ["overwrite"]}),
    Preset("staggered", scenario={"seed": 1, "until": 8000, "actions": STAGGER}),
    Preset("unstaggered", scenario={"seed": 1, "until": 8000, "params": {"stagger": "none"}, "actions": STAGGER}),
)
