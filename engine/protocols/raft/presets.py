"""Raft's preset scenarios. Their titles and lessons are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Scripted presets use "timeout" actions (force a node's election timer) and
partitions to decide who wins each election, with a long election timeout
so nothing happens on its own and a fixed 20 ms latency so the script is
easy to follow: a request arrives 20 ms after it is sent, its reply 20 ms
later. The other presets are plain seeded runs; their action times were
read off the deterministic trace (`python -m engine run --protocol raft
--preset NAME`).
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

# The paper's Figure 8, with n1..n5 for S1..S5 and terms 1, 2, 3, 4 for its 2, 3, 4, 5.
FIGURE8 = [
    _timeout(10, "n1"),                                   # n1 leads term 1
    _put(200, "n1", "x=1"),                               # committed everywhere
    _partition(400, ("n1", "n2"), ("n3", "n4", "n5")),
    _put(410, "n1", "x=2"),                               # (a) x=2 (index 3) reaches n2 only
    _do(500, "crash", "n1"),
    _timeout(510, "n5"),                                  # (b) n5 wins term 2 with n3, n4 ...
    _partition(560, ("n5",), ("n1", "n2", "n3", "n4")),   # ... and is cut off at once
    _put(600, "n5", "x=3"),                               # an entry only n5 holds
    _do(700, "crash", "n5"),
    _do(800, "restart", "n1"),
    _timeout(810, "n1"),                                  # term 2: n3, n4 already voted
    _timeout(900, "n1"),                                  # (c) term 3: n1 wins and sends x=2 on
]
# (d) x=2 is on n1..n4 at t=1020, but n1 is cut off and crashes before its term-3
# no-op spreads (one entry per AppendEntries keeps the two apart): n5 can still win.
FIGURE8_OVERWRITE = FIGURE8 + [
    _partition(1021, ("n1",), ("n2", "n3", "n4", "n5")),
    _do(1022, "crash", "n1"),
    _do(1056, "restart", "n5"),
    _timeout(1061, "n5"),                                 # term 3: everyone voted for n1
    _timeout(1121, "n5"),                                 # term 4: n3, n4 vote; x=3 overwrites x=2
    _do(1400, "heal"),
    _do(1500, "restart", "n1"),
]
# (e) n1's no-op travels with x=2 and reaches a majority before n1 crashes.
FIGURE8_COMMIT = FIGURE8 + [
    _do(1100, "crash", "n1"),
    _do(1105, "heal"),
    _do(1110, "restart", "n5"),
    _timeout(1120, "n5"),                                 # can n5 win now?
    _timeout(1400, "n2"),
    _do(1500, "restart", "n1"),
]


# The lessons' chapters (texts: strings.toml, "preset.<name>.chapter.<i>.title" / ".body").
# Each waits for the first such event after the previous chapter's.
def _note(key, node=None):
    return {"note": key, "node": node} if node else {"note": key}


FIGURE8_CHAPTERS = (
    _note("raft.elected"),                   # n1 leads term 1
    {"at": 440},                             # (a) x=2 has reached n2, and only n2
    _note("raft.accept", "n5"),              # (b) n5 leads term 2, takes x=3 alone
    _note("raft.elected"),                   # (c) n1 leads term 3, sends x=2 on
    _note("raft.old_term_majority"),         # x=2 on a majority, not committed
    _note("raft.elected", "n5"),             # (d) n5 wins term 4
    _note("raft.truncate"),                  # x=2 erased
    _note("raft.commit_carries"),            # committed the safe way
)
FIGURE8_BUG_CHAPTERS = (
    _note("raft.elected"),
    _note("raft.accept", "n5"),
    _note("raft.elected"),
    _note("raft.commit_by_count"),           # the bug: x=2 committed by counting
    {"violation": True},                     # n5 can still win: the commit is not safe
    _note("raft.truncate.unsafe"),           # a committed entry erased
    {"violation": True},                     # two servers applied different commands
)


PRESETS = (
    Preset("first_election", scenario={"seed": 1, "until": 1500}),
    Preset("replication", scenario={
        "seed": 1, "until": 1500,
        "actions": [_put(400, "n2", "x=1"), _put(500, "n4", "y=2"), _put(600, "n2", "y=2")]}),
    Preset("leader_crash", scenario={
        "seed": 1, "until": 2500,
        "actions": [_put(400, "n2", "x=1"), _do(800, "crash", "n2"), _put(1300, "n1", "y=2"),
                    _put(1400, "n3", "y=3"), _do(1800, "restart", "n2")]}),
    Preset("split_vote", scenario={"seed": 6, "nodes": 4, "until": 1500, "params": {"election_spread": 20}}),
    Preset("partitioned_leader", scenario={
        "seed": 1, "until": 2500,
        "actions": [_put(500, "n2", "x=1"), _partition(600, ("n1", "n2"), ("n3", "n4", "n5")),
                    _put(700, "n2", "x=2"), _put(750, "n2", "y=2"), _put(1000, "n3", "x=3"),
                    _do(1400, "heal")]}),
    Preset("figure8", chapters=FIGURE8_CHAPTERS, scenario={
        **SCRIPTED, "params": {**SCRIPTED["params"], "max_entries": 1}, "until": 2000,
        "actions": FIGURE8_OVERWRITE}),
    Preset("figure8_commit", scenario={**SCRIPTED, "until": 2000, "actions": FIGURE8_COMMIT}),
    Preset("figure8_bug", chapters=FIGURE8_BUG_CHAPTERS, scenario={
        **SCRIPTED, "params": {**SCRIPTED["params"], "max_entries": 1}, "until": 2000,
        "actions": FIGURE8_OVERWRITE, "bugs": ["count_old_term"]}),
    Preset("volatile_vote", scenario={
        **SCRIPTED, "nodes": 3, "until": 800, "bugs": ["volatile_vote"],
        "actions": [_partition(0, ("n1", "n2"), ("n3",)), _timeout(20, "n1"), _timeout(20, "n3"),
                    _partition(61, ("n1",), ("n2", "n3")), _do(62, "crash", "n2"),
                    _do(63, "restart", "n2"), _put(150, "n1", "x=1"), _put(160, "n3", "x=2"),
                    _do(300, "heal")]}),
    Preset("no_up_to_date_check", scenario={
        **SCRIPTED, "nodes": 3, "until": 1500, "bugs": ["no_up_to_date_check"],
        "actions": [_timeout(10, "n1"), _partition(200, ("n1", "n2"), ("n3",)), _put(210, "n1", "x=1"),
                    _do(400, "crash", "n1"), _do(410, "heal"), _timeout(420, "n3"), _timeout(600, "n2"),
                    _do(800, "restart", "n1")]}),
)
