"""Zab's preset scenarios. Their titles and lessons are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Every preset uses a fixed 20 ms latency and the default timers (tick 50 ms,
sync limit 250 ms, finalize wait 40 ms), so the script is easy to follow.
With three servers the first election ends at 80 ms with n3 LEADING (equal
zxids: the highest id wins) and epoch 1 is in BROADCAST at 200 ms; with five,
n5 leads. Times below were read off the deterministic trace
(`python -m engine run --protocol zab --preset NAME --jsonl`).
"""

from __future__ import annotations

from ...protocol import Preset


def _write(at, node, arg):
    return {"at": at, "do": "request", "node": node, "op": "write", "arg": arg}


def _partition(at, *groups):
    return {"at": at, "do": "partition", "groups": [list(g) for g in groups]}


def _do(at, do, node=None):
    return {"at": at, "do": do, "node": node} if node else {"at": at, "do": do}


def _sync(at, node):
    """Force a server's sync timer: a follower gives up on its leader at once."""
    return {"at": at, "do": "timeout", "node": node, "timer": "sync"}


FIXED = {"network": {"latency": [20, 20], "loss": 0.0, "duplicate": 0.0}}

# A stale leader: n3 leads epoch 1 and is cut off; n1 and n2 give up on it at once
# and start epoch 2 (n2 leads). n1 is then moved to n3's side and gives up on n2: it
# hears n3 still claim to lead and joins it, and n3 offers it epoch 1 (NEWEPOCH 1).
STALE = [
    _write(300, "n3", "x=1"),                    # committed everywhere in epoch 1
    _partition(715, ("n3",), ("n1", "n2")),      # n3 heard both since its quorum check at 660: next at 1160
    _sync(716, "n1"), _sync(716, "n2"),          # they give up on n3: epoch 2 (n2 leads) at 876
    _write(900, "n2", "y=2"),                    # committed in epoch 2 (n1, n2) at 940
    _partition(990, ("n1", "n3"), ("n2",)),
    _sync(991, "n1"),                            # n1 looks again, hears n3 still LEADING epoch 1, joins it
    _write(1090, "n3", "z=3"),                   # n3 still leads epoch 1 (in its own eyes)
    _do(1400, "heal"),
]

PRESETS = (
    # n3 leads epoch 1 (equal zxids at boot: the highest id). y=2 is committed while
    # n2 is cut off, so n1 holds a newer zxid (1.2) than n2 (1.1). n3 crashes at 700:
    # in the election n2 (higher id) switches its vote to n1 (higher zxid), and n1 leads
    # epoch 2. A write to n3 while it is still in discovery (at 90) is refused; one to a
    # follower names the leader.
    Preset("fle_most_up_to_date", scenario={**FIXED, "nodes": 3, "until": 2000, "actions": [
        _write(90, "n3", "a=0"), _write(300, "n3", "x=1"), _write(320, "n1", "x=2"),
        _partition(500, ("n1", "n3"), ("n2",)), _write(520, "n3", "y=2"),
        _do(700, "crash", "n3"), _do(701, "heal"), _do(1500, "restart", "n3")]}),
    # Five servers, n5 leads. z=9 is proposed while only n4 can hear n5 (n5 + n4: two of
    # five, a minority), then n5 crashes. n4's sync timer is forced at 700, when the others
    # lose n5 too, so all four look together: n4 holds the newest zxid, wins the election,
    # and as its own history is the quorum's most recent one, epoch 2 keeps z=9 and
    # commits it (COMMITLD), although no quorum had acknowledged it in epoch 1.
    Preset("minority_acked", scenario={**FIXED, "nodes": 5, "until": 2000, "actions": [
        _write(300, "n5", "x=1"), _partition(500, ("n4", "n5"), ("n1", "n2", "n3")),
        _write(520, "n5", "z=9"), _do(600, "crash", "n5"), _do(601, "heal"), _sync(700, "n4"),
        _do(1500, "restart", "n5")]}),
    # n3 leads epoch 1 and is cut off alone at 500; it takes w=9 (on its disk only) and
    # steps down when it hears no quorum. n1, n2 start epoch 2 (n2 leads) and commit y=2.
    # After the heal n3 joins n2; synchronization truncates w=9, never committed.
    Preset("old_leader_truncated", scenario={**FIXED, "nodes": 3, "until": 2500, "actions": [
        _write(300, "n3", "x=1"), _partition(500, ("n3",), ("n1", "n2")), _write(520, "n3", "w=9"),
        _write(1200, "n2", "y=2"), _do(1400, "heal")]}),
    # STALE: n1 promised epoch 2, so n3's NEWEPOCH 1 is refused and n1 goes back to
    # LOOKING; n3's z=3 never commits, and n3 steps down when it hears no quorum.
    Preset("stale_leader_fenced", scenario={**FIXED, "nodes": 3, "until": 2500, "actions": STALE}),
    # n3 is cut off alone at 500: no PING from a quorum within the sync limit, so it goes
    # back to LOOKING; n1 and n2 elect n2, epoch 2. After the heal n3 follows n2.
    Preset("leader_loses_quorum", scenario={**FIXED, "nodes": 3, "until": 2000, "actions": [
        _write(300, "n3", "x=1"), _partition(500, ("n3",), ("n1", "n2")), _write(1200, "n2", "y=2"),
        _do(1300, "heal")]}),
    # The bug with election = "id": n2 is cut off while x=1 commits (n3, n1); n3 crashes,
    # n2 (the highest id left) is elected and keeps its own empty history: x=1 is lost.
    Preset("leader_own_history", scenario={**FIXED, "nodes": 3, "until": 2000, "bugs": ["leader_own_history"],
                                           "params": {"election": "id"}, "actions": [
        _partition(300, ("n2",), ("n1", "n3")), _write(360, "n3", "x=1"), _do(640, "crash", "n3"),
        _do(641, "heal"), _do(1500, "restart", "n3")]}),
    # The bug: STALE again, but n1 accepts NEWEPOCH 1 and NEWLEADER 1 from n3 (its
    # currentEpoch goes down from 2 to 1) and n3 commits z=3 with it in epoch 1, where
    # epoch 2 already committed y=2: a fork.
    Preset("skip_epoch_check", scenario={**FIXED, "nodes": 3, "until": 2500, "bugs": ["skip_epoch_check"],
                                         "actions": STALE}),
)
