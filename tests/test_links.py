"""Share links made once open the same run forever, or say why not (tests/golden/links.json).

Each link was made with the tools of its day (tests/golden/record_links.py) and
is never re-made: its token, the behaviour version of its protocol it was made
with, the scenario it decodes to and the sha256 of the trace it opens to. While
the protocol's behaviour is still that version, the link must open the same
run, byte for byte. After a bump the link replays under the new rules, and the
fixture must say so explicitly: {"migrated": {"to", "sha256", "why"}}.
"""

import json

import pytest

from engine import from_token, registry
from engine.scenario import decode_token
from tests.golden.record_behaviour import shipped
from tests.golden.record_links import FILE, link_sha256

LINKS = json.loads(FILE.read_text(encoding="utf-8"))["links"]
MIGRATE = "python tests/golden/record_links.py --migrate {p} --why '...'"


def verdict(link: dict, now: int, sha: str, decoded: dict) -> list[str]:
    """What is wrong with a kept link opened today (empty: nothing). `now` is its protocol's
    behaviour version today, `sha` the sha256 of the trace it opens to, `decoded` its scenario."""
    name, made = link["name"], link["made_with"]
    if now < made:
        return [f"{name}: made with behaviour {made} but {link['protocol']} is at {now}: versions only go up"]
    if now == made:
        want, scenario, how = link["sha256"], link["scenario"], f"while {link['protocol']} is still at behaviour {made}"
    else:
        m = link.get("migrated")
        if not m or m.get("to") != now:
            state = f"migrated to {m.get('to')}" if m else "not migrated"
            return [f"{name}: {link['protocol']} is at behaviour {now} but this link, made with {made}, is "
                    + f"{state}: look at the run it opens now, then record it with "
                    + f"`{MIGRATE.format(p=link['protocol'])}`"]
        want, scenario, how = m["sha256"], m.get("scenario", link["scenario"]), f"as migrated to {now} ({m['why']})"
    problems = []
    if decoded != scenario:
        problems.append(f"{name}: the token decodes to another scenario than it did {how}")
    if sha != want:
        problems.append(f"{name}: the link opens a different run than it did {how}; it changed without "
                        f"a behaviour bump and migration (tests/test_behaviour_versions.py says how)")
    return problems


def test_every_protocol_has_kept_links_of_each_kind():
    for proto in shipped():
        mine = [link for link in LINKS if link["protocol"] == proto.name]
        assert len(mine) >= 2, f"{proto.name} has no kept links: run python tests/golden/record_links.py"
        # A lesson with a person's faults added, and a random fault schedule with no lesson.
        assert not proto.presets or any("preset" in link["scenario"] for link in mine), proto.name
        assert any("preset" not in link["scenario"] and len(link["scenario"]["actions"]) >= 5
                   for link in mine), proto.name
        assert all(any(a["do"] in ("crash", "partition", "drop") for a in link["scenario"]["actions"])
                   for link in mine), proto.name
    assert len({link["name"] for link in LINKS}) == len(LINKS)


@pytest.mark.parametrize("link", LINKS, ids=[link["name"] for link in LINKS])
def test_a_kept_link_opens_the_same_run_or_says_it_was_migrated(link):
    proto = registry.get(link["protocol"])
    scenario = from_token(link["token"])
    assert scenario.protocol == link["protocol"]
    assert scenario.behaviour == link["made_with"], "the token must still say which version made it"
    problems = verdict(link, proto.behaviour, link_sha256(link["token"]), scenario.to_dict())
    assert problems == [], "\n".join(problems)


def test_links_made_today_carry_their_version_without_a_v_while_it_is_1():
    """A link made at version 1 has no "v" (no "v" means 1, for every link made before versions
    existed), so links made today are the same bytes as before; later versions write "v"."""
    for link in LINKS:
        data = decode_token(link["token"])
        assert data.get("v", 1) == link["made_with"]


@pytest.mark.parametrize("link", LINKS, ids=[link["name"] for link in LINKS])
def test_a_kept_link_opens_its_page(http, link):
    r = http.get(f"/play/{link['protocol']}?s={link['token']}")
    assert r.status_code == 200
    assert link["token"] in r.get_data(as_text=True)      # the boot data hands it to the page


# ---------------------------------------------------------------- the check itself can fail

LINK = {"name": "raft/x", "protocol": "raft", "token": "t", "made_with": 1, "scenario": {"a": 1}, "sha256": "1" * 64}


def test_a_changed_run_at_the_same_version_fails():
    problems = verdict(LINK, 1, "2" * 64, {"a": 1})
    assert len(problems) == 1 and "raft/x" in problems[0] and "different run" in problems[0]


def test_a_token_that_decodes_differently_fails():
    assert "another scenario" in verdict(LINK, 1, "1" * 64, {"a": 2})[0]


def test_a_bump_needs_a_migration_record_that_is_then_checked():
    assert "not migrated" in verdict(LINK, 2, "1" * 64, {"a": 1})[0]
    migrated = {**LINK, "migrated": {"to": 2, "sha256": "3" * 64, "why": "votes persist first"}}
    assert verdict(migrated, 2, "3" * 64, {"a": 1}) == []
    assert "votes persist first" in verdict(migrated, 2, "1" * 64, {"a": 1})[0]
    # A second bump needs the link looked at again.
    assert "migrated to 2" in verdict(migrated, 3, "3" * 64, {"a": 1})[0]


def test_a_version_going_back_fails():
    assert "only go up" in verdict({**LINK, "made_with": 3}, 2, "1" * 64, {"a": 1})[0]


def test_the_command_line_opens_a_link_of_another_version_and_says_so_on_stderr(monkeypatch):
    import io

    from engine.cli import main
    from engine.scenario import encode_token

    data = {"protocol": "raft", "preset": "leader_crash"}
    runs = {}
    for v in (None, 1, registry.get("raft").behaviour + 1):
        out, err = io.StringIO(), io.StringIO()
        token = encode_token(data if v is None else {**data, "v": v})
        assert main(["run", "--token", token, "--jsonl"], out=out, err=err) == 0
        runs[v] = out.getvalue(), err.getvalue()
    assert runs[None] == runs[1] and runs[None][1] == ""        # no "v" is version 1, today's
    newer = runs[registry.get("raft").behaviour + 1]
    assert newer[0] == runs[None][0]                            # the same run: today's rules
    assert "made with a newer version of raft's behaviour" in newer[1] and newer[1].count("\n") == 1
    raft = registry.get("raft")
    monkeypatch.setattr(raft, "behaviour", 2)
    monkeypatch.setitem(raft.strings, "behaviour.2", {"en": "Votes are persisted first.", "zh": "先持久化投票。"})
    out, err = io.StringIO(), io.StringIO()
    assert main(["run", "--token", encode_token(data), "--jsonl"], out=out, err=err) == 0
    assert "an earlier version" in err.getvalue() and "What changed: Votes are persisted first." in err.getvalue()
