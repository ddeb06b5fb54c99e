"""Session server load benchmark: a measuring script, not a test.

For each K it starts the real server (`python app.py --port P`, eventlet) as a
subprocess, opens K python-socketio clients over loopback, each creating its
own session (Raft and 2PC alternately, or forward if they are missing) playing
at 1x, each sending a client request every few seconds, and measures:

- event latency: arrival time at the client minus the moment the server's
  playback clock passed the event's virtual time. The server stamps each
  `events` batch with `sent_at` (wall clock when it advanced the run to
  playback.t), so an event at virtual time e.t was due at
  sent_at - (playback.t - e.t) / speed. This includes the tick quantisation
  (up to one 50 ms tick at 1x), the server's work and the transport.
- batch delay: arrival minus sent_at (server work after advancing + transport).
- client lag: how late a 10 ms asyncio timer fires in the client process
  (if this is high, the clients, not the server, were the bottleneck).
- server CPU: share of one core used by the server process while measuring.

Then one session at maximum speed: events per second it streams.

With --viewers V instead: one session playing at 1x and V viewers joining it, each on
its own connection: join latency (join sent -> ack, and -> snapshot received), batch
delay and event latency at the viewers, server RSS.

By default it starts the server itself (on loopback, from this checkout, with the
per-address limits lifted: LOAD_LIMITS) and stops it. With --url it measures a server
already running there (one process, or several behind a proxy: a path prefix such as
http://127.0.0.1:8080/pp is where /socket.io/ and /api/ are found); that server needs
LOAD_LIMITS too (PLAYGROUND_LIMITS), since every client comes from one address. Its
RSS and CPU are read from /proc only with --pid; the Ks then run one after another on
that one server (the sessions of a K stay, idle, until they expire: give one K per run
for clean figures). Every Socket.IO connection carries
`route=`: a random one for a client that creates a run, the session id up to its
first '.' for one that joins (the routing key a cluster front uses).

    .venv/bin/python bench/sessions_load.py [--ks 50,100,200,300] [--seconds 10] [--json out.json]
    .venv/bin/python bench/sessions_load.py --ks 200,400 --url http://127.0.0.1:8080 --no-max-speed
    .venv/bin/python bench/sessions_load.py --viewers 500
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import os
import random
import secrets
import selectors
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlencode, urlsplit

import orjson
import socketio

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))   # run as a script from anywhere: the repo root holds playground/
from bench.slow_watcher import RawSocketIO
from playground import wire

UNTIL = 600_000          # long runs: nothing ends while we measure
REQUEST_EVERY_S = 3.0
# Every client of a load test comes from 127.0.0.1: the per-address allowances, meant for
# real addresses (a class behind one NAT), are lifted so the load is not refused.
LOAD_LIMITS = {"max_sessions_per_address": 10_000, "max_connections_per_address": 10_000,
               "max_http_connections_per_address": 10_000, "address_event_rate": 1e6,
               "address_event_burst": 1e6, "address_cpu_rate_ms": 1e6, "address_cpu_burst_ms": 1e6,
               "max_participants": 1_000}


def new_route() -> str:
    """The routing key of a client about to create a run (no '.': see route_of)."""
    return secrets.token_hex(4)


def route_of(session_id: str) -> str:
    """The routing key of a client joining `session_id`: the id up to its first '.'."""
    return session_id.split(".", 1)[0]


def socket_target(url: str, route: str) -> tuple[str, str]:
    """(connect URL, socketio_path) for a Socket.IO client of the server at `url` (which
    may carry a path prefix and a query) with `route=` in its query string."""
    u = urlsplit(url)
    query = "&".join(q for q in (u.query, urlencode({"route": route})) if q)
    return f"{u.scheme}://{u.netloc}?{query}", (u.path.strip("/") + "/socket.io").lstrip("/")


def api_url(url: str, path: str) -> str:
    u = urlsplit(url)
    return f"{u.scheme}://{u.netloc}{u.path.rstrip('/')}{path}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def machine_busy_seconds() -> float:
    """CPU seconds all processes on this machine have used (from /proc/stat)."""
    fields = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@contextmanager
def server(async_mode: str):
    port = free_port()
    log_path = Path(tempfile.gettempdir()) / f"sessions_load_{port}.log"
    with open(log_path, "w") as log:
        # Every client here comes from 127.0.0.1: lift the per-address allowance, which is
        # meant for real addresses, so the load is not refused.
        env = {**os.environ, "PLAYGROUND_LIMITS": json.dumps(LOAD_LIMITS)}
        proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port), "--async-mode", async_mode],
                                cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 20
        while True:
            try:
                urllib.request.urlopen(url + "/api/protocols", timeout=1).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"server did not start; see {log_path}") from None
                time.sleep(0.1)
        yield url, proc
    finally:
        proc.terminate()
        try:
            proc.wait(5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(5)


def pct(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, round(p / 100 * (len(s) - 1)))]


def protocols_available(url: str) -> list[str]:
    names = [p["name"] for p in json.load(urllib.request.urlopen(api_url(url, "/api/protocols")))]
    real = [n for n in ("raft", "2pc") if n in names]
    return real or ["forward"]


def record_batch(stats: dict, batch: dict) -> None:
    """An `events` batch arrived: its delay since `sent_at` and each event's latency."""
    now = time.time()
    if not stats["recording"]:
        return
    sent_at, pb = batch["sent_at"], batch["playback"]
    stats["batches"].append(now - sent_at)
    per_ms = pb["speed"] * 1000.0
    lat = stats["events"]
    for e in batch["events"]:
        lat.append(now - (sent_at - (pb["t"] - e["t"]) / per_ms))
    stats["count"] += len(batch["events"])


class Player:
    """One client with its own session, recording latencies while `recording`."""

    def __init__(self, url: str, protocol: str, stats: dict):
        self.url = url
        self.protocol = protocol
        self.stats = stats
        # The clients decode with orjson too, so they keep up with the server.
        self.client = socketio.AsyncClient(reconnection=False, serializer=wire.JsonPacket)
        self.client.on("events", self.on_events)
        self.client.on("snapshot", self.on_snapshot)
        self.ack = None
        self.request_node = None

    def on_snapshot(self, snap):
        roles = {}
        for e in snap["events"]:
            if e["type"] == "state" and "role" in e["changes"]:
                roles[e["node"]] = e["changes"]["role"]
        op = snap["protocol"]["operations"][0] if snap["protocol"]["operations"] else None
        if op:
            ok = [n for n in snap["nodes"] if not op["roles"] or roles.get(n) in op["roles"]]
            self.request_node = (ok or snap["nodes"])[0], op

    def on_events(self, batch):
        record_batch(self.stats, batch)

    async def start(self, speed: float = 1.0, scenario: dict | None = None):
        target, path = socket_target(self.url, new_route())
        await self.client.connect(target, socketio_path=path, transports=["websocket"], wait_timeout=10)
        self.ack = await self.client.call("create", {"scenario": scenario or {"protocol": self.protocol,
                                                                              "until": UNTIL}}, timeout=30)
        if not self.ack.get("ok"):
            raise RuntimeError(f"create failed: {self.ack}")
        await self.control("speed", speed)
        await self.control("play")

    async def control(self, cmd, value=None):
        data = {"session": self.ack["session"], "control": self.ack["control"], "cmd": cmd}
        if value is not None:
            data["value"] = value
        r = await self.client.call("control", data, timeout=30)
        if not r.get("ok"):
            raise RuntimeError(f"control {cmd} failed: {r}")

    async def requests(self, stop: asyncio.Event):
        if self.request_node is None:
            return
        node, op = self.request_node
        action = {"do": "request", "node": node, "op": op["name"]}
        if op["arg"] is not None:
            action["arg"] = op["arg"]
        await asyncio.sleep(random.uniform(0, REQUEST_EVERY_S))
        while not stop.is_set():
            t0 = time.time()
            r = await self.client.call("action", {"session": self.ack["session"], "control": self.ack["control"],
                                                  "action": action}, timeout=30)
            if self.stats["recording"]:
                self.stats["acks"].append(time.time() - t0)
                self.stats["refused"] += not r.get("ok")
            try:
                await asyncio.wait_for(stop.wait(), REQUEST_EVERY_S)
            except asyncio.TimeoutError:
                pass

    async def close(self):
        if self.client.connected:
            await self.client.disconnect()


async def lag_probe(stats: dict, stop: asyncio.Event):
    while not stop.is_set():
        t0 = time.perf_counter()
        await asyncio.sleep(0.01)
        if stats["recording"]:
            stats["lag"].append(time.perf_counter() - t0 - 0.01)


def new_stats() -> dict:
    return {"recording": False, "events": [], "batches": [], "acks": [], "lag": [], "count": 0, "refused": 0}


def server_cpu_seconds(pid: int | None) -> float:
    return cpu_seconds(pid) if pid else float("nan")


def server_rss_mb(pid: int | None) -> float:
    return rss_mb(pid) if pid else float("nan")


async def measure_k(url: str, pid: int | None, k: int, protos: list[str], warmup: float, seconds: float) -> dict:
    stats = new_stats()
    players = [Player(url, protos[i % len(protos)], stats) for i in range(k)]
    gate = asyncio.Semaphore(25)

    async def start(p):
        async with gate:
            await p.start()

    t0 = time.monotonic()
    await asyncio.gather(*(start(p) for p in players))
    setup_s = time.monotonic() - t0
    stop = asyncio.Event()
    background = [asyncio.create_task(p.requests(stop)) for p in players]
    background.append(asyncio.create_task(lag_probe(stats, stop)))
    await asyncio.sleep(warmup)
    cpu0, mine0, all0, w0 = server_cpu_seconds(pid), cpu_seconds(os.getpid()), machine_busy_seconds(), time.monotonic()
    stats["recording"] = True
    await asyncio.sleep(seconds)
    stats["recording"] = False
    wall = time.monotonic() - w0
    cpu = (server_cpu_seconds(pid) - cpu0) / wall
    clients_cpu = (cpu_seconds(os.getpid()) - mine0) / wall
    others = (machine_busy_seconds() - all0) / wall - (0.0 if math.isnan(cpu) else cpu) - clients_cpu
    rss = server_rss_mb(pid)
    stop.set()
    await asyncio.gather(*background, return_exceptions=True)
    await asyncio.gather(*(p.close() for p in players), return_exceptions=True)
    ms = 1000.0
    return {
        "k": k, "protocols": protos, "setup_s": round(setup_s, 2),
        "events": stats["count"], "events_per_s": round(stats["count"] / seconds),
        "batches_per_s": round(len(stats["batches"]) / seconds),
        "event_latency_ms": {f"p{p}": round(pct(stats["events"], p) * ms, 1) for p in (50, 95, 99)},
        "batch_delay_ms": {f"p{p}": round(pct(stats["batches"], p) * ms, 1) for p in (50, 95, 99)},
        "action_ack_ms": {f"p{p}": round(pct(stats["acks"], p) * ms, 1) for p in (50, 99)},
        "refused_actions": stats["refused"],
        "client_lag_ms_p99": round(pct(stats["lag"], 99) * ms, 1),
        "server_cpu": round(cpu, 2), "clients_cpu": round(clients_cpu, 2), "server_rss_mb": round(rss, 1),
        # Anything else running on the machine (without --pid: the server too) competes for its
        # cores: trust runs where this is ~0.
        "other_processes_cpu": round(max(others, 0.0), 2),
    }


def watch(url: str, session: str, n: int, warmup: float, seconds: float, concurrent_joins: int,
          stats: dict) -> float:
    """n raw websocket viewers of `session` in one selector loop (one python-socketio client
    each was the bottleneck: 500 of them could not read 10,000 batches a second). Joins go
    out `concurrent_joins` at a time; then it records for `seconds` after `warmup`. Returns
    how long all the joins took."""
    route = route_of(session)
    conns = [RawSocketIO.at(url, route) for _ in range(n)]     # handshakes first: no batches yet
    sel = selectors.DefaultSelector()
    for i, c in enumerate(conns):
        sel.register(c.sock, selectors.EVENT_READ, i)
    bufs = [c.buf for c in conns]
    asked: list[float] = [0.0] * n
    snapped: list[float | None] = [None] * n
    join = "421" + json.dumps(["join", {"session": session}])
    next_join, pending, all_joined, stop_at = 0, 0, None, None
    t0 = time.perf_counter()

    def handle(i: int, msg: bytes, now: float) -> None:
        nonlocal pending
        if msg == b"2":
            conns[i].send("3")
        elif msg.startswith(b'42["events"'):
            record_batch(stats, orjson.loads(msg[2:])[1])
        elif msg.startswith(b'42["snapshot"'):
            snapped[i] = now
        elif msg.startswith(b"431["):
            if not orjson.loads(msg[3:])[0].get("ok"):
                raise RuntimeError(f"join refused: {msg[:200]!r}")
            stats["join_ack"].append(now - asked[i])
            stats["join_snapshot"].append(max(now, snapped[i] or now) - asked[i])
            pending -= 1

    while stop_at is None or time.perf_counter() < stop_at:
        now = time.perf_counter()
        while pending < concurrent_joins and next_join < n:
            asked[next_join] = now
            conns[next_join].send(join)
            next_join, pending = next_join + 1, pending + 1
        if all_joined is None and next_join == n and pending == 0:
            all_joined = now - t0
            stop_at = now + warmup + seconds
            threading.Timer(warmup, lambda: stats.update(recording=True)).start()
        for key, _ in sel.select(timeout=0.05):
            i = key.data
            data = key.fileobj.recv(1 << 18)
            if not data:
                raise ConnectionError(f"viewer {i} was disconnected")
            buf, off, now = bufs[i] + data, 0, time.perf_counter()
            while len(buf) - off >= 2:
                size, head = buf[off + 1] & 0x7F, 2
                if size == 126:
                    size, head = int.from_bytes(buf[off + 2:off + 4], "big"), 4
                elif size == 127:
                    size, head = int.from_bytes(buf[off + 2:off + 10], "big"), 10
                if len(buf) - off < head + size:
                    break
                if buf[off] & 0x0F == 8:
                    raise ConnectionError(f"viewer {i} was closed")
                handle(i, buf[off + head:off + head + size], now)
                off += head + size
            bufs[i] = buf[off:]
    stats["recording"] = False
    for c in conns:
        c.sock.close()
    return all_joined


async def measure_viewers(url: str, pid: int | None, n: int, warmup: float, seconds: float,
                          concurrent_joins: int = 20) -> dict:
    """One session at 1x (Raft if served) and n viewers joining it, `concurrent_joins` at a time."""
    stats = {**new_stats(), "join_ack": [], "join_snapshot": []}
    protos = protocols_available(url)
    owner = Player(url, protos[0], new_stats())
    await owner.start()
    rss0 = server_rss_mb(pid)
    cpu0, mine0, w0 = server_cpu_seconds(pid), cpu_seconds(os.getpid()), time.monotonic()
    joined_s = await asyncio.to_thread(watch, url, owner.ack["session"], n, warmup, seconds, concurrent_joins,
                                       stats)
    wall = time.monotonic() - w0
    cpu = (server_cpu_seconds(pid) - cpu0) / wall
    clients_cpu = (cpu_seconds(os.getpid()) - mine0) / wall
    rss = server_rss_mb(pid)
    await owner.close()
    ms = 1000.0
    return {
        "viewers": n, "protocol": protos[0], "concurrent_joins": concurrent_joins, "all_joined_s": round(joined_s, 2),
        "join_ack_ms": {f"p{p}": round(pct(stats["join_ack"], p) * ms, 1) for p in (50, 95, 99)},
        "join_snapshot_ms": {f"p{p}": round(pct(stats["join_snapshot"], p) * ms, 1) for p in (50, 95, 99)},
        "batches_per_s": round(len(stats["batches"]) / seconds),
        "batch_delay_ms": {f"p{p}": round(pct(stats["batches"], p) * ms, 1) for p in (50, 95, 99)},
        "event_latency_ms": {f"p{p}": round(pct(stats["events"], p) * ms, 1) for p in (50, 95, 99)},
        # over the whole run (joins included): one share of a core each
        "server_cpu": round(cpu, 2), "clients_cpu": round(clients_cpu, 2),
        "server_rss_mb_before_joins": round(rss0, 1), "server_rss_mb": round(rss, 1),
    }


@contextmanager
def target(args):
    """(url, server pid or None): the --url given, or a server started here."""
    if args.url:
        yield args.url, args.pid
        return
    with server(args.async_mode) as (url, proc):
        yield url, proc.pid


async def measure_max_speed(url: str, seconds: float) -> list[dict]:
    rows = []
    scenarios = [("forward, 1000 tokens", {"protocol": "forward", "params": {"tokens": 1000}, "until": UNTIL})]
    names = protocols_available(url)
    if "raft" in names:
        scenarios.append(("raft", {"protocol": "raft", "until": UNTIL}))
    for label, scenario in scenarios:
        stats = new_stats()
        p = Player(url, scenario["protocol"], stats)
        last = {}
        p.client.on("events", lambda b, p=p, last=last: (p.on_events(b), last.update(b["playback"])))
        await p.start(speed=10.0, scenario=scenario)
        await asyncio.sleep(1.0)
        t_start = last.get("t", 0.0)
        stats["recording"] = True
        await asyncio.sleep(seconds)
        stats["recording"] = False
        virtual = (last.get("t", 0.0) - t_start) / 1000.0
        await p.close()
        rows.append({"session": label, "speed": 10, "events_per_s": round(stats["count"] / seconds),
                     "virtual_s_per_real_s": round(virtual / seconds, 2),
                     "batch_delay_ms_p99": round(pct(stats["batches"], 99) * 1000, 1)})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--ks", default="50,100,200,300")
    ap.add_argument("--seconds", type=float, default=10.0, help="measuring window per K")
    ap.add_argument("--warmup", type=float, default=2.0)
    ap.add_argument("--async-mode", default="eventlet", choices=("eventlet", "gevent", "threading"))
    ap.add_argument("--json", help="also write the results here")
    ap.add_argument("--url", help="measure the server at this URL (default: start one from this checkout)")
    ap.add_argument("--pid", type=int, help="with --url: the server process, for its RSS and CPU")
    ap.add_argument("--viewers", type=int, help="measure this many viewers of one session instead")
    ap.add_argument("--no-max-speed", action="store_true", help="skip the one-session maximum-speed run")
    args = ap.parse_args(argv)
    ks = [int(k) for k in args.ks.split(",")]
    results = {"async_mode": args.async_mode, "url": args.url, "loads": [], "max_speed": []}
    started = time.monotonic()

    if args.viewers:
        with target(args) as (url, pid):
            row = asyncio.run(measure_viewers(url, pid, args.viewers, args.warmup, args.seconds))
        results["viewers"] = row
        print(json.dumps(row), flush=True)
        ks = []

    for k in ks:
        with target(args) as (url, pid):
            protos = protocols_available(url)
            row = asyncio.run(measure_k(url, pid, k, protos, args.warmup, args.seconds))
        results["loads"].append(row)
        lat, bd = row["event_latency_ms"], row["batch_delay_ms"]
        print(f"K={k:4d} {'/'.join(protos):9s} events/s {row['events_per_s']:7d}  "
              f"event latency p50/p95/p99 {lat['p50']:6.1f} {lat['p95']:6.1f} {lat['p99']:6.1f} ms  "
              f"batch delay p50/p99 {bd['p50']:5.1f} {bd['p99']:6.1f} ms  "
              f"action ack p99 {row['action_ack_ms']['p99']:6.1f} ms  "
              f"client lag p99 {row['client_lag_ms_p99']:5.1f} ms  cpu: server {row['server_cpu']:.2f} "
              f"clients {row['clients_cpu']:.2f} other processes {row['other_processes_cpu']:.2f}  "
              f"server RSS {row['server_rss_mb']} MB",
              flush=True)

    if ks and not args.no_max_speed:
        with target(args) as (url, _pid):
            results["max_speed"] = asyncio.run(measure_max_speed(url, min(args.seconds, 5.0)))
    for row in results["max_speed"]:
        print(f"max speed: {row['session']:22s} {row['events_per_s']:7d} events/s  "
              f"({row['virtual_s_per_real_s']} virtual s per real s at speed 10; "
              f"batch delay p99 {row['batch_delay_ms_p99']} ms)", flush=True)
    print(f"done in {time.monotonic() - started:.0f} s")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
