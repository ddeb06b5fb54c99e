"""Random fault schedules: the engine of `python -m engine check`.

A schedule is built live against a running simulation (so a drop names a
message that really is in flight) and recorded as ordinary actions, so the
resulting scenario replays to the same trace with `run`.
"""

from __future__ import annotations

import random

from .protocols import registry
from .scenario import Scenario, from_dict
from .sim import Simulation

KINDS = ("crash", "restart", "drop", "duplicate", "partition", "heal", "request", "timeout", "protocol")
# "protocol" asks the protocol's own fuzz_action (a protocol-aware nemesis, e.g.
# "isolate the current leader"); it returns an ordinary action, so schedules replay.
DEFAULT_WEIGHTS = {"crash": 3, "restart": 4, "drop": 3, "duplicate": 1, "partition": 2,
                   "heal": 2, "request": 6, "timeout": 2, "protocol": 0}


def _pick(rng, weights: dict) -> str:
    kinds = [k for k in KINDS if weights.get(k, 0) > 0]
    return rng.choices(kinds, weights=[weights[k] for k in kinds])[0]


def random_action(rng, sim: Simulation, at: int, weights: dict) -> dict | list | None:
    proto = sim.proto
    ids = sim.ids
    kind = _pick(rng, weights)
    up = [n for n in ids if sim.up[n]]
    down = [n for n in ids if not sim.up[n]]
    if kind == "crash" and up:
        return {"at": at, "do": "crash", "node": rng.choice(up)}
    if kind == "restart" and down:
        return {"at": at, "do": "restart", "node": rng.choice(down)}
    if kind in ("drop", "duplicate") and sim.network.inflight:
        mid = rng.choice(list(sim.network.inflight))
        return {"at": at, "do": kind, "msg": mid}
    if kind == "partition":
        shuffled = list(ids)
        rng.shuffle(shuffled)
        cut = rng.randint(1, len(ids) - 1)
        return {"at": at, "do": "partition", "groups": [sorted(shuffled[:cut]), sorted(shuffled[cut:])]}
    if kind == "heal" and sim.network.groups is not None:
        return {"at": at, "do": "heal"}
    if kind == "request":
        req = proto.random_request(rng, ids)
        if req is not None:
            node, op, arg = req
            return {"at": at, "do": "request", "node": node, "op": op, "arg": arg}
    if kind == "protocol":
        return proto.fuzz_action(rng, sim, at)
    if kind == "timeout":
        armed = [(n, name) for n in up for name in proto.timers if name in sim.timers[n]]
        if armed:
            n, name = rng.choice(armed)
            return {"at": at, "do": "timeout", "node": n, "timer": name}
    return None


def random_run(protocol: str, seed: int, *, bugs=(), until=None, nodes=None, actions=40,
               weights=None, base: dict | None = None, settle: int = 0,
               eventual: bool = False) -> tuple[Scenario, list[dict]]:
    """One random fault schedule. Returns (scenario with its actions, safety violations).

    With `settle` ms, the faults stop at the scenario's `until`: the network
    heals, every crashed node restarts, and the run goes on `settle` ms more, so
    the checker's eventual properties are judged too (returned with
    eventual=True).
    """
    proto = registry.get(protocol)
    rng = random.Random(f"fuzz:{protocol}:{seed}")
    data = dict(base or {})
    data.update({"protocol": protocol, "seed": seed, "bugs": list(bugs)})
    if until is not None:
        data["until"] = until
    if nodes is not None:
        data["nodes"] = nodes
    scenario = from_dict(data)
    faults_until = scenario.until
    if settle:
        scenario = from_dict({**scenario.to_dict(), "until": faults_until + settle})
    weights = {**DEFAULT_WEIGHTS, **getattr(proto, "fuzz_weights", {}), **(weights or {})}
    sim = Simulation(scenario, trace=False)
    gap = max(2, faults_until // (actions + 1))
    t = 0
    for _ in range(actions):
        t += rng.randint(1, 2 * gap)
        if t >= faults_until:
            break
        sim.run_until(t - 1)
        if sim.violations or sim.done:
            break
        a = random_action(rng, sim, t, weights)
        for one in ([] if a is None else a if isinstance(a, list) else [a]):
            if one["at"] <= faults_until:
                sim.add_action(one)
    if settle and not sim.violations:
        # Actions a protocol's nemesis stamped past the window land before the calm.
        calm = max([faults_until] + [a["at"] + 1 for a in sim.actions])
        sim.run_until(calm - 1)
        if sim.network.groups is not None:
            sim.add_action({"at": calm, "do": "heal"})
        for n in sim.ids:
            if not sim.up[n]:
                sim.add_action({"at": calm, "do": "restart", "node": n})
    sim.run()
    found = [v for v in sim.violations if eventual or not v.get("eventual")]
    return scenario.with_actions(list(sim.actions)), found


def violations_of(scenario: Scenario) -> list[dict]:
    sim = Simulation(scenario, trace=False).run()
    return [v for v in sim.violations if not v.get("eventual")]


def shrink(scenario: Scenario, invariant: str, budget: int = 200) -> Scenario:
    """Greedily drop actions while the same invariant still breaks; repeat until nothing goes."""
    actions = list(scenario.actions)
    changed = True
    while changed and budget > 0:
        changed = False
        i = len(actions) - 1
        while i >= 0 and budget > 0:
            trial = actions[:i] + actions[i + 1:]
            budget -= 1
            found = violations_of(scenario.with_actions(trial))
            if any(v["invariant"] == invariant for v in found):
                actions = trial
                changed = True
            i -= 1
    return scenario.with_actions(actions)


def check(protocol: str, *, bugs=(), runs=200, seed=1, until=None, nodes=None, progress=None):
    """Run `runs` random schedules. Returns (first counterexample or None, runs done)."""
    for i in range(runs):
        scenario, found = random_run(protocol, seed + i, bugs=bugs, until=until, nodes=nodes)
        if progress:
            progress(i)
        if found:
            invariant = found[0]["invariant"]
            small = shrink(scenario, invariant)
            again = violations_of(small)
            # The shrunk run may break other invariants first; lead with the one we shrank for.
            again.sort(key=lambda v: v["invariant"] != invariant)
            return small, again, i + 1
    return None, [], runs
