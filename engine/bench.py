"""Engine benchmarks (`python -m engine bench`), one process, numbers not tests.

Four sections:
- protocols:   events per second for each protocol, trace off and on;
- core:        the engine core side by side with a bare heapq loop and SimPy
               (when installed: it is a dev dependency) on one forwarding workload,
               interleaved rounds, medians, ratios;
- memory:      peak RSS of `run --jsonl` and of a traced run kept whole, each in
               a fresh process, and the bytes per event of the trace as JSON (what a
               session keeps of its streamed history);
- checkpoints: the cost of engine.checkpoint on a long Raft run: bytes and time to
               take one, and seeking (resume from the nearest checkpoint and run on)
               against replaying from t=0.
"""

from __future__ import annotations

import gc
import heapq
import json
import random
import statistics
import subprocess
import sys
import time
from pathlib import Path

from . import checkpoint
from .protocols import registry
from .scenario import from_dict
from .sim import Simulation

ROOT = Path(__file__).resolve().parent.parent

# ------------------------------------------------------------------ protocols


def _requests(proto, ids, until, every=40):
    """A steady client load as actions: one request every `every` virtual ms."""
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


def loaded(name: str, nodes: int | None = None, until: int = 20_000, every: int = 40):
    """A run of protocol `name` (seed 1) under a steady client load: a request every `every` ms."""
    proto = registry.get(name)
    nodes = proto.nodes_default if nodes is None else nodes
    data = {"protocol": name, "nodes": nodes, "seed": 1, "until": until}
    reqs = _requests(proto, proto.node_ids(nodes), until, every)
    if reqs:
        data["actions"] = reqs
    return from_dict(data)


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
        scenario = loaded(proto.name, until=until)
        reqs = scenario.actions
        for trace in (False, True):
            r = measure(scenario, trace, repeat)
            r.update({"protocol": proto.name, "nodes": scenario.nodes, "trace": trace,
                      "requests": len(reqs), "virtual_ms": until})
            rows.append(r)
    return rows


# ------------------------------------------------------------------ core

FORWARD = {"nodes": 5, "tokens": 20, "latency": (10, 30)}


def forward_scenario(until: int, nodes: int = 5, tokens: int = 20):
    lo, hi = FORWARD["latency"]
    return from_dict({"protocol": "forward", "nodes": nodes, "params": {"tokens": tokens},
                      "network": {"latency": [lo, hi]}, "until": until, "seed": 1})


def heapq_loop(until: int, nodes: int = 5, tokens: int = 20) -> int:
    """The floor: pop a delivery, draw a peer and a latency, push. Nothing else."""
    rng = random.Random(1)
    lo, hi = FORWARD["latency"]
    heap, seq, hops = [], 0, 0
    for i in range(tokens):
        seq += 1
        heapq.heappush(heap, (rng.randint(lo, hi), seq, 1 + i % (nodes - 1), i))
    while heap and heap[0][0] <= until:
        t, _, node, tok = heapq.heappop(heap)
        hops += 1
        nxt = rng.randrange(nodes - 1)
        nxt += nxt >= node
        seq += 1
        heapq.heappush(heap, (t + rng.randint(lo, hi), seq, nxt, tok))
    return hops


def simpy_loop(until: int, nodes: int = 5, tokens: int = 20) -> int:
    """SimPy's cheapest style: a Timeout whose callback schedules the next one."""
    import simpy
    env = simpy.Environment()
    rng = random.Random(1)
    lo, hi = FORWARD["latency"]
    hops = 0

    def send(node, tok):
        ev = env.timeout(rng.randint(lo, hi), value=(node, tok))
        ev.callbacks.append(deliver)

    def deliver(ev):
        nonlocal hops
        node, tok = ev.value
        hops += 1
        nxt = rng.randrange(nodes - 1)
        send(nxt + (nxt >= node), tok)

    for i in range(tokens):
        send(1 + i % (nodes - 1), i)
    env.run(until=until + 1)
    return hops


def _cli_jsonl(scenario) -> None:
    import io

    from .cli import cmd_run

    class Sink(io.TextIOBase):
        def write(self, s):
            return len(s)

    class Args:
        token = scenario.to_token()
        jsonl = True
    cmd_run(Args(), Sink())


def has_simpy() -> bool:
    try:
        import simpy  # noqa: F401
    except ImportError:
        return False
    return True


def core(until: int = 200_000, rounds: int = 5, nodes: int = 5, tokens: int = 20) -> dict:
    """The forwarding workload in each loop, interleaved rounds, medians and ratios."""
    sc = forward_scenario(until, nodes, tokens)
    contenders = {"heapq": lambda: heapq_loop(until, nodes, tokens)}
    if has_simpy():
        contenders["simpy"] = lambda: simpy_loop(until, nodes, tokens)
    contenders.update({
        "engine, trace off": lambda: Simulation(sc, trace=False).run(),
        "engine, full trace": lambda: Simulation(sc, trace=True).run(),
        "engine, run --jsonl": lambda: _cli_jsonl(sc),
    })
    hops = Simulation(sc, trace=False).run().delivered
    times = {k: [] for k in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    ref = med.get("simpy")
    rows = [{"loop": k, "median_s": round(v, 4), "hops_per_s": int(hops / v),
             "vs_simpy": round(ref / v, 2) if ref else None, "vs_heapq": round(med["heapq"] / v, 2)}
            for k, v in med.items()]
    return {"workload": {"nodes": nodes, "tokens": tokens, "latency": list(FORWARD["latency"]),
                         "virtual_ms": until, "deliveries": hops}, "rounds": rounds, "rows": rows,
            "simpy": has_simpy()}


# ------------------------------------------------------------------ memory

_RSS_CHILD = """
import io, json, sys
from engine.cli import main
from engine.sim import Simulation
from engine.scenario import from_token
mode, token = sys.argv[1], sys.argv[2]
class Sink(io.TextIOBase):
    def write(self, s):
        return len(s)
out = {}
if mode == "jsonl":
    main(["run", "--token", token, "--jsonl"], out=Sink())
elif mode == "kept":
    trace = Simulation(from_token(token)).run().trace
    size = sum(len(json.dumps(e, separators=(",", ":"), ensure_ascii=False).encode()) for e in trace)
    out = {"events": len(trace), "json_bytes_per_event": round(size / len(trace), 1)}
else:
    out = {"handled": Simulation(from_token(token), trace=False).run().handled}
# VmHWM, not ru_maxrss: on Linux ru_maxrss carries over the parent's peak through fork and exec.
with open("/proc/self/status") as f:
    hwm = next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
print(json.dumps({"peak_mb": round(hwm / 1024, 1), **out}))
"""


def _peak_rss(mode: str, scenario) -> dict:
    out = subprocess.run([sys.executable, "-c", _RSS_CHILD, mode, scenario.to_token()], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    return json.loads(out)


def memory(until: int = 200_000) -> dict:
    """Peak RSS (MB) of a long forwarding run and a 9-node Raft run, each in a fresh process,
    three ways: trace off, `run --jsonl` (streamed), the whole trace kept; JSON bytes per event."""
    runs = {"forward, 5 nodes, 60 tokens": forward_scenario(until, 5, 60),
            "raft, 9 nodes": loaded("raft", 9, min(until * 3, 600_000), every=200)}
    rows = []
    for label, sc in runs.items():
        row = {"run": label, "virtual_ms": sc.until}
        for mode in ("off", "jsonl", "kept"):
            r = _peak_rss(mode, sc)
            row[f"rss_mb_{mode}"] = r.pop("peak_mb")
            row.update(r)
        rows.append(row)
    return {"rows": rows}


# ------------------------------------------------------------------ checkpoints

def long_raft(events: int = 100_000):
    """A Raft run with a steady client load, cut at about `events` trace events."""
    sc = loaded("raft", 5, 600_000, every=150)
    sim = Simulation(sc)
    while sim.seq < events and sim.step_entry():
        pass
    return sc, sim.now


def checkpoints(events: int = 100_000, every: int = 5_000, repeat: int = 5) -> dict:
    """Take a checkpoint every `every` events of a long Raft run; then seek."""
    sc, end = long_raft(events)
    sc = sc.with_actions([a for a in sc.actions if a["at"] <= end])
    sc = from_dict({**sc.to_dict(), "until": end})
    sim = Simulation(sc)
    cps, take_s = [checkpoint.take(sim)], []     # t=0: a seek before the first one starts here
    while True:
        more = sim.step_entries(256)
        if sim.seq >= (len(cps) + 1) * every or not more:
            t0 = time.perf_counter()
            cps.append(checkpoint.take(sim))
            take_s.append(time.perf_counter() - t0)
        if not more:
            break
    total = sim.seq
    seeks = []
    for frac in (0.1, 0.5, 0.9):
        t = int(end * frac)
        replay, resume = [], []
        for _ in range(repeat):
            t0 = time.perf_counter()
            Simulation(sc).run_until(t)
            replay.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            cp = max((c for c in cps if c.now <= t), key=lambda c: c.now)
            checkpoint.resume(cp, sim.proto).run_until(t)
            resume.append(time.perf_counter() - t0)
        seeks.append({"to": f"{int(frac * 100)}%", "t": t, "replay_ms": round(statistics.median(replay) * 1000, 1),
                      "checkpoint_ms": round(statistics.median(resume) * 1000, 1)})
    resume_only = []
    for cp in cps[-3:]:
        t0 = time.perf_counter()
        checkpoint.resume(cp, sim.proto)
        resume_only.append(time.perf_counter() - t0)
    sizes = [c.size for c in cps]
    return {"events": total, "virtual_ms": end, "every": every, "count": len(cps),
            "bytes_median": int(statistics.median(sizes)), "bytes_max": max(sizes), "bytes_total": sum(sizes),
            "take_ms_median": round(statistics.median(take_s) * 1000, 2),
            "resume_ms_median": round(statistics.median(resume_only) * 1000, 2), "seeks": seeks}
