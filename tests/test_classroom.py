"""A class around one session: join codes (/j/CODE, in-process and in Redis), QR codes of
the watch link, the teacher leaving and coming back, extending a run, speed= in links and
forking at the moment a watcher sees. See docs/socket-api.md, "Join codes" and "Classroom"."""

import io
import time

import orjson
import pytest

from engine import from_token
from playground import create_app, wire
from playground.joincodes import ALPHABET, JoinCodes, normalize, redis_client

from .conftest import FakeClock
from .redis_server import running_redis
from .test_socket_api import create, ctl, recv, ticks


def plain(x):
    """A payload as the page reads it (orjson Fragments decoded)."""
    return orjson.loads(wire.encode(x))


def code_for(c, ack):
    r = c.emit("code", {"session": ack["session"], "control": ack["control"]}, callback=True)
    assert r["ok"], r
    return r


# ---------------------------------------------------------------- codes

def test_codes_use_no_look_alike_characters_and_normalize_tolerantly():
    assert not set("0O1IL") & set(ALPHABET)
    assert normalize("abc-234") == "ABC234" and normalize(" ABC 234 ") == "ABC234"
    assert normalize("ABC2340") is None and normalize("ABO234") is None and normalize("") is None


def test_a_controller_gets_one_code_and_it_redirects_to_the_watch_link(connect, http):
    c = connect()
    ack, _ = create(c)
    first = code_for(c, ack)
    assert first == code_for(c, ack), "the same session keeps its code"
    code = first["code"]
    assert len(code) == 6 and set(code) <= set(ALPHABET)
    watch = f"/play/forward?session={ack['session']}"
    assert first["watch"] == watch and first["path"] == f"/j/{code}"
    for typed in (code, code.lower(), f"{code[:3].lower()}-{code[3:]}"):
        r = http.get(f"/j/{typed}")
        assert r.status_code == 302 and r.headers["Location"] == watch, typed
    r = http.get(f"/j?code={code[:3]}-{code[3:].lower()}")     # the page's little form
    assert r.status_code == 302 and r.headers["Location"] == f"/j/{code}"


def test_a_watcher_cannot_ask_for_the_code(connect):
    c, w = connect(), connect()
    ack, _ = create(c)
    r = w.emit("code", {"session": ack["session"]}, callback=True)
    assert not r["ok"] and r["code"] == "forbidden"


def test_an_unknown_or_ended_code_is_a_404_page_with_a_box_in_both_languages(connect, manager, clock, http):
    r = http.get("/j/ABC234")
    body = r.get_data(as_text=True)
    assert r.status_code == 404 and 'data-i18n="join.unknown"' in body and "ABC-234" in body
    assert '<form class="join-form" method="get" action="/j">' in body and 'name="code"' in body
    assert http.get("/j").status_code == 200
    # A code stops working when its session ends.
    c = connect()
    ack, _ = create(c)
    code = code_for(c, ack)["code"]
    c.disconnect()
    clock.advance(manager.limits.idle_expiry_s + 1)
    manager.expire()
    assert ack["session"] not in manager.sessions
    assert http.get(f"/j/{code}").status_code == 404
    assert code not in manager.join_codes.by_code


def test_guessing_codes_is_rate_limited_per_address_with_a_clear_429(app, connect, http):
    pg = app.extensions["playground"]
    pg.manager.clock = clock = FakeClock()
    c = connect()
    ack, _ = create(c)
    code = code_for(c, ack)["code"]
    burst = int(pg.limits.join_miss_burst)
    for i in range(burst):
        assert http.get(f"/j/{'ABCDEF'[:5]}{ALPHABET[i % len(ALPHABET)]}").status_code in (404, 302)
    r = http.get(f"/j/{code}")
    assert r.status_code == 429 and 'data-i18n="join.busy"' in r.get_data(as_text=True)
    assert int(r.headers["Retry-After"]) >= 1
    # Another address is not held up, and the budget refills.
    other = http.get(f"/j/{code}", environ_base={"REMOTE_ADDR": "10.0.0.9"})
    assert other.status_code == 302
    clock.advance(1 / pg.limits.join_miss_rate + 0.01)
    assert http.get(f"/j/{code}").status_code == 302


# ---------------------------------------------------------------- QR codes

def test_the_qr_code_is_a_csp_safe_svg_and_decodes_to_the_absolute_watch_link(connect, http):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image
    c = connect()
    ack, _ = create(c)
    code = code_for(c, ack)["code"]
    watch = f"/play/forward?session={ack['session']}"
    svg = http.get(f"/j/{code}.svg", headers={"X-Forwarded-Host": "ignored.example"})
    assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
    text = svg.get_data(as_text=True)
    assert text.startswith("<svg") and "viewBox" in text
    for unsafe in ("<script", "style=", "<style", "href=", "on"):
        assert unsafe not in text.replace("xmlns", "").replace("transform", "").replace("<path", ""), unsafe
    png = http.get(f"/j/{code}.png")
    assert png.status_code == 200 and png.mimetype == "image/png"
    found = zxingcpp.read_barcodes(Image.open(io.BytesIO(png.data)).convert("L"))
    assert [b.text for b in found] == ["http://localhost" + watch]
    assert http.get("/j/ABC234.svg").status_code == 404


def test_the_qr_code_names_the_host_a_proxy_forwarded(connect):
    zxingcpp = pytest.importorskip("zxingcpp")
    from PIL import Image
    app = create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                      "PLAYGROUND_PROXY_HOPS": 1})
    c = app.extensions["playground"].socketio.test_client(app)
    try:
        ack, _ = create(c)
        code = code_for(c, ack)["code"]
        r = app.test_client().get(f"/j/{code}.png", headers={"X-Forwarded-Host": "class.example.org",
                                                              "X-Forwarded-Proto": "https"})
        found = zxingcpp.read_barcodes(Image.open(io.BytesIO(r.data)).convert("L"))
        assert [b.text for b in found] == [f"https://class.example.org/play/forward?session={ack['session']}"]
    finally:
        c.disconnect()


# ---------------------------------------------------------------- Redis

@pytest.fixture
def redis_url(tmp_path):
    """A real redis-server on a free port for this test."""
    with running_redis(tmp_path) as url:
        yield url


def two_processes(redis_url):
    """Two apps, as two processes of a cluster, sharing join codes through Redis."""
    apps = []
    for _ in range(2):
        app = create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False})
        pg = app.extensions["playground"]
        pg.manager.join_codes = JoinCodes(pg.limits.idle_expiry_s, redis_client(redis_url))
        apps.append(app)
    return apps


def test_with_redis_any_process_answers_a_code_and_keys_expire_with_the_session(redis_url):
    import redis
    # With PLAYGROUND_REDIS the app keeps its codes in Redis too (it also makes Redis the Socket.IO
    # queue, which Flask-SocketIO's test client refuses: the two test apps get the same store).
    wired = create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                        "PLAYGROUND_REDIS": redis_url})
    assert wired.extensions["playground"].manager.join_codes.redis is not None
    one, two = two_processes(redis_url)
    c = one.extensions["playground"].socketio.test_client(one)
    try:
        ack, _ = create(c)
        code = code_for(c, ack)["code"]
        # The other process never saw this session: it answers from Redis.
        r = two.test_client().get(f"/j/{code.lower()}")
        assert r.status_code == 302 and r.headers["Location"] == f"/play/forward?session={ack['session']}"
        db = redis.Redis.from_url(redis_url)
        ttl = db.ttl(f"pp:join:{code}")
        assert 0 < ttl <= one.extensions["playground"].limits.idle_expiry_s
        # The sweep renews the key while the session lives, and deletes it once it is gone.
        m = one.extensions["playground"].manager
        db.expire(f"pp:join:{code}", 5)
        m.join_codes.sweep(set(m.sessions), time.monotonic() + m.limits.idle_expiry_s)
        assert db.ttl(f"pp:join:{code}") > 5
        m.join_codes.sweep(set(), time.monotonic())
        assert db.get(f"pp:join:{code}") is None
        assert two.test_client().get(f"/j/{code}").status_code == 404
    finally:
        c.disconnect()


def test_two_processes_never_hand_out_the_same_code(redis_url, monkeypatch):
    one, two = two_processes(redis_url)
    codes = iter(["ABC234", "ABC234", "XYZ789"])
    for app in (one, two):
        monkeypatch.setattr(app.extensions["playground"].manager.join_codes, "_new_code", lambda: next(codes))
    a = one.extensions["playground"].manager.join_codes.issue("k.one", "forward", 0.0)
    b = two.extensions["playground"].manager.join_codes.issue("k.two", "forward", 0.0)
    assert (a, b) == ("ABC234", "XYZ789")


def test_without_redis_reachable_a_code_still_works_on_its_process(connect, http):
    class Down:
        def set(self, *a, **k):
            raise ConnectionError("down")
        get = set
    codes = JoinCodes(600, Down())
    code = codes.issue("s1", "forward", 0.0)
    assert codes.lookup(code, {"s1"}) == ("s1", "forward")
    assert codes.lookup("ABC234", {"s1"}) is None


# ---------------------------------------------------------------- the teacher leaving

def test_the_room_hears_when_the_last_controller_leaves_and_comes_back(connect, manager, clock):
    teacher, student = connect(), connect()
    ack, snap = create(teacher)
    assert snap["playback"]["controller"] is True
    assert ctl(teacher, ack, "play")["ok"]
    student.emit("join", {"session": ack["session"]}, callback=True)
    recv(student)
    teacher.disconnect()
    got = recv(student)
    assert got["playback"][-1]["controller"] is False
    # The class's copy keeps running without the teacher.
    t0 = manager.sessions[ack["session"]].t
    ticks(manager, clock, 4)
    batches = recv(student)["events"]
    assert batches[-1]["playback"]["t"] > t0 and batches[-1]["playback"]["playing"]
    back = connect()
    r = back.emit("join", {"session": ack["session"], "control": ack["control"]}, callback=True)
    assert r["role"] == "controller"
    assert recv(student)["playback"][-1]["controller"] is True


# ---------------------------------------------------------------- extending a run

def test_extend_at_the_end_continues_the_same_run(connect, manager, clock):
    c = connect()
    ack, _ = create(c)
    assert ctl(c, ack, "seek", 2000)["ok"]
    s = manager.sessions[ack["session"]]
    assert s.sim.done
    recv(c)
    r = ctl(c, ack, "extend", 1500)
    assert r["ok"] and r["playback"]["until"] == 3500 and r["playback"]["playing"] and not r["playback"]["done"]
    assert r["playback"]["t"] == 2000, "continue, not restart"
    got = recv(c)
    assert got["playback"][-1]["until"] == 3500
    ticks(manager, clock, 200)
    assert s.sim.done and s.t == 3500
    # The same run as one made 3.5 s long from the start: its share link says so.
    from engine import Simulation
    sc = from_token(s.token())
    assert sc.until == 3500
    ref = Simulation(sc)
    ref.run()
    assert plain(s.log.fragment()) == ref.trace
    mine = [e for b in recv(c)["events"] for e in plain(b["events"])]
    assert mine and all(e["t"] > 2000 for e in mine), "the run went on past the old end"


def test_extend_while_playing_keeps_playing_and_is_bounded(connect, manager, clock):
    from engine import limits as engine_limits
    c = connect()
    ack, _ = create(c)
    assert ctl(c, ack, "play")["ok"]
    ticks(manager, clock, 3)
    r = ctl(c, ack, "extend", 1000)
    assert r["ok"] and r["playback"]["playing"] and r["playback"]["until"] == 3000
    r = ctl(c, ack, "extend", engine_limits.MAX_UNTIL_MS)
    assert r["ok"] and r["playback"]["until"] == engine_limits.MAX_UNTIL_MS
    r = ctl(c, ack, "extend", 1)
    assert not r["ok"] and r["key"] == "refused.max_until"
    assert not ctl(c, ack, "extend")["ok"]          # a value is required
    # Seeking back after an extension stays within the new end.
    assert ctl(c, ack, "seek", 100)["ok"]
    assert manager.sessions[ack["session"]].sim.until == engine_limits.MAX_UNTIL_MS


def test_seek_back_after_extending_a_finished_run_replays_the_same_events(connect, manager):
    c = connect()
    ack, _ = create(c)
    ctl(c, ack, "seek", 2000)
    ctl(c, ack, "extend", 1000)
    ctl(c, ack, "seek", 3000)
    s = manager.sessions[ack["session"]]
    full = s.log.fragment()
    ctl(c, ack, "seek", 500)
    ctl(c, ack, "seek", 3000)
    assert plain(s.log.fragment()) == plain(full)


# ---------------------------------------------------------------- speed= in links

def test_a_link_keeps_its_speed_and_a_bad_one_is_refused(http):
    import json
    import re
    body = http.get("/play/forward?speed=0.25").get_data(as_text=True)
    boot = json.loads(re.search(r'<script id="boot" type="application/json">(.*?)</script>', body, re.DOTALL).group(1))
    assert boot["speed"] == 0.25
    for bad in ("fast", "0", "11", "nan", "inf"):
        r = http.get(f"/play/forward?speed={bad}")
        assert r.status_code == 400 and "error.page.bad_speed" in r.get_data(as_text=True), bad


# ---------------------------------------------------------------- fork at the moment seen

@pytest.mark.parametrize("seen", [733.0, 733.4, 733.6])
def test_a_fork_opens_exactly_where_the_watcher_was(connect, manager, clock, seen):
    owner, watcher = connect(), connect()
    ack, _ = create(owner)
    ctl(owner, ack, "seek", 1500)
    s = manager.sessions[ack["session"]]
    original = plain(s.log.fragment())
    watcher.emit("join", {"session": ack["session"]}, callback=True)
    recv(watcher)
    fork = watcher.emit("create", {"token": s.token(), "t": seen}, callback=True)
    assert fork["ok"]
    snap = recv(watcher)["snapshot"][0]
    assert snap["playback"]["t"] == seen
    events = plain(snap["events"])
    assert events == [e for e in original if e["t"] <= seen]


def test_extending_drops_the_old_ends_checks_and_equals_the_longer_run(connect, manager, clock):
    """The outbox lesson ends with an eventual violation found at its end (3 s): a run made
    longer has no end there, so that finding goes (the room's seek drops it) and the run
    played on is exactly the longer run's."""
    from engine import Simulation
    c = connect()
    ack, _ = create(c, protocol="outbox", preset="dual_write_commit_first_crash")
    ctl(c, ack, "speed", 10)
    ctl(c, ack, "seek", 3000)
    s = manager.sessions[ack["session"]]
    ended = plain(s.log.fragment())
    assert any(e["type"] == "violation" and e.get("eventual") and e["t"] == 3000 for e in ended)
    recv(c)
    assert ctl(c, ack, "extend", 3000)["ok"]
    seek = recv(c)["seek"][-1]
    assert seek["seq"] < len(ended) and plain(seek["events"]) == []
    assert not any(e["type"] == "violation" and e.get("eventual") for e in plain(s.log.fragment()))
    ticks(manager, clock, 200)
    assert s.sim.done and s.t == 6000
    ref = Simulation(from_token(s.token()))
    ref.run()
    assert plain(s.log.fragment()) == ref.trace
