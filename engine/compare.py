"""The same faults under each protocol, measured: `python -m engine compare`.

A fault class is a family of schedules (engine/schedule.py) written in shared roles
and steps: "crash the coordinator right after the last vote, bring it back a second
or two later". Run i of a class draws its jitter (when exactly, for how long, which
participant) from a generator seeded by the class and i alone, so every protocol
meets the very same schedule in run i, under network seed `seed + i`. Each run's
costs come from its trace (engine/costs.py); the table gives, per class and
protocol, the median and the 95th percentile of each over the runs.

Everything is deterministic: the same arguments print the same bytes.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from .costs import METRICS, measure
from .protocols import registry
from .scenario import ScenarioError
from .schedule import plan

TRANSACTIONS = ("2pc", "3pc", "tcc", "saga", "outbox", "mq_tx")
CONSENSUS = ("paxos", "multipaxos", "raft", "zab", "vr", "humming")
MAX_RUNS = 1000


def _rand(cls: str, i: int) -> random.Random:
    return random.Random(f"compare:{cls}:{i}")


# Transactions: one order (or transaction) at t=100, a second later on, and the fault.
# Consensus: writes every 600 ms from t=3000, sent where the protocol takes them (its
# declared request role: the leader, or a client that finds the leader). By then every
# cluster has settled from boot under its default network: leaders are elected within a
# few hundred ms, but a Humming chain is still repairing its members until ~2.3 s, and a
# write during that reconfiguration is refused whatever the fault.
WRITES_FROM = 3000
FAULT_AT = WRITES_FROM + 500        # between the first and the second write at the earliest

def _tx_units(first: int = 100, second: int = 4000) -> list[dict]:
    return [{"at": first, "do": "request"}, {"at": second, "do": "request"}]


def _writes(start: int = WRITES_FROM, every: int = 600, n: int = 8) -> list[dict]:
    return [{"at": start + k * every, "do": "request"} for k in range(n)]


def none_(r: random.Random, family: str) -> dict:
    if family == "consensus":
        return {"until": 10_000, "items": _writes()}
    return {"until": 8000, "items": _tx_units()}


def coordinator_crash(r: random.Random, family: str) -> dict:
    """The driver crashes at its worst moment and comes back 1.5-3 s later."""
    if family == "consensus":
        crash = FAULT_AT + r.randrange(0, 300)
        items = _writes()
        items.insert(1, {"at": crash, "do": "crash", "role": "leader"})
        items.insert(3, {"at": crash + r.randrange(1500, 3000), "do": "restart", "role": "leader"})
        return {"until": 11_000, "items": sorted(items, key=lambda it: it["at"])}
    return {"until": 8000, "items": [
        {"at": 100, "do": "request"},
        {"after": "vote", "nth": "all", "delay": r.randrange(1, 40), "do": "crash", "role": "coordinator"},
        {"at": 100 + r.randrange(1500, 3000), "do": "restart", "role": "coordinator"},
        {"at": 4000, "do": "request"}]}


def participant_crash(r: random.Random, family: str) -> dict:
    """A participant (a follower) crashes once it has answered, and comes back later."""
    who = f"participant:{r.randrange(1, 3)}" if family != "consensus" else f"follower:{r.randrange(1, 3)}"
    if family == "consensus":
        crash = FAULT_AT + r.randrange(0, 300)
        items = _writes()
        items += [{"at": crash, "do": "crash", "role": who},
                  {"at": crash + r.randrange(1500, 3000), "do": "restart", "role": who}]
        return {"until": 11_000, "items": sorted(items, key=lambda it: it["at"])}
    return {"until": 8000, "items": [
        {"at": 100, "do": "request"},
        {"after": "vote", "nth": 1, "delay": r.randrange(1, 40), "do": "crash", "role": who},
        {"at": 100 + r.randrange(1500, 3000), "do": "restart", "role": who},
        {"at": 4000, "do": "request"}]}


def partition(r: random.Random, family: str) -> dict:
    """The driver is cut off from everyone for 1-2 s: who still answers?"""
    if family == "consensus":
        cut = FAULT_AT + r.randrange(0, 300)
        items = _writes()
        items += [{"at": cut, "do": "partition", "isolate": "leader"},
                  {"at": cut + r.randrange(1000, 2000), "do": "heal"}]
        return {"until": 11_000, "items": sorted(items, key=lambda it: it["at"])}
    return {"until": 8000, "items": [
        {"at": 100, "do": "request"},
        {"after": "prepare", "nth": 1, "delay": r.randrange(1, 30), "do": "partition", "isolate": "coordinator"},
        {"at": 100 + r.randrange(1000, 2000), "do": "heal"},
        {"at": 4000, "do": "request"}]}


def _one_message(do: str, r: random.Random, family: str) -> dict:
    """One message of the decisive step is dropped or duplicated: the first decision message
    of the first order (some patterns send one per order: the relay's Publish, the
    producer's EndTransaction), or for consensus the 1st or 2nd replicate message counted
    from the second write, so it carries a write (not an idle heartbeat before it)."""
    nth = r.randrange(1, 3)
    if family == "consensus":
        return {"until": 10_000, "items": _writes()[:2] + [
            {"at": WRITES_FROM + 600, "do": do, "step": "replicate", "nth": nth}] + _writes()[2:]}
    return {"until": 8000, "items": [{"at": 100, "do": "request"},
                                     {"do": do, "step": "decision", "nth": 1},
                                     {"at": 4000, "do": "request"}]}


def message_loss(r: random.Random, family: str) -> dict:
    """One message of the decisive step is lost."""
    return _one_message("drop", r, family)


def duplicate(r: random.Random, family: str) -> dict:
    """One message of the decisive step arrives twice: is it absorbed?"""
    return _one_message("duplicate", r, family)


def business_failure(r: random.Random, family: str) -> dict:
    """The second participant refuses its step for a business reason: who undoes what the
    first already did? (Were it the first, nothing would be done yet, in any pattern.)"""
    return {"until": 8000, "items": [{"at": 50, "do": "fail", "role": "participant:2"}, *_tx_units()]}


@dataclass(frozen=True)
class FaultClass:
    name: str
    make: object            # (rng, family) -> schedule
    families: tuple[str, ...] = ("transactions", "consensus")


FAULT_CLASSES = {c.name: c for c in (
    FaultClass("none", none_),
    FaultClass("coordinator_crash", coordinator_crash),
    FaultClass("participant_crash", participant_crash),
    FaultClass("partition", partition),
    FaultClass("message_loss", message_loss),
    FaultClass("duplicate", duplicate),
    FaultClass("business_failure", business_failure, ("transactions",)),
)}


# Replicated state machines are compared at one size, three servers (one failure tolerated),
# whatever each lesson's default: messages grow with the cluster, and so does Raft's five.
FAMILY_BASE = {"consensus": {"nodes": 3}}


def family_of(proto) -> str:
    declared = proto.compare.family if proto.compare is not None else None
    if declared is not None:
        return declared
    return "consensus" if proto.category == "consensus" else "transactions"


def schedule_for(cls: str, i: int, family: str) -> dict:
    """Run i of fault class `cls` for a family of protocols (the same for each of them)."""
    if cls not in FAULT_CLASSES:
        raise ScenarioError(f"unknown fault class {cls!r}; expected one of: {', '.join(FAULT_CLASSES)}")
    return FAULT_CLASSES[cls].make(_rand(cls, i), family)


def run_one(protocol: str, schedule: dict, seed: int, base: dict | None = None) -> dict:
    """One protocol under one schedule: its plan's outcomes and its costs. `base`: scenario
    fields to start from (the family's cluster size)."""
    p = plan(protocol, schedule, seed, base)
    return {"costs": measure(p.sim, p.starts), "outcomes": [o.as_dict() for o in p.outcomes],
            "missing": [o.as_dict() for o in p.missing], "scenario": p.scenario}


def _quantile(xs: list[float], q: float) -> float:
    """The nearest-rank quantile (no interpolation: every figure is one a run produced)."""
    xs = sorted(xs)
    k = max(0, min(len(xs) - 1, -(-int(q * 100) * len(xs) // 100) - 1))
    return xs[k]


# Metrics where more is better: their bad tail is the low end, so "p95" is the value 95%
# of runs did at least as well as (the 5th percentile); a high p95 would hide the runs
# that left a client unserved.
HIGHER_IS_BETTER = ("served",)


def summarize(values: list, higher_is_better: bool = False) -> dict | None:
    """Median and p95 (the bad tail) of one metric over runs; None where the metric does not
    apply. `undefined` counts runs where it never happened (never decided, never settled)."""
    got = [v for v in values if v is not None]
    if values and not got:
        return None
    tail = 0.05 if higher_is_better else 0.95
    return {"median": _quantile(got, 0.5) if got else None, "p95": _quantile(got, tail) if got else None,
            "undefined": len(values) - len(got)}


def compare(protocols: list[str], faults: list[str], runs: int, seed: int = 1, progress=None) -> dict:
    """Every protocol under every fault class, `runs` runs each: medians and p95s."""
    if not 1 <= runs <= MAX_RUNS:
        raise ScenarioError(f"runs must be from 1 to {MAX_RUNS}")
    for name in protocols:
        if registry.get(name).compare is None:
            raise ScenarioError(f"{name} declares no comparison (roles and steps)")
    for cls in faults:
        if cls not in FAULT_CLASSES:
            raise ScenarioError(f"unknown fault class {cls!r}; expected one of: {', '.join(FAULT_CLASSES)}")
    rows = []
    for cls in faults:
        for name in protocols:
            proto = registry.get(name)
            family = family_of(proto)
            if family not in FAULT_CLASSES[cls].families:
                continue
            per_run = []
            missing: dict[str, int] = {}
            for i in range(runs):
                try:
                    r = run_one(name, schedule_for(cls, i, family), seed + i, FAMILY_BASE.get(family))
                except ScenarioError as e:
                    # A step came later than the item after it (a slow protocol): this run
                    # cannot be placed as written; say so rather than stop the whole table.
                    key = f"unplanned:{e}"
                    missing[key] = missing.get(key, 0) + 1
                    continue
                per_run.append(r["costs"])
                # Runs, not items: a crash and its restart that both lack a role are one run.
                for key in dict.fromkeys(f"{m['status']}:{m.get('what', '')}" for m in r["missing"]):
                    missing[key] = missing.get(key, 0) + 1
                if progress:
                    progress(cls, name, i + 1)
            rows.append({"faults": cls, "protocol": name, "runs": runs,
                         "metrics": {m: summarize([c[m] for c in per_run], m in HIGHER_IS_BETTER)
                                     for m in METRICS},
                         "missing": dict(sorted(missing.items()))})
    return {"protocols": protocols, "faults": faults, "runs": runs, "seed": seed, "rows": rows}


# ---------------------------------------------------------------- the table

COLUMNS = (("messages", "msgs"), ("writes", "writes"), ("decided_ms", "decided ms"), ("slowest_ms", "slowest ms"),
           ("settled_ms", "settled ms"), ("held_ms", "held ms"), ("blocked_ms", "blocked ms"),
           ("leaderless_ms", "no-leader ms"), ("compensations", "undos"), ("duplicates", "dups"),
           ("stale_reads", "stale"), ("served", "served"), ("violations", "viol"))


def _cell(s: dict | None) -> str:
    if s is None:
        return "-"
    if s["median"] is None:
        return "never"

    def f(v):
        return f"{v:g}" if isinstance(v, float) else str(v)
    text = f(s["median"]) if s["median"] == s["p95"] else f"{f(s['median'])}/{f(s['p95'])}"
    return text + ("*" if s["undefined"] else "")


def table(result: dict) -> str:
    """The result as text: one row per fault class and protocol, median/p95 per cell."""
    cols = [c for c in COLUMNS if any(r["metrics"][c[0]] is not None for r in result["rows"])]
    head = ["faults", "protocol", *[h for _, h in cols]]
    body = [[r["faults"], r["protocol"], *[_cell(r["metrics"][m]) for m, _ in cols]] for r in result["rows"]]
    widths = [max(len(str(x)) for x in col) for col in zip(head, *body)]
    lines = ["  ".join(str(x).ljust(w) for x, w in zip(row, widths)).rstrip() for row in [head, *body]]
    lines.insert(1, "  ".join("-" * w for w in widths))
    notes = [(f"{result['runs']} runs per row (run i: network seed {result['seed']}+i, the same faults for "
             "every protocol); a cell is median/p95 (one number when they agree; for served, the p95 is "
             "the low end, what 95% of runs did at least as well as), - where the cost does "
             "not apply, * when some runs never got there (never decided, still held at the end), "
             "never when none did.")]
    for r in result["rows"]:
        for what, n in r["missing"].items():
            status, _, name = what.partition(":")
            why = {"no_role": f"has no {name} role", "no_step": f"has no {name} step"}.get(status, f"could not place: {name}")
            notes.append(f"{r['faults']}/{r['protocol']}: {why} ({n} of {r['runs']} runs)")
    return "\n".join(lines + [""] + notes) + "\n"
