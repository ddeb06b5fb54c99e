"""Zab, ZooKeeper Atomic Broadcast (Junqueira, Reed & Serafini, "Zab: High-performance
broadcast for primary-backup systems", DSN 2011; Medeiros, "ZooKeeper's atomic broadcast
protocol: Theory and practice"; the TLA+ specifications Zab.tla and FastLeaderElection.tla):
the declarations.

    node.py        ZabServer: Fast Leader Election, then discovery, synchronization, broadcast
    checker.py     the paper's invariants (section 3) on engine.kit.log_safety (epoch = term)
    presets.py     the lessons' scenarios
    nemesis.py     a Zab-aware adversary for random schedules
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md)

Bug toggles: leader_own_history, skip_epoch_check (strings.toml says what each breaks,
under bug.<name>; in node.py the self.bug_* flags mark where), each shown by a preset.

Param election: "fle" (ZooKeeper: the vote goes to the highest (peerEpoch, zxid, sid)) or
"id" (the paper's phase 0 may elect any server: here the highest id). With FLE the
elected server already holds the newest history of its voters, which is why ZooKeeper's
implementation can skip fetching histories; the bug leader_own_history therefore shows
with election = "id", where discovery is what keeps committed transactions. The page
shows the choices as "param.election.fle" and "param.election.id".

Servers keep acceptedEpoch, currentEpoch and the history on disk, so every fault kind is
tolerated (tolerates = None).
"""

from __future__ import annotations

from ...kit.strings import load_strings
from ...protocol import Bug, Comparison, Field, Operation, Param, Picture, Protocol, replied_ok
from . import nemesis
from .checker import ZabChecker
from .node import DISCOVERY, FOLLOWING, LEADING, LOOKING, SYNC, ZabServer
from .presets import PRESETS


class Zab(Protocol):
    name = "zab"
    category = "consensus"
    nodes_default = 3
    nodes_min = 3
    nodes_max = 9
    params = (
        Param("election", "fle", 0, 0, kind="choice", choices=("fle", "id")),
        Param("tick", 50, 5, 1_000),
        Param("sync_limit", 250, 20, 10_000),
        Param("finalize", 40, 0, 1_000),
    )
    bugs = (Bug("leader_own_history"), Bug("skip_epoch_check"))
    operations = (Operation("write", arg=True, default="x=1"),)
    fields = (
        Field("role"),
        Field("phase"),
        Field("round"),
        Field("vote"),
        Field("leader"),
        Field("acceptedEpoch", durable=True),
        Field("currentEpoch", durable=True),
        Field("history", durable=True),
        Field("logStart"),
        Field("lastCommitted"),
        Field("lastZxid"),
        Field("responses"),
    )
    roles = {LOOKING: "#d97706", FOLLOWING: "#64748b", LEADING: "#2563eb"}
    timers = ("election", "tick", "sync")
    log_strip = {"field": "history", "start": "logStart", "commit": "lastCommitted"}
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("zab.elected", "zab.established", "zab.commit", "zab.truncate", "zab.synced")
    # A prospective leader's ACKEPOCH / ACKNEWLEADER senders (itself included) against a
    # majority; in BROADCAST the field is per-follower progress, no tally.
    pictures = (Picture("tally", "responses", when={"role": (LEADING,), "phase": (DISCOVERY, SYNC)}),
                Picture("timers", names=("election", "sync")))
    presets = PRESETS
    # Side by side (engine/schedule.py): writes go to the leader, which answers on COMMIT.
    # "vote" is the election (FLE votes) and discovery (a new epoch promised), the part
    # before a leader may broadcast; synchronisation (NEWLEADER, ACKLD) is no shared step.
    compare = Comparison(roles={"leader": (LEADING,), "follower": (FOLLOWING,), "candidate": (LOOKING,)},
                         steps={"vote": ("Vote", "CEPOCH", "NEWEPOCH", "ACKEPOCH"), "replicate": ("PROPOSE",),
                                "ack": ("ACK",), "commit": ("COMMIT",)},
                         request=("leader", "write", "x={i}"),
                         decided=("zab.commit",), served=replied_ok)
    strings = load_strings(__file__)
    default_network = {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}
    default_until = 5_000
    checker_class = ZabChecker
    tolerates = None
    # Random fault schedules (engine.fuzz): both bugs need a story (a stale leader met by a
    # server of a newer epoch; a server left behind that leads next), which the nemesis
    # (nemesis.py) plays, so it is drawn most often.
    fuzz_weights = {"crash": 4, "restart": 6, "drop": 1, "duplicate": 1, "partition": 3, "heal": 2,
                    "request": 8, "timeout": 3, "protocol": 30}

    def settle_ms(self, params, network):
        """Nothing eventual is judged (the invariants are all safety)."""
        return 0

    def validate(self, nodes, params):
        if params["sync_limit"] < 3 * params["tick"]:
            return (f"the sync limit ({params['sync_limit']} ms) must be at least three ticks "
                    f"({3 * params['tick']} ms): heartbeats every tick must reach the leader within it")
        return None

    def create_node(self, node_id, node_ids, params, bugs, disk):
        return ZabServer(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        key = "xyz"[rng.randrange(3)]
        return rng.choice(node_ids), "write", f"{key}={rng.randrange(1, 10)}"

    def fuzz_action(self, rng, sim, at):
        """A Zab-aware fault for random schedules (nemesis.py)."""
        return nemesis.fuzz_action(rng, sim, at, self.random_request)


PROTOCOL = Zab()
