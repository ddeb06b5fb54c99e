"""Random fault schedules: the engine of `python -m engine check`.

A schedule is built live against a running simulation (so a drop names a
message that really is in flight) and recorded as ordinary actions, so the
resulting scenario replays to the same trace with `run`.

Two ways in:

- `random_run(protocol, seed, ...)`: the protocol's default parameters,
  network and node count, and a fixed fault mix. Its schedules are pinned by
  tests; new behaviour never changes them.
- `fuzz_run(protocol, seed, model)` and `check(..., model=Model(...))`: each
  run also draws, unless pinned, the protocol's parameters within their
  declared bounds, a node count and a network, and injects only the faults of
  the model. After the faults a calm (every node back up, the network healed,
  no loss or duplication) lets the checker judge its eventual properties; a
  handler that raises is a finding too. Everything drawn is recorded in the
  scenario, so a counterexample replays with `run` exactly.

Determinism: every draw comes from a random.Random seeded with the protocol's
name and the run's seed, so the same seed gives the same runs in any process.
"""

from __future__ import annotations

import math
import random
import re
from dataclasses import dataclass, field

from . import limits
from .protocol import Checker
from .protocols import registry
from .scenario import Scenario, ScenarioError, from_dict, validate_network, validate_param
from .sim import ProtocolError, Simulation

# "set" (a network change mid-run) is drawn only under a fault model: it has no
# default weight, so random_run's schedules stay what they were.
KINDS = ("crash", "restart", "drop", "duplicate", "partition", "heal", "request", "timeout", "protocol", "set")
# "protocol" asks the protocol's own fuzz_action (a protocol-aware nemesis, e.g.
# "isolate the current leader"); it returns an ordinary action, so schedules replay.
DEFAULT_WEIGHTS = {"crash": 3, "restart": 4, "drop": 3, "duplicate": 1, "partition": 2,
                   "heal": 2, "request": 6, "timeout": 2, "protocol": 0}
SET_WEIGHT = 1

# The fault model of `check --faults`. Client requests are workload, always sent.
FAULTS = ("crash", "restart", "partition", "drop", "loss", "duplicate", "delay", "timeout", "protocol")
FAULT_HELP = {
    "crash": "nodes crash (volatile state lost)",
    "restart": "crashed nodes restart from disk",
    "partition": "the network splits into groups, and heals",
    "drop": "a message in flight is dropped",
    "loss": "the network loses messages at random (a drawn loss rate)",
    "duplicate": "the network duplicates messages at random, and single messages are duplicated",
    "delay": "latency wider and longer than the protocol's default network, and changed mid-run",
    "timeout": "a node's timer is forced to fire early",
    "protocol": "the protocol's own nemesis (fuzz_action) picks the moment; its moves keep to the other kinds",
}
_SETTING_FAULT = {"latency": "delay", "loss": "loss", "duplicate": "duplicate"}

DEFAULT_SETUP_SHARE = 0.25   # runs that keep the protocol's default parameters, node count and network
NETWORK_FAULT_SHARE = 1 / 3  # of the other runs, those whose base network is slow / lossy / duplicating (each)
NODE_TRIES = 20          # draws of (nodes, params) before falling back when validate() keeps refusing


def parse_faults(text: str) -> tuple[str, ...]:
    """'crash,restart' -> ('crash', 'restart') in canonical order; 'all' = every fault."""
    names = [x.strip() for x in str(text).split(",") if x.strip()]
    if not names:
        raise ScenarioError(f"--faults is empty; expected a comma list of: {', '.join(FAULTS)} (or all)")
    if names == ["all"]:
        return FAULTS
    for n in names:
        if n not in FAULTS:
            raise ScenarioError(f"unknown fault {n!r}; expected a comma list of: {', '.join(FAULTS)} (or all)"[:300])
    return tuple(f for f in FAULTS if f in names)


def _allowed(action: dict, faults) -> bool:
    """May this action happen under the fault model? (None: no model, anything goes.)"""
    if faults is None:
        return True
    do = action.get("do")
    if do == "request":
        return True
    if do in ("partition", "heal"):
        return "partition" in faults
    if do == "set":
        return _SETTING_FAULT.get(action.get("param")) in faults
    return do in faults


def _pick(rng, weights: dict) -> str | None:
    kinds = [k for k in KINDS if weights.get(k, 0) > 0]
    if not kinds:
        return None
    return rng.choices(kinds, weights=[weights[k] for k in kinds])[0]


def random_action(rng, sim: Simulation, at: int, weights: dict, faults=None,
                  base_network: dict | None = None) -> dict | list | None:
    """One random action at `at` (or None). With `faults` (a fault model), the
    protocol's nemesis moves are kept only when all their actions are allowed."""
    proto = sim.proto
    ids = sim.ids
    kind = _pick(rng, weights)
    up = [n for n in ids if sim.up[n]]
    down = [n for n in ids if not sim.up[n]]
    if kind == "crash":
        # Only nodes whose crash the protocol's safety claim covers (Protocol.may_crash).
        up = [n for n in up if proto.may_crash(sim, n)]
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
        move = proto.fuzz_action(rng, sim, at)
        moves = [] if move is None else move if isinstance(move, list) else [move]
        if faults is not None and not all(_allowed(a, faults) for a in moves):
            return None
        return move
    if kind == "timeout":
        armed = [(n, name) for n in up for name in proto.timers if name in sim.timers[n]]
        if armed:
            n, name = rng.choice(armed)
            return {"at": at, "do": "timeout", "node": n, "timer": name}
    if kind == "set" and faults is not None:
        return _random_set(rng, sim, at, faults, base_network or sim.scenario.network)
    return None


def _random_set(rng, sim, at, faults, base: dict) -> dict | None:
    """A network change: a delay spike (or its end), a loss or duplication rate (or none)."""
    settings = [p for p in ("latency", "loss", "duplicate") if _SETTING_FAULT[p] in faults]
    if not settings:
        return None
    p = rng.choice(settings)
    net = sim.network
    if p == "latency":
        if net.latency != list(base["latency"]) and rng.random() < 0.5:
            value = list(base["latency"])                       # the spike is over
        else:
            value = _draw_latency(rng, base["latency"])
    else:
        value = 0.0 if getattr(net, p) > 0 and rng.random() < 0.5 else _draw_rate(rng)
    return {"at": at, "do": "set", "param": p, "value": value}


# ---------------------------------------------------------------- drawing a setup

def _log_uniform(rng, lo, hi) -> float:
    """In [lo, hi], denser near lo (log-uniform in the distance from lo - 1)."""
    return lo - 1 + math.exp(rng.uniform(0.0, math.log(hi - lo + 1)))


def draw_param(rng, p):
    """A value of Param p, biased toward realistic ones: 40% its default, 30% near it
    (x1/4 to x4), 15% log-uniform (small values) and 15% uniform within [min, max],
    so every value of the range can come up. A choice: half the time its default."""
    if p.kind == "choice":
        return p.default if rng.random() < 0.5 else rng.choice(p.choices)
    r = rng.random()
    if r < 0.4 or p.min == p.max:
        return p.default
    if r < 0.7:
        x = p.default * 2 ** rng.uniform(-2.0, 2.0)
    elif r < 0.85:
        x = _log_uniform(rng, p.min, p.max)
    elif p.kind == "float":
        x = rng.uniform(p.min, p.max)
    else:
        return rng.randint(p.min, p.max)
    x = round(x, 3) if p.kind == "float" else round(x)
    return min(p.max, max(p.min, x))


def draw_nodes(rng, lo: int, hi: int, default: int) -> int:
    """A node count: 30% the default, 30% one of the three smallest (small clusters
    break sooner: a fault hits a larger share of them), 40% uniform in [lo, hi]."""
    r = rng.random()
    if r < 0.3:
        return default
    if r < 0.6:
        return rng.randint(lo, min(hi, lo + 2))
    return rng.randint(lo, hi)


def _draw_latency(rng, default) -> list[int]:
    """Wider and longer than the default [lo, hi]: lo in [1, lo], hi up to 10x (at least 1 s)."""
    lo, hi = default
    new_lo = rng.randint(1, lo)
    top = min(limits.MAX_LATENCY_MS, max(10 * hi, 1000))
    new_hi = max(new_lo, hi, round(_log_uniform(rng, hi, top)))
    return [new_lo, min(top, new_hi)]


def _draw_rate(rng) -> float:
    """A loss or duplication rate in [0.01, 0.3], small ones more often."""
    return round(math.exp(rng.uniform(math.log(0.01), math.log(0.3))), 3)


@dataclass
class Model:
    """What the runs of a check may draw and do.

    faults: the fault kinds injected (FAULTS); params / network: pinned values
    (the rest is drawn within the protocol's bounds); nodes: a pinned node
    count (None: drawn); settle: ms of calm after the faults (None: the
    protocol's settle_ms; 0: no calm, eventual properties not judged).
    """

    faults: tuple[str, ...] = FAULTS
    params: dict = field(default_factory=dict)
    network: dict = field(default_factory=dict)
    nodes: int | None = None
    settle: int | None = None

    def fallback(self, proto) -> tuple[int, dict]:
        """Nodes and params when drawing keeps failing validate(): the pins and the
        defaults; if the protocol refuses those, the first node count it accepts."""
        params = {p.name: self.params.get(p.name, p.default) for p in proto.params}
        counts = [self.nodes] if self.nodes is not None else \
            [proto.nodes_default] + list(range(proto.nodes_min, min(proto.nodes_max, limits.MAX_NODES) + 1))
        problem = None
        for n in counts:
            problem = proto.validate(n, params)
            if problem is None:
                return n, params
        raise ScenarioError(problem)

    def draw(self, proto, seed: int) -> dict:
        """Scenario fields (nodes, params, network) for run `seed`."""
        rng = random.Random(f"fuzz-setup:{proto.name}:{seed}")
        # A quarter of the runs keep the protocol's default setup (what it is tuned
        # for, where its presets live); the rest draw each unpinned value.
        plain = rng.random() < DEFAULT_SETUP_SHARE
        lo, hi = proto.nodes_min, min(proto.nodes_max, limits.MAX_NODES)
        for _ in range(NODE_TRIES):
            nodes = self.nodes
            if nodes is None:
                nodes = proto.nodes_default if plain else draw_nodes(rng, lo, hi, proto.nodes_default)
            params = {}
            for p in proto.params:
                v = p.default if plain else draw_param(rng, p)
                params[p.name] = self.params.get(p.name, v)
            if proto.validate(nodes, params) is None:
                break
            plain = False               # the defaults are refused (with the pins): draw
        else:
            nodes, params = self.fallback(proto)
        base = proto.default_network
        network = {"latency": list(base["latency"]), "loss": base["loss"], "duplicate": base["duplicate"]}
        for key, fault, draw in (("latency", "delay", lambda: _draw_latency(rng, base["latency"])),
                                 ("loss", "loss", lambda: _draw_rate(rng)),
                                 ("duplicate", "duplicate", lambda: _draw_rate(rng))):
            if fault in self.faults and not plain and rng.random() < NETWORK_FAULT_SHARE:
                network[key] = draw()
        network.update(self.network)
        return {"nodes": nodes, "params": params, "network": network}


def validate_pins(proto, params: dict, network: dict | None, nodes: int | None) -> tuple[dict, dict]:
    """Check pinned values as a scenario's are checked; returns (params, the network keys given)."""
    clean = {name: validate_param(proto, name, v) for name, v in params.items()}
    net = {}
    if network is not None:
        full = validate_network(network, proto.default_network)
        net = {k: full[k] for k in ("latency", "loss", "duplicate") if k in network}
    if nodes is not None:
        hi = min(proto.nodes_max, limits.MAX_NODES)
        if isinstance(nodes, bool) or not isinstance(nodes, int) or not proto.nodes_min <= nodes <= hi:
            raise ScenarioError(f"nodes={nodes} is out of range [{proto.nodes_min}, {hi}]")
    return clean, net


# ---------------------------------------------------------------- one run

@dataclass
class Outcome:
    """One random run: its scenario (replayable), what it found, and how."""

    scenario: Scenario
    violations: list[dict]          # safety, and eventual ones (flagged) when judged
    error: str | None = None        # a handler raised (ProtocolError's message)
    error_kind: str | None = None   # exception type and handler, for shrinking
    error_t: int | None = None
    settle: int = 0                 # ms of calm after the faults (0: eventual not judged)

    @property
    def found(self) -> list[dict]:
        """Every finding in order: violations, then the error (a handler raised)."""
        if self.error is not None:
            return [*self.violations, error_finding(self.error, self.error_kind, self.error_t)]
        return self.violations


def error_finding(message: str, kind: str | None, t: int | None) -> dict:
    """A protocol error as a finding (the shape of a violation dict, with "error")."""
    return {"invariant": "protocol_error", "message": message, "nodes": [], "t": t, "error": kind or ""}


def error_kind(e: BaseException) -> str:
    """What kind of error: the exception type and where it was raised ("KeyError in on_message(grant)")."""
    cause = e.__cause__
    typ = type(cause).__name__ if cause is not None else type(e).__name__
    text = str(e)
    m = re.search(r"failed in (\S+) at t=", text)
    if m:
        where = m.group(1)
    elif "checker failed" in text:
        where = "checker"
    else:
        where = re.sub(r"\d+", "#", text.split(": ", 1)[-1])[:80]
    return f"{typ} in {where}"


def has_eventual(proto) -> bool:
    """Does the protocol's checker judge eventual properties (override Checker.on_quiet)?"""
    return proto.checker_class.on_quiet is not Checker.on_quiet


def _new_sim(scenario: Scenario) -> Simulation:
    try:
        return Simulation(scenario, trace=False)
    except (ProtocolError, ScenarioError):
        raise
    except Exception as e:  # create_node raised: a protocol bug like any handler's
        raise ProtocolError(f"{scenario.protocol}: create_node failed: {type(e).__name__}: {e}") from e


def _generate(protocol: str, seed: int, *, bugs=(), until=None, nodes=None, actions=40, weights=None,
              base: dict | None = None, settle: int = 0, eventual: bool = False,
              model: Model | None = None) -> Outcome:
    proto = registry.get(protocol)
    rng = random.Random(f"fuzz:{protocol}:{seed}")
    faults = None
    if model is None:
        data = dict(base or {})
    else:
        faults = model.faults
        data = {**(base or {}), **model.draw(proto, seed)}
    data.update({"protocol": protocol, "seed": seed, "bugs": list(bugs)})
    if until is not None:
        data["until"] = until
    if nodes is not None and model is None:
        data["nodes"] = nodes
    scenario = from_dict(data)
    faults_until = scenario.until
    if model is not None:
        if model.settle is not None:
            settle = model.settle
        elif has_eventual(proto):
            settle = proto.settle_ms(scenario.params, scenario.network)
        else:
            settle = 0          # nothing to judge after a calm: do not run one
        settle = max(0, min(int(settle or 0), limits.MAX_UNTIL_MS - faults_until))   # None: judge none
        eventual = settle > 0
    if settle:
        scenario = from_dict({**scenario.to_dict(), "until": faults_until + settle})
    weights = {**DEFAULT_WEIGHTS, **getattr(proto, "fuzz_weights", {}), **(weights or {})}
    if faults is not None:
        weights = {"set": SET_WEIGHT, **weights}
        for k in ("crash", "restart", "drop", "duplicate", "partition", "timeout", "protocol"):
            if k not in faults:
                weights[k] = 0
        if "partition" not in faults:
            weights["heal"] = 0
        if not {"delay", "loss", "duplicate"} & set(faults):
            weights["set"] = 0
    else:
        weights["set"] = 0
    sim = None
    try:
        sim = _new_sim(scenario)
        gap = max(2, faults_until // (actions + 1))
        t = 0
        for _ in range(actions):
            t += rng.randint(1, 2 * gap)
            if t >= faults_until:
                break
            sim.run_until(t - 1)
            if sim.violations or sim.done:
                break
            a = random_action(rng, sim, t, weights, faults, scenario.network)
            for one in ([] if a is None else a if isinstance(a, list) else [a]):
                # Under a model the faults end before the calm starts at faults_until, so
                # the checker sees a full `settle` ms after the last of them.
                if one["at"] < faults_until or (model is None and one["at"] == faults_until):
                    sim.add_action(one)
        if model is not None and sim.violations:
            # A safety violation during the faults: the run has shown what it needs to.
            return Outcome(scenario.with_actions(list(sim.actions)), list(sim.violations), settle=settle)
        if settle and not sim.violations:
            # Actions a protocol's nemesis stamped past the window land before the calm.
            calm = max([faults_until] + [a["at"] + 1 for a in sim.actions])
            sim.run_until(calm - 1)
            if not sim.done:
                if sim.network.groups is not None:
                    sim.add_action({"at": calm, "do": "heal"})
                for n in sim.ids:
                    if not sim.up[n]:
                        sim.add_action({"at": calm, "do": "restart", "node": n})
                if model is not None:   # the faults stop: no more loss, duplication or delay spikes
                    net = sim.network
                    if net.latency != list(scenario.network["latency"]):
                        sim.add_action({"at": calm, "do": "set", "param": "latency",
                                        "value": list(scenario.network["latency"])})
                    for p in ("loss", "duplicate"):
                        if getattr(net, p):
                            sim.add_action({"at": calm, "do": "set", "param": p, "value": 0.0})
        sim.run()
    except ProtocolError as e:
        if model is None:
            raise
        if sim is None:
            return Outcome(scenario, [], str(e), error_kind(e), 0, settle)
        return Outcome(scenario.with_actions(list(sim.actions)), list(sim.violations), str(e), error_kind(e),
                       sim.now, settle)
    found = [v for v in sim.violations if eventual or not v.get("eventual")]
    return Outcome(scenario.with_actions(list(sim.actions)), found, settle=settle)


def random_run(protocol: str, seed: int, *, bugs=(), until=None, nodes=None, actions=40,
               weights=None, base: dict | None = None, settle: int = 0,
               eventual: bool = False, model: Model | None = None) -> tuple[Scenario, list[dict]]:
    """One random fault schedule. Returns (scenario with its actions, safety violations).

    With `settle` ms, the faults stop at the scenario's `until`: the network
    heals, every crashed node restarts, and the run goes on `settle` ms more, so
    the checker's eventual properties are judged too (returned with
    eventual=True).

    With a `model` (see Model), the setup is drawn and the faults follow the
    model (`nodes` and `settle` then come from the model); a handler that
    raises still raises ProtocolError here (fuzz_run reports it instead).
    """
    out = _generate(protocol, seed, bugs=bugs, until=until, nodes=nodes, actions=actions, weights=weights,
                    base=base, settle=settle, eventual=eventual, model=model)
    if out.error is not None:
        raise ProtocolError(out.error)
    return out.scenario, out.violations


def fuzz_run(protocol: str, seed: int, model: Model | None = None, *, bugs=(), until=None, actions=40,
             weights=None) -> Outcome:
    """One run under a fault model (default: every fault, everything drawn). A handler
    that raises ends the run and is reported in the Outcome, with the actions so far."""
    return _generate(protocol, seed, bugs=bugs, until=until, actions=actions, weights=weights,
                     model=model or Model())


# ---------------------------------------------------------------- shrinking

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


def target_of(finding: dict) -> tuple:
    """What a shrunk scenario must still show: ("error", kind) or ("violation", invariant, eventual)."""
    if "error" in finding:
        return ("error", finding["error"])
    return ("violation", finding["invariant"], bool(finding.get("eventual")))


def outcome_of(scenario: Scenario, target: tuple | None = None, spent: list | None = None) -> list[dict]:
    """Replay: every finding, in order (safety and eventual violations, then the
    protocol error if a handler raised). With a safety `target`, stop as soon as
    it shows. `spent` ([events]) is increased by the events the replay handled."""
    stop_early = target is not None and target[0] == "violation" and not target[2]
    sim = None
    try:
        sim = _new_sim(scenario)
        seen = 0
        while sim.step_entry():
            if stop_early and len(sim.violations) > seen:
                if any(v["invariant"] == target[1] and not v.get("eventual") for v in sim.violations):
                    break
                seen = len(sim.violations)
    except ProtocolError as e:
        found = list(sim.violations) if sim is not None else []
        return [*found, error_finding(str(e), error_kind(e), sim.now if sim is not None else 0)]
    finally:
        if spent is not None and sim is not None:
            spent[0] += sim.handled
    return list(sim.violations)


SHRINK_TRIALS = 300          # replays a shrink may spend...
SHRINK_EVENTS = 5_000_000    # ...and simulator events (deterministic bounds, unlike a clock)


def shrink_finding(scenario: Scenario, target: tuple, trials: int = SHRINK_TRIALS,
                   events: int = SHRINK_EVENTS) -> Scenario:
    """Make a counterexample small while it still shows `target` (see target_of):
    drop actions, put parameters, the network and the node count back to the
    defaults where the finding stays, and end the run where a safety violation
    or an error shows. Bounded by `trials` replays and `events` simulator events."""
    left = [trials]
    spent = [0]

    def tries(candidate: dict) -> Scenario | None:
        if left[0] <= 0 or spent[0] >= events:
            return None
        left[0] -= 1
        try:
            trial = from_dict(candidate)
        except ScenarioError:           # e.g. an action names a node that is gone now
            return None
        shows = any(target_of(f) == target for f in outcome_of(trial, target, spent))
        return trial if shows else None

    def drop_actions(sc: Scenario) -> Scenario:
        actions = list(sc.actions)
        changed = True
        while changed:
            changed = False
            for i in range(len(actions) - 1, -1, -1):
                trial = tries({**sc.to_dict(), "actions": actions[:i] + actions[i + 1:]})
                if trial is not None:
                    actions = actions[:i] + actions[i + 1:]
                    changed = True
        return sc.with_actions(actions)

    proto = registry.get(scenario.protocol)
    small = drop_actions(scenario)
    before = small.to_dict()
    d = small.to_dict()
    for p in proto.params:
        if d["params"].get(p.name) != p.default:
            trial = tries({**d, "params": {**d["params"], p.name: p.default}})
            if trial is not None:
                d = trial.to_dict()
    default_net = validate_network({}, proto.default_network)
    if d["network"] != default_net:
        trial = tries({**d, "network": default_net})
        if trial is not None:
            d = trial.to_dict()
        else:
            for key in ("latency", "loss", "duplicate"):
                if d["network"][key] != default_net[key]:
                    trial = tries({**d, "network": {**d["network"], key: default_net[key]}})
                    if trial is not None:
                        d = trial.to_dict()
    for n in range(proto.nodes_min, d["nodes"]):
        trial = tries({**d, "nodes": n})
        if trial is not None:
            d = trial.to_dict()
            break
    small = from_dict(d)
    if d != before:
        small = drop_actions(small)
    eventual = target[0] == "violation" and target[2]
    if not eventual:
        found = [f for f in outcome_of(small, target) if target_of(f) == target]
        if found:
            end = max([found[0]["t"]] + [a["at"] for a in small.actions])
            if end < small.until:
                trial = tries({**small.to_dict(), "until": max(limits.MIN_UNTIL_MS, end)})
                if trial is not None:
                    small = trial
    return small


# ---------------------------------------------------------------- check

def check(protocol: str, *, bugs=(), runs=200, seed=1, until=None, nodes=None, progress=None,
          model: Model | None = None, actions: int = 40):
    """Run `runs` random schedules. Returns (first counterexample or None, its findings, runs done).

    Without `model`: the protocol's defaults and the fixed fault mix, safety only
    (as random_run). With a `model`: drawn setups, the model's faults, eventual
    properties after the calm, and a handler that raises is a counterexample too
    (its finding has invariant "protocol_error" and an "error" key); findings are
    led by the one the scenario was shrunk for.
    """
    if model is None:
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
    for i in range(runs):
        out = fuzz_run(protocol, seed + i, model, bugs=bugs, until=until, actions=actions)
        if progress:
            progress(i)
        if out.found:
            small, again = counterexample(out)
            return small, again, i + 1
    return None, [], runs


def counterexample(out: Outcome) -> tuple[Scenario, list[dict]]:
    """A failing run (out.found not empty) shrunk for its first finding: (scenario, findings
    of the shrunk run, led by that one). The sequential check and engine/hunt.py's workers alike."""
    found = out.found
    target = target_of(found[0])
    small = shrink_finding(out.scenario, target)
    again = outcome_of(small)
    again.sort(key=lambda f: target_of(f) != target)
    if not again or target_of(again[0]) != target:     # cannot happen: replays are exact
        small, again = out.scenario, found
    for f in again:
        f.setdefault("settle", out.settle)
    return small, again
