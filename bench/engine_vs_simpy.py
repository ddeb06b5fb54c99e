"""The engine core against SimPy and a bare heapq loop, side by side in one process.

The workload is the forwarding protocol (engine/protocols/forward.py): 5 nodes,
20 tokens in flight, latency drawn in 10..30 ms, 200 s of virtual time. Every
delivery picks a random other node and sends the token on. The three loops do
the same work per hop: pop the next delivery, draw a peer and a latency, push.

- heapq:  the floor: a tuple heap and two random draws, nothing else.
- simpy:  SimPy's callback style (a Timeout event whose callback schedules the
          next one), the cheapest way to drive SimPy.
- engine: Simulation(...).run() with tracing off, then with the full trace
          kept, then the CLI's `run --jsonl` writing every event to /dev/null.

Rounds are interleaved (heapq, simpy, engine, ... again) and the median of each
is reported, so a busy moment of the machine hurts every contender alike.
Ratios > 1 mean the engine is faster than the reference.

    python bench/engine_vs_simpy.py [--rounds 5] [--until 200000] [--json]
"""

from __future__ import annotations

import argparse
import gc
import heapq
import io
import json
import random
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from engine.cli import main as cli_main
from engine.scenario import from_dict
from engine.sim import Simulation

NODES, TOKENS, LATENCY = 5, 20, (10, 30)


def scenario(until: int):
    return from_dict({"protocol": "forward", "nodes": NODES, "params": {"tokens": TOKENS},
                      "network": {"latency": list(LATENCY)}, "until": until, "seed": 1})


def heapq_loop(until: int) -> int:
    rng = random.Random(1)
    lo, hi = LATENCY
    heap, seq, hops = [], 0, 0
    for i in range(TOKENS):
        seq += 1
        heapq.heappush(heap, (rng.randint(lo, hi), seq, 1 + i % (NODES - 1), i))
    while heap and heap[0][0] <= until:
        t, _, node, tok = heapq.heappop(heap)
        hops += 1
        nxt = rng.randrange(NODES - 1)
        nxt += nxt >= node
        seq += 1
        heapq.heappush(heap, (t + rng.randint(lo, hi), seq, nxt, tok))
    return hops


def simpy_loop(until: int) -> int:
    import simpy
    env = simpy.Environment()
    rng = random.Random(1)
    lo, hi = LATENCY
    hops = 0

    def send(node, tok):
        ev = env.timeout(rng.randint(lo, hi), value=(node, tok))
        ev.callbacks.append(deliver)

    def deliver(ev):
        nonlocal hops
        node, tok = ev.value
        hops += 1
        nxt = rng.randrange(NODES - 1)
        send(nxt + (nxt >= node), tok)

    for i in range(TOKENS):
        send(1 + i % (NODES - 1), i)
    env.run(until=until + 1)
    return hops


def engine_loop(until: int, trace: bool) -> int:
    return Simulation(scenario(until), trace=trace).run().delivered


def cli_jsonl(until: int) -> int:
    class Sink(io.TextIOBase):
        def write(self, s):
            return len(s)
    data = json.dumps(scenario(until).to_dict())
    stdin, sys.stdin = sys.stdin, io.StringIO(data)
    try:
        cli_main(["run", "-", "--jsonl"], out=Sink())
    finally:
        sys.stdin = stdin
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--until", type=int, default=200_000)
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args(argv)
    contenders = {
        "heapq": lambda: heapq_loop(args.until),
        "simpy": lambda: simpy_loop(args.until),
        "engine, trace off": lambda: engine_loop(args.until, False),
        "engine, full trace": lambda: engine_loop(args.until, True),
        "engine, run --jsonl": lambda: cli_jsonl(args.until),
    }
    hops = engine_loop(args.until, False)
    times = {k: [] for k in contenders}
    for _ in range(args.rounds):
        for name, fn in contenders.items():
            gc.collect()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    rows = [{"loop": k, "median_s": round(v, 4), "hops_per_s": int(hops / v),
             "vs_simpy": round(med["simpy"] / v, 2), "vs_heapq": round(med["heapq"] / v, 2)}
            for k, v in med.items()]
    if args.json:
        print(json.dumps({"hops": hops, "until": args.until, "rounds": args.rounds, "rows": rows}))
        return 0
    print(f"forwarding: {NODES} nodes, {TOKENS} tokens, latency {LATENCY[0]}..{LATENCY[1]} ms, "
          f"{args.until / 1000:g} s virtual, {hops} deliveries; median of {args.rounds} interleaved rounds")
    print(f"{'loop':22} {'seconds':>8} {'hops/s':>10} {'x simpy':>8} {'x heapq':>8}")
    for r in rows:
        print(f"{r['loop']:22} {r['median_s']:>8.3f} {r['hops_per_s']:>10,} {r['vs_simpy']:>8.2f} "
              f"{r['vs_heapq']:>8.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
