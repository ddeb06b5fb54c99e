"""Viewstamped Replication Revisited (Liskov & Cowling, MIT-CSAIL-TR-2012-021): the declarations.

    node.py        Replica and Client: read them next to section 4 of the paper
    checker.py     the invariants, on engine.kit.log_safety (view = term, primary = leader)
    presets.py     the lessons' scenarios
    nemesis.py     a VR-aware adversary for random schedules (crashes bounded by f)
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md)

Nodes: replicas r1..rN (N = 2f + 1, odd, 3 to 9; the node count counts them) and
two clients c1, c2. Param disk: "none" is the paper (replicas write nothing to
disk and recover from each other); "log" keeps view, status, last normal view,
log and commit number on each replica's disk, so a restart resumes from there.
The page shows its choices as "param.disk.none" and "param.disk.log".

Bug toggle: longest_log (the new primary takes the longest log among the
DoViewChanges, its own unless another is longer, ignoring the last normal view:
an op committed in a later view is overwritten by a deposed primary's
uncommitted ones). The self.bug_* flag in node.py marks the place; the preset
longest_log shows it, and random schedules catch it (about one run in 25: it
needs a deposed primary whose log is at least as long as the new view's, and a
view change that hears from it; nemesis.py sets that up).

What the correct protocol survives, honestly. VRR is safe only while at most f
replicas are down (crashed, or restarted and still recovering) at a time; with
f + 1 down at once and no disk, committed ops are gone for good (the preset
power_loss, which expects committed_kept to break). The engine's fuzz model
cannot bound simultaneous crashes, so:

  - tolerates = None: the correct protocol claims every fault kind: loss,
    duplication, partitions, drops, delays, timers forced early, and crashes
    and restarts, the latter only as the nemesis (nemesis.py) makes them: with
    disk = "none" at most f replicas down or recovering at a time, with
    disk = "log" any number, all at once included. Random runs draw disk.
  - may_crash bounds the engine's blind crash move the same way: without a
    disk a replica may crash only while fewer than f replicas are down or
    recovering (a blind crash of f + 1 replicas is VRR's documented limit,
    not a finding); with disk = "log", and for clients, any time. So
    `check --faults crash,restart` tests crashes within what VR promises.
  - The invariant is not weakened: committed_kept is judged in every run, for
    both disk settings, and the power loss preset shows it breaking.
"""

from __future__ import annotations

from ...kit.strings import load_strings
from ...protocol import Bug, Comparison, Field, Operation, Param, Picture, Protocol, replied_ok
from . import nemesis
from .checker import VRChecker
from .node import BACKUP, CHANGING, CLIENT, PRIMARY, RECOVERING_ROLE, Client, Replica
from .presets import PRESETS

CLIENTS = ("c1", "c2")


class VR(Protocol):
    name = "vr"
    category = "consensus"
    nodes_default = 3
    nodes_min = 3
    nodes_max = 9
    params = (
        Param("disk", "none", 0, 0, kind="choice", choices=("none", "log")),
        Param("heartbeat", 50, 5, 5_000),
        Param("view_timeout", 200, 10, 10_000),
        Param("client_timeout", 400, 20, 60_000),
    )
    bugs = (Bug("longest_log"),)
    operations = (Operation("request", roles=(CLIENT,), arg=True, default="x=1"),)
    fields = (
        Field("role"),
        Field("status"),
        Field("view"),
        Field("primary"),
        Field("lastNormalView"),
        Field("opNumber"),
        Field("commitNumber"),
        Field("log"),
        Field("logStart"),
        Field("kv"),
        Field("clientTable"),
        Field("acks"),
        Field("startViewChanges"),
        Field("doViewChanges"),
        Field("nonce"),
        Field("s", durable=True),
        Field("pending"),
        Field("queued"),
    )
    roles = {PRIMARY: "#2563eb", BACKUP: "#64748b", CHANGING: "#d97706", RECOVERING_ROLE: "#dc2626",
             CLIENT: "#7c3aed"}
    timers = ("view", "commit", "recovery", "retry")
    log_strip = {"field": "log", "start": "logStart", "commit": "commitNumber"}
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("vr.start_view", "vr.commit", "vr.do_view_change", "vr.recovered")
    # The new primary's DoViewChange messages (its own included) against f + 1 of the 2f + 1
    # replicas (clients are no replicas; with an even count f + 1 is half of them).
    pictures = (Picture("tally", "doViewChanges", quorum="f+1", among=(PRIMARY, BACKUP, CHANGING, RECOVERING_ROLE),
                        when={"role": (CHANGING,)}),
                Picture("timers", names=("view",)))
    presets = PRESETS
    # Side by side (engine/schedule.py): writes come from client c1, which finds the primary
    # itself and retries after client_timeout, so a write sent while no primary runs is
    # late, not lost. The view change (StartViewChange, DoViewChange) is the election.
    compare = Comparison(roles={"leader": (PRIMARY,), "follower": (BACKUP,), "candidate": (CHANGING,),
                                "client": (CLIENT,)},
                         steps={"vote": ("StartViewChange", "DoViewChange"), "replicate": ("Prepare",),
                                "ack": ("PrepareOk",), "commit": ("Commit",)},
                         request=("client", "request", "x={i}"),
                         decided=("vr.commit",), served=replied_ok)
    strings = load_strings(__file__)
    default_network = {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}
    default_until = 5_000
    checker_class = VRChecker
    tolerates = None
    # The nemesis is asked often; clients send often, since every lesson needs ops in flight.
    # Blind crashes stay within VR's bound (may_crash).
    fuzz_weights = {"protocol": 20, "request": 10, "partition": 2, "heal": 2, "timeout": 2, "drop": 3,
                    "duplicate": 1}

    def node_ids(self, n):
        return [f"r{i}" for i in range(1, n + 1)] + list(CLIENTS)

    def layout(self, ids):
        return {i: {"place": "top" if i in CLIENTS else "ring"} for i in ids}

    def validate(self, nodes, params):
        if nodes % 2 == 0:
            return (f"VR needs an odd number of replicas, N = 2f + 1 (3, 5, 7 or 9): {nodes} replicas "
                    f"tolerate no more failures than {nodes - 1} and need a larger quorum")
        return None

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = Client if node_id in CLIENTS else Replica
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        key = "xyz"[rng.randrange(3)]
        return rng.choice(CLIENTS), "request", f"{key}={rng.randrange(1, 10)}"

    def may_crash(self, sim, node_id):
        """Without a disk, a replica crashes only while fewer than f are down or recovering."""
        return nemesis.may_crash(sim, node_id)

    def fuzz_action(self, rng, sim, at):
        """Crashes within VR's bound, power losses with a disk, a cut-off primary (nemesis.py)."""
        return nemesis.fuzz_action(rng, sim, at, self.random_request)


PROTOCOL = VR()
