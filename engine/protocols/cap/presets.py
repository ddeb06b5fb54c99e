"""The lessons' scenarios; each lesson's title and text are in strings.toml
("preset.<name>", "preset.<name>.lesson").

All use three replicas r1, r2, r3 (c1 talks to r1, c2 to r3) and a fixed latency
of 20 ms: a request reaches its replica 20 ms after it is sent. In CP mode an
operation takes two round trips among the replicas, so the client has its answer
120 ms after it asked (Request 20, Query 20 + reply 20, Store 20 + ack 20, Reply 20);
with no majority the replica refuses quorum_timeout (300 ms) after the phase began.
In AP mode the answer comes after 40 ms, and each replica gossips every 500 ms (at
500, 1000, ...) to the next peer in turn (r1: r2, then r3; r2: r3, then r1; ...). Times were read from each preset's deterministic trace
(python -m engine run --protocol cap --preset NAME --jsonl).
"""

from __future__ import annotations

FIXED = {"latency": [20, 20]}
CUT = [["r1", "r2", "c1"], ["r3", "c2"]]      # c2 and its replica r3 alone: the minority


def write(at: int, client: str, value: str) -> dict:
    return {"at": at, "do": "request", "node": client, "op": "write", "arg": value}


def read(at: int, client: str) -> dict:
    return {"at": at, "do": "request", "node": client, "op": "read"}


def cut(at: int) -> dict:
    return {"at": at, "do": "partition", "groups": CUT}


def heal(at: int) -> dict:
    return {"at": at, "do": "heal"}


CP = {"mode": "cp"}
AP = {"mode": "ap"}

# x1 reaches every replica by 180; the cut at 300 leaves r3 holding x1; c1 writes x2 at
# 400 (c1 is told ok at 520; stored on r1 and r2 only); c2 reads through r3 at 600.
STALE_SCHEDULE = [write(100, "c1", "x1"), cut(300), write(400, "c1", "x2"), read(600, "c2")]

PRESET_SCENARIOS = {
    # c1 writes x1 at 100 (ok at 220: r1 asked a majority for the highest tag at 120, stored
    # 1·c1.1 at a majority from 160); c2 reads at 400 through r3 and gets x1 at 520, after r3
    # wrote it back to a majority (460).
    "cp_happy": {"params": CP, "network": FIXED, "until": 1500,
                 "actions": [write(100, "c1", "x1"), read(400, "c2")]},
    # The cut at 50 leaves r3 and c2 alone. c1 writes x1 at 100: r1 and r2 are a majority,
    # ok at 220. c2 writes y1 at 300: r3 hears from nobody and refuses at 620 (quorum_timeout
    # 300 ms after 320; c2 is told at 640). c2 reads at 800: refused at 1120. The heal at 1500
    # brings r3 back: c2 reads at 1600 and gets x1 at 1720. Every completed operation is
    # linearizable; the refused write y1 never appears anywhere.
    "cp_partition": {"params": CP, "network": FIXED, "until": 2500, "actions": [
        cut(50), write(100, "c1", "x1"), write(300, "c2", "y1"), read(800, "c2"), heal(1500), read(1600, "c2")]},
    # cp_local_read's schedule with no bug: r3, in the minority, refuses c2's read at 920.
    "cp_minority_read": {"params": CP, "network": FIXED, "until": 1500, "actions": STALE_SCHEDULE},
    # c1 writes x1 at 100 (ok at 140); r1 gossips it to r2 at 500 and to r3 at 1000; c2 reads
    # it from r3 at 1500. Every replica holds x1 (1·r1); converged is judged at the end.
    "ap_happy": {"params": AP, "network": FIXED, "until": 4000,
                 "actions": [write(100, "c1", "x1"), read(1500, "c2")]},
    # The cut at 50 splits r1, r2 | r3. c1 writes a1 (100) and a2 (200) through r1, whose
    # Lamport clock goes to 2; c2 writes b at 400 through r3 (clock 1): every write is
    # accepted at once on both sides. The heal at 1500: at 1520 r3 gets a2 from r2 and loses b
    # (2·r1 beats 1·r3, though b was the last write in real time), and r1 gets b from r3 and
    # discards it; each counts a conflict. Every replica ends with a2.
    "ap_partition": {"params": AP, "network": FIXED, "until": 4000, "actions": [
        cut(50), write(100, "c1", "a1"), write(200, "c1", "a2"), write(400, "c2", "b"), heal(1500)]},
    # x1 spreads to every replica by 1020. The cut at 1200; c1 writes x2 at 1300 through r1
    # (acknowledged at 1320); c2 reads at 1500 through r3 and gets x1 (1540): stale. After the
    # heal at 2000, r1's gossip brings x2 to r3 at 2020 and r3 counts the read it served as stale.
    "ap_stale_read": {"params": AP, "network": FIXED, "until": 4500, "actions": [
        write(100, "c1", "x1"), cut(1200), write(1300, "c1", "x2"), read(1500, "c2"), heal(2000)]},
    # BUG local_read: r3 answers c2's read at 620 from its own copy, x1, though c1 was told x2
    # was written at 520: not linearizable, caught when c2 gets the answer (640).
    "cp_local_read": {"params": CP, "network": FIXED, "until": 1500, "bugs": ["local_read"],
                      "actions": STALE_SCHEDULE},
}
