"""Sessions that outlive their process (docs/scale-out.md), through Flask-SocketIO's test client.

Two apps sharing one PLAYGROUND_SECRET stand for two processes behind the proxy: a run made
on one comes back on the other under the same id when its controller resumes it, and every
watcher's rejoin then finds it. The routing key a connection gives becomes the prefix of the
ids of the sessions it creates, which is what the proxy hashes on.
"""

import pytest

from playground import create_app

from .test_socket_api import SMALL, act, create, recv, refused

SECRET = "a shared secret for these tests"


def make_app(secret=SECRET):
    return create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                       "PLAYGROUND_SECRET": secret})


@pytest.fixture
def clients():
    made = []

    def client(app, route=None):
        socketio = app.extensions["playground"].socketio
        c = socketio.test_client(app, query_string=f"route={route}" if route else None)
        made.append(c)
        return c

    yield client
    for c in made:
        if c.is_connected():
            c.disconnect()


def test_a_connection_route_prefixes_the_ids_it_creates(clients):
    app = make_app()
    c = clients(app, route="Kx7_a-1")
    ack, snap = create(c, scenario=SMALL)
    assert ack["session"].startswith("Kx7_a-1.") and snap["session"] == ack["session"]
    # Without a route: an id with no prefix, as before.
    ack2, _ = create(clients(app), scenario=SMALL)
    assert "." not in ack2["session"]
    # Pages and joins take both forms.
    http = app.test_client()
    for sid in (ack["session"], ack2["session"]):
        assert http.get(f"/play/forward?session={sid}").status_code == 200
        w = clients(app, route=sid.split(".")[0])
        assert w.emit("join", {"session": sid}, callback=True)["role"] == "viewer"


@pytest.mark.parametrize("route", ["a.b", "x" * 25, "é", "a b"])
def test_a_bad_route_is_refused_at_connect(clients, route):
    app = make_app()
    c = clients(app, route=route)
    assert not c.is_connected()


def test_a_controller_resumes_a_gone_session_under_its_id_on_another_process(clients):
    a, b = make_app(), make_app()
    owner = clients(a, route="r1")
    ack, _ = create(owner, scenario=SMALL)
    assert act(owner, ack, do="crash", node="n2")["ok"]
    token = a.extensions["playground"].manager.sessions[ack["session"]].token()
    owner.disconnect()                          # process A dies with its session

    watcher = clients(b, route="r1")            # the proxy sends the same route to B now
    gone = watcher.emit("join", {"session": ack["session"]}, callback=True)
    refused(watcher, gone, "unknown_session")
    assert gone["resumable"] is True          # a shared secret: the page waits for the owner

    owner_b = clients(b, route="r1")
    back = owner_b.emit("create", {"token": token, "t": 0,
                                   "resume": {"session": ack["session"], "control": ack["control"]}},
                        callback=True)
    assert back["ok"] and back["resumed"] is True
    assert back["session"] == ack["session"] and back["control"] == ack["control"]
    snap = recv(owner_b)["snapshot"][-1]
    assert snap["session"] == ack["session"] and snap["role"] == "controller"
    assert any(a_["do"] == "crash" for a_ in snap["scenario"]["actions"])   # the run, faults and all
    # The watcher's retry finds it; the old control token still controls it on B.
    assert watcher.emit("join", {"session": ack["session"]}, callback=True)["role"] == "viewer"
    reply = act(owner_b, back, do="crash", node="n3")
    assert reply["ok"], reply


def test_a_second_resume_joins_the_first_and_a_wrong_token_gets_a_new_run(clients):
    a, b = make_app(), make_app()
    ack, _ = create(clients(a, route="r2"), scenario=SMALL)
    token = a.extensions["playground"].manager.sessions[ack["session"]].token()
    resume = {"session": ack["session"], "control": ack["control"]}
    first = clients(b, route="r2").emit("create", {"token": token, "resume": resume}, callback=True)
    second = clients(b, route="r2")
    again = second.emit("create", {"token": token, "resume": resume}, callback=True)
    assert first["resumed"] and again["ok"] and again["resumed"] and again["role"] == "controller"
    assert again["session"] == first["session"] == ack["session"]
    assert len(b.extensions["playground"].manager.sessions) == 1
    # A token signed with another secret (a lone server restarted) proves nothing: a new run.
    other = make_app(secret="another secret, another server")
    c = clients(other, route="r2")
    fresh = c.emit("create", {"token": token, "resume": resume}, callback=True)
    assert fresh["ok"] and fresh["resumed"] is False and fresh["session"] != ack["session"]
    assert fresh["session"].startswith("r2.")
    forged = clients(b, route="r2").emit("create", {"token": token, "resume": {
        "session": "r2.someone-elses", "control": ack["control"]}}, callback=True)
    assert forged["resumed"] is False and forged["session"] != "r2.someone-elses"


@pytest.mark.parametrize("resume", [[], "x", {"session": "s"}, {"session": "s", "control": "c", "x": 1},
                                    {"session": 1, "control": "c"}])
def test_a_bad_resume_is_refused(clients, resume):
    c = clients(make_app())
    refused(c, c.emit("create", {"scenario": SMALL, "resume": resume}, callback=True), "bad_request")


def test_a_short_secret_is_refused_at_start():
    with pytest.raises(ValueError, match="PLAYGROUND_SECRET"):
        make_app(secret="short")


def test_a_lone_server_without_a_shared_secret_says_sessions_do_not_come_back(clients):
    c = clients(create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False}))
    gone = c.emit("join", {"session": "r.gone"}, callback=True)
    refused(c, gone, "unknown_session")
    assert "resumable" not in gone            # a watcher makes its own copy at once
