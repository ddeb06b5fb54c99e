"""A watcher that stops reading its socket (a slow link): does the server's memory stay
bounded, and does the watcher resync when it reads again? A measuring script, not a test.

    .venv/bin/python bench/slow_watcher.py                      # the default limits
    .venv/bin/python bench/slow_watcher.py --no-backpressure    # max_backlog_packets lifted

Starts the real server (eventlet) on loopback. A teacher plays Raft at 10x with many client
requests; a raw websocket watcher joins, reads nothing for --seconds (answering pings only),
then reads again. Prints the server's RSS meanwhile and what the watcher received after.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from urllib.parse import urlencode, urlsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from tests.e2e.conftest import free_port


def rss_mb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS"):
            return int(line.split()[1]) // 1024
    return 0


class RawSocketIO:
    """Just enough of Engine.IO 4 / Socket.IO 5 over a websocket to join and then not read."""

    def __init__(self, port: int, rcvbuf: int | None = None, host: str = "127.0.0.1",
                 path: str = "/socket.io/", query: str = ""):
        self.sock = socket.socket()
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect((host, port))
        self.buf = b""
        key = base64.b64encode(os.urandom(16)).decode()
        query = f"{query}&" if query else ""
        self.sock.sendall((f"GET {path}?{query}EIO=4&transport=websocket HTTP/1.1\r\nHost: {host}:{port}\r\n"
                           "Upgrade: websocket\r\nConnection: Upgrade\r\n"
                           f"Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
                           f"Origin: http://{host}:{port}\r\n\r\n").encode())
        while b"\r\n\r\n" not in self.buf:
            self.buf += self.sock.recv(4096)
        self.buf = self.buf.split(b"\r\n\r\n", 1)[1]
        self.read()            # Engine.IO open
        self.send("40")        # Socket.IO connect
        self.read()

    @classmethod
    def at(cls, url: str, route: str, rcvbuf: int | None = None) -> RawSocketIO:
        """A connection to the server at `url` (http://host:port[/prefix]) with `route=` in its query."""
        u = urlsplit(url)
        query = "&".join(q for q in (u.query, urlencode({"route": route})) if q)
        return cls(u.port or 80, rcvbuf, u.hostname or "127.0.0.1", u.path.rstrip("/") + "/socket.io/", query)

    def send(self, text: str) -> None:
        data, mask = text.encode(), os.urandom(4)
        n = len(data)
        head = bytes([0x81]) + (bytes([0x80 | n]) if n < 126 else bytes([0x80 | 126]) + n.to_bytes(2, "big"))
        self.sock.sendall(head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(data)))

    def _need(self, n: int) -> None:
        while len(self.buf) < n:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("closed")
            self.buf += chunk

    def read(self) -> str:
        """The next Socket.IO packet (pings are answered on the way)."""
        while True:
            self._need(2)
            n, off = self.buf[1] & 0x7F, 2
            if n == 126:
                self._need(4)
                n, off = int.from_bytes(self.buf[2:4], "big"), 4
            elif n == 127:
                self._need(10)
                n, off = int.from_bytes(self.buf[2:10], "big"), 10
            self._need(off + n)
            msg, self.buf = self.buf[off:off + n].decode(), self.buf[off + n:]
            if msg == "2":
                self.send("3")
                continue
            return msg

    def call(self, event: str, data: dict, ack_id: int) -> dict:
        self.send(f"42{ack_id}" + json.dumps([event, data]))
        while True:
            m = self.read()
            if m.startswith(f"43{ack_id}"):
                return json.loads(m[len(f"43{ack_id}"):])[0]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=float, default=20.0, help="how long the watcher reads nothing")
    ap.add_argument("--no-backpressure", action="store_true")
    args = ap.parse_args(argv)
    port = free_port()
    limits = {"max_backlog_packets": 10**9} if args.no_backpressure else {}
    srv = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT,
                           env={**os.environ, "PLAYGROUND_LIMITS": json.dumps(limits)},
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        time.sleep(2)
        teacher = RawSocketIO(port)
        scenario = {"protocol": "raft", "until": 600_000,
                    "actions": [{"at": 100 + 7 * i, "do": "request", "node": "n1", "op": "put", "arg": f"k{i}=1"}
                                for i in range(400)]}
        ack = teacher.call("create", {"scenario": scenario}, 1)
        session, control = ack["session"], ack["control"]
        teacher.call("control", {"session": session, "control": control, "cmd": "speed", "value": 10}, 2)
        watcher = RawSocketIO(port, rcvbuf=4096)
        watcher.send('42["join",' + json.dumps({"session": session}) + "]")
        time.sleep(0.5)
        teacher.call("control", {"session": session, "control": control, "cmd": "play"}, 3)
        threading.Thread(target=lambda: [teacher.read() for _ in iter(int, 1)], daemon=True).start()
        start = rss_mb(srv.pid)
        steps = 8
        for i in range(steps):
            time.sleep(args.seconds / steps)
            watcher.send("3")   # a pong now and then, so Engine.IO keeps it
            print(f"t={args.seconds * (i + 1) / steps:5.1f} s  server RSS {rss_mb(srv.pid)} MB (start {start})",
                  flush=True)
        kinds: list[str] = []
        watcher.sock.settimeout(2)
        until = time.time() + 10
        try:
            while time.time() < until:
                m = watcher.read()
                if m.startswith("42"):
                    kinds.append(json.loads(m[2:])[0])
        except TimeoutError:
            pass
        resyncs = [i for i, k in enumerate(kinds) if k == "snapshot"][1:]   # the first one is the join's
        print(f"the watcher, reading again, got {dict(Counter(kinds))}; resync snapshots at packets {resyncs}")
    finally:
        os.killpg(srv.pid, signal.SIGTERM)


if __name__ == "__main__":
    main()
