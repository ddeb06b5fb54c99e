"""/api/compare/plan latency against the real server (eventlet, a subprocess): the first request
of each query (planned and run) and the cached answer (median of 10). Not a test.

    .venv/bin/python bench/compare_api.py
"""

from __future__ import annotations

import json
import statistics
import time
import urllib.parse
import urllib.request

from shots import ROOT

from tests.e2e.conftest import free_port, start_server, stop_server

QUERIES = ("protocols=2pc,3pc&faults=coordinator_crash&run=0",
           "protocols=raft,zab,multipaxos&faults=coordinator_crash&run=0",
           "protocols=2pc,3pc,tcc,saga&faults=business_failure&run=1",
           # a custom schedule at the page's limits: 30 s, 40 items
           "protocols=raft,zab&schedule=" + urllib.parse.quote(json.dumps(
               {"until": 30_000, "items": [{"at": 100 + 700 * k, "do": "request"} for k in range(40)]})))


def main() -> None:
    port = free_port()
    (ROOT / "test-results").mkdir(exist_ok=True)
    with open(ROOT / "test-results" / "compare_api.log", "w") as log:
        proc = start_server(port, log)
        try:
            base = f"http://127.0.0.1:{port}/api/compare/plan?"

            def get(q: str) -> float:
                t = time.perf_counter()
                with urllib.request.urlopen(base + q) as r:
                    r.read()
                return (time.perf_counter() - t) * 1000
            for q in QUERIES:
                first = get(q)
                cached = statistics.median(get(q) for _ in range(10))
                print(json.dumps({"query": q[:70], "first_ms": round(first, 1), "cached_median_ms": round(cached, 1)}))
        finally:
            stop_server(proc)


if __name__ == "__main__":
    main()
