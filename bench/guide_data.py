"""The numbers behind /guide: every pattern and every consensus protocol under the same
fault classes (engine.compare), written to static/data/guide.json for the page to read.

    PYTHONPATH=. .venv/bin/python bench/guide_data.py                 # regenerate (20 runs, seed 1)
    PYTHONPATH=. .venv/bin/python bench/guide_data.py --check         # exit 1, naming what differs, if stale
    PYTHONPATH=. .venv/bin/python bench/guide_data.py --runs 5 --jobs 2 --out /tmp/guide.json

A protocol of the guide that declares no `Comparison` is listed under "not_measured"
(the page says so); every other registered transaction or consensus protocol that
declares one is measured too. The output depends on the engine and the arguments only:
the same arguments write the same bytes, with or without --jobs. Timing goes to stderr.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from engine import compare as cmp
from engine.costs import METRICS
from engine.protocols import registry
from engine.scenario import ScenarioError

OUT = ROOT / "static" / "data" / "guide.json"
# The guide's own order; saga_choreo sits beside the orchestrated saga.
FAMILIES = {
    "transactions": ("2pc", "3pc", "tcc", "saga", "saga_choreo", "outbox", "mq_tx"),
    "consensus": cmp.CONSENSUS,
}
FORMAT = 1      # bump when the file's shape changes (playground/guide.py reads it)


def fault_classes(family: str) -> list[str]:
    return [name for name, c in cmp.FAULT_CLASSES.items() if family in c.families]


def members(family: str) -> list[str]:
    """The guide's protocols of a family, then any other registered one that declares a
    comparison and belongs to the family (so a new comparable protocol is never left out)."""
    names = list(FAMILIES[family])
    for proto in registry.all():
        if proto.name in names or proto.compare is None or proto.category == "demo":
            continue
        if cmp.family_of(proto) == family and proto.category in ("transactions", "consensus"):
            names.append(proto.name)
    return names


def units_per_run(family: str) -> int:
    """Units of work (transactions, writes) the no-fault schedule requests: the divisor of
    "messages per write"."""
    return sum(1 for it in cmp.schedule_for("none", 0, family)["items"] if it["do"] == "request")


def _measure(args: tuple[str, tuple[str, ...], int, int]) -> list[dict]:
    name, faults, runs, seed = args
    try:
        return cmp.compare([name], list(faults), runs, seed)["rows"]
    except ScenarioError as e:      # say whose schedule failed; the run stops (nothing half-written)
        raise ScenarioError(f"{name}: {e}") from None


def build(runs: int, seed: int, jobs: int = 1) -> dict:
    """The guide's data: one compare() per protocol (in a pool when jobs > 1), rows put back
    in compare()'s own order: by fault class, then protocol."""
    work, families, not_measured = [], {}, {}
    for family in FAMILIES:
        faults = fault_classes(family)
        names = members(family)
        measured = []
        for name in names:
            proto = registry.get(name)
            if proto.compare is None:
                not_measured[name] = "declares no comparison (roles and steps) yet"
                continue
            measured.append(name)
            work.append((name, tuple(faults), runs, seed))
        families[family] = {"protocols": names,
                            "measured": measured, "faults": faults, "units": units_per_run(family)}
    if jobs > 1 and len(work) > 1:
        with ProcessPoolExecutor(max_workers=jobs) as pool:
            results = list(pool.map(_measure, work))
    else:
        results = [_measure(w) for w in work]
    by_name = {w[0]: rows for w, rows in zip(work, results)}
    for fam in families.values():
        rows = [r for name in fam["measured"] for r in by_name[name]]
        order = {f: i for i, f in enumerate(fam["faults"])}
        pos = {n: i for i, n in enumerate(fam["measured"])}
        fam["rows"] = sorted(rows, key=lambda r: (order[r["faults"]], pos[r["protocol"]]))
    names = [n for fam in families.values() for n in fam["protocols"]]
    return {
        "format": FORMAT,
        "command": f"python bench/guide_data.py --runs {runs} --seed {seed}",
        "runs": runs,
        "seed": seed,
        "metrics": list(METRICS),
        "families": families,
        "not_measured": not_measured,
        "behaviour": {n: registry.get(n).behaviour for n in names},
    }


def dump(data: dict) -> str:
    return json.dumps(data, sort_keys=True, indent=1, ensure_ascii=False) + "\n"


def differences(old: dict, new: dict, path: str = "") -> list[str]:
    """Where two versions of the data differ, as readable paths (the first few)."""
    if isinstance(old, dict) and isinstance(new, dict):
        out = []
        for k in sorted(set(old) | set(new), key=str):
            where = f"{path}.{k}" if path else str(k)
            if k not in old:
                out.append(f"{where}: missing from the committed file")
            elif k not in new:
                out.append(f"{where}: no longer produced")
            else:
                out += differences(old[k], new[k], where)
        return out
    if isinstance(old, list) and isinstance(new, list) and len(old) == len(new):
        out = []
        for i, (a, b) in enumerate(zip(old, new)):
            label = f"{a.get('faults')}/{a.get('protocol')}" if isinstance(a, dict) and "faults" in a else str(i)
            out += differences(a, b, f"{path}[{label}]")
        return out
    return [] if old == new else [f"{path}: committed {json.dumps(old)[:80]}, engine gives {json.dumps(new)[:80]}"]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--runs", type=int, default=20, help="runs per fault class and protocol (default 20)")
    ap.add_argument("--seed", type=int, default=1, help="run i uses network seed seed+i (default 1)")
    ap.add_argument("--jobs", type=int, default=1, help="processes (default 1); the output is the same")
    ap.add_argument("--out", type=Path, default=OUT, help="where to write (default static/data/guide.json)")
    ap.add_argument("--check", action="store_true",
                    help="recompute with the committed file's runs and seed (unless given) and exit 1 if it differs")
    args = ap.parse_args(argv)
    try:
        return _run(args, argv)
    except ScenarioError as e:
        print(f"guide data: cannot measure {e}", file=sys.stderr)
        return 2


def _run(args, argv: list[str] | None) -> int:
    given = {a.split("=")[0] for a in (argv if argv is not None else sys.argv[1:])}
    start = time.perf_counter()
    if args.check:
        try:
            old = json.loads(args.out.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            print(f"guide data: cannot read {args.out}: {e}", file=sys.stderr)
            return 1
        runs = args.runs if "--runs" in given else old.get("runs", args.runs)
        seed = args.seed if "--seed" in given else old.get("seed", args.seed)
        new = build(runs, seed, args.jobs)
        took = time.perf_counter() - start
        if runs != old.get("runs") or seed != old.get("seed"):
            # A reduced check: the committed rows cannot be compared, only the file's shape.
            diff = differences({k: v for k, v in old.items() if k not in ("families", "command", "runs", "seed")},
                               {k: v for k, v in new.items() if k not in ("families", "command", "runs", "seed")})
            for fam, body in new["families"].items():
                was = old.get("families", {}).get(fam, {})
                for k in ("protocols", "measured", "faults", "units"):
                    if was.get(k) != body[k]:
                        diff.append(f"families.{fam}.{k}: committed {was.get(k)}, engine gives {body[k]}")
        else:
            diff = differences(old, new)
        print(f"guide data: checked {args.out.name} in {took:.1f} s ({runs} runs, seed {seed})", file=sys.stderr)
        if diff:
            print(f"{args.out} is stale; regenerate it with: PYTHONPATH=. .venv/bin/python bench/guide_data.py "
                  f"--runs {old.get('runs', runs)} --seed {old.get('seed', seed)}", file=sys.stderr)
            for line in diff[:20]:
                print(f"  {line}", file=sys.stderr)
            if len(diff) > 20:
                print(f"  ... and {len(diff) - 20} more", file=sys.stderr)
            return 1
        return 0
    data = build(args.runs, args.seed, args.jobs)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(dump(data), encoding="utf-8")
    took = time.perf_counter() - start
    print(f"guide data: {args.out} in {took:.1f} s ({args.runs} runs, seed {args.seed}, jobs {args.jobs}; "
          f"not measured: {', '.join(data['not_measured']) or 'none'})", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
