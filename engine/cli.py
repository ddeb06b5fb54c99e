"""Command line: list / run / check / bench. Bad input: one line on stderr, exit 2."""

from __future__ import annotations

import argparse
import json
import os
import sys

from . import compare, fuzz, hunt, limits
from .protocols import load_protocol_file, registry
from .scenario import ScenarioError, from_dict, from_json, from_token
from .sim import ProtocolError, Simulation


class UsageError(Exception):
    pass


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2 (argparse prints usage + error by default)
        raise UsageError(message)


# json.dumps with these options builds an encoder per call; one, built once, writes the same bytes.
_dumps = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode
STREAM_ENTRIES = 4096   # heap entries between two writes of `run --jsonl`
BENCH_SECTIONS = ("protocols", "core", "memory", "checkpoints")


def build_parser() -> argparse.ArgumentParser:
    # --protocol-file is accepted before or after the command ("run --protocol-file my.py");
    # SUPPRESS keeps a subcommand's empty default from hiding the files given before it.
    files = _Parser(add_help=False)
    files.add_argument("--protocol-file", action="append", default=argparse.SUPPRESS,
                       help="load a protocol module from a Python file (repeatable); "
                            "without --protocol, run and check use the protocol it defines")
    p = _Parser(prog="python -m engine", description="Protocol Playground engine", parents=[files])
    sub = p.add_subparsers(dest="cmd", required=True, parser_class=_Parser)

    ls = sub.add_parser("list", help="protocols, parameters, presets, bug toggles", parents=[files])
    ls.add_argument("--json", action="store_true")

    run = sub.add_parser("run", help="run a scenario and print its trace", parents=[files])
    run.add_argument("scenario", nargs="?", help="scenario JSON file ('-' for stdin)")
    run.add_argument("--token", help="a share token instead of a file")
    run.add_argument("--protocol")
    run.add_argument("--preset")
    run.add_argument("--seed", type=int)
    run.add_argument("--nodes", type=int)
    run.add_argument("--bug", action="append", default=[])
    run.add_argument("--until", type=int)
    run.add_argument("--jsonl", action="store_true", help="one JSON event per line, then the summary")

    ck = sub.add_parser("check", help="random fault schedules, drawn setups: safety, eventual properties, "
                                      "handler errors", parents=[files])
    ck.add_argument("--protocol")
    ck.add_argument("--bug", action="append", default=[])
    ck.add_argument("--runs", type=int, default=300)
    ck.add_argument("--seed", type=int, default=1, help="run i uses seed+i (default 1)")
    ck.add_argument("--until", type=int, help="ms of faults in each run (default: the protocol's run length)")
    ck.add_argument("--nodes", type=int, help="pin the node count (default: drawn in the protocol's range)")
    ck.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                    help="pin a parameter (repeatable); the others are drawn within their bounds")
    ck.add_argument("--network", metavar="JSON",
                    help='pin network settings, e.g. \'{"latency":[10,30],"loss":0,"duplicate":0}\'')
    ck.add_argument("--faults", default="all", metavar="LIST",
                    help="comma list of fault kinds to inject (default all): " + ",".join(fuzz.FAULTS))
    ck.add_argument("--settle", type=int, metavar="MS",
                    help="ms of calm after the faults before eventual properties are judged "
                         "(default: the protocol's settle_ms; 0: judge none)")
    ck.add_argument("--jobs", type=int, default=1, metavar="N",
                    help="run the checks in N local worker processes (default 1); the output is the same")
    ck.add_argument("--queue", metavar="URL",
                    help="run the checks as jobs on a Redis queue (redis://HOST:PORT/DB) for "
                         f"`rq worker --url URL {hunt.QUEUE}` processes, on any machine")
    ck.add_argument("--progress", action="store_true",
                    help='one JSON line on stderr per finished run or chunk: {"done": n, "runs": N}')
    ck.add_argument("--json", action="store_true",
                    help='one JSON line on stdout: {"runs", "found", "scenario", "token", "summary"}')

    cp = sub.add_parser("compare", help="the same role-based faults under several protocols: "
                                        "medians and p95 of each cost", parents=[files])
    cp.add_argument("--protocols", default=",".join(compare.TRANSACTIONS), metavar="LIST",
                    help="comma list (default the transaction patterns: %(default)s)")
    cp.add_argument("--faults", default="none,coordinator_crash", metavar="LIST",
                    help="comma list of fault classes (default %(default)s): " + ",".join(compare.FAULT_CLASSES))
    cp.add_argument("--runs", type=int, default=20, help="runs per fault class and protocol (default 20)")
    cp.add_argument("--seed", type=int, default=1, help="run i uses network seed seed+i (default 1)")
    cp.add_argument("--schedule", metavar="FILE",
                    help="one role-based schedule (JSON file, docs/compare.md) instead of fault classes: "
                         "one run per protocol, with what each item became")
    cp.add_argument("--json", action="store_true", help="the result as one JSON object")

    bn = sub.add_parser("bench", help="engine speed, memory and checkpoint cost (numbers, not tests)",
                        parents=[files])
    bn.add_argument("--section", action="append", choices=BENCH_SECTIONS, default=[],
                    help="what to measure (repeatable; default all): " + ", ".join(BENCH_SECTIONS))
    bn.add_argument("--protocol", action="append", default=[], help="protocols section: only these")
    bn.add_argument("--until", type=int, default=20_000, help="protocols section: virtual ms per run")
    bn.add_argument("--repeat", type=int, default=3, help="protocols section: best of N; core: N rounds")
    bn.add_argument("--core-until", type=int, default=200_000, help="core section: virtual ms of the workload")
    bn.add_argument("--events", type=int, default=100_000, help="checkpoints section: length of the Raft run")
    bn.add_argument("--json", action="store_true")
    return p


def _load_protocol_files(args):
    """Register each --protocol-file; the last one is the default --protocol of run and check."""
    loaded = [load_protocol_file(path) for path in getattr(args, "protocol_file", [])]
    if loaded and getattr(args, "protocol", "") is None and not getattr(args, "scenario", None) \
            and not getattr(args, "token", None):
        args.protocol = loaded[-1].name


def cmd_list(args, out):
    protos = registry.all(include_hidden=True)
    if args.json:
        out.write(_dumps([p.describe() for p in protos]) + "\n")
        return 0
    for p in protos:
        out.write(f"{p.name:10} {p.title} [{p.category}] nodes {p.nodes_min}..{p.nodes_max} "
                  f"(default {p.nodes_default})\n")
        for prm in p.params:
            out.write(f"    param  {prm.name}={prm.default} [{prm.min}..{prm.max}] {prm.help}\n")
        for b in p.bugs:
            out.write(f"    bug    {b.name}: {b.help}\n")
        for pr in p.presets:
            out.write(f"    preset {pr.name}: {pr.lesson}\n")
    return 0


def _read_text(path: str) -> str:
    if path == "-":
        return sys.stdin.read()
    try:
        with open(path, encoding="utf-8") as f:
            return f.read(1 << 20)
    except OSError as e:
        raise ScenarioError(f"cannot read {path}: {e.strerror}") from None


def _scenario_from_args(args):
    if args.token:
        return from_token(args.token)
    if args.scenario:
        if args.scenario == "-":
            text = sys.stdin.read()
        else:
            try:
                with open(args.scenario, encoding="utf-8") as f:
                    text = f.read()
            except OSError as e:
                raise ScenarioError(f"cannot read scenario file {args.scenario}: {e.strerror}") from None
        overrides = {k: v for k, v in (("seed", args.seed), ("nodes", args.nodes), ("until", args.until))
                     if v is not None}
        if args.bug:
            overrides["bugs"] = args.bug
        if not overrides:
            return from_json(text)
        data = from_json(text).to_dict()  # validated (and size-checked) before overriding
        return from_dict({**data, **overrides})
    if not args.protocol:
        raise UsageError("run needs a scenario file, --token, or --protocol")
    data = {"protocol": args.protocol}
    for k in ("preset", "seed", "nodes", "until"):
        v = getattr(args, k)
        if v is not None:
            data[k] = v
    if args.bug:
        data["bugs"] = args.bug
    return from_dict(data)


def cmd_run(args, out, err=None):
    scenario = _scenario_from_args(args)
    sim = Simulation(scenario, trace=True)
    if err is not None and scenario.behaviour != sim.proto.behaviour:
        err.write(behaviour_note(sim.proto, scenario.behaviour) + "\n")
    if args.jsonl:
        # Streamed: written in chunks and forgotten, so memory stays what the run's state
        # needs, however long the trace (the summary reads only the simulation's state).
        trace = sim.trace
        while True:
            more = sim.step_entries(STREAM_ENTRIES)
            if trace:
                out.write("".join([_dumps(ev) + "\n" for ev in trace]))
                trace.clear()
            if not more:
                break
        out.write(_dumps(sim.summary()) + "\n")
    else:
        sim.run()
        for ev in sim.trace:
            out.write(_format_event(ev) + "\n")
        s = sim.summary()
        out.write(f"-- {s['events']} events, t={s['t']} ms, {len(s['violations'])} violation(s)\n")
        for n, v in s["nodes"].items():
            out.write(f"   {n}: {_dumps(v)}\n")
        for v in s["violations"]:
            out.write(f"   VIOLATION {v['invariant']} at t={v['t']}: {v['message']}\n")
    return 0


def behaviour_note(proto, made: int) -> str:
    """One line for a link made under another version of the protocol's behaviour."""
    now = proto.behaviour
    when = "an earlier" if made < now else "a newer"
    line = (f"note: this scenario was made with {when} version of {proto.name}'s behaviour "
            f"(version {made}; this engine runs version {now}); the run follows this engine's rules")
    changes = [proto.text(k) for k in proto.behaviour_changes(made)]
    return line + (". What changed: " + " ".join(c for c in changes if c) if any(changes) else "")


def _format_event(ev: dict) -> str:
    rest = {k: v for k, v in ev.items() if k not in ("seq", "t", "type")}
    return f"{ev['t']:>7} #{ev['seq']:<6} {ev['type']:<9} {_dumps(rest)}"


def _parse_params(proto, pins: list[str]) -> dict:
    """--param NAME=VALUE, typed by the parameter's kind (validated later, as a scenario's)."""
    out = {}
    for pin in pins:
        name, eq, text = pin.partition("=")
        name, text = name.strip(), text.strip()
        if not eq or not name:
            raise UsageError(f"--param {pin!r} must be NAME=VALUE")
        decl = next((p for p in proto.params if p.name == name), None)
        if decl is None:
            names = ", ".join(p.name for p in proto.params) or "(none)"
            raise ScenarioError(f"unknown parameter {name!r} for {proto.name}; expected one of: {names}"[:300])
        if decl.kind == "choice":
            out[name] = text
            continue
        try:
            out[name] = int(text) if decl.kind == "int" else float(text)
        except ValueError:
            kind = "an integer" if decl.kind == "int" else "a number"
            raise ScenarioError(f"param {name} must be {kind}, got {text!r}"[:200]) from None
    return out


def _parse_network(text: str | None) -> dict | None:
    if text is None:
        return None
    try:
        net = json.loads(text)
    except ValueError as e:
        raise ScenarioError(f"--network is not valid JSON: {e}") from None
    except RecursionError:
        raise ScenarioError("--network is nested too deeply") from None
    if not isinstance(net, dict):
        raise ScenarioError("network must be an object")
    return net


def _pins(names: list[str], pinned, what: str) -> str:
    """'params drawn' / 'params drawn, hold=5 pinned' / 'params pinned' / 'no params'."""
    if not names:
        return f"no {what}"
    if not pinned:
        return f"{what} drawn"
    if all(n in pinned for n in names):
        return f"{what} pinned"
    return f"{what} drawn, " + ", ".join(f"{n}={_dumps(pinned[n])}" for n in names if n in pinned) + " pinned"


def _check_summary(proto, model: fuzz.Model, bugs) -> str:
    faults = "all" if model.faults == fuzz.FAULTS else ",".join(model.faults)
    hi = min(proto.nodes_max, limits.MAX_NODES)
    nodes = f"nodes {model.nodes}" if model.nodes is not None else f"nodes {proto.nodes_min}..{hi}"
    drawn = [k for k, f in (("latency", "delay"), ("loss", "loss"), ("duplicate", "duplicate"))
             if f in model.faults and k not in model.network]
    said = ([", ".join(drawn) + " drawn"] if drawn else []) + \
        [f"{k}={_dumps(v)} pinned" for k, v in model.network.items()]
    network = "network: " + ", ".join(said) if said else "default network"
    if not fuzz.has_eventual(proto):
        settle = "no eventual properties"
    elif model.settle == 0:
        settle = "eventual properties not judged"
    elif model.settle is None:
        settle = "eventual properties judged after the protocol's settle time"
    else:
        settle = f"eventual properties judged after {model.settle} ms"
    parts = [f"faults: {faults}", _pins([p.name for p in proto.params], model.params, "params"), nodes,
             network, settle]
    if bugs:
        parts.append("bugs " + ",".join(bugs))
    return "; ".join(parts)


def _write(out, text: str) -> bool:
    """Write and flush; False when the reader has gone (a closed pipe: `check ... | head -1`)."""
    try:
        out.write(text)
        out.flush()
        return True
    except (BrokenPipeError, ValueError, OSError):   # ValueError: the stream is closed
        _silence(out)
        return False


def _silence(stream) -> None:
    """Point a broken stdout at /dev/null, so the interpreter's final flush does not
    fail too (that would print a traceback and turn the exit code into 120)."""
    try:
        fd = stream.fileno()
    except (AttributeError, OSError, ValueError):
        return
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, fd)
        os.close(devnull)
    except OSError:
        pass


MAX_JOBS = 64


def _run_check(args, proto, model, err):
    """(shrunk counterexample or None, its findings, runs done): in this process, in --jobs
    local processes, or as jobs on --queue; the same answer every way (engine/hunt.py)."""
    def tell(done):
        if args.progress:
            _write(err, _dumps({"done": done, "runs": args.runs}) + "\n")

    if args.jobs == 1 and not args.queue:
        scenario, found, done = fuzz.check(proto.name, bugs=args.bug, runs=args.runs, seed=args.seed,
                                           until=args.until, model=model, progress=lambda i: tell(i + 1))
        return scenario, found, done
    files = [os.path.abspath(f) for f in getattr(args, "protocol_file", [])]
    spec = hunt.spec_of(proto.name, model, bugs=args.bug, until=args.until, protocol_files=files)
    if args.queue:
        def waiting(name):
            _write(err, f"note: no worker listens on queue {name} yet; start one with: "
                        f"rq worker --url {args.queue} {name}\n")
        try:
            failed, done = hunt.run_queue(args.queue, spec, args.seed, args.runs, progress=tell, waiting=waiting)
        except Exception as e:   # noqa: BLE001 -- redis unreachable, rq missing, a job failed on its worker
            raise QueueError(f"check queue {args.queue}: {e}"[:300]) from None
    else:
        failed, done = hunt.run_local(spec, args.seed, args.runs, args.jobs, progress=tell)
    tell(done)
    if failed is None:
        return None, [], done
    scenario, found = fuzz.counterexample(fuzz.fuzz_run(proto.name, failed, model, bugs=args.bug, until=args.until))
    return scenario, found, done


class QueueError(Exception):
    """--queue could not be used (Redis unreachable, rq missing, a job failed on its worker)."""


def cmd_check(args, out, err):
    if not args.protocol:
        raise UsageError("check needs --protocol (or a --protocol-file)")
    if args.runs < 1 or args.runs > 1_000_000:
        raise UsageError(f"--runs={args.runs} is out of range [1, 1000000]")
    proto = registry.get(args.protocol)
    for b in args.bug:
        if b not in [x.name for x in proto.bugs]:
            raise ScenarioError(f"unknown bug {b!r} for {proto.name}; expected one of: "
                                f"{', '.join(x.name for x in proto.bugs) or '(none)'}")
    faults = fuzz.parse_faults(args.faults)
    params, network = fuzz.validate_pins(proto, _parse_params(proto, args.param), _parse_network(args.network),
                                         args.nodes)
    # Validate the shared fields once, so a bad --seed/--until is a clean error.
    base = from_dict({"protocol": proto.name, "seed": args.seed, "bugs": args.bug,
                      **({"until": args.until} if args.until is not None else {})})
    if args.seed + args.runs - 1 > limits.MAX_SEED:
        raise UsageError(f"--seed={args.seed} with --runs={args.runs} passes the largest seed {limits.MAX_SEED}")
    if args.settle is not None and not 0 <= args.settle <= limits.MAX_UNTIL_MS - base.until:
        raise UsageError(f"--settle={args.settle} is out of range [0, {limits.MAX_UNTIL_MS - base.until}] "
                         f"(a run lasts at most {limits.MAX_UNTIL_MS} ms)")
    model = fuzz.Model(faults=faults, params=params, network=network, nodes=args.nodes, settle=args.settle)
    model.fallback(proto)   # a pinned combination the protocol refuses everywhere: exit 2 now
    if not 1 <= args.jobs <= MAX_JOBS:
        raise UsageError(f"--jobs={args.jobs} is out of range [1, {MAX_JOBS}]")
    scenario, found, done = _run_check(args, proto, model, err)
    if args.json:
        _write(out, _dumps({"runs": done, "found": found, "scenario": scenario and scenario.to_dict(),
                            "token": scenario and scenario.to_token(),
                            "summary": _check_summary(proto, model, args.bug)}) + "\n")
        return 0 if scenario is None else 1
    if scenario is None:
        _write(out, f"{proto.name}: {done} runs, no violation ({_check_summary(proto, model, args.bug)})\n")
        return 0
    v = found[0]
    runs = f"{done} run{'s' if done != 1 else ''}"
    if v.get("error") is not None:
        head = f"PROTOCOL ERROR after {runs}: {v['message']}"
    elif v.get("eventual"):
        head = (f"VIOLATION (eventual) after {runs}: {v['invariant']} at t={v['t']}: {v['message']} "
                f"(judged after {v.get('settle', 0)} ms without faults)")
    else:
        head = f"VIOLATION after {runs}: {v['invariant']} at t={v['t']}: {v['message']}"
    others = list(dict.fromkeys(f["invariant"] for f in found[1:] if f["invariant"] != v["invariant"]))
    if others:     # the same run breaks these too (3PC under a partition: atomicity as well)
        head += f"\nalso broken in this run: {', '.join(others)}"
    files = "".join(f"--protocol-file {f} " for f in getattr(args, "protocol_file", []))
    text = (f"{head}\n"
            f"scenario ({scenario.nodes} nodes, {len(scenario.actions)} actions after shrinking; "
            f"replay with: python -m engine {files}run FILE):\n"
            + json.dumps(scenario.to_dict(), sort_keys=True, indent=1, ensure_ascii=False) + "\n"
            + f"token: {scenario.to_token()}\n")
    _write(out, text)
    return 1


def _names(text: str) -> list[str]:
    return [x.strip() for x in text.split(",") if x.strip()]


def cmd_compare(args, out, err):
    protocols = _names(args.protocols)
    if not protocols:
        raise UsageError("--protocols needs at least one protocol")
    for name in protocols:
        registry.get(name)          # an unknown name is one clear error
    if args.schedule:
        sched = json.loads(_read_text(args.schedule))
        rows = [{"protocol": name, **compare.run_one(name, sched, args.seed)} for name in protocols]
        if args.json:
            out.write(json.dumps({"rows": rows}, sort_keys=True) + "\n")
        else:
            for r in rows:
                out.write(f"{r['protocol']}: " + ", ".join(f"{k} {v}" for k, v in r["costs"].items()
                                                          if v is not None) + "\n")
                for m in r["missing"]:
                    out.write(f"  item {m['index'] + 1} ({m['do']}): {m['status']} {m.get('what', '')}\n")
        return 0
    faults = _names(args.faults)
    if not faults:
        raise UsageError("--faults needs at least one fault class")

    def tell(cls, name, i):
        if i == args.runs:
            err.write(f"{cls} {name}: {i} runs\n")
    result = compare.compare(protocols, faults, args.runs, args.seed, progress=tell)
    out.write(json.dumps(result, sort_keys=True) + "\n" if args.json else compare.table(result))
    return 0


def cmd_bench(args, out):
    from . import bench
    if not 1 <= args.repeat <= 100:
        raise UsageError(f"--repeat={args.repeat} is out of range [1, 100]")
    if not 1 <= args.until <= 600_000:
        raise UsageError(f"--until={args.until} is out of range [1, 600000]")
    if not 1_000 <= args.core_until <= 600_000:
        raise UsageError(f"--core-until={args.core_until} is out of range [1000, 600000]")
    if not 1_000 <= args.events <= 1_000_000:
        raise UsageError(f"--events={args.events} is out of range [1000, 1000000]")
    for name in args.protocol:
        registry.get(name)
    sections = [s for s in BENCH_SECTIONS if s in args.section] or list(BENCH_SECTIONS)
    result = {}
    for section in sections:
        if section == "protocols":
            result[section] = bench.run_bench(args.protocol or None, until=args.until, repeat=args.repeat)
        elif section == "core":
            result[section] = bench.core(args.core_until, rounds=args.repeat)
        elif section == "memory":
            result[section] = bench.memory(args.core_until)
        else:
            result[section] = bench.checkpoints(args.events, every=max(args.events // 20, 500))
        if not args.json:
            _BENCH_PRINT[section](result[section], out)
            out.flush()
    if args.json:
        out.write(_dumps(result) + "\n")
    return 0


def _print_protocols(rows, out):
    out.write(f"{'protocol':10} {'nodes':>5} {'trace':>5} {'events/s':>10} {'trace ev/s':>10} "
              f"{'deliveries/s':>12} {'seconds':>8}\n")
    for r in rows:
        tev = r["trace_events_per_s"] if r["trace_events_per_s"] is not None else "-"
        out.write(f"{r['protocol']:10} {r['nodes']:>5} {'on' if r['trace'] else 'off':>5} "
                  f"{r['handled_per_s']:>10} {tev:>10} {r['deliveries_per_s']:>12} {r['seconds']:>8}\n")
    out.write("events/s = simulator events handled (deliveries, timers, actions) per second; "
              "trace ev/s = trace records (send, deliver, state, ...) per second.\n\n")


def _print_core(r, out):
    w = r["workload"]
    out.write(f"core: forwarding, {w['nodes']} nodes, {w['tokens']} tokens, latency {w['latency'][0]}.."
              f"{w['latency'][1]} ms, {w['virtual_ms'] / 1000:g} s virtual, {w['deliveries']} deliveries; "
              f"median of {r['rounds']} interleaved rounds\n")
    if not r["simpy"]:
        out.write("  (SimPy is not installed: pip install -r requirements-dev.txt for the side-by-side ratio)\n")
    out.write(f"  {'loop':22} {'seconds':>8} {'hops/s':>10} {'x simpy':>8} {'x heapq':>8}\n")
    for row in r["rows"]:
        vs = f"{row['vs_simpy']:.2f}" if row["vs_simpy"] is not None else "-"
        out.write(f"  {row['loop']:22} {row['median_s']:>8.3f} {row['hops_per_s']:>10,} {vs:>8} "
                  f"{row['vs_heapq']:>8.2f}\n")
    out.write("\n")


def _print_memory(r, out):
    out.write("memory: peak RSS of one run in a fresh process (MB)\n")
    out.write(f"  {'run':28} {'events':>9} {'trace off':>9} {'--jsonl':>8} {'kept':>8} {'JSON B/event':>12}\n")
    for row in r["rows"]:
        out.write(f"  {row['run']:28} {row['events']:>9} {row['rss_mb_off']:>9} {row['rss_mb_jsonl']:>8} "
                  f"{row['rss_mb_kept']:>8} {row['json_bytes_per_event']:>12}\n")
    out.write("\n")


def _print_checkpoints(r, out):
    out.write(f"checkpoints: Raft, 5 nodes, {r['events']} events ({r['virtual_ms'] / 1000:g} s virtual), one every "
              f"{r['every']} events: {r['count']} of median {r['bytes_median']:,} bytes "
              f"({r['bytes_total']:,} in all); take {r['take_ms_median']} ms, resume {r['resume_ms_median']} ms\n")
    out.write(f"  {'seek to':8} {'replay from 0':>14} {'from checkpoint':>16}\n")
    for s in r["seeks"]:
        out.write(f"  {s['to']:8} {s['replay_ms']:>11} ms {s['checkpoint_ms']:>13} ms\n")
    out.write("\n")


_BENCH_PRINT = {"protocols": _print_protocols, "core": _print_core, "memory": _print_memory,
                "checkpoints": _print_checkpoints}


def main(argv=None, out=None, err=None) -> int:
    out = out or sys.stdout
    err = err or sys.stderr
    try:
        args = build_parser().parse_args(argv)
        _load_protocol_files(args)
        if args.cmd == "list":
            code = cmd_list(args, out)
        elif args.cmd == "run":
            code = cmd_run(args, out, err)
        elif args.cmd == "check":
            code = cmd_check(args, out, err)   # writes and flushes itself: a closed pipe keeps its exit code
        elif args.cmd == "compare":
            code = cmd_compare(args, out, err)
        else:
            code = cmd_bench(args, out)
        out.flush()
        return code
    except (UsageError, ScenarioError, QueueError) as e:
        err.write(f"error: {e}\n")
        return 2
    except ValueError as e:  # malformed JSON in a scenario file
        err.write(f"error: scenario is not valid JSON: {e}\n")
        return 2
    except ProtocolError as e:
        err.write(f"protocol error: {e}\n")
        return 3
    except BrokenPipeError:   # `run ... | head`: the reader has what it wanted
        _silence(out)
        return 0
