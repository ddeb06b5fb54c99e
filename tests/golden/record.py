"""Record the trace hashes the protocol-kit refactor must keep (run once, before moving code).

    python tests/golden/record.py > tests/golden/traces.json

For 2pc and raft: every preset (and free play), and 200 seeded random fault
schedules each (a quarter of them with a bug toggle on, so violation paths
are pinned too). Each entry keeps the whole scenario, so the comparison does
not depend on how the fuzzer draws schedules later.
"""

import hashlib
import io
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from engine import fuzz, registry
from engine.cli import main

PROTOCOLS = ("2pc", "raft")
RUNS = 200


def trace_hash(args: list[str], stdin: str | None = None) -> str:
    out = io.StringIO()
    if stdin is not None:
        sys.stdin = io.StringIO(stdin)
    assert main(args, out=out) == 0
    return hashlib.sha256(out.getvalue().encode()).hexdigest()


def record() -> dict:
    entries = []
    for name in PROTOCOLS:
        proto = registry.get(name)
        for preset in [None] + [p.name for p in proto.presets]:
            args = ["run", "--protocol", name, "--jsonl"] + (["--preset", preset] if preset else [])
            entries.append({"protocol": name, "preset": preset, "sha256": trace_hash(args)})
        bugs = [b.name for b in proto.bugs]
        for seed in range(1, RUNS + 1):
            bug = bugs[(seed // 4) % len(bugs)] if seed % 4 == 0 and bugs else None
            scenario, _ = fuzz.random_run(name, seed, bugs=[bug] if bug else [], actions=25)
            data = scenario.to_dict()
            entries.append({"protocol": name, "scenario": data,
                            "sha256": trace_hash(["run", "-", "--jsonl"], json.dumps(data))})
    return {"entries": entries}


if __name__ == "__main__":
    json.dump(record(), sys.stdout, separators=(",", ":"), sort_keys=True)
    sys.stdout.write("\n")
