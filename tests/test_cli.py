"""The CLI is a public contract: output shapes, exit codes, one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = str(ROOT / "examples" / "mutex.py")


def cli(*args, stdin=None):
    res = subprocess.run([sys.executable, "-m", "engine", *args], check=False, cwd=ROOT, capture_output=True,
                         text=True, input=stdin, timeout=600)
    return res.returncode, res.stdout, res.stderr


def test_list_json_describes_protocols():
    code, out, _ = cli("list", "--json")
    assert code == 0
    protos = {p["name"]: p for p in json.loads(out)}
    assert "forward" in protos
    for p in protos.values():
        assert {"params", "presets", "bugs", "roles", "fields", "operations", "strings"} <= set(p)


def test_run_jsonl_ends_with_summary():
    code, out, err = cli("run", "--protocol", "forward", "--until", "200", "--jsonl")
    assert code == 0, err
    lines = [json.loads(x) for x in out.splitlines()]
    assert [e["seq"] for e in lines[:-1]] == list(range(len(lines) - 1))
    s = lines[-1]
    assert s["type"] == "summary" and s["events"] == len(lines) - 1 and s["t"] <= 200
    assert set(s["nodes"]) == {"n1", "n2", "n3", "n4", "n5"}


def test_run_reads_a_scenario_from_stdin():
    scen = {"protocol": "forward", "until": 100, "actions": [{"at": 50, "do": "crash", "node": "n2"}]}
    code, out, _ = cli("run", "-", "--jsonl", stdin=json.dumps(scen))
    assert code == 0
    assert json.loads(out.splitlines()[-1])["nodes"]["n2"]["up"] is False


@pytest.mark.parametrize("args, stdin, needle", [
    (["run", "--protocol", "nope"], None, "unknown protocol 'nope'"),
    (["run", "-"], "{not json", "not valid JSON"),
    (["run", "-"], '{"protocol": "forward", "nodes": 77}', "nodes=77 is out of range"),
    (["run", "-"], '{"protocol": "forward", "actions": [{"at": 1, "do": "crash", "node": "zz"}]}',
     "unknown node 'zz'"),
    (["run", "--protocol", "forward", "--bug", "nope"], None, "unknown bug 'nope'"),
    (["run", "--token", "%%%"], None, "share token is malformed"),
    (["run", "/no/such/file.json"], None, "cannot read scenario file"),
    (["run", "--protocol", "forward", "--preset", "nope"], None, "unknown preset 'nope'"),
    (["run", "--protocol", "forward", "--seed", "abc"], None, "invalid int value"),
    (["check", "--protocol", "forward", "--runs", "0"], None, "--runs=0 is out of range"),
    (["check", "--protocol", "forward", "--until", "-5"], None, "until=-5 is out of range"),
    (["--protocol-file", "/no/such.py", "list"], None, "protocol file not found"),
    (["frobnicate"], None, "invalid choice"),
])
def test_bad_input_is_one_line_on_stderr_exit_2(args, stdin, needle):
    code, _out, err = cli(*args, stdin=stdin)
    assert code == 2
    assert needle in err
    assert len(err.strip().splitlines()) == 1 and "Traceback" not in err


def test_user_protocol_file_runs_and_check_passes_without_bug():
    code, out, err = cli("--protocol-file", EXAMPLE, "check", "--protocol", "mutex", "--runs", "100")
    assert code == 0, err
    assert out.startswith("mutex: 100 runs, no violation (faults: all; params drawn; nodes 2..6;")


def test_protocol_file_after_the_command_names_the_protocol_to_run():
    """The issue's spelling: `run --protocol-file my_protocol.py`, no --protocol."""
    code, out, err = cli("run", "--protocol-file", EXAMPLE, "--until", "300", "--jsonl")
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert summary["nodes"]["n1"]["role"] == "server"
    code, out, err = cli("check", "--protocol-file", EXAMPLE, "--bug", "forget_holder")
    assert code == 1 and "mutual_exclusion" in out.splitlines()[0], err
    code, _out, err = cli("check")
    assert code == 2 and "check needs --protocol" in err


def test_check_prints_a_counterexample_that_run_replays(tmp_path):
    code, out, err = cli("--protocol-file", EXAMPLE, "check", "--protocol", "mutex", "--bug", "forget_holder")
    assert code == 1, out + err
    head, rest = out.split("\n", 1)
    assert head.startswith("VIOLATION after") and "mutual_exclusion" in head
    body = rest.split("\n", 1)[1]
    scenario_text, token_line = body.rsplit("\ntoken: ", 1)
    path = tmp_path / "cx.json"
    path.write_text(scenario_text)
    code, out, err = cli("--protocol-file", EXAMPLE, "run", str(path), "--jsonl")
    assert code == 0, err
    summary = json.loads(out.splitlines()[-1])
    assert [v["invariant"] for v in summary["violations"]][:1] == ["mutual_exclusion"]
    code, out2, _ = cli("--protocol-file", EXAMPLE, "run", "--token", token_line.strip(), "--jsonl")
    assert out2 == out


def test_bench_reports_events_per_second():
    code, out, err = cli("bench", "--section", "protocols", "--protocol", "forward", "--repeat", "1",
                         "--until", "2000", "--json")
    assert code == 0, err
    rows = json.loads(out)["protocols"]
    assert {r["trace"] for r in rows} == {True, False}
    assert all(r["deliveries"] > 0 and r["handled_per_s"] > 0 for r in rows)


def test_bench_puts_the_engine_beside_its_references_and_measures_checkpoints():
    code, out, err = cli("bench", "--section", "core", "--section", "checkpoints", "--repeat", "1",
                         "--core-until", "2000", "--events", "3000")
    assert code == 0, err
    assert "x simpy" in out and "engine, full trace" in out and "run --jsonl" in out
    assert "checkpoints: Raft, 5 nodes" in out and "replay from 0" in out and "90%" in out


@pytest.mark.parametrize("args, needle", [
    (["bench", "--repeat", "0"], "--repeat=0 is out of range"),
    (["run", "-", "--seed", "3"], "nested too deeply"),
])
def test_more_bad_input_is_one_line(args, needle):
    deep = '{"protocol": ' + "[" * 30000 + "]" * 30000 + "}"
    code, _out, err = cli(*args, stdin=deep)
    assert code == 2 and needle in err and len(err.strip().splitlines()) == 1
