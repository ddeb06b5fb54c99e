"""Three-phase commit: each preset's lesson (2PC's coordinator_crash side by side), the
termination and recovery protocols, the timing rules, the checker (safety and
eventual), random crash-only schedules, partitions, and the bug toggles."""

import io
import json

import pytest

from engine import from_token, fuzz
from engine.cli import main
from engine.protocols import registry
from engine.protocols.threepc import checker as threepc_checker
from engine.protocols.threepc import node as threepc_node
from engine.scenario import ScenarioError, from_dict
from engine.sim import Simulation

from .traces import notes, safety, sends, views
from .translations import check_violation_texts, placeholders

PROTO = registry.get("3pc")
PARTICIPANTS = ["p1", "p2", "p3"]
FIXED = {"latency": [20, 20]}
# Crash-only fault schedules: the failures 3PC is designed for (no loss, no partition, no forced timer).
CRASH_ONLY = {**{k: 0 for k in fuzz.KINDS}, "crash": 3, "restart": 4, "request": 6}
# ...and beyond them: the network splits, heals and drops messages.
PARTITIONS = {**{k: 0 for k in fuzz.KINDS}, "request": 6, "partition": 3, "heal": 2, "drop": 3}


def run(**data) -> Simulation:
    return Simulation(from_dict({"protocol": "3pc", **data})).run()


def preset(name, **extra) -> Simulation:
    return Simulation(from_dict({"protocol": "3pc", "preset": name, **extra})).run()


def begin(at, key="x"):
    return {"at": at, "do": "request", "node": "c", "op": "begin", "arg": key}


def status(sim, tx="tx1"):
    return {p: v["status"].get(tx) for p, v in views(sim).items() if p != "c"}


# ---------------------------------------------------------------- declarations and strings

def test_declares_coordinator_and_participants_and_a_json_description():
    assert PROTO.name == "3pc" and PROTO.category == "transactions"
    assert PROTO.node_ids(3) == ["c", "p1", "p2", "p3"]
    assert (PROTO.nodes_min, PROTO.nodes_default, PROTO.nodes_max) == (2, 3, 8)
    assert PROTO.layout(PROTO.node_ids(2)) == {"c": {"place": "center"}, "p1": {"place": "ring"},
                                               "p2": {"place": "ring"}}
    desc = json.loads(json.dumps(PROTO.describe()))
    durable = {f["name"] for f in desc["fields"] if f["durable"]}
    assert durable == {"next_tx", "decisions", "status", "locks"}
    choice = next(p for p in desc["params"] if p["name"] == "ack_timeout_decision")
    assert choice["kind"] == "choice" and choice["choices"] == ["commit", "abort"] and choice["default"] == "commit"
    assert {n for n, _ in PROTO.invariants} == {"atomicity", "decision_stable", "commit_needs_yes",
                                                "precommit_needs_yes", "locks_held", "all_resolved"}


def _all_runs():
    sims = [preset(p.name) for p in PROTO.presets]
    for seed in range(1, 16):
        sims.append(Simulation(fuzz.random_run("3pc", seed, weights=CRASH_ONLY)[0]).run())
        sims.append(Simulation(fuzz.random_run("3pc", seed, weights=PARTITIONS)[0]).run())
        sims.append(Simulation(fuzz.random_run("3pc", seed)[0]).run())
    sims.append(run(actions=[{"at": 10, "do": "request", "node": "p1", "op": "begin", "arg": "x"}], until=500))
    return sims


def test_every_message_kind_note_and_label_has_english_and_chinese():
    s = PROTO.strings
    for key, texts in s.items():
        assert set(texts) == {"en", "zh"} and texts["en"] and texts["zh"], key
        assert placeholders(texts["en"]) == placeholders(texts["zh"]), key
    kinds, emitted, labels = set(), {}, set()
    for sim in _all_runs():
        for e in sim.trace:
            if e["type"] == "send":
                kinds.add(e["kind"])
            elif e["type"] == "note" and e["key"].startswith("3pc."):
                emitted.setdefault(e["key"], set(e["args"]))
            elif e["type"] == "state" and isinstance(e["changes"].get("label"), list):
                labels.add(e["changes"]["label"][0])
    assert kinds == {"CanCommit", "Vote", "PreCommit", "Ack", "DoCommit", "Abort", "StateReq", "StateResp"}
    for k in kinds:
        assert s[f"kind.{k}"]["en"] and s[f"kind.{k}"]["zh"] != s[f"kind.{k}"]["en"], k
    assert len(emitted) >= 35
    for key, args in emitted.items():
        assert key in s and placeholders(s[key]["en"]) <= args, key
    assert labels == {k for k in s if k.startswith("3pc.label.")}
    for p in PROTO.params:
        if p.kind == "choice":
            assert all(f"param.{p.name}.{c}" in s for c in p.choices)


# ---------------------------------------------------------------- timing rules (validate)

@pytest.mark.parametrize("params,words", [
    ({"ready_timeout": 610}, ("ready_timeout=610 is too short for 3PC to be safe: a READY participant must wait "
                              "longer than the coordinator may take to decide and tell it, vote_timeout 500 + "
                              "log_delay 50 + a round trip 60 = 610 ms")),
    ({"log_delay": 450}, "ready_timeout=1000 is too short"),
    ({"ack_timeout": 940}, ("precommit_timeout=1000 is too short for 3PC to be safe: a PRECOMMITTED participant "
                            "must wait longer than the coordinator may take to commit and tell it, ack_timeout 940 + "
                            "a round trip 60 = 1000 ms")),
    ({"state_wait": 60}, "state_wait=60 is too short for 3PC to be safe: a termination round must outlast a round trip"),
    ({"no_voter": 4}, "no_voter=4 names no participant: this run has p1..p3"),
])
def test_timeouts_too_short_for_the_default_network_are_refused_with_the_rule(params, words):
    with pytest.raises(ScenarioError) as e:
        from_dict({"protocol": "3pc", "params": params})
    assert words in str(e.value)


def test_timeouts_just_above_the_rule_are_accepted():
    sc = from_dict({"protocol": "3pc", "params": {"ready_timeout": 611, "precommit_timeout": 561, "state_wait": 61}})
    assert sc.params["ready_timeout"] == 611


# ---------------------------------------------------------------- presets: the lessons

def test_commit_preset_takes_one_more_round_than_2pc_and_logs_before_it_tells():
    sim = preset("commit")
    assert set(status(sim).values()) == {"COMMITTED"} and all(views(sim)[p]["locks"] == {} for p in PARTICIPANTS)
    assert sim.disk["c"]["log"] == [["PRECOMMIT", "tx1"], ["COMMIT", "tx1"], ["END", "tx1"]]
    assert all(sim.disk[p]["log"] == [["READY", "tx1", "x"], ["PRECOMMITTED", "tx1"], ["COMMITTED", "tx1"]]
               for p in PARTICIPANTS)
    flush = next(e for e in sim.trace if e["type"] == "timer" and e["name"] == "flush")
    assert {e["t"] for e in sends(sim, "PreCommit")} == {flush["t"]} == {190}
    acks = [e["t"] for e in sends(sim, "Ack") if e["body"]["state"] == "PRECOMMITTED"]
    assert min(e["t"] for e in sends(sim, "DoCommit")) == max(acks) + 20   # after the last Ack arrived
    assert [e["result"] for e in sim.trace if e["type"] == "reply"] == [{"tx": "tx1", "decision": "COMMIT"}]
    assert sim.violations == []


def test_coordinator_crash_has_2pcs_exact_schedule_and_falls_between_the_votes_and_precommit():
    mine = next(p for p in PROTO.presets if p.name == "coordinator_crash").scenario
    theirs = next(p for p in registry.get("2pc").presets if p.name == "coordinator_crash").scenario
    assert mine["actions"] == theirs["actions"] and mine["until"] == theirs["until"] == 6500
    assert mine["params"] == theirs["params"] == {"log_delay": 300}
    assert "nodes" not in mine and "nodes" not in theirs and "network" not in mine and "network" not in theirs
    sim = preset("coordinator_crash")
    assert len([e for e in notes(sim, "3pc.vote_yes") if e["t"] < 300]) == 3
    assert notes(sim, "3pc.all_yes")[0]["t"] < 300
    assert [e for e in sends(sim, "PreCommit") if e["body"]["tx"] == "tx1"] == []


def test_coordinator_crash_side_by_side_2pc_blocks_while_3pc_decides():
    two = Simulation(from_dict({"protocol": "2pc", "preset": "coordinator_crash"}))
    three = Simulation(from_dict({"protocol": "3pc", "preset": "coordinator_crash"}))
    two.run_until(2000)
    three.run_until(2000)
    assert not two.up["c"] and not three.up["c"]           # the same fault, still going on
    for p in PARTICIPANTS:
        blocked = two.node_view(p)
        assert blocked["status"] == {"tx1": "PREPARED"} and blocked["locks"] == {"x": "tx1"}
        decided = three.node_view(p)
        assert decided["status"] == {"tx1": "ABORTED"} and decided["locks"] == {}
    # The participants decided on their own, about a second after the crash.
    aborted = [e["t"] for e in notes(three, "3pc.aborted")]
    assert len(aborted) == 3 and max(aborted) < 1300
    assert [e["node"] for e in notes(three, "3pc.elected")] == ["p1"]
    three.run()
    assert notes(three, "3pc.recover_abort", "c")            # no PRECOMMIT on c's disk: abort is consistent
    assert all(v["status"] == {"tx1": "ABORTED", "tx2": "COMMITTED"} for n, v in views(three).items() if n != "c")
    first_tx2 = min(e["t"] for e in notes(three, "3pc.vote_yes") if e["args"]["tx"] == "tx2")
    assert first_tx2 < 2200                                    # no lock in the way (2PC's tx2 waits on tx1's locks)
    assert three.violations == []


def test_termination_commit_preset_commits_without_the_coordinator():
    sim = Simulation(from_dict({"protocol": "3pc", "preset": "termination_commit"}))
    sim.run_until(1999)
    assert not sim.up["c"] and sim.disk["c"]["log"] == [["PRECOMMIT", "tx1"]]
    for p in PARTICIPANTS:
        assert sim.node_view(p)["status"] == {"tx1": "COMMITTED"} and sim.node_view(p)["locks"] == {}
    assert [e["args"]["states"] for e in notes(sim, "3pc.elected")] == ["p1 PRECOMMITTED, p2 PRECOMMITTED, p3 PRECOMMITTED"]
    assert notes(sim, "3pc.rule.all_precommitted", "p1")
    assert [e["args"]["node"] for e in notes(sim, "3pc.follows")] == ["p1", "p1"]
    sim.run()
    assert notes(sim, "3pc.recover_ask", "c") and notes(sim, "3pc.learned", "c")
    assert views(sim)["c"]["phase"] == {"tx1": "COMMITTED"} and sim.violations == []


def test_participant_restart_preset_asks_instead_of_deciding():
    sim = Simulation(from_dict({"protocol": "3pc", "preset": "participant_restart"}))
    sim.run_until(1499)
    assert notes(sim, "3pc.ack_timeout_commit", "c")[0]["args"]["missing"] == "p2"
    assert not sim.up["p2"] and status(sim)["p1"] == status(sim)["p3"] == "COMMITTED"
    sim.run_until(1500)
    view = sim.node_view("p2")
    assert view["status"] == {"tx1": "READY"} and view["locks"] == {"x": "tx1"}      # rebuilt from its log alone
    assert view["termination"] == {"tx1": {"step": "asking", "answers": {}}}
    assert {e["dst"] for e in sends(sim, "StateReq", src="p2")} == {"c", "p1", "p3"}
    sim.run()
    assert notes(sim, "3pc.learned", "p2")[0]["args"] == {"tx": "tx1", "node": "c", "state": "COMMITTED"}
    assert set(status(sim).values()) == {"COMMITTED"} and sim.violations == []


def test_precommit_lost_preset_lone_ready_aborts_and_lone_precommitted_commits():
    sim = preset("precommit_lost")
    assert [e["t"] for e in notes(sim, "3pc.alone_ready", "p1")] == [1220]
    assert [e["t"] for e in notes(sim, "3pc.alone_precommitted", "p2")] == [1310]
    assert status(sim) == {"p1": "ABORTED", "p2": "COMMITTED"}
    assert {(v["invariant"], v["key"]) for v in sim.violations} >= {
        ("atomicity", "viol.atomicity.committed"), ("atomicity", "viol.atomicity.coordinator_commit")}
    assert notes(sim, "3pc.damage", "p1")        # after the heal, c's DoCommit meets an aborted p1
    assert all(not v.get("eventual") for v in sim.violations)


def test_split_termination_preset_one_side_commits_the_other_aborts():
    sim = preset("split_termination")
    assert status(sim) == {"p1": "COMMITTED", "p2": "ABORTED", "p3": "ABORTED"}
    assert notes(sim, "3pc.alone_precommitted", "p1")
    assert notes(sim, "3pc.elected", "p2")[0]["args"]["states"] == "p2 READY, p3 READY"
    assert notes(sim, "3pc.rule.all_ready", "p2")
    assert "viol.atomicity.committed" in {v["key"] for v in sim.violations}


def test_slow_network_preset_breaks_atomicity_with_no_loss_and_no_crash():
    sim = preset("slow_network")
    assert {e["type"] for e in sim.trace}.isdisjoint({"crash", "restart", "partition", "drop"})
    # The coordinator is alive: it commits on its ack timeout and tells the client so...
    assert [e["result"] for e in sim.trace if e["type"] == "reply"] == [{"tx": "tx1", "decision": "COMMIT"}]
    assert notes(sim, "3pc.ack_timeout_commit", "c")[0]["t"] == 690
    # ...while the participants, hearing nothing in time, take it for crashed and abort.
    assert len(notes(sim, "3pc.ready_timeout")) == 3
    assert set(status(sim).values()) == {"ABORTED"}
    assert {v["key"] for v in sim.violations} >= {"viol.atomicity.coordinator_commit",
                                                  "viol.decision_stable.reannounced"}
    # With the same schedule but delays inside the bound, nothing breaks.
    calm = run(network=FIXED, actions=[begin(100)], until=4000)
    assert set(status(calm).values()) == {"COMMITTED"} and calm.violations == []


def test_commit_on_ready_timeout_preset_commits_what_p3_voted_against():
    sim = preset("commit_on_ready_timeout")
    assert status(sim) == {"p1": "COMMITTED", "p2": "COMMITTED", "p3": "ABORTED"}
    assert {v["invariant"] for v in sim.violations} == {"commit_needs_yes", "atomicity"}
    fixed = preset("commit_on_ready_timeout", bugs=[])
    assert status(fixed) == {"p1": "ABORTED", "p2": "ABORTED", "p3": "ABORTED"}
    assert notes(fixed, "3pc.rule.aborted", "p1")[0]["args"]["node"] == "p3"
    assert fixed.violations == []


def test_recovery_decides_alone_preset_breaks_what_participant_restart_keeps():
    bug = next(p for p in PROTO.presets if p.name == "recovery_decides_alone").scenario
    good = next(p for p in PROTO.presets if p.name == "participant_restart").scenario
    assert bug["actions"] == good["actions"]
    sim = preset("recovery_decides_alone")
    assert status(sim) == {"p1": "COMMITTED", "p2": "ABORTED", "p3": "COMMITTED"}
    assert notes(sim, "3pc.bug_recovery_alone", "p2") and sends(sim, "StateReq", src="p2") == []
    assert "viol.atomicity.aborted" in {v["key"] for v in sim.violations}


@pytest.mark.parametrize("name", ["commit", "coordinator_crash", "termination_commit", "participant_restart"])
def test_correct_presets_are_judged_by_the_eventual_check_and_pass(name, monkeypatch):
    judged = []
    real = threepc_checker.ThreePCChecker.on_quiet

    def spy(self, sim):
        judged.append(sim.until - sim.last_action_at >= self.settle_time(sim))
        return real(self, sim)

    monkeypatch.setattr(threepc_checker.ThreePCChecker, "on_quiet", spy)
    assert preset(name).violations == []
    assert judged == [True]


# ---------------------------------------------------------------- the termination protocol

def test_lower_numbered_participants_take_over_from_a_higher_one_that_suspects_first():
    # c crashes before the votes arrive; a person forces p3's READY timeout early.
    sim = run(network=FIXED, until=3000, actions=[begin(100), {"at": 130, "do": "crash", "node": "c"},
                                                  {"at": 500, "do": "timeout", "node": "p3", "timer": "ready_timeout"}])
    assert [e["node"] for e in notes(sim, "3pc.ready_timeout")] == ["p3"]
    assert sorted(e["node"] for e in notes(sim, "3pc.takes_over")) == ["p1", "p2"]
    assert [e["node"] for e in notes(sim, "3pc.elected")] == ["p1"]
    assert {e["node"]: e["args"]["node"] for e in notes(sim, "3pc.follows")} == {"p2": "p1", "p3": "p1"}
    assert set(status(sim).values()) == {"ABORTED"} and sim.violations == []


def test_a_precommit_that_reached_one_participant_still_leads_to_commit():
    # c crashes while sending PreCommit: only p1's arrives (messages 8 and 9 are dropped).
    sim = run(network=FIXED, until=3000, actions=[begin(100), {"at": 191, "do": "drop", "msg": 8},
                                                  {"at": 191, "do": "drop", "msg": 9},
                                                  {"at": 215, "do": "crash", "node": "c"}])
    rule = notes(sim, "3pc.rule.precommitted", "p1")
    assert rule and rule[0]["args"]["ready"] == "p2, p3"
    assert {e["dst"] for e in sends(sim, "PreCommit", src="p1")} == {"p2", "p3"}
    assert [e["args"]["node"] for e in notes(sim, "3pc.precommitted", "p2")] == ["p1"]
    assert set(status(sim).values()) == {"COMMITTED"} and sim.violations == []


def test_followers_replace_a_termination_coordinator_that_crashes():
    # termination_commit, but p1 (elected at 1310) crashes at 1300, after answering.
    sim = run(network=FIXED, until=4000, actions=[begin(100), {"at": 215, "do": "crash", "node": "c"},
                                                  {"at": 1300, "do": "crash", "node": "p1"}])
    assert {e["node"]: e["args"]["node"] for e in notes(sim, "3pc.leader_silent")} == {"p2": "p1", "p3": "p1"}
    assert notes(sim, "3pc.elected", "p2")[-1]["args"]["states"] == "p2 PRECOMMITTED, p3 PRECOMMITTED"
    assert status(sim)["p2"] == status(sim)["p3"] == "COMMITTED" and safety(sim) == []


# ---------------------------------------------------------------- recovery

def test_restarted_participants_wait_for_everyone_then_decide():
    # Everyone is PRECOMMITTED; c and then every participant crash. The participants come back
    # first: with c missing they may not decide. Once c is back, everyone answers.
    crashes = [{"at": 215, "do": "crash", "node": "c"}] + [{"at": 300, "do": "crash", "node": p} for p in PARTICIPANTS]
    restarts = [{"at": 2000, "do": "restart", "node": p} for p in PARTICIPANTS]
    sim = Simulation(from_dict({"protocol": "3pc", "network": FIXED, "until": 6000,
                                "actions": [begin(100), *crashes, *restarts, {"at": 3000, "do": "restart", "node": "c"}]}))
    sim.run_until(2999)
    assert all(sim.node_view(p)["status"] == {"tx1": "PRECOMMITTED"} for p in PARTICIPANTS)
    assert {e["args"]["missing"] for e in notes(sim, "3pc.cannot_decide")} == {"c"}
    assert len(notes(sim, "3pc.cannot_decide")) == 3          # said once each, though they keep asking
    sim.run()
    assert notes(sim, "3pc.everyone_answered")
    assert set(status(sim).values()) == {"COMMITTED"} and sim.violations == []


def test_restarted_participants_do_not_decide_without_the_coordinator_which_may_have_committed_alone():
    # Every participant crashes before PreCommit arrives (READY on disk). c hears no Ack and,
    # by Skeen's rule, commits; then it crashes too. Back up without c, the participants see
    # only READY: had they applied the rules among themselves, they would have aborted.
    crashes = [{"at": 200, "do": "crash", "node": p} for p in PARTICIPANTS] + [{"at": 700, "do": "crash", "node": "c"}]
    restarts = [{"at": 1000, "do": "restart", "node": p} for p in PARTICIPANTS]
    sim = Simulation(from_dict({"protocol": "3pc", "network": FIXED, "until": 6000,
                                "actions": [begin(100), *crashes, *restarts, {"at": 2500, "do": "restart", "node": "c"}]}))
    sim.run_until(2499)
    assert sim.disk["c"]["log"] == [["PRECOMMIT", "tx1"], ["COMMIT", "tx1"]]
    assert all(sim.node_view(p)["status"] == {"tx1": "READY"} for p in PARTICIPANTS)
    sim.run()
    assert notes(sim, "3pc.recover_resend", "c") and notes(sim, "3pc.everyone_answered") == []
    assert set(status(sim).values()) == {"COMMITTED"} and sim.violations == []


def test_a_restarted_participant_waits_while_the_coordinator_is_deciding():
    sim = run(network=FIXED, until=3000, actions=[begin(100), {"at": 125, "do": "crash", "node": "p2"},
                                                  {"at": 130, "do": "restart", "node": "p2"}])
    assert notes(sim, "3pc.wait_coordinator", "p2")
    assert notes(sim, "3pc.precommitted", "p2")        # c's PreCommit reaches it while it asks
    assert set(status(sim).values()) == {"COMMITTED"} and sim.violations == []


def test_the_abort_variant_aborts_on_a_missing_ack_and_stays_consistent():
    sim = preset("participant_restart", params={"ack_timeout_decision": "abort"})
    assert notes(sim, "3pc.ack_timeout_abort", "c")[0]["args"]["missing"] == "p2"
    assert set(status(sim).values()) == {"ABORTED"} and sim.violations == []


def test_the_coordinator_keeps_decisions_and_the_counter_across_a_crash():
    sim = run(network=FIXED, until=5000, actions=[begin(100), begin(400, "y"), {"at": 435, "do": "crash", "node": "c"},
                                                  {"at": 600, "do": "restart", "node": "c"}, begin(700, "z")])
    assert notes(sim, "3pc.recover_abort", "c")[0]["args"] == {"tx": "tx2"}    # in WAIT when it crashed
    assert views(sim)["c"]["phase"] == {"tx1": "COMMITTED", "tx2": "ABORTED", "tx3": "COMMITTED"}
    assert sim.disk["c"]["next_tx"] == 4 and sim.violations == []


# ---------------------------------------------------------------- the checker

def test_eventual_check_flags_a_coordinator_that_never_asks(monkeypatch):
    monkeypatch.setattr(threepc_node.Coordinator, "ask", lambda self, ctx, tx: None)
    sim = preset("termination_commit")
    assert [(v["key"], v.get("eventual")) for v in sim.violations] == [("viol.all_resolved.unfinished", True)]
    assert preset("termination_commit", until=4000).violations == []     # too soon to judge


def test_eventual_check_flags_participants_that_never_resolve(monkeypatch):
    # Nobody runs the termination protocol, and the coordinator, back, never asks.
    monkeypatch.setattr(threepc_node.Participant, "start_round", lambda self, ctx, tx: None)
    monkeypatch.setattr(threepc_node.Coordinator, "ask", lambda self, ctx, tx: None)
    sim = preset("termination_commit")
    keys = {v["key"] for v in sim.violations}
    assert keys == {"viol.all_resolved.in_doubt", "viol.all_resolved.locks", "viol.all_resolved.unfinished"}


def test_checker_catches_a_precommit_sent_without_every_yes(monkeypatch):
    def precommit_anyway(self, ctx, tx):      # a vote timeout that precommits instead of aborting
        self.phase[tx] = "LOGGING"
        self.precommit_written(ctx, tx)
    monkeypatch.setitem(threepc_node.Coordinator.TIMER_HANDLERS, "vote_timeout", precommit_anyway)
    sim = run(network=FIXED, until=3000, actions=[{"at": 50, "do": "crash", "node": "p3"}, begin(100)])
    keys = [v["key"] for v in sim.violations]
    assert keys[0] == "viol.precommit_needs_yes" and "viol.commit_needs_yes" in keys


def test_nodes_report_their_phases_in_doubt_states_and_locks():
    """What the checker and the nemesis read (Node.observe): every open transaction, not only the
    recent ones the view shows, with its phase or in-doubt state, and the lock table."""
    sim = Simulation(from_dict({"protocol": "3pc", "network": FIXED, "until": 3000, "actions": [begin(100)]}))
    sim.run_until(150)      # the votes are in (140), PRECOMMIT is being written
    assert sim.observe("c") == {"unfinished": {"tx1": "LOGGING"}}
    assert sim.observe("p1") == {"in_doubt": {"tx1": "READY"}, "locks": {"x": "tx1"}}
    sim.run_until(215)      # PreCommit arrived at 210
    assert sim.observe("p1") == {"in_doubt": {"tx1": "PRECOMMITTED"}, "locks": {"x": "tx1"}}
    sim.run()
    assert sim.observe("c") == {"unfinished": {}} and sim.observe("p1") == {"in_doubt": {}, "locks": {}}


def test_locks_held_catches_a_participant_that_votes_yes_on_a_locked_key(monkeypatch):
    """Isolation: tx2's CanCommit on x arrives while tx1 is READY on x; a participant that
    forgets to look at its locks votes yes on both."""
    original = threepc_node.Participant.on_can_commit

    def careless(self, ctx, msg):
        held, self.locks = self.locks, {}          # votes as if nothing were locked
        original(self, ctx, msg)
        self.locks = {**held, **self.locks}
    monkeypatch.setitem(threepc_node.Participant.HANDLERS, "CanCommit", careless)
    sim = run(network=FIXED, until=3000, actions=[begin(100), begin(105)])
    found = [v for v in sim.violations if v["invariant"] == "locks_held"]
    assert found and found[0]["key"] == "viol.locks_held.shared"
    assert found[0]["args"] == {"node": "p1", "tx": "tx2", "item": "x", "holder": "tx1"}
    check_violation_texts(PROTO, found)
    monkeypatch.undo()                             # the real participant votes no on tx2 instead
    sim = run(network=FIXED, until=3000, actions=[begin(100), begin(105)])
    assert sim.violations == [] and notes(sim, "3pc.vote_no_locked", "p1")


def test_locks_held_catches_a_recovery_that_does_not_take_its_locks_back(monkeypatch):
    """p2 restarts READY (participant_restart): its log says it holds x for tx1, its lock table must too."""
    original = threepc_node.Participant.on_recover

    def forgetful(self, ctx):
        original(self, ctx)
        self.locks = {}
    monkeypatch.setattr(threepc_node.Participant, "on_recover", forgetful)
    sim = preset("participant_restart")
    found = [v for v in sim.violations if v["invariant"] == "locks_held"]
    assert found and found[0]["key"] == "viol.locks_held.lost" and found[0]["t"] == 1500
    assert found[0]["args"] == {"node": "p2", "tx": "tx1", "item": "x"}
    check_violation_texts(PROTO, found)


def test_locks_held_catches_a_yes_vote_that_locks_another_key(monkeypatch):
    real = threepc_node.Participant.write

    def write(self, ctx, *record):
        if record[0] == "READY":
            record = (*record[:2], "zz")           # locks some other key than the one it writes
        real(self, ctx, *record)
    monkeypatch.setattr(threepc_node.Participant, "write", write)
    sim = run(network=FIXED, until=3000, actions=[begin(100)])
    found = [v for v in sim.violations if v["key"] == "viol.locks_held.wrong_key"]
    assert found and found[0]["args"] == {"node": "p1", "tx": "tx1", "item": "zz", "wanted": "x"}


def test_every_violation_message_is_translated_from_its_own_template():
    emitted = []
    for p in PROTO.presets:
        emitted += preset(p.name).violations
    for seed in range(1, 40):
        emitted += fuzz.random_run("3pc", seed, weights=PARTITIONS)[1]
    keys = {v["key"] for v in emitted}
    assert {"viol.atomicity.committed", "viol.atomicity.aborted", "viol.atomicity.coordinator_commit",
            "viol.decision_stable.reannounced", "viol.commit_needs_yes"} <= keys
    check_violation_texts(PROTO, emitted)


# ---------------------------------------------------------------- random schedules

def test_crash_only_schedules_keep_every_invariant_and_resolve_everything():
    """3PC's promise: crashes (and restarts) only, delays within the bound: safe, and
    once the faults stop everything is decided and unlocked."""
    runs = 0
    for base in ({}, {"nodes": 2}, {"nodes": 5}, {"params": {"ack_timeout_decision": "abort"}}):
        for seed in range(1, 61):
            sc, found = fuzz.random_run("3pc", seed, weights=CRASH_ONLY, base=base, until=8000, settle=12_000,
                                        eventual=True, actions=60)
            assert found == [], (base, seed, found, sc.to_json())
            sim = Simulation(sc, trace=False)
            assert sc.until - sim.last_action_at >= sim.checker.settle_time(sim)   # so it was judged
            runs += 1
    assert runs == 240


def test_partitions_break_atomicity_within_a_few_hundred_schedules():
    found_at = None
    for seed in range(1, 301):
        _sc, found = fuzz.random_run("3pc", seed, weights=PARTITIONS)
        if any(v["invariant"] == "atomicity" for v in found):
            found_at = seed
            break
    assert found_at is not None      # measured: seed 9


@pytest.mark.parametrize("bug", ["commit_on_ready_timeout", "recovery_decides_alone"])
def test_each_bug_is_caught_by_crash_only_schedules(bug):
    caught = next((seed for seed in range(1, 101)
                   if fuzz.random_run("3pc", seed, weights=CRASH_ONLY, bugs=[bug])[1]), None)
    assert caught is not None       # measured: seed 1 and seed 5


# ---------------------------------------------------------------- the nemesis (fuzz_action)

TOLERATED = fuzz.Model(faults=PROTO.tolerates)


def _nemesis_moves(monkeypatch, seeds):
    """Run check's schedules under 3PC's fault model; return what the nemesis returned, with the
    time it was asked at, and each run's outcome."""
    moves, outcomes = [], []
    real = type(PROTO).fuzz_action

    def spy(self, rng, sim, at):
        before = (json.dumps(sim.snapshot(), sort_keys=True), len(sim.actions), sim.now)
        move = real(self, rng, sim, at)
        assert (json.dumps(sim.snapshot(), sort_keys=True), len(sim.actions), sim.now) == before   # reads only
        if move is not None:
            moves.append((at, move))
        return move
    monkeypatch.setattr(type(PROTO), "fuzz_action", spy)
    for seed in seeds:
        outcomes.append(fuzz.fuzz_run("3pc", seed, TOLERATED))
    return moves, outcomes


def test_the_nemesis_is_part_of_3pcs_fault_model_and_weighted():
    assert "protocol" in PROTO.tolerates and PROTO.fuzz_weights["protocol"] > 0
    assert {"crash", "restart", "duplicate"} <= set(PROTO.tolerates)


def test_the_nemesis_only_crashes_and_restarts_and_its_schedules_replay(monkeypatch):
    moves, outcomes = _nemesis_moves(monkeypatch, range(1, 41))
    assert len(moves) >= 40
    for at, move in moves:
        assert isinstance(move, list) and move
        assert {a["do"] for a in move} <= {"crash", "restart"}, move
        assert all(a["at"] >= at and a["node"] in ("c", "p1", "p2", "p3", "p4", "p5", "p6", "p7", "p8")
                   for a in move), move
    for out in outcomes:
        assert out.found == [], out.scenario.to_json()       # the correct protocol survives it
    for out in outcomes[:10]:
        again = from_dict(json.loads(out.scenario.to_json()))
        assert Simulation(out.scenario).run().trace == Simulation(again).run().trace


def test_the_nemesis_reaches_the_windows_blind_crashes_rarely_do():
    """The coordinator down between its PRECOMMIT and the Acks for longer than the participants'
    timeouts (they terminate without it: precommit_timeout), and back asking (recover_ask)."""
    def reached(model):
        hits = 0
        for seed in range(1, 201):
            sim = Simulation(fuzz.fuzz_run("3pc", seed, model).scenario).run()
            keys = {e["key"] for e in sim.trace if e["type"] == "note"}
            hits += {"3pc.precommit_timeout", "3pc.recover_ask"} <= keys
        return hits
    blind = reached(fuzz.Model(faults=("crash", "restart", "duplicate")))
    aimed = reached(TOLERATED)
    assert aimed >= 3 * max(blind, 1), (blind, aimed)      # measured: 2 blind, 10 aimed


def test_check_with_the_nemesis_finds_nothing_in_the_correct_protocol():
    code, text = _check_cli("--faults", ",".join(PROTO.tolerates), "--runs", "300")
    assert code == 0, text


def test_same_scenario_same_trace():
    sc, _ = fuzz.random_run("3pc", 7, weights=CRASH_ONLY)
    again = from_dict(json.loads(sc.to_json()))
    assert Simulation(sc).run().trace == Simulation(again).run().trace
    assert preset("split_termination").trace == preset("split_termination").trace


def test_begin_at_a_participant_is_ignored_and_views_stay_small():
    sim = run(actions=[{"at": 10, "do": "request", "node": "p1", "op": "begin", "arg": "x"}], until=500)
    assert notes(sim, "3pc.not_coordinator", "p1") and sends(sim, "CanCommit") == []
    sim = run(actions=[begin(20 + 40 * i, "xy"[i % 2]) for i in range(200)], until=15_000)
    v = views(sim)
    assert v["c"]["next_tx"] == 201 and len(v["c"]["phase"]) <= 8 and len(v["p1"]["status"]) <= 8
    assert safety(sim) == []


def _check_cli(*args):
    out = io.StringIO()
    code = main(["check", "--protocol", "3pc", *args], out=out)
    return code, out.getvalue()


def test_check_under_crashes_only_finds_nothing_in_many_drawn_runs():
    """3PC's claim, as `check` states it: crash-only faults, delays bounded by the default
    network, parameters and node counts drawn: no safety or eventual violation."""
    code, text = _check_cli("--faults", "crash,restart", "--runs", "300")
    assert code == 0, text
    assert text.startswith("3pc: 300 runs, no violation")


def test_check_with_partitions_prints_an_atomicity_counterexample_that_replays():
    code, text = _check_cli("--faults", "crash,restart,partition")
    assert code == 1
    head = text.splitlines()[:2]
    assert "atomicity" in " ".join(head), head
    token = next(line.split(": ", 1)[1] for line in text.splitlines() if line.startswith("token: "))
    sim = Simulation(from_token(token)).run()
    assert "atomicity" in {v["invariant"] for v in sim.violations}
