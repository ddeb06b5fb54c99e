"""`python -m engine check`: drawn setups, fault models, eventual properties, protocol errors, exit codes.

The test protocol here ("pingcheck") is registered in this process only; the
CLI runs in-process (engine.cli.main) where it needs it, and as a subprocess
with examples/mutex.py where a real process matters (pipes, hash seeds).
"""

import hashlib
import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from engine import Bug, Checker, Operation, Param, Protocol, Simulation, Violation, fuzz, load_protocol_file, registry
from engine.cli import main
from engine.protocol import Node
from engine.scenario import from_dict, from_token

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "mutex.py")
MUTEX = load_protocol_file(EXAMPLE)


# ---------------------------------------------------------------- a test protocol

class Pinger(Node):
    """n1 pings a peer on each request and retries every `wait` ms until the pong comes."""

    role = "client"

    def on_start(self, ctx):
        self.waiting = None

    def on_request(self, ctx, op, arg):
        if self.waiting is None:
            seq = self.disk.get("seq", 0) + 1
            ctx.persist(seq=seq)
            self.waiting = seq
            self._ping(ctx)

    def _ping(self, ctx):
        peer = self.peers[(self.waiting - 1) % len(self.peers)]
        ctx.send(peer, "ping", seq=self.waiting)
        if "no_retry" not in self.bugs:
            ctx.set_timer("retry", self.params["wait"])

    def on_timer(self, ctx, name):
        if name == "retry" and self.waiting is not None:
            self._ping(ctx)

    def on_message(self, ctx, msg):
        if msg.kind == "pong" and msg.body["seq"] == self.waiting:
            self.waiting = None
            ctx.cancel_timer("retry")

    def view(self):
        return {"role": "client", "waiting": self.waiting}


class Ponger(Node):
    role = "server"

    def on_start(self, ctx):
        self.seen = set()

    def on_message(self, ctx, msg):
        if msg.kind == "ping":
            seq = msg.body["seq"]
            if "boom" in self.bugs and seq in self.seen:
                raise RuntimeError(f"ping {seq} arrived twice")
            self.seen.add(seq)
            ctx.send(msg.src, "pong", seq=seq)

    def view(self):
        return {"role": "server", "seen": len(self.seen)}


class Answered(Checker):
    invariants = (("answered", "every ping is answered once the faults stop"),)

    def on_quiet(self, sim):
        waiting = sim.observe("n1")["waiting"]
        if waiting is not None:
            return [Violation("answered", f"ping {waiting} was never answered", ("n1",))]
        return []


class PingCheck(Protocol):
    name = "pingcheck"
    title = "Ping (test)"
    summary = "A client pings servers and retries until answered."
    nodes_default = 3
    nodes_min = 2
    nodes_max = 7
    params = (Param("wait", 100, 10, 5000, "retry interval (ms)"),
              Param("ratio", 0.5, 0.0, 1.0, "a float that does nothing", kind="float"),
              Param("mode", "a", 0, 0, "a choice that does nothing", kind="choice", choices=("a", "b", "c")),
              Param("k", 1, 1, 7, "must not exceed the node count"))
    bugs = (Bug("boom", "a server raises on a repeated ping"),
            Bug("no_retry", "the client never retries a ping"))
    operations = (Operation("ping"),)
    timers = ("retry",)
    checker_class = Answered
    fuzz_weights = {"protocol": 3, "request": 8}

    def validate(self, nodes, params):
        return None if params["k"] <= nodes else f"param k={params['k']} is above the node count {nodes}"

    def create_node(self, node_id, node_ids, params, bugs, disk):
        return (Pinger if node_id == node_ids[0] else Ponger)(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        return node_ids[0], "ping", None

    def fuzz_action(self, rng, sim, at):
        """The nemesis: cut n1 off alone."""
        return {"at": at, "do": "partition", "groups": [["n1"], sim.ids[1:]]}


PING = PingCheck()
registry.add(PING)


def check(*args):
    """The CLI in-process: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    code = main(["check", *args], out=out, err=err)
    return code, out.getvalue(), err.getvalue()


def cli(*args, env=None):
    res = subprocess.run([sys.executable, "-m", "engine", *args], check=False, cwd=ROOT, capture_output=True,
                         text=True, timeout=600, env=env)
    return res.returncode, res.stdout, res.stderr


def split_counterexample(out: str):
    """A failing check's output: (head line, scenario dict, token)."""
    head, rest = out.split("\n", 1)
    body = rest.split("\n", 1)[1]
    scenario_text, token = body.rsplit("\ntoken: ", 1)
    return head, json.loads(scenario_text), token.strip()


# ---------------------------------------------------------------- drawing

def test_drawn_params_nodes_and_network_stay_in_bounds_and_vary():
    model = fuzz.Model()
    seen = {p.name: set() for p in PING.params}
    nodes, latencies, losses, dups = set(), set(), set(), set()
    for seed in range(1, 301):
        d = model.draw(PING, seed)
        sc = from_dict({"protocol": "pingcheck", **d})        # validates every drawn value
        assert sc.params == d["params"] and sc.nodes == d["nodes"]
        for p in PING.params:
            v = d["params"][p.name]
            if p.kind == "choice":
                assert v in p.choices
            else:
                assert p.min <= v <= p.max
                assert isinstance(v, int) if p.kind == "int" else isinstance(v, (int, float))
            seen[p.name].add(v)
        assert PING.validate(d["nodes"], d["params"]) is None
        nodes.add(d["nodes"])
        latencies.add(tuple(d["network"]["latency"]))
        losses.add(d["network"]["loss"])
        dups.add(d["network"]["duplicate"])
    assert seen["mode"] == {"a", "b", "c"}
    assert len(seen["wait"]) > 50 and len(seen["ratio"]) > 50 and seen["k"] >= set(range(1, 6))
    assert PING.params[0].default in seen["wait"]                 # the default comes up too
    assert min(seen["wait"]) < 30 and max(seen["wait"]) > 2000    # both ends of the range
    assert nodes == set(range(2, 8))
    assert len(latencies) > 20 and (10, 30) in latencies
    assert all(lo >= 1 and hi <= 10_000 and (lo <= 10 and hi >= 30) for lo, hi in latencies)  # wider, longer
    assert 0.0 in losses and len(losses) > 20 and max(losses) <= 0.3
    assert 0.0 in dups and len(dups) > 20
    plain = [s for s in range(1, 301) if model.draw(PING, s) == {
        "nodes": 3, "params": {"wait": 100, "ratio": 0.5, "mode": "a", "k": 1},
        "network": {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}}]
    assert 40 < len(plain) < 110            # about a quarter of the runs keep the default setup


def test_every_integer_of_a_small_range_and_every_choice_is_reachable():
    import random
    rng = random.Random("reach")
    p = Param("x", 3, 0, 12)
    assert {fuzz.draw_param(rng, p) for _ in range(2000)} == set(range(13))


def test_the_same_seed_draws_the_same_run():
    model = fuzz.Model()
    a = fuzz.fuzz_run("pingcheck", 7, model)
    b = fuzz.fuzz_run("pingcheck", 7, model)
    assert a.scenario.to_json() == b.scenario.to_json()
    assert fuzz.fuzz_run("pingcheck", 8, model).scenario.to_json() != a.scenario.to_json()


def test_pinned_params_nodes_and_network_are_respected():
    model = fuzz.Model(params={"wait": 77, "mode": "c"}, nodes=4, network={"loss": 0.2})
    waits = set()
    for seed in range(1, 61):
        out = fuzz.fuzz_run("pingcheck", seed, model)
        sc = out.scenario
        assert sc.params["wait"] == 77 and sc.params["mode"] == "c" and sc.nodes == 4
        assert sc.network["loss"] == 0.2
        waits.add(sc.params["ratio"])
    assert len(waits) > 5     # the unpinned ones are still drawn


def test_validate_is_respected_and_an_impossible_pin_is_refused():
    for seed in range(1, 101):
        d = fuzz.Model(nodes=2).draw(PING, seed)
        assert d["params"]["k"] <= 2
    # k=6 can only run on 6 or 7 nodes: the fallback finds one
    assert fuzz.Model(params={"k": 6}).fallback(PING)[0] in (6, 7)
    code, out, err = check("--protocol", "pingcheck", "--param", "k=6", "--nodes", "3")
    assert code == 2 and out == "" and err == "error: param k=6 is above the node count 3\n"


# ---------------------------------------------------------------- fault models

def kinds(scenario) -> set:
    return {a["do"] for a in scenario.actions}


def test_crash_restart_model_never_partitions_drops_duplicates_loses_or_delays():
    model = fuzz.Model(faults=fuzz.parse_faults("crash,restart"))
    seen = set()
    for seed in range(1, 121):
        sc = fuzz.fuzz_run("pingcheck", seed, model).scenario
        seen |= kinds(sc)
        assert kinds(sc) <= {"crash", "restart", "request"}, sc.actions
        assert sc.network == {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}
    assert seen == {"crash", "restart", "request"}


def test_every_fault_kind_shows_up_under_the_full_model():
    seen = set()
    for seed in range(1, 121):
        seen |= kinds(fuzz.fuzz_run("pingcheck", seed).scenario)
    assert {"crash", "restart", "partition", "heal", "drop", "duplicate", "timeout", "set", "request"} <= seen


def test_the_protocols_nemesis_keeps_to_the_fault_model():
    # pingcheck's nemesis only partitions: without "partition" in the model its moves are refused
    no_cut = fuzz.Model(faults=("crash", "protocol"))
    with_cut = fuzz.Model(faults=("partition", "protocol"))
    assert all("partition" not in kinds(fuzz.fuzz_run("pingcheck", s, no_cut).scenario) for s in range(1, 41))
    assert any("partition" in kinds(fuzz.fuzz_run("pingcheck", s, with_cut).scenario) for s in range(1, 41))


def test_the_calm_heals_restarts_and_stops_loss_so_eventual_properties_are_judged():
    settles = set()
    for seed in range(1, 61):
        out = fuzz.fuzz_run("pingcheck", seed)
        sc = out.scenario
        assert out.settle == PING.settle_ms(sc.params, sc.network) >= 20_000   # the default: generous
        assert sc.until == 10_000 + out.settle
        assert sc.until - max([0] + [a["at"] for a in sc.actions]) >= out.settle   # a full calm after the faults
        settles.add(out.settle)
        sim = Simulation(sc, trace=False).run()
        # what Simulation requires before it asks the checker's on_quiet
        assert all(sim.up.values()) and sim.network.groups is None and sim.stopped_reason is None
        assert sim.network.loss == 0 and sim.network.duplicate == 0
        assert sim.network.latency == sc.network["latency"]
    assert 20_000 in settles and len(settles) > 5      # 10x the largest parameter (wait) when that is longer


# ---------------------------------------------------------------- the CLI

def test_success_line_names_the_model():
    code, out, err = check("--protocol", "pingcheck", "--runs", "40", "--faults", "crash,restart")
    assert code == 0, err
    assert out == ("pingcheck: 40 runs, no violation (faults: crash,restart; params drawn; nodes 2..7; "
                   "default network; eventual properties judged after the protocol's settle time)\n")
    code, out, err = check("--protocol", "pingcheck", "--runs", "5", "--param", "wait=50", "--nodes", "3",
                           "--network", '{"loss": 0.1}', "--settle", "0")
    assert code == 0, err
    assert out == ("pingcheck: 5 runs, no violation (faults: all; params drawn, wait=50 pinned; nodes 3; "
                   "network: latency, duplicate drawn, loss=0.1 pinned; eventual properties not judged)\n")


@pytest.mark.parametrize("args, needle", [
    (["--param", "nope=1"], "unknown parameter 'nope' for pingcheck; expected one of: wait, ratio, mode, k"),
    (["--param", "wait=5"], "param wait=5 is out of range [10, 5000]"),
    (["--param", "wait=abc"], "param wait must be an integer, got 'abc'"),
    (["--param", "ratio=x"], "param ratio must be a number, got 'x'"),
    (["--param", "mode=z"], "param mode='z' must be one of a, b, c"),
    (["--param", "wait"], "--param 'wait' must be NAME=VALUE"),
    (["--network", "{bad"], "--network is not valid JSON"),
    (["--network", "[1]"], "network must be an object"),
    (["--network", '{"loss": 2}'], "network.loss=2 is out of range [0.0, 0.9]"),
    (["--network", '{"latency": [30, 10]}'], "network.latency min 30 is above max 10"),
    (["--network", '{"jitter": 1}'], "unknown network field 'jitter'"),
    (["--faults", "crash,meteor"], "unknown fault 'meteor'; expected a comma list of: crash, restart,"),
    (["--faults", ""], "--faults is empty"),
    (["--nodes", "8"], "nodes=8 is out of range [2, 7]"),
    (["--settle", "-1"], "--settle=-1 is out of range [0, 590000]"),
    (["--runs", "0"], "--runs=0 is out of range"),
])
def test_bad_check_input_is_one_line_exit_2(args, needle):
    code, out, err = check("--protocol", "pingcheck", *args)
    assert code == 2 and out == ""
    assert err.startswith("error: ") and needle in err
    assert len(err.strip().splitlines()) == 1


def test_bad_check_input_from_a_real_process_is_one_line():
    code, out, err = cli("--protocol-file", EXAMPLE, "check", "--param", "hold=0")
    assert (code, out) == (2, "") and err == "error: param hold=0 is out of range [1, 10000]\n"
    code, out, err = cli("--protocol-file", EXAMPLE, "check", "--faults", "crash,typo")
    assert code == 2 and "unknown fault 'typo'" in err and len(err.splitlines()) == 1


def test_a_handler_that_raises_is_a_shrunk_replayable_counterexample(tmp_path):
    code, out, err = check("--protocol", "pingcheck", "--bug", "boom")
    assert code == 1, err
    assert err == "" and "Traceback" not in out
    head, scenario, token = split_counterexample(out)
    assert head.startswith("PROTOCOL ERROR after ")
    assert "failed in on_message(ping)" in head and "RuntimeError: ping" in head and "arrived twice" in head
    assert from_token(token).to_dict() == from_dict(scenario).to_dict()
    # `run` replays it to the same error (run reports a protocol error with exit 3)
    path = tmp_path / "cx.json"
    path.write_text(json.dumps(scenario))
    out2, err2 = io.StringIO(), io.StringIO()
    assert main(["run", str(path)], out=out2, err=err2) == 3
    assert err2.getvalue() == f"protocol error: {head.split(': ', 1)[1]}\n"


def test_shrinking_a_protocol_error_keeps_the_same_kind_of_error():
    model = fuzz.Model()
    out = next(o for o in (fuzz.fuzz_run("pingcheck", s, model, bugs=["boom"]) for s in range(1, 50))
               if o.error is not None and len(o.scenario.actions) > 5)
    assert out.error_kind == "RuntimeError in on_message(ping)"
    small = fuzz.shrink_finding(out.scenario, ("error", out.error_kind))
    assert len(small.actions) < len(out.scenario.actions) and small.until <= out.scenario.until
    found = fuzz.outcome_of(small)
    assert found[-1]["error"] == "RuntimeError in on_message(ping)" and "arrived twice" in found[-1]["message"]


def test_an_eventual_property_is_judged_after_the_calm_and_flagged(tmp_path):
    code, out, err = check("--protocol", "pingcheck", "--bug", "no_retry")
    assert code == 1, err
    head, scenario, _token = split_counterexample(out)
    assert head.startswith("VIOLATION (eventual) after ") and "answered" in head
    settle = PING.settle_ms(scenario["params"], scenario["network"])
    assert "never answered" in head and f"(judged after {settle} ms without faults)" in head
    path = tmp_path / "cx.json"
    path.write_text(json.dumps(scenario))
    replay = io.StringIO()
    assert main(["run", str(path), "--jsonl"], out=replay) == 0
    summary = json.loads(replay.getvalue().splitlines()[-1])
    assert [(v["invariant"], v.get("eventual")) for v in summary["violations"]] == [("answered", True)]
    # without the calm nothing is judged, so nothing is found
    code, out, err = check("--protocol", "pingcheck", "--bug", "no_retry", "--settle", "0", "--runs", "60")
    assert code == 0 and "eventual properties not judged" in out, out + err


def test_mutex_counterexample_keeps_its_pins_and_replays(tmp_path):
    code, out, err = cli("--protocol-file", EXAMPLE, "check", "--bug", "forget_holder", "--param", "retry=150",
                         "--nodes", "4", "--faults", "crash,restart")
    assert code == 1, err
    head, scenario, token = split_counterexample(out)
    assert head.startswith("VIOLATION after ") and "mutual_exclusion" in head
    assert scenario["params"]["retry"] == 150 and scenario["network"]["latency"] == [10, 30]
    assert kinds(from_dict(scenario)) <= {"crash", "restart", "request"}
    assert f"replay with: python -m engine --protocol-file {EXAMPLE} run FILE" in out
    path = tmp_path / "cx.json"
    path.write_text(json.dumps(scenario))
    code, replay, err = cli("--protocol-file", EXAMPLE, "run", str(path), "--jsonl")
    assert code == 0, err
    summary = json.loads(replay.splitlines()[-1])
    assert summary["violations"][0]["invariant"] == "mutual_exclusion"
    code, replay2, _ = cli("--protocol-file", EXAMPLE, "run", "--token", token, "--jsonl")
    assert replay2 == replay


def test_a_closed_stdout_still_exits_1_when_something_was_found():
    args = [sys.executable, "-m", "engine", "--protocol-file", EXAMPLE, "check", "--bug", "forget_holder"]
    # The reader is gone before the first byte is written: every write fails with EPIPE.
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=600) == 1, err
    assert "Traceback" not in err and "Exception ignored" not in err
    # `check ... | head -1`: the reader takes one line and leaves
    proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    first = proc.stdout.readline().decode()
    proc.stdout.close()
    err = proc.stderr.read().decode()
    assert proc.wait(timeout=600) == 1 and first.startswith("VIOLATION after"), err
    assert "Traceback" not in err
    # nothing found, reader gone: still 0
    proc = subprocess.Popen(args[:-2] + ["--runs", "20"], cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    proc.stdout.close()
    assert proc.wait(timeout=600) == 0 and proc.stderr.read() == b""


def test_check_output_is_identical_across_processes_and_hash_seeds():
    args = ("--protocol-file", EXAMPLE, "check", "--bug", "forget_holder", "--seed", "40")
    a = cli(*args, env={**os.environ, "PYTHONHASHSEED": "1"})
    b = cli(*args, env={**os.environ, "PYTHONHASHSEED": "31337"})
    assert a == b and a[0] == 1


# ---------------------------------------------------------------- the library stays compatible

def test_random_run_without_new_arguments_draws_the_same_schedules_as_before():
    """Pinned from the fuzzer before the fault models (engine/fuzz.py at e4a8222's successor 0db6d50)."""
    h = hashlib.sha256()
    for seed in range(1, 41):
        for kw in ({}, {"bugs": ["forget_holder"]}, {"actions": 15, "until": 4000, "nodes": 4},
                   {"weights": {"drop": 9, "partition": 5}, "base": {"network": {"loss": 0.1, "duplicate": 0.1}}},
                   {"until": 3000, "settle": 5000, "eventual": True}):
            sc, found = fuzz.random_run("mutex", seed, **kw)
            h.update(sc.to_json().encode())
            h.update(json.dumps(found, sort_keys=True).encode())
    assert h.hexdigest() == "f614301dd7f21802aba98febe53d75319098c0ddbb5931c38b74246b7e16bfcc"


def test_library_check_without_a_model_is_unchanged():
    small, found, runs = fuzz.check("mutex", bugs=["forget_holder"], runs=300)
    assert found[0]["invariant"] == "mutual_exclusion" and runs <= 300
    assert fuzz.violations_of(from_dict(small.to_dict()))[0]["invariant"] == "mutual_exclusion"
