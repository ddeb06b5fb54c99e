"""/guide: which pattern when, from measured runs (playground/guide.py, bench/guide_data.py).

The page must link only to runs that exist, say plainly which protocols are not
measured, show the numbers of the committed data file, and that file must be what
the engine produces now (bench/guide_data.py --check; about 1-2 s on a 2-core
machine with 2PC and 3PC measured; docs/guide.md gives the estimate with every
protocol measured)."""

import html
import json
import re
from pathlib import Path

import pytest

from bench import guide_data
from engine import ScenarioError, registry
from playground import guide

ROOT = Path(__file__).resolve().parent.parent
RUN_LINK = re.compile(r'href="/play/([a-z0-9_]+)\?preset=([a-z0-9_]+)"')
HALF_WIDTH = re.compile(r"(?<=[\u4e00-\u9fff])[,;:()!?]|[,;:()!?](?=[\u4e00-\u9fff])")


def committed() -> dict:
    return json.loads((ROOT / "static" / "data" / "guide.json").read_text(encoding="utf-8"))


def words(lang: str) -> dict:
    return json.loads((ROOT / "static" / "i18n" / f"guide.{lang}.json").read_text(encoding="utf-8"))


@pytest.fixture
def page(app):
    resp = app.test_client().get("/guide")
    assert resp.status_code == 200
    return resp.get_data(as_text=True)


def row(page_html: str, table: str, protocol: str) -> str:
    """The HTML of one protocol's row in one of the guide's tables."""
    body = page_html.split(f'id="{table}"', 1)[1].split("</table>", 1)[0]
    m = re.search(rf'<tr data-protocol="{protocol}">(.*?)</tr>', body, re.DOTALL)
    assert m, f"{protocol} has no row in {table}"
    return m.group(1)


def text(fragment: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


# ---------------------------------------------------------------- links to runs

def test_every_run_link_names_a_real_protocol_and_preset_and_opens(app, page):
    links = sorted(set(RUN_LINK.findall(page)))
    assert len(links) >= 60          # cases, every pattern row, every consensus claim
    client = app.test_client()
    for name, preset in links:
        assert preset in [p.name for p in registry.get(name).presets], f"/play/{name}?preset={preset}"
        assert client.get(f"/play/{name}?preset={preset}").status_code == 200, (name, preset)


def test_each_case_links_its_patterns_side_by_side_and_the_comparison_runs(app, page):
    links = re.findall(r'href="/compare\?([^"]+)" data-compare="([a-z]+)"', page)
    assert [case for _, case in links] == ["transfer", "booking", "event"]
    client = app.test_client()
    for query, case in links:
        r = client.get("/api/compare/plan?" + html.unescape(query))
        assert r.status_code == 200, (case, r.get_json())
        plans = r.get_json()["plans"]
        assert all(o["status"] == "applied" for p in plans for o in p["outcomes"]), case
        assert client.get("/compare?" + html.unescape(query)).status_code == 200


def test_every_pattern_and_consensus_row_links_runs_of_its_own_protocol(page):
    for p in guide.PATTERNS:
        links = RUN_LINK.findall(row(page, "tx-table", p["id"]))
        assert {name for name, _ in links} == {p["id"]} and len(links) >= 3, p["id"]
    for p in guide.CONSENSUS:
        r = row(page, "cons-table", p["id"])
        assert {name for name, _ in RUN_LINK.findall(r)} == {p["id"]}, p["id"]
        # Every claim but reconfiguration (which our engine does not model) names a run.
        for col in guide.CONS_COLUMNS:
            assert p["claims"][col] or col == "reconfig", (p["id"], col)


def test_the_three_cases_name_their_pattern_and_link_a_run_that_shows_why(page):
    for case, wanted in (("transfer", {"2pc", "tcc"}), ("booking", {"saga"}), ("event", {"outbox", "mq_tx"})):
        body = page.split(f'data-case="{case}"', 1)[1].split("</article>", 1)[0]
        linked = {name for name, _ in RUN_LINK.findall(body)}
        assert wanted <= linked, (case, linked)
    assert "/play/2pc?preset=coordinator_crash" in page       # why 2PC blocks
    assert "/play/saga?preset=dirty_read" in page              # why a saga is not isolated
    assert "/play/outbox?preset=dual_write_commit_first_crash" in page   # why not a dual write


def test_reconfiguration_is_said_to_be_not_modelled_where_it_is_not():
    en, zh = words("en"), words("zh")
    for p in guide.CONSENSUS:
        key = f"guide.cons.{p['id']}.reconfig"
        if p["id"] == "humming":      # deciding the chain's membership is what it does
            continue
        assert "Not modelled in our engine" in en[key] and "我们的引擎没有模拟" in zh[key], key


# ---------------------------------------------------------------- numbers from the data file

def test_measured_numbers_come_from_the_data_file(page):
    data = committed()
    cells = {(r["faults"], r["protocol"]): r["metrics"] for fam in data["families"].values() for r in fam["rows"]}
    assert ("none", "2pc") in cells
    for name in data["families"]["transactions"]["measured"]:
        r = text(row(page, "tx-table", name))
        for faults, metric in (("none", "decided_ms"), ("coordinator_crash", "decided_ms"), ("none", "messages")):
            s = cells[(faults, name)][metric]
            assert f"{s['median']:g}" in r, (name, faults, metric, r)
    assert f"--runs {data['runs']} --seed {data['seed']}" in text(page)


def test_a_protocol_without_a_comparison_is_shown_as_not_measured(page):
    data = committed()      # (once every protocol is measured, the fabricated file below keeps a case)
    for name in data["not_measured"]:
        assert not registry.get(name).compare
        tables = [t for t, ps in (("tx-table", guide.PATTERNS), ("cons-table", guide.CONSENSUS))
                  if any(p["id"] == name for p in ps)]
        for t in tables:
            assert 'data-i18n="guide.not_measured"' in row(page, t, name), name
        assert f'class="nm-name" data-protocol="{name}"' in page, name


def test_the_data_file_holds_every_protocol_that_declares_a_comparison():
    data = committed()
    measured = {n for fam in data["families"].values() for n in fam["measured"]}
    for proto in registry.all():
        if proto.category in ("transactions", "consensus") and proto.compare is not None:
            assert proto.name in measured, f"{proto.name} declares a comparison but is not in the guide's data"
    for fam in data["families"].values():
        assert {(r["faults"], r["protocol"]) for r in fam["rows"]} == {
            (f, n) for f in fam["faults"] for n in fam["measured"]}


def fabricated(behaviour_raft: int) -> dict:
    """A data file in which Raft is measured (as it will be once it declares a comparison)."""
    s = lambda m, p=None: {"median": m, "p95": m if p is None else p, "undefined": 0}
    metrics = dict.fromkeys(guide_data.METRICS)
    rows = [{"faults": "none", "protocol": "raft", "runs": 3, "missing": {},
             "metrics": {**metrics, "messages": s(80, 96), "leaderless_ms": s(0)}},
            {"faults": "coordinator_crash", "protocol": "raft", "runs": 3, "missing": {"no_role:follower": 2},
             "metrics": {**metrics, "messages": s(120), "leaderless_ms": s(310, 402)}},
            {"faults": "partition", "protocol": "raft", "runs": 3, "missing": {},
             "metrics": {**metrics, "messages": s(100), "served": s(0.75, 0.5)}}]
    return {"format": 1, "command": "python bench/guide_data.py --runs 3 --seed 7", "runs": 3, "seed": 7,
            "metrics": list(guide_data.METRICS), "not_measured": {"paxos": "declares no comparison"},
            "behaviour": {"raft": behaviour_raft},
            "families": {"transactions": {"protocols": [], "measured": [], "faults": ["none"], "units": 2, "rows": []},
                         "consensus": {"protocols": ["paxos", "raft"], "measured": ["raft"], "units": 8,
                                       "faults": ["none", "coordinator_crash", "partition"], "rows": rows}}}


def test_a_measured_consensus_protocol_shows_per_write_cost_leaderless_time_and_served_share(app, monkeypatch):
    monkeypatch.setattr(guide, "data", lambda: fabricated(registry.get("raft").behaviour))
    page = app.test_client().get("/guide").get_data(as_text=True)
    r = text(row(page, "cons-table", "raft"))
    assert "10.0 · 12.0" in r          # 80 (p95 96) messages over the 8 writes of the run
    assert "310 · 402" in r            # no leader after the leader crash
    assert "75% · 50%" in r            # writes served while the leader was cut off
    assert 'data-i18n="guide.not_measured"' in row(page, "cons-table", "paxos")
    assert "--runs 3 --seed 7" in text(page)
    assert "guide.missing.no_role" in page and "has no follower role" in text(page)
    assert 'data-i18n="guide.stale"' not in page


def test_a_protocol_changed_since_the_measurement_is_flagged(app, monkeypatch):
    now = registry.get("raft").behaviour
    monkeypatch.setattr(guide, "data", lambda: fabricated(now + 1))
    page = app.test_client().get("/guide").get_data(as_text=True)
    assert 'data-i18n="guide.stale"' in page
    assert f"behaviour version {now + 1}, now {now}" in text(page)


def test_the_page_still_renders_without_a_data_file(app, monkeypatch):
    monkeypatch.setattr(guide, "data", lambda: None)
    page = app.test_client().get("/guide").get_data(as_text=True)
    assert 'data-i18n="guide.no_data"' in page
    assert 'data-i18n="guide.not_measured"' in row(page, "tx-table", "2pc")


# ---------------------------------------------------------------- the data file and its script

def test_the_committed_data_file_is_what_the_engine_produces(capsys):
    code = guide_data.main(["--check", "--jobs", "2"])      # the committed runs and seed
    assert code == 0, capsys.readouterr().err


def test_a_protocol_whose_schedule_fails_stops_the_script_and_is_named(tmp_path, monkeypatch, capsys):
    def broken(protocols, faults, runs, seed):
        raise ScenarioError("item 3 falls at t=196, before the item above it")
    monkeypatch.setattr(guide_data.cmp, "compare", broken)
    out = tmp_path / "guide.json"
    assert guide_data.main(["--runs", "1", "--out", str(out)]) == 2
    assert "cannot measure 2pc: item 3 falls at t=196" in capsys.readouterr().err
    assert not out.exists()


def test_check_names_what_differs_in_a_stale_file(tmp_path, capsys):
    out = tmp_path / "guide.json"
    assert guide_data.main(["--runs", "2", "--out", str(out)]) == 0
    data = json.loads(out.read_text(encoding="utf-8"))
    assert out.read_text(encoding="utf-8") == guide_data.dump(data)      # stable bytes
    row0 = data["families"]["transactions"]["rows"][0]
    row0["metrics"]["messages"]["median"] += 1
    out.write_text(guide_data.dump(data), encoding="utf-8")
    capsys.readouterr()
    assert guide_data.main(["--check", "--out", str(out)]) == 1
    err = capsys.readouterr().err
    assert "is stale" in err
    assert f"rows[{row0['faults']}/{row0['protocol']}].metrics.messages.median" in err


def test_jobs_do_not_change_the_output():
    assert guide_data.dump(guide_data.build(2, 3, jobs=1)) == guide_data.dump(guide_data.build(2, 3, jobs=2))


# ---------------------------------------------------------------- words in both languages

def test_both_languages_have_the_same_keys_placeholders_and_no_empty_value():
    en, zh = words("en"), words("zh")
    assert set(en) == set(zh), sorted(set(en) ^ set(zh))
    for k in en:
        assert en[k].strip() and zh[k].strip(), k
        assert en[k] != zh[k], k
        assert set(re.findall(r"\{(\w+)\}", en[k])) == set(re.findall(r"\{(\w+)\}", zh[k])), k


def test_chinese_uses_full_width_punctuation():
    bad = {k: v for k, v in words("zh").items() if HALF_WIDTH.search(v)}
    assert bad == {}


def test_every_key_the_page_uses_has_words(page):
    en = words("en")
    used = set(re.findall(r'data-i18n="(guide\.[a-z0-9_.]+)"', page))
    used |= set(re.findall(r"data-i18n-attr=\"title:(guide\.[a-z0-9_.]+)\"", page))
    template = (ROOT / "templates" / "guide.html").read_text(encoding="utf-8")
    used |= {k for k in re.findall(r"'(guide\.[a-z0-9_.]+)'", template) if not k.endswith(".")}
    for c in guide.CASES:
        used |= {f"guide.case.{c['id']}.{k}" for k in ("title", "pick", "why")}
    for p in guide.PATTERNS:
        used |= {f"guide.tx.{p['id']}.{k}" for k in guide.TX_COLUMNS}
    for p in guide.CONSENSUS:
        used |= {f"guide.cons.{p['id']}.{k}" for k in guide.CONS_COLUMNS}
    used |= {f"guide.fault.{f}" for f in ("none", "coordinator_crash", "participant_crash", "partition",
                                          "message_loss", "duplicate", "business_failure")}
    used |= {f"guide.metric.{m}" for m in guide_data.METRICS}
    assert sorted(used - set(en)) == []
    # and the page's embedded dictionary carries both languages of every one it shows
    m = re.search(r'<script class="page-strings" type="application/json">(.*?)</script>', page, re.DOTALL)
    embedded = json.loads(m.group(1))
    for key in set(re.findall(r'data-i18n="((?:guide\.|p:)[^"]+)"', page)):
        assert embedded.get(key, {}).get("zh"), key


def test_the_gallery_links_to_the_guide_in_both_languages(app):
    page = app.test_client().get("/").get_data(as_text=True)
    assert 'href="/guide"' in page
    m = re.search(r'<script class="page-strings" type="application/json">(.*?)</script>', page, re.DOTALL)
    assert json.loads(m.group(1))["guide.link"] == {"en": "Guide", "zh": "指南"}


def test_a_fault_with_nothing_to_hit_is_not_passed_off_as_a_measurement(page):
    """The outbox has no coordinator: under "the coordinator crashes" its figures are the
    fault-free run's, so the case table says the fault was not applied instead of a number;
    the business failure had no service that can refuse there either."""
    case = page.split('data-case="event"', 1)[1].split("</article>", 1)[0]
    outbox = re.search(r'p:outbox:title">.*?</tr>', case, re.DOTALL).group(0)
    assert "no coordinator role: fault not applied" in text(outbox)
    assert "no coordinator role: fault not applied" not in text(row(page, "tx-table", "2pc"))
    assert "fault not applied" in text(row(page, "tx-table", "outbox"))
