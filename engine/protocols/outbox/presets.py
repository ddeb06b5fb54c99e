"""The lessons' scenarios; each lesson's title and text are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Every preset uses a fixed latency of 20 ms and the default parameters (poll
every 200 ms, redeliver after 500 ms, Ack 50 ms after the commit, a dual
write's second half 30 ms after its first), so every step lands on a round
number. The relay polls at 200, 400, 600 ... An order at 100 is paid at once,
its outbox row NEW; the poll at 200 reaches pay at 220, the Rows come back at
240 and the relay publishes m1; the broker stores it at 260 (PublishAck, and
Deliver to every consumer), the consumers apply it at 280 and Ack it at 330
(the broker has it at 350); the relay's MarkSent makes the row SENT at 300.

Message ids and times below were read from each preset's deterministic trace
(python -m engine run --protocol outbox --preset NAME --jsonl). Each run lasts
long enough after its last action for the checker to judge that every order
was delivered (checker.settle_time).
"""

from __future__ import annotations

from ...kit.business import ask
from .node import BROKER, PAY, RELAY

FIXED = {"latency": [20, 20]}


def _order(at: int) -> dict:
    return {"at": at, "do": "request", "node": PAY, "op": "order"}


def _crash(at: int, node: str) -> dict:
    return {"at": at, "do": "crash", "node": node}


def _restart(at: int, node: str) -> dict:
    return {"at": at, "do": "restart", "node": node}


PRESET_SCENARIOS = {
    # g1 paid at 100 with m1 NEW in the same local transaction; published at 240, stored
    # at 260, applied by stock and ship at 280, SENT at 300, acknowledged by 350.
    "happy": {"network": FIXED, "until": 3000, "actions": [_order(100)]},
    # pay declines g1 (its card): nothing is written, no row, no message. g2 at 300 goes
    # through: published at 440, applied at 480.
    "declined": {"network": FIXED, "until": 3000, "actions": [
        ask(50, PAY, "fail_next"), _order(100), _order(300)]},
    # The relay publishes m1 at 240; the broker stores it at 260 and its PublishAck is on
    # the way when the relay crashes at 270 (it arrives at 280 to a dead relay). Back at
    # 300, the relay polls at 500 and m1 is still NEW: published again at 540, stored a
    # second time at 560 (duplicates 1), delivered at 580, skipped by both inboxes; SENT at 600.
    "relay_crash": {"network": FIXED, "until": 3000, "actions": [
        _order(100), _crash(270, RELAY), _restart(300, RELAY)]},
    # stock applies m1 at 280 and would Ack it at 330: it crashes at 300, back at 400. The
    # broker redelivers at 760 (delivered at 260 + 500): stock's inbox knows m1, skips it
    # and acknowledges it at 830. ship's Ack came in time: no redelivery there.
    "consumer_crash": {"network": FIXED, "until": 3000, "actions": [
        _order(100), _crash(300, "stock"), _restart(400, "stock")]},
    # The broker is cut off from 150 to 1300. Orders at 100, 300 and 500 commit at pay all
    # the same: the backlog grows to 3, and every poll publishes it into the partition.
    # After the heal, the poll at 1400 publishes m1, m2, m3 (1440): stored at 1460, applied
    # at 1480, SENT at 1500.
    "broker_partition": {"network": FIXED, "until": 4000, "actions": [
        _order(100), {"at": 150, "do": "partition", "groups": [[BROKER], [PAY, RELAY, "stock", "ship"]]},
        _order(300), _order(500), {"at": 1300, "do": "heal"}]},
    # Five consumers: stock, ship, coupon, points and gift each apply m1 at 280.
    "five_consumers": {"nodes": 5, "network": FIXED, "until": 3000, "actions": [_order(100)]},
    # With no outbox: pay commits g1 (30 spent) at 100 and means to publish m1 at 130. It
    # crashes at 110, back at 400: m1 is never published. g1 is paid and never sold nor shipped.
    "dual_write_commit_first_crash": {"network": FIXED, "bugs": ["dual_write_commit_first"], "until": 3000,
                                      "actions": [_order(100), _crash(110, PAY), _restart(400, PAY)]},
    # With no outbox: pay publishes m1 at 100 and means to commit g1 at 130. It crashes at
    # 110, back at 400. The broker stores m1 at 120; stock and ship apply it at 140: one item
    # sold and one slot shipped for an order that was never paid.
    "dual_write_publish_first_crash": {"network": FIXED, "bugs": ["dual_write_publish_first"], "until": 3000,
                                       "actions": [_order(100), _crash(110, PAY), _restart(400, PAY)]},
    # relay_crash's schedule with no inbox: the second copy of m1 (delivered at 580) is
    # applied again by stock and ship: two items sold, two slots used for one order.
    "no_inbox": {"network": FIXED, "bugs": ["no_inbox"], "until": 3000, "actions": [
        _order(100), _crash(270, RELAY), _restart(300, RELAY)]},
}
