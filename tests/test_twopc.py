"""Two-phase commit: each preset's lesson, recovery from the durable log only,
the checker (safety and eventual), random fault schedules and the bug toggle."""

import json
import re
from pathlib import Path

import pytest

from engine import fuzz
from engine.kit import atomic_commit, txtable
from engine.protocols import registry
from engine.protocols.twopc import checker
from engine.protocols.twopc.checker import TwoPCChecker
from engine.protocols.twopc.node import Coordinator, Participant
from engine.scenario import ScenarioError, from_dict
from engine.sim import Simulation

from .traces import notes, safety, sends, views
from .translations import check_violation_texts, placeholders, violation_of

PROTO = registry.get("2pc")
PARTICIPANTS = ["p1", "p2", "p3"]


def scenario(**data):
    return from_dict({"protocol": "2pc", **data})


def run(**data) -> Simulation:
    return Simulation(scenario(**data)).run()


def begin(at, key="x"):
    return {"at": at, "do": "request", "node": "c", "op": "begin", "arg": key}


# ---------------------------------------------------------------- declarations

def test_declares_coordinator_and_participants_with_layout_and_json_description():
    assert PROTO.name == "2pc" and PROTO.category == "transactions"
    assert PROTO.node_ids(3) == ["c", "p1", "p2", "p3"]
    assert (PROTO.nodes_min, PROTO.nodes_default, PROTO.nodes_max) == (2, 3, 8)
    layout = PROTO.layout(PROTO.node_ids(4))
    assert layout["c"] == {"place": "center"}
    assert all(layout[p] == {"place": "ring"} for p in ["p1", "p2", "p3", "p4"])
    desc = json.loads(json.dumps(PROTO.describe()))
    assert set(desc["roles"]) == {"coordinator", "participant"}
    assert {"vote_timeout", "resend", "query", "lock_wait"} <= set(desc["timers"])
    durable = {f["name"] for f in desc["fields"] if f["durable"]}
    assert {"decisions", "ended", "next_tx", "status", "locks"} <= durable
    assert {"phase", "votes", "pending_acks", "waiting"}.isdisjoint(durable)


def test_every_string_the_page_needs_has_english_and_chinese():
    s = PROTO.strings
    keys = ["summary"]
    keys += [f"preset.{p.name}" for p in PROTO.presets] + [f"preset.{p.name}.lesson" for p in PROTO.presets]
    keys += [f"bug.{b.name}" for b in PROTO.bugs] + [f"inv.{n}" for n in PROTO.checker_class.invariants]
    keys += [f"field.{f.name}" for f in PROTO.fields] + [f"role.{r}" for r in PROTO.roles]
    keys += [f"op.{o.name}" for o in PROTO.operations] + [f"param.{p.name}" for p in PROTO.params]
    keys += [f"timer.{t}" for t in PROTO.timers] + [f"invariant.{n}" for n in PROTO.checker_class.invariants]
    for k in keys:
        assert s[k]["en"] and s[k]["zh"], k
        assert s[k]["en"] != s[k]["zh"], k
    for k, v in s.items():
        assert placeholders(v["en"]) == placeholders(v["zh"]), k


def test_every_narration_key_emitted_is_translated_with_its_arguments():
    emitted = {}
    sims = [Simulation(from_dict({"protocol": "2pc", "preset": p.name})).run() for p in PROTO.presets]
    for seed in range(1, 30):
        sc, _ = fuzz.random_run("2pc", seed, bugs=["heuristic_abort"] if seed % 2 else [])
        sims.append(Simulation(sc).run())
    sims.append(run(actions=[{"at": 10, "do": "request", "node": "p1", "op": "begin", "arg": "x"}]))
    for sim in sims:
        for e in sim.trace:
            if e["type"] == "note" and e["key"].startswith("2pc."):
                emitted.setdefault(e["key"], set(e["args"]))
    assert len(emitted) >= 20
    for key, args in emitted.items():
        assert key in PROTO.strings, key
        assert placeholders(PROTO.strings[key]["en"]) <= args, key


def test_every_message_kind_sent_has_a_name_in_both_languages():
    sent = set()
    sims = [preset(p.name) for p in PROTO.presets]
    sims += [Simulation(fuzz.random_run("2pc", seed, bugs=["heuristic_abort"] if seed % 2 else [])[0]).run()
             for seed in range(1, 30)]
    for sim in sims:
        sent |= {e["kind"] for e in sim.trace if e["type"] == "send"}
    handled = set(Coordinator.HANDLERS) | set(Participant.HANDLERS)
    assert sent == handled == {"Prepare", "Vote", "Commit", "Abort", "Ack", "QueryOutcome", "Outcome"}
    assert {k for k in PROTO.strings if k.startswith("kind.")} == {f"kind.{kind}" for kind in sent}
    for kind in sent:
        s = PROTO.strings[f"kind.{kind}"]
        assert s["en"] == kind and s["zh"] and s["zh"] != kind, kind


def test_declarations_take_their_english_from_the_strings():
    """Declarations write no English; the protocol fills it in from strings.toml, so it is written once."""
    cls, s = type(PROTO), PROTO.strings
    assert not cls.title and not cls.summary
    assert all(not x.help for x in (*cls.params, *cls.bugs, *cls.operations, *cls.fields))
    assert all(not p.title and not p.lesson for p in cls.presets)
    assert PROTO.title == s["title"]["en"] and PROTO.summary == s["summary"]["en"]
    assert [p.help for p in PROTO.params] == [s[f"param.{p.name}.help"]["en"] for p in PROTO.params]
    assert [b.help for b in PROTO.bugs] == [s[f"bug.{b.name}"]["en"] for b in PROTO.bugs]
    assert [o.help for o in PROTO.operations] == [s[f"op.{o.name}.help"]["en"] for o in PROTO.operations]
    assert [f.help for f in PROTO.fields if f.name != "role"] == [
        s[f"field.{f.name}.help"]["en"] for f in PROTO.fields if f.name != "role"]
    assert [(p.title, p.lesson) for p in PROTO.presets] == [
        (s[f"preset.{p.name}"]["en"], s[f"preset.{p.name}.lesson"]["en"]) for p in PROTO.presets]
    # The checker names its invariants; their statements are strings, in the checker's order.
    assert all(isinstance(n, str) for n in TwoPCChecker.invariants)
    assert PROTO.invariants == tuple((n, s[f"inv.{n}"]["en"]) for n in (
        "atomicity", "commit_needs_prepared", "commit_matches_decision", "decision_stable", "locks_held",
        "all_resolved"))


def test_nodes_report_to_the_checker_what_it_judges():
    """The checker reads nodes only through observe(): a participant's every status (not only the
    recent ones its view shows), locks and waiting Prepares; the coordinator's unfinished transactions."""
    acts = [begin(20 + 40 * i, "xy"[i % 2]) for i in range(20)] + [{"at": 900, "do": "crash", "node": "c"}]
    sim = Simulation(scenario(actions=acts, until=1000))
    sim.run_until(899)
    p1 = sim.observe("p1")
    assert set(p1) == {"role", "status", "locks", "waiting"}
    shown = sim.node_view("p1")["status"]
    assert set(p1["status"]) | set(p1["waiting"]) == {f"tx{i}" for i in range(1, 21)}
    assert len(p1["status"]) > len(shown) and shown.items() <= p1["status"].items()
    assert p1["locks"] == sim.node_view("p1")["locks"] and p1["waiting"] == sim.node_view("p1")["waiting"]
    c = sim.observe("c")
    phase = sim.nodes["c"].phase
    assert c["unfinished"] == [tx for tx, state in phase.items() if state not in ("COMMITTED", "ABORTED")]
    assert c["unfinished"]
    sim.run()
    assert sim.observe("c") is None     # down: nothing to report


# ---------------------------------------------------------------- presets

def preset(name, **extra) -> Simulation:
    return Simulation(from_dict({"protocol": "2pc", "preset": name, **extra})).run()


def test_commit_preset_commits_everywhere_releases_locks_and_writes_end():
    sim = preset("commit")
    v = views(sim)
    for p in PARTICIPANTS:
        assert v[p]["status"] == {"tx1": "COMMITTED"}
        assert v[p]["locks"] == {} and v[p]["waiting"] == {}
    assert v["c"]["decisions"] == {"tx1": "COMMIT"} and v["c"]["ended"] == ["tx1"]
    assert v["c"]["phase"] == {"tx1": "COMMITTED"} and v["c"]["pending_acks"] == {}
    assert sim.disk["c"]["log"] == [["COMMIT", "tx1"], ["END", "tx1"]]
    # COMMIT reached the disk before any Commit message left.
    flush = next(e for e in sim.trace if e["type"] == "timer" and e["name"] == "flush")
    assert all(e["t"] >= flush["t"] for e in sends(sim, "Commit"))
    replies = [e for e in sim.trace if e["type"] == "reply"]
    assert replies == [{**replies[0], "result": {"tx": "tx1", "decision": "COMMIT"}}]
    assert sim.violations == []


def test_vote_no_preset_aborts_at_every_participant_without_logging_abort():
    sim = preset("vote_no")
    v = views(sim)
    assert [e["node"] for e in notes(sim, "2pc.vote_no")] == ["p2"]
    assert all(v[p]["status"] == {"tx1": "ABORTED"} and v[p]["locks"] == {} for p in PARTICIPANTS)
    assert v["c"]["phase"] == {"tx1": "ABORTED"} and v["c"]["decisions"] == {}
    assert "log" not in sim.disk["c"]          # presumed abort: nothing forced to disk
    assert sends(sim, "Commit") == []
    assert sim.violations == []


def test_coordinator_crash_preset_blocks_prepared_participants_until_presumed_abort():
    sc = from_dict({"protocol": "2pc", "preset": "coordinator_crash"})
    sim = Simulation(sc)
    sim.run_until(2159)   # coordinator down since t=300
    crash = next(e for e in sim.trace if e["type"] == "crash")
    before_crash = [e for e in sim.trace if e["type"] == "state" and e["node"] == "c" and e["t"] < crash["t"]]
    assert before_crash[-1]["changes"]["phase"] == {"tx1": "LOGGING"}   # all yes, not yet decided
    assert not sim.up["c"] and "log" not in sim.disk["c"]
    for p in PARTICIPANTS:
        view = sim.node_view(p)
        assert view["status"] == {"tx1": "PREPARED"} and view["locks"] == {"x": "tx1"}
    assert {e["node"] for e in notes(sim, "2pc.blocked")} == set(PARTICIPANTS)
    queries = sends(sim, "QueryOutcome")
    assert len(queries) >= 9        # they keep asking, into the void
    drops = {e["id"] for e in sim.trace if e["type"] == "drop" and e["reason"] == "crashed"}
    assert {q["id"] for q in queries} <= drops

    sim.run_until(2400)   # restarted at 2165 with no decision; tx2 begun at 2170
    assert notes(sim, "2pc.presumed_abort") and sim.node_view("c")["phase"]["tx1"] == "ABORTED"
    for p in PARTICIPANTS:
        view = sim.node_view(p)
        assert view["waiting"] == {"tx2": "x"}          # the second transaction waits on tx1's lock
        assert view["status"] == {"tx1": "PREPARED"}    # still in doubt: nobody told them yet

    sim.run()
    v = views(sim)
    for p in PARTICIPANTS:
        assert v[p]["status"] == {"tx1": "ABORTED", "tx2": "COMMITTED"} and v[p]["locks"] == {}
    assert len(notes(sim, "2pc.answer_presumed")) == 3
    # tx2 got its lock only after tx1 was resolved by a question.
    first_tx2_prepared = min(e["t"] for e in notes(sim, "2pc.prepared") if e["args"]["tx"] == "tx2")
    first_answer = min(e["t"] for e in notes(sim, "2pc.answer_presumed"))
    assert first_tx2_prepared > first_answer > 2400
    assert sim.violations == []


def test_commit_one_preset_leaves_others_in_doubt_until_coordinator_returns():
    sim = Simulation(from_dict({"protocol": "2pc", "preset": "commit_one"}))
    sim.run_until(2450)
    assert sim.disk["c"]["log"] == [["COMMIT", "tx1"]] and not sim.up["c"]
    assert sim.node_view("p1")["status"] == {"tx1": "COMMITTED"} and sim.node_view("p1")["locks"] == {}
    for p in ["p2", "p3"]:
        assert sim.node_view(p)["status"] == {"tx1": "PREPARED"} and sim.node_view(p)["locks"] == {"x": "tx1"}
    sim.run()
    v = views(sim)
    assert notes(sim, "2pc.recover_commit")
    assert all(v[p]["status"] == {"tx1": "COMMITTED"} and v[p]["locks"] == {} for p in PARTICIPANTS)
    assert v["c"]["ended"] == ["tx1"]
    assert sends(sim, "Abort") == [] and sim.violations == []


def test_participant_crash_preset_recovers_in_doubt_from_log_and_queries():
    sim = Simulation(from_dict({"protocol": "2pc", "preset": "participant_crash"}))
    sim.run_until(1000)
    assert not sim.up["p2"] and sim.timers["p2"] == {} and sim.nodes["p2"] is None
    assert sim.disk["p2"]["log"] == [["PREPARED", "tx1", "x"]]
    sim.run_until(1500)   # restart
    node = sim.nodes["p2"]
    assert node.status == {"tx1": "PREPARED"} and node.locks == {"x": "tx1"}   # re-acquired from the log
    assert node.waiting == {} and list(sim.timers["p2"]) == ["query"]
    assert [e["args"] for e in notes(sim, "2pc.in_doubt")] == [{"tx": "tx1", "item": "x"}]
    assert [e["t"] for e in sends(sim, "QueryOutcome", src="p2")] == [1500]
    sim.run()
    answer = sends(sim, "Outcome", dst="p2")
    assert [a["body"]["decision"] for a in answer] == ["COMMIT"]
    assert all(v["status"] == {"tx1": "COMMITTED"} for n, v in views(sim).items() if n != "c")
    assert sim.violations == []


def test_heuristic_abort_preset_shows_the_atomicity_violation():
    sim = preset("heuristic_abort")
    v = views(sim)
    assert v["p1"]["status"] == v["p2"]["status"] == {"tx1": "COMMITTED"}
    assert v["p3"]["status"] == {"tx1": "ABORTED"}
    assert [x["invariant"] for x in sim.violations] == ["atomicity"]
    assert set(sim.violations[0]["nodes"]) == set(PARTICIPANTS)
    assert notes(sim, "2pc.heuristic", "p3") and notes(sim, "2pc.heuristic_damage", "p3")


def test_same_partition_without_the_bug_keeps_p3_blocked_then_commits():
    sim = Simulation(from_dict({"protocol": "2pc", "preset": "heuristic_abort", "bugs": []}))
    sim.run_until(1400)
    assert sim.node_view("p3")["status"] == {"tx1": "PREPARED"} and sim.node_view("p3")["locks"] == {"x": "tx1"}
    sim.run()
    assert views(sim)["p3"]["status"] == {"tx1": "COMMITTED"}
    assert sim.violations == []


@pytest.mark.parametrize("name", ["commit", "vote_no", "coordinator_crash", "commit_one", "participant_crash"])
def test_correct_presets_have_no_violation_and_get_the_eventual_check(name, monkeypatch):
    calls = []
    real = TwoPCChecker.on_quiet

    def spy(self, sim):
        found = real(self, sim)
        calls.append(sim.until - max(a["at"] for a in sim.actions) >= self.settle_time(sim))
        return found

    monkeypatch.setattr(TwoPCChecker, "on_quiet", spy)
    sim = preset(name)
    assert sim.violations == []
    assert calls == [True]     # the run was long enough for the eventual property to be judged


@pytest.mark.parametrize("seed", range(2, 27))
def test_presets_teach_the_same_lesson_whatever_the_latency_draws(seed):
    def sim_of(name):
        return Simulation(from_dict({"protocol": "2pc", "preset": name, "seed": seed}))

    s = sim_of("coordinator_crash").run()
    assert len(notes(s, "2pc.waits")) == 3
    assert [e for e in notes(s, "2pc.decided") if e["args"]["tx"] == "tx1"] == [] and s.violations == []
    s = sim_of("commit_one")
    s.run_until(2450)
    assert s.node_view("p1")["status"] == {"tx1": "COMMITTED"}
    assert s.node_view("p2")["status"] == s.node_view("p3")["status"] == {"tx1": "PREPARED"}
    s = sim_of("participant_crash").run()
    assert notes(s, "2pc.in_doubt", "p2") and s.violations == []
    s = sim_of("heuristic_abort").run()
    assert [v["invariant"] for v in s.violations] == ["atomicity"]


# ---------------------------------------------------------------- behaviour

def test_second_transaction_on_same_key_waits_for_the_lock_then_commits():
    sim = run(actions=[begin(100), begin(101)], until=5000)
    waits = notes(sim, "2pc.waits")
    assert [e["node"] for e in waits] == PARTICIPANTS
    assert all(e["args"] == {"tx": "tx2", "item": "x", "holder": "tx1"} for e in waits)
    for p in PARTICIPANTS:   # tx2 prepares right where tx1 commits and frees the lock
        freed = next(e for e in notes(sim, "2pc.committed", p) if e["args"]["tx"] == "tx1")
        prepared = next(e for e in notes(sim, "2pc.prepared", p) if e["args"]["tx"] == "tx2")
        assert prepared["t"] == freed["t"] and prepared["seq"] > freed["seq"]
    v = views(sim)
    assert all(v[p]["status"] == {"tx1": "COMMITTED", "tx2": "COMMITTED"} for p in PARTICIPANTS)
    assert sim.violations == []


def test_transactions_on_different_keys_do_not_wait():
    sim = run(actions=[begin(100, "x"), begin(101, "y")], until=5000)
    assert notes(sim, "2pc.waits") == []
    assert all(v["status"] == {"tx1": "COMMITTED", "tx2": "COMMITTED"} for n, v in views(sim).items() if n != "c")


def test_unprepared_participant_may_give_up_on_a_lock_and_vote_no():
    sim = Simulation(scenario(actions=[begin(100), begin(101)], until=5000,
                              params={"log_delay": 2000, "vote_timeout": 5000}))
    sim.run_until(400)
    waiting = [p for p in PARTICIPANTS if sim.node_view(p)["waiting"]]
    assert waiting
    sim.add_action({"at": 401, "do": "timeout", "node": waiting[0], "timer": "lock_wait"})
    sim.run()
    assert [e["node"] for e in notes(sim, "2pc.gave_up")] == [waiting[0]]
    assert [e["args"]["decision"] for e in notes(sim, "2pc.decided") if e["args"]["tx"] == "tx2"] == ["ABORT"]
    assert all(views(sim)[p]["status"]["tx2"] == "ABORTED" for p in PARTICIPANTS)
    assert safety(sim) == []


def test_prepared_participant_never_decides_on_timeout_even_when_forced():
    sim = Simulation(scenario(actions=[begin(100), {"at": 105, "do": "crash", "node": "c"}], until=3000))
    sim.run_until(200)
    for i in range(5):   # a person forces p1's question timer again and again
        sim.add_action({"at": 300 + i * 10, "do": "timeout", "node": "p1", "timer": "query"})
    sim.run()
    assert sim.node_view("p1")["status"] == {"tx1": "PREPARED"} and sim.node_view("p1")["locks"] == {"x": "tx1"}
    assert len([e for e in sends(sim, "QueryOutcome", src="p1") if 300 <= e["t"] <= 340]) == 5


def test_coordinator_does_not_answer_a_question_while_still_collecting_votes():
    # p3 is cut off, so tx1 stays COLLECTING until the vote timeout at t=1100.
    sim = run(actions=[{"at": 50, "do": "partition", "groups": [["p3"], ["c", "p1", "p2"]]}, begin(100),
                       {"at": 300, "do": "timeout", "node": "p1", "timer": "query"}], until=3000)
    not_yet = notes(sim, "2pc.not_yet")
    assert not_yet[0]["t"] > 300 and not_yet[0]["args"]["node"] == "p1"
    decided = notes(sim, "2pc.decided")[0]
    assert decided["args"]["decision"] == "ABORT" and decided["t"] == 1100
    assert all(e["t"] < decided["t"] for e in not_yet)
    assert all(e["t"] >= decided["t"] for e in sends(sim, "Outcome") + sends(sim, "Abort"))
    assert views(sim)["p1"]["status"] == {"tx1": "ABORTED"}
    assert safety(sim) == []


def test_coordinator_crash_loses_votes_and_timers_but_keeps_commit_decisions():
    sim = Simulation(scenario(actions=[begin(100), begin(400, "y"), {"at": 445, "do": "crash", "node": "c"},
                                       {"at": 600, "do": "restart", "node": "c"}], until=5000))
    sim.run_until(444)
    assert sim.node_view("c")["votes"] == {"tx2": {"p3": "yes"}} and sim.node_view("c")["phase"]["tx2"] == "COLLECTING"
    assert list(sim.timers["c"]) == ["vote_timeout"]
    sim.run_until(600)
    c = sim.nodes["c"]
    assert c.votes == {} and c.pending == {} and sim.timers["c"] == {}
    assert c.decisions == {"tx1": "COMMIT"} and c.phase == {"tx1": "COMMITTED", "tx2": "ABORTED"}
    assert sim.disk["c"]["next_tx"] == 3
    sim.add_action({"at": 601, "do": "request", "node": "c", "op": "begin", "arg": "z"})
    sim.run()
    assert views(sim)["c"]["phase"]["tx3"] == "COMMITTED"     # ids are never reused after a crash
    assert [e["body"]["key"] for e in sends(sim, "Prepare") if e["body"]["tx"] == "tx3"] == ["z", "z", "z"]
    assert all(views(sim)[p]["status"]["tx2"] == "ABORTED" for p in PARTICIPANTS)
    assert sim.violations == []


def test_begin_sent_to_a_participant_is_ignored():
    sim = run(actions=[{"at": 10, "do": "request", "node": "p1", "op": "begin", "arg": "x"}], until=1000)
    assert notes(sim, "2pc.not_coordinator", "p1") and sends(sim, "Prepare") == []


def test_empty_key_defaults_to_x_and_two_participants_work():
    sim = run(nodes=2, actions=[begin(100, "")], until=4000)
    assert views(sim)["p1"]["status"] == {"tx1": "COMMITTED"}
    assert [e["body"]["key"] for e in sends(sim, "Prepare")] == ["x", "x"]
    assert sim.violations == []


def test_views_stay_small_in_a_long_run():
    acts = [begin(20 + 40 * i, "xy"[i % 2]) for i in range(300)]
    sim = run(actions=acts, until=20000)
    v = views(sim)
    assert v["c"]["next_tx"] == 301
    assert len(v["c"]["phase"]) <= txtable.RECENT and len(v["p1"]["status"]) <= txtable.RECENT
    assert sim.violations == []


# ---------------------------------------------------------------- checker

def test_eventual_check_flags_a_participant_left_in_doubt(monkeypatch):
    # Mutate the protocol: a PREPARED participant never asks. After the
    # coordinator restarts without a decision, nobody resolves tx1.
    monkeypatch.setattr(Participant, "query_due", lambda self, ctx, tx: None)
    sim = preset("coordinator_crash")
    found = [v for v in sim.violations if v["invariant"] == "all_resolved"]
    assert found and all(v.get("eventual") for v in found)
    assert any("p1 is still PREPARED (in doubt) for tx1" in v["message"] for v in found)


def test_eventual_check_stays_silent_when_the_run_ends_too_soon(monkeypatch):
    monkeypatch.setattr(Participant, "query_due", lambda self, ctx, tx: None)
    sim = preset("coordinator_crash", until=3000)
    assert sim.violations == []


def test_checker_catches_a_coordinator_that_presumes_abort_while_collecting(monkeypatch):
    monkeypatch.setattr(Coordinator, "outcome",
                        lambda self, tx: "COMMIT" if tx in self.decisions else "ABORT")
    sim = run(actions=[begin(100), {"at": 111, "do": "timeout", "node": "p1", "timer": "query"}], until=3000)
    assert "atomicity" in {v["invariant"] for v in sim.violations}
    assert "decision_stable" in {v["invariant"] for v in sim.violations}


def test_random_fault_schedules_never_violate_safety():
    runs = 0
    for base in ({}, {"nodes": 2}, {"nodes": 5},
                 {"params": {"log_delay": 0, "vote_timeout": 60, "query_interval": 60, "resend_interval": 60,
                             "lock_wait": 60}},
                 {"network": {"latency": [1, 150], "duplicate": 0.2}}):
        for seed in range(1, 121):
            sc, found = fuzz.random_run("2pc", seed, base=base)
            assert found == [], (base, seed, found, sc.to_json())
            runs += 1
    assert runs == 600


@pytest.mark.parametrize("base", [{}, {"nodes": 5}, {"network": {"latency": [1, 150], "duplicate": 0.2}}],
                         ids=["default", "five", "jittery"])
def test_after_random_faults_stop_every_transaction_resolves(base):
    """Faults for 8 s, then heal and restart everyone: 12 s later nothing is in doubt or locked."""
    for seed in range(1, 61):
        sc, found = fuzz.random_run("2pc", seed, base=base, until=8000, settle=12_000, eventual=True)
        assert found == [], (seed, found, sc.to_json())
        sim = Simulation(sc, trace=False)
        assert sc.until - sim.last_action_at >= sim.checker.settle_time(sim)   # so it was judged


def test_all_resolved_flags_participants_that_never_release_a_commit_lock(monkeypatch):
    original = Participant.finish

    def finish(self, ctx, tx, final):
        key = self.keys[tx]
        original(self, ctx, tx, final)
        if final == "COMMITTED":
            self.locks[key] = tx
    monkeypatch.setattr(Participant, "finish", finish)
    flagged = 0
    for seed in range(1, 11):
        _sc, found = fuzz.random_run("2pc", seed, until=8000, settle=12_000, eventual=True)
        flagged += "viol.all_resolved.locks" in {v["key"] for v in found}
    assert flagged >= 3      # (a crash and restart rebuilds the locks from the log, hiding the leak)


# p2 prepares tx1 on x, is cut off and crashes; back up, a second transaction on x arrives.
IN_DOUBT_THEN_SECOND_TX = [begin(100), {"at": 165, "do": "partition", "groups": [["p2"], ["c", "p1", "p3"]]},
                           {"at": 170, "do": "crash", "node": "p2"}, {"at": 400, "do": "restart", "node": "p2"},
                           {"at": 405, "do": "heal"}, begin(410)]


def test_in_doubt_participant_keeps_its_lock_across_a_crash():
    sim = run(actions=IN_DOUBT_THEN_SECOND_TX, until=6000)
    assert [v for v in sim.violations if not v.get("eventual")] == []
    waits = notes(sim, "2pc.waits", "p2")
    assert waits and waits[0]["args"] == {"tx": "tx2", "item": "x", "holder": "tx1"}


def test_checker_catches_a_recovery_that_forgets_locks(monkeypatch):
    original = Participant.on_recover

    def forgetful(self, ctx):
        original(self, ctx)
        self.locks = {}          # the log says PREPARED, but the lock is not taken back
    monkeypatch.setattr(Participant, "on_recover", forgetful)
    sim = run(actions=IN_DOUBT_THEN_SECOND_TX, until=6000)
    keys = [v["key"] for v in sim.violations if v["invariant"] == "locks_held"]
    assert keys[:2] == ["viol.locks_held.lost", "viol.locks_held.shared"]
    assert sim.violations[0]["nodes"] == ["p2"]


def test_checker_catches_participants_that_ignore_locks(monkeypatch):
    monkeypatch.setattr(Participant, "handle_prepare",
                        lambda self, ctx, msg: self.prepare(ctx, msg.body["tx"], msg.body["key"]))
    sim = run(actions=[begin(100), begin(105)], until=3000)
    assert "viol.locks_held.shared" in {v["key"] for v in sim.violations}


def test_checker_catches_a_participant_that_locks_the_wrong_key(monkeypatch):
    """Waking the first waiter for a released lock, whatever key it waits on: isolation is gone."""
    real = Participant.prepare
    monkeypatch.setattr(Participant, "prepare", lambda self, ctx, tx, key: real(self, ctx, tx, "zz"))
    sim = run(actions=[begin(100)], until=3000)
    found = [v for v in sim.violations if v["key"] == "viol.locks_held.wrong_key"]
    assert found and found[0]["args"]["wanted"] == "x" and found[0]["args"]["item"] == "zz"


def test_every_violation_message_is_translated_from_its_own_template(monkeypatch):
    # The keys the checkers name: 2PC's own and the atomic-commitment kit's (whose AC3 key is built from its name).
    declared = {f"viol.{TwoPCChecker.AC3}"}
    for module in (checker, atomic_commit):
        declared |= set(re.findall(r'"(viol\.[a-z_.]+)"', Path(module.__file__).read_text(encoding="utf-8")))
    assert len(declared) == 15
    assert declared == {k for k in PROTO.strings if k.startswith("viol.")}
    emitted = []
    bugs = [b.name for b in PROTO.bugs]
    for p in PROTO.presets:
        emitted += preset(p.name, bugs=bugs).violations
    emitted += fuzz.check("2pc", bugs=["heuristic_abort"], runs=300)[1]
    for seed in range(1, 30):
        emitted += fuzz.random_run("2pc", seed, bugs=["heuristic_abort"])[1]
    # Checker paths no correct run reaches: a participant that never asks,
    # a coordinator that presumes abort while still collecting votes.
    monkeypatch.setattr(Participant, "query_due", lambda self, ctx, tx: None)
    emitted += preset("coordinator_crash").violations
    monkeypatch.undo()
    monkeypatch.setattr(Coordinator, "outcome",
                        lambda self, tx: "COMMIT" if tx in self.decisions else "ABORT")
    emitted += run(actions=[begin(100), {"at": 111, "do": "timeout", "node": "p1", "timer": "query"}],
                   until=3000).violations
    keys = {v["key"] for v in emitted}
    assert {"viol.atomicity.committed", "viol.all_resolved.in_doubt", "viol.decision_stable.reannounced"} <= keys
    assert keys <= declared
    check_violation_texts(PROTO, emitted)
    # The direct constructor gives the same shape for every declared key.
    for key in declared:
        args = {name: f"<{name}>" for name in placeholders(PROTO.strings[key]["en"])}
        v = violation_of(PROTO, "atomicity", key, ("c",), **args).as_dict()
        check_violation_texts(PROTO, [v])


def test_heuristic_abort_bug_is_found_by_check_and_replays():
    small, found, runs = fuzz.check("2pc", bugs=["heuristic_abort"], runs=300)
    assert small is not None and runs <= 300
    assert found[0]["invariant"] == "atomicity"
    replay = fuzz.violations_of(from_dict(json.loads(small.to_json())))
    assert replay == found
    assert len(small.actions) <= 10     # shrunk to a readable counterexample


def test_a_no_voter_beyond_the_participants_is_a_clear_error():
    with pytest.raises(ScenarioError, match="no_voter=5 names no participant: this run has p1..p3"):
        scenario(nodes=3, params={"no_voter": 5})
    assert scenario(nodes=5, params={"no_voter": 5}).params["no_voter"] == 5
