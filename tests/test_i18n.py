"""The page's own dictionaries (static/i18n/*.json): same keys in every
language, same placeholders, and a translation for every skip reason the
engine can give."""

import json
import re
from pathlib import Path

import pytest

from engine import from_dict
from engine.sim import Simulation

I18N = Path(__file__).resolve().parent.parent / "static" / "i18n"
SKIP_REASONS = ("already_crashed", "not_crashed", "not_in_flight", "node_crashed", "timer_not_armed")


def load(lang):
    return json.loads((I18N / f"{lang}.json").read_text(encoding="utf-8"))


def placeholders(text):
    return set(re.findall(r"\{(\w+)\}", text))


def test_english_and_chinese_have_the_same_keys_and_placeholders():
    en, zh = load("en"), load("zh")
    assert set(en) == set(zh), sorted(set(en) ^ set(zh))
    for k in en:
        assert en[k] and zh[k], k
        assert placeholders(en[k]) == placeholders(zh[k]), k


def test_every_key_the_server_and_the_page_name_is_translated():
    """Keys written out in the code: a server refusal or error page ("refused.*", "error.page.*")
    and the page's t('...') calls. (Keys built from parts are checked by the tests of what emits them.)"""
    root = I18N.parent.parent
    en = load("en")
    named = set()
    for py in (root / "playground").glob("*.py"):
        named |= set(re.findall(r'"((?:refused|error\.page)\.[a-z_.]+)"', py.read_text(encoding="utf-8")))
    for js in (root / "static" / "js").glob("*.js"):
        named |= set(re.findall(r"\bt\('([a-z_]+\.[a-z_.]+)'", js.read_text(encoding="utf-8")))
    assert len(named) > 50                       # the patterns still find the code's keys
    assert sorted(named - set(en)) == []


@pytest.mark.parametrize("lang", ["en", "zh"])
def test_every_skip_reason_has_a_translation(lang):
    d = load(lang)
    assert "engine.skipped" in d
    for why in SKIP_REASONS:
        assert f"engine.skipped.{why}" in d, why
        assert "do" in placeholders(d[f"engine.skipped.{why}"]), why


def test_skip_notes_the_engine_emits_fill_their_translations():
    acts = [{"at": 1, "do": "restart", "node": "p1"}, {"at": 2, "do": "crash", "node": "c"},
            {"at": 3, "do": "crash", "node": "c"}, {"at": 4, "do": "request", "node": "c", "op": "begin"},
            {"at": 5, "do": "timeout", "node": "p1", "timer": "query"}, {"at": 6, "do": "drop", "msg": 999}]
    sim = Simulation(from_dict({"protocol": "2pc", "until": 500, "actions": acts})).run()
    notes = [e["args"] for e in sim.trace if e["type"] == "note" and e["key"] == "engine.skipped"]
    assert {a["why"] for a in notes} == set(SKIP_REASONS)
    en, zh = load("en"), load("zh")
    for args in notes:
        key = f"engine.skipped.{args['why']}"
        assert placeholders(en[key]) <= set(args), key
        assert placeholders(zh[key]) <= set(args), key


# ASCII , ; : ( ) ! ? next to a Chinese character: Chinese text takes the full-width forms.
HALF_WIDTH = re.compile(r"(?<=[\u4e00-\u9fff])[,;:()!?]|[,;:()!?](?=[\u4e00-\u9fff])")


def test_chinese_text_uses_full_width_punctuation():
    from engine import registry
    texts = {f"static/i18n/zh.json {k}": v for k, v in load("zh").items()}
    for proto in registry.all(include_hidden=True):
        if not type(proto).__module__.startswith("engine.protocols."):
            continue   # a test-only protocol another test module registered
        texts.update({f"{proto.name} {k}": v["zh"] for k, v in proto.strings.items()})
    bad = [f"{where}: {text}" for where, text in texts.items() if HALF_WIDTH.search(text)]
    assert bad == []


def test_every_canvas_label_a_preset_shows_is_translated_with_its_arguments():
    from engine import registry
    for proto in registry.all(include_hidden=True):
        if not type(proto).__module__.startswith("engine.protocols."):
            continue
        seen = set()
        for p in proto.presets:
            sim = Simulation(from_dict({"protocol": proto.name, "preset": p.name})).run()
            for e in sim.trace:
                label = e.get("changes", {}).get("label") if e["type"] == "state" else None
                if isinstance(label, list):
                    key, args = label
                    seen.add(key)
                    s = proto.strings[key]
                    assert placeholders(s["en"]) == placeholders(s["zh"]) == set(args), key
        declared = {k for k in proto.strings if ".label" in k}
        assert seen == declared, (proto.name, declared - seen)


def test_every_tooltip_a_protocol_declares_is_translated():
    """Field, parameter and request help (English in the declarations) has both languages."""
    from engine import registry
    for proto in registry.all():
        keys = {f"field.{f.name}.help": f.help for f in proto.fields if f.help}
        keys.update({f"param.{p.name}.help": p.help for p in proto.params if p.help})
        keys.update({f"op.{o.name}.help": o.help for o in proto.operations if o.help})
        keys.update({f"op.{o.name}.arg": None for o in proto.operations if o.arg})
        for key, english in keys.items():
            s = proto.strings.get(key)
            assert s and s["en"] and s["zh"] and s["en"] != s["zh"], (proto.name, key)
            assert english is None or s["en"] == english, (proto.name, key)   # one English text, not two


def test_every_timer_a_preset_fires_has_a_name_in_both_languages():
    from engine import registry
    for proto in registry.all():
        fired = set()
        for p in proto.presets:
            sim = Simulation(from_dict({"protocol": proto.name, "preset": p.name})).run()
            fired |= {e["name"] for e in sim.trace if e["type"] == "timer"}
        assert fired, proto.name
        for name in fired | set(proto.timers):
            s = proto.strings.get(f"timer.{name}")
            assert s and s["en"] and s["zh"], (proto.name, name)


def test_a_forced_timer_is_marked_in_the_trace():
    acts = [{"at": 100, "do": "request", "node": "c", "op": "begin", "arg": "x"},
            {"at": 105, "do": "timeout", "node": "c", "timer": "vote_timeout"}]
    sim = Simulation(from_dict({"protocol": "2pc", "until": 2000, "actions": acts})).run()
    timers = [e for e in sim.trace if e["type"] == "timer"]
    assert [(e["t"], e.get("forced")) for e in timers if e["name"] == "vote_timeout"] == [(105, True)]
    assert all("forced" not in e for e in timers if e["t"] != 105)
