"""The lessons' scenarios; each lesson's title and text are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Every preset uses a fixed latency of 20 ms and three services (pay, stock, ship;
long_chain has six), so every step lands on a round number. An order at t=100: OrderCreated reaches
pay at 120 (30 spent), StepDone reaches stock at 140 (1 sold), ship at 160 (1
shipped), Completed reaches the order service at 180. Each consumer acknowledges
ack_delay (50 ms) after its commit, so the Acks arrive 70 ms after their events
left (pay's at 190); a row with no Ack is sent again resend_interval (300 ms)
after its last send. When ship fails instead (at 160), Failed reaches stock at
180 (released), pay at 200 (refunded) and the order service at 220 (CANCELLED).

Message ids and action times below were read from each preset's deterministic
trace (python -m engine run --protocol saga_choreo --preset NAME). Each run lasts
long enough after its last action for the checker to judge that every order is
over (checker.settle_time).
"""

from __future__ import annotations

from ...kit.business import ask
from .node import ORDER

FIXED = {"latency": [20, 20]}


def _order(at: int) -> dict:
    return {"at": at, "do": "request", "node": ORDER, "op": "order"}


PRESET_SCENARIOS = {
    # The order travels down the chain and completes; every Ack empties an outbox.
    "happy": {"network": FIXED, "until": 2500, "actions": [_order(100)]},
    # ship fails (no delivery slot): Failed goes back up; stock releases, pay refunds.
    "step_fails": {"network": FIXED, "until": 2500, "actions": [ask(50, "ship", "fail_next"), _order(100)]},
    # ship's Failed (message 4, sent at 160) is dropped on its way to stock: nothing is
    # compensated until ship's relay sends it again at 460 (stock at 480, pay at 500).
    "failed_event_dropped": {"network": FIXED, "until": 2500, "actions": [
        ask(50, "ship", "fail_next"), _order(100), {"at": 170, "do": "drop", "msg": 4}]},
    # stock commits its step at 140 and would Ack at 190: it crashes at 150, back at 300.
    # pay re-sends StepDone at 420: stock's inbox knows it, skips it, acknowledges it.
    # stock's own StepDone to ship was acknowledged while it was down (the Ack lost):
    # its restarted relay sends it again at 300, and ship's inbox absorbs that too.
    "consumer_crash": {"network": FIXED, "until": 2500, "actions": [
        _order(100), {"at": 150, "do": "crash", "node": "stock"}, {"at": 300, "do": "restart", "node": "stock"}]},
    # Six services; the gift card is declined at 220. Failed climbs back one service per
    # flight: points 240, coupon 260, ship 280, stock 300, pay 320, the order service 340.
    "long_chain": {"nodes": 6, "network": FIXED, "until": 3500, "actions": [
        ask(50, "gift", "fail_next"), _order(100)]},
    # ship fails; a reader reads pay at 150, after pay spent 30 for g1 (120) and before
    # the refund (200): it saw money spent for an order that never happened.
    "dirty_read": {"network": FIXED, "until": 2500, "actions": [
        ask(50, "ship", "fail_next"), _order(100), ask(150, "pay", "read")]},
    # step_fails, with ship's Failed (message 4) duplicated in flight: stock releases
    # twice and sends a second Failed; pay refunds twice.
    "compensation_not_idempotent": {"network": FIXED, "bugs": ["compensation_not_idempotent"], "until": 2500,
                                    "actions": [ask(50, "ship", "fail_next"), _order(100),
                                                {"at": 165, "do": "duplicate", "msg": 4}]},
    # pay commits g1 (30 spent) at 120 and sends StepDone straight away, with no outbox
    # row; it is dropped (message 2): nobody ever sends it again.
    "no_outbox": {"network": FIXED, "bugs": ["no_outbox"], "until": 2500, "actions": [
        _order(100), {"at": 130, "do": "drop", "msg": 2}]},
}
