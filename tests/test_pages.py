"""Page routes and their template contexts (docs/socket-api.md)."""

import json
import re
from pathlib import Path

import pytest
from flask import template_rendered

from engine import from_dict, registry
from playground import create_app

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def rendered(app):
    """Every (template name, context) rendered during the test."""
    seen = []

    def record(sender, template, context, **extra):
        seen.append((template.name, context))

    template_rendered.connect(record, app)
    yield seen
    template_rendered.disconnect(record, app)


def boot_of(html: str) -> dict:
    m = re.search(r'<script id="boot" type="application/json">(.*?)</script>', html, re.DOTALL)
    assert m, "play.html must embed the boot JSON"
    return json.loads(m.group(1))


def error_context(rendered):
    name, ctx = rendered[-1]
    assert name == "error.html"
    assert set(ctx) >= {"title", "message"} and ctx["title"] and ctx["message"]
    return ctx


def test_gallery_lists_protocols_and_presets_but_hides_demos(http, rendered):
    r = http.get("/")
    assert r.status_code == 200
    name, ctx = rendered[-1]
    assert name == "gallery.html"
    shown = [p["name"] for p in ctx["protocols"]]
    assert shown == registry.names()
    assert "forward" not in shown
    assert all(p["category"] != "demo" for p in ctx["protocols"])
    html = r.get_data(as_text=True)
    for p in ctx["protocols"]:
        assert f"/play/{p['name']}" in html
        for preset in p["presets"]:
            assert preset["name"] in html


def test_api_lists_every_protocol_with_its_description(http):
    r = http.get("/api/protocols")
    assert r.status_code == 200 and r.is_json
    names = [p["name"] for p in r.get_json()]
    assert names == registry.names(include_hidden=True) and "forward" in names
    forward = next(p for p in r.get_json() if p["name"] == "forward")
    assert forward == json.loads(json.dumps(registry.get("forward").describe()))


def test_play_page_boot_for_a_plain_protocol(http, rendered):
    r = http.get("/play/forward")          # demo: hidden from the gallery, still playable
    assert r.status_code == 200
    name, ctx = rendered[-1]
    assert name == "play.html" and ctx["protocol"]["name"] == "forward"
    expected = {"protocol": "forward", "preset": None, "token": None, "t": None, "session": None,
                "rebuilt": None, "speed": None}
    assert ctx["boot"] == expected
    assert boot_of(r.get_data(as_text=True)) == expected


def test_play_page_boot_for_a_shared_run(http, rendered):
    token = from_dict({"protocol": "forward", "seed": 4, "until": 3000,
                       "actions": [{"at": 10, "do": "crash", "node": "n2"}]}).to_token()
    r = http.get(f"/play/forward?s={token}&t=1500")
    assert r.status_code == 200
    assert boot_of(r.get_data(as_text=True)) == {"protocol": "forward", "preset": None, "token": token,
                                                 "t": 1500, "session": None, "rebuilt": None, "speed": None}


def test_play_page_boot_for_a_live_session(app, http, connect):
    c = connect()
    ack = c.emit("create", {"protocol": "forward"}, callback=True)
    r = http.get(f"/play/forward?session={ack['session']}")
    assert r.status_code == 200
    assert boot_of(r.get_data(as_text=True))["session"] == ack["session"]


def test_a_live_session_link_that_also_carries_its_run_joins_the_session(app, http, connect):
    """While the session lives, the page's address (?session=&s=&t=) joins it: s= and t= only
    matter once it is gone."""
    c = connect()
    ack = c.emit("create", {"protocol": "raft", "preset": "first_election"}, callback=True)
    token = from_dict({"protocol": "raft", "preset": "first_election"}).to_token()
    boot = boot_of(http.get(f"/play/raft?session={ack['session']}&s={token}&t=1234").get_data(as_text=True))
    assert boot["session"] == ack["session"] and boot["rebuilt"] is None


def test_after_a_restart_a_session_link_with_its_run_rebuilds_it(http, rendered):
    """The session is gone (a new server knows nothing of it), but the page kept the run in its
    address: the play page boots from the token at that time, flagged to say it was rebuilt."""
    token = from_dict({"protocol": "raft", "preset": "first_election",
                       "actions": [{"at": 1200, "do": "crash", "node": "n1"}]}).to_token()
    r = http.get(f"/play/raft?session=NOPE&s={token}&t=1234")
    assert r.status_code == 200
    assert rendered[-1][0] == "play.html"
    assert boot_of(r.get_data(as_text=True)) == {"protocol": "raft", "preset": None, "token": token, "t": 1234,
                                                 "session": None, "rebuilt": "NOPE", "speed": None}
    # The page's script takes its notice from its dictionaries, in both languages.
    html = r.get_data(as_text=True)
    assert 'id="rebuilt-notice"' in html and "session.restored.dismiss" in html
    for lang in ("en", "zh"):
        text = json.loads((ROOT / "static" / "i18n" / f"{lang}.json").read_text(encoding="utf-8"))["session.restored"]
        assert "{t}" in text


def test_after_a_restart_a_tab_that_kept_the_run_in_storage_opens_the_play_page(http):
    """kept=1: the token was too long for the address bar, the tab's sessionStorage has it."""
    r = http.get("/play/raft?session=NOPE&kept=1")
    assert r.status_code == 200
    assert boot_of(r.get_data(as_text=True))["rebuilt"] == "NOPE"


@pytest.mark.parametrize("url, words", [
    ("/play/raft?session=NOPE", "ended"),                     # nothing kept: the page says it ended
    ("/play/raft?session=NOPE&kept=yes", "ended"),
    ("/play/raft?session=../x&s={token}", "ended"),           # not a session id at all
    ("/play/raft?session=NOPE&s=damaged", "damaged"),         # a damaged run is still refused
    ("/play/raft?session=NOPE&s={token}&t=99999999", "t must be"),
    ("/play/raft?session=NOPE&s={other}", "not of Raft"),     # a run of another protocol
])
def test_a_gone_session_without_a_usable_run_keeps_its_error_page(http, rendered, url, words):
    token = from_dict({"protocol": "raft"}).to_token()
    other = from_dict({"protocol": "forward"}).to_token()
    r = http.get(url.format(token=token, other=other))
    assert r.status_code in (400, 404)
    ctx = error_context(rendered)
    assert words.lower() in " ".join((ctx["title"], ctx["message"])).lower()


@pytest.mark.parametrize("url, status, words", [
    ("/play/nope", 404, "nope"),
    ("/play/forward?preset=nope", 404, "no lesson"),
    ("/play/forward?s=not-a-token", 400, "shared run"),
    ("/play/forward?s=", 400, "shared run"),
    ("/play/forward?s=" + "A" * 20_000, 400, "too long"),
    ("/play/forward?t=-5", 400, "t must be"),
    ("/play/forward?t=abc", 400, "t must be"),
    ("/play/forward?t=99999999", 400, "t must be"),
    ("/play/forward?t=1.5", 400, "t must be"),
    ("/play/forward?session=nope", 404, "ended"),
    ("/play/forward?session=../../etc", 404, "ended"),
    ("/play/forward?preset=a&s=b", 400, "either"),
    ("/no/such/page", 404, "not found"),
])
def test_bad_requests_get_an_error_page_with_a_way_back(http, rendered, url, status, words):
    r = http.get(url)
    assert r.status_code == status
    ctx = error_context(rendered)
    assert words.lower() in " ".join((ctx["title"], ctx["message"], ctx.get("detail") or "")).lower()
    html = r.get_data(as_text=True)
    assert 'href="/"' in html
    assert "Traceback" not in html


def test_a_token_for_another_protocol_is_refused_with_a_link_to_where_it_runs(http, rendered):
    if "raft" not in registry.names():
        pytest.fail("protocol 'raft' is not registered: engine/protocols/raft/ must provide it")
    token = from_dict({"protocol": "raft"}).to_token()
    r = http.get(f"/play/forward?s={token}")
    assert r.status_code == 400
    ctx = error_context(rendered)
    assert "Raft" in ctx["message"] and ctx["args"]["other"] == {"key": "p:raft:title", "text": "Raft"}
    assert [link["href"] for link in ctx["links"]] == [f"/play/raft?s={token}"]
    http.get(f"/play/forward?s={token}&t=1500")       # the shared moment goes along
    assert [link["href"] for link in error_context(rendered)["links"]] == [f"/play/raft?s={token}&t=1500"]
    html = r.get_data(as_text=True)
    assert '"name": "raft"' in html                   # Raft's strings are on the page: its title translates


def test_a_broken_link_says_so_plainly_and_keeps_the_engines_words_folded_away(http, rendered):
    token = from_dict({"protocol": "forward"}).to_token()
    r = http.get(f"/play/forward?s={token[:-6]}")        # cut short when it was copied
    assert r.status_code == 400
    ctx = error_context(rendered)
    assert "damaged or incomplete" in ctx["message"] and ctx["key"] == "error.page.bad_token"
    assert "malformed" not in ctx["message"] and "cut short" in ctx["detail"]
    html = r.get_data(as_text=True)
    assert "<details" in html and html.index("malformed") > html.index("<details")


def test_an_unknown_lesson_lists_the_lessons_there_are(http, rendered):
    proto = registry.get("raft")
    r = http.get("/play/raft?preset=nosuch")
    assert r.status_code == 404
    ctx = error_context(rendered)
    assert "nosuch" in ctx["message"] and ctx["args"]["name"] == "nosuch"
    assert [link["href"] for link in ctx["links"]] == [f"/play/raft?preset={p.name}" for p in proto.presets]
    html = r.get_data(as_text=True)
    assert 'id="protocols-data"' in html                # the lesson titles translate on the page


def test_presets_of_the_real_protocols_open(http, rendered):
    for name in ("2pc", "raft"):
        if name not in registry.names():
            pytest.fail(f"protocol {name!r} is not registered: engine/protocols/ must provide it")
        for preset in registry.get(name).presets:
            r = http.get(f"/play/{name}?preset={preset.name}&t=0")
            assert r.status_code == 200, (name, preset.name)
            assert boot_of(r.get_data(as_text=True))["preset"] == preset.name


def test_vendor_socket_io_client(tmp_path):
    dist = tmp_path / "socket.io-client" / "dist"
    app = create_app({"PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                      "PLAYGROUND_NODE_MODULES": str(tmp_path)})
    http = app.test_client()
    r = http.get("/vendor/socket.io.min.js")
    assert r.status_code == 404 and "npm ci" in r.get_data(as_text=True)
    dist.mkdir(parents=True)
    (dist / "socket.io.min.js").write_text("/* io */")
    r = http.get("/vendor/socket.io.min.js")
    assert r.status_code == 200 and r.get_data(as_text=True) == "/* io */"
    assert "javascript" in r.mimetype
    assert http.get("/vendor/../../etc/passwd").status_code == 404
    assert http.get("/vendor/other.js").status_code == 404


def test_the_installed_socket_io_client_is_served(http, app):
    from pathlib import Path
    path = Path(app.config["PLAYGROUND_NODE_MODULES"]) / "socket.io-client" / "dist" / "socket.io.min.js"
    if not path.is_file():
        pytest.fail("node_modules/socket.io-client is missing: run `npm ci`")
    r = http.get("/vendor/socket.io.min.js")
    assert r.status_code == 200 and len(r.data) > 10_000
