"""Engine benchmarks (`python -m engine bench`): events per second, one process."""

from __future__ import annotations

import time

from .protocols import registry
from .scenario import from_dict
from .sim import Simulation


def _requests(proto, ids, until, every=40):
    """A steady client load as actions: one request every `every` virtual ms."""
    import random
    rng = random.Random("bench")
    out = []
    for at in range(every, until, every):
        req = proto.random_request(rng, ids)
        if req is None:
            break
        node, op, arg = req
        out.append({"at": at, "do": "request", "node": node, "op": op, "arg": arg})
        if len(out) >= 400:
            break
    return out


def measure(scenario, trace: bool, repeat: int = 3) -> dict:
    """Best of `repeat` runs (least disturbed by the rest of the machine)."""
    best = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        sim = Simulation(scenario, trace=trace).run()
        dt = time.perf_counter() - t0
        if best is None or dt < best[0]:
            best = (dt, sim)
    dt, sim = best
    handled = sim.handled
    return {"seconds": round(dt, 4), "handled": handled, "handled_per_s": int(handled / dt),
            "trace_events": sim.seq, "trace_events_per_s": int(sim.seq / dt) if trace else None,
            "deliveries": sim.delivered, "deliveries_per_s": int(sim.delivered / dt)}


def run_bench(names=None, until=20_000, repeat=3) -> list[dict]:
    rows = []
    for proto in registry.all(include_hidden=True):
        if names and proto.name not in names:
            continue
        data = {"protocol": proto.name, "seed": 1, "until": until}
        ids = proto.node_ids(proto.nodes_default)
        reqs = _requests(proto, ids, until)
        if reqs:
            data["actions"] = reqs
        scenario = from_dict(data)
        for trace in (False, True):
            r = measure(scenario, trace, repeat)
            r.update({"protocol": proto.name, "nodes": scenario.nodes, "trace": trace,
                      "requests": len(reqs), "virtual_ms": until})
            rows.append(r)
    return rows
