"""The side-by-side page's server side (playground/comparepages.py): /api/compare/plan and
/compare turn one role-based fault schedule into each protocol's own run, refuse what they
cannot run with a sentence (never a 500), keep a bounded cache and budget each address."""

import html as html_lib
import json
import re
import urllib.parse
from pathlib import Path

import pytest

from engine import from_token, registry
from engine.scenario import encode_token
from playground import create_app
from playground.comparepages import CACHE_SIZE, PlanCache

I18N = Path(__file__).resolve().parent.parent / "static" / "i18n"
CRASH = "protocols=2pc,3pc&faults=coordinator_crash&run=0&seed=1"


ROOT = Path(__file__).resolve().parents[1]


def plan(http, query, addr="127.0.0.1"):
    return http.get(f"/api/compare/plan?{query}", environ_base={"REMOTE_ADDR": addr})


def schedule_query(schedule, protocols="2pc,3pc"):
    return f"protocols={protocols}&schedule={urllib.parse.quote(json.dumps(schedule))}"


def test_one_coordinator_crash_becomes_a_crash_of_c_in_2pc_and_in_3pc(http):
    r = plan(http, CRASH)
    assert r.status_code == 200
    body = r.get_json()
    crash = body["schedule"]["items"][1]
    assert crash["do"] == "crash" and crash["role"] == "coordinator" and crash["after"] == "vote"
    assert [p["protocol"] for p in body["plans"]] == ["2pc", "3pc"]
    for p in body["plans"]:
        outcome = p["outcomes"][1]
        assert outcome["status"] == "applied" and outcome["nodes"] == ["c"], p["protocol"]
        scenario = from_token(p["token"])          # the frame's run: that crash, at that moment
        assert scenario.protocol == p["protocol"]
        assert {"at": outcome["at"], "do": "crash", "node": "c"} in scenario.actions
        assert p["until"] == scenario.until == body["schedule"]["until"]
    two, three = (p["costs"] for p in body["plans"])
    # The same crash: 3PC decides while 2PC waits in doubt for its coordinator to come back.
    assert three["decided_ms"] < two["decided_ms"]
    assert two["blocked_ms"] > three["blocked_ms"] > 0


def test_the_page_frames_each_run_and_the_frames_may_be_framed_by_this_site_only(http):
    r = http.get(f"/compare?{CRASH}")
    assert r.status_code == 200
    html = r.get_data(as_text=True)
    data = json.loads(re.search(r'<script id="compare-data" type="application/json">(.*?)</script>',
                                html, re.DOTALL).group(1))
    srcs = re.findall(r'<iframe class="compare-frame" src="([^"]+)"', html)
    assert srcs == [f"/play/{p['protocol']}?s={p['token']}&amp;embed=1" for p in data["plans"]]
    assert r.headers["X-Frame-Options"] == "DENY"               # the page itself is framed by no one
    framed = http.get(srcs[0].replace("&amp;", "&"))
    assert framed.status_code == 200
    assert framed.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert "frame-ancestors 'self'" in framed.headers["Content-Security-Policy"]
    assert '"embed": true' in framed.get_data(as_text=True)
    assert http.get("/play/2pc").headers["X-Frame-Options"] == "DENY"


def test_no_query_compares_2pc_and_3pc_under_the_coordinator_crash(http):
    assert plan(http, "").get_json() == plan(http, CRASH).get_json()
    assert "/play/3pc?s=" in http.get("/compare").get_data(as_text=True)


def test_a_role_the_protocol_lacks_is_reported_not_guessed(http):
    schedule = {"until": 4000, "items": [{"at": 100, "do": "request"}, {"at": 300, "do": "crash", "role": "leader"}]}
    r = plan(http, schedule_query(schedule))
    assert r.status_code == 200
    for p in r.get_json()["plans"]:
        assert p["outcomes"][1] == {"index": 1, "do": "crash", "status": "no_role", "what": "leader"}
        assert not any(a["do"] == "crash" for a in from_token(p["token"]).actions)


def test_the_page_s_form_keeps_a_link_s_own_schedule(http):
    schedule = {"until": 3000, "items": [{"at": 100, "do": "request"}, {"at": 150, "do": "crash", "role": "coordinator"}]}
    html = http.get(f"/compare?{schedule_query(schedule)}").get_data(as_text=True)
    value = re.search(r'name="schedule" id="cf-schedule" value="([^"]+)"', html).group(1)
    assert json.loads(html_lib.unescape(value)) == schedule
    # Submitted as it stands: faults= empty (the "own schedule" choice), the boxes, the schedule.
    r = http.get("/compare?" + urllib.parse.urlencode(
        [("protocol", "2pc"), ("protocol", "3pc"), ("faults", ""), ("schedule", html_lib.unescape(value))]))
    assert r.status_code == 200


def test_a_schedule_may_come_as_a_token(http):
    schedule = {"until": 3000, "items": [{"at": 100, "do": "request"},
                                         {"at": 150, "do": "crash", "role": "participant:2"}]}
    r = plan(http, f"protocols=2pc,3pc&schedule={encode_token(schedule)}")
    assert r.status_code == 200
    assert r.get_json()["schedule"] == schedule
    assert r.get_json()["plans"][0]["outcomes"][1]["nodes"] == ["p2"]


@pytest.mark.parametrize("query, words", [
    ("protocols=2pc,nope&faults=coordinator_crash", "no protocol called “nope”"),
    ("protocols=2pc&faults=coordinator_crash", "2 to 4 protocols at once, not 1"),
    ("protocols=2pc,3pc,2pc,3pc,2pc&faults=coordinator_crash", "not 5"),
    ("protocols=2pc,2pc", "listed twice"),
    ("protocols=2pc,3pc&faults=meteor", "no fault class called “meteor”"),
    ("protocols=2pc,3pc&run=-1", "run must be a whole number"),
    ("protocols=2pc,3pc&seed=abc", "seed must be a whole number"),
    ("protocols=2pc,3pc&schedule=%7B%22until%22%3A", "cannot be read"),
    ("protocols=2pc,3pc&schedule=!!!", "cannot be read"),
    (schedule_query({"until": 100_000, "items": []}), "at most 30 s"),
    (schedule_query({"until": 5000, "items": [{"at": 1, "do": "heal"}] * 41}), "at most 40 items"),
    (schedule_query({"until": 5000, "items": [{"at": 1, "do": "explode"}]}), "not valid"),
    (schedule_query({"until": 5000, "items": [{"at": 900, "do": "request"}, {"at": 500, "do": "heal"}]}),
     "time order"),
    ("protocols=2pc,3pc&faults=none&schedule=%7B%7D", "not both"),
])
def test_bad_input_is_refused_with_a_sentence_never_a_500(http, query, words):
    r = plan(http, query)
    assert r.status_code == 400, r.get_data(as_text=True)
    assert words in r.get_json()["error"]
    page = http.get(f"/compare?{query}")
    assert page.status_code == 400
    assert "error-message" in page.get_data(as_text=True)


def test_every_refusal_the_page_shows_is_translated(http):
    en, zh = (json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8")) for lang in ("en", "zh"))
    r = plan(http, "protocols=2pc,3pc&faults=meteor")
    key = r.get_json()["key"]
    assert key in en and key in zh and "{name}" in zh[key]
    assert "error:Cannot compare these protocols" in zh


def test_a_protocol_without_a_comparison_is_refused(http, monkeypatch):
    # Every built-in protocol declares one; a protocol loaded from a file may not.
    from engine.protocols import load_protocol_file
    monkeypatch.setattr(registry, "_extra", dict(registry._extra))
    name = load_protocol_file(str(ROOT / "examples" / "mutex.py")).name
    assert registry.get(name).compare is None
    r = plan(http, f"protocols=2pc,{name}&faults=coordinator_crash")
    assert r.status_code == 400
    assert "cannot be compared" in r.get_json()["error"]
    # ...and the page's form offers only the protocols that can be.
    html = http.get("/compare").get_data(as_text=True)
    offered = re.findall(r'name="protocol" value="([^"]+)"', html)
    assert "2pc" in offered and name not in offered
    assert all(registry.get(n).compare is not None for n in offered)


def test_the_cache_is_bounded_and_keeps_the_recent_ones():
    cache = PlanCache(3)
    for i in range(5):
        cache.put(str(i), {"i": i})
    assert list(cache.items) == ["2", "3", "4"]
    assert cache.get("2") == {"i": 2}                # a hit is the most recent now
    cache.put("5", {"i": 5})
    assert list(cache.items) == ["4", "2", "5"]
    assert CACHE_SIZE <= 256


def test_the_app_s_cache_stays_within_its_size():
    app = create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                      "PLAYGROUND_LIMITS": {"compare_cpu_burst_ms": 1e9}})
    http = app.test_client()
    first = plan(http, "protocols=2pc,3pc&faults=none&seed=0").get_json()
    for seed in range(1, CACHE_SIZE + 5):
        assert plan(http, f"protocols=2pc,3pc&faults=none&seed={seed}").status_code == 200
    cache = app.extensions["playground_compare"]["cache"]
    assert len(cache.items) == CACHE_SIZE
    assert plan(http, "protocols=2pc,3pc&faults=none&seed=0").get_json() == first   # recomputed, the same


def test_an_address_that_spent_its_engine_time_is_told_to_wait_but_cached_answers_stay_free(clock):
    # A budget smaller than any comparison: the first goes through (into debt), the next waits.
    app = create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False,
                      "PLAYGROUND_LIMITS": {"compare_cpu_burst_ms": 0.5, "compare_cpu_rate_ms": 100.0}})
    app.extensions["playground"].manager.clock = clock
    http = app.test_client()
    assert plan(http, CRASH).status_code == 200
    r = plan(http, "protocols=2pc,3pc&faults=none")
    assert r.status_code == 429 and int(r.headers["Retry-After"]) >= 1
    assert "wait" in r.get_json()["error"]
    page = http.get("/compare?protocols=2pc,3pc&faults=none")
    assert page.status_code == 429 and "error.page.compare.busy" in page.get_data(as_text=True)
    assert plan(http, CRASH).status_code == 200                      # cached: costs nothing
    assert plan(http, "protocols=2pc,3pc&faults=none", addr="10.0.0.2").status_code == 200   # another address
    clock.advance(600)                                              # the debt is paid back
    assert plan(http, "protocols=2pc,3pc&faults=none").status_code == 200


def test_a_fault_class_on_the_page_is_the_compare_commands_run(http):
    """The page and `python -m engine compare` measure the same run i of a class (same
    cluster size, same seed): the numbers a student sees beside the frames are the table's."""
    from engine.compare import FAMILY_BASE, family_of, run_one, schedule_for
    r = plan(http, "protocols=raft,zab&faults=coordinator_crash&run=2&seed=3")
    assert r.status_code == 200
    for p in r.get_json()["plans"]:
        family = family_of(registry.get(p["protocol"]))
        want = run_one(p["protocol"], schedule_for("coordinator_crash", 2, family), 3 + 2, FAMILY_BASE.get(family))
        assert p["costs"] == want["costs"], p["protocol"]
        assert from_token(p["token"]).to_dict()["actions"] == want["scenario"]["actions"]
