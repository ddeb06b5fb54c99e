"""Two-phase commit with presumed abort: the declarations.

    node.py       the coordinator and the participants (the protocol itself)
    checker.py    its invariants, on top of kit.atomic_commit
    presets.py    the lessons' scenarios
    strings.toml  every text, in English and Chinese
"""

from __future__ import annotations

from ...kit.strings import load_strings
from ...protocol import Bug, Comparison, Field, Operation, Param, Picture, Preset, Protocol
from .checker import TwoPCChecker
from .node import COORDINATOR, Coordinator, Participant
from .presets import PRESET_CHAPTERS, PRESET_SCENARIOS


class TwoPhaseCommit(Protocol):
    name = "2pc"
    category = "transactions"
    nodes_default = 3
    nodes_min = 2
    nodes_max = 8
    params = (
        Param("vote_timeout", 1000, 50, 60_000),
        Param("query_interval", 500, 50, 60_000),
        Param("resend_interval", 300, 50, 60_000),
        Param("lock_wait", 1500, 50, 60_000),
        Param("log_delay", 50, 0, 10_000),
        Param("no_voter", 0, 0, 8),
    )
    bugs = (Bug("heuristic_abort"),)
    operations = (Operation("begin", roles=("coordinator",), arg=True, default="x"),)
    fields = (
        Field("role"),
        Field("next_tx", durable=True),
        Field("decisions", durable=True),
        Field("ended", durable=True),
        Field("phase"),
        Field("votes"),
        Field("pending_acks"),
        Field("status", durable=True),
        Field("locks", durable=True),
        Field("waiting"),
    )
    roles = {"coordinator": "#2563eb", "participant": "#059669"}
    timers = ("vote_timeout", "resend", "query", "lock_wait")
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("2pc.begin", "2pc.decided", "2pc.blocked", "2pc.presumed_abort",
                 "2pc.committed", "2pc.aborted", "2pc.heuristic_damage")
    presets = tuple(Preset(name, scenario=scenario, chapters=PRESET_CHAPTERS.get(name, ()))
                    for name, scenario in PRESET_SCENARIOS.items())
    # The coordinator's votes for its newest transaction against every participant; each
    # participant's locks (item -> transaction holding it).
    pictures = (Picture("tally", "votes", quorum="all", among=("participant",), per=True,
                        when={"role": ("coordinator",)}),
                Picture("locks", "locks"), Picture("timers", names=("vote_timeout",)))
    # Side by side (engine/schedule.py): the coordinator drives one transaction on key x
    # ("begin"); a participant in doubt holds its lock until it learns the outcome.
    compare = Comparison(roles={"coordinator": ("coordinator",), "participant": ("participant",)},
                         steps={"prepare": ("Prepare",), "vote": ("Vote",), "decision": ("Commit", "Abort"),
                              "ack": ("Ack",), "query": ("QueryOutcome", "Outcome")},
                         request=("coordinator", "begin", "x"),
                         decided=("2pc.decided", "2pc.presumed_abort", "2pc.committed", "2pc.aborted"),
                         fail=("param", "no_voter"), in_doubt=("status", ("PREPARED",)), locks="locks")
    strings = load_strings(__file__)
    checker_class = TwoPCChecker

    def node_ids(self, n):
        return [COORDINATOR] + [f"p{i}" for i in range(1, n + 1)]

    def layout(self, ids):
        return {i: {"place": "center" if i == COORDINATOR else "ring"} for i in ids}

    def validate(self, nodes, params):
        if params["no_voter"] > nodes:
            return f"param no_voter={params['no_voter']} names no participant: this run has p1..p{nodes}"
        return None

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = Coordinator if node_id == COORDINATOR else Participant
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        return (COORDINATOR, "begin", rng.choice(("x", "y")))


PROTOCOL = TwoPhaseCommit()
