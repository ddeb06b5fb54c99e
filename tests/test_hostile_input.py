"""What a hostile or broken client sends gets a clear `bad_request`, never `internal`,
never silence, and never a traceback in the server's log (B8, B9 of the issue).

B8: a lone surrogate ("\\ud800", half a UTF-16 pair: JavaScript strings can hold one,
UTF-8 cannot) in any string field. B9: events named like the server's own
(`connect`, `disconnect`, `*`), the wire layer's (BAD_PACKET) or nothing known.
"""

import logging

import pytest

from engine import from_dict
from playground import payloads as p
from playground import wire
from tests.test_socket_api import SMALL, create, ctl, recv, refused, ticks

LONE = "\ud800"


@pytest.fixture
def quiet_log(caplog):
    """Everything the server logs during the test; it must hold no error and no traceback."""
    caplog.set_level(logging.DEBUG)
    yield caplog
    bad = [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert not bad, [f"{r.name}: {r.getMessage()}" for r in bad]
    assert "Traceback" not in caplog.text


def raw(c, text: str):
    """Send one Socket.IO packet as the client wrote it; the ack's payload, if any."""
    c.acks = None
    c.socketio.server._handle_eio_message(c.eio_sid, text)
    ack, c.acks = c.acks, None
    return None if ack is None else ack["args"][0]


def still_serves(c, manager, clock, ack):
    """The connection and the session go on: the owner still controls the run."""
    assert ctl(c, ack, "play")["ok"]
    ticks(manager, clock, 3)
    assert recv(c).get("events"), "the run plays on"
    assert ctl(c, ack, "pause")["ok"]


# ---------------------------------------------------------------- B8: lone surrogates

def test_a_lone_surrogate_control_token_is_refused_as_bad_request(connect, manager, clock, quiet_log):
    c = connect()
    ack, _ = create(c)
    for token in (LONE, ack["control"][:-1] + LONE, LONE + ack["control"]):
        reply = ctl(c, dict(ack, control=token), "play")
        refused(c, reply, "bad_request")
        assert "surrogate" in reply["error"]
    still_serves(c, manager, clock, ack)


def _fields(ack):
    """Every event, with a lone surrogate in each of its string fields in turn."""
    s, k = ack["session"], ack["control"]
    return [
        ("create", {"protocol": LONE}),
        ("create", {"protocol": "raft", "preset": "figure8" + LONE}),
        ("create", {"token": LONE * 3}),
        ("create", {"scenario": {**SMALL, "name": LONE}}),
        ("create", {"scenario": {**SMALL, "params": {LONE: 1}}}),                   # in a key
        ("join", {"session": s + LONE}),
        ("join", {"session": s, "control": LONE}),
        ("leave", {"session": LONE}),
        ("control", {"session": LONE, "control": k, "cmd": "play"}),
        ("control", {"session": s, "control": k, "cmd": LONE}),
        ("control", {"session": s, "control": k, "cmd": "seek", "value": LONE}),
        ("action", {"session": s, "control": k, "action": {"do": "crash", "node": LONE}}),
        ("action", {"session": s, "control": k, "action": {"do": "request", "node": "n1", "op": "put",
                                                            "arg": "x=" + LONE}}),
        ("configure", {"session": s, "control": k, "scenario": {"nodes": 3, "name": LONE}}),
        ("configure", {"session": s, "control": LONE, "scenario": {"nodes": 3}}),
        ("create", {LONE: 1}),                                                       # unknown field
    ]


def test_a_lone_surrogate_in_any_string_field_is_a_clear_refusal(connect, manager, clock, quiet_log):
    c = connect()
    ack, _ = create(c)
    sessions = set(manager.sessions)
    for event, payload in _fields(ack):
        reply = c.emit(event, payload, callback=True)
        refused(c, reply, "bad_request")
        assert "surrogate" in reply["error"], (event, payload, reply)
    assert set(manager.sessions) == sessions          # nothing half-made
    still_serves(c, manager, clock, ack)


def test_a_lone_surrogate_written_raw_or_in_the_event_name_is_refused(connect, manager, clock, quiet_log):
    c = connect()
    ack, _ = create(c)
    s = ack["session"]
    for text in ('21["control",{"session":"S","control":"\\ud800","cmd":"play"}]',   # escaped
                 '22["control",{"session":"S","control":"\ud800","cmd":"play"}]',    # raw code point
                 '23["\\udfff",{}]',                                                # the name
                 '24["join",{"session":"S","control":"\\ud83d"}]'):                 # high half alone
        text = text.replace('"S"', f'"{s}"')
        reply = raw(c, text)
        assert reply is not None, text
        refused(c, reply, "bad_request")
        assert "surrogate" in reply["error"]
    # A surrogate *pair* is text (an emoji): not refused for being text, only as an unknown session.
    reply = raw(c, '25["join",{"session":"\\ud83d\\ude00"}]')
    assert reply["ok"] is False and reply["code"] == "unknown_session", reply
    still_serves(c, manager, clock, ack)


def test_the_validation_itself_refuses_lone_surrogates():
    """Behind the wire's check, each string field's own check (what reaches a handler another way)."""
    for parse, payload in ((p.parse_control, {"session": "s1", "control": LONE, "cmd": "play"}),
                           (p.parse_join, {"session": "s1" + LONE}),
                           (p.parse_create, {"protocol": LONE})):
        with pytest.raises(p.ApiError) as e:
            parse((payload,), 64)
        assert e.value.code == "bad_request" and "surrogate" in e.value.message
    assert wire.has_lone_surrogate([{"a": ["b", {"c" + LONE: 1}]}])
    assert not wire.has_lone_surrogate([{"a": ["b\U0001F600", {"c": 1.5}]}])
    from_dict({**SMALL})   # the scenario used above is valid without the surrogate


# ---------------------------------------------------------------- B9: events a client may not send

RESERVED = ("connect", "disconnect", "*", wire.BAD_PACKET, "\x00other")
UNKNOWN = ("message", "connect_error", "error", "snapshot", "events", "", "x" * 5000)


@pytest.mark.parametrize("name", RESERVED + UNKNOWN, ids=lambda n: repr(n[:12]))
def test_reserved_and_unknown_events_are_answered(connect, manager, clock, quiet_log, name):
    c = connect()
    ack, _ = create(c)
    for args in ((), ({"a": 1},), ("text", 2, None), ({"session": ack["session"]},)):
        reply = c.emit(name, *args, callback=True)
        refused(c, reply, "bad_request")
        if name in RESERVED:
            assert "not an event a client may send" in reply["error"]
        else:
            assert "unknown event" in reply["error"]
        # Without an ack id the `error` event still answers.
        assert c.emit(name, *args) is None
        errors = recv(c).get("error", [])
        assert len(errors) == 1 and errors[0]["code"] == "bad_request"
    assert c.is_connected()
    assert len(manager.sessions[ack["session"]].participants) == 1   # a fake disconnect left nobody
    still_serves(c, manager, clock, ack)


def test_reserved_events_written_raw_get_their_ack(connect, quiet_log):
    c = connect()
    create(c)
    for i, body in enumerate(('["connect"]', '["disconnect",{}]', '["*"]', '["*","create",{}]',
                              '["\\u0000bad packet",[[[[[[]]]]]]]', '["nope"]'), start=1):
        reply = raw(c, f"2{i}{body}")   # 2: an event; then its ack id
        assert reply is not None, body
        refused(c, reply, "bad_request")
    assert c.is_connected()


def test_a_client_sent_connect_does_not_reset_its_session(connect, manager, clock, quiet_log):
    c = connect()
    ack, _ = create(c)
    ctl(c, ack, "play")
    ticks(manager, clock, 4)
    t = manager.sessions[ack["session"]].sim.now
    refused(c, c.emit("connect", {"token": "x"}, callback=True), "bad_request")
    assert manager.sessions[ack["session"]].sim.now == t > 0
    assert ctl(c, ack, "pause")["ok"]
