"""A check split into chunks of runs, for worker processes: `check --jobs N`, `--queue`.

The unit of work is a chunk: a seed range of one check, run by `run_chunk`, a
pure module-level function whose arguments and result are plain JSON (so a
ProcessPoolExecutor can pickle it and an RQ worker on another machine can run
it: `rq worker --url redis://HOST:PORT/DB playground-check`, started in the
repository's root so it can import `engine`). A chunk stops at its first
failing seed. The check's answer is the counterexample of the LOWEST failing
seed, rebuilt and shrunk by `counterexample` exactly as the sequential check
does it, so any number of jobs prints the same bytes as one.

A spec (`spec_of`) is everything a run depends on: protocol, bugs, until,
actions and the fault model, plus the protocol files a worker must load first.
rq and redis are imported only by the queue functions: the engine itself needs
neither.
"""

from __future__ import annotations

import contextlib
import math
import time

from . import fuzz
from .protocols import load_protocol_file, registry

QUEUE = "playground-check"       # the RQ queue name workers listen on
CHUNK_MAX = 25                   # runs in one chunk at most (progress and cancelling stay fine-grained)
JOB_TIMEOUT_S = 600              # an RQ chunk that runs longer is failed by its worker
RESULT_TTL_S = 600               # RQ keeps a finished chunk's result this long


def spec_of(protocol: str, model: fuzz.Model, *, bugs=(), until=None, actions=40, protocol_files=()) -> dict:
    """The JSON-able description of one check's runs (not its seed range)."""
    return {"protocol": protocol, "bugs": list(bugs), "until": until, "actions": actions,
            "protocol_files": list(protocol_files),
            "model": {"faults": list(model.faults), "params": dict(model.params), "network": dict(model.network),
                      "nodes": model.nodes, "settle": model.settle}}


def _model(spec: dict) -> fuzz.Model:
    m = spec["model"]
    return fuzz.Model(faults=tuple(m["faults"]), params=dict(m["params"]), network=dict(m["network"]),
                      nodes=m["nodes"], settle=m["settle"])


def _load(spec: dict) -> None:
    """A worker that has not seen the spec's protocol loads its files (a --protocol-file check)."""
    if spec["protocol"] in registry.names(include_hidden=True):
        return
    for path in spec.get("protocol_files") or ():
        load_protocol_file(path)


def chunks(seed: int, runs: int, jobs: int) -> list[tuple[int, int]]:
    """(first seed, count) pieces covering seed..seed+runs-1, in order: about four per job, at
    most CHUNK_MAX runs each (a found bug cancels the chunks after it; progress moves often)."""
    size = max(1, min(CHUNK_MAX, math.ceil(runs / (max(1, jobs) * 4))))
    return [(seed + i, min(size, runs - i)) for i in range(0, runs, size)]


def run_chunk(spec: dict, start: int, count: int) -> dict:
    """Run seeds start..start+count-1 until one fails. Returns
    {"start", "count", "done": runs made, "failed": the failing seed or None}."""
    _load(spec)
    model = _model(spec)
    for i in range(count):
        out = fuzz.fuzz_run(spec["protocol"], start + i, model, bugs=spec["bugs"], until=spec["until"],
                            actions=spec["actions"])
        if out.found:
            return {"start": start, "count": count, "done": i + 1, "failed": start + i}
    return {"start": start, "count": count, "done": count, "failed": None}


def counterexample(spec: dict, seed: int, done: int) -> dict:
    """The failing run of `seed`, shrunk as check shrinks it: {"scenario": dict, "found": [...],
    "token", "done"} (JSON-able, for a queue's worker)."""
    _load(spec)
    out = fuzz.fuzz_run(spec["protocol"], seed, _model(spec), bugs=spec["bugs"], until=spec["until"],
                        actions=spec["actions"])
    small, found = fuzz.counterexample(out)
    return {"scenario": small.to_dict(), "found": found, "token": small.to_token(), "done": done}


class Tally:
    """Chunk results as they come, in any order: the runs done and the lowest failing seed,
    and whether the answer is known (every chunk before that seed, or every chunk, is in)."""

    def __init__(self, pieces: list[tuple[int, int]]):
        self.pieces = pieces
        self.results: dict[int, dict] = {}      # start -> result
        self.dropped: set[int] = set()          # starts of chunks cancelled (after a failure)

    def add(self, result: dict) -> None:
        self.results[result["start"]] = result

    @property
    def failed(self) -> int | None:
        seeds = [r["failed"] for r in self.results.values() if r["failed"] is not None]
        return min(seeds) if seeds else None

    def needed(self) -> list[tuple[int, int]]:
        """The chunks whose results still matter: all before the lowest failure (all, if none)."""
        low = self.failed
        return [p for p in self.pieces if low is None or p[0] < low]

    def settled(self) -> bool:
        return all(p[0] in self.results for p in self.needed())

    def done(self) -> int:
        """Runs made so far, counting only what the answer depends on."""
        low = self.failed
        return sum(r["done"] for s, r in self.results.items() if low is None or s <= low)


def run_local(spec: dict, seed: int, runs: int, jobs: int, progress=None) -> tuple[int | None, int]:
    """The chunks in a local process pool. Returns (lowest failing seed or None, runs done)."""
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
    pieces = chunks(seed, runs, jobs)
    tally = Tally(pieces)
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        pending = {pool.submit(run_chunk, spec, s, n): s for s, n in pieces}
        while pending and not tally.settled():
            finished, _ = wait(pending, return_when=FIRST_COMPLETED)
            for f in finished:
                del pending[f]
                if not f.cancelled():
                    tally.add(f.result())
            low = tally.failed
            for f, s in list(pending.items()):
                if low is not None and s > low:
                    f.cancel()               # not started: never runs; running: its result is ignored
                    del pending[f]
            if progress:
                progress(tally.done())
        for f in pending:
            f.cancel()
    return tally.failed, _runs_done(tally, seed, runs)


def _runs_done(tally: Tally, seed: int, runs: int) -> int:
    low = tally.failed
    return runs if low is None else low - seed + 1


# ---------------------------------------------------------------- a Redis queue (rq)

def connect(url: str):
    """The check queue on a Redis connection (rq and redis imported only here)."""
    try:
        from redis import Redis
        from rq import Queue
    except ImportError as e:
        raise RuntimeError("--queue needs rq and redis: pip install -r requirements.txt") from e
    return Queue(QUEUE, connection=Redis.from_url(url))


def enqueue_chunks(queue, spec: dict, pieces: list[tuple[int, int]]) -> list:
    """One RQ job per chunk, in seed order (workers take them first come, first served)."""
    from rq import Queue
    return queue.enqueue_many([Queue.prepare_data(run_chunk, (spec, s, n), timeout=JOB_TIMEOUT_S,
                                                  result_ttl=RESULT_TTL_S, failure_ttl=RESULT_TTL_S)
                               for s, n in pieces])


def enqueue_counterexample(queue, spec: dict, seed: int, done: int):
    return queue.enqueue(counterexample, spec, seed, done, job_timeout=JOB_TIMEOUT_S, result_ttl=RESULT_TTL_S,
                         failure_ttl=RESULT_TTL_S)


class JobFailed(RuntimeError):
    """A job failed on its worker (its exception), or was lost."""


def poll(jobs: list, tally: Tally) -> None:
    """Fold the chunks that have finished into `tally`; cancel the ones after the lowest failure.
    Raises JobFailed for a chunk that failed or vanished (its result expired, the queue was emptied)."""
    from rq.job import Job, JobStatus
    if not jobs:
        return
    open_jobs = [j for j in jobs if _start_of(j) not in tally.results and _start_of(j) not in tally.dropped]
    fresh = Job.fetch_many([j.id for j in open_jobs], connection=jobs[0].connection)
    for job, seen in zip(open_jobs, fresh):
        if seen is None:
            if _start_of(job) in {p[0] for p in tally.needed()}:
                raise JobFailed("a check job vanished from the queue")
            continue
        status = seen.get_status(refresh=False)
        if status == JobStatus.FINISHED:
            result = seen.return_value(refresh=False)
            if result is not None:
                tally.results[result["start"]] = result
        elif status in (JobStatus.FAILED, JobStatus.STOPPED, JobStatus.CANCELED) and \
                _start_of(seen) in {p[0] for p in tally.needed()}:
            info = (seen.exc_info or "").strip().splitlines()
            raise JobFailed("a check job failed on its worker: " + (info[-1] if info else str(status)))
    low = tally.failed
    if low is not None:
        later = [j for j in open_jobs if _start_of(j) > low and _start_of(j) not in tally.results]
        cancel(later)
        tally.dropped.update(_start_of(j) for j in later)


def _start_of(job) -> int:
    return job.args[1]


def cancel(jobs: list) -> None:
    """Cancel queued jobs (a running one finishes its chunk; nobody reads it)."""
    for job in jobs:
        with contextlib.suppress(Exception):   # already finished, failed or gone: nothing to cancel
            job.cancel()


def run_queue(url: str, spec: dict, seed: int, runs: int, progress=None, every: float = 0.2,
              waiting=None) -> tuple[int | None, int]:
    """The chunks as RQ jobs, for workers anywhere. Returns (lowest failing seed or None, runs done).
    `waiting(n)` is told once when no worker listens on the queue yet."""
    queue = connect(url)
    if waiting is not None:
        from rq import Worker
        if not Worker.all(queue=queue):
            waiting(QUEUE)
    pieces = chunks(seed, runs, 4)
    tally = Tally(pieces)
    jobs = enqueue_chunks(queue, spec, pieces)
    last = -1
    try:
        while not tally.settled():
            time.sleep(every)
            poll(jobs, tally)
            if progress and tally.done() != last:
                last = tally.done()
                progress(last)
    finally:
        cancel([j for j in jobs if _start_of(j) not in tally.results and _start_of(j) not in tally.dropped])
    return tally.failed, _runs_done(tally, seed, runs)
