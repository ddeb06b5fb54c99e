"""Guided lessons over the socket API: playback stops (chapters, violations, message kinds,
node states) pause the whole room at the event that matched, and chapter_next / chapter_prev
move everyone between chapters; the trace is the one the run has without any of it."""

import pytest

from engine import from_token
from tests.test_socket_api import (
    _limited_app,
    after_seek,
    assert_contiguous,
    create,
    ctl,
    recv,
    reference_trace,
    refused,
    ticks,
)

FIGURE8_TIMES = [50, 440, 600, 940, 1020, 1161, 1341, 1441]


def streamed(snap: dict, got: dict) -> list:
    return snap["events"] + [e for b in got.get("events", []) for e in b["events"]]


def play_until_paused(c, ack, manager, clock, held: list, most: int = 400) -> dict:
    """Play, tick until the server pauses the run; return its last playback (held grows)."""
    assert ctl(c, ack, "play")["ok"]
    for _ in range(most):
        ticks(manager, clock, 1, 0.5)
        got = recv(c)
        batches = got.get("events", [])
        for b in batches:
            held.extend(b["events"])
        if batches and not batches[-1]["playback"]["playing"]:
            return batches[-1]["playback"]
    raise AssertionError("playback never paused")


def test_a_guided_preset_pauses_at_each_chapter_and_the_trace_is_unchanged(connect, manager, clock):
    owner, viewer = connect(), connect()
    ack, snap = create(owner, protocol="raft", preset="figure8")
    assert snap["lesson"]["chapters"][0]["title"]["en"] == "n1 leads term 1"
    assert snap["playback"]["chapter"] == {"index": -1, "found": 0, "total": 8}
    viewer.emit("join", {"session": ack["session"]})
    assert ctl(owner, ack, "speed", 0.5)["ok"]
    assert ctl(owner, ack, "stops", {"chapters": True})["ok"]
    recv(owner)
    recv(viewer)
    held = list(snap["events"])
    times = []
    for i, t in enumerate(FIGURE8_TIMES):
        pb = play_until_paused(owner, ack, manager, clock, held)
        stop = pb["stopped"]
        assert stop["reason"] == "chapter" and stop["chapter"] == i and stop["t"] == t == pb["t"]
        assert pb["chapter"]["index"] == i and pb["chapter"]["found"] == i + 1
        assert held[-1]["t"] == t and all(e["t"] <= t for e in held)   # nothing past the stop
        watched = recv(viewer)["events"][-1]["playback"]
        assert watched["stopped"] == stop and not watched["playing"]   # the class pauses too
        times.append(stop["t"])
    assert times == FIGURE8_TIMES
    # On to the end: the run streamed is byte for byte the run without the lesson.
    assert ctl(owner, ack, "stops", {"chapters": False})["ok"]
    ctl(owner, ack, "play")
    ticks(manager, clock, 20, 0.5)
    held += [e for b in recv(owner)["events"] for e in b["events"]]
    assert_contiguous(held)
    assert held == reference_trace({"protocol": "raft", "preset": "figure8"}, 2000)


def test_an_event_chapter_stops_right_after_its_event(connect, manager, clock):
    c = connect()
    ack, snap = create(c, protocol="raft", preset="figure8")
    ctl(c, ack, "stops", {"chapters": True})
    recv(c)
    held = list(snap["events"])
    pb = play_until_paused(c, ack, manager, clock, held)
    fired = [e for e in held if e["seq"] == pb["stopped"]["seq"]]
    assert fired and fired[0]["type"] == "note" and fired[0]["key"] == "raft.elected"
    # Same heap entry only: whatever follows in the batch came from the handler that noted it.
    assert all(e["t"] == 50 for e in held if e["seq"] > fired[0]["seq"])


def test_pause_on_violation(connect, manager, clock):
    c = connect()
    ack, snap = create(c, protocol="raft", preset="figure8_bug")
    assert ctl(c, ack, "stops", {"violation": True})["ok"]
    recv(c)
    held = list(snap["events"])
    pb = play_until_paused(c, ack, manager, clock, held)
    assert pb["stopped"]["reason"] == "violation" and pb["t"] == 1020
    hit = next(e for e in held if e["seq"] == pb["stopped"]["seq"])
    assert hit["type"] == "violation"
    assert not [e for e in held if e["type"] == "violation" and e["seq"] < hit["seq"]]


def test_pause_when_a_message_kind_is_sent(connect, manager, clock):
    c = connect()
    ack, snap = create(c, protocol="2pc", preset="coordinator_crash")
    assert ctl(c, ack, "stops", {"send": ["Vote"]})["ok"]
    recv(c)
    held = list(snap["events"])
    pb = play_until_paused(c, ack, manager, clock, held)
    hit = next(e for e in held if e["seq"] == pb["stopped"]["seq"])
    assert pb["stopped"]["reason"] == "send" and hit["type"] == "send" and hit["kind"] == "Vote"
    assert not [e for e in held if e["type"] == "send" and e["kind"] == "Vote" and e["seq"] < hit["seq"]]
    pb = play_until_paused(c, ack, manager, clock, held)     # the next one
    assert held[-1]["t"] == pb["t"] and pb["stopped"]["seq"] > hit["seq"]


def test_pause_when_a_node_enters_a_state(connect, manager, clock):
    c = connect()
    ack, snap = create(c, protocol="raft", preset="figure8")
    assert ctl(c, ack, "stops", {"state": [{"field": "role", "value": "leader", "node": "n5"}]})["ok"]
    recv(c)
    held = list(snap["events"])
    pb = play_until_paused(c, ack, manager, clock, held)
    hit = next(e for e in held if e["seq"] == pb["stopped"]["seq"])
    assert pb["stopped"]["reason"] == "state" and pb["t"] == 550
    assert hit["type"] == "state" and hit["node"] == "n5" and hit["changes"]["role"] == "leader"


def test_chapter_next_and_prev_move_the_whole_room(connect, manager, clock):
    owner, viewer = connect(), connect()
    ack, snap = create(owner, protocol="raft", preset="figure8")
    viewer.emit("join", {"session": ack["session"]})
    recv(viewer)
    held, theirs = list(snap["events"]), list(snap["events"])
    ref = reference_trace({"protocol": "raft", "preset": "figure8"}, 2000)

    def go(cmd):
        nonlocal held, theirs
        r = ctl(owner, ack, cmd)
        assert r["ok"], r
        mine, seen = recv(owner)["seek"][0], recv(viewer)["seek"][0]
        assert mine == seen
        held, theirs = after_seek(held, mine), after_seek(theirs, seen)
        assert held == theirs == ref[:len(held)]
        return mine["playback"]

    for i in range(3):
        pb = go("chapter_next")
        assert pb["t"] == FIGURE8_TIMES[i] and pb["chapter"]["index"] == i and not pb["playing"]
        assert pb["stopped"] == {"reason": "chapter", "chapter": i, "seq": pb["stopped"]["seq"], "t": pb["t"]}
    pb = go("chapter_prev")
    assert pb["t"] == 440 and pb["chapter"]["index"] == 1 and pb["stopped"]["chapter"] == 1
    assert held[-1]["t"] == 440
    pb = go("chapter_prev")
    assert pb["t"] == 50 and pb["chapter"]["index"] == 0
    elected = next(e for e in held if e["type"] == "note" and e["key"] == "raft.elected")
    assert held[-1]["seq"] >= elected["seq"] and all(e["t"] <= 50 for e in held)
    r = ctl(owner, ack, "chapter_prev")
    refused(owner, r, "bad_request")
    assert r["key"] == "refused.first_chapter"
    pb = go("chapter_next")
    assert pb["t"] == 440 and pb["chapter"]["index"] == 1
    ctl(owner, ack, "seek", 1500)
    recv(owner)
    assert ctl(owner, ack, "chapter_prev")["playback"]["t"] == 1441   # back to where the current one starts
    recv(owner)
    ctl(owner, ack, "seek", 1900)
    recv(owner)
    r = ctl(owner, ack, "chapter_next")
    refused(owner, r, "bad_request")
    assert r["key"] == "refused.last_chapter"


def test_key_notes_are_the_chapters_of_a_preset_without_its_own(connect, manager, clock):
    c = connect()
    ack, snap = create(c, protocol="raft", preset="first_election")
    assert snap["lesson"] == {"source": "key_notes", "chapters": None,
                              "key_notes": list(snap["protocol"]["key_notes"])}
    recv(c)
    r = ctl(c, ack, "chapter_next")
    pb = recv(c)["seek"][0]["playback"]
    assert r["ok"] and pb["chapter"]["note"]["key"] in snap["protocol"]["key_notes"]
    assert pb["chapter"]["total"] is None and pb["t"] == pb["chapter"]["t"]


def test_stops_travel_in_the_share_link(connect, manager, clock):
    c = connect()
    ack, _ = create(c, protocol="2pc", preset="coordinator_crash")
    ctl(c, ack, "stops", {"violation": True, "send": ["Vote", "Prepare"]})
    token = recv(c)["events"][-1]["token"]
    sc = from_token(token)
    assert sc.lesson == {"stops": {"violation": True, "send": ["Prepare", "Vote"]}}
    other = connect()
    _, snap = create(other, token=token)
    assert snap["playback"]["stops"] == {"violation": True, "send": ["Prepare", "Vote"]}
    ctl(c, ack, "stops", {})                 # cleared: the link is the preset's again
    assert from_token(recv(c)["events"][-1]["token"]).lesson is None


@pytest.mark.parametrize("value, why", [
    ({"bogus": True}, "unknown field"),
    ({"chapters": 1}, "true or false"),
    ({"send": "Vote"}, "list"),
    ({"send": ["Vote"] * 21}, "at most 20"),
    ({"state": [{"field": "role"}]}, "field"),
    ({"state": [{"field": "role", "value": ["x"]}]}, "string, number"),
    ("chapters", "must be an object"),
])
def test_malformed_stops_are_refused(connect, value, why):
    c = connect()
    ack, _ = create(c, protocol="raft", preset="figure8")
    r = ctl(c, ack, "stops", value)
    refused(c, r, "bad_request")
    assert why in r["error"] and r["key"] == "refused.bad_stops"


def test_stops_needs_a_value_and_watchers_cannot_set_it(connect):
    owner, viewer = connect(), connect()
    ack, _ = create(owner, protocol="raft", preset="figure8")
    r = owner.emit("control", {"session": ack["session"], "control": ack["control"], "cmd": "stops"},
                   callback=True)
    refused(owner, r, "bad_request")
    viewer.emit("join", {"session": ack["session"]})
    recv(viewer)
    r = viewer.emit("control", {"session": ack["session"], "cmd": "stops", "value": {"chapters": True}},
                    callback=True)
    refused(viewer, r, "forbidden")


def test_a_teachers_lesson_in_the_scenario_gives_chapters_and_stops(connect, manager, clock):
    lesson = {"chapters": [{"at": 300, "title": {"en": "The crash", "zh": "崩溃"}},
                           {"on": {"note": "2pc.blocked", "node": "p2"},
                            "title": {"en": "p2 is stuck", "zh": "p2 被卡住"},
                            "body": {"en": "It holds the lock.", "zh": "它持有锁。"}}],
              "stops": {"chapters": True}}
    c = connect()
    ack, snap = create(c, scenario={"protocol": "2pc", "preset": "coordinator_crash", "lesson": lesson})
    assert snap["lesson"]["source"] == "lesson" and len(snap["lesson"]["chapters"]) == 2
    assert snap["scenario"]["lesson"]["chapters"][1]["body"]["zh"] == "它持有锁。"
    held = list(snap["events"])
    pb = play_until_paused(c, ack, manager, clock, held)
    assert pb["t"] == 300 and pb["stopped"]["chapter"] == 0 and held[-1]["t"] <= 300
    pb = play_until_paused(c, ack, manager, clock, held)
    hit = next(e for e in held if e["seq"] == pb["stopped"]["seq"])
    assert pb["t"] == 625 and hit["key"] == "2pc.blocked" and hit["node"] == "p2"
    # The link at t=700 keeps the lesson; the chapter there is the last one at or before 700.
    token = manager.sessions[ack["session"]].token()
    other = connect()
    _, snap2 = create(other, token=token, t=700)
    assert snap2["playback"]["chapter"]["index"] == 1 and snap2["playback"]["stops"] == {"chapters": True}
    _, snap3 = create(connect(), token=token, t=400)
    assert snap3["playback"]["chapter"]["index"] == 0


def test_chapters_are_found_when_a_seek_forward_reuses_what_lay_ahead(clock):
    """A seek forward into what a seek back left ahead does not run that stretch again
    (session.Ahead): its chapters are found all the same."""
    _manager, new_client = _limited_app(clock, checkpoint_every=50)
    c = new_client()
    ack, _ = create(c, protocol="raft", preset="figure8")
    for t, index in ((2000, 7), (0, -1), (1500, 7), (0, -1), (700, 2)):
        assert ctl(c, ack, "seek", t)["playback"]["chapter"]["index"] == index, t
        recv(c)
    assert _manager.sessions[ack["session"]].ahead is not None      # the jump had something to reuse
