"""Humming Consensus: the chain manager of Basho's Machi (Scott Lystig Fritchie,
"Machi chain manager" design notes, basho/machi doc/high-level-chain-mgr and
src/machi_chain_manager1.erl), a teaching version that keeps the real mechanics:
projections identified by (epoch, checksum), write-once public and private
projection stores as the only channel, a failure detector that is "did your
store answer this round", the ranking, the A20..C300 iteration, the churn
breaker, and the sanity rules for adopting a projection.

    node.py        HummingNode: one chain member (stores, iteration, data path)
    checker.py     sane_history, write_once, no_lost_writes, converges
    presets.py     the lessons' scenarios
    strings.toml   every text, in English and Chinese

Bug toggles: no_sanity (C100 adopts without the sanity check), promote_early
(the UPI tail promotes a repairing node before its repair finished: data loss),
overwrite (a store lets a written register be overwritten).

Data model (so that data loss means something): a client `append` at the UPI
head creates a write "<node><n>" that flows through upi ++ repairing, each
member checking the epoch id; the last member acknowledges it. Repair is the
UPI tail copying its writes to a repairing node, then repair_ms of waiting.

Choices where the sources are silent
------------------------------------
- P_newprop is computed from P_latest (its UPI and repairing lists filtered by
  who answered); after an insane transition a node proposes from its own
  current projection instead, so its proposal is sane for itself.
- A40 also goes to C300 when a member of P_latest's UPI or repairing list did
  not answer (otherwise a crashed node would never be removed: its removal
  lowers the rank).
- "Relevant" in B10: I am in P_latest's UPI or repairing list, or P_latest is
  the none projection.
- An insane P_latest is not adopted; the node counts a retry and writes its
  own proposal (computed from its current projection) with C300.
- Restart from none: when P_latest's UPI is empty, the proposal starts from
  the newest non-none projection any responding member adopted (Latest
  replies carry it); in CP mode only when every member answers. A chain that
  never had one starts as [me] (start-up jostling).
- AP island merge: when the old and new UPI share nobody, the rule "nodes join
  the UPI only from the previous repairing list" is waived for a node that is
  not itself in the new UPI (it will be repaired). CP never waives it.
- Repair only copies the tail's writes to the repairing node (union); AP
  writes acknowledged by an island that loses the merge stay on its nodes and
  are not promised to the winning chain (no_lost_writes follows the chain
  lineage, not every island).
- C103 (churn breaker) writes the none projection at max epoch + 1 with C300
  and sleeps 4 intervals. The "hosed list" of the older flapping design is not
  implemented: the one-way fault shows churn, counted as adopted projections
  and breaker firings.
- The asymmetric fault is a parameter (one_way = a_to_b: b discards every
  message from a), since the engine's partitions are symmetric.
- The repairing list's order is not part of the sanity check (UPI order is):
  repair runs in parallel here, and checking it made views that differ only in
  the order newly-up nodes were appended refuse each other forever.
- Timers: the first tick is uniform in [1, interval] and each next one in
  [interval/2, 3*interval/2) when staggered; exactly interval when not.
- Members are a, b, c, ... (3 to 7, default 5 as in the design's examples).
- tolerates = None: the safety invariants hold under every fault kind in both
  modes (a wedged CP minority breaks none of them). Convergence is judged only
  with staggered timers, no one-way fault and a read timeout longer than a
  round trip; then it asks for every member in the UPI of one projection.
- CP liveness is promised only once every member is up and talking (then it
  restarts from none); with fewer, a wedged minority or an all-none chain
  stays wedged, which is not a safety violation.
"""

from __future__ import annotations

from ...kit.strings import load_strings
from ...protocol import Bug, Comparison, Field, Operation, Param, Protocol
from .checker import HummingChecker, settle_ms
from .node import HEAD, MIDDLE, OUTSIDE, REPAIRING, TAIL, WEDGED, HummingNode
from .presets import PRESETS


def appended(result) -> bool:
    """Did the head answer with the write's name (not "wedged" or "not_head")?"""
    return isinstance(result, str) and result not in ("wedged", "not_head")


class Humming(Protocol):
    name = "humming"
    category = "consensus"
    nodes_default = 5
    nodes_min = 3
    nodes_max = 7
    params = (
        Param("interval", 400, 100, 5_000),
        Param("read_timeout", 100, 20, 2_000),
        Param("repair_ms", 600, 0, 10_000),
        Param("mode", "ap", 0, 0, kind="choice", choices=("ap", "cp")),
        Param("stagger", "on", 0, 0, kind="choice", choices=("on", "none")),
        Param("one_way", "none", 0, 0, kind="choice", choices=("none", "a_to_b")),
    )
    bugs = (Bug("no_sanity"), Bug("promote_early"), Bug("overwrite"))
    operations = (Operation("append"),)
    fields = (
        Field("role"),
        Field("epoch", durable=True),
        Field("csum", durable=True),
        Field("upi", durable=True),
        Field("rep", durable=True),
        Field("public", durable=True),
        Field("private", durable=True),
        Field("adopted", durable=True),
        Field("breakers"),
        Field("writes", durable=True),
        Field("data", durable=True),
    )
    roles = {HEAD: "#2563eb", MIDDLE: "#0891b2", TAIL: "#7c3aed", REPAIRING: "#d97706",
             OUTSIDE: "#64748b", WEDGED: "#dc2626"}
    timers = ("tick",)
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("humming.acked", "humming.adopt", "humming.overwrite", "humming.repair_start",
                 "humming.wedged")
    presets = PRESETS
    # Side by side (engine/schedule.py): appends go to the chain's head, the one node that
    # takes them, and pass down the chain to the tail, whose Ack the head answers with.
    # The chain itself is agreed by writing proposed projections to every store ("vote").
    compare = Comparison(roles={"leader": (HEAD,), "follower": (MIDDLE, TAIL)},
                         steps={"vote": ("Write",), "replicate": ("Append",), "ack": ("Ack",)},
                         request=("leader", "append", None),
                         decided=("humming.acked",), served=appended)
    strings = load_strings(__file__)
    default_network = {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}
    default_until = 10_000
    checker_class = HummingChecker
    tolerates = None

    def node_ids(self, n):
        return [chr(ord("a") + i) for i in range(n)]

    def validate(self, nodes, params):
        if 2 * params["read_timeout"] > params["interval"]:
            return "the read timeout must be at most half the iteration interval"
        return None

    def settle_ms(self, params, network):
        return settle_ms(params, network["latency"][1])

    def create_node(self, node_id, node_ids, params, bugs, disk):
        return HummingNode(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        return rng.choice(node_ids), "append", None


PROTOCOL = Humming()
