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

    def __contains__(self, voter: str) -> bool:
        """Has this voter answered (yes or no)?"""
        return voter in self.votes

    def yes(self) -> list[str]:
        """The voters that said yes, in the order they first voted."""
        return [v for v, ok in self.votes.items() if ok]

    def granted(self) -> int:
        return sum(1 for ok in self.votes.values() if ok)

    def reached(self, needed: int) -> bool:
        return self.granted() >= needed
