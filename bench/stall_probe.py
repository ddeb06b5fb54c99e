"""Run the server (app.py) with a probe of how long its green threads run without
yielding to the event loop. A measuring aid, not part of the server.

    .venv/bin/python bench/stall_probe.py --probe-out runs.json [app.py's options]

Every run of a green thread between two visits to eventlet's hub is timed in CPU
time (time.thread_time), so what other processes on a busy machine take does not
count: it is the stretch everyone else waits for, the thing work slices bound.
On SIGUSR1 it writes {count, p50_ms, p99_ms, p999_ms, max_ms} of the runs since
the last SIGUSR1 to --probe-out and starts afresh (bench/abuse.py --probe).
"""

from __future__ import annotations

import json
import signal
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def summary(runs: list[float]) -> dict:
    s = sorted(runs)

    def at(p: float) -> float:
        return round(s[min(len(s) - 1, int(p * (len(s) - 1)))] * 1000, 2) if s else float("nan")

    return {"count": len(s), "p50_ms": at(0.5), "p99_ms": at(0.99), "p999_ms": at(0.999),
            "max_ms": round(s[-1] * 1000, 2) if s else float("nan")}


def install(out: Path) -> None:
    import greenlet
    from eventlet import hubs

    runs: list[float] = []
    left: list[float | None] = [None]
    hub = hubs.get_hub()

    def trace(event, args):
        if event not in ("switch", "throw"):
            return
        origin, target = args
        if origin is hub.greenlet:
            left[0] = time.thread_time()
        elif target is hub.greenlet and left[0] is not None:
            runs.append(time.thread_time() - left[0])
            left[0] = None

    def dump(*_):
        out.write_text(json.dumps(summary(runs)))
        runs.clear()

    greenlet.settrace(trace)
    signal.signal(signal.SIGUSR1, dump)


def main() -> None:
    argv = sys.argv[1:]
    i = argv.index("--probe-out")
    out = Path(argv[i + 1])
    del argv[i:i + 2]
    import app

    real_patch = app._patch

    def patch(mode):
        real_patch(mode)
        if mode == "eventlet":
            install(out)

    app._patch = patch
    app.main(argv)


if __name__ == "__main__":
    main()
