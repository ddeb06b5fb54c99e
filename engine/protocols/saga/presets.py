"""The lessons' scenarios; each lesson's title and text are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Every preset uses a fixed latency of 20 ms, so every step lands on a round
number: the order at 100 sends T1 to pay (it runs at 120, ActionDone back at
140), T2 to stock (160, back at 180), T3 to ship (200, back at 220). With the
default step_timeout (300 ms) an unanswered step times out 300 ms after it
left, and is retried after retry_base (100 ms), then 200, 400 ... ms.
Message ids and times below were read from each preset's deterministic trace
(python -m engine run --protocol saga --preset NAME).
"""

from __future__ import annotations

from ...kit.business import ask
from .node import ORCHESTRATOR

FIXED = {"latency": [20, 20]}


def _order(at: int) -> dict:
    return {"at": at, "do": "request", "node": ORCHESTRATOR, "op": "order"}


PRESET_SCENARIOS = {
    # T1 at 120, T2 at 160, T3 at 200; succeed logged at 220.
    "happy": {"network": FIXED, "until": 1000, "actions": [_order(100)]},
    # ship declines T3 at 200 (its local transaction rolls back: nothing happened there).
    # aborting at 220: C3 at ship is null (240), C2 at stock at 280, C1 at pay at 320; failed at 340.
    "step_fails": {"network": FIXED, "until": 1000, "actions": [ask(50, "ship", "fail_next"), _order(100)]},
    # T2 runs at stock at 160; its ActionDone is due at 180, but orch is down from 150 to 1000.
    # Back, it reads its log (submitted, step 2) and re-sends T2: stock answers "again".
    "orchestrator_crash": {"network": FIXED, "until": 2000, "actions": [
        _order(100), {"at": 150, "do": "crash", "node": ORCHESTRATOR},
        {"at": 1000, "do": "restart", "node": ORCHESTRATOR}]},
    # Message 4 is stock's ActionDone for T2 (sent at 160): dropped at 170. T2 times out at
    # 440, is re-sent at 540, and stock's fence answers "again": no second debit.
    "lost_reply": {"network": FIXED, "until": 1500, "actions": [
        _order(100), {"at": 170, "do": "drop", "msg": 4}]},
    # ship is slow: T3 reaches it at 200 and runs 1500 ms later, at 1700. With no retries,
    # T3 times out at 480: its outcome is unknown. C3 finds no row at ship (null, SUSPENDED),
    # then C2 and C1; the saga has failed by 600. At 1700 the late T3 is refused by the fence.
    "slow_step": {"network": FIXED, "params": {"max_retries": 0}, "until": 2500, "actions": [
        ask(50, "ship", "slow_next"), _order(100)]},
    # pay's refund gateway is down for its next 5 compensations; ship declines T3. C1 at pay
    # fails at 320, then is retried after 100, 200, 400, 800 and 1600 ms, and succeeds.
    "compensation_keeps_failing": {"network": FIXED, "params": {"compensation_failures": 5}, "until": 5000,
                                   "actions": [ask(40, "pay", "fail_compensation"), ask(50, "ship", "fail_next"),
                                               _order(100)]},
    # Six services: T1..T5 commit (pay 120 ... points 280); gift declines T6 at 320. From 340,
    # C6 at gift is null (360), then C5 at points (400), C4, C3, C2, and C1 at pay (560); failed at 580.
    "long_saga": {"nodes": 6, "network": FIXED, "until": 1500, "actions": [ask(50, "gift", "fail_next"), _order(100)]},
    # pay debited g1 at 120; a reader reads pay's books at 200 (balance 70); ship declines T3
    # and C1 refunds the debit at 320: what the reader saw never happened.
    "dirty_read": {"network": FIXED, "until": 1000, "actions": [
        ask(50, "ship", "fail_next"), _order(100), ask(200, "pay", "read")]},
    # step_fails's schedule with the bug; message 9 is C2 to stock (sent at 260): duplicated at
    # 265, both copies refund the item.
    "compensation_not_idempotent": {"network": FIXED, "bugs": ["compensation_not_idempotent"], "until": 1000,
                                    "actions": [ask(50, "ship", "fail_next"), _order(100),
                                                {"at": 265, "do": "duplicate", "msg": 9}]},
    # slow_step's schedule with no fence: C3 at ship (500) gives back a slot never booked
    # (shipped -1), and the late T3 runs at 1700, after its compensation: a shipment is booked
    # for an order that failed, and nothing will undo it.
    "no_barrier": {"network": FIXED, "params": {"max_retries": 0}, "bugs": ["no_barrier"], "until": 2500,
                   "actions": [ask(50, "ship", "slow_next"), _order(100)]},
}
