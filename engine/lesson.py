"""Guided lessons: a run's chapters, found in its trace, and the events playback stops on.

A lesson never changes a run: it reads trace events as they are produced. Its
chapters come from the scenario's own lesson (a teacher's), else the preset's
declared chapters, else the protocol's key_notes (each such note a chapter).
Chapter i is searched for only after chapter i-1 was found, so "the first
note K after the previous chapter" is what a trigger means.
"""

from __future__ import annotations


def chapters_for(scenario, proto) -> dict:
    """{"source": "lesson" | "preset" | "key_notes", "chapters": [{"on", "title", "body"}]}
    (key_notes: no list; every key note found is a chapter, titled by the note itself)."""
    own = (scenario.lesson or {}).get("chapters")
    if own:
        return {"source": "lesson", "chapters": own}
    for p in proto.presets:
        if p.name == scenario.preset and p.chapters:
            return {"source": "preset", "chapters": p.chapter_texts(proto.strings)}
    return {"source": "key_notes", "chapters": None, "key_notes": list(proto.key_notes)}


def matches(trigger: dict, ev: dict) -> bool:
    """Does trace event `ev` fire this (non-time) trigger?"""
    kind = ev["type"]
    if "note" in trigger:
        return kind == "note" and ev["key"] == trigger["note"] and trigger.get("node", ev.get("node")) == ev.get("node")
    if "violation" in trigger:
        return kind == "violation"
    if "send" in trigger:
        return kind == "send" and ev["kind"] == trigger["send"]
    return False


def _same(a, b) -> bool:
    return a == b and isinstance(a, bool) == isinstance(b, bool)


def stop_reason(stops: dict, ev: dict) -> str | None:
    """Which of `stops` (violation, send kinds, node states) trace event `ev` hits, or None."""
    kind = ev["type"]
    if kind == "violation" and stops.get("violation"):
        return "violation"
    if kind == "send" and ev["kind"] in stops.get("send", ()):
        return "send"
    if kind == "state":
        changes = ev["changes"]
        for s in stops.get("state", ()):
            if s["field"] in changes and _same(changes[s["field"]], s["value"]) and \
                    s.get("node", ev["node"]) == ev["node"]:
                return "state"
    return None


class Chapters:
    """The chapters found so far in one run's trace, in order.

    feed(events) may see an event more than once (it skips what it has scanned),
    so every path that produces events can feed it. A found chapter is
    {"index": i (0-based), "t": ms, "seq": the trace event that fired it (for a
    time chapter: the first event after it)}, plus "note" for a key note."""

    def __init__(self, spec: dict):
        self.spec = spec
        self.list = spec.get("chapters")
        self.key_notes = frozenset(spec.get("key_notes", ())) if self.list is None else frozenset()
        self.found: list[dict] = []
        self.scanned = 0

    @property
    def total(self) -> int | None:
        return None if self.list is None else len(self.list)

    @property
    def hungry(self) -> bool:
        """Could a later event still be a chapter?"""
        return bool(self.key_notes) if self.list is None else len(self.found) < len(self.list)

    def _next(self) -> dict | None:
        if self.list is None or len(self.found) >= len(self.list):
            return None
        return self.list[len(self.found)]["on"]

    def next_at(self) -> int | None:
        """The next chapter's time, when it is a time ("at") chapter."""
        nxt = self._next()
        return None if nxt is None else nxt.get("at")

    def _add(self, t, seq: int, **more) -> int:
        self.found.append({"index": len(self.found), "t": t, "seq": seq, **more})
        return len(self.found) - 1

    def feed(self, events) -> list[int]:
        """Scan new trace events; return the indexes of the chapters they found."""
        out: list[int] = []
        if not events or events[-1]["seq"] < self.scanned:
            return out
        start, self.scanned = self.scanned, events[-1]["seq"] + 1
        if self.list is None:       # key notes: the hot path (every event of free play), kept lean
            keys = self.key_notes
            for ev in events if keys else ():
                if ev["type"] == "note" and ev["key"] in keys and ev["seq"] >= start:
                    out.append(self._add(ev["t"], ev["seq"], note={"key": ev["key"], "node": ev.get("node"),
                                                                   "args": ev.get("args", {})}))
            return out
        for ev in events:
            seq = ev["seq"]
            if seq < start:
                continue
            if len(self.found) >= len(self.list):
                break
            while True:
                nxt = self._next()
                if nxt is None:
                    break
                if "at" in nxt:
                    if nxt["at"] < ev["t"]:
                        out.append(self._add(nxt["at"], seq))
                        continue
                    break
                if matches(nxt, ev):
                    out.append(self._add(ev["t"], seq))
                break
        return out

    def reach(self, t: float, seq: int) -> list[int]:
        """The run stands at time t with `seq` events: time chapters up to t are found."""
        out = []
        while (at := self.next_at()) is not None and at <= t:
            out.append(self._add(at, seq))
        return out

    def cut(self, keep: int, t: float) -> list[dict]:
        """A seek back to t, keeping the first `keep` trace events: forget what lies after.
        Returns the chapters forgotten, in order (the same run finds them again: restore)."""
        def kept(c):
            return c["t"] <= t if "at" in self._on(c) else c["seq"] < keep
        gone = []
        while self.found and not kept(self.found[-1]):
            gone.append(self.found.pop())
        self.scanned = min(self.scanned, keep)
        gone.reverse()
        return gone

    def restore(self, found: list[dict], upto: int) -> None:
        """The same run's events up to trace event `upto` were taken back without being
        scanned (a seek forward into what a seek back left): their chapters, forgotten by
        `cut`, are found again, in order, without reading the events."""
        for c in found:
            if c["seq"] < upto and c["index"] == len(self.found):
                self.found.append(c)
        self.scanned = max(self.scanned, upto)

    def _on(self, c: dict) -> dict:
        return {} if self.list is None else self.list[c["index"]]["on"]

    def current(self) -> dict:
        """Where the run is in its story: the last chapter found, with the count."""
        if not self.found:
            return {"index": -1, "found": 0, "total": self.total}
        return {**self.found[-1], "found": len(self.found), "total": self.total}
