"""The simulated network: latency, loss, duplication, partitions, in-flight messages.

Pure data plus one seeded random.Random owned by the simulator. A message's
fate (latency, loss) is drawn when it is sent; partitions are checked when it
arrives, so a message can be seen flying into a wall.
"""

from __future__ import annotations


class Network:
    def __init__(self, rng, latency, loss: float, duplicate: float):
        self.rng = rng
        self.latency = list(latency)
        self.loss = loss
        self.duplicate = duplicate
        self.inflight: dict[int, object] = {}   # msg id -> Message, in send order
        self.lost: set[int] = set()            # ids fated to be lost (membership only)
        self.group_of: dict[str, int] | None = None
        self.groups: list[list[str]] | None = None

    def draw_latency(self) -> int:
        lo, hi = self.latency
        return lo if lo == hi else self.rng.randint(lo, hi)

    def draw_loss(self) -> bool:
        return self.loss > 0 and self.rng.random() < self.loss

    def draw_duplicate(self) -> bool:
        return self.duplicate > 0 and self.rng.random() < self.duplicate

    def partition(self, groups: list[list[str]], all_ids: list[str]) -> list[list[str]]:
        """Cut the network into groups; nodes named nowhere form one more group."""
        groups = [list(g) for g in groups]
        named = {n for g in groups for n in g}
        rest = [n for n in all_ids if n not in named]
        if rest:
            groups.append(rest)
        self.groups = groups
        self.group_of = {n: i for i, g in enumerate(groups) for n in g}
        return groups

    def heal(self) -> None:
        self.groups = None
        self.group_of = None

    def separated(self, a: str, b: str) -> bool:
        g = self.group_of
        return g is not None and g[a] != g[b]
