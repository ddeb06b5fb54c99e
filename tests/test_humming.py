"""Humming Consensus: every preset's lesson, the sanity rules, random fault schedules, bug toggles."""

from __future__ import annotations

import pytest

from engine import fuzz
from engine.protocols import humming
from engine.protocols.humming import node as hnode
from engine.scenario import from_dict
from engine.sim import Simulation

from .traces import notes, views

PROTO = humming.PROTOCOL


def run(preset=None, **data):
    d = {"protocol": "humming", **data}
    if preset:
        d["preset"] = preset
    return Simulation(from_dict(d), trace=True).run()


def invariants(sim):
    return {v["invariant"] for v in sim.violations}


def proposals(sim):
    return [e for e in sim.trace if e["type"] == "note" and e["key"].startswith("humming.propose")]


def replies(sim, node=None):
    return [e["result"] for e in sim.trace if e["type"] == "reply" and (node is None or e["node"] == node)]


def one_chain(sim):
    """The (epoch, csum, upi, rep) every node uses at the end, asserted to be the same."""
    v = views(sim)
    ids = {(x["epoch"], x["csum"], tuple(x["upi"]), tuple(x["rep"])) for x in v.values()}
    assert len(ids) == 1, ids
    return ids.pop()


def public_registers(sim):
    """epoch -> set of checksums held for it in the public stores, over all nodes."""
    out = {}
    for n in sim.ids:
        for k, p in sim.disk[n]["pub"].items():
            out.setdefault(int(k), set()).add(p["csum"])
    return out


# ------------------------------------------------------------ the pure rules

def proj(epoch, upi, rep=(), mode="ap", members="abcde"):
    return hnode.make_projection(epoch, "a", list(members), list(upi), list(rep), mode)


def test_checksum_is_deterministic_and_depends_on_the_lists():
    assert proj(4, "ab")["csum"] == proj(4, "ab")["csum"]
    assert proj(4, "ab")["csum"] != proj(4, "cde")["csum"]
    assert proj(4, "ab")["down"] == ["c", "d", "e"]


def test_ranking_counts_the_upi_cubed_and_the_none_projection_is_lowest():
    n = 6
    assert hnode.rank(proj(1, "abc", "d")) == n * 1 + n ** 3 * 3
    assert hnode.rank(proj(1, "")) == -99
    assert hnode.rank(proj(1, "abc")) > hnode.rank(proj(1, "ab", "cde"))


@pytest.mark.parametrize("prev,new,me,why", [
    (proj(3, "abc"), proj(3, "abc"), "a", "epoch"),
    (proj(3, "abc"), proj(4, "ab", "b"), "a", "lists"),
    (proj(3, "abc"), proj(4, "bac"), "a", "order"),
    (proj(3, "ab", "c"), proj(4, "abc"), "a", None),            # joins at the tail from repairing
    (proj(3, "ab", "c"), proj(4, "cab"), "a", "join"),      # joins at the head
    (proj(3, "ab"), proj(4, "abc"), "a", "join"),               # c was never repairing
    (proj(3, "ab"), proj(4, "ab", "cde"), "a", None),
    (proj(3, "abc"), proj(4, ""), "a", None),                   # to none: always
    (proj(3, ""), proj(4, "cde", "ab"), "a", None),             # from none: always
    (proj(3, "ab", mode="cp"), proj(4, "cde", "ab", mode="cp"), "a", "overlap"),
    (proj(3, "ab"), proj(4, "cde", "ab"), "a", None),           # AP island merge, a repaired
    (proj(3, "ab"), proj(4, "cde", "ab"), "c", "join"),
])
def test_sanity_rules(prev, new, me, why):
    assert hnode.insane_reason(prev, new, me) == why


# ------------------------------------------------------------ presets

def test_startup_jostle_stores_disagree_on_epoch_1_then_one_full_chain():
    sim = run("startup_jostle")
    assert len(public_registers(sim)[1]) >= 2            # competing epoch-1 values, each store kept its first
    assert notes(sim, "humming.error_written")
    _, _, upi, rep = one_chain(sim)
    assert sorted(upi) == list("abcde") and rep == ()
    assert sim.violations == []


def test_symmetric_partition_two_islands_write_the_same_epoch_then_merge():
    sim = run("symmetric_partition")
    regs = public_registers(sim)
    twice = [e for e, c in regs.items() if len(c) == 2]
    assert 4 in twice                                    # both islands wrote epoch 4, different checksums
    island = {n: sim.disk[n]["pub"]["4"]["upi"] for n in sim.ids}
    assert island["a"] == island["b"] == ["b", "a"] and island["c"] == island["d"] == ["c", "d", "e"]
    _, _, upi, rep = one_chain(sim)
    assert upi == ("c", "d", "e", "a", "b") and rep == ()    # the higher rank won; a, b repaired in
    assert "b2" in replies(sim, "b") and "c1" in replies(sim, "c")   # both islands served writes (AP)
    assert sim.violations == []


def test_asymmetric_flapping_churns_far_more_than_a_crash():
    flap = run("asymmetric_flapping")
    calm = run("staggered")
    epoch = lambda s: max(v["epoch"] for v in views(s).values())
    adopted = lambda s: sum(v["adopted"] for v in views(s).values())
    assert epoch(flap) >= 4 * epoch(calm)
    assert adopted(flap) > adopted(calm) and len(proposals(flap)) >= 4 * len(proposals(calm))
    assert invariants(flap) == set()


def test_cp_minority_wedges_with_the_none_projection_then_rejoins():
    sim = run("cp_minority_wedge")
    wedged = {e["node"] for e in notes(sim, "humming.wedged")}
    assert wedged == {"a", "b"}
    assert "wedged" in replies(sim, "b") and "c1" in replies(sim, "c")
    labels = [e["changes"]["label"][0] for e in sim.trace
              if e["type"] == "state" and e["node"] in "ab" and "label" in e["changes"]]
    assert "humming.label.none" in labels
    _, _, upi, _ = one_chain(sim)
    assert sorted(upi) == list("abcde")
    assert sim.violations == []


def test_promote_before_repair_loses_acknowledged_writes():
    sim = run("promote_before_repair")
    assert invariants(sim) == {"no_lost_writes"}
    v = next(x for x in sim.violations if x["invariant"] == "no_lost_writes")
    assert v["nodes"] == ["e"]
    assert "c2" not in sim.disk["e"]["data"]


def test_the_same_script_without_the_bug_repairs_before_promoting():
    data = {k: v for k, v in PROTO.presets[[p.name for p in PROTO.presets].index("promote_before_repair")]
            .scenario.items() if k != "bugs"}
    sim = run(**data)
    assert sim.violations == []
    assert notes(sim, "humming.repair_start")


def test_no_sanity_adopts_an_insane_step():
    sim = run("no_sanity")
    assert "sane_history" in invariants(sim)


def test_overwrite_is_caught_by_write_once():
    sim = run("overwrite")
    assert invariants(sim) == {"write_once"}
    assert notes(sim, "humming.overwrite")


def test_unstaggered_timers_collide_more_than_staggered():
    st, un = run("staggered"), run("unstaggered")
    assert len(proposals(un)) > len(proposals(st))
    assert st.violations == [] and un.violations == []
    assert sorted(one_chain(st)[2]) == sorted(one_chain(un)[2]) == list("abcde")


def test_views_show_registers_and_a_chain_label():
    sim = run("symmetric_partition")
    v = views(sim)["a"]
    assert v["label"][0] == "humming.label" and v["label"][1]["upi"] == "c→d→e→a→b"
    assert all("/" in x for x in v["public"].values()) and len(v["public"]) <= hnode.SHOWN


# ------------------------------------------------------------ random schedules

def test_random_fault_schedules_are_safe():
    found, violations, runs = fuzz.check("humming", runs=200, model=fuzz.Model())
    assert found is None, violations[:1]
    assert runs == 200


@pytest.mark.parametrize("bug", [b.name for b in PROTO.bugs])
def test_each_bug_is_found(bug):
    found, violations, _ = fuzz.check("humming", bugs=[bug], runs=150, model=fuzz.Model())
    assert found is not None and violations
