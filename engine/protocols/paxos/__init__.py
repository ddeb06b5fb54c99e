"""Single-decree Paxos (Lamport, "Paxos Made Simple", 2001; Paxos.tla in
tlaplus/Examples): the declarations.

    node.py        Acceptor and Proposer (a proposer is a learner too); read it beside the paper
    checker.py     at_most_one_chosen (from the 2b history), one_value_per_ballot,
                   max_bal_monotonic, max_vbal_le_max_bal
    presets.py     the lessons' scenarios
    nemesis.py     a Paxos-aware adversary for random fault schedules
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md)

Roles on the canvas: the node count is the number of acceptors (a1..aN, 3 to 9,
drawn along the bottom), and two proposers p1 and p2 sit on top; they are the
learners too. Why separate proposer nodes rather than every node playing every
role: each arrow then means one thing (1a and 2a go down, 1b, 2b and Nacks come up),
dueling proposers are two nodes you can see duel, crashing a proposer never crashes
an acceptor (so "a minority accepted, then its proposer crashed" is one click), and
every acceptor's vote is a message the checker sees. Learners are the proposers so
that each vote costs two 2b messages, not one per node: the canvas stays legible.

Parameters: timeout (how long a proposer waits for its ballot to decide), retry (the
pause after a Nack), backoff (fixed or random: the page shows the choices as
"param.backoff.fixed" and "param.backoff.random") and nack (the Nack shortcut on or
off: "param.nack.on", "param.nack.off").

Bug toggles: acceptor_amnesia (promises and votes not durable), small_quorum
(floor(n/2) promises make a quorum). Each lets two values be chosen; a preset shows it.

Liveness is not promised (FLP): dueling proposers can pre-empt each other for ever,
which the dueling_fixed preset shows. So the checker has safety invariants only and
`tolerates` is None: safety must hold under every fault.

Narration keys are paxos.<event>, canvas labels paxos.label.<role>.<case>.
"""

from __future__ import annotations

from ...kit.strings import load_strings
from ...protocol import Bug, Comparison, Field, Operation, Param, Picture, Protocol, replied_ok
from . import nemesis
from .checker import PaxosChecker
from .node import ACCEPTOR, PROPOSER, PROPOSERS, Acceptor, Proposer
from .presets import PRESETS


class Paxos(Protocol):
    name = "paxos"
    category = "consensus"
    nodes_default = 3
    nodes_min = 3
    nodes_max = 9
    params = (
        Param("timeout", 300, 20, 10_000),
        Param("retry", 30, 0, 5_000),
        Param("backoff", "random", 0, 0, kind="choice", choices=("random", "fixed")),
        Param("nack", "on", 0, 0, kind="choice", choices=("on", "off")),
    )
    bugs = (Bug("acceptor_amnesia"), Bug("small_quorum"))
    operations = (Operation("propose", roles=(PROPOSER,), arg=True, default="v1"),)
    fields = (
        Field("role"),
        Field("maxBal", durable=True),
        Field("maxVBal", durable=True),
        Field("maxVal", durable=True),
        Field("accepted"),
        Field("round", durable=True),
        Field("phase"),
        Field("ballot"),
        Field("value"),
        Field("proposal"),
        Field("promises"),
        Field("chosen"),
    )
    roles = {PROPOSER: "#d97706", ACCEPTOR: "#2563eb"}
    timers = ("timeout", "backoff")
    log_strip = {"field": "accepted"}
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("paxos.prepare", "paxos.quorum.adopt", "paxos.chosen", "paxos.chosen.conflict",
                 "paxos.nacked")
    # A proposer's promises against a majority of the acceptors (not of every node).
    pictures = (Picture("tally", "promises", among=(ACCEPTOR,), when={"role": (PROPOSER,)}),
                Picture("timers", names=("timeout",)))
    presets = PRESETS
    # Side by side (engine/schedule.py): single-decree Paxos has no leader, only proposers
    # that may duel, so a fault aimed at the leader has nothing to hit here (the table says
    # so). The acceptors play the followers' part. One value is ever chosen: a later
    # proposal is answered with it, and that answer is what a client is served.
    compare = Comparison(roles={"proposer": (PROPOSER,), "follower": (ACCEPTOR,), "acceptor": (ACCEPTOR,)},
                         steps={"vote": ("1a", "1b"), "replicate": ("2a",), "ack": ("2b",)},
                         request=("proposer", "propose", "v{i}"),
                         decided=("paxos.chosen",), served=replied_ok)
    strings = load_strings(__file__)
    default_network = {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}
    default_until = 10_000
    checker_class = PaxosChecker
    tolerates = None
    # Random schedules: many proposals (a duel needs two at once) and the nemesis's
    # bounces (an acceptor or a learner that restarts mid-ballot).
    fuzz_weights = {"crash": 3, "restart": 4, "drop": 3, "duplicate": 1, "partition": 3, "heal": 2,
                    "request": 8, "timeout": 3, "protocol": 12}

    def node_ids(self, n):
        return [*PROPOSERS, *(f"a{i}" for i in range(1, n + 1))]

    def layout(self, ids):
        return {i: {"place": "top" if i in PROPOSERS else "bottom"} for i in ids}

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = Proposer if node_id in PROPOSERS else Acceptor
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        return rng.choice(PROPOSERS), "propose", f"v{rng.randrange(1, 100)}"

    def fuzz_action(self, rng, sim, at):
        """A Paxos-aware fault for random schedules (nemesis.py)."""
        return nemesis.fuzz_action(rng, sim, at)


PROTOCOL = Paxos()
