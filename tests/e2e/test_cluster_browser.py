"""Scale-out (docs/scale-out.md): two server processes behind nginx with Redis, started by
scripts/cluster.sh. Two browsers reach one session through nginx; the process holding it is
killed; both pages come back to the same session, by the same link, on the survivor, with
the run where it was, and it plays on for both.

Needs redis-server and nginx: skipped without them, except in CI (where .ci/run installs them
and a missing one fails)."""

import os
import shutil
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request

import pytest

from tests.e2e.conftest import ROOT, free_port
from tests.e2e.test_browser import model, node_action, ready, set_speed

RUN = """() => {
  const m = window.__pp.model;
  return { t: m.t, crashes: m.events.filter((e) => e.type === 'crash').map((e) => [e.node, e.t]),
           n: m.events.length };
}"""


def _tools_missing() -> list[str]:
    return [t for t in ("redis-server", "nginx") if not (shutil.which(t) or os.path.exists(f"/usr/sbin/{t}"))]


def _status(url: str) -> int:
    try:
        with urllib.request.urlopen(url, timeout=5) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


def _free_pair() -> int:
    """A port p with p+1 and p+2 free: cluster.sh puts process i on BASE_PORT+i."""
    for _ in range(100):
        p = free_port()
        try:
            for q in (p + 1, p + 2):
                with socket.socket() as s:
                    s.bind(("127.0.0.1", q))
            return p
        except OSError:
            continue
    raise RuntimeError("no two consecutive free ports")


@pytest.fixture
def cluster(tmp_path):
    missing = _tools_missing()
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"{', '.join(missing)} missing: .ci/run installs them (apt-get install redis-server nginx)")
        pytest.skip(f"{', '.join(missing)} not installed (apt-get install redis-server nginx); CI runs this")
    port, redis, base = free_port(), free_port(), _free_pair()
    env = {**os.environ, "PORT": str(port), "BASE_PORT": str(base), "REDIS_PORT": str(redis),
           "RUN_DIR": str(tmp_path), "SETUP": "0"}
    (ROOT / "test-results").mkdir(exist_ok=True)
    with open(ROOT / "test-results" / "cluster.log", "w") as log:
        proc = subprocess.Popen(["bash", "scripts/cluster.sh", "2"], cwd=ROOT, env=env, stdout=log,
                                stderr=subprocess.STDOUT, start_new_session=True)
        try:
            yield f"http://127.0.0.1:{port}", _started(proc, port, tmp_path / "backends")
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()


def _started(proc, port: int, listing) -> list[tuple[int, int]]:
    """Waits until nginx and both processes answer; -> [(port, pid)] of the processes."""
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"scripts/cluster.sh exited with {proc.returncode}; see test-results/cluster.log")
        words = listing.read_text().split() if listing.exists() else []
        backends = [(int(p), int(pid)) for p, pid in zip(words[::2], words[1::2])]
        try:
            if len(backends) == 2 and all(_status(f"http://127.0.0.1:{p}/") == 200 for p, _ in backends) \
                    and _status(f"http://127.0.0.1:{port}/") == 200:
                return backends
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the cluster did not start within 60 s; see test-results/cluster.log")


def test_two_browsers_through_nginx_survive_the_death_of_the_process_holding_their_session(
        browser, errors, cluster):
    url, backends = cluster
    contexts = []

    def page_at(path):
        ctx = browser.new_context()
        contexts.append(ctx)
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(f"{path}: {e}"))
        page.goto(url + path)
        return ready(page)

    try:
        owner = page_at("/play/2pc")
        session = owner.evaluate("window.__pp.session")
        assert "." in session        # [route].[random]: nginx hashes on the route
        set_speed(owner, 0)
        owner.click("#play")
        owner.wait_for_function("window.__pp.model.t >= 300", timeout=30000)
        owner.click("#play")                                   # pause
        owner.wait_for_function("window.__pp.playing === false")
        victim = model(owner, "m.ids[1]")
        node_action(owner, victim, "crash")
        owner.wait_for_function(f"window.__pp.model.nodes[{victim!r}].up === false")
        before = owner.evaluate(RUN)

        watcher = page_at(f"/play/2pc?session={session}")
        assert watcher.evaluate("[window.__pp.session, window.__pp.role]") == [session, "viewer"]
        assert watcher.evaluate(RUN) == before

        # Exactly one process holds the session; both pages' sockets reached it through nginx.
        holders = [(p, pid) for p, pid in backends if _status(f"http://127.0.0.1:{p}/play/2pc?session={session}") == 200]
        assert len(holders) == 1, holders
        (dead_port, dead_pid), = holders
        (live_port, _), = [b for b in backends if b[0] != dead_port]
        assert _status(f"http://127.0.0.1:{live_port}/play/2pc?session={session}") == 404

        os.kill(dead_pid, signal.SIGKILL)

        # Both pages reconnect through nginx to the survivor; the owner brings the run back
        # under the same id, the watcher's rejoin finds it. No reload, same link.
        deadline = time.monotonic() + 60
        while _status(f"http://127.0.0.1:{live_port}/play/2pc?session={session}") != 200:
            assert time.monotonic() < deadline, "the run did not come back on the surviving process"
            time.sleep(0.25)
        for page, role in ((owner, "controller"), (watcher, "viewer")):
            page.wait_for_function(
                f"window.__pp.session === {session!r} && window.__pp.role === {role!r} && window.__pp.connected"
                f" && window.__pp.model.nodes[{victim!r}].up === false", timeout=30000)
            assert page.evaluate(RUN)["crashes"] == before["crashes"]
        # It is live for both: the owner plays, the watcher sees time move on.
        at = owner.evaluate("window.__pp.model.t")
        owner.click("#play")
        watcher.wait_for_function(f"window.__pp.model.t > {at + 100}", timeout=30000)
        owner.click("#play")
        assert watcher.evaluate("window.__pp.session") == session
    finally:
        for ctx in contexts:
            ctx.close()


def test_find_a_bug_through_nginx_runs_on_the_clusters_rq_workers(browser, errors, cluster):
    """With PLAYGROUND_REDIS the server queues the search for the `rq worker`s cluster.sh starts."""
    url, _ = cluster
    ctx = browser.new_context()
    try:
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(f"tcc: {e}"))
        page.goto(url + "/play/tcc")
        ready(page)
        page.click("#tab-scenario")
        page.check("#bugs input[data-bug=confirm_not_idempotent]")
        page.wait_for_function("document.getElementById('bug-count').textContent === '1'")
        page.click("#hunt-start")
        page.wait_for_function("document.getElementById('hunt-status').textContent.includes('Found after')",
                               timeout=90000)
        first = page.evaluate("window.__pp.session")
        page.click("#hunt-open")
        page.wait_for_function(f"window.__pp.session && window.__pp.session !== {first!r}"
                               " && window.__pp.model.violations.length > 0", timeout=30000)
    finally:
        ctx.close()
