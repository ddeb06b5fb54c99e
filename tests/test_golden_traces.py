"""The traces of 2pc and raft, pinned when they moved onto the protocol kit.

tests/golden/traces.json was recorded (tests/golden/record.py) before the
move: every preset and 200 random fault schedules per protocol, each with its
sha256. Moving code must not change a byte of any trace. A deliberate change
of behaviour re-records the file in the same commit and says why.
"""

import hashlib
import io
import json
import sys
from pathlib import Path

import pytest

from engine.cli import main

GOLDEN = json.loads((Path(__file__).parent / "golden" / "traces.json").read_text())["entries"]


def _trace(args, stdin=None, monkeypatch=None):
    if stdin is not None:
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    out = io.StringIO()
    assert main(args, out=out) == 0
    return out.getvalue()


@pytest.mark.parametrize("protocol", sorted({e["protocol"] for e in GOLDEN}))
def test_traces_are_byte_identical_to_the_recorded_ones(protocol, monkeypatch):
    entries = [e for e in GOLDEN if e["protocol"] == protocol]
    assert len([e for e in entries if "scenario" in e]) >= 200
    changed = []
    for e in entries:
        if "scenario" in e:
            text = _trace(["run", "-", "--jsonl"], json.dumps(e["scenario"]), monkeypatch)
            what = f"random seed {e['scenario']['seed']} bugs {e['scenario']['bugs']}"
        else:
            preset = e["preset"]
            text = _trace(["run", "--protocol", protocol, "--jsonl"] + (["--preset", preset] if preset else []))
            what = f"preset {preset}"
        if hashlib.sha256(text.encode()).hexdigest() != e["sha256"]:
            changed.append(what)
    assert not changed, f"{len(changed)} traces changed: {changed[:10]}"
