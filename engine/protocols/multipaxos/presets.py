"""Multi-Paxos's preset scenarios. Their titles and lessons are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Scripted presets use "timeout" actions (force a node's election timer) and
partitions to decide who leads, with a long election timeout so nothing
happens on its own and a fixed 20 ms latency so the script is easy to
follow: a message arrives 20 ms after it is sent. Times were read off the
deterministic trace (`python -m engine run --protocol multipaxos --preset NAME
--jsonl`).
"""

from __future__ import annotations

from ...protocol import Preset


def _put(at, node, arg):
    return {"at": at, "do": "request", "node": node, "op": "put", "arg": arg}


def _timeout(at, node):
    return {"at": at, "do": "timeout", "node": node, "timer": "election"}


def _partition(at, *groups):
    return {"at": at, "do": "partition", "groups": [list(g) for g in groups]}


def _do(at, do, node=None):
    return {"at": at, "do": do, "node": node} if node else {"at": at, "do": do}


SCRIPTED = {"params": {"election_timeout": 2000}, "network": {"latency": [20, 20]}}

PRESETS = (
    # Seed 5: n1 alone times out (t=151) and leads ballot 1.n1 from t=191. Each put then
    # takes one round trip (Accept out, Accepted back: 40 ms); n2's and n3's are forwarded.
    Preset("steady", scenario={
        "seed": 5, "until": 1200, "network": {"latency": [20, 20]},
        "actions": [_put(500, "n1", "x=1"), _put(600, "n2", "y=2"), _put(700, "n3", "z=3"),
                    _put(800, "n1", "x=4")]}),
    # Heartbeats every 400 ms: n1 resends no Accept before it crashes, so slot 3 stays a hole.
    # n3's phase 1 (t=410-450) hears of slots 2 and 4 from n2 and of nothing in slot 3.
    Preset("failover_gaps", scenario={
        **SCRIPTED, "params": {**SCRIPTED["params"], "heartbeat": 400}, "nodes": 5, "until": 1200,
        "actions": [_timeout(10, "n1"),
                    _put(100, "n1", "x=1"),                       # slot 1: chosen everywhere
                    _partition(200, ("n1", "n2"), ("n3", "n4", "n5")),
                    _put(210, "n1", "y=2"),                       # slot 2: reaches n2 only
                    _partition(235, ("n1",), ("n2", "n3", "n4", "n5")),
                    _put(240, "n1", "z=3"),                       # slot 3: n1 alone
                    _partition(300, ("n1", "n2"), ("n3", "n4", "n5")),
                    _put(310, "n1", "w=4"),                       # slot 4: reaches n2 only
                    _do(400, "crash", "n1"), _do(400, "heal"),
                    _timeout(410, "n3"),                          # phase 1: n2 reports 2 and 4; 3 is a hole
                    _put(600, "n3", "v=5"),                       # slot 5
                    _do(700, "restart", "n1")]}),                 # learns the no-op in slot 3 at t=910
    # Each put races a rival's Prepare sent at the same moment: a=1 (t=100) and b=2 (t=200)
    # reach a majority before the rival's Prepare and are carried into the next ballot; c=3
    # (t=300) reaches only its own leader, which reports it in n2's phase 1 (t=320).
    Preset("dueling_leaders", scenario={
        **SCRIPTED, "until": 1000,
        "actions": [_timeout(10, "n1"),
                    _put(100, "n1", "a=1"), _timeout(100, "n3"),
                    _put(200, "n3", "b=2"), _timeout(200, "n1"),
                    _timeout(300, "n2"), _put(300, "n1", "c=3"),
                    _put(500, "n2", "d=4")]}),
    # n3 is cut off from t=100 to t=400 while ten puts are chosen; from t=420 it catches up,
    # three slots per Commit (t=460, 500, 540, then the tenth at 580).
    Preset("slow_acceptor", scenario={
        **SCRIPTED, "params": {**SCRIPTED["params"], "max_batch": 3}, "until": 1000,
        "actions": [_timeout(10, "n1"), _partition(100, ("n1", "n2"), ("n3",)),
                    *[_put(120 + 20 * i, "n1", f"k{i}={i}") for i in range(10)],
                    _do(400, "heal")]}),
    # x=1 is chosen in slot 1 at t=150 by n1 and n2 (n3 cut off). n3 leads from t=250 and,
    # with the bug, puts y=2 in slot 1 at t=300; n2 accepts it at t=320: two values chosen.
    Preset("skip_phase1", scenario={
        **SCRIPTED, "until": 800, "bugs": ["skip_phase1"],
        "actions": [_timeout(10, "n1"), _partition(100, ("n1", "n2"), ("n3",)), _put(110, "n1", "x=1"),
                    _do(200, "crash", "n1"), _do(200, "heal"), _timeout(210, "n3"),
                    _put(300, "n3", "y=2"), _do(500, "restart", "n1")]}),
)
