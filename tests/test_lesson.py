"""Guided lessons in the engine: chapters declared by presets and found in their own traces,
key_notes, a teacher's lesson in the scenario (validated, carried in share tokens) and the
rule that a lesson never changes a run."""

import hashlib
import json
import re

import pytest

from engine import ScenarioError, from_dict, from_json, from_token, limits, registry
from engine.lesson import Chapters, chapters_for, stop_reason
from engine.sim import run_scenario

GUIDED = [("raft", "figure8"), ("raft", "figure8_bug"), ("2pc", "coordinator_crash")]
ASCII_PUNCT = re.compile(r"[,;:!?()]")     # Chinese text takes full-width punctuation


def trace_hash(scenario) -> str:
    return hashlib.sha256(json.dumps(run_scenario(scenario).trace, sort_keys=True).encode()).hexdigest()


def test_every_protocol_declares_key_notes_it_has_strings_for():
    for p in registry.all():
        assert p.key_notes, f"{p.name} declares no key_notes"
        d = p.describe()
        assert d["key_notes"] == list(p.key_notes)
        for k in p.key_notes:
            assert k in p.strings, (p.name, k)


@pytest.mark.parametrize("proto_name, preset", GUIDED)
def test_guided_presets_describe_their_chapters_in_both_languages(proto_name, preset):
    proto = registry.get(proto_name)
    d = next(p for p in proto.describe()["presets"] if p["name"] == preset)
    assert len(d["chapters"]) >= 5
    for i, c in enumerate(d["chapters"], 1):
        assert c["key"] == f"preset.{preset}.chapter.{i}"
        for part in ("title", "body"):
            texts = proto.strings[f"{c['key']}.{part}"]
            assert texts["en"].strip() and texts["zh"].strip()
            assert not ASCII_PUNCT.search(re.sub(r"[A-Za-z0-9_=.\-]+(?: [A-Za-z0-9_=.\-]+)*", "", texts["zh"])), \
                (c["key"], part, texts["zh"])


@pytest.mark.parametrize("proto_name, preset", GUIDED)
def test_each_chapter_is_found_in_its_presets_own_trace(proto_name, preset):
    sc = from_dict({"protocol": proto_name, "preset": preset})
    sim = run_scenario(sc)
    chapters = Chapters(chapters_for(sc, registry.get(proto_name)))
    chapters.feed(sim.trace)
    chapters.reach(sim.now, sim.seq)
    assert len(chapters.found) == chapters.total
    times = [c["t"] for c in chapters.found]
    assert times == sorted(times)


def test_figure8_chapters_are_the_papers_moments():
    sc = from_dict({"protocol": "raft", "preset": "figure8"})
    sim = run_scenario(sc)
    chapters = Chapters(chapters_for(sc, registry.get("raft")))
    chapters.feed(sim.trace)
    by_seq = {e["seq"]: e for e in sim.trace}
    fired = [by_seq.get(c["seq"]) for c in chapters.found]
    assert (fired[0]["key"], fired[0]["node"], fired[0]["args"]["term"]) == ("raft.elected", "n1", 1)
    assert (fired[2]["key"], fired[2]["node"], fired[2]["args"]["cmd"]) == ("raft.accept", "n5", "x=3")
    assert (fired[4]["key"], fired[4]["args"]["cmd"]) == ("raft.old_term_majority", "x=2")
    assert (fired[5]["key"], fired[5]["node"], fired[5]["args"]["term"]) == ("raft.elected", "n5", 4)
    assert fired[6]["key"] == "raft.truncate" and "x=2" in fired[6]["args"]["entries"]


def test_stop_reasons():
    stops = {"violation": True, "send": ["Vote"], "state": [{"field": "role", "value": "leader", "node": "n2"}]}
    assert stop_reason(stops, {"type": "violation"}) == "violation"
    assert stop_reason(stops, {"type": "send", "kind": "Vote"}) == "send"
    assert stop_reason(stops, {"type": "send", "kind": "Ack"}) is None
    assert stop_reason(stops, {"type": "state", "node": "n2", "changes": {"role": "leader"}}) == "state"
    assert stop_reason(stops, {"type": "state", "node": "n1", "changes": {"role": "leader"}}) is None
    assert stop_reason({"state": [{"field": "up", "value": 1}]},
                       {"type": "state", "node": "n1", "changes": {"up": True}}) is None   # true is not 1


LESSON = {"chapters": [{"at": 300, "title": {"en": "The crash", "zh": "崩溃"}},
                       {"on": {"note": "2pc.blocked", "node": "p2"}, "title": {"en": "Stuck", "zh": "卡住"},
                        "body": {"en": "p2 waits.", "zh": "p2 在等待。"}},
                       {"on": {"send": "Vote"}, "title": {"en": "A vote", "zh": ""}}],
          "stops": {"chapters": True, "send": ["Vote"]}}


def test_a_lesson_round_trips_through_tokens_and_json():
    sc = from_dict({"protocol": "2pc", "preset": "coordinator_crash", "lesson": LESSON})
    assert sc.lesson["chapters"][0] == {"on": {"at": 300}, "title": {"en": "The crash", "zh": "崩溃"}}
    assert sc.lesson["chapters"][2]["title"] == {"en": "A vote", "zh": ""}
    again = from_token(sc.to_token())
    assert again.lesson == sc.lesson and again.to_token() == sc.to_token()
    assert from_json(sc.to_json()).lesson == sc.lesson
    assert chapters_for(sc, registry.get("2pc"))["source"] == "lesson"


def test_a_lesson_never_changes_the_trace_and_a_plain_link_keeps_its_bytes():
    plain = from_dict({"protocol": "2pc", "preset": "coordinator_crash"})
    taught = from_dict({"protocol": "2pc", "preset": "coordinator_crash", "lesson": LESSON})
    assert trace_hash(plain) == trace_hash(taught)
    assert "lesson" not in plain.to_dict()
    assert plain.to_token() != taught.to_token()
    assert from_dict({"protocol": "2pc", "lesson": {}}).lesson is None


def _with(**changes):
    return {**LESSON, **changes}


@pytest.mark.parametrize("lesson, why", [
    ([], "lesson must be an object"),
    ({"slides": []}, "unknown lesson field"),
    ({"chapters": {}}, "must be a list"),
    ({"chapters": [{"title": {"en": "x"}}] * (limits.MAX_CHAPTERS + 1)}, "too many chapters"),
    ({"chapters": [{"title": {"en": "x", "zh": "x"}}]}, 'exactly one of "at"'),
    ({"chapters": [{"at": 5, "on": {"at": 5}, "title": {"en": "x"}}]}, 'exactly one of "at"'),
    ({"chapters": [{"at": 999_999, "title": {"en": "x"}}]}, "out of range"),
    ({"chapters": [{"at": 5, "title": "x"}]}, "title must be an object"),
    ({"chapters": [{"at": 5, "title": {"en": "", "zh": " "}}]}, "needs a text"),
    ({"chapters": [{"at": 5, "title": {"fr": "x"}}]}, "unknown language"),
    ({"chapters": [{"at": 5, "title": {"en": "x" * (limits.MAX_CHAPTER_TITLE + 1)}}]}, "too long"),
    ({"chapters": [{"at": 5, "title": {"en": "x"}, "body": {"zh": "长" * (limits.MAX_CHAPTER_BODY + 1)}}]},
     "too long"),
    ({"chapters": [{"on": {"note": "2pc.nope"}, "title": {"en": "x"}}]}, "has no note"),
    ({"chapters": [{"on": {"note": "2pc.blocked", "node": "p9"}, "title": {"en": "x"}}]}, "unknown node"),
    ({"chapters": [{"on": {"violation": False}, "title": {"en": "x"}}]}, "must be true"),
    ({"chapters": [{"on": {"send": "Vote", "at": 3}, "title": {"en": "x"}}]}, "exactly one of"),
    ({"chapters": [{"at": 5, "title": {"en": "x"}, "notes": 1}]}, "unknown field"),
    ({"stops": {"pause": True}}, "unknown field"),
    ({"stops": {"send": [3]}}, "must be a string"),
])
def test_bad_lessons_are_one_clear_error(lesson, why):
    with pytest.raises(ScenarioError, match=re.escape(why)):
        from_dict({"protocol": "2pc", "preset": "coordinator_crash", "lesson": lesson})


def test_every_declared_chapter_trigger_is_valid_for_its_preset():
    from engine.scenario import validate_trigger
    for p in registry.all(include_hidden=True):
        for preset in p.presets:
            if not preset.chapters:
                continue
            sc = from_dict({"protocol": p.name, "preset": preset.name})
            ids = p.node_ids(sc.nodes)
            for i, c in enumerate(preset.chapters, 1):
                assert validate_trigger(f"{preset.name} chapter {i}", c, p, ids, sc.until) == c
