"""The simulated network: latency, loss, duplication, partitions, in-flight messages.

Pure data plus one seeded random.Random owned by the simulator. A message's
fate (latency, loss) is drawn when it is sent; partitions are checked when it
arrives, so a message can be seen flying into a wall.
"""

from __future__ import annotations


class Network:
    def __init__(self, rng, latency, loss: float, duplicate: float):
        self.rng = rng
        self._bits = rng.getrandbits
        self.latency = latency
        self.loss = loss
        self.duplicate = duplicate
        self.inflight: dict[int, object] = {}   # msg id -> Message, in send order
        self.lost: set[int] = set()            # ids fated to be lost (membership only)
        self.group_of: dict[str, int] | None = None
        self.groups: list[list[str]] | None = None

    @property
    def latency(self) -> list[int]:
        return [self._lo, self._lo + self._width - 1]

    @latency.setter
    def latency(self, value) -> None:
        lo, hi = value
        self._lo, self._width = lo, hi - lo + 1
        self._k = self._width.bit_length()

    def draw_latency(self) -> int:
        """Uniform in [lo, hi]: the same draws as rng.randint(lo, hi) (CPython's
        rejection sampling over getrandbits), at a fraction of its cost on the
        hottest path of the simulator; a fixed latency draws nothing."""
        width = self._width
        if width == 1:
            return self._lo
        k = self._k
        r = self._bits(k)
        while r >= width:
            r = self._bits(k)
        return self._lo + r

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
