"""Many deadlines on one engine timer per kind, and retry with exponential backoff.

A node that waits on many things of one kind (a vote per transaction, a
resend per branch) keeps a deadline per key and one engine timer armed for
the earliest. Forcing that timer from the page counts as its earliest
deadline passing.
"""

from __future__ import annotations


class Deadlines:
    """key -> virtual time, per timer name; the engine timer is armed for the earliest."""

    def __init__(self, timers):
        self.pending: dict[str, dict] = {name: {} for name in timers}

    def set(self, ctx, timer: str, key, at: int) -> None:
        self.pending[timer][key] = at
        self.rearm(ctx, timer)

    def clear(self, ctx, timer: str, key) -> None:
        if self.pending[timer].pop(key, None) is not None:
            self.rearm(ctx, timer)

    def has(self, timer: str, key) -> bool:
        return key in self.pending[timer]

    def rearm(self, ctx, timer: str) -> None:
        pending = self.pending[timer]
        if pending:
            ctx.set_timer(timer, max(0, min(pending.values()) - ctx.now))
        else:
            ctx.cancel_timer(timer)

    def take_due(self, ctx, timer: str) -> list:
        """Remove and return the keys whose deadline has passed (a forced timer: the earliest)."""
        pending = self.pending[timer]
        if not pending:
            return []
        cutoff = max(ctx.now, min(pending.values()))
        due = [key for key, at in pending.items() if at <= cutoff]
        for key in due:
            del pending[key]
        return due


def backoff(base: int, attempt: int, cap: int) -> int:
    """Exponential backoff: base, 2*base, 4*base ... never above cap (attempt counts from 0)."""
    return min(cap, base << min(attempt, 30))
