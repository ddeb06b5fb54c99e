"""The lessons' scenarios; each lesson's title and text are in strings.toml
("preset.<name>", "preset.<name>.lesson").

Every preset uses a fixed latency of 20 ms, so every step lands on a round number.
An order on p1 at t=100: SendHalf reaches the broker at 120 (the half message is
stored), HalfAck reaches p1 at 140, LocalTx reaches db at 160 (30 debited, COMMITTED),
LocalTxDone reaches p1 at 180, EndTransaction (message 5) reaches the broker at 200:
the real message at offset 0, Deliver to each consumer (applied at 220, ConsumeAck
back at 240), and the op record at 250 (op_delay 50 ms). The broker's check rounds
run every second (1000, 2000 ...); a half message is checked once it is older than
tx_timeout (600 ms), so the first check-back of an order placed at 100 leaves at
1000; checks go to p1, p2, p1 ... in turn. A check-back takes four flights: the
instance asks db at +20, db answers at +40, EndTransaction reaches the broker at +80.

Message ids and times below were read from each preset's deterministic trace
(python -m engine run --protocol mq_tx --preset NAME --jsonl). Each run lasts long
enough after its last action for the checker to judge the eventual properties
(checker.settle_time: 7650 ms with the defaults and this latency).
"""

from __future__ import annotations

from ...kit.business import ask

FIXED = {"latency": [20, 20]}


def _order(at: int, node: str = "p1") -> dict:
    return {"at": at, "do": "request", "node": node, "op": "order"}


# The broker writes the real message of p1-1 at 200 and its op record at 250: it crashes
# at 230, in between, and the two ConsumeAcks (240) find it down. It restarts at 400.
_BROKER_CRASH = [_order(100), {"at": 230, "do": "crash", "node": "broker"},
                 {"at": 400, "do": "restart", "node": "broker"}]

PRESET_SCENARIOS = {
    # The order as above; stock and ship each apply it at 220; the op record at 250.
    "happy": {"network": FIXED, "until": 10000, "actions": [_order(100)]},
    # p1's EndTransaction COMMIT (message 5, sent at 180) is dropped at 190. The half
    # message has no op record: the check round at 1000 asks p1, which reads COMMITTED
    # from db (1040); COMMIT from check reaches the broker at 1080; delivered at 1100.
    "end_transaction_lost": {"network": FIXED, "until": 10000, "actions": [
        _order(100), {"at": 190, "do": "drop", "msg": 5}]},
    # db commits p1-1 at 160; p1 crashes at 170, before LocalTxDone arrives (180), so no
    # EndTransaction ever leaves. The check at 1000 goes to p1, down: lost. The check at
    # 2000 goes to p2, which reads COMMITTED (2040): put at 2080, delivered at 2100.
    # p1 comes back at 2500 with no memory of p1-1.
    "producer_crash": {"network": FIXED, "until": 11000, "actions": [
        _order(100), {"at": 170, "do": "crash", "node": "p1"}, {"at": 2500, "do": "restart", "node": "p1"}]},
    # db's next local transaction takes 5 s (LocalTx held from 160 to 5160). p1 answers
    # UNKNOWN at 440 (local_timeout 300 ms). Checks at 1000, 2000, 3000 find no row in
    # db: UNKNOWN each time. With check_max 3 the round at 4000 discards the half message;
    # db commits at 5160: paid, never delivered (committed_delivered, the lesson).
    "slow_local_tx_discarded": {"network": FIXED, "until": 12000, "params": {"check_max": 3, "slow_ms": 5000},
                                "actions": [ask(50, "db", "slow_next"), _order(100)]},
    # db's next local transaction takes 1.5 s (160 to 1660). p1 answers UNKNOWN at 440;
    # the check at 1000 reaches db at 1040 while it runs: UNKNOWN, not ROLLBACK. db
    # commits at 1660 (p1 hears it at 1680, too late to matter); the check at 2000 goes
    # to p2, reads COMMITTED: put at 2080, delivered at 2100.
    "check_races_local_tx": {"network": FIXED, "until": 10000, "actions": [
        ask(50, "db", "slow_next"), _order(100)]},
    # The card is declined at 160: ROLLED_BACK, nothing taken; ROLLBACK reaches the
    # broker at 200: an op record only, no Deliver ever leaves.
    "local_tx_fails": {"network": FIXED, "until": 10000, "actions": [ask(50, "db", "fail_next"), _order(100)]},
    # The crash between the real message and its op record. At 400 the restarted broker
    # delivers offset 0 again (stock and ship skip it at 420: their inbox has p1-1); the
    # check round at 1400 (a second after the restart) finds p1-1 with no op record, p1
    # answers COMMIT from db, and p1-1 is put again at offset 1 (1480): skipped at 1500.
    "broker_crash_duplicate_put": {"network": FIXED, "until": 10000, "actions": _BROKER_CRASH},
    # Five consumers: p1-1 (from p1 at 100) is put at 200, p2-1 (from p2 at 150)
    # at 250. The Deliver of p1-1 to coupon (message 11) is duplicated at 210: coupon
    # skips the copy when it lands at 230.
    "five_consumers": {"nodes": 5, "network": FIXED, "until": 10000, "actions": [
        _order(100), _order(150, "p2"), {"at": 210, "do": "duplicate", "msg": 11}]},
    # Bug: p1 debits at db first (LocalTx at 120, COMMITTED), then sends the half message
    # at 140 (message 3), dropped at 150. No HalfAck by 440: the send failed, the money is
    # gone, and the broker never heard of p1-1: nothing will ever be checked or delivered.
    "local_tx_before_half": {"network": FIXED, "bugs": ["local_tx_before_half"], "until": 10000, "actions": [
        _order(100), {"at": 150, "do": "drop", "msg": 3}]},
    # Bug: the card is declined at 160 and p1's ROLLBACK (message 5) is dropped at 190.
    # The check at 1000 reaches p1, which answers COMMIT without asking db (1020): the
    # broker puts the rolled back order at 1040, and stock and ship apply it at 1060.
    "check_says_commit": {"network": FIXED, "bugs": ["check_says_commit"], "until": 10000, "actions": [
        ask(50, "db", "fail_next"), _order(100), {"at": 190, "do": "drop", "msg": 5}]},
    # Bug: the broker crash above with consumers that keep no inbox: stock and ship apply
    # p1-1 at 220, again at 420 (the redelivery) and at 1500 (the second put).
    "consumer_not_idempotent": {"network": FIXED, "bugs": ["consumer_not_idempotent"], "until": 10000,
                                "actions": _BROKER_CRASH},
}

# A lesson about the protocol's own limit: with no bug on, it breaks this.
PRESET_EXPECTS = {"slow_local_tx_discarded": ("committed_delivered",)}
