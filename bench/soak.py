"""Soak: sessions playing, slow and stalled watchers, for minutes; does the server's
memory stay flat? A measuring script, not a test.

    .venv/bin/python bench/soak.py --minutes 30
    .venv/bin/python bench/soak.py --minutes 30 --url http://127.0.0.1:8080 --pid 12345

Starts the real server from this checkout (eventlet, loopback, sessions_load.LOAD_LIMITS)
unless --url is given; RSS is read from /proc/<pid>/status of that server, or of --pid.

- --sessions players (sessions_load.Player), each its own Raft or 2PC run at 1x with a
  client request every 3 s; every --cycle-s each configures a fresh run and plays on
  (staggered), so runs never reach their event limit and their memory is given back;
- --slow watchers (one per session, the first ones) that read one packet every 0.1 s
  while about 20 batches a second come: they fall behind, skip batches, catch up, get a
  snapshot, again and again;
- --stalled watchers that join and never read (4 KiB receive buffer, no pongs): each is
  closed and replaced by a new one every 60 s.

Every --sample-s: the server's RSS, the players' batch delay and event latency p99 in
that window. At the end the series, and whether it is flat: the median RSS of the last
third against the first third's (flat if within --tolerance).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import statistics
import sys
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.sessions_load import UNTIL, Player, new_stats, pct, protocols_available, route_of, server_rss_mb, target
from bench.slow_watcher import RawSocketIO

STALLED_LIFE_S = 60.0


class Watchers:
    """Raw-socket watchers in threads: slow readers and stalled ones (replaced every minute)."""

    def __init__(self, url: str):
        self.url = url
        self.stop = threading.Event()
        self.counts = {"slow_packets": 0, "slow_snapshots": 0, "stalled_opened": 0, "errors": 0}
        self.lock = threading.Lock()

    def _count(self, key: str, n: int = 1) -> None:
        with self.lock:
            self.counts[key] += n

    def _join(self, session: str, rcvbuf: int) -> RawSocketIO:
        w = RawSocketIO.at(self.url, route_of(session), rcvbuf=rcvbuf)
        w.send('42["join",' + json.dumps({"session": session}) + "]")
        return w

    def slow(self, session: str) -> None:
        while not self.stop.is_set():
            try:
                w = self._join(session, 16_384)
                while not self.stop.is_set():
                    m = w.read()         # answers pings on the way
                    self._count("slow_packets")
                    if m.startswith('42["snapshot"'):
                        self._count("slow_snapshots")
                    time.sleep(0.1)
            except (OSError, ConnectionError):
                self._count("errors")
                self.stop.wait(1)

    def stalled(self, session: str) -> None:
        while not self.stop.is_set():
            try:
                w = self._join(session, 4096)
                self._count("stalled_opened")
                self.stop.wait(STALLED_LIFE_S)
                w.sock.close()
            except (OSError, ConnectionError):
                self._count("errors")
                self.stop.wait(1)

    def start(self, sessions: list[str], slow: int, stalled: int) -> None:
        for i in range(slow):
            threading.Thread(target=self.slow, args=(sessions[i % len(sessions)],), daemon=True).start()
        for i in range(stalled):
            threading.Thread(target=self.stalled, args=(sessions[-1 - i % len(sessions)],), daemon=True).start()


async def cycle(p: Player, every: float, errors: dict, stop: asyncio.Event) -> None:
    """Every `every` seconds (first after a random part of it): a fresh run, playing."""
    wait = random.uniform(0, every)
    while not stop.is_set():
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(stop.wait(), wait)
            return
        wait = every
        try:
            r = await p.client.call("configure", {"session": p.ack["session"], "control": p.ack["control"],
                                                  "scenario": {"protocol": p.protocol, "until": UNTIL}}, timeout=30)
            if not r.get("ok"):
                raise RuntimeError(r)
            await p.control("play")
        except Exception as e:   # noqa: BLE001 -- a soak counts failures and goes on
            errors[type(e).__name__] = errors.get(type(e).__name__, 0) + 1


def flatness(series: list[float], tolerance: float) -> dict:
    third = max(1, len(series) // 3)
    first, last = statistics.median(series[:third]), statistics.median(series[-third:])
    return {"first_third_median_mb": round(first, 1), "last_third_median_mb": round(last, 1),
            "growth": round(last / first - 1, 3), "flat": last <= first * (1 + tolerance)}


async def soak(url: str, pid: int | None, args) -> dict:
    protos = protocols_available(url)
    stats = new_stats()
    players = [Player(url, protos[i % len(protos)], stats) for i in range(args.sessions)]
    gate = asyncio.Semaphore(20)

    async def start(p):
        async with gate:
            await p.start()

    await asyncio.gather(*(start(p) for p in players))
    watchers = Watchers(url)
    watchers.start([p.ack["session"] for p in players], args.slow, args.stalled)
    stop = asyncio.Event()
    errors: dict = {}
    tasks = [asyncio.create_task(p.requests(stop)) for p in players]
    tasks += [asyncio.create_task(cycle(p, args.cycle_s, errors, stop)) for p in players]
    samples = []
    t0 = time.monotonic()
    end = t0 + args.minutes * 60
    stats["recording"] = True
    while time.monotonic() < end:
        await asyncio.sleep(min(args.sample_s, max(0.0, end - time.monotonic())))
        row = {"t_s": round(time.monotonic() - t0), "rss_mb": round(server_rss_mb(pid), 1),
               "batch_delay_p99_ms": round(pct(stats["batches"], 99) * 1000, 1),
               "event_latency_p99_ms": round(pct(stats["events"], 99) * 1000, 1),
               "batches": len(stats["batches"]), **watchers.counts, "cycle_errors": sum(errors.values()),
               "refused_actions": stats["refused"]}
        stats["batches"].clear()
        stats["events"].clear()
        samples.append(row)
        print(json.dumps(row), flush=True)
    stop.set()
    watchers.stop.set()
    await asyncio.gather(*tasks, return_exceptions=True)
    await asyncio.gather(*(p.close() for p in players), return_exceptions=True)
    rss = [r["rss_mb"] for r in samples]
    return {"minutes": args.minutes, "sessions": args.sessions, "slow": args.slow, "stalled": args.stalled,
            "rss_mb_series": rss, **flatness(rss, args.tolerance), "cycle_errors": errors}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--minutes", type=float, default=30.0)
    ap.add_argument("--sessions", type=int, default=40)
    ap.add_argument("--slow", type=int, default=10)
    ap.add_argument("--stalled", type=int, default=10)
    ap.add_argument("--cycle-s", type=float, default=120.0, help="each session configures a fresh run this often")
    ap.add_argument("--sample-s", type=float, default=10.0)
    ap.add_argument("--tolerance", type=float, default=0.10, help="flat: last-third median within this of the first's")
    ap.add_argument("--url", help="soak the server at this URL (default: start one from this checkout)")
    ap.add_argument("--pid", type=int, help="the server process whose RSS to sample (with --url)")
    ap.add_argument("--async-mode", default="eventlet", choices=("eventlet", "gevent", "threading"))
    args = ap.parse_args(argv)
    with target(args) as (url, pid):
        if pid is None:
            raise SystemExit("give --pid: the server process whose RSS to sample")
        result = asyncio.run(soak(url, pid, args))
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    main()
