"""The simulator's contract: crash semantics, network faults, timers, ordering, forks."""

import pytest

from engine import Checker, Node, Operation, Protocol, Simulation, Violation, from_dict, registry
from engine.scenario import ScenarioError


class EchoNode(Node):
    """Counts pings; remembers `saved` on disk and `memo` in memory only."""

    role = "echo"

    def on_start(self, ctx):
        self.memo = 0
        self.got = []
        ctx.set_timer("tick", 100)

    def on_recover(self, ctx):
        self.memo = 0
        self.got = []
        self.recovered_with = dict(self.disk)

    def on_timer(self, ctx, name):
        self.memo += 1
        ctx.persist(saved=self.disk.get("saved", 0) + 1)
        ctx.set_timer("tick", 100)

    def on_request(self, ctx, op, arg):
        for p in self.peers:
            ctx.send(p, "ping", text=arg)
        ctx.reply(op, "sent")

    def on_message(self, ctx, msg):
        self.got.append(msg.id)

    def view(self):
        return {"role": "echo", "memo": self.memo, "saved": self.disk.get("saved", 0), "got": len(self.got)}


class TooManyPings(Checker):
    invariants = (("few_pings", "no node receives more than 3 pings"),)

    def after_event(self, sim, node_id, msg):
        node = sim.nodes.get(node_id) if node_id else None
        if node is not None and len(node.got) > 3:
            return [Violation("few_pings", f"{node_id} got {len(node.got)} pings", (node_id,))]
        return []


class Echo(Protocol):
    name = "echo-test"
    title = "Echo (test)"
    nodes_default = 3
    nodes_min = 2
    nodes_max = 5
    operations = (Operation("ping", arg="text"),)
    timers = ("tick",)
    checker_class = TooManyPings
    default_network = {"latency": [10, 10], "loss": 0.0, "duplicate": 0.0}

    def create_node(self, node_id, node_ids, params, bugs, disk):
        return EchoNode(node_id, node_ids, params, bugs, disk)


registry.add(Echo())


def scenario(**kw):
    return from_dict({"protocol": "echo-test", "until": 1000, **kw})


def types(sim):
    return [e["type"] for e in sim.trace]


def test_crash_loses_volatile_state_and_timers_restart_keeps_disk():
    sim = Simulation(scenario(actions=[{"at": 350, "do": "crash", "node": "n1"},
                                       {"at": 620, "do": "restart", "node": "n1"}])).run()
    n1 = sim.nodes["n1"]
    # Three ticks before the crash were persisted; the restart saw exactly that disk.
    assert n1.recovered_with == {"saved": 3}
    # The timer died with the crash and on_recover did not re-arm it: no more ticks.
    assert n1.memo == 0 and sim.disk["n1"]["saved"] == 3
    assert sim.disk["n2"]["saved"] == 10
    timers_n1 = [e["t"] for e in sim.trace if e["type"] == "timer" and e["node"] == "n1"]
    assert timers_n1 == [100, 200, 300]
    crash = next(e for e in sim.trace if e["type"] == "crash")
    assert crash["t"] == 350
    state = next(e for e in sim.trace if e["type"] == "state" and e["seq"] > crash["seq"])
    assert state["changes"] == {"up": False}


def test_message_to_crashed_node_is_dropped_on_arrival():
    sim = Simulation(scenario(actions=[{"at": 5, "do": "request", "node": "n1", "op": "ping", "arg": "a"},
                                       {"at": 7, "do": "crash", "node": "n2"}])).run()
    drops = [e for e in sim.trace if e["type"] == "drop"]
    assert [(d["reason"]) for d in drops] == ["crashed"]
    delivered = [e for e in sim.trace if e["type"] == "deliver"]
    assert len(delivered) == 1  # n3 got its ping


def test_partition_drops_at_delivery_and_heal_restores():
    acts = [{"at": 1, "do": "partition", "groups": [["n1"], ["n2", "n3"]]},
            {"at": 5, "do": "request", "node": "n1", "op": "ping", "arg": "x"},
            {"at": 20, "do": "heal"},
            {"at": 25, "do": "request", "node": "n1", "op": "ping", "arg": "y"}]
    sim = Simulation(scenario(actions=acts)).run()
    part = next(e for e in sim.trace if e["type"] == "partition")
    assert part["groups"] == [["n1"], ["n2", "n3"]]
    reasons = [e["reason"] for e in sim.trace if e["type"] == "drop"]
    assert reasons == ["partition", "partition"]
    assert sum(1 for e in sim.trace if e["type"] == "deliver") == 2


def test_user_drop_and_duplicate_of_inflight_message():
    sim = Simulation(scenario())
    sim.run_until(4)
    sim.add_action({"at": 5, "do": "request", "node": "n1", "op": "ping", "arg": "x"})
    sim.run_until(6)
    ids = sorted(sim.network.inflight)
    assert len(ids) == 2
    sim.add_action({"at": 7, "do": "drop", "msg": ids[0]}, strict=True)
    sim.add_action({"at": 7, "do": "duplicate", "msg": ids[1]}, strict=True)
    sim.run()
    drop = next(e for e in sim.trace if e["type"] == "drop")
    assert drop == {**drop, "id": ids[0], "reason": "user"}
    dup = next(e for e in sim.trace if e["type"] == "duplicate")
    assert dup["id"] == ids[1]
    assert sim.nodes["n3"].got == [ids[1], dup["new_id"]]
    assert sim.nodes["n2"].got == []


def test_strict_live_actions_explain_why_they_cannot_apply():
    sim = Simulation(scenario(actions=[{"at": 1, "do": "crash", "node": "n2"}]))
    sim.run_until(10)
    with pytest.raises(ScenarioError, match="already crashed"):
        sim.add_action({"at": 11, "do": "crash", "node": "n2"}, strict=True)
    with pytest.raises(ScenarioError, match="not in flight"):
        sim.add_action({"at": 11, "do": "drop", "msg": 999}, strict=True)
    with pytest.raises(ScenarioError, match="in the past"):
        sim.add_action({"at": 5, "do": "restart", "node": "n2"})
    with pytest.raises(ScenarioError, match="not partitioned"):
        sim.add_action({"at": 11, "do": "heal"}, strict=True)


def test_replayed_actions_are_skipped_with_a_note_not_an_error():
    sim = Simulation(scenario(actions=[{"at": 1, "do": "restart", "node": "n2"}])).run()
    note = next(e for e in sim.trace if e["type"] == "note")
    assert note["key"] == "engine.skipped" and note["args"]["do"] == "restart"


def test_skip_notes_carry_a_reason_code_and_its_arguments():
    acts = [{"at": 1, "do": "restart", "node": "n2"},
            {"at": 2, "do": "crash", "node": "n3"},
            {"at": 3, "do": "crash", "node": "n3"},
            {"at": 4, "do": "request", "node": "n3", "op": "ping", "arg": "a"},
            {"at": 5, "do": "timeout", "node": "n3", "timer": "tick"},
            {"at": 6, "do": "drop", "msg": 999},
            {"at": 7, "do": "duplicate", "msg": 998}]
    sim = Simulation(scenario(actions=acts)).run()
    got = [e["args"] for e in sim.trace if e["type"] == "note" and e["key"] == "engine.skipped"]
    assert got == [
        {"do": "restart", "reason": "not crashed", "why": "not_crashed", "node": "n2"},
        {"do": "crash", "reason": "already crashed", "why": "already_crashed", "node": "n3"},
        {"do": "request", "reason": "n3 is crashed", "why": "node_crashed", "node": "n3"},
        {"do": "timeout", "reason": "timer tick is not armed on n3", "why": "timer_not_armed",
         "node": "n3", "timer": "tick"},
        {"do": "drop", "reason": "message 999 is not in flight", "why": "not_in_flight", "msg": 999},
        {"do": "duplicate", "reason": "message 998 is not in flight", "why": "not_in_flight", "msg": 998},
    ]


def test_live_run_equals_replay_of_its_actions():
    """What makes share URLs exact: actions added live replay to the same trace."""
    live = Simulation(scenario(until=2000))
    plan = [(130, {"do": "request", "node": "n2", "op": "ping", "arg": "a"}),
            (300, {"do": "crash", "node": "n3"}),
            (301, {"do": "partition", "groups": [["n1"], ["n2", "n3"]]}),
            (650, {"do": "restart", "node": "n3"}),
            (900, {"do": "heal"}),
            (901, {"do": "timeout", "node": "n1", "timer": "tick"})]
    for t, a in plan:
        live.run_until(t)   # the clock reaches t; the action lands just after
        live.add_action({**a, "at": live.min_action_at}, strict=True)
    live.run()
    replay = Simulation(scenario(until=2000, actions=live.actions)).run()
    assert replay.trace == live.trace
    assert any(e["type"] == "timer" and e["t"] == 902 and e["node"] == "n1" for e in replay.trace)


def test_actions_at_a_time_run_before_other_events_then():
    sim = Simulation(scenario(actions=[{"at": 100, "do": "crash", "node": "n1"}])).run()
    # n1's tick was also due at t=100; the crash came first, so it never fired.
    assert not any(e["type"] == "timer" and e["node"] == "n1" for e in sim.trace)


def test_loss_and_duplication_are_seeded():
    base = {"network": {"latency": [5, 50], "loss": 0.3, "duplicate": 0.3},
            "actions": [{"at": t, "do": "request", "node": "n1", "op": "ping", "arg": "x"}
                        for t in range(10, 300, 10)]}
    a = Simulation(scenario(seed=3, **base)).run()
    b = Simulation(scenario(seed=3, **base)).run()
    c = Simulation(scenario(seed=4, **base)).run()
    assert a.trace == b.trace
    assert a.trace != c.trace
    reasons = {e["reason"] for e in a.trace if e["type"] == "drop"}
    assert reasons == {"loss"}
    sends = sum(1 for e in a.trace if e["type"] == "send")
    assert sends > 2 * 29  # duplicates on top of the 58 pings


def test_safety_violation_reported_once_with_nodes():
    acts = [{"at": t, "do": "request", "node": "n1", "op": "ping", "arg": "x"} for t in (10, 20, 30, 40, 50)]
    sim = Simulation(scenario(actions=acts)).run()
    assert [v["invariant"] for v in sim.violations] == ["few_pings", "few_pings", "few_pings", "few_pings"]
    assert {tuple(v["nodes"]) for v in sim.violations} == {("n2",), ("n3",)}
    assert sum(1 for e in sim.trace if e["type"] == "violation") == 4


def test_violation_key_and_args_reach_the_trace_and_the_report(monkeypatch):
    assert Violation("x", "m").as_dict() == {"invariant": "x", "message": "m", "nodes": []}
    keyed = Violation("x", "n1 got 4", ("n1",), key="viol.x", args={"node": "n1", "count": 4})
    assert keyed.as_dict() == {"invariant": "x", "message": "n1 got 4", "nodes": ["n1"],
                               "key": "viol.x", "args": {"node": "n1", "count": 4}}

    def after_event(self, sim, node_id, msg):
        node = sim.nodes.get(node_id) if node_id else None
        if node is not None and len(node.got) > 3:
            n = len(node.got)
            return [Violation("few_pings", f"{node_id} got {n} pings", (node_id,),
                              key="viol.few_pings", args={"node": node_id, "count": n})]
        return []

    monkeypatch.setattr(TooManyPings, "after_event", after_event)
    acts = [{"at": t, "do": "request", "node": "n1", "op": "ping", "arg": "x"} for t in (10, 20, 30, 40, 50)]
    sim = Simulation(scenario(actions=acts)).run()
    events = [e for e in sim.trace if e["type"] == "violation"]
    assert len(events) == len(sim.violations) == 4
    for v, e in zip(sim.violations, events, strict=True):
        assert v["key"] == e["key"] == "viol.few_pings"
        assert v["args"] == e["args"] == {"node": v["nodes"][0], "count": int(v["message"].split()[2])}


def test_untraced_run_reaches_the_same_state():
    acts = [{"at": 10, "do": "request", "node": "n1", "op": "ping", "arg": "x"},
            {"at": 250, "do": "crash", "node": "n2"}]
    a = Simulation(scenario(actions=acts), trace=True).run()
    b = Simulation(scenario(actions=acts), trace=False).run()
    assert a.summary()["nodes"] == b.summary()["nodes"]
    assert a.violations == b.violations and b.trace == []


def test_step_event_advances_to_the_next_visible_event():
    sim = Simulation(scenario())
    assert sim.step_event()
    first = len(sim.trace)
    assert first > 0 and sim.now == 0
    assert sim.step_event()
    assert sim.trace[first]["type"] == "timer" and sim.now == 100


def test_protocol_exception_is_reported_with_context():
    class Broken(EchoNode):
        def on_timer(self, ctx, name):
            raise KeyError("boom")

    class BrokenProto(Echo):
        name = "broken-test"

        def create_node(self, node_id, node_ids, params, bugs, disk):
            return Broken(node_id, node_ids, params, bugs, disk)

    registry.add(BrokenProto())
    from engine import ProtocolError
    with pytest.raises(ProtocolError, match=r"node n1 failed in on_timer\(tick\) at t=100"):
        Simulation(from_dict({"protocol": "broken-test"})).run()


def test_snapshot_shows_inflight_partition_and_timers():
    sim = Simulation(scenario(actions=[{"at": 5, "do": "request", "node": "n1", "op": "ping", "arg": "x"},
                                       {"at": 6, "do": "partition", "groups": [["n1", "n2"]]}]))
    sim.run_until(8)
    snap = sim.snapshot()
    assert [m["dst"] for m in snap["inflight"]] == ["n2", "n3"]
    assert snap["partition"] == [["n1", "n2"], ["n3"]]
    assert snap["timers"]["n1"] == ["tick"]
    assert snap["nodes"]["n1"]["up"] is True


def test_a_runaway_protocol_stops_at_the_event_limit(monkeypatch):
    class Spinner(EchoNode):
        def on_timer(self, ctx, name):
            ctx.set_timer("tick", 0)   # never lets virtual time move

    class SpinProto(Echo):
        name = "spin-test"

        def create_node(self, node_id, node_ids, params, bugs, disk):
            return Spinner(node_id, node_ids, params, bugs, disk)

    registry.add(SpinProto())
    from engine import limits
    monkeypatch.setattr(limits, "MAX_EVENTS", 1000)
    for trace in (True, False):
        sim = Simulation(from_dict({"protocol": "spin-test"}), trace=trace).run()
        assert sim.done and sim.stopped_reason == "event limit 1000 reached"
        assert sim.now == 100


@pytest.mark.parametrize("protocol, action", [
    ("raft", {"at": 0, "do": "crash", "node": "n1"}),
    ("raft", {"at": 0, "do": "request", "node": "n1", "op": "put", "arg": "x=1"}),
    ("2pc", {"at": 0, "do": "request", "node": "c", "op": "begin", "arg": "x"}),
    ("2pc", {"at": 0, "do": "request", "node": "p1", "op": "begin", "arg": "x"}),
])
def test_actions_at_time_zero_come_after_the_nodes_boot(protocol, action):
    acts = [action] + ([{"at": 0, "do": "restart", "node": "n1"}] if action["do"] == "crash" else [])
    sim = Simulation(from_dict({"protocol": protocol, "until": 2000, "actions": acts})).run()
    first_action = next(e for e in sim.trace if e["type"] in ("crash", "request"))
    assert any(e["type"] == "state" and e["seq"] < first_action["seq"] for e in sim.trace)
    assert not [v for v in sim.violations if not v.get("eventual")]


def test_a_run_cut_off_at_the_event_limit_is_not_judged_on_eventual_properties(monkeypatch):
    from engine import limits
    monkeypatch.setattr(limits, "MAX_EVENTS", 45)
    sim = Simulation(from_dict({"protocol": "2pc", "preset": "commit"})).run()
    assert sim.stopped_reason and sim.violations == []


def test_a_failing_view_is_a_protocol_error_with_context():
    class BadView(EchoNode):
        def view(self):
            raise ValueError("no view")

    class BadViewProto(Echo):
        name = "badview-test"

        def create_node(self, node_id, node_ids, params, bugs, disk):
            return BadView(node_id, node_ids, params, bugs, disk)

    registry.add(BadViewProto())
    from engine import ProtocolError
    with pytest.raises(ProtocolError, match=r"failed in view\(\)"):
        Simulation(from_dict({"protocol": "badview-test"})).run()
