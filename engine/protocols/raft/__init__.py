"""Raft (Ongaro & Ousterhout, "In Search of an Understandable Consensus
Algorithm", USENIX ATC 2014; Ongaro's dissertation, chapter 3): the declarations.

    node.py        RaftNode: one server, read it next to Figure 2 of the paper
    checker.py     its invariants: kit.log_safety's properties, and converges
    presets.py     the lessons' scenarios (the paper's Figure 8 among them)
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md)

Bug toggles: volatile_vote, count_old_term, no_up_to_date_check. Each breaks
one rule (strings.toml says which, under bug.<name>; in node.py the self.bug_*
flags mark where), and a preset shows what follows.

The declarations below write no English: a help text, a title or a lesson
left empty is filled in from strings.toml when the protocol is built. Raft's
own keys there: raft.<event> (narration, ctx.note) and raft.label[.candidate]
(the line under a node on the canvas).
"""

from __future__ import annotations

from ...kit.strings import load_strings
from ...protocol import Bug, Comparison, Field, Operation, Param, Picture, Protocol, replied_ok
from . import nemesis
from .checker import RaftChecker, stable_leader_possible
from .node import CANDIDATE, FOLLOWER, LEADER, RaftNode
from .presets import PRESETS


class Raft(Protocol):
    name = "raft"
    category = "consensus"
    nodes_default = 5
    nodes_min = 3
    nodes_max = 9
    params = (
        Param("election_timeout", 150, 10, 10_000),
        Param("election_spread", 100, 0, 200),
        Param("heartbeat", 50, 5, 5_000),
        Param("max_entries", 4, 1, 1_000),
    )
    bugs = (Bug("volatile_vote"), Bug("count_old_term"), Bug("no_up_to_date_check"))
    operations = (Operation("put", arg=True, default="x=1"),)
    fields = (
        Field("role"),
        Field("term", durable=True),
        Field("votedFor", durable=True),
        Field("log", durable=True),
        Field("logStart"),
        Field("commitIndex"),
        Field("leader"),
        Field("kv"),
        Field("votes"),
        Field("matchIndex"),
        Field("nextIndex"),
    )
    roles = {FOLLOWER: "#64748b", CANDIDATE: "#d97706", LEADER: "#2563eb"}
    timers = ("election", "heartbeat")
    log_strip = {"field": "log", "start": "logStart", "commit": "commitIndex"}
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("raft.elected", "raft.commit", "raft.commit_by_count", "raft.commit_carries",
                 "raft.old_term_majority", "raft.truncate", "raft.truncate.unsafe")
    # A candidate's votes (itself included) against a majority of the servers; the election
    # timer's ring shows who will time out first (RaftScope's picture).
    pictures = (Picture("tally", "votes", when={"role": (CANDIDATE,)}), Picture("timers", names=("election",)))
    presets = PRESETS
    # Side by side (engine/schedule.py): writes go to the leader, which answers once the
    # entry commits. AppendEntries carries entries and heartbeats alike (an AppendEntries
    # sent after a write carries it until acknowledged); commitIndex rides on it, so
    # there is no commit step of its own.
    compare = Comparison(roles={"leader": (LEADER,), "follower": (FOLLOWER,), "candidate": (CANDIDATE,)},
                         steps={"vote": ("RequestVote", "RequestVoteReply"), "replicate": ("AppendEntries",),
                                "ack": ("AppendEntriesReply",)},
                         request=("leader", "put", "x={i}"),
                         decided=("raft.commit",), served=replied_ok)
    strings = load_strings(__file__)
    default_network = {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}
    default_until = 10_000
    checker_class = RaftChecker
    # Random fault schedules (engine.fuzz): the bugs need leaders cut off in a
    # minority that still take writes (count_old_term) and nodes restarting
    # in the middle of elections (volatile_vote), so crashes, partitions and
    # client writes are drawn more often than the engine's defaults.
    fuzz_weights = {"crash": 12, "restart": 10, "drop": 1, "duplicate": 1, "partition": 10, "heal": 1,
                    "request": 11, "timeout": 5, "protocol": 20}

    def settle_ms(self, params, network):
        """Calm time `check` gives before judging `converges`: the checker's own bound
        (RaftChecker.settle_time) with room to catch up 200 AppendEntries batches; 0 when
        no leader can last with these timers, so nothing eventual is promised."""
        hi = network["latency"][1]
        if not stable_leader_possible(params, hi):
            return 0
        width = params["election_timeout"] * params["election_spread"] // 100
        return 20 * (params["election_timeout"] + width) + 4 * params["heartbeat"] + 200 * 2 * hi

    def create_node(self, node_id, node_ids, params, bugs, disk):
        return RaftNode(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        key = "xyz"[rng.randrange(3)]
        return rng.choice(node_ids), "put", f"{key}={rng.randrange(1, 10)}"

    def fuzz_action(self, rng, sim, at):
        """A Raft-aware fault for random schedules (nemesis.py)."""
        return nemesis.fuzz_action(rng, sim, at, self.random_request)


PROTOCOL = Raft()
