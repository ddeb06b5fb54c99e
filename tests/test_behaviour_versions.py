"""A trace that changes comes with a new behaviour version (docs/architecture.md,
"Behaviour versions and lasting links").

tests/golden/behaviour.json records, for every protocol in engine/protocols/,
its `behaviour` version and the sha256 of every preset's trace (and free
play's). A share link records the version it was made with; if a trace
changed while the version stayed, an old link would silently replay a
different run. So: a changed trace with the same version fails here, and so
does a bumped version the file has not been re-recorded for.
"""

import inspect
import time
from pathlib import Path

import pytest

from engine import registry
from engine.protocol import Protocol
from tests.golden.record_behaviour import FILE, preset_hashes, shipped

RECORDED = __import__("json").loads(FILE.read_text(encoding="utf-8"))["protocols"]
ROOT = Path(__file__).resolve().parent.parent
RERECORD = "python tests/golden/record_behaviour.py"


def source_of(proto) -> str:
    path = Path(inspect.getfile(type(proto))).resolve()
    return str(path.relative_to(ROOT)) if path.is_relative_to(ROOT) else str(path)


def verdict(name: str, where: str, recorded: dict, version: int, hashes: dict[str, str]) -> list[str]:
    """What is wrong between a protocol's recorded traces and today's (empty: nothing)."""
    was = recorded["behaviour"]
    if version < was:
        return [f"{name}: behaviour went back from {was} to {version}; versions only go up ({where})"]
    if version > was:
        return [f"{name}: behaviour was bumped to {version} but tests/golden/behaviour.json still records "
                f"{was}: re-record with `{RERECORD}` (and migrate the links in tests/golden/links.json: "
                "python tests/golden/record_links.py --migrate " + name + " --why '...')"]
    changed = sorted(k for k in hashes if k in recorded["traces"] and hashes[k] != recorded["traces"][k])
    problems = []
    if changed:
        problems.append(
            f"{name}: the trace of {', '.join(changed)} changed but behaviour is still {version}. Old share "
            f"links would silently replay a different run. If the change is meant: set behaviour = {version + 1} "
            f"in the protocol's class ({where}), add strings behaviour.{version + 1} (en + zh) saying what "
            f"changed, and re-record with `{RERECORD}`. If it is not meant, the change broke determinism.")
    added = sorted(set(hashes) - set(recorded["traces"]))
    gone = sorted(set(recorded["traces"]) - set(hashes))
    if added or gone:
        problems.append(f"{name}: presets added {added} or removed {gone} since the recording (a removed preset "
                        f"breaks the links that name it): re-record with `{RERECORD}`")
    return problems


def test_every_protocol_is_recorded():
    names = sorted(p.name for p in shipped())
    assert sorted(RECORDED) == names, f"protocols added or removed: re-record with `{RERECORD}`"


@pytest.mark.parametrize("name", sorted(RECORDED))
def test_a_changed_trace_comes_with_a_behaviour_bump(name):
    proto = registry.get(name)
    problems = verdict(name, source_of(proto), RECORDED[name], proto.behaviour, preset_hashes(proto))
    assert problems == [], "\n".join(problems)


def test_the_whole_check_stays_fast():
    """It runs every preset of every protocol once; that must stay well under a minute."""
    start = time.perf_counter()
    n = sum(len(preset_hashes(p)) for p in shipped())
    took = time.perf_counter() - start
    assert n >= 100 and took < 20, (n, took)


# ---------------------------------------------------------------- the check itself can fail

REC = {"behaviour": 1, "traces": {"(free play)": "a" * 64, "figure8": "b" * 64}}


def test_a_changed_trace_without_a_bump_names_the_protocol_the_preset_and_the_fix():
    problems = verdict("raft", "engine/protocols/raft/__init__.py", REC, 1,
                       {"(free play)": "a" * 64, "figure8": "c" * 64})
    assert len(problems) == 1
    text = problems[0]
    assert "raft" in text and "figure8" in text and "(free play)" not in text
    assert "behaviour = 2" in text and "engine/protocols/raft/__init__.py" in text
    assert "behaviour.2" in text and RERECORD in text


def test_a_bump_without_re_recording_fails_and_says_to_re_record():
    problems = verdict("raft", "x.py", REC, 2, dict(REC["traces"]))
    assert len(problems) == 1 and "re-record" in problems[0] and "still records 1" in problems[0]
    # Even when the traces happen to be unchanged: the file must say which version they belong to.
    assert verdict("raft", "x.py", REC, 2, {"(free play)": "z" * 64, "figure8": "b" * 64})


def test_a_version_going_back_fails():
    assert "went back" in verdict("raft", "x.py", {**REC, "behaviour": 3}, 2, dict(REC["traces"]))[0]


def test_a_new_or_removed_preset_asks_for_a_re_recording():
    assert "re-record" in verdict("raft", "x.py", REC, 1, {**REC["traces"], "new_one": "d" * 64})[0]
    assert "removed ['figure8']" in verdict("raft", "x.py", REC, 1, {"(free play)": "a" * 64})[0]


def test_the_same_traces_and_version_pass():
    assert verdict("raft", "x.py", REC, 1, dict(REC["traces"])) == []


def test_a_protocol_refuses_a_behaviour_that_is_not_a_positive_integer():
    for bad in (0, -1, "2", 1.5, True):
        proto_class = type("Bad", (Protocol,), {"name": "bad", "behaviour": bad})
        with pytest.raises(ValueError, match="behaviour must be a positive integer"):
            proto_class()


def test_describe_shows_the_version():
    for p in shipped():
        assert p.describe()["behaviour"] == p.behaviour == RECORDED[p.name]["behaviour"]
