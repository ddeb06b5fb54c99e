"""Seek in a 100,000-event Raft session: checkpoints vs the old replay from t=0.

Drives playground.session.Session directly (no sockets). For seeks back to 10%,
50% and 90% of the run: server time (median of 5) of the old path (a fresh run
replayed from 0, as Session.load does) and of the new one (resume from the
nearest checkpoint), and the bytes each watcher gets (the `seek` message vs the
snapshot the old path sent); then the seek forward to the end again (into what
the seek back left ahead). Then the checkpoints' count and bytes.

    .venv/bin/python bench/seek.py [nodes]
"""

from __future__ import annotations

import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from engine import from_dict
from playground import wire
from playground.session import Session


def noop():
    pass


def session(nodes: int) -> Session:
    sc = from_dict({"protocol": "raft", "nodes": nodes, "seed": 1, "until": 600_000})
    s = Session("bench", "ctl", sc, 0.0, max_trace_events=100_000)
    s.load(sc, sc.until, noop)     # stops at the 100,000-event limit
    return s


def old_seek(s: Session, t: int) -> tuple[float, int]:
    """The old path: replay from t=0 into a fresh session, then a snapshot to every watcher."""
    a = time.perf_counter()
    fresh = Session("old", "ctl", s.current_scenario(), 0.0, max_trace_events=100_000)
    fresh.load(s.current_scenario(), t, noop)
    took = time.perf_counter() - a
    snap = fresh.snapshot("viewer", {"name": "raft"})
    return took, len(wire.encode(snap))


def main():
    nodes = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    s = session(nodes)
    end = s.t
    print(f"raft, {nodes} nodes: {s.sim.seq} events, t={end:.0f} ms")
    rows = []
    for frac in (0.1, 0.5, 0.9):
        t = int(end * frac)
        new, old, fwd, old_bytes, seek_bytes = [], [], [], 0, 0
        for _ in range(5):
            a = time.perf_counter()
            s.seek(end, noop)            # forward to the end (from the last round's t), then back to t
            fwd.append(time.perf_counter() - a)
            s.take_events(0.0)
            a = time.perf_counter()
            _, keep = s.seek(t, noop)
            payload = s.seek_payload(keep, 0.0)
            new.append(time.perf_counter() - a)
            seek_bytes = len(wire.encode(payload))
            took, old_bytes = old_seek(s, t)
            old.append(took)
        rows.append((f"{int(frac * 100)}%", statistics.median(old) * 1e3, statistics.median(new) * 1e3,
                     old_bytes, seek_bytes, statistics.median(fwd[1:]) * 1e3))
    print(f"{'seek to':>8} {'old ms':>8} {'new ms':>8} {'old bytes/watcher':>18} {'seek bytes/watcher':>19} "
          f"{'then forward to the end ms':>27}")
    for r in rows:
        print(f"{r[0]:>8} {r[1]:>8.1f} {r[2]:>8.1f} {r[3]:>18,} {r[4]:>19,} {r[5]:>27.1f}")
    s.seek(end, noop)
    cps = s.checkpoints
    sizes = [cp.size for cp, _ in cps.items]
    print(f"checkpoints: {len(sizes)} (every {cps.every} events), {min(sizes):,}-{max(sizes):,} bytes each, "
          f"{cps.bytes:,} bytes in all; trace log {s.log.size:,} bytes")


if __name__ == "__main__":
    main()
