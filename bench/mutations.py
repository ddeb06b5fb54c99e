"""Mutation report: does `check` (and do the tests) catch the bugs real implementations have had?

    .venv/bin/python bench/mutations.py                    # every mutation, check and tests
    .venv/bin/python bench/mutations.py --protocol 3pc     # one protocol
    .venv/bin/python bench/mutations.py --only raft-03 --no-tests
    .venv/bin/python bench/mutations.py --json out.json

Each mutation is one small edit to a protocol's source (bench/mutants.py
lists them, each with the real-world bug it imitates). For each, the repo's
engine/, tests/ and examples/ are copied to a scratch folder, the edit is
applied there, and:

  check  `python -m engine check --protocol P` with its default budget runs in
         that copy, under the faults the protocol claims to survive
         (Protocol.tolerates: all for 2PC and Raft; for 3PC crashes, restarts,
         duplicates and its crash-only nemesis);
         exit 1 = caught, 0 = missed.
  tests  `pytest tests/test_<pkg>.py tests/test_contract.py -k P` runs in that
         copy (not the golden-trace test: it pins bytes, so it would "catch"
         every edit and say nothing about the tests); a failure = caught.

A mutation whose edit does not apply (its text is not found exactly once) is
an error in this list and stops the script. Mutants run two at a time (this
machine has two cores). Nothing here is a test: it measures.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.mutants import MUTANTS, PACKAGES
from engine import registry

COPY = ("engine", "playground", "templates", "static", "tests", "examples", "pyproject.toml")


def scratch_copy(dest: Path) -> None:
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "e2e", "golden"))
        else:
            shutil.copy2(src, dest / name)


def apply(dest: Path, m: dict) -> None:
    path = dest / m["file"]
    text = path.read_text(encoding="utf-8")
    count = text.count(m["find"])
    if count != 1:
        raise SystemExit(f"mutation {m['id']}: its text occurs {count} times in {m['file']} (needs exactly 1)")
    path.write_text(text.replace(m["find"], m["replace"]), encoding="utf-8")


def run(cmd: list[str], cwd: Path, timeout: int) -> tuple[int, str]:
    try:
        res = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout, check=False)
        return res.returncode, (res.stdout + res.stderr)[-2000:]
    except subprocess.TimeoutExpired:
        return -1, "timed out"


def one(m: dict, with_tests: bool, runs: int | None) -> dict:
    with tempfile.TemporaryDirectory(prefix="mutant-") as tmp:
        dest = Path(tmp)
        scratch_copy(dest)
        apply(dest, m)
        py = sys.executable
        cmd = [py, "-m", "engine", "check", "--protocol", m["protocol"]]
        tolerates = registry.get(m["protocol"]).tolerates
        if tolerates:      # check within the faults the correct protocol survives (3PC: crashes)
            cmd += ["--faults", ",".join(tolerates)]
        if runs:
            cmd += ["--runs", str(runs)]
        code, out = run(cmd, dest, 1800)
        result = {"id": m["id"], "protocol": m["protocol"], "what": m["what"], "equivalent": m.get("equivalent"),
                  "check": {0: "missed", 1: "caught"}.get(code, f"error {code}"),
                  "check_output": out.strip().splitlines()[:3]}
        if with_tests:
            pkg = PACKAGES[m["protocol"]]
            code, out = run([py, "-m", "pytest", "-q", "-x", "-p", "no:cacheprovider", f"tests/test_{pkg}.py",
                             "tests/test_contract.py", "-k", f"{m['protocol']} or not contract"], dest, 1800)
            result["tests"] = {0: "missed", 1: "caught"}.get(code, f"error {code}")
        return result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--protocol", action="append", default=[])
    ap.add_argument("--only", action="append", default=[], help="mutation id (repeatable)")
    ap.add_argument("--no-tests", action="store_true")
    ap.add_argument("--runs", type=int, help="override check's --runs")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    chosen = [m for m in MUTANTS if (not args.protocol or m["protocol"] in args.protocol)
              and (not args.only or m["id"] in args.only)]
    with ThreadPoolExecutor(max_workers=args.jobs) as pool:
        results = list(pool.map(lambda m: one(m, not args.no_tests, args.runs), chosen))
    for r in results:
        tests = f"  tests {r['tests']:7}" if "tests" in r else ""
        eq = "  (equivalent)" if r["equivalent"] else ""
        print(f"{r['id']:10} check {r['check']:7}{tests}  {r['what']}{eq}")
    print()

    def score(rs, label):
        line = f"{label}: check caught {sum(r['check'] == 'caught' for r in rs)}/{len(rs)}"
        if not args.no_tests:
            line += f", tests caught {sum(r.get('tests') == 'caught' for r in rs)}/{len(rs)}"
            line += f", either {sum('caught' in (r['check'], r.get('tests')) for r in rs)}/{len(rs)}"
        print(line)

    for proto in dict.fromkeys(r["protocol"] for r in results):
        rs = [r for r in results if r["protocol"] == proto]
        score(rs, f"{proto} (all {len(rs)})")
        real = [r for r in rs if not r["equivalent"]]
        if len(real) < len(rs):
            score(real, f"{proto} (without {len(rs) - len(real)} equivalent)")
    score(results, "all")
    score([r for r in results if not r["equivalent"]], "all without equivalent")
    if args.json:
        Path(args.json).write_text(json.dumps(results, indent=1, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
