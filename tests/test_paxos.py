"""Single-decree Paxos: every preset's lesson, random fault schedules, bug toggles,
durability rules and the checker's reading of the 2b history."""

from __future__ import annotations

import itertools
import random

import pytest

from engine import fuzz
from engine.protocol import Message
from engine.protocols import paxos
from engine.protocols.paxos.checker import PaxosChecker
from engine.protocols.paxos.node import Acceptor, Proposer
from engine.scenario import from_dict
from engine.sim import Simulation

from .traces import notes, safety, sends, views
from .translations import check_violation_texts, placeholders, violation_of

PROTO = paxos.PROTOCOL


def run(preset=None, **data):
    d = {"protocol": "paxos", **data}
    if preset:
        d["preset"] = preset
    return Simulation(from_dict(d), trace=True).run()


def invariants(sim):
    return {v["invariant"] for v in safety(sim)}


def chosen_from_history(sim):
    """{value: first ballot} chosen according to the 2b messages sent (as the checker counts)."""
    n = len([i for i in sim.ids if i.startswith("a")])
    votes, chosen = {}, {}
    for e in sends(sim, "2b"):
        b = e["body"]
        bal = f"{b['bal'][0]}.{b['bal'][1]}"
        votes.setdefault((bal, b["val"]), set()).add(b["acc"])
        if len(votes[(bal, b["val"])]) > n // 2:
            chosen.setdefault(b["val"], bal)
    return chosen


def learned(sim):
    return {(e["node"], e["args"]["val"], e["args"]["bal"]) for e in notes(sim, "paxos.chosen")}


def prepares(sim, node=None):
    return [(e["t"], e["args"]["bal"]) for e in notes(sim, "paxos.prepare", node)]


# ---------------------------------------------------------------- presets

def test_happy_path_one_ballot_chooses_v1_and_a_later_proposer_answers_it():
    sim = run("happy_path")
    assert safety(sim) == []
    v = views(sim)
    for a in ("a1", "a2", "a3"):
        assert v[a]["accepted"] == ["1.p1:v1"] and v[a]["maxBal"] == "1.p1"
    assert v["p1"]["chosen"] == v["p2"]["chosen"] == "v1"
    assert learned(sim) == {("p1", "v1", "1.p1"), ("p2", "v1", "1.p1")}
    assert {e["t"] for e in notes(sim, "paxos.chosen")} == {90}
    assert prepares(sim) == [(10, "1.p1")]                     # one ballot, no retry
    assert [e["args"]["val"] for e in notes(sim, "paxos.quorum.free")] == ["v1"]
    replies = [e["result"] for e in sim.trace if e["type"] == "reply"]
    assert replies == [{"ok": True, "chosen": "v1"}, {"ok": True, "chosen": "v1"}]   # p1's client, then p2's
    assert notes(sim, "paxos.request.known", "p2")[0]["args"] == {"val": "v2", "chosen": "v1"}
    assert chosen_from_history(sim) == {"v1": "1.p1"}


def test_dueling_fixed_timers_livelock_ballots_climb_nothing_chosen():
    sim = run("dueling_fixed")
    assert safety(sim) == []
    assert notes(sim, "paxos.chosen") == [] and sends(sim, "2b") == []
    assert chosen_from_history(sim) == {}
    # Ballots alternate and climb, 35 ms apart, for the whole run.
    ballots = [b for _, b in prepares(sim)]
    assert len(ballots) >= 25
    assert ballots[:6] == ["1.p1", "1.p2", "2.p1", "2.p2", "3.p1", "3.p2"]
    times = [t for t, _ in prepares(sim)]
    assert all(b - a == 35 for a, b in itertools.pairwise(times))
    # Every 2a was refused, each because the other's newer promise had just been given.
    sent_2a = {e["id"] for e in sends(sim, "2a")}
    delivered_2a = [e for e in sim.trace if e["type"] == "deliver" and e["id"] in sent_2a]
    assert len(notes(sim, "paxos.refuse.silent")) == len(delivered_2a) >= 75
    assert all(v["accepted"] == [] for n, v in views(sim).items() if n.startswith("a"))
    told = notes(sim, "paxos.livelock.fixed")
    assert {e["node"] for e in told} == {"p1", "p2"} and len(told) == 2      # told once each
    assert "FLP" in PROTO.strings["paxos.livelock.fixed"]["en"]
    assert "FLP" in PROTO.strings["preset.dueling_fixed.lesson"]["en"]


def test_dueling_random_backoff_lets_one_proposer_win():
    sim = run("dueling_random")
    assert safety(sim) == []
    assert chosen_from_history(sim) == {"v1": "3.p1"}
    assert learned(sim) == {("p1", "v1", "3.p1"), ("p2", "v1", "3.p1")}
    lost = [e["args"]["bal"] for e in notes(sim, "paxos.timeout")]
    assert lost[:4] == ["1.p1", "1.p2", "2.p1", "2.p2"]        # the same collisions as with fixed timers ...
    waits = [e["args"]["ms"] for e in notes(sim, "paxos.prepare")[2:]]
    assert all(70 <= w < 140 for w in waits) and len(set(waits)) > 1   # ... then drawn timeouts break them
    assert notes(sim, "paxos.chosen")[0]["t"] == 232
    fixed = run("dueling_random", params={"timeout": 70, "nack": "off", "backoff": "fixed"})
    assert chosen_from_history(fixed) == {}


def test_minority_accepted_value_is_adopted_by_the_next_proposer():
    sim = run("minority_accepted")
    assert safety(sim) == []
    # Before the crash only a1 voted for v1: a minority, nothing chosen yet.
    early = [e for e in sends(sim, "2b") if e["t"] < 100]
    assert {e["src"] for e in early} == {"a1"} and {e["body"]["val"] for e in early} == {"v1"}
    crash = next(e for e in sim.trace if e["type"] == "crash")
    assert crash["node"] == "p1" and crash["t"] == 100
    # p2, asked for v2, hears a1's vote in a 1b and proposes v1, not v2.
    voted = [e for e in sends(sim, "1b", src="a1", dst="p2")]
    assert voted[0]["body"]["mbal"] == [1, "p1"] and voted[0]["body"]["mval"] == "v1"
    p2_2a = sends(sim, "2a", src="p2")
    assert p2_2a and {e["body"]["val"] for e in p2_2a} == {"v1"} and p2_2a[0]["body"]["bal"] == [1, "p2"]
    adopt = notes(sim, "paxos.quorum.adopt", "p2")[0]["args"]
    assert adopt == {"bal": "1.p2", "count": 2, "acc": "a1", "vbal": "1.p1", "val": "v1", "own": "v2"}
    assert ("p2", "v1", "1.p2") in learned(sim)
    # The restarted p1, asked for v3, runs ballot 2.p1 (its round came back from disk) and finds v1 too.
    assert notes(sim, "paxos.recover.proposer", "p1")[0]["args"] == {"round": 1}
    assert {e["body"]["val"] for e in sends(sim, "2a", src="p1") if e["body"]["bal"] == [2, "p1"]} == {"v1"}
    assert chosen_from_history(sim) == {"v1": "1.p2"}
    assert views(sim)["p1"]["chosen"] == views(sim)["p2"]["chosen"] == "v1"
    assert all(v["accepted"] == ["2.p1:v1"] for n, v in views(sim).items() if n.startswith("a"))


def test_nack_shortcut_shortens_the_preempted_proposers_wait():
    on, off = run("nack_on"), run("nack_off")
    assert safety(on) == [] and safety(off) == []
    assert chosen_from_history(on) == {"v1": "2.p1"} and chosen_from_history(off) == {"v1": "2.p1"}
    # With Nacks p1 hears at 90 why its 2a failed, and retries 30 ms later with a ballot above 1.p2.
    nacked = notes(on, "paxos.nacked", "p1")
    assert len(nacked) == 1 and nacked[0]["t"] == 90 and nacked[0]["args"]["max"] == "1.p2"
    assert prepares(on, "p1") == [(10, "1.p1"), (120, "2.p1")]
    # Without, nothing comes back: it waits out its 300 ms ballot timeout.
    assert sends(off, "Nack") == [] and notes(off, "paxos.nacked") == []
    assert prepares(off, "p1") == [(10, "1.p1"), (310, "2.p1")]
    t_on = notes(on, "paxos.chosen", "p1")[0]["t"]
    t_off = notes(off, "paxos.chosen", "p1")[0]["t"]
    assert (t_on, t_off) == (200, 390)
    # A Nack waits in the label, and the Nack kind is only sent with the shortcut on.
    labels = [e["changes"]["label"][0] for e in on.trace if e["type"] == "state" and "label" in e["changes"]]
    assert "paxos.label.proposer.wait" in labels
    assert {e["dst"] for e in sends(on, "Nack")} == {"p1"}


def test_acceptor_amnesia_chooses_two_values():
    sim = run("acceptor_amnesia")
    assert {"at_most_one_chosen", "max_bal_monotonic"} <= invariants(sim)
    assert chosen_from_history(sim) == {"v1": "1.p1", "v2": "1.p2"}
    viol = next(v for v in sim.violations if v["invariant"] == "at_most_one_chosen")
    assert viol["args"] == {"val": "v2", "bal": "1.p2", "first": "v1", "first_bal": "1.p1"}
    assert notes(sim, "paxos.recover.amnesia", "a1")
    # Judged from the 2b history, not the learners: p1 never heard of v2.
    assert views(sim)["p1"]["chosen"] == "v1" and views(sim)["p2"]["chosen"] == "v2"
    assert notes(sim, "paxos.chosen.conflict") == []
    # The same script without the bug: a1 remembers its vote, p2 adopts v1.
    fixed = run("acceptor_amnesia", bugs=[])
    assert safety(fixed) == []
    assert chosen_from_history(fixed) == {"v1": "1.p1"}
    assert notes(fixed, "paxos.quorum.adopt", "p2")[0]["args"]["val"] == "v1"
    assert notes(fixed, "paxos.recover.acceptor", "a1")[0]["args"] == {"bal": "1.p1", "vbal": "1.p1", "val": "v1"}


def test_small_quorum_chooses_two_values():
    sim = run("small_quorum")
    assert "at_most_one_chosen" in invariants(sim)
    assert chosen_from_history(sim) == {"v1": "1.p1", "v2": "1.p2"}
    small = notes(sim, "paxos.quorum.small")
    assert [e["node"] for e in small] == ["p1", "p2"] and small[0]["args"] == {"count": 1, "n": 3, "need": 2}
    assert notes(sim, "paxos.chosen.conflict", "p1")           # p1 had learned v1, then sees v2 chosen
    # The same script without the bug: p2 waits for a real majority, which reports v1.
    fixed = run("small_quorum", bugs=[])
    assert safety(fixed) == []
    assert set(chosen_from_history(fixed)) == {"v1"}
    assert notes(fixed, "paxos.quorum.small") == []


# ---------------------------------------------------------------- random schedules and bugs

def test_random_fault_schedules_find_nothing():
    found, violations, runs = fuzz.check("paxos", runs=200, model=fuzz.Model())
    assert found is None, violations[:1]
    assert runs == 200


@pytest.mark.parametrize("bug", [b.name for b in PROTO.bugs])
def test_each_bug_is_caught_by_random_schedules_and_replays(bug):
    scenario, found, _runs = fuzz.check("paxos", bugs=[bug], runs=150, model=fuzz.Model())
    assert scenario is not None and found, f"{bug} not found in 150 runs"
    again = fuzz.violations_of(from_dict(scenario.to_dict()))
    assert any(v["invariant"] == found[0]["invariant"] for v in again)


@pytest.mark.parametrize("bug", [b.name for b in PROTO.bugs])
def test_each_bug_leads_random_schedules_to_two_chosen_values(bug):
    """Not only a lemma: at_most_one_chosen itself breaks. (A random run stops at its first
    violation, max_bal_monotonic for amnesia; so whole schedules drawn for the correct
    protocol are replayed with the bug on.)"""
    hits = 0
    for seed in range(1, 201):
        out = fuzz.fuzz_run("paxos", seed)
        buggy = from_dict({**out.scenario.to_dict(), "bugs": [bug]})
        sim = Simulation(buggy, trace=False).run()
        hits += any(v["invariant"] == "at_most_one_chosen" for v in sim.violations)
    assert hits >= 2, bug


def test_every_violation_message_is_translated():
    emitted = []
    for p in PROTO.presets:
        emitted += run(p.name).violations
    for bug in PROTO.bugs:
        emitted += fuzz.check("paxos", bugs=[bug.name], runs=150)[1]
    assert {"viol.at_most_one_chosen", "viol.max_bal_monotonic"} <= {v["key"] for v in emitted}
    check_violation_texts(PROTO, emitted)
    for name in PaxosChecker.invariants:
        key = f"viol.{name}"
        args = {a: f"<{a}>" for a in placeholders(PROTO.strings[key]["en"])}
        check_violation_texts(PROTO, [violation_of(PROTO, name, key, ("a1",), **args).as_dict()])


# ---------------------------------------------------------------- the checker

class FakeSim:
    """What a checker may read: observe() per node."""

    def __init__(self, observed):
        self.observed = observed

    def observe(self, n):
        return self.observed.get(n)


def checker(n=3):
    ids = PROTO.node_ids(n)
    c = PaxosChecker({}, frozenset(), ids)
    c.strings = PROTO.strings
    return c


def msg(kind, src, dst, **body):
    return Message(1, src, dst, kind, body, 0, 0)


def test_chosen_is_counted_from_distinct_acceptors_in_one_ballot():
    c = checker()
    sim = FakeSim({})
    # The same vote to two learners, and a duplicate, count once.
    for dst in ("p1", "p2", "p1"):
        assert c.on_send(sim, msg("2b", "a1", dst, acc="a1", bal=[1, "p1"], val="x")) == []
    # A vote for another value in another ballot: no majority for it yet.
    assert c.on_send(sim, msg("2b", "a2", "p1", acc="a2", bal=[2, "p2"], val="y")) == []
    assert c.on_send(sim, msg("2b", "a3", "p1", acc="a3", bal=[1, "p1"], val="x")) == []   # x chosen at 1.p1
    # y reaches a majority at 2.p2: a second value chosen.
    (v,) = c.on_send(sim, msg("2b", "a3", "p1", acc="a3", bal=[2, "p2"], val="y"))
    assert v.invariant == "at_most_one_chosen"
    assert v.args == {"val": "y", "bal": "2.p2", "first": "x", "first_bal": "1.p1"}
    assert set(v.nodes) == {"a1", "a2", "a3"}
    # The same value chosen again in a later ballot is fine.
    c2 = checker()
    for acc in ("a1", "a2"):
        c2.on_send(sim, msg("2b", acc, "p1", acc=acc, bal=[1, "p1"], val="x"))
    assert c2.on_send(sim, msg("2b", "a1", "p1", acc="a1", bal=[3, "p2"], val="x")) == []
    assert c2.on_send(sim, msg("2b", "a3", "p1", acc="a3", bal=[3, "p2"], val="x")) == []


def test_one_value_per_ballot_across_2a_and_2b():
    c = checker()
    sim = FakeSim({})
    assert c.on_send(sim, msg("2a", "p1", "a1", bal=[1, "p1"], val="x")) == []
    assert c.on_send(sim, msg("2a", "p1", "a2", bal=[1, "p1"], val="x")) == []
    (v,) = c.on_send(sim, msg("2a", "p1", "a3", bal=[1, "p1"], val="y"))
    assert v.invariant == "one_value_per_ballot" and v.args == {"bal": "1.p1", "val": "y", "other": "x"}
    (v,) = c.on_send(sim, msg("2b", "a1", "p1", acc="a1", bal=[1, "p1"], val="z"))
    assert v.invariant == "one_value_per_ballot"


def test_max_bal_never_decreases_across_a_crash_and_votes_stay_within_promises():
    c = checker()
    acc = {"role": "acceptor", "maxBal": [2, "p1"], "maxVBal": [1, "p2"], "maxVal": "x"}
    assert c.after_event(FakeSim({"a1": acc}), "a1", None) == []
    assert c.after_event(FakeSim({}), "a1", None) == []                       # crashed: nothing to read
    forgot = {"role": "acceptor", "maxBal": None, "maxVBal": None, "maxVal": None}
    (v,) = c.after_event(FakeSim({"a1": forgot}), "a1", None)
    assert v.invariant == "max_bal_monotonic" and v.args == {"node": "a1", "was": "2.p1", "now": "—"}
    above = {"role": "acceptor", "maxBal": [3, "p1"], "maxVBal": [4, "p2"], "maxVal": "x"}
    (v,) = c.after_event(FakeSim({"a2": above}), "a2", None)
    assert v.invariant == "max_vbal_le_max_bal"
    assert c.after_event(FakeSim({"p1": {"role": "proposer"}}), "p1", None) == []


# ---------------------------------------------------------------- nodes, durability

class Ctx:
    """A context that records what a node does; persist writes through to the disk."""

    def __init__(self, node_id, ids, seed=1):
        self.node_id = node_id
        self.node_ids = ids
        self.rng = random.Random(seed)
        self.now = 0
        self.sent, self.timers, self.notes, self.replies = [], {}, [], []
        self.disk = None

    def send(self, dst, kind, **body):
        self.sent.append((dst, kind, body, dict(self.disk)))   # the disk as it was when the message left

    def set_timer(self, name, ms):
        self.timers[name] = ms

    def cancel_timer(self, name):
        self.timers.pop(name, None)

    def timer_armed(self, name):
        return name in self.timers

    def persist(self, **fields):
        self.disk.update(fields)

    def note(self, key, /, **args):
        self.notes.append((key, args))

    def observe(self, fact, /, **args):
        pass

    def reply(self, op, result):
        self.replies.append((op, result))


PARAMS = {p.name: p.default for p in PROTO.params}


def make(cls, node_id, bugs=(), disk=None, params=None, restart=False):
    ids = PROTO.node_ids(3)
    node = cls(node_id, ids, {**PARAMS, **(params or {})}, frozenset(bugs), {} if disk is None else disk)
    ctx = Ctx(node_id, ids)
    ctx.disk = node.disk
    (node.on_recover if restart else node.on_start)(ctx)
    return node, ctx


def deliver(node, ctx, src, kind, **body):
    ctx.sent.clear()
    node.on_message(ctx, Message(1, src, node.id, kind, body, 0, 0))
    return list(ctx.sent)


def test_acceptor_persists_promise_and_vote_before_answering_and_keeps_them_across_a_restart():
    a, ctx = make(Acceptor, "a1")
    (r,) = deliver(a, ctx, "p1", "1a", bal=[1, "p1"])
    assert r[:3] == ("p1", "1b", {"acc": "a1", "bal": [1, "p1"], "mbal": None, "mval": None})
    assert r[3]["maxBal"] == [1, "p1"]                        # on disk when the 1b left
    assert deliver(a, ctx, "p1", "1a", bal=[1, "p1"]) == []    # a duplicate 1a: promised already
    out = deliver(a, ctx, "p1", "2a", bal=[1, "p1"], val="x")
    assert [(d, k) for d, k, _, _ in out] == [("p1", "2b"), ("p2", "2b")]
    assert out[0][3] == {"maxBal": [1, "p1"], "maxVBal": [1, "p1"], "maxVal": "x"}
    # Lower ballots get a Nack naming the promise.
    (r,) = deliver(a, ctx, "p2", "1a", bal=[0, "p2"])
    assert r[:3] == ("p2", "Nack", {"bal": [0, "p2"], "maxBal": [1, "p1"]})
    # A restart reads everything back; a higher 1a learns the vote.
    b, bctx = make(Acceptor, "a1", disk=a.disk, restart=True)
    (r,) = deliver(b, bctx, "p2", "1a", bal=[2, "p2"])
    assert r[2] == {"acc": "a1", "bal": [2, "p2"], "mbal": [1, "p1"], "mval": "x"}
    # With nack off, a lower ballot gets silence.
    c, cctx = make(Acceptor, "a2", params={"nack": "off"})
    deliver(c, cctx, "p1", "1a", bal=[3, "p1"])
    assert deliver(c, cctx, "p2", "2a", bal=[1, "p2"], val="y") == []


def test_acceptor_amnesia_keeps_nothing_on_disk():
    a, ctx = make(Acceptor, "a1", bugs=["acceptor_amnesia"])
    deliver(a, ctx, "p1", "1a", bal=[1, "p1"])
    deliver(a, ctx, "p1", "2a", bal=[1, "p1"], val="x")
    assert a.disk == {} and a.observe()["maxVal"] == "x"
    b, _ = make(Acceptor, "a1", bugs=["acceptor_amnesia"], disk=a.disk, restart=True)
    assert b.observe() == {"role": "acceptor", "maxBal": None, "maxVBal": None, "maxVal": None}


def test_proposer_saves_its_round_before_the_1a_and_adopts_the_highest_vote():
    p, ctx = make(Proposer, "p2")
    p.on_request(ctx, "propose", "mine")
    assert [(d, k) for d, k, _, _ in ctx.sent] == [("a1", "1a"), ("a2", "1a"), ("a3", "1a")]
    assert all(s[2] == {"bal": [1, "p2"]} and s[3]["round"] == 1 for s in ctx.sent)
    deliver(p, ctx, "a1", "1b", acc="a1", bal=[1, "p2"], mbal=[0, "p1"], mval="old")
    deliver(p, ctx, "a1", "1b", acc="a1", bal=[1, "p2"], mbal=[0, "p1"], mval="old")   # counted once
    assert p.phase == "phase1"
    out = deliver(p, ctx, "a3", "1b", acc="a3", bal=[1, "p2"], mbal=[0, "p2"], mval="newer")
    assert {s[2]["val"] for s in out} == {"newer"} and len(out) == 3   # the highest mbal wins: 0.p2 > 0.p1
    assert deliver(p, ctx, "a2", "1b", acc="a2", bal=[1, "p2"], mbal=None, mval=None) == []   # one 2a per ballot
    # A Nack moves it past the ballot that beat it; its round survives a restart.
    deliver(p, ctx, "a1", "Nack", bal=[1, "p2"], maxBal=[5, "p1"])
    assert p.phase == "wait" and "backoff" in ctx.timers and "timeout" not in ctx.timers
    ctx.sent.clear()
    p.on_timer(ctx, "backoff")
    assert ctx.sent[0][2] == {"bal": [6, "p2"]}
    q, qctx = make(Proposer, "p2", disk=p.disk, restart=True)
    assert q.phase == "idle" and q.value is None and q.chosen is None
    q.on_request(qctx, "propose", "again")
    assert qctx.sent[0][2] == {"bal": [7, "p2"]}


def test_small_quorum_bug_takes_one_promise_of_three():
    p, ctx = make(Proposer, "p1", bugs=["small_quorum"])
    p.on_request(ctx, "propose", "x")
    out = deliver(p, ctx, "a3", "1b", acc="a3", bal=[1, "p1"], mbal=None, mval=None)
    assert [k for _, k, _, _ in out] == ["2a", "2a", "2a"]
    assert ("paxos.quorum.small", {"count": 1, "n": 3, "need": 2}) in ctx.notes


def test_learner_needs_a_majority_in_one_ballot_and_answers_its_client():
    p, ctx = make(Proposer, "p1")
    p.on_request(ctx, "propose", "x")
    deliver(p, ctx, "a1", "2b", acc="a1", bal=[1, "p2"], val="y")
    deliver(p, ctx, "a2", "2b", acc="a2", bal=[2, "p2"], val="y")        # two ballots: no majority in either
    assert p.chosen is None
    deliver(p, ctx, "a3", "2b", acc="a3", bal=[2, "p2"], val="y")
    assert p.chosen == ("y", "2.p2") and p.phase == "done"
    assert ctx.replies == [("propose", {"ok": True, "chosen": "y"})]
    assert ctx.timers == {}
    p.on_request(ctx, "propose", "z")
    assert ctx.replies[-1] == ("propose", {"ok": True, "chosen": "y"})


# ---------------------------------------------------------------- declarations and the nemesis

def test_declarations():
    assert PROTO.category == "consensus" and PROTO.tolerates is None
    assert PROTO.node_ids(3) == ["p1", "p2", "a1", "a2", "a3"]
    assert PROTO.nodes_min == 3 and PROTO.nodes_max == 9
    assert PROTO.log_strip == {"field": "accepted"}
    assert {o.name: o.roles for o in PROTO.operations} == {"propose": ("proposer",)}
    params = {p.name: p for p in PROTO.params}
    assert params["backoff"].choices == ("random", "fixed") and params["nack"].choices == ("on", "off")
    for p in params.values():
        for c in p.choices:
            assert f"param.{p.name}.{c}" in PROTO.strings
    layout = PROTO.layout(PROTO.node_ids(3))
    assert layout["p1"]["place"] == "top" and layout["a1"]["place"] == "bottom"


def test_fuzz_action_moves_are_valid_replayable_actions():
    sim = Simulation(from_dict({"protocol": "paxos", "seed": 1, "until": 6000}), trace=False)
    rng = random.Random(5)
    seen = set()
    for at in range(100, 5000, 50):
        sim.run_until(at - 1)
        got = PROTO.fuzz_action(rng, sim, at)
        if got is None:
            continue
        for a in got if isinstance(got, list) else [got]:
            a = sim.add_action(a)
            seen.add(a["do"])
            if a["do"] == "partition":
                assert all(sum(p in g for p in ("p1", "p2")) == 1 for g in a["groups"])
                sim.add_action({"at": at + 1, "do": "heal"})
    assert seen == {"request", "partition", "crash", "restart"}
    sim.run()
    assert sim.violations == []
