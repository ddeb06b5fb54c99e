"""kit.linearizability on its own: known linearizable and non-linearizable register
histories, pending and refused operations, the explanation of a failure, another
object through `step`, and long random histories (the benchmark's, checked for
their verdict, not timed: `python -m engine.kit.linearizability` prints the times)."""

import random

import pytest

from engine.kit.linearizability import Op, check, random_history, relevant


def w(client, value, invoke, response=None, ok=True):
    return Op(client, "write", value, invoke, response, ok)


def r(client, value, invoke, response=None):
    return Op(client, "read", value, invoke, response)


# ---------------------------------------------------------------- linearizable

def test_an_empty_history_and_a_read_of_the_initial_value_are_linearizable():
    assert check([]).ok
    assert check([r("a", None, 0, 1)]).ok
    assert check([r("a", 0, 0, 1)], initial=0).ok


def test_a_sequential_history_is_linearizable_and_its_order_is_returned():
    h = [w("a", 1, 0, 1), r("b", 1, 2, 3), w("b", 2, 4, 5), r("a", 2, 6, 7)]
    result = check(h)
    assert result.ok and result.ops == 4
    assert list(result.linearized) == h
    assert "linearizable" in result.explain()


def test_concurrent_overlapping_writes_may_land_in_either_order():
    writes = [w("a", 1, 0, 10), w("b", 2, 1, 9)]
    assert check([*writes, r("c", 1, 11, 12)]).ok      # b's write first, then a's
    assert check([*writes, r("c", 2, 11, 12)]).ok      # a's first, then b's


def test_a_read_overlapping_a_write_may_see_the_old_or_the_new_value():
    base = [w("a", 1, 0, 1), w("a", 2, 10, 20)]
    assert check([*base, r("b", 1, 12, 15)]).ok
    assert check([*base, r("b", 2, 12, 15)]).ok


def test_operations_touching_at_one_instant_count_as_concurrent():
    assert check([w("a", 1, 0, 5), r("b", None, 5, 6)]).ok


def test_a_pending_write_may_have_taken_effect():
    """No answer (timed out, client crashed): a read may see its value afterwards."""
    assert check([w("a", 1, 0, None), r("b", 1, 5, 6)]).ok
    assert check([w("a", 1, 0, 1), w("a", 2, 2, None), r("b", 2, 5, 6), r("b", 2, 7, 8)]).ok


def test_a_pending_write_may_also_never_have_happened():
    assert check([w("a", 1, 0, 1), w("a", 2, 2, None), r("b", 1, 5, 6), r("b", 1, 50, 60)]).ok


def test_a_pending_read_constrains_nothing_and_an_unread_pending_write_is_not_searched():
    h = [w("a", 1, 0, 1), r("b", 7, 2, None), w("a", 2, 3, None), w("a", 3, 3, None), r("b", 3, 9, 10)]
    kept = relevant(h)
    assert [op.value for op in kept] == [1, 3, 3]
    assert check(h).ok


# ---------------------------------------------------------------- not linearizable

def test_a_stale_read_is_not_linearizable_and_is_named():
    h = [w("a", 1, 0, 1), w("a", 2, 2, 3), r("b", 1, 4, 5)]
    result = check(h)
    assert not result.ok
    assert result.op == h[2]
    assert result.states == (2,)
    assert result.explain() == ("not linearizable: b read 1 [4, 5] cannot be placed; "
                                "the object could only hold 2 there")


def test_a_read_of_a_value_never_written_is_not_linearizable():
    result = check([w("a", 1, 0, 1), r("b", 9, 2, 3)])
    assert not result.ok and result.op.value == 9


def test_a_read_of_the_initial_value_after_a_completed_write_is_not_linearizable():
    assert not check([w("a", 1, 0, 1), r("b", None, 2, 3)]).ok


def test_reads_must_not_go_back_new_then_old_is_not_linearizable():
    """Each read alone overlaps the write and may see either value; together, once one read
    saw the new value, a later read may not see the old one."""
    base = [w("a", 1, 0, 1), w("a", 2, 10, 20)]
    result = check([*base, r("b", 2, 11, 12), r("c", 1, 13, 14)])
    assert not result.ok and result.op.client == "c"


def test_concurrent_writes_seen_in_two_orders_are_not_linearizable():
    writes = [w("a", 1, 0, 10), w("b", 2, 1, 9)]
    assert not check([*writes, r("c", 1, 11, 12), r("c", 2, 13, 14), r("d", 1, 15, 16)]).ok


def test_a_pending_write_cannot_take_effect_before_it_was_invoked():
    assert not check([r("b", 1, 0, 1), w("a", 1, 2, None)]).ok


def test_a_pending_write_once_seen_cannot_be_unseen():
    h = [w("a", 1, 0, 1), w("a", 2, 2, None), r("b", 2, 5, 6), r("b", 1, 7, 8)]
    result = check(h)
    assert not result.ok and result.op == h[3]


def test_a_refused_write_never_happened():
    assert check([w("a", 2, 0, 1, ok=False), r("b", None, 2, 3)]).ok
    assert not check([w("a", 2, 0, 1, ok=False), r("b", 2, 2, 3)]).ok


# ---------------------------------------------------------------- another object, long histories

def test_another_object_through_step_a_counter():
    def step(state, op):
        if op.kind == "inc":
            return True, state + 1
        return state == op.value, state

    inc = [Op("a", "inc", None, 0, 5), Op("b", "inc", None, 1, 6)]
    assert check([*inc, Op("c", "get", 1, 2, 3)], initial=0, step=step).ok
    assert check([*inc, Op("c", "get", 2, 7, 8)], initial=0, step=step).ok
    assert not check([*inc, Op("c", "get", 1, 7, 8)], initial=0, step=step).ok


@pytest.mark.parametrize("n", [50, 1000])
def test_long_random_histories_get_the_right_verdict(n):
    assert check(random_history(random.Random(n), n)).ok
    stale = check(random_history(random.Random(n), n, stale=True))
    assert not stale.ok and stale.op.kind == "read"


def test_many_pending_writes_that_somebody_read_stay_tractable():
    """Forty timed-out writes, each read by someone later: the cache keeps the search small."""
    h = []
    for k in range(40):
        h.append(w("a", k, 10 * k, None))
        h.append(r("b", k, 10 * k + 5, 10 * k + 6))
    result = check(h)
    assert result.ok and result.explored < 10_000
