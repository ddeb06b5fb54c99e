"""CAP and BASE on one replicated register: the declarations.

    node.py        the replicas r1..rN and the two clients c1, c2
    checker.py     linearizable (CP), refusal_harmless (CP), converged (AP); stale reads counted
    presets.py     the lessons' scenarios
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md)

Brewer's CAP conjecture (2000), proved by Gilbert and Lynch (2002): when the
network partitions, a replicated register cannot be both consistent
(linearizable) and available (every request to a live replica answered). The
`mode` parameter picks which one goes.

CP: ABD (Attiya, Bar-Noy, Dolev, "Sharing memory robustly in message-passing
systems", 1995), the majority-quorum register. The client's replica coordinates:

    write v   Query every replica; from a majority (itself included) take the highest
              tag (ts, writer); Store (ts + 1, op id, v) at a majority; answer ok
    read      Query a majority; take the highest tag and its value; Store it back at a
              majority (so no later read returns anything older); answer the value
    no majority within quorum_timeout: refuse. Availability is lost, consistency kept.
    A write whose Store went out may still stick (a minority holds it): its client is
    told "unknown", like a timeout, not "refused".

Every completed operation is linearizable; a minority side refuses everything.

AP: the client's replica answers at once: a write gets the tag (Lamport clock + 1,
replica id) and is acknowledged; a read answers the local copy. Anti-entropy: every
gossip_interval each replica sends its (tag, value) to the next peer in turn; the
higher tag wins. BASE: basically available (every live replica answers), soft state
(a copy may change under you, by gossip), eventually consistent (once quiet, every
replica holds the same value).

Why last-writer-wins and not version vectors with siblings (Dynamo, Riak)? One value
per replica keeps the lesson on the screen: a conflict is resolved by silently
throwing one write away, and the replicas count those merges, so the price is seen.
Version vectors would detect the same conflicts and keep both values as siblings for
the reader to merge: nothing lost, but every reader must resolve. Each stored value
carries the writer's vector only to tell a write the winner had not seen (counted)
from one it overwrote knowingly (not counted); LWW itself orders by tags alone.

Stale reads (a read older than a write acknowledged before it began) are counted by
the checker; an AP replica counts those it served, when gossip later brings a write
acknowledged before the read (virtual time stands in for synchronized clocks there,
for counting only). They are BASE's price, not violations.

Bug toggle: local_read (CP reads answered by the coordinating replica alone).

The page shows the choices of mode as "param.mode.cp" and "param.mode.ap".
Narration keys are cap.<event>, canvas labels cap.label.<case>.
"""

from __future__ import annotations

from ...kit.strings import load_strings
from ...protocol import Bug, Comparison, Field, Operation, Param, Preset, Protocol
from .checker import CAPChecker, settle_time
from .node import CLIENT, CLIENTS, REPLICA, Client, Replica
from .presets import PRESET_SCENARIOS


def write_ok(result) -> bool:
    """Was the client's write acknowledged (not refused, not unknown)?"""
    return isinstance(result, dict) and result.get("outcome") == "ok"


class CAP(Protocol):
    name = "cap"
    category = "concepts"
    # The node count is the number of replicas; the two clients come too.
    nodes_default = 3
    nodes_min = 3
    nodes_max = 7
    params = (
        Param("mode", "cp", 0, 0, kind="choice", choices=("cp", "ap")),
        Param("quorum_timeout", 300, 20, 60_000),
        Param("client_timeout", 1000, 50, 60_000),
        Param("gossip_interval", 500, 20, 10_000),
    )
    bugs = (Bug("local_read"),)
    operations = (
        Operation("write", roles=(CLIENT,), arg=True, default="x1"),
        Operation("read", roles=(CLIENT,)),
    )
    fields = (
        Field("role"),
        Field("value", durable=True),
        Field("ts", durable=True),
        Field("seen", durable=True),
        Field("coordinating"),
        Field("clock", durable=True),
        Field("known", durable=True),
        Field("conflicts", durable=True),
        Field("stale", durable=True),
        Field("replica"),
        Field("next_op", durable=True),
        Field("waiting"),
        Field("results", durable=True),
    )
    roles = {REPLICA: "#2563eb", CLIENT: "#7c3aed"}
    timers = ("quorum", "gossip", "timeout")
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("cap.write_ok", "cap.read_ok", "cap.cp_refuse", "cap.ap_stale",
                 "cap.ap_conflict_discarded", "cap.ap_conflict_replaced")
    presets = tuple(Preset(name, scenario=scenario) for name, scenario in PRESET_SCENARIOS.items())
    # CP keeps linearizability under every fault; AP converges once quiet under every fault.
    tolerates = None
    fuzz_weights = {"request": 10, "partition": 4, "heal": 3}
    # Side by side (engine/schedule.py): client c1 writes through its home replica r1, so
    # the replicated-writes fault classes fit (there is no transaction to drive). There is
    # no leader: CP asks a majority (Query, then Store), AP takes the write alone.
    compare = Comparison(roles={"follower": (REPLICA,), "client": (CLIENT,)},
                         steps={"vote": ("Query", "QueryReply"), "replicate": ("Store",), "ack": ("StoreAck",)},
                         request=("client", "write", "v{i}"),
                         decided=("cap.cp_write_done", "cap.ap_write"), served=write_ok,
                         stale=("cap.ap_stale",), family="consensus")
    strings = load_strings(__file__)
    checker_class = CAPChecker
    default_network = {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}
    default_until = 10_000

    def node_ids(self, n):
        return [f"r{i}" for i in range(1, n + 1)] + list(CLIENTS)

    def layout(self, ids):
        return {i: {"place": "top" if i in CLIENTS else "ring"} for i in ids}

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = Client if node_id in CLIENTS else Replica
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        """Both clients write (a fresh value now and then) and read."""
        client = rng.choice(CLIENTS)
        if rng.random() < 0.5:
            return client, "write", f"v{rng.randrange(1, 100)}"
        return client, "read", None

    def settle_ms(self, params, network):
        """CP promises nothing eventual (a replica that missed a Store keeps its old copy
        until a quorum operation touches it); AP: anti-entropy's bound for the most replicas."""
        if params.get("mode") == "cp":
            return 0
        return settle_time(params, network["latency"][1], self.nodes_max) + 2 * params["gossip_interval"]


PROTOCOL = CAP()
