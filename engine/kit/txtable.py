"""A transaction -> state table that stays small in views.

A long run holds hundreds of transactions; a view shows the unfinished ones
and the last RECENT finished ones.
"""

from __future__ import annotations

from itertools import islice

RECENT = 8


class TxTable(dict):
    """tx -> state (set entries with table[tx] = state); `finished` names the final states."""

    def __init__(self, finished: tuple):
        super().__init__()
        self.finished = finished
        self.open: dict[str, None] = {}   # unfinished transactions, in order
        self.last: list[str] = []         # the last RECENT finished ones

    def __setitem__(self, tx, state):
        super().__setitem__(tx, state)
        if state in self.finished:
            self.open.pop(tx, None)
            if tx not in self.last:
                self.last.append(tx)
                del self.last[:-RECENT]
        else:
            self.open[tx] = None

    def __reduce__(self):
        # Pickle (engine.checkpoint) as the whole object at once: rebuilding it item by
        # item would call __setitem__ before `finished` exists.
        return (_rebuild, (self.finished, dict(self), dict(self.open), list(self.last)))

    def recent(self) -> dict:
        """The open and recently finished transactions, by number ("tx12" sorts after "tx9")."""
        txs = sorted([*self.open, *self.last], key=tx_number)
        return {tx: self[tx] for tx in txs}


def _rebuild(finished: tuple, rows: dict, open_: dict, last: list) -> TxTable:
    table = TxTable(finished)
    dict.update(table, rows)
    table.open, table.last = open_, last
    return table


def newest(d: dict, k: int = RECENT) -> dict:
    """The last k entries of an insertion-ordered dict, as a new dict (a view's window onto
    a table that only grows: the newest rows, oldest first)."""
    return dict(reversed(list(islice(reversed(d.items()), k))))


def tx_number(tx: str) -> int:
    """ "tx12" -> 12 (its number after a prefix of letters; 0 if it has none). Called per
    view and transaction, so it stays cheap."""
    digits = tx.lstrip(_LETTERS)
    return int(digits) if digits.isdigit() else 0


_LETTERS = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ_"
