""""Find a bug" over the socket (`hunt`, `hunt_cancel`; docs/socket-api.md), through
Flask-SocketIO's test client in threading mode: the searches are real child processes
(`python -m engine check`), or RQ jobs for a real worker when PLAYGROUND_REDIS is set."""

import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from engine import from_token, fuzz
from playground import create_app

from .redis_server import redis_url  # noqa: F401 -- a fixture
from .test_socket_api import assert_translatable, create, recv

ROOT = Path(__file__).resolve().parent.parent
RQ = str(Path(sys.executable).with_name("rq"))
BUGGY = {"protocol": "2pc", "bugs": ["heuristic_abort"]}     # found within a few dozen runs
CORRECT = {"protocol": "2pc"}


def hunt_events(c, until_states=("done", "error", "cancelled"), timeout=60.0) -> list[dict]:
    """The `hunt` events this client receives, up to the first in one of `until_states`."""
    seen = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for p in recv(c).get("hunt", []):
            seen.append(p)
            if p["state"] in until_states:
                return seen
        time.sleep(0.05)
    raise AssertionError(f"no hunt event in {until_states} within {timeout} s: {seen}")


def first_failure(c, ack) -> int:
    """The first failing run of check with this session's setup pinned, found in this process."""
    from engine import hunt
    hunts = c.app.extensions["playground"].manager.hunts
    owner = next(iter(hunts.manager.get(ack["session"]).participants))
    _, spec = hunts.setup(ack["session"], owner)
    return hunt.run_chunk(spec, 1, 60)["failed"]


def session(connect, scenario):
    c = connect()
    ack, _ = create(c, scenario=scenario)
    return c, ack


def test_a_hunt_on_a_bug_toggle_finds_it_and_its_token_replays_the_violation(connect):
    c, ack = session(connect, BUGGY)
    reply = c.emit("hunt", {"session": ack["session"], "runs": 60}, callback=True)
    assert reply["ok"] and reply["runs"] == 60, reply
    events = hunt_events(c)
    assert events[0]["state"] in ("queued", "running") and events[0]["id"] == reply["id"]
    last = events[-1]
    assert last["state"] == "done", last
    found = last["found"]
    assert found["invariant"] == "atomicity" and isinstance(found["t"], int) and found["message"]
    assert last["done"] == first_failure(c, ack) and last["runs"] == 60     # check's own count
    scenario = from_token(found["token"])
    assert scenario.protocol == "2pc" and scenario.bugs == ["heuristic_abort"]
    assert "atomicity" in [v["invariant"] for v in fuzz.violations_of(scenario)]
    # The session itself is untouched; the client may open the finding with `create`.
    opened = c.emit("create", {"token": found["token"], "t": found["t"]}, callback=True)
    assert opened["ok"], opened
    snap = recv(c)["snapshot"][0]
    assert "atomicity" in [e["invariant"] for e in snap["events"] if e["type"] == "violation"]


def test_a_watcher_hunts_on_its_own_and_only_it_hears(connect):
    owner, ack = session(connect, CORRECT)
    watcher = connect()
    assert watcher.emit("join", {"session": ack["session"]}, callback=True)["ok"]
    recv(watcher)
    reply = watcher.emit("hunt", {"session": ack["session"], "runs": 5}, callback=True)
    assert reply["ok"], reply
    events = hunt_events(watcher)
    assert events[-1]["state"] == "done" and "found" not in events[-1] and events[-1]["done"] == 5
    assert "hunt" not in recv(owner)


def test_a_correct_protocol_reports_no_violation(connect):
    c, ack = session(connect, CORRECT)
    reply = c.emit("hunt", {"session": ack["session"], "runs": 8}, callback=True)
    assert reply["ok"], reply
    events = hunt_events(c)
    assert [e["state"] for e in events][-1] == "done"
    assert events[-1]["done"] == 8 and "found" not in events[-1]


def _child(app, sid=None):
    hunts = app.extensions["playground"].manager.hunts
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        for h in list(hunts.running.values()):
            if h.proc is not None:
                return h
        time.sleep(0.02)
    raise AssertionError("no hunt child process started")


def test_cancel_kills_the_child(app, connect):
    c, ack = session(connect, {"protocol": "raft"})
    reply = c.emit("hunt", {"session": ack["session"], "runs": 2000}, callback=True)
    assert reply["ok"], reply
    h = _child(app)
    assert h.proc.poll() is None
    assert c.emit("hunt_cancel", {"id": reply["id"]}, callback=True)["ok"]
    events = hunt_events(c)
    assert events[-1]["state"] == "cancelled"
    assert h.proc.wait(timeout=10) is not None
    assert not app.extensions["playground"].manager.hunts.by_sid


def test_disconnecting_kills_the_child(app, connect):
    c, ack = session(connect, {"protocol": "raft"})
    assert c.emit("hunt", {"session": ack["session"], "runs": 2000}, callback=True)["ok"]
    h = _child(app)
    c.disconnect()
    assert h.proc.wait(timeout=10) is not None
    hunts = app.extensions["playground"].manager.hunts
    deadline = time.monotonic() + 10
    while hunts.running and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not hunts.running and not hunts.by_sid


def test_limits_queue_and_refuse_with_clear_errors(connect):
    app = create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                      "PLAYGROUND_LIMITS": {"max_hunts": 1, "max_hunts_per_address": 2}})
    socketio = app.extensions["playground"].socketio
    clients = [socketio.test_client(app) for _ in range(3)]
    try:
        acks = [create(c, scenario={"protocol": "raft"})[0] for c in clients]
        first = clients[0].emit("hunt", {"session": acks[0]["session"], "runs": 2000}, callback=True)
        assert first["ok"]
        # One per connection at a time.
        again = clients[0].emit("hunt", {"session": acks[0]["session"]}, callback=True)
        assert again["ok"] is False and again["key"] == "refused.hunt_running" and again["code"] == "limit"
        # The second waits its turn, told its place.
        second = clients[1].emit("hunt", {"session": acks[1]["session"], "runs": 3}, callback=True)
        assert second["ok"]
        waiting = [e for e in hunt_events(clients[1], ("queued",)) if e["state"] == "queued"]
        assert waiting[-1]["position"] == 1
        # A third from the same address is over its share.
        third = clients[2].emit("hunt", {"session": acks[2]["session"]}, callback=True)
        assert third["ok"] is False and third["key"] == "refused.hunt_address" and third["args"] == {"n": 2}
        errors = recv(clients[2])["error"]
        assert_translatable(errors[-1])
        # Cancelling the first lets the second run to its end.
        assert clients[0].emit("hunt_cancel", {"id": first["id"]}, callback=True)["ok"]
        assert hunt_events(clients[1])[-1]["state"] == "done"
    finally:
        for c in clients:
            if c.is_connected():
                c.disconnect()


@pytest.mark.parametrize("payload", [
    {}, {"session": 5}, {"session": "nope"}, {"session": "x", "runs": 0}, {"session": "x", "runs": 10**6},
    {"session": "x", "runs": "many"}, {"session": "x", "runs": True}, {"session": "x", "extra": 1}, [1],
])
def test_bad_hunt_payloads_are_refused(connect, payload):
    c = connect()
    reply = c.emit("hunt", payload, callback=True)
    assert reply["ok"] is False and reply["code"] in ("bad_request", "unknown_session"), reply
    assert not c.emit("hunt_cancel", {"id": "nothing"}, callback=True)["ok"]
    assert c.emit("hunt_cancel", {}, callback=True)["code"] == "bad_request"


def test_only_participants_may_hunt_a_session(connect):
    _, ack = session(connect, CORRECT)
    stranger = connect()
    reply = stranger.emit("hunt", {"session": ack["session"]}, callback=True)
    assert reply["ok"] is False and reply["code"] == "forbidden" and reply["key"] == "refused.hunt_not_in"


# ---------------------------------------------------------------- with PLAYGROUND_REDIS: RQ jobs

def test_with_redis_the_chunks_go_to_rq_workers(redis_url):  # noqa: F811
    from engine import hunt

    app = create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                      "PLAYGROUND_REDIS": redis_url, "PLAYGROUND_SOCKETIO_QUEUE": False})
    socketio = app.extensions["playground"].socketio
    c = socketio.test_client(app)
    stop = threading.Event()

    def work():   # real rq workers, each in its own process, leaving when the queue is empty
        while not stop.is_set():
            subprocess.run([RQ, "worker", "--url", redis_url, "--burst", "--quiet", hunt.QUEUE], check=False,
                           cwd=ROOT, capture_output=True, timeout=120)
            stop.wait(0.1)

    worker = threading.Thread(target=work, daemon=True)
    worker.start()
    try:
        ack, _ = create(c, scenario=BUGGY)
        reply = c.emit("hunt", {"session": ack["session"], "runs": 60}, callback=True)
        assert reply["ok"], reply
        last = hunt_events(c)[-1]
        assert last["state"] == "done", last
        assert last["found"]["invariant"] == "atomicity" and last["done"] == first_failure(c, ack)
        assert "atomicity" in [v["invariant"] for v in fuzz.violations_of(from_token(last["found"]["token"]))]
        assert app.extensions["playground"].manager.hunts.running == {}
    finally:
        stop.set()
        worker.join(10)
        c.disconnect()
