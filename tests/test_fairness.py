"""Fairness and budgets: no single connection or address can stall another session
or take more than its share (playground/fairness.py, the manager's budgets).

As in test_socket_api.py the ticker is off and every budget runs on the manager's
fake clock: a test decides when time passes, nothing sleeps.
"""

import base64
import json
import os
import socket
import struct
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import from_dict
from playground import create_app
from playground.payloads import ApiError

from .test_socket_api import SMALL, create, ctl, recv, ticks


def limited_app(clock, **limits):
    app = create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                      "PLAYGROUND_LIMITS": limits or None})
    manager = app.extensions["playground"].manager
    manager.clock = clock
    sio = app.extensions["playground"].socketio
    # Through Flask's test client the environ carries REMOTE_ADDR (127.0.0.1 for all).
    return manager, lambda: sio.test_client(app, flask_test_client=app.test_client())


def is_refusal(reply, key):
    assert reply["ok"] is False and reply["code"] == "limit" and reply["key"] == key, reply
    return True


# ---------------------------------------------------------------- B1: event rate


def test_a_flood_is_refused_after_the_burst_then_dropped_while_another_session_streams(clock):
    manager, new_client = limited_app(clock, event_rate=20, event_burst=40, max_refusals=50)
    bystander, flooder = new_client(), new_client()
    ack, _ = create(bystander)
    ctl(bystander, ack, "play")
    recv(bystander)
    flood_ack, _ = create(flooder)          # one event of its burst
    replies = [flooder.emit("join", {"session": flood_ack["session"]}, callback=True) for _ in range(39)]
    assert all(r["ok"] for r in replies)    # the burst is served
    refused = flooder.emit("join", {"session": flood_ack["session"]}, callback=True)
    assert is_refusal(refused, "refused.rate") and refused["args"] == {"n": "20"}
    errors = recv(flooder).get("error", [])
    assert [e["key"] for e in errors] == ["refused.rate"]        # told once per streak, not per event
    for _ in range(20):
        flooder.emit("join", {"session": flood_ack["session"]}, callback=True)
    assert "error" not in recv(flooder)
    # The bystander's run goes on, tick after tick, while the flood goes on.
    for _ in range(3):
        ticks(manager, clock)
        assert len(recv(bystander)["events"]) == 1
        for _ in range(20):
            if flooder.is_connected():
                flooder.emit("join", {"session": flood_ack["session"]})
    assert not flooder.is_connected()                            # persisted: dropped
    assert manager.fairness.disconnected == 1
    assert flood_ack["session"] in manager.sessions              # its run is kept for a reload
    assert not manager.sessions[flood_ack["session"]].participants
    ticks(manager, clock)
    assert len(recv(bystander)["events"]) == 1
    assert bystander.is_connected()


def test_the_budget_refills_with_time(clock):
    _manager, new_client = limited_app(clock, event_rate=10, event_burst=5)
    c = new_client()
    ack, _ = create(c)
    for _ in range(4):
        assert c.emit("join", {"session": ack["session"]}, callback=True)["ok"]
    assert is_refusal(c.emit("join", {"session": ack["session"]}, callback=True), "refused.rate")
    clock.advance(0.1)                      # one event's worth
    assert c.emit("join", {"session": ack["session"]}, callback=True)["ok"]
    assert is_refusal(c.emit("join", {"session": ack["session"]}, callback=True), "refused.rate")
    clock.advance(10)                       # refills to the burst, not beyond
    assert all(c.emit("join", {"session": ack["session"]}, callback=True)["ok"] for _ in range(5))
    assert is_refusal(c.emit("join", {"session": ack["session"]}, callback=True), "refused.rate")
    assert c.is_connected()                 # a few refusals are not a flood


def test_connections_of_one_address_share_a_larger_budget(clock):
    """Test clients all come from 127.0.0.1, as a class behind one NAT does."""
    _manager, new_client = limited_app(clock, event_rate=100, event_burst=10, address_event_rate=100,
                                       address_event_burst=25)
    a, b, c = new_client(), new_client(), new_client()
    ack, _ = create(a)
    served = 1
    for client in (a, b, c):
        while client.emit("join", {"session": ack["session"]}, callback=True)["ok"]:
            served += 1
    assert served == 25                     # each below its own burst, together at the address's
    clock.advance(0.051)                    # 5 events' worth for the address
    assert sum(c.emit("leave", {"session": ack["session"]}, callback=True)["ok"] for _ in range(8)) == 5


def test_an_address_may_hold_only_so_many_connections(clock):
    _manager, new_client = limited_app(clock, max_connections_per_address=2)
    a, b = new_client(), new_client()
    c = new_client()
    assert a.is_connected() and b.is_connected() and not c.is_connected()
    a.disconnect()
    d = new_client()                        # a place came free
    assert d.is_connected()
    create(d)


# ---------------------------------------------------------------- B3: snapshots and backpressure


def stall(manager, monkeypatch):
    """The clients named in the returned dict have that many packets unwritten."""
    queued = {}
    monkeypatch.setattr(manager.io, "backlog", lambda sid: queued.get(sid, 0), raising=False)
    return queued


def sid_of(manager, session_id, role="viewer"):
    return next(sid for sid, r in manager.sessions[session_id].participants.items() if r == role)


def test_join_and_leave_from_a_client_that_is_not_reading_queue_at_most_one_snapshot(clock, monkeypatch):
    manager, new_client = limited_app(clock, event_burst=1000, address_event_burst=1000)
    owner, reader = new_client(), new_client()
    ack, _ = create(owner)
    reader.emit("join", {"session": ack["session"]})
    queued = stall(manager, monkeypatch)
    # It stopped reading: its first snapshot is still being written (one packet in flight).
    queued[sid_of(manager, ack["session"])] = 1
    assert recv(reader)["snapshot"]
    sent = []
    real = manager._send_snapshot
    monkeypatch.setattr(manager, "_send_snapshot", lambda s, sid, role: (sent.append(sid), real(s, sid, role)))
    for _ in range(40):
        assert reader.emit("leave", {"session": ack["session"]}, callback=True)["ok"]
        assert reader.emit("join", {"session": ack["session"]}, callback=True)["ok"]
    assert sent == [] and "snapshot" not in recv(reader)          # nothing piled up behind it
    ctl(owner, ack, "play")
    ticks(manager, clock, 3)
    assert "events" not in recv(reader) and len(recv(owner)["events"]) == 3
    queued.clear()                                                # it drains
    ticks(manager, clock)
    got = recv(reader)
    assert len(got["snapshot"]) == 1 and "events" not in got       # one fresh snapshot, then batches
    assert len(got["snapshot"][0]["events"]) == manager.sessions[ack["session"]].sim.seq
    ticks(manager, clock)
    assert len(recv(reader)["events"]) == 1


def test_a_room_snapshot_skips_a_client_that_is_not_reading(clock, monkeypatch):
    manager, new_client = limited_app(clock)
    owner, reader = new_client(), new_client()
    ack, _ = create(owner)
    reader.emit("join", {"session": ack["session"]})
    recv(reader)
    queued = stall(manager, monkeypatch)
    queued[sid_of(manager, ack["session"])] = manager.limits.max_backlog_packets
    assert owner.emit("configure", {"session": ack["session"], "control": ack["control"],
                                    "scenario": {**SMALL, "seed": 4}}, callback=True)["ok"]
    assert len(recv(owner)["snapshot"]) == 1 and "snapshot" not in recv(reader)
    queued.clear()
    ticks(manager, clock)
    snap = recv(reader)["snapshot"]
    assert len(snap) == 1 and snap[0]["scenario"]["seed"] == 4 and snap[0]["control"] is None


# ---------------------------------------------------------------- B4: memory budget


def budget_manager(clock, **limits):
    manager, _ = limited_app(clock, **limits)
    manager.io.connected = lambda sid: True
    manager.io.enter = manager.io.emit = lambda *a, **k: None
    return manager


BUSY = {**SMALL, "params": {"tokens": 40}, "until": 20000}


def grow(manager, session_id, t=1500):
    """Play a session on so its trace holds more bytes."""
    s = manager.sessions[session_id]
    s.seek(t, lambda: None)
    s.take_events(0.0)                  # streamed, as a tick does
    return s.bytes_held()


def test_an_address_over_its_memory_share_loses_its_idle_sessions_then_is_refused(clock):
    probe = budget_manager(clock)
    first = probe.create("p", from_dict(SMALL), None, addr="p")["session"]
    size = probe.sessions[first].bytes_held()
    manager = budget_manager(clock, max_memory_per_address_bytes=int(size * 2.5), max_memory_bytes=10**9)
    a = manager.create("a", from_dict(SMALL), None, addr="10.0.0.7")["session"]
    clock.advance(1)
    b = manager.create("b", from_dict(SMALL), None, addr="10.0.0.7")["session"]
    clock.advance(1)
    c = manager.create("c", from_dict(SMALL), None, addr="10.0.0.7")["session"]   # 3 x size: over
    manager.sessions[a].participants.clear()          # its people left: a is idle, b and c in use
    manager.sessions[b].participants.clear()
    clock.advance(1)
    d = manager.create("d", from_dict(SMALL), None, addr="10.0.0.7")["session"]
    assert sorted(manager.sessions) == sorted([b, c, d])   # the oldest idle one went: a
    clock.advance(1)
    e = manager.create("e", from_dict(SMALL), None, addr="10.0.0.7")["session"]
    assert sorted(manager.sessions) == sorted([c, d, e])   # then b; c is in use, it stays
    with pytest.raises(ApiError) as e:                  # every one of its sessions is in use
        manager.create("f", from_dict(SMALL), None, addr="10.0.0.7")
    assert e.value.key == "refused.memory" and e.value.fill["mb"] >= 0
    manager.create("g", from_dict(SMALL), None, addr="10.0.0.8")   # another address still may


def test_over_the_total_budget_the_heaviest_address_loses_its_oldest_idle_session_first(clock):
    probe = budget_manager(clock)
    size = probe.sessions[probe.create("p", from_dict(SMALL), None, addr="p")["session"]].bytes_held()
    manager = budget_manager(clock, max_memory_bytes=size * 6, max_memory_per_address_bytes=10**9)
    light = manager.create("l", from_dict(SMALL), None, addr="light")["session"]
    clock.advance(1)
    heavy = []
    for i in range(3):
        heavy.append(manager.create(f"h{i}", from_dict(SMALL), None, addr="heavy")["session"])
        clock.advance(1)
    busy = manager.create("b", from_dict(BUSY), None, addr="heavy")["session"]
    for sid in [light, *heavy]:
        manager.sessions[sid].participants.clear()      # all idle except `busy`
    grow(manager, busy, 300)                             # it played on: now over the total
    assert sum(manager.memory_by_address().values()) >= manager.limits.max_memory_bytes
    gone = manager.expire()                              # the sweep puts it back within budget
    assert gone and set(gone) <= set(heavy)              # never the light address, never `busy`
    assert gone == heavy[:len(gone)]                     # oldest first
    assert light in manager.sessions and busy in manager.sessions
    assert sum(manager.memory_by_address().values()) < manager.limits.max_memory_bytes


def test_a_refused_create_is_a_translated_error_for_the_page(clock):
    _manager, new_client = limited_app(clock, max_memory_per_address_bytes=1)
    c = new_client()
    create(c)                                           # the first one fits (the address held nothing)
    reply = c.emit("create", {"scenario": SMALL}, callback=True)
    assert reply["ok"] is False and reply["key"] == "refused.memory", reply
    errors = recv(c)["error"]
    assert errors[-1]["key"] == "refused.memory" and set(errors[-1]["args"]) == {"mb"}


# ---------------------------------------------------------------- B7: CPU budget for heavy commands


def test_seeking_in_a_loop_is_refused_once_its_cpu_share_is_spent_and_others_are_not(clock, monkeypatch):
    from playground.session import Session
    manager, new_client = limited_app(clock, cpu_burst_ms=2000, cpu_rate_ms=100)
    real_seek = Session.seek

    def slow_seek(self, *args):           # every seek takes one second of the server's time
        clock.advance(1.0)
        return real_seek(self, *args)

    monkeypatch.setattr(Session, "seek", slow_seek)
    seeker, bystander = new_client(), new_client()
    ack, _ = create(seeker)
    other, _ = create(bystander)
    oks = [ctl(seeker, ack, "seek", 100)["ok"] for _ in range(3)]
    assert oks == [True, True, True]                 # 2,000 ms of burst, +100 ms a second
    reply = ctl(seeker, ack, "seek", 100)
    assert reply["ok"] is False and reply["code"] == "limit" and reply["key"] == "refused.busy", reply
    assert recv(seeker)["error"][-1]["key"] == "refused.busy"
    assert is_refusal(ctl(seeker, ack, "restart"), "refused.busy")
    assert ctl(seeker, ack, "play")["ok"] and ctl(seeker, ack, "pause")["ok"]   # cheap commands go on
    assert ctl(bystander, other, "seek", 100)["ok"]   # its own budget: untouched
    clock.advance(8)                                  # the debt is paid back
    assert ctl(seeker, ack, "seek", 50)["ok"]
    assert manager.sessions[ack["session"]].t == 50


def test_tabs_of_one_address_share_one_cpu_budget(clock, monkeypatch):
    from playground.session import Session
    _manager, new_client = limited_app(clock, cpu_burst_ms=10_000, address_cpu_burst_ms=2000,
                                       address_cpu_rate_ms=100)
    real_seek = Session.seek

    def slow_seek(self, *args):
        clock.advance(1.0)
        return real_seek(self, *args)

    monkeypatch.setattr(Session, "seek", slow_seek)
    tab1, tab2 = new_client(), new_client()
    ack1, _ = create(tab1)
    ack2, _ = create(tab2)
    assert [ctl(tab1, ack1, "seek", 100)["ok"] for _ in range(3)] == [True, True, True]
    assert is_refusal(ctl(tab1, ack1, "seek", 100), "refused.busy")
    assert is_refusal(ctl(tab2, ack2, "seek", 100), "refused.busy")   # its own budget is full, the address's not


def test_a_heavy_command_is_charged_its_own_work_not_the_time_it_yielded_to_others(clock, monkeypatch):
    """A seek yields to other clients every work slice (pacing.py); while it waits, their work
    runs. Charging it that time too would refuse a seek-heavy teacher on a busy server."""
    from playground.session import Session
    manager, new_client = limited_app(clock, cpu_burst_ms=2000, cpu_rate_ms=100)
    manager.timer = clock
    monkeypatch.setattr(manager.io, "sleep", lambda seconds: clock.advance(1.0))   # others' second
    real_seek = Session.seek

    def seek_with_a_yield(self, t, pace):   # 100 ms of its own work, then a yield
        clock.advance(0.1)
        pace()
        return real_seek(self, t, pace)

    monkeypatch.setattr(Session, "seek", seek_with_a_yield)
    c = new_client()
    ack, _ = create(c)
    oks = [ctl(c, ack, "seek", 100)["ok"] for _ in range(10)]
    assert oks == [True] * 10                # 1.1 s elapsed each: charged so, the third was refused
    assert manager.waited() == pytest.approx(10.0)          # (the handlers ran in this thread)
    conn = next(iter(manager.fairness.conns.values()))
    assert conn.cpu.tokens == pytest.approx(2000 - 100)     # refilled to the burst, less the last 100 ms


# ---------------------------------------------------------------- B2, B5: the transport (a real server)

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def live():
    """`python app.py` (eventlet) with a 1 s header deadline and 4 connections per address."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**os.environ, "PLAYGROUND_LIMITS": json.dumps({"header_timeout_s": 1.0,
                                                          "max_http_connections_per_address": 4})}
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
    time.sleep(0.2)          # the probe's own connection is let go
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def get_ok(port) -> bool:
    with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        return s.recv(64).startswith(b"HTTP/1.1 200")


def closed_within(s, seconds) -> bool:
    s.settimeout(seconds)
    try:
        while s.recv(4096):
            pass
        return True
    except TimeoutError:
        return False


def test_a_half_sent_request_is_cut_off_at_the_header_deadline(live):
    s = socket.create_connection(("127.0.0.1", live))
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")          # ...and never the rest (slowloris)
    t0 = time.monotonic()
    for _ in range(3):
        time.sleep(0.3)
        s.sendall(b"X-A: b\r\n")                      # trickling keeps no connection alive
    assert closed_within(s, 3) and time.monotonic() - t0 < 3
    idle = socket.create_connection(("127.0.0.1", live))   # nothing sent at all
    assert closed_within(idle, 3)
    assert get_ok(live)


def test_one_address_may_hold_only_so_many_open_connections(live):
    held = [socket.create_connection(("127.0.0.1", live)) for _ in range(4)]
    time.sleep(0.1)
    with socket.create_connection(("127.0.0.1", live), timeout=3) as extra:
        assert extra.recv(64).startswith(b"HTTP/1.1 503")
    for s in held:
        s.close()
    time.sleep(0.2)
    assert get_ok(live)


def ws_frame(payload: bytes, opcode: int, fin: bool) -> bytes:
    mask = b"\x01\x02\x03\x04"
    n = len(payload)
    head = bytes([(0x80 if fin else 0) | opcode])
    if n < 126:
        head += bytes([0x80 | n])
    elif n < 1 << 16:
        head += bytes([0x80 | 126]) + struct.pack("!H", n)
    else:
        head += bytes([0x80 | 127]) + struct.pack("!Q", n)
    return head + mask + bytes(b ^ mask[i % 4] for i, b in enumerate(payload))


def ws_open(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    key = base64.b64encode(b"0123456789abcdef").decode()
    s.sendall((f"GET /socket.io/?EIO=4&transport=websocket HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n"
               f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n").encode())
    buf = b""
    while b"\r\n\r\n" not in buf:
        buf += s.recv(4096)
    assert buf.startswith(b"HTTP/1.1 101"), buf[:80]
    return s, buf.split(b"\r\n\r\n", 1)[1]


def ws_read(s, buf=b""):
    """(opcode, payload) of the next unfragmented frame from the server, and what is left."""
    while len(buf) < 2:
        buf += s.recv(65536)
    n, at = buf[1] & 127, 2
    if n == 126:
        while len(buf) < 4:
            buf += s.recv(65536)
        n, at = struct.unpack("!H", buf[2:4])[0], 4
    while len(buf) < at + n:
        buf += s.recv(65536)
    return buf[0] & 15, buf[at:at + n], buf[at + n:]


def test_a_fragmented_websocket_message_is_refused_as_it_grows_past_the_limit(live):
    s, rest = ws_open(live)
    op, data, rest = ws_read(s, rest)
    assert op == 1 and data.startswith(b"0{")                          # engine.io open
    # A message in two fragments, under the limit: it arrives whole (and correctly unmasked).
    s.sendall(ws_frame(b"4", 1, False) + ws_frame(b"0", 0, True))
    op, data, rest = ws_read(s, rest)
    assert op == 1 and data.startswith(b'40{"sid"')                    # Socket.IO connected
    # Fragments each under the per-frame limit, 64 KiB at a time, never ending.
    chunk = ws_frame(b"4" + b"x" * 65535, 1, False)
    more = ws_frame(b"x" * 65536, 0, False)
    s.sendall(chunk + more)
    closed_by = None
    for _ in range(40):                                                 # up to 2.5 MiB more
        try:
            s.sendall(more)
        except OSError:
            break
        s.settimeout(0.05)
        try:
            op, data, rest = ws_read(s, rest)
            if op == 8:
                closed_by = struct.unpack("!H", data[:2])[0]
                break
        except (TimeoutError, IndexError):
            pass
    if closed_by is None:
        s.settimeout(3)
        op, data, rest = ws_read(s, rest)
        closed_by = struct.unpack("!H", data[:2])[0] if op == 8 else None
    assert closed_by == 1009                                            # "message too big"
    s.close()
    assert get_ok(live)


@pytest.mark.parametrize("cmd", ["seek", "restart", "extend", "chapter_next", "chapter_prev"])
def test_every_control_command_that_runs_the_engine_is_charged_cpu(cmd):
    """A command that steps the engine for a client is timed and charged (a flood of
    chapter moves may not run the engine for free); play, pause and speed are cheap."""
    from playground.fairness import _expensive
    assert _expensive(["control", {"cmd": cmd}])
    for cheap in ("play", "pause", "speed", "stops"):
        assert not _expensive(["control", {"cmd": cheap}])
