"""VR's preset scenarios. Their titles and lessons are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Every preset runs three replicas (f = 1) and the two clients on a fixed 20 ms
latency, so the times are easy to follow: a Request reaches the primary 20 ms
after the client sends it, the Prepare reaches the backups 20 ms later, the
first PrepareOk commits the op 20 ms after that and the Reply lands 20 ms
later again. Defaults: heartbeat 50 ms, view_timeout 200 ms, client_timeout
400 ms. The comments say what happens when (read off the deterministic trace,
`python -m engine run --protocol vr --preset NAME --jsonl`).
"""

from __future__ import annotations

from ...protocol import Preset

FIXED = {"network": {"latency": [20, 20]}}


def _req(at, client, arg):
    return {"at": at, "do": "request", "node": client, "op": "request", "arg": arg}


def _do(at, do, node=None):
    return {"at": at, "do": do, "node": node} if node else {"at": at, "do": do}


def _partition(at, *groups):
    return {"at": at, "do": "partition", "groups": [list(g) for g in groups]}


NORMAL = [
    _req(100, "c1", "x=1"),      # op 1: Prepare at 140, r2's PrepareOk commits it at 160, Reply at 180
    _req(300, "c2", "y=2"),      # op 2, the same way; the idle primary's Commit tells the backups k
    _req(500, "c1", "x=3"),      # op 3: its Prepare to r3 (message 31) is dropped ...
    {"at": 530, "do": "drop", "msg": 31},   # ... r2's PrepareOk still commits it (f = 1)
    _req(700, "c2", "y=4"),      # op 4 reaches r3, which lacks op 3: GetState, NewState
]

POWER = [
    _req(100, "c1", "x=1"), _req(300, "c2", "y=2"),    # ops 1 and 2 commit on all three
    _do(500, "crash", "r1"), _do(500, "crash", "r2"), _do(500, "crash", "r3"),   # the power fails
    _do(700, "restart", "r1"), _do(700, "restart", "r2"), _do(700, "restart", "r3"),
    _req(900, "c1", "x=3"),
]

# The deposed primary: r1 takes two requests it cannot commit, the others move on.
DEPOSED = [
    _partition(60, ("r1", "c1", "c2"), ("r2", "r3")),  # r1 cut off with both clients
    _req(100, "c1", "x=1"), _req(100, "c2", "y=2"),    # r1: ops 1 and 2 of view 0, never committed
    # r2 and r3 hear nothing from r1: view 1 starts (r2 primary, an empty log)
    _partition(400, ("r1", "c1"), ("r2", "r3", "c2")),
    # 500: c2 retries everywhere; r2 takes y=2 as op 1 of view 1, r3 acks: committed
    _do(600, "crash", "r2"), _do(600, "heal"),
    # r3 times out: view 2 (primary r3); r1 joins with its longer log of view 0
    _do(1400, "restart", "r2"),
]


PRESETS = (
    Preset("normal", scenario={**FIXED, "seed": 1, "until": 1200, "actions": NORMAL}),
    Preset("primary_crash", scenario={**FIXED, "seed": 1, "until": 2000, "actions": [
        _req(100, "c1", "x=1"),          # committed in view 0
        _do(250, "crash", "r1"),         # the primary of view 0 is gone
        # about 200 ms after r1's last Commit, r2 and r3 time out: view 1, primary r2
        _req(600, "c1", "x=2"),          # to r1 (c1 believes view 0): no answer ...
        _req(700, "c2", "y=3"),          # ... both clients retry everywhere; r2 answers
    ]}),
    Preset("lagging_primary", scenario={**FIXED, "seed": 1, "until": 2000,
                                        "params": {"view_timeout": 1000}, "actions": [
        _partition(60, ("r2",), ("r1", "r3", "c1", "c2")),    # r2, the next primary, hears nothing
        _req(100, "c1", "x=1"), _req(200, "c2", "y=2"), _req(300, "c1", "x=3"),   # committed by r1 + r3
        _do(400, "crash", "r1"), _do(400, "heal"),
        # about 1000 ms after its last Commit, r2 times out: view 1. r3's DoViewChange carries
        # the three ops; r2 has none of them, and takes r3's log
        _req(1300, "c2", "y=4"),
    ]}),
    Preset("recovery", scenario={**FIXED, "seed": 1, "until": 1500, "actions": [
        _req(100, "c1", "x=1"),
        _do(250, "crash", "r3"),         # a backup loses everything (no disk)
        _req(300, "c2", "y=2"),          # committed by r1 + r2 while r3 is down
        _do(500, "restart", "r3"),       # recovering: Recovery with a fresh nonce
        _req(800, "c1", "x=3"),
    ]}),
    Preset("power_loss", expects=("committed_kept",), scenario={**FIXED, "seed": 1, "until": 1500,
                                                                "actions": POWER}),
    Preset("power_loss_with_disk", scenario={**FIXED, "seed": 1, "until": 1500, "params": {"disk": "log"},
                                             "actions": POWER}),
    Preset("deposed_primary", scenario={**FIXED, "seed": 1, "until": 2000, "actions": DEPOSED}),
    Preset("longest_log", scenario={**FIXED, "seed": 1, "until": 2000, "bugs": ["longest_log"],
                                    "actions": DEPOSED}),
)
