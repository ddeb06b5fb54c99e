"""The lessons' scenarios; each lesson's title and text are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Most use a fixed latency of 20 ms, so every step lands on a round number:
begin at 100, CanCommit arrives at 120 (READY, Vote yes), the votes at 140,
the PRECOMMIT write takes log_delay 50 ms (PreCommit sent at 190, arrives at
210, Ack back at 230), DoCommit at 230. With the default timeouts a READY
participant suspects the coordinator at 120 + 1000 = 1120, a PRECOMMITTED
one at 210 + 1000 = 1210, and a termination round takes state_wait 100 ms.
Action times below were read from each preset's deterministic trace
(python -m engine run --protocol 3pc --preset NAME).
"""

from __future__ import annotations

from .node import COORDINATOR


def _begin(at: int, key: str = "x") -> dict:
    return {"at": at, "do": "request", "node": COORDINATOR, "op": "begin", "arg": key}


def _latency(at: int, ms: int) -> dict:
    return {"at": at, "do": "set", "param": "latency", "value": [ms, ms]}


FIXED = {"latency": [20, 20]}

PRESET_SCENARIOS = {
    "commit": {"network": FIXED, "actions": [_begin(100)], "until": 4000},
    # The same schedule as 2PC's coordinator_crash, on the same default network: the
    # last yes vote arrives by t=160 and PRECOMMIT takes log_delay 300 ms to write, so
    # the crash at 300 falls after every yes vote and before any PreCommit. The
    # participants, READY since t~110-130, suspect c at ~1110-1130 and abort together
    # by ~1230, long before c returns at 2165 (2PC's participants are still blocked then).
    "coordinator_crash": {"params": {"log_delay": 300}, "until": 6500, "actions": [
        _begin(100), {"at": 300, "do": "crash", "node": COORDINATOR},
        {"at": 2165, "do": "restart", "node": COORDINATOR}, _begin(2170)]},
    # Every PreCommit has arrived at 210; the crash at 215 comes before the Acks
    # (230), so c has PRECOMMIT on disk and no decision. The participants suspect it
    # at 1210 and commit by 1310; c asks when it is back at 2000.
    "termination_commit": {"network": FIXED, "until": 6000, "actions": [
        _begin(100), {"at": 215, "do": "crash", "node": COORDINATOR},
        {"at": 2000, "do": "restart", "node": COORDINATOR}]},
    # p2 has voted yes at 120 (the vote is on its way); it is down when PreCommit
    # comes at 210. c's ack timeout (190 + 500) commits without it; p2 is back at 1500.
    "participant_restart": {"network": FIXED, "until": 5500, "actions": [
        _begin(100), {"at": 125, "do": "crash", "node": "p2"}, {"at": 1500, "do": "restart", "node": "p2"}]},
    # Two participants. PreCommit to p1 is message 5 (sent at 190, dropped at 191);
    # p2 is PRECOMMITTED at 210, and the cut at 211 stops its Ack (due at 230) and
    # every later message. p1 suspects c at 1120, p2 at 1210; the cut heals at 2500
    # and c's re-sent DoCommit reaches the p1 that aborted.
    "precommit_lost": {"nodes": 2, "network": FIXED, "until": 4000, "actions": [
        _begin(100), {"at": 191, "do": "drop", "msg": 5},
        {"at": 211, "do": "partition", "groups": [[COORDINATOR], ["p1"], ["p2"]]},
        {"at": 2500, "do": "heal"}]},
    # The cut at 191 comes after the PreCommits left (190) and before they arrive
    # (210): only p1, on c's side, gets one. c crashes at 215, before p1's Ack (230).
    "split_termination": {"network": FIXED, "until": 2500, "actions": [
        _begin(100), {"at": 191, "do": "partition", "groups": [[COORDINATOR, "p1"], ["p2", "p3"]]},
        {"at": 215, "do": "crash", "node": COORDINATOR}]},
    # No message is lost and nothing crashes: from 190 (PreCommit leaves) to 691
    # (after c's ack timeout at 690 sent DoCommit) every message takes 2 s. The
    # READY participants suspect c at 1120 and abort by 1220; c committed at 690.
    "slow_network": {"network": FIXED, "until": 4000, "actions": [
        _begin(100), _latency(190, 2000), _latency(1100, 20)]},
    # p3 votes no, but c crashes at 130, before the votes arrive (140): p1 and p2 are
    # READY with nobody to tell them, and time out at 1120.
    "commit_on_ready_timeout": {"network": FIXED, "params": {"no_voter": 3}, "bugs": ["commit_on_ready_timeout"],
                                "until": 2500, "actions": [_begin(100), {"at": 130, "do": "crash", "node": COORDINATOR}]},
    # participant_restart's schedule, with the bug.
    "recovery_decides_alone": {"network": FIXED, "bugs": ["recovery_decides_alone"], "until": 5500, "actions": [
        _begin(100), {"at": 125, "do": "crash", "node": "p2"}, {"at": 1500, "do": "restart", "node": "p2"}]},
}

# What these lessons show breaking with no bug on: 3PC's own limit (it is safe only
# while delays stay below its timeouts, so a partition or a slow network splits it).
EXPECTS = {name: ("atomicity", "decision_stable")
           for name in ("precommit_lost", "split_termination", "slow_network")}
