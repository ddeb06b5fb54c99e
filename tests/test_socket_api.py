"""The Socket.IO contract (docs/socket-api.md), through Flask-SocketIO's test client.

The ticker is off: tests move a fake clock and call manager.tick() themselves,
so playback is deterministic and no test sleeps.
"""

import json
import math
import re
import threading
from pathlib import Path

import orjson
import pytest

from engine import Simulation, from_dict, from_token, registry
from engine.protocols.forward import ForwardNode
from playground import create_app, wire
from playground.manager import SessionManager
from playground.payloads import ApiError

TICK = 0.05
SMALL = {"protocol": "forward", "seed": 3, "nodes": 4, "params": {"tokens": 3}, "until": 2000}


# ---------------------------------------------------------------- helpers

def recv(c) -> dict:
    """Drain a client's queue: event name -> list of payloads, in arrival order."""
    out = {}
    for m in c.get_received():
        out.setdefault(m["name"], []).append(m["args"][0] if m["args"] else None)
    return out


def create(c, **payload):
    ack = c.emit("create", payload or {"scenario": SMALL}, callback=True)
    assert ack["ok"], ack
    got = recv(c)
    assert len(got["snapshot"]) == 1
    return ack, got["snapshot"][0]


def ctl(c, ack, cmd, value=None, **extra):
    data = {"session": ack["session"], "control": ack["control"], "cmd": cmd, **extra}
    if value is not None:
        data["value"] = value
    return c.emit("control", data, callback=True)


def act(c, ack, **action):
    return c.emit("action", {"session": ack["session"], "control": ack["control"], "action": action},
                  callback=True)


def ticks(manager, clock, n=1, dt=TICK):
    for _ in range(n):
        clock.advance(dt)
        manager.tick()


def refused(c, reply, code):
    """A refusal is a failed ack AND an `error` event with the same code."""
    assert reply["ok"] is False, reply
    assert reply["code"] == code, reply
    assert isinstance(reply["error"], str) and 0 < len(reply["error"]) <= 300
    errors = recv(c).get("error", [])
    assert errors and errors[-1] == {k: v for k, v in reply.items() if k not in ("ok", "error")}
    assert errors[-1]["message"] == reply["error"]
    assert_translatable(errors[-1])


I18N = {lang: json.loads((Path(__file__).resolve().parent.parent / "static" / "i18n" / f"{lang}.json")
                         .read_text(encoding="utf-8")) for lang in ("en", "zh")}


def assert_translatable(error: dict) -> None:
    """An error a person can meet names the page's translation of it, filled by its args."""
    if "key" not in error:
        return
    for lang, d in I18N.items():
        text = d.get(error["key"])
        assert text, (lang, error["key"])
        assert set(re.findall(r"\{(\w+)\}", text)) == set(error["args"]), (lang, error)


def reference_trace(scenario: dict, t: int) -> list:
    sim = Simulation(from_dict(scenario))
    sim.run_until(t)
    return sim.trace


def inflight(manager, ack) -> list[int]:
    return list(manager.sessions[ack["session"]].sim.network.inflight)


def after_seek(held: list, seek: dict) -> list:
    """What a client holds after a `seek`: its first `seq` events, then the new ones."""
    assert 0 <= seek["seq"] <= len(held)
    return held[:seek["seq"]] + seek["events"]


def assert_contiguous(events, start=0):
    assert [e["seq"] for e in events] == list(range(start, start + len(events)))


# ---------------------------------------------------------------- create and join

def test_create_from_protocol_gives_the_controller_a_snapshot(connect):
    c = connect()
    ack, snap = create(c, protocol="forward")
    assert set(ack) == {"ok", "session", "control"}
    assert snap["session"] == ack["session"]
    assert snap["role"] == "controller" and snap["control"] == ack["control"]
    assert snap["protocol"]["name"] == "forward"
    assert snap["nodes"] == ["n1", "n2", "n3", "n4", "n5"]
    assert set(snap["layout"]) == set(snap["nodes"])
    assert snap["playback"] == {"playing": False, "speed": 1.0, "t": 0.0, "done": False, "viewers": 1,
                                "until": 10000, "controller": True}
    assert snap["viewers"] == 1
    # t=0 is processed so the page can draw every node's first view at once.
    assert {e["node"] for e in snap["events"] if e["type"] == "state"} == set(snap["nodes"])
    assert_contiguous(snap["events"])
    assert from_token(snap["token"]).to_dict() == from_dict(snap["scenario"]).to_dict()


def test_create_from_scenario_then_from_its_token_gives_the_same_run(connect):
    c = connect()
    _, snap = create(c, scenario=SMALL, t=700)
    assert snap["scenario"]["seed"] == 3 and snap["scenario"]["nodes"] == 4
    assert snap["playback"]["t"] == 700 and snap["playback"]["playing"] is False
    assert snap["events"] == reference_trace(SMALL, 700)
    _, again = create(connect(), token=snap["token"], t=700)
    assert again["events"] == snap["events"]
    assert again["session"] != snap["session"]


def test_join_as_viewer_and_as_controller(connect):
    owner, viewer, helper = connect(), connect(), connect()
    ack, _ = create(owner)
    r = viewer.emit("join", {"session": ack["session"]}, callback=True)
    assert r == {"ok": True, "session": ack["session"], "role": "viewer"}
    snap = recv(viewer)["snapshot"][0]
    assert snap["role"] == "viewer" and snap["control"] is None and snap["viewers"] == 2
    assert recv(owner)["playback"][-1]["viewers"] == 2

    r = helper.emit("join", {"session": ack["session"], "control": ack["control"]}, callback=True)
    assert r["role"] == "controller"
    snap = recv(helper)["snapshot"][0]
    assert snap["control"] == ack["control"] and snap["viewers"] == 3
    # A wrong token is not an error: you simply watch.
    r = connect().emit("join", {"session": ack["session"], "control": "guess"}, callback=True)
    assert r["role"] == "viewer"


def test_leave_and_disconnect_update_the_viewer_count(connect, manager, clock):
    owner, viewer, other = connect(), connect(), connect()
    ack, _ = create(owner)
    for c in (viewer, other):
        c.emit("join", {"session": ack["session"]})
    recv(owner)
    assert viewer.emit("leave", {"session": ack["session"]}, callback=True) == {"ok": True}
    assert recv(owner)["playback"][-1]["viewers"] == 2
    other.disconnect()
    assert recv(owner)["playback"][-1]["viewers"] == 1
    recv(viewer)
    ctl(owner, ack, "play")
    ticks(manager, clock)
    assert "events" not in recv(viewer)     # left the room
    assert list(manager.sessions[ack["session"]].participants.values()) == ["controller"]


def test_the_session_manager_needs_no_flask():
    """manager.py talks to clients only through an io object (emit/enter/leave/sleep)."""
    class FakeIO:
        def __init__(self):
            self.sent, self.rooms = [], {}

        def emit(self, event, data, to, skip=None):
            self.sent.append((event, to, orjson.loads(wire.encode(data))))

        def enter(self, sid, room):
            self.rooms.setdefault(room, set()).add(sid)

        def leave(self, sid, room):
            self.rooms[room].discard(sid)

        def connected(self, sid):
            return True

        def sleep(self, seconds):
            pass

    io, clock = FakeIO(), iter(range(1000, 2000))
    manager = SessionManager(io, clock=lambda: next(clock) * 0.05)
    ack = manager.create("sid1", from_dict(SMALL), None)
    assert io.rooms == {"s:" + ack["session"]: {"sid1"}}
    manager.control(ack["session"], ack["control"], "play", None)
    manager.tick()
    manager.tick()
    room = "s:" + ack["session"]
    assert [(event, to) for event, to, _ in io.sent] == [("snapshot", "sid1"), ("playback", room),
                                                         ("events", room), ("events", room)]
    streamed = io.sent[0][2]["events"] + [e for _, _, d in io.sent[2:] for e in d["events"]]
    assert streamed == reference_trace(SMALL, math.floor(io.sent[-1][2]["playback"]["t"]))


def test_a_client_gone_quiet_closed_inside_a_batch_never_stops_the_ticker():
    """Engine.IO closes a connection that stopped answering pings from inside a send to it,
    and runs the disconnect handler right there: within the ticker's emit, which holds the
    session's lock. The manager must not wait for that lock (it waited forever, and every
    session of the process stopped); the client leaves on the next tick."""
    class ClosingIO:
        def __init__(self):
            self.sent, self.rooms, self.gone = [], {}, set()

        def emit(self, event, data, to, skip=None):
            self.sent.append((event, to))
            for sid in sorted(self.rooms.get(to, {to})):
                if sid in self.gone:
                    self.gone.discard(sid)
                    self.rooms[to].discard(sid)
                    manager.disconnect(sid)       # as engine.io's Socket.send does

        def enter(self, sid, room):
            self.rooms.setdefault(room, set()).add(sid)

        def leave(self, sid, room):
            self.rooms[room].discard(sid)

        def connected(self, sid):
            return sid not in self.gone

        def sleep(self, seconds):
            pass

    io, clock = ClosingIO(), iter(range(1000, 2000))
    manager = SessionManager(io, clock=lambda: next(clock) * 0.05)
    ack = manager.create("owner", from_dict(SMALL), None)
    manager.join("quiet", ack["session"], None)
    manager.control(ack["session"], ack["control"], "play", None)
    io.gone.add("quiet")
    ticker = threading.Thread(target=lambda: [manager.tick() for _ in range(3)], daemon=True)
    ticker.start()
    ticker.join(30)
    assert not ticker.is_alive(), "the ticker waited for the lock it held"
    s = manager.sessions[ack["session"]]
    assert list(s.participants) == ["owner"] and "quiet" not in manager.client_sessions
    room = "s:" + ack["session"]
    assert [e for e, to in io.sent if to == room].count("events") == 3     # every tick streamed
    assert ("playback", room) in io.sent[io.sent.index(("events", room)):]  # the viewer count fell


# ---------------------------------------------------------------- playback and the ticker

def test_ticks_stream_one_batch_per_session_per_tick(connect, manager, clock):
    a, b, watcher = connect(), connect(), connect()
    ack_a, snap_a = create(a)
    ack_b, _ = create(b)
    watcher.emit("join", {"session": ack_a["session"]})
    recv(watcher)
    for c, ack in ((a, ack_a), (b, ack_b)):
        assert ctl(c, ack, "play")["playback"]["playing"] is True
        recv(c)
    streamed = list(snap_a["events"])
    for i in range(10):
        ticks(manager, clock)
        got_a, got_w, got_b = recv(a), recv(watcher), recv(b)
        assert len(got_a["events"]) == 1 and len(got_b["events"]) == 1
        batch = got_a["events"][0]
        assert got_w["events"][0] == batch           # the whole room gets the same batch
        assert batch["session"] == ack_a["session"]
        pb = batch["playback"]
        assert pb["playing"] and pb["t"] == pytest.approx(50 * (i + 1))
        assert all(e["t"] <= pb["t"] for e in batch["events"])
        assert isinstance(batch["sent_at"], float) and batch["token"] == snap_a["token"]
        streamed += batch["events"]
    assert_contiguous(streamed)
    assert streamed == reference_trace(SMALL, 500)


def test_a_watcher_whose_socket_falls_behind_skips_batches_then_gets_one_snapshot(connect, manager, clock,
                                                                                 monkeypatch):
    teacher, student = connect(), connect()
    ack, _ = create(teacher)
    student.emit("join", {"session": ack["session"]})
    recv(student)
    session = manager.sessions[ack["session"]]
    slow_sid = next(sid for sid, role in session.participants.items() if role == "viewer")
    queued = {slow_sid: 0}
    monkeypatch.setattr(manager.io, "backlog", lambda sid: queued.get(sid, 0), raising=False)
    ctl(teacher, ack, "play")
    recv(teacher), recv(student)
    ticks(manager, clock)
    assert recv(student)["events"] and recv(teacher)["events"]        # both stream while it keeps up
    queued[slow_sid] = manager.limits.max_backlog_packets              # its link stalls
    for _ in range(5):
        ticks(manager, clock)
        assert len(recv(teacher)["events"]) == 1                       # the class goes on
        assert "events" not in recv(student)                           # nothing more piles up for it
    queued[slow_sid] = 3
    ticks(manager, clock)
    assert "events" not in recv(student) and "snapshot" not in recv(student)   # still draining
    queued[slow_sid] = 0                                               # caught up
    ticks(manager, clock)
    got = recv(student)
    assert "events" not in got and len(got["snapshot"]) == 1           # one snapshot: all it missed
    snap = got["snapshot"][0]
    assert snap["role"] == "viewer" and snap["control"] is None
    assert snap["playback"]["t"] == pytest.approx(session.t)
    assert [e["seq"] for e in snap["events"]] == list(range(len(snap["events"])))
    assert len(snap["events"]) == session.sim.seq                      # up to the latest event
    ticks(manager, clock)
    assert len(recv(student)["events"]) == 1                           # and the batches again
    # A run that stops while a client is behind still sends it its snapshot once it catches up.
    queued[slow_sid] = manager.limits.max_backlog_packets
    ticks(manager, clock)
    ctl(teacher, ack, "pause")
    recv(student)
    queued[slow_sid] = 0
    ticks(manager, clock)
    assert len(recv(student)["snapshot"]) == 1
    assert manager.lagging == {}


def test_nothing_is_sent_when_nothing_changed(connect, manager, clock):
    c = connect()
    ack, _ = create(c)
    ctl(c, ack, "play")
    recv(c)
    manager.tick()                 # no real time elapsed: no batch
    assert recv(c) == {}
    ctl(c, ack, "pause")
    recv(c)
    ticks(manager, clock, 3)       # paused: no batch
    assert recv(c) == {}
    assert manager.playing == {}


def test_event_rate_cap_slows_playback_instead_of_flooding(connect, clock):
    app = create_app({"PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                      "PLAYGROUND_LIMITS": {"max_events_per_tick": 10}})
    manager = app.extensions["playground"].manager
    manager.clock = clock
    c = app.extensions["playground"].socketio.test_client(app)
    scenario = {"protocol": "forward", "seed": 1, "params": {"tokens": 50}, "until": 5000}
    ack, snap = create(c, scenario=scenario)
    ctl(c, ack, "speed", 10)
    ctl(c, ack, "play")
    recv(c)
    streamed = list(snap["events"])
    for _ in range(5):
        ticks(manager, clock)
        batch = recv(c)["events"][0]
        assert len(batch["events"]) <= 10 + 5   # one heap entry may emit a few events
        # Capped: time stops at the last processed event, far behind 10x.
        assert batch["playback"]["t"] == batch["events"][-1]["t"] < 500
        streamed += batch["events"]
    assert_contiguous(streamed)
    t = math.floor(batch["playback"]["t"])
    assert streamed == reference_trace(scenario, t)[:len(streamed)]
    c.disconnect()


def test_speed_scales_virtual_time(connect, manager, clock):
    c = connect()
    ack, _ = create(c)
    assert ctl(c, ack, "speed", 2)["playback"]["speed"] == 2
    assert recv(c)["playback"][-1]["speed"] == 2
    ctl(c, ack, "play")
    ticks(manager, clock)
    assert recv(c)["events"][0]["playback"]["t"] == pytest.approx(100)
    ctl(c, ack, "speed", 0.01)
    ticks(manager, clock)
    assert recv(c)["events"][-1]["playback"]["t"] == pytest.approx(100.5)


def test_pause_and_speed_take_effect_where_the_clock_is_not_at_the_last_tick(connect, manager, clock):
    c = connect()
    ack, _ = create(c)
    ctl(c, ack, "play")
    ticks(manager, clock)                           # t = 50 (1x, one 50 ms tick)
    recv(c)
    clock.advance(0.030)                            # 30 ms later, between two ticks
    ctl(c, ack, "speed", 2)                         # those 30 ms ran at 1x
    clock.advance(0.010)                            # 10 ms more at 2x
    ctl(c, ack, "pause")                            # the page showed t move on: no step back
    last = recv(c)["playback"][-1]
    assert last["playing"] is False and last["t"] == pytest.approx(50 + 30 + 20)


def test_a_stalled_tick_jumps_at_most_max_tick_elapsed(connect, manager, clock):
    c = connect()
    ack, _ = create(c)
    ctl(c, ack, "play")
    ticks(manager, clock, dt=30.0)
    assert recv(c)["events"][0]["playback"]["t"] == pytest.approx(1000 * manager.limits.max_tick_elapsed_s)


def test_step_advances_to_the_next_event_and_pauses(connect, manager, clock):
    c = connect()
    ack, snap = create(c)
    ctl(c, ack, "play")
    r = ctl(c, ack, "step")
    assert r["ok"] and r["playback"]["playing"] is False
    batch = recv(c)["events"][0]
    assert batch["events"] and batch["events"][0]["seq"] == len(snap["events"])
    assert batch["playback"]["t"] == batch["events"][-1]["t"] > 0
    assert manager.playing == {}


def test_seek_rebuilds_the_same_trace_and_tells_the_room(connect, manager, clock):
    owner, viewer = connect(), connect()
    ack, snap = create(owner)
    viewer.emit("join", {"session": ack["session"]})
    act(owner, ack, do="crash", node="n2")
    ctl(owner, ack, "play")
    ticks(manager, clock, 8)
    streamed = snap["events"] + [e for b in recv(owner)["events"] for e in b["events"]]
    recv(viewer)

    r = ctl(owner, ack, "seek", 150)
    assert r["ok"] and r["playback"] == {"playing": False, "speed": 1.0, "t": 150, "done": False, "viewers": 2,
                                        "until": 2000, "controller": True}
    got, theirs = recv(owner), recv(viewer)
    assert "snapshot" not in got and "snapshot" not in theirs     # a seek, not the whole history again
    mine, theirs = got["seek"][0], theirs["seek"][0]
    assert mine == theirs and mine["playback"]["t"] == 150
    held = after_seek(streamed, mine)
    assert held == [e for e in streamed if e["t"] <= 150]
    assert from_token(mine["token"]).actions == [{"at": 1, "do": "crash", "node": "n2"}]   # kept: before 150

    ctl(owner, ack, "seek", 400)        # forward seek: same events as playing there
    held = after_seek(held, recv(owner)["seek"][0])
    assert held == [e for e in streamed if e["t"] <= 400]
    ctl(owner, ack, "restart")
    restarted = recv(owner)["seek"][0]
    assert restarted["playback"]["t"] == 0 and after_seek(held, restarted) == [e for e in streamed if e["t"] == 0]


def test_action_while_paused_applies_at_once(connect):
    c = connect()
    ack, _ = create(c, scenario=SMALL, t=100)
    r = act(c, ack, do="crash", node="n3")
    assert r["ok"] and r["action"] == {"at": 101, "do": "crash", "node": "n3"} and r["forked"] is False
    batch = recv(c)["events"][0]
    assert {"type": "crash", "node": "n3", "t": 101} in [{k: e[k] for k in ("type", "node", "t") if k in e}
                                                         for e in batch["events"]]
    assert batch["playback"]["t"] == 101
    assert from_token(batch["token"]).actions == [r["action"]]


def test_action_while_playing_lands_on_the_next_tick(connect, manager, clock):
    c = connect()
    ack, snap = create(c)
    ctl(c, ack, "play")
    ticks(manager, clock, 2)
    recv(c)
    r = act(c, ack, do="crash", node="n4")
    assert r["ok"] and r["action"]["at"] == 101
    assert recv(c) == {}                 # nothing until the ticker runs
    ticks(manager, clock)
    batch = recv(c)["events"][0]
    crash = [e for e in batch["events"] if e["type"] == "crash"]
    assert crash == [{"type": "crash", "node": "n4", "seq": crash[0]["seq"], "t": 101}]
    assert batch["token"] != snap["token"] and from_token(batch["token"]).actions == [r["action"]]


def test_every_action_kind_on_forward(connect, manager):
    c = connect()
    ack, _ = create(c, scenario=SMALL, t=5)
    cases = [
        {"do": "crash", "node": "n2"},
        {"do": "restart", "node": "n2"},
        {"do": "drop", "msg": inflight(manager, ack)[0]},
        {"do": "duplicate", "msg": inflight(manager, ack)[-1]},
        {"do": "partition", "groups": [["n1", "n2"]]},
        {"do": "heal"},
        {"do": "set", "param": "latency", "value": [5, 5]},
        {"do": "set", "param": "loss", "value": 0.5},
    ]
    expected = ["crash", "restart", "drop", "duplicate", "partition", "heal", "set", "set"]
    for action, kind in zip(cases, expected):
        msg = action.get("msg")
        r = act(c, ack, **action)
        assert r["ok"], (action, r)
        evs = recv(c)["events"][0]["events"]
        assert kind in [e["type"] for e in evs], (action, evs)
        if msg is not None:
            assert any(e.get("id") == msg for e in evs if e["type"] == kind)
    actions = manager.sessions[ack["session"]].sim.actions
    assert [a["do"] for a in actions] == [a["do"] for a in cases]


@pytest.mark.parametrize("action, why", [
    ({"do": "restart", "node": "n1"}, "not crashed"),
    ({"do": "drop", "msg": 999_999}, "not in flight"),
    ({"do": "duplicate", "msg": 999_999}, "not in flight"),
    ({"do": "heal"}, "not partitioned"),
    ({"do": "crash", "node": "n99"}, "unknown node"),
    ({"do": "explode", "node": "n1"}, "unknown action"),
    ({"do": "crash", "node": "n1", "at": 5}, "stamps"),
    ({"do": "crash", "node": "n1", "extra": 1}, "unknown field"),
    ({"do": "request", "node": "n1", "op": "put"}, "unknown operation"),
    ({"do": "timeout", "node": "n1", "timer": "election"}, "unknown timer"),
    ({"do": "partition", "groups": "n1"}, "groups"),
    ({"do": "set", "param": "latency", "value": [9, 1]}, "above max"),
    ({"do": "crash", "node": "n1" * 5000}, "unknown node"),
])
def test_invalid_actions_are_refused_and_the_session_goes_on(connect, manager, clock, action, why):
    c = connect()
    ack, _ = create(c, scenario=SMALL, t=5)
    r = act(c, ack, **action)
    refused(c, r, "bad_request")
    assert why in r["error"]
    assert manager.sessions[ack["session"]].sim.actions == []
    ctl(c, ack, "play")
    ticks(manager, clock)
    assert recv(c)["events"][0]["playback"]["t"] == pytest.approx(55)


def test_crashing_a_crashed_node_is_refused(connect):
    c = connect()
    ack, _ = create(c)
    assert act(c, ack, do="crash", node="n2")["ok"]
    recv(c)
    refused(c, act(c, ack, do="crash", node="n2"), "bad_request")


def test_share_token_reproduces_the_same_run(connect, manager, clock):
    c = connect()
    ack, snap = create(c, scenario={**SMALL, "params": {"tokens": 20}})
    ctl(c, ack, "play")
    streamed = list(snap["events"])
    for i in range(12):
        ticks(manager, clock)
        if i == 3:
            act(c, ack, do="drop", msg=inflight(manager, ack)[0])
        if i == 6:
            act(c, ack, do="crash", node="n2")
        if i == 8:
            act(c, ack, do="partition", groups=[["n1", "n3"]])
        batches = recv(c)["events"]
        streamed += [e for b in batches for e in b["events"]]
    last = batches[-1]
    assert len(from_token(last["token"]).actions) == 3
    t = last["playback"]["t"]
    _, replay = create(connect(), token=last["token"], t=t)
    assert replay["events"] == streamed
    assert replay["playback"]["t"] == t and replay["playback"]["playing"] is False


def test_action_after_seek_back_forks_and_cuts_later_actions(connect, manager, clock):
    owner, viewer = connect(), connect()
    ack, snap = create(owner, scenario=SMALL)
    viewer.emit("join", {"session": ack["session"]})
    ctl(owner, ack, "play")
    ticks(manager, clock, 2)
    first = act(owner, ack, do="crash", node="n2")["action"]       # at 101
    ticks(manager, clock, 4)
    act(owner, ack, do="restart", node="n2")                        # at 301
    ticks(manager, clock, 2)
    ctl(owner, ack, "seek", 200)
    got = recv(owner)
    before = {"events": after_seek(snap["events"] + [e for b in got["events"] for e in b["events"]], got["seek"][0])}
    recv(viewer)

    # An invalid action does not fork: later actions stay.
    refused(owner, act(owner, ack, do="restart", node="n1"), "bad_request")
    assert len(manager.sessions[ack["session"]].sim.actions) == 2

    r = act(owner, ack, do="crash", node="n3")
    assert r["ok"] and r["forked"] is True and r["action"]["at"] == 201
    mine, theirs = recv(owner)["snapshot"][0], recv(viewer)["snapshot"][0]
    assert mine["role"] == "controller" and theirs["role"] == "viewer"
    assert mine["scenario"]["actions"] == [first, r["action"]]
    assert from_token(theirs["token"]).actions == [first, r["action"]]
    assert mine["events"][:len(before["events"])] == before["events"]
    assert mine["events"][len(before["events"]):][0]["type"] == "crash"


def test_acting_before_a_presets_script_keeps_the_script(connect, manager, clock):
    """A preset's faults still ahead of anything played are the future, not a fork."""
    c = connect()
    ack, snap = create(c, protocol="2pc", preset="coordinator_crash")
    script = snap["scenario"]["actions"]
    ctl(c, ack, "seek", 140)
    recv(c)
    vote = inflight(manager, ack)[0]
    r = act(c, ack, do="drop", msg=vote)
    assert r["ok"] and r["forked"] is False and r["cut"] == []
    recv(c)
    ctl(c, ack, "seek", 5000)
    seek = recv(c)["seek"][0]
    assert from_token(seek["token"]).actions == sorted(script + [r["action"]], key=lambda a: a["at"])
    assert [e["t"] for e in seek["events"] if e["type"] == "crash" and e["node"] == "c"] == [300]


def test_acting_after_a_seek_back_cuts_only_what_was_seen_and_says_so(connect, manager, clock):
    c = connect()
    ack, snap = create(c, protocol="2pc", preset="coordinator_crash")
    script = snap["scenario"]["actions"]          # request 100, crash 300, restart 2165, request 2170
    ctl(c, ack, "seek", 1000)                     # played past the crash, not past the restart
    ctl(c, ack, "seek", 140)
    recv(c)
    r = act(c, ack, do="drop", msg=inflight(manager, ack)[0])
    assert r["forked"] is True and r["cut"] == [a for a in script if a["at"] == 300]
    kept = recv(c)["snapshot"][0]["scenario"]["actions"]
    assert [a["at"] for a in kept] == [100, r["action"]["at"], 2165, 2170]


def test_fork_while_playing_after_a_seek_back(connect, manager, clock):
    c = connect()
    ack, _ = create(c, scenario=SMALL)
    ctl(c, ack, "play")
    ticks(manager, clock, 6)
    act(c, ack, do="crash", node="n2")
    ticks(manager, clock, 2)
    ctl(c, ack, "seek", 100)
    ctl(c, ack, "play")
    ticks(manager, clock)
    recv(c)
    r = act(c, ack, do="crash", node="n3")
    assert r["forked"] and r["action"]["at"] == 151
    snap = recv(c)["snapshot"][0]
    assert snap["scenario"]["actions"] == [r["action"]] and snap["playback"]["playing"] is True
    ticks(manager, clock)
    assert any(e["type"] == "crash" for e in recv(c)["events"][0]["events"])


def test_configure_replaces_the_scenario(connect, manager):
    owner, viewer = connect(), connect()
    ack, _ = create(owner)
    viewer.emit("join", {"session": ack["session"]})
    act(owner, ack, do="crash", node="n1")
    recv(owner), recv(viewer)
    r = owner.emit("configure", {"session": ack["session"], "control": ack["control"],
                                 "scenario": {"nodes": 3, "seed": 9}}, callback=True)
    assert r["ok"] and from_token(r["token"]).nodes == 3
    mine, theirs = recv(owner)["snapshot"][0], recv(viewer)["snapshot"][0]
    assert mine["nodes"] == theirs["nodes"] == ["n1", "n2", "n3"]
    assert mine["scenario"]["actions"] == [] and mine["scenario"]["seed"] == 9
    assert mine["playback"]["t"] == 0 and theirs["role"] == "viewer"

    for bad in ({"protocol": "raft"}, {"nodes": 99}, {"seed": "x"}, {"wat": 1}, {"params": {"tokens": -1}}):
        refused(owner, owner.emit("configure", {"session": ack["session"], "control": ack["control"],
                                                "scenario": bad}, callback=True), "bad_request")
    assert manager.sessions[ack["session"]].sim.scenario.seed == 9


def test_the_run_ends_and_can_be_rewound(connect, manager, clock):
    c = connect()
    ack, _ = create(c, scenario={**SMALL, "until": 120})
    ctl(c, ack, "play")
    ticks(manager, clock, 3)
    last = recv(c)["events"][-1]["playback"]
    assert last == {"playing": False, "speed": 1.0, "t": 120, "done": True, "viewers": 1,
                    "until": 120, "controller": True}
    assert manager.playing == {}
    refused(c, ctl(c, ack, "play"), "bad_request")
    refused(c, ctl(c, ack, "step"), "bad_request")
    refused(c, act(c, ack, do="crash", node="n1"), "bad_request")
    assert ctl(c, ack, "seek", 60)["playback"]["done"] is False
    assert ctl(c, ack, "play")["ok"]


def test_an_unwatched_session_stands_still(connect, manager, clock):
    c = connect()
    ack, _ = create(c)
    ctl(c, ack, "play")
    ticks(manager, clock)
    c.disconnect()
    s = manager.sessions[ack["session"]]
    t = s.t
    ticks(manager, clock, 5)
    assert s.t == t and s.playing
    again = connect()
    again.emit("join", {"session": ack["session"], "control": ack["control"]})
    recv(again)
    ticks(manager, clock)
    assert recv(again)["events"][0]["playback"]["t"] == pytest.approx(t + 50)


def test_a_protocol_crash_pauses_only_its_session(connect, manager, clock, monkeypatch):
    def boom(self, ctx, msg):
        raise KeyError("boom")

    broken, fine = connect(), connect()
    ack, _ = create(broken)
    ack2, _ = create(fine, scenario={**SMALL, "network": {"latency": [500, 500]}})   # no delivery soon
    for c, a in ((broken, ack), (fine, ack2)):
        ctl(c, a, "play")
        recv(c)
    monkeypatch.setattr(ForwardNode, "on_message", boom)
    ticks(manager, clock)
    got = recv(broken)
    assert got["error"][0]["code"] == "engine" and "boom" in got["error"][0]["message"]
    assert got["events"][-1]["playback"]["playing"] is False
    refused(broken, ctl(broken, ack, "play"), "engine")
    monkeypatch.undo()
    assert ctl(broken, ack, "restart")["ok"]
    assert ctl(broken, ack, "play")["ok"]
    ticks(manager, clock)
    assert recv(broken)["events"][0]["playback"]["playing"] is True
    assert "error" not in recv(fine)


def test_a_seek_into_a_protocol_crash_keeps_the_current_run(connect, manager, monkeypatch):
    c = connect()
    ack, _ = create(c, scenario=SMALL, t=300)
    monkeypatch.setattr(ForwardNode, "on_message", lambda self, ctx, msg: 1 / 0)
    r = ctl(c, ack, "seek", 100)
    refused(c, r, "engine")
    assert "ZeroDivisionError" in r["error"]
    s = manager.sessions[ack["session"]]
    assert s.failure is None and s.t == 300
    refused(c, c.emit("create", {"scenario": SMALL, "t": 100}, callback=True), "engine")


def test_a_view_that_is_not_json_stops_only_its_session(connect, manager, clock, monkeypatch):
    c, other = connect(), connect()
    ack, _ = create(c)
    ack2, _ = create(other, scenario={**SMALL, "network": {"latency": [500, 500]}})
    for client, a in ((c, ack), (other, ack2)):
        ctl(client, a, "play")
        recv(client)
    monkeypatch.setattr(ForwardNode, "view", lambda self: {"role": "relay", "seen": {self.seen}})
    ticks(manager, clock)
    got = recv(c)
    assert got["error"] == [{"message": "internal server error; this run is paused", "code": "internal",
                             "key": "refused.internal_paused", "args": {}}]
    assert manager.sessions[ack["session"]].playing is False
    assert recv(other)["events"][0]["playback"]["playing"] is True
    monkeypatch.undo()
    assert ctl(c, ack, "restart")["ok"]


def test_a_session_stops_when_its_trace_is_too_big(clock):
    manager, new_client = _limited_app(clock, max_trace_events=300)
    c = new_client()
    ack, _ = create(c, scenario={**SMALL, "params": {"tokens": 20}})
    ctl(c, ack, "play")
    recv(c)
    for _ in range(40):
        ticks(manager, clock)
    got = recv(c)
    assert [(e["code"], e["key"]) for e in got["error"]] == [("limit", "refused.too_long")]
    assert got["playback"][-1]["playing"] is False
    refused(c, ctl(c, ack, "play"), "limit")
    refused(c, act(c, ack, do="crash", node="n1"), "limit")
    assert ctl(c, ack, "restart")["ok"] and ctl(c, ack, "play")["ok"]


# ---------------------------------------------------------------- refusals

GARBAGE = [None, 42, "create", [], [1, 2], True, {"session": 5}, {"session": ""},
           {"session": "x" * 10_000}, {"wat": 1}, {"session": {"$ne": 1}}, {"session": ["a"]},
           {"session": "ok", "control": 7}, {"a": {"b": {"c": {"d": [[[[{}]]]]}}}}]


@pytest.mark.parametrize("event", ["create", "join", "leave", "control", "action", "configure"])
@pytest.mark.parametrize("payload", GARBAGE, ids=repr)
def test_garbage_payloads_are_refused(connect, event, payload):
    c = connect()
    r = c.emit(event, callback=True) if payload is None else c.emit(event, payload, callback=True)
    assert r["ok"] is False
    refused(c, r, r["code"])
    assert r["code"] in ("bad_request", "unknown_session")
    assert "Traceback" not in r["error"] and len(r["error"]) <= 300


def test_several_arguments_and_unknown_events_are_refused(connect):
    c = connect()
    refused(c, c.emit("create", {"protocol": "forward"}, 2, callback=True), "bad_request")
    refused(c, c.emit("explode", {"x": 1}, callback=True), "bad_request")


@pytest.mark.parametrize("payload, message", [
    ({"protocol": "nope"}, "unknown protocol"),
    ({"protocol": "forward", "preset": "nope"}, "unknown preset"),
    ({"protocol": "forward", "preset": 7}, "preset"),
    ({"token": "!!!not-a-token"}, "share token"),
    ({"token": "A" * 20_000}, "too long"),
    ({"token": ""}, "token"),
    ({"scenario": SMALL, "token": "x"}, "exactly one"),
    ({}, "exactly one"),
    ({"scenario": "raft"}, "object"),
    ({"scenario": {**SMALL, "nodes": 50}}, "nodes"),
    ({"scenario": {**SMALL, "until": -1}}, "until"),
    ({"scenario": SMALL, "t": 2001}, "out of range"),
    ({"scenario": SMALL, "t": -1}, "out of range"),
    ({"scenario": SMALL, "t": "soon"}, "number"),
    ({"scenario": SMALL, "t": [1]}, "number"),
    ({"scenario": {**SMALL, "actions": [{"at": 5, "do": "crash", "node": "n9"}]}}, "unknown node"),
    ({"scenario": {**SMALL, "protocol": "x" * 5000}}, "unknown protocol"),
])
def test_bad_create_requests(connect, payload, message):
    c = connect()
    r = c.emit("create", payload, callback=True)
    refused(c, r, "bad_request")
    assert message in r["error"]


def test_unknown_session(connect):
    c = connect()
    for event, payload in [("join", {"control": "x"}), ("leave", {}), ("control", {"cmd": "play", "control": "x"}),
                           ("action", {"action": {"do": "heal"}}), ("configure", {"scenario": {}})]:
        refused(c, c.emit(event, {"session": "nope", **payload}, callback=True), "unknown_session")


def test_viewers_cannot_control(connect, manager, clock):
    owner, viewer = connect(), connect()
    ack, _ = create(owner)
    viewer.emit("join", {"session": ack["session"]})
    recv(viewer)
    for control in (None, "wrong", ack["control"][:-1] + "?"):
        base = {"session": ack["session"]} | ({} if control is None else {"control": control})
        for event, payload in [("control", {"cmd": "play"}), ("control", {"cmd": "seek", "value": 5}),
                               ("action", {"action": {"do": "crash", "node": "n1"}}),
                               ("configure", {"scenario": {"seed": 2}})]:
            refused(viewer, viewer.emit(event, {**base, **payload}, callback=True), "forbidden")
    s = manager.sessions[ack["session"]]
    assert not s.playing and s.sim.actions == [] and s.base.seed == SMALL["seed"]
    assert ctl(owner, ack, "play")["ok"]
    ticks(manager, clock)
    assert recv(viewer)["events"]


@pytest.mark.parametrize("cmd, value", [
    ("speed", 0), ("speed", 10.5), ("speed", -1), ("speed", "fast"), ("speed", True), ("speed", None),
    ("speed", {"v": 1}), ("seek", -1), ("seek", 2001), ("seek", "x"), ("seek", None), ("seek", [1]),
    ("rewind", 1), (None, None), (5, None),
])
def test_bad_control_values(connect, manager, clock, cmd, value):
    c = connect()
    ack, _ = create(c)
    data = {"session": ack["session"], "control": ack["control"], "cmd": cmd}
    if value is not None:
        data["value"] = value
    refused(c, c.emit("control", data, callback=True), "bad_request")
    assert ctl(c, ack, "play")["ok"]
    ticks(manager, clock)
    assert recv(c)["events"]


# ---------------------------------------------------------------- limits

def _limited_app(clock, **limits):
    app = create_app({"PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                      "PLAYGROUND_LIMITS": limits})
    app.extensions["playground"].manager.clock = clock
    sio = app.extensions["playground"].socketio
    return app.extensions["playground"].manager, lambda: sio.test_client(app)


def test_session_limits(clock):
    _manager, new_client = _limited_app(clock, max_sessions=2, max_participants=2, max_sessions_per_client=2)
    a, b, c = new_client(), new_client(), new_client()
    ack, _ = create(a)
    create(b)
    refused(c, c.emit("create", {"protocol": "forward"}, callback=True), "limit")
    assert b.emit("join", {"session": ack["session"]}, callback=True)["ok"]
    refused(c, c.emit("join", {"session": ack["session"]}, callback=True), "limit")
    b.emit("leave", {"session": ack["session"]})
    assert c.emit("join", {"session": ack["session"]}, callback=True)["ok"]
    assert a.emit("join", {"session": ack["session"]}, callback=True)["ok"]   # rejoining is not a new seat


def test_sessions_per_connection_limit(clock):
    manager, new_client = _limited_app(clock, max_sessions_per_client=1)
    a = new_client()
    create(a)
    refused(a, a.emit("create", {"protocol": "forward"}, callback=True), "limit")
    assert len(manager.sessions) == 1


def test_idle_sessions_expire_only_when_empty(connect, manager, clock):
    owner, other = connect(), connect()
    ack, _ = create(owner)
    ack2, _ = create(other)
    owner.disconnect()
    idle = manager.limits.idle_expiry_s
    assert manager.expire(clock.now + idle - 1) == []
    assert manager.expire(clock.now + idle + 1) == [ack["session"]]
    refused(other, other.emit("join", {"session": ack["session"]}, callback=True), "unknown_session")
    assert ack2["session"] in manager.sessions


def test_the_ticker_sweeps_idle_sessions(connect, manager, clock):
    c = connect()
    ack, _ = create(c)
    c.disconnect()
    manager.tick()
    clock.advance(manager.limits.idle_expiry_s + manager.limits.expire_every_s + 1)
    manager.tick()
    assert ack["session"] not in manager.sessions


# ---------------------------------------------------------------- 2PC and Raft
# Written concurrently with this file. These tests must run: a missing protocol
# fails them loudly instead of skipping.

def require(name):
    if name not in registry.names(include_hidden=True):
        pytest.fail(f"protocol {name!r} is not registered: engine/protocols/ must provide it")
    return registry.get(name)


@pytest.mark.parametrize("name", ["2pc", "raft"])
def test_every_preset_of_the_real_protocols_plays(connect, manager, clock, name):
    proto = require(name)
    for preset in [None] + [p.name for p in proto.presets]:
        c = connect()
        payload = {"protocol": name} if preset is None else {"protocol": name, "preset": preset}
        ack, snap = create(c, **payload)
        assert snap["protocol"]["name"] == name and snap["scenario"].get("preset") == preset
        ctl(c, ack, "speed", 10)
        ctl(c, ack, "play")
        ticks(manager, clock, 4)
        batches = recv(c)["events"]
        assert_contiguous(snap["events"] + [e for b in batches for e in b["events"]])
        c.disconnect()


@pytest.mark.parametrize("name", ["2pc", "raft"])
def test_request_and_timeout_actions_on_the_real_protocols(connect, manager, name):
    proto = require(name)
    c = connect()
    ack, _snap = create(c, protocol=name, t=5)
    s = manager.sessions[ack["session"]]
    op = proto.operations[0]
    target = next(n for n in s.sim.ids if not op.roles or s.sim.node_view(n).get("role") in op.roles)
    request = {"do": "request", "node": target, "op": op.name}
    if op.arg is not None:
        request["arg"] = op.arg
    r = act(c, ack, **request)
    assert r["ok"], r
    assert "request" in [e["type"] for e in recv(c)["events"][0]["events"]]

    armed = []
    while not armed and s.t < s.sim.until:
        ctl(c, ack, "step")
        armed = [(n, t) for n in s.sim.ids for t in proto.timers if t in s.sim.timers[n]]
    assert armed, f"no {name} timer was ever armed"
    recv(c)
    node, timer = armed[0]
    r = act(c, ack, do="timeout", node=node, timer=timer)
    assert r["ok"], r
    assert {"type": "timer", "node": node, "name": timer} in [
        {k: e.get(k) for k in ("type", "node", "name")} for e in recv(c)["events"][0]["events"]]
    refused(c, act(c, ack, do="timeout", node=node, timer="no-such-timer"), "bad_request")


def test_a_token_the_server_cannot_stream_is_refused_and_leaks_no_session(connect, manager):
    from engine.scenario import encode_token
    c = connect()
    token = encode_token({"protocol": "raft", "actions": [
        {"at": 5, "do": "request", "node": "n1", "op": "put", "arg": "x=\ud800"}]})
    before = len(manager.sessions)
    refused(c, c.emit("create", {"token": token}, callback=True), "bad_request")
    assert len(manager.sessions) == before
    create(c)   # the connection and the server go on


def test_a_session_whose_run_breaks_mid_tick_does_not_stop_the_others(connect, manager, clock, monkeypatch):
    c1, c2 = connect(), connect()
    a1, _ = create(c1)
    a2, _ = create(c2)
    ctl(c1, a1, "play")
    ctl(c2, a2, "play")
    recv(c1), recv(c2)
    broken = manager.sessions[a1["session"]]
    monkeypatch.setattr(broken, "advance", lambda *a, **k: (_ for _ in ()).throw(KeyError("boom")))
    ticks(manager, clock, 3)
    assert any(e["code"] == "engine" for e in recv(c1).get("error", []))
    assert recv(c2).get("events")          # the other session kept streaming


def test_a_snapshot_that_cannot_be_sent_leaves_no_orphan_session(connect, manager, monkeypatch):
    c = connect()
    real = manager.io.emit

    def failing(event, data, **kw):
        if event == "snapshot":
            raise TypeError("cannot encode")
        return real(event, data, **kw)

    monkeypatch.setattr(manager.io, "emit", failing)
    before = len(manager.sessions)
    refused(c, c.emit("create", {"scenario": SMALL}, callback=True), "internal")
    assert len(manager.sessions) == before and not manager.client_sessions
    monkeypatch.setattr(manager.io, "emit", real)
    create(c)


def test_step_on_an_idle_run_is_refused_instead_of_ending_it(connect, manager):
    c = connect()
    ack, _ = create(c, scenario={"protocol": "2pc"})   # booted at t=0; nothing happens until a request
    reply = ctl(c, ack, "step")
    refused(c, reply, "bad_request")
    assert reply["key"] == "refused.idle"
    assert not manager.sessions[ack["session"]].sim.done
    assert act(c, ack, do="request", node="c", op="begin", arg="x")["ok"]
    # Once the transaction is over, stepping says the run went quiet, not that nothing ever began.
    for _ in range(200):
        reply = ctl(c, ack, "step")
        if not reply["ok"]:
            break
    refused(c, reply, "bad_request")
    assert reply["key"] == "refused.quiet"
    assert manager.sessions[ack["session"]].sim.nodes["c"].view()["phase"]["tx1"] == "COMMITTED"


def test_a_lesson_with_too_few_nodes_gets_an_explanation(connect):
    c = connect()
    ack, _ = create(c, protocol="raft", preset="partitioned_leader")
    reply = c.emit("configure", {"session": ack["session"], "control": ack["control"],
                                 "scenario": {"preset": "partitioned_leader", "nodes": 3}}, callback=True)
    assert reply["ok"] is False and "free play" in reply["error"]


def test_snapshots_and_batches_say_which_timers_are_armed(connect, manager, clock):
    c = connect()
    ack, snap = create(c, scenario={"protocol": "raft", "until": 3000})
    assert snap["timers"] == {n: ["election"] for n in snap["nodes"]}
    ctl(c, ack, "play")
    ctl(c, ack, "speed", 10)
    recv(c)
    ticks(manager, clock, 20)
    batch = recv(c)["events"][-1]
    last = batch["timers"]
    assert any("heartbeat" in names for names in last.values())   # a leader was elected
    # When each armed timer was set and is due (the canvas's timer rings), for the same timers.
    assert {n: sorted(d) for n, d in batch["deadlines"].items()} == last
    t = batch["playback"]["t"]
    assert all(s <= t < due for d in batch["deadlines"].values() for s, due in d.values())
    assert all(d["election"][0] == 0 and d["election"][1] >= 150 for d in snap["deadlines"].values())


# ---------------------------------------------------------------- what one client may cost the others

HEAVY = {"protocol": "forward", "nodes": 9, "params": {"tokens": 200}, "network": {"latency": [1, 1]},
         "until": 600_000}


def test_opening_a_link_at_the_end_of_a_huge_run_stops_at_the_event_limit(clock):
    _manager, new_client = _limited_app(clock, max_trace_events=5_000)
    c = new_client()
    ack = c.emit("create", {"scenario": HEAVY, "t": 600_000}, callback=True)
    got = recv(c)
    snap = got["snapshot"][0]
    assert 5_000 <= len(snap["events"]) < 5_000 + 50          # one heap entry past the limit at most
    assert snap["playback"]["t"] == snap["events"][-1]["t"] < 600_000
    assert [e["key"] for e in got["error"]] == ["refused.too_long"]
    refused(c, ctl(c, ack, "play"), "limit")                 # and it will not play on
    ctl(c, ack, "seek", 3)                                    # seeking back works
    seek = recv(c)["seek"][0]
    assert seek["playback"]["t"] == 3 and after_seek(snap["events"], seek) == [e for e in snap["events"]
                                                                                 if e["t"] <= 3]


def test_seeking_forward_into_a_huge_run_stops_at_the_event_limit(clock):
    _manager, new_client = _limited_app(clock, max_trace_events=5_000)
    c = new_client()
    ack, _ = create(c, scenario=HEAVY)
    ctl(c, ack, "seek", 600_000)
    got = recv(c)
    seek = got["seek"][0]                # forward: the new events, after the ones held
    assert 5_000 <= seek["seq"] + len(seek["events"]) < 5_050 and seek["playback"]["t"] < 600_000
    assert [e["key"] for e in got["error"]] == ["refused.too_long"]
    assert_contiguous(seek["events"], seek["seq"])


def test_joining_again_sends_no_second_history(connect):
    owner, viewer = connect(), connect()
    ack, _ = create(owner)
    for _ in range(5):
        assert viewer.emit("join", {"session": ack["session"]}, callback=True)["role"] == "viewer"
    assert len(recv(viewer).get("snapshot", [])) == 1


def test_a_client_cannot_fake_its_own_disconnect(connect, manager):
    owner, viewer = connect(), connect()
    ack, _ = create(owner)
    viewer.emit("join", {"session": ack["session"]})
    recv(viewer)
    refused(viewer, viewer.emit("disconnect", callback=True), "bad_request")
    assert len(manager.sessions[ack["session"]].participants) == 2


def test_create_and_leave_in_a_loop_cannot_fill_the_server(clock):
    """At its limit a connection's oldest empty session makes room: forking on and on works,
    and never holds more than the limit."""
    manager, new_client = _limited_app(clock, max_sessions_per_client=3)
    c = new_client()
    made = []
    for _ in range(6):
        ack, _ = create(c)
        made.append(ack["session"])
        clock.advance(1)
        c.emit("leave", {"session": ack["session"]})
    assert sorted(manager.sessions) == sorted(made[-3:])
    # Three sessions it is still in: no room to make.
    others = [new_client() for _ in range(3)]
    for o, sid in zip(others, made[-3:]):
        o.emit("join", {"session": sid})
    refused(c, c.emit("create", {"protocol": "forward"}, callback=True), "limit")


def test_sessions_per_address_recycle_the_oldest_empty_one(clock):
    manager, _ = _limited_app(clock, max_sessions_per_address=2)
    manager.io.connected = lambda sid: True
    manager.io.enter = manager.io.emit = lambda *a, **k: None
    first = manager.create("a", from_dict(SMALL), None, addr="10.0.0.7")["session"]
    clock.advance(1)
    second = manager.create("b", from_dict(SMALL), None, addr="10.0.0.7")["session"]
    manager.sessions[first].participants.clear()        # its creator left
    third = manager.create("c", from_dict(SMALL), None, addr="10.0.0.7")["session"]
    assert sorted(manager.sessions) == sorted([second, third])
    with pytest.raises(ApiError) as e:                  # both in use now
        manager.create("d", from_dict(SMALL), None, addr="10.0.0.7")
    assert e.value.key == "refused.per_address"
    manager.create("e", from_dict(SMALL), None, addr="10.0.0.8")   # another address is fine


def test_many_busy_sessions_share_one_event_budget(clock):
    manager, new_client = _limited_app(clock, max_events_per_tick=1_000, max_events_per_tick_total=1_200,
                                       min_events_per_tick=100)
    clients = [new_client() for _ in range(6)]
    for c in clients:
        ack, _ = create(c, scenario={**SMALL, "params": {"tokens": 200}, "until": 100_000})
        ctl(c, ack, "speed", 10)
        ctl(c, ack, "play")
        recv(c)
    ticks(manager, clock)
    for c in clients:
        assert len(recv(c)["events"][0]["events"]) <= 200 + 20      # 1200 / 6 each, not 1000


def test_a_participant_whose_connection_is_gone_is_not_kept(connect, manager, clock):
    owner = connect()
    ack, _ = create(owner)
    s = manager.sessions[ack["session"]]
    real = manager.io.connected
    manager.io.connected = lambda sid: False            # the client vanished while joining
    with pytest.raises(ApiError):
        manager.join("ghost", ack["session"], None)
    assert "ghost" not in s.participants and "ghost" not in manager.client_sessions
    s.participants["ghost2"] = "viewer"                 # one that slipped in anyway ...
    manager.io.connected = lambda sid: sid != "ghost2"
    manager.expire()                                    # ... is swept out, so the session can expire
    assert "ghost2" not in s.participants
    manager.io.connected = real


def test_malformed_packets_become_a_clear_refusal():
    from socketio import packet as sp
    for raw, reason in (('2["create",{"t":NaN}]', None), ('2{"a":1}', "JSON array"), ("2[]", "JSON array"),
                        ('2[1,2]', "JSON array"), ("2" + "[" * 3000 + "]" * 3000, "not valid JSON"),
                        ('2["x",', "not valid JSON")):
        pkt = wire.JsonPacket(encoded_packet=raw)
        assert pkt.packet_type == sp.EVENT
        if reason is None:
            assert pkt.data[0] == "create" and math.isnan(pkt.data[1]["t"])   # then refused by validation
        else:
            assert pkt.data[0] == wire.BAD_PACKET and reason in pkt.data[1], raw


def test_the_catch_all_answers_a_bad_packet_with_a_refusal(connect):
    c = connect()
    refused(c, c.emit(wire.BAD_PACKET, "it is not valid JSON", callback=True), "bad_request")


def test_behind_a_proxy_its_forwarded_headers_are_read_before_socket_io_sees_the_request():
    from werkzeug.middleware.proxy_fix import ProxyFix
    app = create_app({"PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False, "PLAYGROUND_PROXY_HOPS": 1})
    assert isinstance(app.wsgi_app, ProxyFix) and app.wsgi_app.x_for == 1
    assert type(app.wsgi_app.app).__name__ == "_SocketIOMiddleware"    # outermost: websockets see it too
    plain = create_app({"PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False})
    assert not isinstance(plain.wsgi_app, ProxyFix)                    # off unless asked for



def test_limits_can_come_from_the_environment_as_json(monkeypatch):
    monkeypatch.setenv("PLAYGROUND_LIMITS", '{"max_sessions": 7}')
    app = create_app({"PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False})
    assert app.extensions["playground"].limits.max_sessions == 7
    monkeypatch.setenv("PLAYGROUND_LIMITS", "[1]")
    with pytest.raises(TypeError, match="must be a JSON object"):
        create_app({"PLAYGROUND_ASYNC_MODE": "threading"})


# ---------------------------------------------------------------- links made under another behaviour version

@pytest.fixture
def raft_at_2(monkeypatch):
    """Raft as if its behaviour had changed once since today's links were made."""
    raft = registry.get("raft")
    monkeypatch.setattr(raft, "behaviour", 2)
    monkeypatch.setitem(raft.strings, "behaviour.2", {"en": "Votes are written to disk before they are sent.",
                                                      "zh": "投票先写入磁盘再发出。"})
    return raft


OLD_RAFT = {"protocol": "raft", "preset": "leader_crash", "actions": [{"at": 900, "do": "crash", "node": "n2"}]}


def test_a_link_made_with_an_earlier_version_opens_and_says_what_changed(connect, manager, raft_at_2):
    from engine.scenario import encode_token
    c = connect()
    old = encode_token(OLD_RAFT)              # no "v": made when raft was at version 1
    ack, snap = create(c, token=old)
    assert snap["behaviour"] == {"made": 1, "now": 2, "changes": ["behaviour.2"]}
    assert snap["protocol"]["behaviour"] == 2
    assert raft_at_2.strings["behaviour.2"]["zh"] == snap["protocol"]["strings"]["behaviour.2"]["zh"]
    # The run opens: the same run the scenario gives today, and it plays.
    assert [e["seq"] for e in snap["events"]] == list(range(len(snap["events"])))
    assert snap["events"] == json.loads(json.dumps(reference_trace(OLD_RAFT, 0)))
    assert ctl(c, ack, "play")["ok"]
    # The session's own link describes the run on screen, made with today's rules.
    assert from_token(snap["token"]).behaviour == 2
    # Whoever joins the same run is told too, even after a seek back (a seek keeps the run).
    assert ctl(c, ack, "seek", 0)["ok"]
    viewer = connect()
    assert viewer.emit("join", {"session": ack["session"]}, callback=True)["ok"]
    assert recv(viewer)["snapshot"][0]["behaviour"]["made"] == 1
    # A new scenario in the same session is made now: nothing more to say.
    assert c.emit("configure", {"session": ack["session"], "control": ack["control"],
                                "scenario": {"preset": "leader_crash"}}, callback=True)["ok"]
    assert recv(c)["snapshot"][-1]["behaviour"] is None


def test_a_link_from_a_newer_server_opens_and_says_so(connect):
    from engine.scenario import encode_token
    c = connect()
    _, snap = create(c, token=encode_token({**OLD_RAFT, "v": 5}))
    assert snap["behaviour"] == {"made": 5, "now": registry.get("raft").behaviour, "changes": []}
    assert snap["events"]


def test_a_link_of_the_current_version_reports_no_difference(connect, raft_at_2):
    c = connect()
    _, fresh = create(c, protocol="raft", preset="leader_crash")
    assert fresh["behaviour"] is None
    _, again = create(c, token=fresh["token"])           # a link made today, opened today
    assert again["behaviour"] is None
    assert from_token(fresh["token"]).behaviour == 2


def test_a_link_with_a_bad_version_is_refused_clearly_and_harms_nothing(connect, manager):
    from engine.scenario import encode_token
    c = connect()
    before = len(manager.sessions)
    for v in ("2", 0, 10**9, 1.5):
        reply = c.emit("create", {"token": encode_token({**OLD_RAFT, "v": v})}, callback=True)
        refused(c, reply, "bad_request")
        assert "version of raft's behaviour" in reply["error"]
    assert len(manager.sessions) == before
    _, snap = create(c, token=encode_token(OLD_RAFT))    # the connection and the server go on
    assert snap["behaviour"] is None
