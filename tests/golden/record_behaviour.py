"""Record each protocol's behaviour version and the sha256 of every preset's trace.

    python tests/golden/record_behaviour.py        # rewrites tests/golden/behaviour.json

tests/test_behaviour_versions.py compares today's traces with this file: a
trace that changed while the protocol's `behaviour` stayed the same fails it,
and so does a bumped version the file does not record yet. After a deliberate
change of behaviour: bump `behaviour` in the protocol's class, add
strings["behaviour.<N>"] (en + zh), then run this script and commit the file
with the change (docs/architecture.md, "Behaviour versions and lasting links").
"""

import hashlib
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import registry
from engine.cli import main

FILE = Path(__file__).resolve().parent / "behaviour.json"
FREE = "(free play)"   # the run with no preset: the protocol's defaults


def shipped() -> list:
    """Every protocol in engine/protocols/, hidden demo ones included (not test-only ones)."""
    return [p for p in registry.all(include_hidden=True) if type(p).__module__.startswith("engine.protocols.")]


def trace_sha256(argv: list[str]) -> str:
    """The sha256 of `python -m engine <argv>`'s output, run in this process."""
    out, err = io.StringIO(), io.StringIO()
    code = main(argv, out=out, err=err)
    assert code == 0, (argv, code, err.getvalue())
    return hashlib.sha256(out.getvalue().encode()).hexdigest()


def preset_hashes(proto) -> dict[str, str]:
    """{preset name or FREE: sha256 of `run --protocol P [--preset X] --jsonl`}."""
    out = {}
    for preset in [None] + [p.name for p in proto.presets]:
        argv = ["run", "--protocol", proto.name, "--jsonl"] + (["--preset", preset] if preset else [])
        out[preset or FREE] = trace_sha256(argv)
    return out


def record() -> dict:
    return {"protocols": {p.name: {"behaviour": p.behaviour, "traces": preset_hashes(p)} for p in shipped()}}


if __name__ == "__main__":
    FILE.write_text(json.dumps(record(), indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {FILE.relative_to(Path.cwd()) if FILE.is_relative_to(Path.cwd()) else FILE}")
