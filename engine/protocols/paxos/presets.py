"""Paxos's preset scenarios. Their titles and lessons are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Every preset uses a fixed 20 ms latency, so a round trip takes 40 ms and a whole
uncontested ballot 80 ms (1a, 1b, 2a, 2b): a proposer asked at t sends 1a at t, has
its promises at t+40, its 2a lands at t+60 and the learners know at t+80. Times
were read off the deterministic trace (`python -m engine run --protocol paxos
--preset NAME --jsonl`).
"""

from __future__ import annotations

from ...protocol import Preset

NET = {"latency": [20, 20], "loss": 0.0, "duplicate": 0.0}


def _propose(at, node, val):
    return {"at": at, "do": "request", "node": node, "op": "propose", "arg": val}


def _partition(at, *groups):
    return {"at": at, "do": "partition", "groups": [list(g) for g in groups]}


def _do(at, do, node=None):
    return {"at": at, "do": do, "node": node} if node else {"at": at, "do": do}


# Happy path: p1 proposes v1 at 10; promises at 50; 2a accepted at 70; both learners
# know v1 is chosen at 90. p2, asked for v2 at 200, already knows: it answers v1.
HAPPY = [_propose(10, "p1", "v1"), _propose(200, "p2", "v2")]

# Dueling proposers: both wait 70 ms for a ballot (less than the 80 ms a whole ballot
# takes); p2 starts 35 ms after p1. Each new ballot's 1a lands 5 ms before the other's
# 2a (p1's ballots start at 10, 80, 150...; p2's at 45, 115, 185...), so every 2a is
# refused and the rounds climb for ever. Acceptors stay silent (nack off): the timers
# alone drive the duel. With random backoff (seed 13) a lost ballot's successor waits
# [70, 140) ms: 1.p1, 1.p2, 2.p1, 2.p2 are lost as before, but p2 gave 2.p2 85 ms, so its
# 3.p2 starts only at 200, after p1's 3.p1 (started 152) has its promises (192): v1 is
# chosen at 212 and learned at 232.
DUEL = [_propose(10, "p1", "v1"), _propose(45, "p2", "v2")]
DUEL_PARAMS = {"timeout": 70, "nack": "off"}

# A minority accepted: p1's phase 1 ends at 50 and it sends 2a; the partition at 51 lets
# it reach a1 only (a1 accepts v1 at 70), and p1 crashes at 100. p2, asked for v2 at
# 150, hears a1's vote in a 1b at 190 and proposes v1 (chosen at 210, learned at 230).
# p1 restarts at 300 and, asked for v3 at 350, adopts v1 too.
MINORITY = [_propose(10, "p1", "v1"), _partition(51, ("p1", "a1"), ("p2", "a2", "a3")),
            _do(100, "crash", "p1"), _do(110, "heal"), _propose(150, "p2", "v2"),
            _do(300, "restart", "p1"), _propose(350, "p1", "v3")]

# The Nack shortcut: p1 proposes v1 at 10, p2 v2 at 30; p2's 1a lands at 50, before p1's
# 2a (70), which is refused; p2 crashes at 65, before its own 2a. nack on: the Nacks reach
# p1 at 90, it retries 30 ms later (2.p1, above p2's) and v1 is chosen at 180 (learned 200).
# nack off: p1 hears nothing and waits out its 300 ms timeout (t=310): chosen at 370.
NACK = [_propose(10, "p1", "v1"), _propose(30, "p2", "v2"), _do(65, "crash", "p2")]
NACK_PARAMS = {"backoff": "fixed", "retry": 30}

# acceptor_amnesia: a3 is cut off while a1, a2 accept v1 at 70 (chosen). a1 crashes at
# 100 and restarts at 110, forgetting its promise and its vote. From 120 a2 is cut off;
# p2 (which never heard of v1) proposes v2 at 130; a1 and a3 promise at 150 reporting no
# vote, so p2 proposes v2 and a1, a3 accept it at 190: a second value chosen.
AMNESIA = [_partition(0, ("p1", "a1", "a2"), ("p2", "a3")), _propose(10, "p1", "v1"),
           _do(100, "crash", "a1"), _do(110, "restart", "a1"),
           _partition(120, ("p1", "a2"), ("p2", "a1", "a3")), _propose(130, "p2", "v2"), _do(400, "heal")]

# small_quorum (3 acceptors: one promise is a "quorum"): p2 and a3 are cut off while p1
# gets a1's promise and a1, a2 accept v1 at 70 (chosen). p2 proposes v2 at 60; only a3
# hears its 1a (at 80); the network heals at 95; a3's lone 1b (100) is p2's "quorum", so
# it proposes v2, and a1, a2, a3 all accept it at 120: a second value chosen.
SMALL_QUORUM = [_partition(0, ("p1", "a1", "a2"), ("p2", "a3")), _propose(10, "p1", "v1"),
                _propose(60, "p2", "v2"), _do(95, "heal")]

PRESETS = (
    Preset("happy_path", scenario={"seed": 1, "network": NET, "until": 400, "actions": HAPPY}),
    Preset("dueling_fixed", scenario={"seed": 1, "network": NET, "until": 1000,
                                      "params": {**DUEL_PARAMS, "backoff": "fixed"}, "actions": DUEL}),
    Preset("dueling_random", scenario={"seed": 13, "network": NET, "until": 1000,
                                       "params": {**DUEL_PARAMS, "backoff": "random"}, "actions": DUEL}),
    Preset("minority_accepted", scenario={"seed": 1, "network": NET, "until": 600, "actions": MINORITY}),
    Preset("nack_on", scenario={"seed": 1, "network": NET, "until": 600,
                                "params": {**NACK_PARAMS, "nack": "on"}, "actions": NACK}),
    Preset("nack_off", scenario={"seed": 1, "network": NET, "until": 600,
                                 "params": {**NACK_PARAMS, "nack": "off"}, "actions": NACK}),
    Preset("acceptor_amnesia", scenario={"seed": 1, "network": NET, "until": 500, "bugs": ["acceptor_amnesia"],
                                         "actions": AMNESIA}),
    Preset("small_quorum", scenario={"seed": 1, "network": NET, "until": 500, "bugs": ["small_quorum"],
                                     "actions": SMALL_QUORUM}),
)
