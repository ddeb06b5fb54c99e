"""Seeking in a long run (docs/socket-api.md, `seek`): the server resumes from its
engine checkpoints instead of replaying from t=0, and the room gets a small
`seek` message (keep your first `seq` events, then add these) instead of the
whole history again. Whatever path a session took to a moment, it ends with the
trace and the state a fresh session opened at that moment has.
"""

import itertools

import orjson
import pytest

from engine import Simulation, from_token
from playground import create_app, wire
from playground.session import Checkpoints, Session

from .test_socket_api import act, after_seek, create, ctl, recv, ticks

# Raft with lossy links: ~3,500 events in 10 s of virtual time, and faults the checkpoints must carry.
LONG = {"protocol": "raft", "nodes": 5, "seed": 7, "until": 60_000,
        "network": {"loss": 0.05, "duplicate": 0.02}}


def limited(clock, **limits):
    app = create_app({"PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                      "PLAYGROUND_LIMITS": limits})
    manager = app.extensions["playground"].manager
    manager.clock = clock
    sio = app.extensions["playground"].socketio
    return manager, lambda: sio.test_client(app)


def log_events(s: Session) -> bytes:
    """The session's whole trace as JSON bytes: what a snapshot would send."""
    s._archive()
    return bytes(wire.encode(s.log.fragment()))


def fresh(manager, new_client, token: str, t: int) -> Session:
    c = new_client()
    ack, _ = create(c, token=token, t=t)
    return manager.sessions[ack["session"]]


def assert_same_run(a: Session, b: Session):
    """Same trace so far, same time, same engine state: and so the same future."""
    assert log_events(a) == log_events(b)
    assert (a.t, a.sim.now, a.sim.seq, a.sim.handled, a.sim.min_action_at) == \
        (b.t, b.sim.now, b.sim.seq, b.sim.handled, b.sim.min_action_at)
    assert a.sim.summary() == b.sim.summary()
    fa, fb = Simulation(a.current_scenario()), Simulation(b.current_scenario())
    assert fa.scenario.actions == fb.scenario.actions
    # The future from here, run on both live simulations, is identical too.
    a.sim.run_until(a.sim.now + 3_000)
    b.sim.run_until(b.sim.now + 3_000)
    assert orjson.dumps(a.sim.trace) == orjson.dumps(b.sim.trace)


def test_seeking_back_and_forth_ends_where_a_fresh_session_at_that_time_is(clock):
    manager, new_client = limited(clock, checkpoint_every=500)
    owner, watcher = new_client(), new_client()
    ack, snap = create(owner, scenario=LONG)
    assert watcher.emit("join", {"session": ack["session"]}, callback=True)["ok"]
    held_owner, held_watcher = snap["events"], recv(watcher)["snapshot"][0]["events"]
    s = manager.sessions[ack["session"]]
    ctl(owner, ack, "seek", 20_000)
    for payload in recv(owner)["seek"]:
        held_owner = after_seek(held_owner, payload)
    act(owner, ack, do="crash", node="n3")        # a live action the checkpoints after it must carry
    recv(owner)
    s._archive()
    held_owner = orjson.loads(bytes(wire.encode(s.log.fragment())))
    held_watcher = held_owner
    recv(watcher)
    assert len(s.checkpoints.items) > 5

    for t in (30_000, 12_345, 19_999, 20_001, 2, 25_000, 0, 29_000, 7_777):
        assert ctl(owner, ack, "seek", t)["ok"]
        mine, theirs = recv(owner), recv(watcher)
        assert "snapshot" not in theirs and len(theirs["seek"]) == 1      # a seek, not the history
        assert mine["seek"] == theirs["seek"]
        held_owner = after_seek(held_owner, mine["seek"][0])
        held_watcher = after_seek(held_watcher, theirs["seek"][0])
        assert held_watcher == held_owner
        ref = fresh(manager, new_client, s.token(), t)
        assert orjson.dumps(held_watcher) == log_events(ref) == log_events(s), t
    assert_same_run(s, fresh(manager, new_client, s.token(), 7_777))


def test_a_seek_back_sends_a_few_hundred_bytes_where_a_snapshot_sent_the_history(connect, manager):
    owner, watcher = connect(), connect()
    ack, _ = create(owner, scenario=LONG, t=40_000)
    watcher.emit("join", {"session": ack["session"]})
    snapshot = recv(watcher)["snapshot"][0]
    ctl(owner, ack, "seek", 20_000)
    seek = recv(watcher)["seek"][0]
    assert seek["events"] == [] and seek["seq"] == sum(e["t"] <= 20_000 for e in snapshot["events"])
    assert len(wire.encode(seek)) < 1_000 and len(wire.encode(snapshot)) > 100_000


def test_a_fork_after_a_seek_back_equals_a_fresh_run_of_the_forked_scenario(clock, monkeypatch):
    manager, new_client = limited(clock, checkpoint_every=300)
    c = new_client()
    ack, _ = create(c, scenario=LONG)
    s = manager.sessions[ack["session"]]
    ctl(c, ack, "seek", 8_000)
    act(c, ack, do="crash", node="n1")
    ctl(c, ack, "seek", 16_000)
    act(c, ack, do="restart", node="n1")
    ctl(c, ack, "seek", 24_000)
    ctl(c, ack, "seek", 12_000)                       # back, past the restart
    recv(c)
    resumed_from = []
    real = Checkpoints.resume
    monkeypatch.setattr(Checkpoints, "resume", lambda self, cp, *a: resumed_from.append(cp.seq) or real(self, cp, *a))
    r = act(c, ack, do="partition", groups=[["n1", "n2"], ["n3", "n4", "n5"]])
    assert r["ok"] and r["forked"] and [a["do"] for a in r["cut"]] == ["restart"]
    assert resumed_from and resumed_from[0] > 0       # from a checkpoint, not from t=0
    forked = from_token(s.token())
    assert [a["do"] for a in forked.actions] == ["crash", "partition"]
    ctl(c, ack, "seek", 20_000)
    assert_same_run(s, fresh(manager, new_client, s.token(), 20_000))


def test_a_seek_forward_into_what_a_seek_back_left_resumes_near_its_target(clock, monkeypatch):
    """Back from 60 s to 5 s, then forward to 55 s: the run is the same, so the server
    resumes from its checkpoint nearest 55 s and takes the events before it from what the
    seek back cut, instead of running 50 s again; the result is the fresh session's."""
    manager, new_client = limited(clock, checkpoint_every=500)
    owner, watcher = new_client(), new_client()
    ack, _ = create(owner, scenario=LONG, t=60_000)
    s = manager.sessions[ack["session"]]
    watcher.emit("join", {"session": ack["session"]})
    held = recv(watcher)["snapshot"][0]["events"]
    ctl(owner, ack, "seek", 5_000)
    held = after_seek(held, recv(watcher)["seek"][0])
    assert s.ahead is not None and s.ahead.log.count > 10_000
    entries = []
    real = Simulation.step_entry
    monkeypatch.setattr(Simulation, "step_entry", lambda sim: entries.append(1) or real(sim))
    ctl(owner, ack, "seek", 55_000)
    held = after_seek(held, recv(watcher)["seek"][0])
    monkeypatch.undo()
    ref = fresh(manager, new_client, s.token(), 55_000)
    assert len(entries) < ref.sim.handled / 10           # a few checkpoints' worth, not 50 s of run
    assert orjson.dumps(held) == log_events(ref) == log_events(s)
    assert_same_run(s, ref)


def test_an_action_forgets_what_lay_ahead(clock):
    manager, new_client = limited(clock, checkpoint_every=500)
    c = new_client()
    ack, _ = create(c, scenario=LONG, t=40_000)
    s = manager.sessions[ack["session"]]
    ctl(c, ack, "seek", 10_000)
    assert s.ahead is not None
    act(c, ack, do="crash", node="n2")
    assert s.ahead is None
    ctl(c, ack, "seek", 30_000)
    assert_same_run(s, fresh(manager, new_client, s.token(), 30_000))


def test_checkpoints_stay_within_their_bound_on_a_long_run(clock):
    manager, new_client = limited(clock, checkpoint_every=100, max_checkpoints=6)
    c = new_client()
    ack, _ = create(c, scenario=LONG, t=60_000)
    s = manager.sessions[ack["session"]]
    assert s.sim.seq > 20 * 100                       # far more events than 6 checkpoints' worth
    cps = s.checkpoints
    assert 3 <= len(cps.items) <= 6
    assert cps.bytes == sum(cp.size for cp, _ in cps.items) == s.memory()["checkpoint_bytes"]
    assert cps.bytes <= 6 * max(cp.size for cp, _ in cps.items)
    assert cps.items[0][0].seq == 0                   # the first one always stays
    seqs = [cp.seq for cp, _ in cps.items]
    assert seqs == sorted(seqs) and s.sim.seq - seqs[-1] <= cps.every
    ctl(c, ack, "seek", 31_000)                       # still right after the thinning
    assert_same_run(s, fresh(manager, new_client, s.token(), 31_000))


def test_a_lagging_watcher_gets_no_seek_but_one_snapshot_when_it_catches_up(connect, manager, clock, app):
    owner, student = connect(), connect()
    ack, _ = create(owner, scenario=LONG, t=10_000)
    student.emit("join", {"session": ack["session"]})
    recv(student)
    sid = next(sid for sid, role in manager.sessions[ack["session"]].participants.items() if role == "viewer")
    backlog = {sid: 500}
    manager.io.backlog = lambda s: backlog.get(s, 0)
    ctl(owner, ack, "play")
    ticks(manager, clock)                             # the student is found to lag
    ctl(owner, ack, "seek", 3_000)
    got = recv(student)
    assert "seek" not in got and "events" not in got
    backlog[sid] = 0
    ctl(owner, ack, "play")
    ticks(manager, clock)
    snap = recv(student)["snapshot"][0]
    assert [e["t"] <= snap["playback"]["t"] for e in snap["events"]] == [True] * len(snap["events"])


@pytest.mark.parametrize("cut", [0, 1, 7, 499, 500, 501, 1234, 2999, 3000])
def test_the_trace_log_cuts_and_tails_at_any_event(cut):
    log = wire.TraceLog()
    log.PIECE = 2_000                                  # many pieces, cuts inside and between them
    events = [{"seq": i, "t": i // 3, "type": "note", "text": "x" * (i % 17)} for i in range(3000)]
    bounds = [0, *range(250, 2000, 250), *range(2000, 3000, 10), 3000]   # big pieces, then small batches merged
    for a, b in itertools.pairwise(bounds):
        log.add(wire.encode(events[a:b]), b - a)
    assert orjson.loads(wire.encode(log.tail(cut))) == events[cut:]
    log.truncate(cut)
    assert log.count == cut and orjson.loads(wire.encode(log.fragment())) == events[:cut]
    log.add(wire.encode(events[cut:]), 3000 - cut)
    assert orjson.loads(wire.encode(log.fragment())) == events
    rest = log.split_off(cut)                          # a seek back keeps what it cut (session.Ahead)
    assert log.count == cut and orjson.loads(wire.encode(log.fragment())) == events[:cut]
    assert rest.count == 3000 - cut and orjson.loads(wire.encode(rest.fragment())) == events[cut:]
    log.extend(rest)
    assert orjson.loads(wire.encode(log.fragment())) == events
