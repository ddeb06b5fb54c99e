"""Same scenario, same trace: across processes with different hash seeds."""

import hashlib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import fuzz, registry

ROOT = Path(__file__).resolve().parent.parent

# The protocols a fresh process knows (other test modules register test-only ones in this process).
SHIPPED = [n for n in registry.names(include_hidden=True)
           if type(registry.get(n)).__module__.startswith("engine.protocols.")]

# Runs every preset of every protocol and prints one sha256 per trace.
ALL_PRESETS = """
import hashlib, io, sys
from engine import registry
from engine.cli import main
for proto in registry.all(include_hidden=True):
    for preset in [None] + [p.name for p in proto.presets]:
        out = io.StringIO()
        argv = ["run", "--protocol", proto.name, "--jsonl"] + (["--preset", preset] if preset else [])
        assert main(argv, out=out) == 0
        print(proto.name, preset, hashlib.sha256(out.getvalue().encode()).hexdigest())
"""


def run_py(code_or_args, hashseed: str) -> str:
    env = {**os.environ, "PYTHONHASHSEED": hashseed}
    args = [sys.executable, *code_or_args] if isinstance(code_or_args, list) else [sys.executable, "-c", code_or_args]
    res = subprocess.run(args, check=False, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    return res.stdout


def test_every_preset_gives_identical_traces_across_hash_seeds():
    a = run_py(ALL_PRESETS, "1")
    b = run_py(ALL_PRESETS, "4242")
    assert a == b
    assert len(a.splitlines()) >= len(SHIPPED)


@pytest.mark.parametrize("protocol", SHIPPED)
def test_random_fault_schedule_replays_byte_identically(protocol, tmp_path):
    scenario, _ = fuzz.random_run(protocol, seed=11, actions=30)
    path = tmp_path / "s.json"
    path.write_text(json.dumps(scenario.to_dict()))
    args = ["-m", "engine", "run", str(path), "--jsonl"]
    a = run_py(args, "0")
    b = run_py(args, "987654")
    assert hashlib.sha256(a.encode()).digest() == hashlib.sha256(b.encode()).digest()
    summary = json.loads(a.splitlines()[-1])
    assert summary["type"] == "summary" and summary["events"] == len(a.splitlines()) - 1
