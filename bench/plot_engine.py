"""Plot the engine's speed: events per second against node count and against run length.

    python bench/plot_engine.py [--out docs/bench-engine.png] [--repeat 2]

Two panels, trace off and full trace, for the forwarding workload of
`python -m engine bench --section core` and for Raft under a steady client
load. Flat lines against run length are the point: the cost of an event does
not grow with the trace kept before it. Numbers are this machine's; the script
prints them as a table too. matplotlib is a dev dependency (requirements-dev.txt).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import bench

WORKLOADS = {
    "forwarding": lambda nodes, until: bench.forward_scenario(until, nodes, 20),
    "raft": lambda nodes, until: bench.loaded("raft", nodes, until, every=max(until // 400, 40)),
}


def measure(make, nodes: int, until: int, repeat: int) -> dict:
    sc = make(nodes, until)
    off = bench.measure(sc, trace=False, repeat=repeat)
    on = bench.measure(sc, trace=True, repeat=repeat)
    # One unit for both: simulator events handled (deliveries, timers, actions) per second.
    return {"off": off["handled_per_s"], "on": on["handled_per_s"], "events": on["handled"]}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs" / "bench-engine.png"))
    ap.add_argument("--repeat", type=int, default=2)
    args = ap.parse_args(argv)
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    node_counts = [3, 5, 7, 9]
    lengths = [25_000, 50_000, 100_000, 200_000, 400_000]
    by_nodes = {w: [measure(make, n, 100_000, args.repeat) for n in node_counts] for w, make in WORKLOADS.items()}
    by_length = {w: [measure(make, 5, u, args.repeat) for u in lengths] for w, make in WORKLOADS.items()}

    print(f"{'workload':11} {'nodes':>5} {'virtual s':>9} {'handled':>9} {'trace off /s':>14} {'full trace /s':>13}")
    for w in WORKLOADS:
        for n, r in zip(node_counts, by_nodes[w]):
            print(f"{w:11} {n:>5} {100:>9} {r['events']:>9} {r['off']:>14,} {r['on']:>13,}")
        for u, r in zip(lengths, by_length[w]):
            print(f"{w:11} {5:>5} {u // 1000:>9} {r['events']:>9} {r['off']:>14,} {r['on']:>13,}")

    fig, (a, b) = plt.subplots(1, 2, figsize=(11, 4.2), dpi=110)
    styles = {"forwarding": "#2563eb", "raft": "#c2410c"}
    for w, color in styles.items():
        a.plot(node_counts, [r["off"] for r in by_nodes[w]], "o-", color=color, label=f"{w}, trace off")
        a.plot(node_counts, [r["on"] for r in by_nodes[w]], "s--", color=color, label=f"{w}, full trace")
        b.plot([u / 1000 for u in lengths], [r["off"] for r in by_length[w]], "o-", color=color,
               label=f"{w}, trace off")
        b.plot([u / 1000 for u in lengths], [r["on"] for r in by_length[w]], "s--", color=color,
               label=f"{w}, full trace")
    a.set(title="Events per second vs nodes (100 s virtual)", xlabel="nodes", ylabel="simulator events / s")
    b.set(title="Events per second vs run length (5 nodes)", xlabel="virtual seconds", ylabel="simulator events / s",
          xticks=[u / 1000 for u in lengths])
    for ax in (a, b):
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
        ax.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(lambda v, _: f"{v / 1000:.0f}k"))
    a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
