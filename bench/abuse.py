"""One abusive client against a real server, and what a bystander's session feels.
A measuring script, not a test.

    .venv/bin/python bench/abuse.py [--seconds 5] [--only flood,joins,seeks]

Starts the real server (python app.py, eventlet) on loopback. A bystander plays its own
Raft session and sends a cheap command every 100 ms; meanwhile, in turn:

- flood (B1): one connection sends `join` as fast as its socket takes it, reading nothing;
- joins (B3): a client that never reads (4 KiB receive buffer) does 40 join/leave pairs on
  a run of ~100,000 events (a snapshot of ~11 MB each, before the fix);
- seeks (B7): four clients seek their own long runs back and forth as fast as acks come.

For each phase: the bystander's batches per second, its ack latency (p50 / p99 / max),
the longest gap between its batches, the server's RSS before and after, and what the
attacker got (refusals, disconnection). With --probe the server runs under
bench/stall_probe.py, and each phase also says how long its green threads ran without
yielding (CPU time, so unlike the latencies it does not grow when other processes load
the machine): `server_runs_ms`.
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from bench.slow_watcher import RawSocketIO, rss_mb
from tests.e2e.conftest import free_port

RAFT = {"protocol": "raft", "until": 600_000,
        "actions": [{"at": 100 + 7 * i, "do": "request", "node": "n1", "op": "put", "arg": f"k{i}=1"}
                    for i in range(400)]}


def frame(text: str) -> bytes:
    data, mask = text.encode(), os.urandom(4)
    n = len(data)
    head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data))


class Bystander:
    """Its own session, playing; counts batches and times the ack of a command every 100 ms."""

    def __init__(self, port: int):
        self.io = RawSocketIO(port)
        ack = self.io.call("create", {"scenario": RAFT}, 1)
        self.session, self.control = ack["session"], ack["control"]
        self.io.call("control", {"session": self.session, "control": self.control, "cmd": "play"}, 2)
        self.batches: list[float] = []
        self.sent: dict[int, float] = {}
        self.acks: list[float] = []
        self.next_id = 10
        self.lock = threading.Lock()
        self.stop = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._ask, daemon=True).start()

    def _read(self):
        while not self.stop:
            m = self.io.read()
            now = time.perf_counter()
            if m.startswith('42["events"'):
                self.batches.append(now)
            elif m.startswith("43"):
                i = int(m[2:m.index("[")])
                with self.lock:
                    t0 = self.sent.pop(i, None)
                if t0 is not None:
                    self.acks.append(now - t0)

    def _ask(self):
        while not self.stop:
            with self.lock:
                i = self.next_id
                self.next_id += 1
                self.sent[i] = time.perf_counter()
            self.io.send(f"42{i}" + json.dumps(["control", {"session": self.session, "control": self.control,
                                                            "cmd": "speed", "value": 1}]))
            time.sleep(0.1)

    def window(self, t0: float, t1: float) -> dict:
        b = [t for t in self.batches if t0 <= t <= t1]
        gaps = [y - x for x, y in itertools.pairwise(b)] or [float("nan")]
        acks = sorted(self.acks_in)
        pick = (lambda p: round(acks[min(len(acks) - 1, int(p * (len(acks) - 1)))] * 1000, 1)) if acks else \
            (lambda p: float("nan"))
        unanswered = len(self.sent)
        return {"batches_per_s": round(len(b) / (t1 - t0), 1), "max_gap_ms": round(max(gaps) * 1000) if b[1:] else None,
                "ack_p50_ms": pick(0.5), "ack_p99_ms": pick(0.99), "ack_max_ms": pick(1.0),
                "acks": len(acks), "unanswered": unanswered}

    def mark(self):
        self.acks = []
        self.acks_in = self.acks
        return time.perf_counter()


def get_ms(port: int) -> float:
    t0 = time.perf_counter()
    with socket.create_connection(("127.0.0.1", port), timeout=30) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(65536):
            pass
    return round((time.perf_counter() - t0) * 1000, 1)


def flood(port: int, session: str, seconds: float) -> dict:
    attacker = RawSocketIO(port)
    msg = frame('42["join",' + json.dumps({"session": session}) + "]") * 50
    sent, end, dropped_after = 0, time.perf_counter() + seconds, None
    t0 = time.perf_counter()
    try:
        while time.perf_counter() < end:
            attacker.sock.sendall(msg)
            sent += 50
    except OSError:
        dropped_after = round(time.perf_counter() - t0, 2)
    if dropped_after is None:     # has the server closed it? (a close frame waits unread)
        attacker.sock.settimeout(2)
        try:
            while attacker.sock.recv(1 << 16):
                pass
            dropped_after = "closed (after the flood ended)"
        except (TimeoutError, OSError):
            pass
    attacker.sock.close()
    return {"joins_sent": sent, "disconnected": dropped_after}


def joins(port: int, seconds: float, pairs: int = 40) -> dict:
    teacher = RawSocketIO(port)
    t0 = time.perf_counter()
    ack = teacher.call("create", {"scenario": RAFT, "t": 600_000}, 1)
    made = round(time.perf_counter() - t0, 2)
    teacher.sock.close()
    stalled = RawSocketIO(port, rcvbuf=4096)
    for _ in range(pairs):
        stalled.send('42["join",' + json.dumps({"session": ack["session"]}) + "]")
        time.sleep(0.02)
        stalled.send('42["leave",' + json.dumps({"session": ack["session"]}) + "]")
        time.sleep(0.02)
    time.sleep(max(0.0, seconds - 0.04 * pairs))
    return {"run_created_s": made, "join_leave_pairs": pairs, "stalled_client": stalled}


def seekers(port: int) -> list:
    """Four clients, each with a long run of its own (made before the measured phase)."""
    out = []
    for _ in range(4):
        c = RawSocketIO(port)
        out.append((c, c.call("create", {"scenario": RAFT, "t": 120_000}, 1)))
    time.sleep(12)        # what the creates cost their CPU budgets is paid back: the seeks start afresh
    return out


def seeks(clients: list, seconds: float) -> dict:
    stop = time.perf_counter() + seconds
    counts: dict = {"ok": 0}

    def seeker(c, ack):
        i = 2
        while time.perf_counter() < stop:
            r = c.call("control", {"session": ack["session"], "control": ack["control"], "cmd": "seek",
                                   "value": 0 if i % 2 else 120_000}, i)
            i += 1
            counts["ok" if r.get("ok") else r.get("key", "other")] = \
                counts.get("ok" if r.get("ok") else r.get("key", "other"), 0) + 1
        c.sock.close()

    threads = [threading.Thread(target=seeker, args=pair, daemon=True) for pair in clients]
    for t in threads:
        t.start()
    for t in threads:
        t.join(seconds + 60)
    return {"seek_acks": counts}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--only", default="flood,joins,seeks")
    ap.add_argument("--pairs", type=int, default=40, help="join/leave pairs of the client that never reads")
    ap.add_argument("--server-log", help="write the server's output to this file")
    ap.add_argument("--probe", action="store_true", help="time the server's runs without a yield (stall_probe.py)")
    args = ap.parse_args(argv)
    port = free_port()
    log = open(args.server_log, "w") if args.server_log else subprocess.DEVNULL  # noqa: SIM115
    probe_out = Path(tempfile.gettempdir()) / f"abuse_probe_{port}.json"
    cmd = ["bench/stall_probe.py", "--probe-out", str(probe_out)] if args.probe else ["app.py"]
    srv = subprocess.Popen([sys.executable, *cmd, "--port", str(port)], cwd=ROOT,
                           stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def runs() -> dict:
        """The server's runs without a yield since the last call (with --probe)."""
        if not args.probe:
            return {}
        probe_out.unlink(missing_ok=True)
        os.kill(srv.pid, signal.SIGUSR1)
        for _ in range(100):
            time.sleep(0.05)
            if probe_out.exists() and probe_out.stat().st_size:
                return {"server_runs_ms": json.loads(probe_out.read_text())}
        return {"server_runs_ms": None}

    try:
        for _ in range(300):
            try:
                socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                break
            except OSError:
                time.sleep(0.1)
        by = Bystander(port)
        time.sleep(1)
        runs()
        t0 = by.mark()
        time.sleep(args.seconds)
        print(json.dumps({"phase": "quiet", **by.window(t0, time.perf_counter()), "get_ms": get_ms(port),
                          "rss_mb": rss_mb(srv.pid), **runs()}), flush=True)
        keep = []
        for phase in args.only.split(","):
            if phase == "seeks":
                clients = seekers(port)
            rss0 = rss_mb(srv.pid)
            runs()
            t0 = by.mark()
            if phase == "flood":
                got = {}
                th = threading.Thread(target=lambda out=got: out.update(flood(port, by.session, args.seconds)))
                th.start()
                time.sleep(args.seconds / 2)
                got_ms = get_ms(port)
                th.join()
                got["get_ms_during"] = got_ms
            elif phase == "joins":
                got = joins(port, args.seconds, args.pairs)
                keep.append(got.pop("stalled_client"))   # still not reading: its memory stays held
            elif phase == "seeks":
                got = seeks(clients, args.seconds)
            else:
                raise SystemExit(f"unknown phase {phase}")
            t1 = time.perf_counter()
            probed = runs()
            time.sleep(0.5)
            print(json.dumps({"phase": phase, **by.window(t0, t1), **got, "rss_before_mb": rss0,
                              "rss_after_mb": rss_mb(srv.pid), **probed}), flush=True)
        by.stop = True
    finally:
        os.killpg(srv.pid, signal.SIGTERM)
        srv.wait(timeout=10)


if __name__ == "__main__":
    main()
