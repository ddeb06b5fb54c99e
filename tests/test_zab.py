"""Zab: each preset's lesson, read off the final views and the trace; the handlers in
isolation (epoch checks, persist before send, no truncation by a repeated NEWLEADER);
random fault schedules with no violation; each bug toggle caught."""

from __future__ import annotations

import random

import pytest

from engine import fuzz
from engine.protocols import zab
from engine.scenario import from_dict
from engine.sim import Simulation

from .fakectx import deliver, make_node
from .traces import notes, sends, views

PROTO = zab.PROTOCOL


def run(preset=None, **data):
    d = {"protocol": "zab", **data}
    if preset:
        d["preset"] = preset
    return Simulation(from_dict(d), trace=True).run()


def invariants(sim):
    return sorted({v["invariant"] for v in sim.violations})


def histories(sim):
    return {n: v["history"] for n, v in views(sim).items()}


def leader_of(sim):
    (lead,) = [n for n, v in views(sim).items() if v["up"] and v["role"] == "leading"]
    return lead


# ---------------------------------------------------------------- presets

def test_free_play_elects_the_highest_id_and_reaches_broadcast():
    sim = run(until=1000)
    assert sim.violations == []
    v = views(sim)
    assert leader_of(sim) == "n3"
    assert all(x["phase"] == "BROADCAST" and x["currentEpoch"] == 1 for x in v.values())
    assert v["n3"]["label"][0] == "zab.label" and v["n3"]["label"][1]["phase"] == "BROADCAST"


def test_fle_most_up_to_date():
    sim = run("fle_most_up_to_date")
    assert sim.violations == []
    v = views(sim)
    assert leader_of(sim) == "n1"                   # not n2, the higher id
    assert v["n1"]["currentEpoch"] == 2 and v["n1"]["phase"] == "BROADCAST"
    switch = [e["args"] for e in notes(sim, "zab.switch", "n2") if e["t"] > 700]
    assert switch and switch[0]["leader"] == "n1" and switch[0]["was"] == "n2"
    assert all(h == ["1:x=1", "1:y=2"] for h in histories(sim).values())
    assert notes(sim, "zab.not_ready", "n3") and notes(sim, "zab.not_leader", "n1")
    assert notes(sim, "zab.recovered", "n3") and notes(sim, "zab.join", "n3")


def test_minority_acked_is_kept_by_the_next_epoch():
    sim = run("minority_acked")
    assert sim.violations == []
    assert leader_of(sim) == "n4"
    adopt = notes(sim, "zab.adopt", "n4")
    assert adopt and adopt[-1]["args"]["source"] == "n4" and adopt[-1]["args"]["epoch"] == 2
    for n, v in views(sim).items():
        assert v["history"] == ["1:x=1", "1:z=9"] and v["lastCommitted"] == 2, n
    # z=9 was on two of five before the crash: never committed in epoch 1.
    assert not [e for e in notes(sim, "zab.commit") if e["args"]["value"] == "z=9"]


def test_old_leader_truncated():
    sim = run("old_leader_truncated")
    assert sim.violations == []
    (cut,) = notes(sim, "zab.truncate", "n3")
    assert cut["args"]["value"] == "w=9" and cut["args"]["epoch"] == 2
    assert all(h == ["1:x=1", "2:y=2"] for h in histories(sim).values())
    assert leader_of(sim) == "n2"


def test_stale_leader_fenced():
    sim = run("stale_leader_fenced")
    assert sim.violations == []
    refused = notes(sim, "zab.stale_refused", "n1")
    assert refused and refused[0]["args"] == {"epoch": 1, "accepted": 2, "leader": "n3"}
    assert sends(sim, "NEWEPOCH", src="n3", dst="n1")
    assert not [e for e in sends(sim, "ACKEPOCH", src="n1", dst="n3") if e["t"] > 990]
    assert notes(sim, "zab.lost_quorum", "n3")
    assert all(h == ["1:x=1", "2:y=2"] for h in histories(sim).values())   # z=3 truncated


def test_leader_loses_quorum():
    sim = run("leader_loses_quorum")
    assert sim.violations == []
    (lost,) = notes(sim, "zab.lost_quorum", "n3")
    assert lost["args"] == {"epoch": 1, "heard": 1}
    assert notes(sim, "zab.looking.leader", "n3")
    assert leader_of(sim) == "n2"
    assert all(v["currentEpoch"] == 2 and v["phase"] == "BROADCAST" for v in views(sim).values())


def test_leader_own_history_loses_a_committed_transaction():
    sim = run("leader_own_history")
    assert "primary_order_global" in invariants(sim) and "committed_on_quorum" in invariants(sim)
    assert all(h == [] for h in histories(sim).values())
    # The correct protocol, same script: n2 adopts n1's history and keeps x=1.
    ok = Simulation(from_dict({**dict(PROTO.presets[5].scenario), "protocol": "zab", "bugs": []})).run()
    assert ok.violations == []
    assert all(v["history"] == ["1:x=1"] for v in ok.summary()["nodes"].values())


def test_skip_epoch_check_forks_the_history():
    sim = run("skip_epoch_check")
    assert {"agreement", "epoch_order", "committed_on_quorum"} <= set(invariants(sim))
    assert notes(sim, "zab.stale_accepted", "n1")


# ---------------------------------------------------------------- handlers in isolation

def durable(disk):
    """What a send depends on, as it stood when the message left (persist before send)."""
    return disk["acceptedEpoch"], disk["currentEpoch"], len(disk["history"])


def make(node_id="n1", disk=None):
    return make_node(PROTO, node_id, ["n1", "n2", "n3"], durable, disk=disk)


def test_follower_persists_the_new_epoch_before_acking_and_refuses_an_older_one():
    node, ctx = make(disk={"acceptedEpoch": 2, "acceptedFrom": "n2", "currentEpoch": 2,
                           "history": [[[2, 1], "y=2"]]})
    node.follow(ctx, "n3")
    (r,) = deliver(node, ctx, "n3", "NEWEPOCH", epoch=3)
    assert r[1] == "ACKEPOCH" and r[3][0] == 3 and r[2]["currentEpoch"] == 2 and r[2]["lastZxid"] == [2, 1]
    node.follow(ctx, "n3")
    deliver(node, ctx, "n3", "NEWEPOCH", epoch=1)            # older than the promise: refused
    assert node.state == "looking" and node.disk["acceptedEpoch"] == 3


def test_newleader_truncates_once_and_a_repeat_never_truncates():
    node, ctx = make(disk={"acceptedEpoch": 1, "acceptedFrom": "n3", "currentEpoch": 1,
                           "history": [[[1, 1], "x=1"], [[1, 2], "w=9"]]})
    node.follow(ctx, "n2")
    deliver(node, ctx, "n2", "NEWEPOCH", epoch=2)
    (r,) = deliver(node, ctx, "n2", "NEWLEADER", epoch=2, history=[[[1, 1], "x=1"]])
    assert r[1] == "ACKLD" and r[3] == (2, 2, 1)              # on disk before ACKLD
    assert node.history == [[[1, 1], "x=1"]] and ("log_changed", {"index": 2}) in ctx.facts
    deliver(node, ctx, "n2", "COMMITLD", epoch=2, zxid=[1, 1])
    deliver(node, ctx, "n2", "PROPOSE", epoch=2, zxid=[2, 1], prev=[1, 1], value="y=2")
    (r,) = deliver(node, ctx, "n2", "NEWLEADER", epoch=2, history=[[[1, 1], "x=1"]])
    assert r[1] == "ACKLD" and len(node.history) == 2         # a late copy: nothing truncated
    # Proposals only in order, and only from the current epoch.
    assert deliver(node, ctx, "n2", "PROPOSE", epoch=2, zxid=[2, 3], prev=[2, 2], value="z") == []
    assert deliver(node, ctx, "n2", "PROPOSE", epoch=1, zxid=[1, 5], prev=[2, 1], value="z") == []
    assert node.committed == 1
    deliver(node, ctx, "n2", "COMMIT", epoch=2, zxid=[2, 1])
    assert node.committed == 2


def test_leader_picks_the_new_epoch_and_the_newest_history():
    node, ctx = make("n3", disk={"acceptedEpoch": 1, "acceptedFrom": "n3", "currentEpoch": 1,
                                 "history": [[[1, 1], "x=1"]]})
    node.lead(ctx)
    sent = deliver(node, ctx, "n1", "CEPOCH", acceptedEpoch=3)
    assert node.epoch == 4 and sent[0][1] == "NEWEPOCH" and sent[0][3][0] == 4
    newest = [[[1, 1], "x=1"], [[1, 2], "z=9"]]
    sent = deliver(node, ctx, "n1", "ACKEPOCH", epoch=4, currentEpoch=1, lastZxid=[1, 2], history=newest)
    assert node.history == newest and node.disk["currentEpoch"] == 4
    assert sent[0][1] == "NEWLEADER" and sent[0][2]["history"] == newest and sent[0][3] == (4, 4, 2)
    deliver(node, ctx, "n1", "ACKLD", epoch=4, zxid=[1, 2])
    assert node.phase == "BROADCAST" and node.committed == 2
    node.on_request(ctx, "write", "k=v")
    assert node.history[-1] == [[4, 1], "k=v"]                # the counter restarts in the new epoch


# ---------------------------------------------------------------- random schedules

def test_random_fault_schedules_find_nothing():
    found, violations, _runs = fuzz.check("zab", runs=200, model=fuzz.Model())
    assert found is None, violations


@pytest.mark.parametrize("bug", [b.name for b in PROTO.bugs])
def test_each_bug_is_caught(bug):
    found, violations, _runs = fuzz.check("zab", bugs=[bug], runs=300, model=fuzz.Model())
    assert found is not None and violations, bug


def test_declarations():
    d = PROTO.describe()
    assert (d["name"], d["category"]) == ("zab", "consensus")
    assert d["nodes"] == {"default": 3, "min": 3, "max": 9}
    assert d["log_strip"] == {"field": "history", "start": "logStart", "commit": "lastCommitted"}
    assert PROTO.tolerates is None
    node, op, arg = PROTO.random_request(random.Random(1), ["n1", "n2", "n3"])
    assert node in ("n1", "n2", "n3") and op == "write" and "=" in arg
    assert PROTO.validate(3, {"election": "fle", "tick": 100, "sync_limit": 200, "finalize": 40})
