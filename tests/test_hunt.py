"""`check --jobs N` and `--queue`: chunks of runs in worker processes give the same answer,
byte for byte, as one process (engine/hunt.py)."""

import json
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from engine import fuzz, hunt
from engine.scenario import from_token

from .redis_server import redis_url  # noqa: F401 -- a fixture

ROOT = Path(__file__).resolve().parent.parent
BUGGY = ["--protocol", "2pc", "--bug", "heuristic_abort", "--runs", "60"]     # found after 16 runs
RQ = str(Path(sys.executable).with_name("rq"))     # the worker command rq installs beside python
CORRECT = ["--protocol", "2pc", "--runs", "24"]


def check(*args, **kw):
    return subprocess.run([sys.executable, "-m", "engine", "check", *args], check=False, cwd=ROOT, capture_output=True,
                          text=True, timeout=120, **kw)


@pytest.mark.parametrize("args", [BUGGY, CORRECT], ids=["bug", "correct"])
def test_jobs_print_the_same_bytes_as_one_process(args):
    one = check(*args)
    three = check(*args, "--jobs", "3")
    assert one.returncode == three.returncode == (1 if "--bug" in args else 0)
    assert three.stdout == one.stdout
    assert three.stderr == one.stderr == ""


def test_progress_is_one_json_line_per_run_or_chunk_ending_at_the_runs_done():
    one = check(*BUGGY, "--progress")
    lines = [json.loads(x) for x in one.stderr.splitlines()]
    assert lines == [{"done": n, "runs": 60} for n in range(1, 17)]     # one per run, up to the finding
    three = check(*BUGGY, "--jobs", "3", "--progress")
    lines = [json.loads(x) for x in three.stderr.splitlines()]
    assert lines and all(set(x) == {"done", "runs"} and x["runs"] == 60 for x in lines)
    assert lines[-1]["done"] == 16
    assert three.stdout == one.stdout


def test_json_output_carries_the_finding_and_a_token_that_replays_it():
    r = check(*BUGGY, "--json")
    assert r.returncode == 1
    out = json.loads(r.stdout)
    assert out["runs"] == 16 and out["found"][0]["invariant"] == "atomicity"
    scenario = from_token(out["token"])
    assert scenario.to_dict() == out["scenario"]
    assert "atomicity" in [v["invariant"] for v in fuzz.violations_of(scenario)]
    ok = json.loads(check(*CORRECT, "--json").stdout)
    assert ok["runs"] == 24 and ok["found"] == [] and ok["token"] is None


def test_chunks_cover_the_seeds_in_order():
    for seed, runs, jobs in [(1, 60, 3), (5, 7, 4), (1, 1000, 2), (3, 1, 8)]:
        pieces = hunt.chunks(seed, runs, jobs)
        seeds = [s + i for s, n in pieces for i in range(n)]
        assert seeds == list(range(seed, seed + runs))
        assert all(1 <= n <= hunt.CHUNK_MAX for _, n in pieces)


def test_a_chunk_stops_at_its_first_failing_seed_and_agrees_with_check():
    model = fuzz.Model()
    spec = hunt.spec_of("2pc", model, bugs=["heuristic_abort"])
    json.dumps(spec)                                             # what a queue carries
    assert hunt.run_chunk(spec, 1, 10) == {"start": 1, "count": 10, "done": 10, "failed": None}
    assert hunt.run_chunk(spec, 11, 10) == {"start": 11, "count": 10, "done": 6, "failed": 16}
    small, found, done = fuzz.check("2pc", bugs=["heuristic_abort"], runs=60, model=model)
    ce = hunt.counterexample(spec, 16, 16)
    assert json.loads(json.dumps(ce)) == ce
    assert ce["scenario"] == small.to_dict() and ce["token"] == small.to_token() and done == 16
    assert ce["found"][0]["invariant"] == found[0]["invariant"] == "atomicity"


def test_the_lowest_failure_wins_whatever_order_chunks_finish_in():
    pieces = hunt.chunks(1, 40, 2)                # 5 runs each: 1, 6, 11, ...
    t = hunt.Tally(pieces)
    t.add({"start": 21, "count": 5, "done": 2, "failed": 22})
    assert t.failed == 22 and not t.settled()
    t.add({"start": 11, "count": 5, "done": 4, "failed": 14})
    assert t.failed == 14 and [p[0] for p in t.needed()] == [1, 6, 11]
    t.add({"start": 1, "count": 5, "done": 5, "failed": None})
    assert not t.settled()
    t.add({"start": 6, "count": 5, "done": 5, "failed": None})
    assert t.settled() and t.done() == 14


def test_bad_jobs_and_an_unreachable_queue_are_one_line_errors():
    r = check(*CORRECT, "--jobs", "0")
    assert r.returncode == 2 and r.stderr.startswith("error: --jobs=0") and len(r.stderr.splitlines()) == 1
    r = check(*CORRECT, "--queue", "redis://127.0.0.1:1/0")
    assert r.returncode == 2 and r.stderr.startswith("error: check queue") and len(r.stderr.splitlines()) == 1


def test_the_engine_runs_without_rq_or_redis():
    code = ("import sys; sys.modules['rq'] = None; sys.modules['redis'] = None\n"
            "from engine.cli import main\n"
            "sys.exit(main(['check', '--protocol', '2pc', '--runs', '4', '--jobs', '2']))")
    r = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.startswith("2pc: 4 runs, no violation")


# ---------------------------------------------------------------- the Redis queue, with real rq workers

def test_queue_prints_the_same_bytes_as_one_process(redis_url):  # noqa: F811
    one = check(*BUGGY)
    result = {}
    t = threading.Thread(target=lambda: result.update(r=check(*BUGGY, "--queue", redis_url, "--progress")))
    t.start()
    # A real worker, in its own process, that leaves when the queue is empty.
    worker = None
    try:
        while t.is_alive():
            worker = subprocess.run([RQ, "worker", "--url", redis_url, "--burst", "--quiet", hunt.QUEUE], check=False, cwd=ROOT, capture_output=True, text=True, timeout=120)
            t.join(0.2)
    finally:
        t.join(120)
    r = result["r"]
    assert worker is not None and worker.returncode == 0, worker.stderr
    assert r.returncode == 1 and r.stdout == one.stdout
    progress = [json.loads(x) for x in r.stderr.splitlines() if x.startswith("{")]
    assert progress[-1] == {"done": 16, "runs": 60}


def test_workers_that_start_afresh_load_the_protocol_file_themselves():
    """A spawned worker (as on another machine: nothing inherited) loads --protocol-file itself."""
    args = ["check", "--protocol-file", "examples/mutex.py", "--bug", "forget_holder", "--faults", "crash,restart",
            "--runs", "40"]
    code = ("import multiprocessing, sys\n"
            "if __name__ == '__main__':\n"
            "    multiprocessing.set_start_method('spawn')\n"
            "    from engine.cli import main\n"
            f"    sys.exit(main({[*args, '--jobs', '2']!r}))\n")
    spawned = subprocess.run([sys.executable, "-c", code], check=False, cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
    one = subprocess.run([sys.executable, "-m", "engine", *args], check=False, cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert one.returncode == spawned.returncode == 1, spawned.stderr
    assert one.stdout.startswith("VIOLATION after 14 runs: mutual_exclusion")
    assert spawned.stdout == one.stdout
