""""Find a bug": counterexample searches for the play page (`hunt`, `hunt_cancel`).

A hunt is `python -m engine check` for one session's setup: its protocol, bug
toggles, parameters, node count and network pinned (as `--param`, `--nodes`,
`--network` pin them), the faults and their timing drawn. The work never runs in
the server's event loop:

- without Redis, each hunt is a child process (`check --progress --json`, niced)
  whose output a background task reads line by line;
- with config PLAYGROUND_REDIS (a redis:// URL), its chunks are RQ jobs for
  `rq worker --url URL playground-check` processes on any machine
  (engine/hunt.py), and a background task polls their states.

At most `max_hunts` run at once in the whole server; the others wait in order
and are told their place. One hunt per connection, `max_hunts_per_address` per
client address (running or waiting). A hunt ends when its client cancels it or
disconnects (its child is killed; its queued jobs are cancelled). Only the
client that asked hears about it: `hunt` events, docs/socket-api.md.
"""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from engine import fuzz, hunt, registry

from .payloads import ApiError

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_RUNS = 200
EMIT_EVERY_S = 0.25          # progress to the client at most this often
POLL_S = 0.3                 # queue mode: job states read this often


@dataclass
class Hunt:
    id: str
    sid: str
    addr: str | None
    session: str
    runs: int
    args: list[str]                  # `check` arguments (local mode)
    spec: dict                       # engine.hunt spec (queue mode)
    state: str = "queued"
    done: int = 0
    cancelled: bool = False
    proc: subprocess.Popen | None = None
    url: str | None = None           # PLAYGROUND_REDIS: chunks go to its queue
    jobs: list = field(default_factory=list)
    last_emit: float = 0.0

    def payload(self, **extra) -> dict:
        return {"id": self.id, "session": self.session, "state": self.state, "done": self.done,
                "runs": self.runs, **extra}


def _start_of(job) -> int | None:
    """A chunk job's first seed (None for the counterexample job)."""
    return job.args[1] if job.func_name.endswith("run_chunk") else None


def _refuse_busy() -> ApiError:
    return ApiError("limit", "this tab is already searching for a bug; cancel it first", "refused.hunt_running")


class Hunts:
    def __init__(self, socketio, manager, python: str = sys.executable):
        self.socketio = socketio
        self.manager = manager
        self.python = python
        self.waiting: list[Hunt] = []
        self.running: dict[str, Hunt] = {}
        self.by_sid: dict[str, Hunt] = {}
        self._lock = threading.Lock()

    @property
    def limits(self):
        return self.manager.limits

    # ------------------------------------------------------------ requests

    def setup(self, session_id: str, sid: str) -> tuple[list[str], dict]:
        """The session's setup as `check` arguments and an engine.hunt spec (validated now)."""
        s = self.manager.get(session_id)
        if sid not in s.participants:
            raise ApiError("forbidden", "join this session first: its participants may search it for bugs",
                           "refused.hunt_not_in")
        base = s.base
        proto = registry.get(base.protocol)
        params, network = fuzz.validate_pins(proto, dict(base.params), dict(base.network), base.nodes)
        model = fuzz.Model(params=params, network=network, nodes=base.nodes)
        model.fallback(proto)
        args = ["--protocol", proto.name, "--nodes", str(base.nodes),
                "--network", json.dumps(network, sort_keys=True, separators=(",", ":"))]
        for name, value in params.items():
            args += ["--param", f"{name}={value}"]
        for bug in base.bugs:
            args += ["--bug", bug]
        return args, hunt.spec_of(proto.name, model, bugs=list(base.bugs))

    def start(self, sid: str, addr: str | None, session_id: str, runs: int, redis_url: str | None) -> dict:
        lim = self.limits
        args, spec = self.setup(session_id, sid)
        with self._lock:
            if sid in self.by_sid:
                raise _refuse_busy()
            mine = [h for h in [*self.waiting, *self.running.values()] if h.addr == addr]
            if len(mine) >= lim.max_hunts_per_address:
                raise ApiError("limit", f"this address has {lim.max_hunts_per_address} bug searches running or "
                                        "waiting, the most it may have", "refused.hunt_address",
                               {"n": lim.max_hunts_per_address})
            if len(self.waiting) >= lim.max_hunts_waiting:
                raise ApiError("limit", f"{len(self.waiting)} bug searches are waiting already; try again "
                                        "in a minute", "refused.hunt_full", {"n": len(self.waiting)})
            h = Hunt(secrets.token_urlsafe(6), sid, addr, session_id, runs, args, spec, url=redis_url)
            self.by_sid[sid] = h
            self.waiting.append(h)
            position = len(self.waiting)
        self._emit(h, position=position)
        self._pump()
        return {"ok": True, "id": h.id, "state": h.state, "runs": runs}

    def cancel(self, sid: str, hunt_id: str) -> dict:
        h = self.by_sid.get(sid)
        if h is None or h.id != hunt_id:
            raise ApiError("bad_request", "no such bug search (it may have finished)", "refused.hunt_unknown")
        self._stop(h)
        return {"ok": True, "id": h.id}

    def disconnect(self, sid: str) -> None:
        h = self.by_sid.get(sid)
        if h is not None:
            self._stop(h)

    def _stop(self, h: Hunt) -> None:
        with self._lock:
            h.cancelled = True
            was_waiting = h in self.waiting
            if was_waiting:
                self.waiting.remove(h)
                self._forget(h)
        if was_waiting:
            h.state = "cancelled"
            self._emit(h)
            self._tell_positions()
            return
        proc = h.proc
        if proc is not None and proc.poll() is None:
            proc.kill()               # its reader sees the end of the output and finishes the hunt
        if h.jobs:
            hunt.cancel(h.jobs)

    def _forget(self, h: Hunt) -> None:
        """Call with self._lock held."""
        self.running.pop(h.id, None)
        if self.by_sid.get(h.sid) is h:
            del self.by_sid[h.sid]

    # ------------------------------------------------------------ scheduling

    def _pump(self) -> None:
        """Start waiting hunts while fewer than max_hunts run."""
        started = []
        with self._lock:
            while self.waiting and len(self.running) < self.limits.max_hunts:
                h = self.waiting.pop(0)
                h.state = "running"
                self.running[h.id] = h
                started.append(h)
        for h in started:
            self._emit(h)
            self.socketio.start_background_task(self._run, h)
        if started:
            self._tell_positions()

    def _tell_positions(self) -> None:
        with self._lock:
            waiting = list(self.waiting)
        for i, h in enumerate(waiting):
            self._emit(h, position=i + 1)

    def _run(self, h: Hunt) -> None:
        try:
            if h.url:
                self._run_queue(h)
            else:
                self._run_local(h)
        except Exception as e:   # never let a hunt take the server's task down
            log.exception("hunt %s failed", h.id)
            h.state = "error"
            self._emit(h, message=str(e)[:300])
        finally:
            with self._lock:
                self._forget(h)
            self._pump()

    def _emit(self, h: Hunt, **extra) -> None:
        h.last_emit = time.monotonic()
        self.socketio.emit("hunt", h.payload(**extra), to=h.sid, namespace="/")

    def _progress(self, h: Hunt, done: int) -> None:
        if done != h.done:
            h.done = done
            if time.monotonic() - h.last_emit >= EMIT_EVERY_S:
                self._emit(h)

    def _finish(self, h: Hunt, result: dict | None, error: str | None = None) -> None:
        """The last event: cancelled, an error, or done (with the finding, if any)."""
        if h.cancelled:
            h.state = "cancelled"
            self._emit(h)
        elif error is not None or result is None:
            h.state = "error"
            self._emit(h, message=(error or "the search stopped without an answer")[:300])
        else:
            h.state = "done"
            h.done = result["runs"]
            extra = {}
            if result.get("token"):
                v = result["found"][0]
                extra["found"] = {k: v[k] for k in ("invariant", "message", "t", "key", "args", "eventual")
                                  if v.get(k) is not None}
                extra["found"]["token"] = result["token"]
            self._emit(h, **extra)

    # ------------------------------------------------------------ a child process

    def command(self, h: Hunt) -> list[str]:
        cmd = [self.python, "-m", "engine", "check", *h.args, "--runs", str(h.runs), "--progress", "--json"]
        nice = shutil.which("nice")
        return [nice, "-n", "10", *cmd] if nice else cmd   # sessions' ticks come first

    def _run_local(self, h: Hunt) -> None:
        if h.cancelled:
            return self._finish(h, None)
        # stderr into stdout: one pipe, read to its end, can never fill up and stall the child.
        proc = subprocess.Popen(self.command(h), cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, encoding="utf-8")
        h.proc = proc
        if h.cancelled:             # cancelled while it started
            proc.kill()
        result, other = None, []
        try:
            for line in proc.stdout:
                try:
                    data = json.loads(line)
                except ValueError:
                    other.append(line.strip())
                    continue
                if isinstance(data, dict) and "found" in data:
                    result = data
                elif isinstance(data, dict) and "done" in data:
                    self._progress(h, int(data["done"]))
        finally:
            proc.stdout.close()
            code = proc.wait()
        error = None
        if result is None and not h.cancelled:
            error = " ".join(x for x in other if x) or f"check exited with {code}"
        self._finish(h, result, error)

    # ------------------------------------------------------------ a Redis queue

    def _run_queue(self, h: Hunt) -> None:
        queue = hunt.connect(h.url)
        pieces = hunt.chunks(1, h.runs, 4)
        tally = hunt.Tally(pieces)
        if h.cancelled:
            return self._finish(h, None)
        h.jobs = hunt.enqueue_chunks(queue, h.spec, pieces)
        try:
            while not h.cancelled and not tally.settled():
                self.socketio.sleep(POLL_S)
                hunt.poll(h.jobs, tally)
                self._progress(h, tally.done())
            if h.cancelled:
                return self._finish(h, None)
            low = tally.failed
            if low is None:
                return self._finish(h, {"runs": h.runs, "found": [], "token": None})
            job = hunt.enqueue_counterexample(queue, h.spec, low, low)
            h.jobs.append(job)
            while not h.cancelled:
                self.socketio.sleep(POLL_S)
                status = job.get_status(refresh=True)
                if status == "finished":
                    ce = job.return_value()
                    return self._finish(h, {"runs": ce["done"], "found": ce["found"], "token": ce["token"]})
                if status in ("failed", "stopped", "canceled", None):
                    return self._finish(h, None, "the search's last job failed on its worker")
            return self._finish(h, None)
        except hunt.JobFailed as e:
            return self._finish(h, None, str(e))
        finally:
            # Whatever is still queued is of no use now (a found bug, a cancel, a failure).
            hunt.cancel([j for j in h.jobs if _start_of(j) not in tally.results and _start_of(j) not in tally.dropped])
