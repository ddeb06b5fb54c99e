"""The protocol kit's small pieces, each on its own (the protocols test them in use)."""

import pytest

from engine.kit import wal
from engine.kit.deadlines import Deadlines, backoff
from engine.kit.quorum import Tally, majority
from engine.kit.strings import distinct, load_strings
from engine.kit.txtable import RECENT, TxTable, tx_number


class FakeCtx:
    """The slice of a node's Context the kit uses: timers, the disk, virtual time."""

    def __init__(self, now=0):
        self.now = now
        self.timers = {}
        self.disk = {}

    def set_timer(self, name, delay):
        self.timers[name] = self.now + delay

    def cancel_timer(self, name):
        self.timers.pop(name, None)

    def persist(self, **fields):
        self.disk.update(fields)


def test_deadlines_arm_one_timer_for_the_earliest_and_hand_back_what_is_due():
    ctx = FakeCtx(now=100)
    d = Deadlines(("resend",))
    d.set(ctx, "resend", "tx2", 400)
    d.set(ctx, "resend", "tx1", 250)
    assert ctx.timers == {"resend": 250}
    ctx.now = 250
    assert d.take_due(ctx, "resend") == ["tx1"]
    d.rearm(ctx, "resend")
    assert ctx.timers == {"resend": 400}
    d.clear(ctx, "resend", "tx2")
    assert ctx.timers == {} and not d.has("resend", "tx2")


def test_a_forced_timer_counts_as_its_earliest_deadline_passing():
    ctx = FakeCtx(now=10)
    d = Deadlines(("query",))
    d.set(ctx, "query", "a", 500)
    d.set(ctx, "query", "b", 500)
    d.set(ctx, "query", "c", 900)
    assert d.take_due(ctx, "query") == ["a", "b"]      # forced at t=10: the earliest ones go


def test_backoff_doubles_up_to_its_cap():
    assert [backoff(100, k, 1000) for k in range(6)] == [100, 200, 400, 800, 1000, 1000]
    assert backoff(100, 10_000, 5000) == 5000          # no overflow on a long retry streak


def test_majority_and_tally():
    assert [majority(n) for n in (1, 2, 3, 4, 5)] == [1, 2, 2, 3, 3]
    t = Tally()
    t.add("n1", True)
    t.add("n2", False)
    t.add("n1", True)                                  # a repeated vote counts once
    assert t.granted() == 1 and t.yes() == ["n1"] and "n2" in t and "n3" not in t
    assert t.reached(1) and not t.reached(2)


def test_the_log_is_a_forced_write_and_is_read_incrementally():
    ctx = FakeCtx()
    wal.append(ctx, ctx.disk, "PREPARED", "tx1", "x")
    reader = wal.LogReader(["p1"])
    assert reader.new("p1", ctx.disk) == ([["PREPARED", "tx1", "x"]], False)
    wal.append(ctx, ctx.disk, "COMMITTED", "tx1")
    assert reader.new("p1", ctx.disk) == ([["COMMITTED", "tx1"]], False)
    assert reader.new("p1", {"log": [["PREPARED", "tx1", "x"]]}) == ([], True)   # records lost: said once
    assert reader.new("p1", {"log": [["PREPARED", "tx1", "x"]]}) == ([], False)


def test_txtable_keeps_views_small_and_in_number_order():
    t = TxTable(finished=("DONE",))
    for n in range(1, 13):
        t[f"tx{n}"] = "DONE"
    t["tx13"] = "OPEN"
    assert list(t.recent()) == [f"tx{n}" for n in range(13 - RECENT, 14)]
    assert [tx_number(x) for x in ("tx12", "tx9", "gid7", "x")] == [12, 9, 7, 0]


def test_strings_need_both_languages(tmp_path):
    good = tmp_path / "strings.toml"
    good.write_text('["a.b"]\nen = "A {x}"\nzh = "甲 {x}"\n', encoding="utf-8")
    assert load_strings(str(tmp_path / "__init__.py")) == {"a.b": {"en": "A {x}", "zh": "甲 {x}"}}
    good.write_text('["a.b"]\nen = "A"\n', encoding="utf-8")
    with pytest.raises(ValueError, match="exactly en and zh"):
        load_strings(str(tmp_path / "__init__.py"))
    assert distinct("n1", "n2", "n1") == ("n1", "n2")
