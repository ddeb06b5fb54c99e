"""Majorities and vote tallies."""

from __future__ import annotations


def majority(n: int) -> int:
    """The smallest number of n nodes that any two such sets share a node: n // 2 + 1."""
    return n // 2 + 1


class Tally:
    """Votes from distinct voters; `granted()` counts yes votes (a repeated vote counts once)."""

    def __init__(self):
        self.votes: dict[str, bool] = {}

    def add(self, voter: str, yes: bool) -> None:
        self.votes[voter] = yes

    def granted(self) -> int:
        return sum(1 for ok in self.votes.values() if ok)

    def reached(self, needed: int) -> bool:
        return self.granted() >= needed
