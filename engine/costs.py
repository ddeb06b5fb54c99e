"""What a run cost, read from its trace: the numbers `compare` and the guide put side by side.

Every figure comes from the trace events (and the engine's count of forced writes),
through what the protocol's `Comparison` declares (engine.protocol): which notes
mean "decided", which view field holds locks or in-doubt states, whether services
keep the order story's books. A figure a protocol cannot have is None, never 0:
2PC has no compensations to count, a saga no locks.

    messages        messages sent (a duplicate made by the network is not a send)
    writes          forced writes to disk (ctx.persist calls)
    decided_ms      from the first unit's request to its outcome being fixed (None: never)
    slowest_ms      the slowest served unit, request to served (a write caught in a failover)
    settled_ms      from the first request until nothing is held or in doubt and the books
                    have stopped changing, before the next unit starts (None: still held
                    when it started, or when the run ended)
    held_ms         lock-time: summed over nodes, how long locks or frozen funds were held
    blocked_ms      summed over nodes, how long a node was in doubt (may not decide alone)
    leaderless_ms   how long no running node held the leader role (consensus)
    compensations   undo moves in the books (a Cancel, a compensation)
    duplicates      duplicates absorbed (notes the protocol names)
    stale_reads     stale or dirty reads (notes the protocol names)
    served          share of the units of work whose client was served
    violations      safety violations found (a correct protocol: 0)
"""

from __future__ import annotations

from .kit.business import AVAILABLE, HELD, SERVICES

METRICS = ("messages", "writes", "decided_ms", "slowest_ms", "settled_ms", "held_ms", "blocked_ms",
           "leaderless_ms", "compensations", "duplicates", "stale_reads", "served", "violations")


def _held(view: dict, cmp) -> bool:
    if cmp.locks and view.get(cmp.locks):
        return True
    if cmp.books:
        books = view.get("books") or {}
        return any(books.get(s.buckets[HELD]) for s in SERVICES if s.buckets[HELD] in books)
    return False


def _in_doubt(view: dict, cmp) -> bool:
    if not cmp.in_doubt:
        return False
    fld, states = cmp.in_doubt
    v = view.get(fld)
    if isinstance(v, dict):
        return any(s in states for s in v.values())
    return v in states


def _undos(old: dict, new: dict) -> int:
    """Undo moves between two versions of a service's books: its available bucket grew."""
    for s in SERVICES:
        avail = s.buckets[AVAILABLE]
        if avail in new and avail in old:
            return int(new[avail] > old[avail])
    return 0


class _Span:
    """The intervals during which a condition held, from the moments it became true and false."""

    def __init__(self):
        self.intervals: list[tuple[int, int]] = []
        self.since: int | None = None

    def set(self, on: bool, t: int) -> None:
        if on and self.since is None:
            self.since = t
        elif not on and self.since is not None:
            self.intervals.append((self.since, t))
            self.since = None

    def close(self, t: int) -> int:
        """Total time it held, counting an open interval up to t."""
        return sum(b - a for a, b in self.intervals) + (t - self.since if self.since is not None else 0)

    def holds_at(self, t: int) -> bool:
        return (self.since is not None and self.since <= t) or any(a <= t < b for a, b in self.intervals)

    def last_end_before(self, t: int) -> int | None:
        return max((b for a, b in self.intervals if b <= t), default=None)


def _match(starts: list[int], served_at: list[int]) -> list[int]:
    """Each unit's latency: its request to the first service not yet matched to an earlier
    unit (clients wait in order). A unit never served has none."""
    out, j = [], 0
    served_at = sorted(served_at)
    for s in sorted(starts):
        while j < len(served_at) and served_at[j] < s:
            j += 1
        if j == len(served_at):
            break
        out.append(served_at[j] - s)
        j += 1
    return out


def measure(sim, starts: list[int]) -> dict:
    """The costs of a finished traced run. `starts`: when each unit of work was requested."""
    proto = sim.proto
    cmp = proto.compare
    end = sim.now
    views: dict[str, dict] = {n: {} for n in sim.ids}
    up = {n: True for n in sim.ids}
    held = {n: _Span() for n in sim.ids}
    doubt = {n: _Span() for n in sim.ids}
    leaderless = _Span()
    leader_roles = set(cmp.roles.get("leader", ()))
    messages = compensations = duplicates = stale = 0
    decided: list[int] = []
    units_decided: set = set()      # the units whose outcome was fixed (by tx, gid... in the note)
    served_replies = 0
    served_at: list[int] = []       # when a unit was served (a served reply; a unit newly decided)
    books_at: list[int] = []
    dup_keys, stale_keys, decided_keys = set(cmp.duplicates), set(cmp.stale), set(cmp.decided)
    first = starts[0] if starts else 0

    def leader_up() -> bool:
        return any(up[n] and views[n].get("role") in leader_roles for n in sim.ids)

    for ev in sim.trace:
        kind = ev["type"]
        t = ev["t"]
        if kind == "send":
            messages += 1
        elif kind == "state":
            n = ev["node"]
            old = views[n]
            new = dict(old)
            for k, v in ev["changes"].items():
                if v is None:
                    new.pop(k, None)
                else:
                    new[k] = v
            views[n] = new
            if "up" in new:
                up[n] = new["up"]
            if cmp.books and "books" in ev["changes"] and "books" in old:
                compensations += _undos(old["books"], new["books"])
                books_at.append(t)
            held[n].set(_held(new, cmp), t)     # a crashed node's durable locks stay held
            doubt[n].set(_in_doubt(new, cmp), t)
        elif kind == "note":
            key = ev["key"]
            if key in dup_keys:
                duplicates += 1
            elif key in stale_keys:
                stale += 1
            if key in decided_keys and t >= first:
                decided.append(t)
                args = ev.get("args") or {}
                unit = next((args[k] for k in ("tx", "gid", "index", "slot", "zxid") if k in args), None)
                if unit is None:
                    unit = len(decided)
                if unit not in units_decided:
                    units_decided.add(unit)
                    served_at.append(t)
        elif kind == "reply" and cmp.served is not None and cmp.served(ev["result"]):
            served_replies += 1
            served_at.append(t)
        if leader_roles and t >= first:
            leaderless.set(not leader_up(), t)

    # Settled: the first unit's holds all ended, its books quiet, before the next unit began.
    window = starts[1] if len(starts) > 1 else end
    held_ms = sum(s.close(end) for s in held.values())
    blocked_ms = sum(s.close(end) for s in doubt.values())
    spans = [*held.values(), *doubt.values()]
    settled = None
    if starts and (cmp.locks or cmp.books or cmp.in_doubt) and not any(sp.holds_at(window) for sp in spans):
        ends = [sp.last_end_before(window) for sp in spans]
        settled = max([first, *(e for e in ends if e is not None), *(t for t in books_at if t < window)]) - first
    units = len(starts)
    latencies = _match(starts, served_at)
    served = served_replies if cmp.served is not None else len(units_decided)
    has_hold = bool(cmp.locks or cmp.books)
    return {
        "messages": messages,
        "writes": sim.writes,
        "decided_ms": decided[0] - first if decided and starts else None,
        "slowest_ms": max(latencies) if latencies else None,
        "settled_ms": settled,
        "held_ms": held_ms if has_hold else None,
        "blocked_ms": blocked_ms if cmp.in_doubt else None,
        "leaderless_ms": leaderless.close(end) if leader_roles else None,
        "compensations": compensations if cmp.books else None,
        "duplicates": duplicates if cmp.duplicates else None,
        "stale_reads": stale if cmp.stale else None,
        "served": round(min(served, units) / units, 3) if units else None,
        "violations": len([v for v in sim.violations if not v.get("eventual")]),
    }
