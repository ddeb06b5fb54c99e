"""The lessons' scenarios; each lesson's title and text are in strings.toml
("preset.<name>", "preset.<name>.lesson")."""

from __future__ import annotations

from .node import COORDINATOR


def _begin(at: int, key: str = "x") -> dict:
    return {"at": at, "do": "request", "node": COORDINATOR, "op": "begin", "arg": key}


# Action times below were read from each preset's deterministic trace
# (python -m engine run --protocol 2pc --preset NAME).
PRESET_SCENARIOS = {
    "commit": {"actions": [_begin(100)], "until": 4000},
    "vote_no": {"params": {"no_voter": 2}, "actions": [_begin(100)], "until": 4000},
    # The last vote arrives by t=160 and COMMIT takes 300 ms to write, so the
    # crash at 300 always falls between "all yes" and "decided". The restart
    # at 2165 comes just after the participants' questions of t~2110-2125
    # were lost, so tx2 waits until their next questions, ~500 ms later.
    "coordinator_crash": {"params": {"log_delay": 300}, "until": 6500, "actions": [
        _begin(100), {"at": 300, "do": "crash", "node": COORDINATOR},
        {"at": 2165, "do": "restart", "node": COORDINATOR}, _begin(2170)]},
    # Every vote is in by t=160; COMMIT is written and sent between 170 and
    # 210. The cut at 165 stops the Commits to p2 and p3; the crash at 215
    # comes after COMMIT is on disk. The cut heals while c is still down.
    "commit_one": {"until": 6500, "actions": [
        _begin(100), {"at": 165, "do": "partition", "groups": [["p2", "p3"], [COORDINATOR, "p1"]]},
        {"at": 215, "do": "crash", "node": COORDINATOR}, {"at": 1000, "do": "heal"},
        {"at": 2500, "do": "restart", "node": COORDINATOR}]},
    # p2 has voted yes by t=130; the Commit cannot reach it before t=180.
    "participant_crash": {"until": 5500, "actions": [
        _begin(100), {"at": 170, "do": "crash", "node": "p2"}, {"at": 1500, "do": "restart", "node": "p2"}]},
    # Same window: p3's yes vote is through, the Commit to p3 hits the partition.
    "heuristic_abort": {"bugs": ["heuristic_abort"], "until": 5500, "actions": [
        _begin(100), {"at": 170, "do": "partition", "groups": [["p3"], [COORDINATOR, "p1", "p2"]]},
        {"at": 1500, "do": "heal"}]},
}


# The lessons' chapters (texts: strings.toml, "preset.<name>.chapter.<i>.title" / ".body"),
# each the first such event after the previous chapter's.
PRESET_CHAPTERS = {
    "coordinator_crash": (
        {"note": "2pc.begin"},                      # phase 1: Prepare
        {"note": "2pc.prepared", "node": "p2"},     # the last yes vote
        {"note": "2pc.logging"},                    # COMMIT being written
        {"at": 300},                                # the crash, before it is on disk
        {"note": "2pc.blocked"},                    # blocked: prepared, locked, no answer
        {"note": "2pc.presumed_abort"},             # restart: no decision in the log
        {"note": "2pc.waits"},                      # tx2 waits on tx1's locks
        {"note": "2pc.aborted"},                    # an answer at last
        {"note": "2pc.decided"},                    # tx2 goes through
    ),
}
