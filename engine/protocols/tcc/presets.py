"""The lessons' scenarios; each lesson's title and text are in strings.toml
("preset.<name>", "preset.<name>.lesson").

All use a fixed latency of 20 ms, so every step lands on a round number. With
two branches (pay, stock) and an order at t=100: Prepare reaches the TC at
120; pay is registered at 160 and its Try (message 5) arrives at 200; stock is
registered at 240 and its Try (message 9, sent at 260) arrives at 280; Submit
reaches the TC at 320; Confirm reaches pay at 340 and its ConfirmDone (message
14) comes back at 360; stock confirms at 380. An unanswered Try makes the
initiator abort after call_timeout (500 ms); an order left PREPARED is aborted
by the TC global_timeout (3000 ms) after its Prepare. Times were read from each
preset's deterministic trace (python -m engine run --protocol tcc --preset NAME).
"""

from __future__ import annotations

from ...kit.business import ask
from .node import INITIATOR

FIXED = {"latency": [20, 20]}


def _order(at: int) -> dict:
    return {"at": at, "do": "request", "node": INITIATOR, "op": "order"}


# The schedules the bug presets repeat with the fence off.
EMPTY_ROLLBACK = [_order(100), {"at": 270, "do": "drop", "msg": 9}]
HANGING = [ask(50, "stock", "slow_next"), _order(100)]
LOST_CONFIRM_REPLY = [_order(100), {"at": 350, "do": "drop", "msg": 14}]

PRESET_SCENARIOS = {
    "happy": {"network": FIXED, "until": 2000, "actions": [_order(100)]},
    # stock is out of luck: its Try fails for a business reason, so the order is aborted;
    # Cancel reaches stock first (nothing was frozen there: an empty rollback), then pay.
    "try_fails": {"network": FIXED, "until": 2000, "actions": [ask(50, "stock", "fail_next"), _order(100)]},
    # stock's Try is lost: the initiator aborts at 760; stock gets a Cancel for a Try it
    # never saw and records SUSPENDED without touching its stock.
    "empty_rollback": {"network": FIXED, "until": 2500, "actions": EMPTY_ROLLBACK},
    # stock's Try runs 1500 ms late (from 280 to 1780), after its Cancel (800): the fence
    # refuses it, so nothing is reserved for an order that is over.
    "hanging": {"network": FIXED, "until": 3000, "actions": HANGING},
    # pay's answer to Confirm is lost: the TC calls again after retry_base; the fence
    # answers "already confirmed" and the money is spent once.
    "lost_confirm_reply": {"network": FIXED, "until": 2500, "actions": LOST_CONFIRM_REPLY},
    # The initiator dies at 290, after both Tries took effect and before it submits:
    # the order stays PREPARED with funds frozen until the TC's timeout (3120) cancels it.
    "initiator_crash": {"network": FIXED, "until": 5000, "actions": [
        _order(100), {"at": 290, "do": "crash", "node": INITIATOR},
        {"at": 1500, "do": "restart", "node": INITIATOR}]},
    # The TC dies after recording SUBMITTED (320) and confirming pay (340), before stock:
    # it comes back at 1500, reads SUBMITTED from its disk and confirms again from the first branch.
    "coordinator_crash": {"network": FIXED, "until": 3000, "actions": [
        _order(100), {"at": 350, "do": "crash", "node": "tc"}, {"at": 1500, "do": "restart", "node": "tc"}]},
    # Six branches; the last one's Try fails: five services froze something, and the
    # coordinator releases it all, gift first and pay last.
    "six_branches": {"nodes": 6, "network": FIXED, "until": 3000, "actions": [
        ask(50, "gift", "fail_next"), _order(100)]},
    # The fence off, three ways to get the books wrong.
    "no_barrier_empty_rollback": {"network": FIXED, "until": 2500, "bugs": ["no_barrier"],
                                  "actions": EMPTY_ROLLBACK},
    "no_barrier_hanging": {"network": FIXED, "until": 3000, "bugs": ["no_barrier"], "actions": HANGING},
    # pay's Try (message 5) is duplicated on the wire: both copies freeze 30.
    "no_barrier_duplicate": {"network": FIXED, "until": 2000, "bugs": ["no_barrier"], "actions": [
        _order(100), {"at": 190, "do": "duplicate", "msg": 5}]},
    "confirm_not_idempotent": {"network": FIXED, "until": 2500, "bugs": ["confirm_not_idempotent"],
                               "actions": LOST_CONFIRM_REPLY},
}
