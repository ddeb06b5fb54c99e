"""The contract every registered protocol keeps (docs/architecture.md, "Strings" and "Checkers").

Run over every protocol shipped in engine/protocols/: a new protocol is held
to it the moment it is added. Per protocol: every message kind, role, field,
timer, operation, parameter, bug, preset, invariant, note and label has
English and Chinese text with the same placeholders; no string is unused;
each preset runs to its end; each bug toggle is caught by the checker (a
preset that turns it on shows a violation, and random fault schedules find
one); the same scenario gives the same trace twice.
"""

import json
import re
from pathlib import Path

import pytest

from engine import from_dict, fuzz, registry
from engine.sim import Simulation

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = [p for p in registry.all(include_hidden=True) if type(p).__module__.startswith("engine.protocols.")]
TAUGHT = [p for p in SHIPPED if p.category != "demo"]
BUG_CASES = [(p, b.name) for p in TAUGHT for b in p.bugs]
# Keys the page itself reads for every protocol (static/js), not named in a protocol's code.
PAGE_KEYS = {"title", "summary", "params.nodes", "params.nodes.help", "preset.free"}
HALF_WIDTH = re.compile(r"(?<=[\u4e00-\u9fff])[,;:()!?]|[,;:()!?](?=[\u4e00-\u9fff])")
# Fault schedules per bug toggle before "not caught" (measured: the slowest bug needs far fewer).
BUG_RUNS = 150


def placeholders(text):
    return set(re.findall(r"\{(\w+)\}", text))


def ids(protos):
    return [p.name for p in protos]


def _runs(proto):
    """Every preset, free play, and a few random schedules (with and without each bug)."""
    sims = [Simulation(from_dict({"protocol": proto.name})).run()]
    sims += [Simulation(from_dict({"protocol": proto.name, "preset": p.name})).run() for p in proto.presets]
    for seed, bugs in [(1, []), (2, []), (3, [])] + [(4, [b.name]) for b in proto.bugs]:
        scenario, _ = fuzz.random_run(proto.name, seed, bugs=bugs, actions=30)
        sims.append(Simulation(scenario).run())
    return sims


_EMITTED = {}


def emitted(proto):
    """What runs of this protocol emit: message kinds, note and timer keys, label keys, violation keys."""
    if proto.name not in _EMITTED:
        kinds, notes, labels, viols, timers = set(), set(), set(), set(), set()
        for sim in _runs(proto):
            for e in sim.trace:
                if e["type"] == "send":
                    kinds.add(e["kind"])
                elif e["type"] == "timer":
                    timers.add(f"timer.{e['name']}")
                elif e["type"] == "note" and not e["key"].startswith("engine."):
                    notes.add(e["key"])
                elif e["type"] == "state" and isinstance(e["changes"].get("label"), list):
                    labels.add(e["changes"]["label"][0])
                elif e["type"] == "violation" and e.get("key"):
                    viols.add(e["key"])
        _EMITTED[proto.name] = kinds, notes | timers, labels, viols
    return _EMITTED[proto.name]


def declared_keys(proto):
    keys = {f"role.{r}" for r in proto.roles}
    keys |= {f"field.{f.name}" for f in proto.fields}
    keys |= {f"param.{p.name}" for p in proto.params} | {f"param.{p.name}.help" for p in proto.params}
    keys |= {f"op.{o.name}" for o in proto.operations} | {f"op.{o.name}.help" for o in proto.operations}
    keys |= {f"op.{o.name}.arg" for o in proto.operations if o.arg}
    keys |= {f"timer.{t}" for t in proto.timers}
    keys |= {f"bug.{b.name}" for b in proto.bugs}
    keys |= {f"preset.{p.name}" for p in proto.presets} | {f"preset.{p.name}.lesson" for p in proto.presets}
    keys |= {f"preset.{p.name}.chapter.{i}.{part}" for p in proto.presets
             for i in range(1, len(p.chapters) + 1) for part in ("title", "body")}
    keys |= {f"inv.{n}" for n, _ in proto.invariants} | {f"invariant.{n}" for n, _ in proto.invariants}
    keys |= behaviour_keys(proto)
    keys |= {f"value.{k}" for pic in proto.pictures for k in pic.keys}
    return keys | PAGE_KEYS


def behaviour_keys(proto):
    """What changed in each behaviour version after the first (version 1 has nothing to say)."""
    return {f"behaviour.{n}" for n in range(2, proto.behaviour + 1)}


def behaviour_problems(proto):
    """A version past 1 says in both languages what changed; no text for a version that is not there."""
    have = {k for k in proto.strings if k.startswith("behaviour.")}
    missing = sorted(behaviour_keys(proto) - have)
    extra = sorted(have - behaviour_keys(proto))
    return ([f"{proto.name} is at behaviour {proto.behaviour}: add {k} (en + zh) saying what changed" for k in missing]
            + [f"{proto.name}: {k} names no version in 2..{proto.behaviour}" for k in extra])


@pytest.mark.parametrize("proto", TAUGHT, ids=ids(TAUGHT))
def test_every_string_has_english_and_chinese_with_the_same_placeholders(proto):
    for key, texts in proto.strings.items():
        assert set(texts) == {"en", "zh"}, (proto.name, key)
        assert texts["en"].strip() and texts["zh"].strip(), (proto.name, key)
        assert placeholders(texts["en"]) == placeholders(texts["zh"]), (proto.name, key)


@pytest.mark.parametrize("proto", TAUGHT, ids=ids(TAUGHT))
def test_everything_declared_or_emitted_is_translated(proto):
    kinds, notes, labels, viols = emitted(proto)
    assert kinds and notes, proto.name
    needed = declared_keys(proto) | {f"kind.{k}" for k in kinds} | notes | labels | viols
    needed |= {f"field.{f.name}.help" for f in proto.fields if f.name != "role"}
    assert sorted(needed - set(proto.strings)) == [], proto.name


@pytest.mark.parametrize("proto", TAUGHT, ids=ids(TAUGHT))
def test_no_string_is_unused(proto):
    """A key is used when a declaration implies it, a run emitted it, or the code names it."""
    kinds, notes, labels, viols = emitted(proto)
    used = declared_keys(proto) | {f"kind.{k}" for k in kinds} | notes | labels | viols
    used |= {f"field.{f.name}.help" for f in proto.fields}
    package = Path(__import__(type(proto).__module__, fromlist=["_"]).__file__).parent
    source = "".join(p.read_text(encoding="utf-8") for p in sorted(package.glob("*.py")))
    source += "".join(p.read_text(encoding="utf-8") for p in sorted((ROOT / "engine" / "kit").glob("*.py")))
    invariants = {n for n, _ in proto.invariants}
    orphans = [k for k in proto.strings if k not in used and f'"{k}"' not in source
               and not (k.startswith("viol.") and k.split(".")[1] in invariants)]
    assert orphans == [], proto.name


@pytest.mark.parametrize("proto", SHIPPED, ids=ids(SHIPPED))
def test_each_behaviour_version_past_the_first_says_what_changed(proto):
    assert isinstance(proto.behaviour, int) and proto.behaviour >= 1
    assert behaviour_problems(proto) == []


def test_a_bumped_behaviour_without_its_text_is_caught():
    from engine.protocol import Protocol

    class Bumped(Protocol):
        name = "bumped"
        behaviour = 3
        strings = {"behaviour.2": {"en": "Votes are persisted first.", "zh": "先持久化投票。"},
                   "behaviour.4": {"en": "Not yet.", "zh": "还没有。"}}

    assert behaviour_problems(Bumped()) == ["bumped is at behaviour 3: add behaviour.3 (en + zh) saying what changed",
                                            "bumped: behaviour.4 names no version in 2..3"]
    assert behaviour_problems(type("AtOne", (Protocol,), {"name": "one"})()) == []   # version 1 needs none


@pytest.mark.parametrize("proto", TAUGHT, ids=ids(TAUGHT))
def test_chinese_punctuation_is_full_width(proto):
    bad = [k for k, v in proto.strings.items() if HALF_WIDTH.search(v["zh"])]
    assert bad == [], proto.name


@pytest.mark.parametrize("proto", TAUGHT, ids=ids(TAUGHT))
def test_declarations_take_their_english_from_strings(proto):
    """English is written once: every help text, title and lesson is the strings' English."""
    assert proto.title == proto.text("title") and proto.summary == proto.text("summary")
    for p in proto.params:
        assert p.help == proto.text(f"param.{p.name}.help"), p.name
    for b in proto.bugs:
        assert b.help == proto.text(f"bug.{b.name}"), b.name
    for p in proto.presets:
        assert (p.title, p.lesson) == (proto.text(f"preset.{p.name}"), proto.text(f"preset.{p.name}.lesson"))
    for name, help_ in proto.invariants:
        assert help_ == proto.text(f"inv.{name}"), name
    described = json.loads(json.dumps(proto.describe()))
    assert described["strings"] == proto.strings


@pytest.mark.parametrize("proto", TAUGHT, ids=ids(TAUGHT))
def test_each_preset_runs_to_its_end_and_replays_identically(proto):
    assert proto.presets, proto.name
    for p in proto.presets:
        a = Simulation(from_dict({"protocol": proto.name, "preset": p.name})).run()
        assert a.stopped_reason is None, (p.name, a.stopped_reason)
        assert a.now <= a.until
        b = Simulation(from_dict({"protocol": proto.name, "preset": p.name})).run()
        assert a.trace == b.trace, p.name
        broken = {v["invariant"] for v in a.violations if not v.get("eventual")}
        if p.expects:      # a lesson about the protocol's own limits breaks what it says
            assert broken == set(p.expects), (proto.name, p.name, broken)
        elif not p.scenario.get("bugs"):   # a correct protocol's lesson breaks nothing
            assert broken == set(), (proto.name, p.name, broken)


def tolerated(proto):
    """check's fault model for what the correct protocol claims to survive."""
    return fuzz.Model(faults=proto.tolerates or fuzz.FAULTS)


@pytest.mark.parametrize("proto", TAUGHT, ids=ids(TAUGHT))
def test_the_correct_protocol_survives_the_faults_it_claims_to(proto):
    """Drawn parameters, node counts and networks, under the protocol's fault model (the
    protocol tests run many more): no violation, safety or eventual."""
    found, violations, runs = fuzz.check(proto.name, runs=40, model=tolerated(proto))
    assert found is None, (proto.name, violations[:1])
    assert runs == 40


@pytest.mark.parametrize("proto,bug", BUG_CASES, ids=[f"{p.name}-{b}" for p, b in BUG_CASES])
def test_each_bug_toggle_is_caught(proto, bug):
    """A preset turns the bug on and shows a violation, and random fault schedules within
    the faults the correct protocol survives find one."""
    shown = [p.name for p in proto.presets if bug in p.scenario.get("bugs", ())
             and Simulation(from_dict({"protocol": proto.name, "preset": p.name}), trace=False).run().violations]
    assert shown, f"{proto.name}: no preset shows what bug {bug} breaks"
    found, violations, _runs = fuzz.check(proto.name, bugs=[bug], runs=BUG_RUNS, model=tolerated(proto))
    assert found is not None and violations, f"{proto.name}: {BUG_RUNS} random schedules missed bug {bug}"


def test_no_file_cites_a_path_outside_the_repo():
    """The repo explains itself: no code or doc points at design notes it does not contain."""
    patterns = re.compile(r"DESIGN\.md|\.\./shared|/work/|protocols/(transactions|consensus)\.md")
    skip = {".git", ".venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", ".hypothesis"}
    bad = []
    for path in ROOT.rglob("*"):
        if any(part in skip for part in path.relative_to(ROOT).parts) or not path.is_file():
            continue
        if path.suffix not in (".py", ".md", ".js", ".html", ".toml", ".json", ".css", ".sh", ".txt"):
            continue
        if path.resolve() == Path(__file__).resolve():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        bad += [f"{path.relative_to(ROOT)}: {m.group(0)}" for m in patterns.finditer(text)]
    assert bad == []
