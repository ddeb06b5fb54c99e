"""Multi-Paxos (Lamport, "Paxos Made Simple", section 3; van Renesse &
Altinbuken, "Paxos Made Moderately Complex"; the MultiPaxos-SMR TLA+
specification in tlaplus/Examples): the declarations.

    node.py        MultiPaxosNode: acceptor, learner/replica and potential leader
    checker.py     its invariants: kit.log_safety's properties fitted to slots and
                   ballots, plus per-slot agreement from the votes
    presets.py     the lessons' scenarios
    nemesis.py     a Multi-Paxos-aware adversary for random schedules
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md)

Bug toggle: skip_phase1 (strings.toml says what it breaks, under bug.skip_phase1;
in node.py the self.bug_skip_phase1 flag marks where), and a preset shows what follows.

The declarations below write no English: a help text, a title or a lesson
left empty is filled in from strings.toml when the protocol is built. The
protocol's own keys there: multipaxos.<event> (narration, ctx.note) and
multipaxos.label[.candidate] (the line under a node on the canvas).
"""

from __future__ import annotations

from ...kit.strings import load_strings
from ...protocol import Bug, Comparison, Field, Operation, Param, Picture, Protocol, replied_ok
from . import nemesis
from .checker import MultiPaxosChecker
from .node import CANDIDATE, FOLLOWER, LEADER, MultiPaxosNode
from .presets import PRESETS


class MultiPaxos(Protocol):
    name = "multipaxos"
    category = "consensus"
    nodes_default = 3
    nodes_min = 3
    nodes_max = 9
    params = (
        Param("election_timeout", 150, 10, 10_000),
        Param("election_spread", 100, 0, 200),
        Param("heartbeat", 50, 5, 5_000),
        Param("max_batch", 4, 1, 1_000),
    )
    bugs = (Bug("skip_phase1"),)
    operations = (Operation("put", arg=True, default="x=1"),)
    fields = (
        Field("role"),
        Field("ballot"),
        Field("promised", durable=True),
        Field("round", durable=True),
        Field("log", durable=True),
        Field("logStart"),
        Field("commitIndex"),
        Field("leader"),
        Field("kv"),
        Field("promises"),
        Field("nextSlot"),
    )
    roles = {FOLLOWER: "#64748b", CANDIDATE: "#d97706", LEADER: "#2563eb"}
    timers = ("election", "heartbeat")
    log_strip = {"field": "log", "start": "logStart", "commit": "commitIndex"}
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("multipaxos.elected", "multipaxos.chosen", "multipaxos.preempted", "multipaxos.overwrite")
    # A candidate's phase-1 promises (its own included) against a majority of the servers.
    pictures = (Picture("tally", "promises", when={"role": (CANDIDATE,)}), Picture("timers", names=("election",)))
    presets = PRESETS
    # Side by side (engine/schedule.py): writes go to the leader (a follower only forwards
    # and cannot answer the client), which answers once the slot is chosen. Phase 1
    # (Prepare, Promise) is the election; phase 2 (Accept, Accepted) replicates.
    compare = Comparison(roles={"leader": (LEADER,), "follower": (FOLLOWER,), "candidate": (CANDIDATE,)},
                         steps={"vote": ("Prepare", "Promise"), "replicate": ("Accept",),
                                "ack": ("Accepted",), "commit": ("Commit",)},
                         request=("leader", "put", "x={i}"),
                         decided=("multipaxos.chosen",), served=replied_ok)
    strings = load_strings(__file__)
    default_network = {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}
    default_until = 10_000
    checker_class = MultiPaxosChecker
    # Random fault schedules (engine.fuzz): skip_phase1 needs a node that missed
    # chosen slots to become leader and take writes, so crashes, partitions, client
    # writes and the nemesis's "cut one off, then let it lead" are drawn often.
    fuzz_weights = {"crash": 10, "restart": 10, "drop": 2, "duplicate": 1, "partition": 8, "heal": 3,
                    "request": 14, "timeout": 5, "protocol": 12}

    def create_node(self, node_id, node_ids, params, bugs, disk):
        return MultiPaxosNode(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        key = "xyz"[rng.randrange(3)]
        return rng.choice(node_ids), "put", f"{key}={rng.randrange(1, 10)}"

    def fuzz_action(self, rng, sim, at):
        """A Multi-Paxos-aware fault for random schedules (nemesis.py)."""
        return nemesis.fuzz_action(rng, sim, at, self.random_request)


PROTOCOL = MultiPaxos()
