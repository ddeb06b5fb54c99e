"""Three-phase commit (3PC): Skeen, "Nonblocking Commit Protocols", SIGMOD 1981;
Skeen & Stonebraker, "A Formal Model of Crash Recovery in a Distributed
System", IEEE TSE 1983; the termination and recovery protocols as in Bernstein,
Hadzilacos & Goodman, "Concurrency Control and Recovery in Database Systems",
ch. 7. The declarations.

    node.py        the coordinator and the participants (the protocol itself)
    checker.py     its invariants, on top of kit.atomic_commit
    presets.py     the lessons' scenarios
    nemesis.py     a fault-injecting adversary aimed at 3PC's windows, for `check`
    strings.toml   every text, in English and Chinese (key scheme: docs/architecture.md)

2PC blocks when the coordinator dies after everyone voted yes: a prepared
participant cannot tell whether someone already committed. 3PC adds a round
between the votes and the decision, so that no participant is ever READY
(voted yes, knows nothing more) while another has COMMITTED:

    c  --CanCommit-->  p     p locks KEY, force-writes its yes vote (READY), Vote yes
    c  force-writes PRECOMMIT once every vote is yes (a no, or the vote timeout: ABORT)
    c  --PreCommit-->  p     p force-writes PRECOMMITTED: it knows everyone voted yes; Ack
    c  force-writes COMMIT once every Ack is in (the ack timeout: COMMIT too, Skeen's
       rule; the parameter ack_timeout_decision chooses ABORT instead, a variant)
    c  --DoCommit/Abort--> p re-sent until every participant acknowledges; then END

Termination protocol. A participant up since it voted, READY or PRECOMMITTED,
that hears nothing from the coordinator in time (ready_timeout,
precommit_timeout) takes the coordinator for crashed: it sends StateReq to the
other participants and collects their StateResp for state_wait ms. Election
rule: the new (termination) coordinator is the lowest-numbered participant
that answered, is in doubt and has not restarted since it voted (a lower
numbered one that receives a StateReq starts its own round at once, so it
collects the states itself). It applies the rules, in order:

    someone ABORTED -> abort;   someone COMMITTED -> commit;
    someone PRECOMMITTED -> PreCommit to the READY ones, wait for their Acks, commit;
    everyone READY -> abort,
and sends the decision (Abort, DoCommit) to every participant. The others wait
for it; if it does not come, the new coordinator crashed too and they start
again. With nobody answering, the rules give the simple form: a lone READY
participant aborts, a lone PRECOMMITTED one commits.

Recovery. A participant that restarts READY or PRECOMMITTED was away: its
timeouts prove nothing, so it never decides on one. It asks everyone (the
coordinator too) and adopts any decision someone holds; while the coordinator
is up and deciding, it waits for it; only when every node answered and nobody
has decided does it apply the rules itself, so a run still resolves once
everyone is back. The coordinator, restarting, aborts a transaction with no
PRECOMMIT record (nobody can be PRECOMMITTED), re-sends a logged decision, and
asks like a participant about a PRECOMMIT with no decision. A participant asked
about a transaction it never voted on aborts it (it promised nothing).

3PC is only safe when every message arrives within a bound below the
timeouts, and only under crashes: validate() refuses timeouts too short for the
default network, and the presets show what a partition or a slow network does.

Durable (node.disk, kit.wal) and volatile state:
  coordinator  disk: next_tx; log [PRECOMMIT, tx], [COMMIT, tx] or [ABORT, tx], [END, tx]
               memory: phases, votes, acks awaited, its questions after a restart
  participant  disk: log [READY, tx, key] (the yes vote and the lock), [PRECOMMITTED, tx],
                     [COMMITTED, tx] or [ABORTED, tx]
               memory: termination rounds, which transactions it restarted in doubt

Timers (one engine timer per kind, kit.deadlines; forcing one makes its
earliest deadline expire now): coordinator vote_timeout, flush (the PRECOMMIT
write finishing, log_delay ms after the last yes), ack_timeout, resend, ask;
participant ready_timeout, precommit_timeout, termination, ask.

The page shows the choices of ack_timeout_decision as
"param.ack_timeout_decision.commit" and "param.ack_timeout_decision.abort".
Narration keys are 3pc.<event>, canvas labels 3pc.label.<case>.
"""

from __future__ import annotations

from ...kit.strings import load_strings
from ...protocol import Bug, Comparison, Field, Operation, Param, Picture, Preset, Protocol
from .checker import ThreePCChecker, settle_time
from .nemesis import Nemesis
from .node import COORDINATOR, Coordinator, Participant
from .presets import EXPECTS, PRESET_SCENARIOS


class ThreePhaseCommit(Protocol):
    name = "3pc"
    category = "transactions"
    nodes_default = 3
    nodes_min = 2
    nodes_max = 8
    params = (
        Param("vote_timeout", 500, 50, 60_000),
        Param("log_delay", 50, 0, 10_000),
        Param("ack_timeout", 500, 50, 60_000),
        Param("ack_timeout_decision", "commit", 0, 0, kind="choice", choices=("commit", "abort")),
        Param("ready_timeout", 1000, 50, 60_000),
        Param("precommit_timeout", 1000, 50, 60_000),
        Param("state_wait", 100, 10, 10_000),
        Param("resend_interval", 300, 50, 60_000),
        Param("no_voter", 0, 0, 8),
    )
    bugs = (Bug("commit_on_ready_timeout"), Bug("recovery_decides_alone"))
    operations = (Operation("begin", roles=("coordinator",), arg=True, default="x"),)
    fields = (
        Field("role"),
        Field("next_tx", durable=True),
        Field("decisions", durable=True),
        Field("phase"),
        Field("votes"),
        Field("acks"),
        Field("status", durable=True),
        Field("locks", durable=True),
        Field("termination"),
    )
    roles = {"coordinator": "#2563eb", "participant": "#059669"}
    timers = ("vote_timeout", "ack_timeout", "resend", "ready_timeout", "precommit_timeout", "termination", "ask")
    # The notes a guided run stops at (a preset without chapters of its own).
    key_notes = ("3pc.all_yes", "3pc.precommitted", "3pc.decided", "3pc.committed",
                 "3pc.takes_over", "3pc.damage")
    # As in 2PC: the coordinator's votes for its newest transaction against every participant,
    # each participant's locks.
    pictures = (Picture("tally", "votes", quorum="all", among=("participant",), per=True,
                        when={"role": ("coordinator",)}),
                Picture("locks", "locks"), Picture("timers", names=("vote_timeout", "ack_timeout")))
    presets = tuple(Preset(name, scenario=scenario, expects=EXPECTS.get(name, ()))
                    for name, scenario in PRESET_SCENARIOS.items())
    # Safe with bounded delays only: crashes, restarts and duplicates, not partitions,
    # loss, long delays or timers forced early (check --faults crash,restart finds nothing);
    # "protocol" is its nemesis (fuzz_action), whose moves are crashes and restarts only.
    tolerates = ("crash", "restart", "duplicate", "protocol")
    # Random schedules (engine.fuzz): the nemesis is asked often, beside the blind crashes
    # (3) and restarts (4), since it acts only when a transaction is in one of its windows
    # (about one call in five); and every window is a transaction in flight, so clients
    # begin more of them than the engine's default (6).
    fuzz_weights = {"protocol": 12, "request": 10}
    # Side by side (engine/schedule.py): the coordinator drives one transaction on key x
    # ("begin"); a participant in doubt holds its lock until it learns the outcome.
    compare = Comparison(roles={"coordinator": ("coordinator",), "participant": ("participant",)},
                         steps={"prepare": ("CanCommit",), "vote": ("Vote",), "precommit": ("PreCommit",),
                              "decision": ("DoCommit", "Abort"), "ack": ("Ack",),
                              "query": ("StateReq", "StateResp")},
                         request=("coordinator", "begin", "x"),
                         decided=("3pc.decided", "3pc.committed", "3pc.aborted"),
                         fail=("param", "no_voter"), in_doubt=("status", ("READY", "PRECOMMITTED")), locks="locks")
    strings = load_strings(__file__)
    checker_class = ThreePCChecker

    def node_ids(self, n):
        return [COORDINATOR] + [f"p{i}" for i in range(1, n + 1)]

    def layout(self, ids):
        return {i: {"place": "center" if i == COORDINATOR else "ring"} for i in ids}

    def validate(self, nodes, params):
        """The timing rules 3PC's safety rests on, against the default network's worst delay."""
        p = params
        if p["no_voter"] > nodes:
            return f"param no_voter={p['no_voter']} names no participant: this run has p1..p{nodes}"
        trip = 2 * self.default_network["latency"][1]
        need = p["vote_timeout"] + p["log_delay"] + trip
        if p["ready_timeout"] <= need:
            return (f"ready_timeout={p['ready_timeout']} is too short for 3PC to be safe: a READY participant must "
                    f"wait longer than the coordinator may take to decide and tell it, vote_timeout "
                    f"{p['vote_timeout']} + log_delay {p['log_delay']} + a round trip {trip} = {need} ms")
        need = p["ack_timeout"] + trip
        if p["precommit_timeout"] <= need:
            return (f"precommit_timeout={p['precommit_timeout']} is too short for 3PC to be safe: a PRECOMMITTED "
                    f"participant must wait longer than the coordinator may take to commit and tell it, "
                    f"ack_timeout {p['ack_timeout']} + a round trip {trip} = {need} ms")
        if p["state_wait"] <= trip:
            return (f"state_wait={p['state_wait']} is too short for 3PC to be safe: a termination round must "
                    f"outlast a round trip ({trip} ms), or a participant that is up looks crashed")
        return None

    def create_node(self, node_id, node_ids, params, bugs, disk):
        cls = Coordinator if node_id == COORDINATOR else Participant
        return cls(node_id, node_ids, params, bugs, disk)

    def random_request(self, rng, node_ids):
        return (COORDINATOR, "begin", rng.choice(("x", "y")))

    def settle_ms(self, params, network):
        return settle_time(params, network["latency"][1])

    def fuzz_action(self, rng, sim, at):
        """A 3PC-aware nemesis: crashes and restarts aimed at 3PC's windows (nemesis.py)."""
        return Nemesis(rng, sim, at).move()


PROTOCOL = ThreePhaseCommit()
