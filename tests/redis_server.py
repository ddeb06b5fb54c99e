"""A real redis-server on a free port for the queue tests (engine/hunt.py's --queue, the
server's hunts with PLAYGROUND_REDIS). Missing redis-server: the tests are skipped
locally and fail in CI (env CI set), as the browser tests do without Chromium."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import time

import pytest


def redis_path() -> str | None:
    return os.environ.get("REDIS_SERVER") or shutil.which("redis-server")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def require_redis() -> str:
    """redis-server's path; skips the test locally without it, fails in CI."""
    path = redis_path()
    if not path:
        if os.environ.get("CI"):
            pytest.fail("redis-server is required for the queue tests (apt-get install redis-server)")
        pytest.skip("redis-server not installed (apt-get install redis-server); CI runs these")
    return path


@contextlib.contextmanager
def running_redis(workdir):
    """A redis-server on a free port, saving nothing, stopped on exit: yields its redis:// URL."""
    path = require_redis()
    port = _free_port()
    proc = subprocess.Popen([path, "--port", str(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                             "--dir", str(workdir)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            if proc.poll() is not None or time.monotonic() > deadline:
                proc.kill()
                pytest.fail("redis-server did not start")
            time.sleep(0.05)
    try:
        yield f"redis://127.0.0.1:{port}/0"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


@pytest.fixture(scope="module")
def redis_url(tmp_path_factory):
    """redis://127.0.0.1:PORT/0 of a redis-server of this module's own (nothing saved to disk)."""
    require_redis()
    import rq  # noqa: F401 -- requirements.txt: a missing rq is a failure, not a skip
    with running_redis(tmp_path_factory.mktemp("redis")) as url:
        yield url
