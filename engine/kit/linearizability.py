"""Linearizability of a history of operations on one object (Herlihy & Wing 1990).

A history is linearizable when every completed operation can be given one
instant between its invocation and its response at which it takes effect, so
that the operations, taken in the order of those instants, are a legal run of
the object on its own (for a register: every read returns the last value
written before it, or the initial value).

The search is Wing & Gong's (1993), with the pruning Lowe describes in
"Testing for linearizability" (2016) and Porcupine and Knossos use:

- The calls and returns are one list in time order (a doubly linked list, so an
  operation's call and return can be taken out and put back in O(1)).
- Walk the list. At a call, try to linearize its operation now: if the object
  accepts it from the current state, take its call and return out of the list,
  push (entry, state) and start again at the head. At a return, its operation
  was not linearized before its response: backtrack (pop, put it back, try the
  next call after it). The list empties: linearizable. A return with nothing
  left to pop: not.
- A cache of configurations already explored, (set of linearized operations as a
  bitmask, object state): two paths that linearized the same operations and
  left the object in the same state have the same future, so the second is cut.

Operations that got no answer (the client timed out or crashed) may have taken
effect or not: they get a response at +infinity, so the search may linearize
them at any point after their invocation, or at the very end, which for a
write is the same as leaving it out (a write is always accepted). A pending
read constrains nothing (its result is unknown) and is dropped; so is a
pending write whose value no completed read returned (putting it anywhere can
only change what later reads must see, never explain one). Refused operations
(ok=False: the system said no, so they never happened) are left out.

Use `check(history)` for a register; `check(history, step=..., initial=...)` for
another object (step(state, op) -> (accepted, new state); states hashable).
Run `python -m engine.kit.linearizability` for a benchmark on long histories.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Iterable
from dataclasses import dataclass, field
from itertools import pairwise

INF = float("inf")


@dataclass(frozen=True)
class Op:
    """One operation: `value` is the value written, or the value a read returned.
    `response` None: no answer (may have happened, or not); ok=False: refused (never happened)."""

    client: str
    kind: str                       # "read" | "write"
    value: Hashable
    invoke: float
    response: float | None = None
    ok: bool = True

    def __str__(self) -> str:
        end = "?" if self.response is None else f"{self.response:g}"
        return f"{self.client} {self.kind} {self.value!r} [{self.invoke:g}, {end}]"


@dataclass
class Result:
    """ok, or the first operation that cannot be placed (`op`) and what the object could
    hold just before its response in the furthest the search got (`states`)."""

    ok: bool
    op: Op | None = None
    states: tuple = ()
    explored: int = 0               # configurations the search visited (cache size)
    ops: int = 0                    # operations searched (after dropping what constrains nothing)
    linearized: tuple[Op, ...] = field(default=())   # ok: one linearization (completed and placed pending ops)

    def explain(self) -> str:
        if self.ok:
            return f"linearizable ({self.ops} operations, {self.explored} configurations)"
        could = ", ".join(repr(s) for s in self.states) or "nothing"
        return f"not linearizable: {self.op} cannot be placed; the object could only hold {could} there"


def register_step(state, op: Op):
    """A read/write register: a write sets the value; a read must return it."""
    if op.kind == "write":
        return True, op.value
    return state == op.value, state


def relevant(history: Iterable[Op]) -> list[Op]:
    """The operations the search needs: refused ones out; pending reads out; a pending
    write out unless some completed read returned its value."""
    ops = [op for op in history if op.ok]
    read = {op.value for op in ops if op.kind == "read" and op.response is not None}
    return [op for op in ops if op.response is not None or (op.kind == "write" and op.value in read)]


def check(history: Iterable[Op], initial: Hashable = None,
          step: Callable[[Hashable, Op], tuple[bool, Hashable]] = register_step) -> Result:
    """Is the history linearizable? (See the module docstring.)"""
    ops = relevant(history)
    n = len(ops)
    if n == 0:
        return Result(True, ops=0)
    # Entries 1..2n: call of op i is 2i+1, its return 2i+2; 0 is the head. Calls come
    # before returns at the same instant (touching operations count as concurrent).
    events = []
    for i, op in enumerate(ops):
        events.append((op.invoke, 0, i, 2 * i + 1))
        events.append((INF if op.response is None else op.response, 1, i, 2 * i + 2))
    events.sort()
    size = 2 * n + 1
    nxt = [0] * size
    prv = [0] * size
    order = [0] + [e[3] for e in events]
    for a, b in pairwise(order):
        nxt[a] = b
        prv[b] = a
    nxt[order[-1]] = -1
    prv[0] = -1

    def unlink(x):
        p, q = prv[x], nxt[x]
        nxt[p] = q
        if q != -1:
            prv[q] = p

    def relink(x):
        p, q = prv[x], nxt[x]
        nxt[p] = x
        if q != -1:
            prv[q] = x

    cache: set = set()
    stack: list = []
    state = initial
    linearized = 0
    best_depth, best_op, best_states = -1, None, set()
    entry = nxt[0]
    while nxt[0] != -1:
        i = (entry - 1) // 2
        if entry % 2 == 1:                       # a call: try to take effect now
            ok, new = step(state, ops[i])
            if ok:
                key = (linearized | (1 << i), new)
                if key not in cache:
                    cache.add(key)
                    stack.append((entry, state))
                    state = new
                    linearized = key[0]
                    unlink(entry)
                    unlink(entry + 1)
                    entry = nxt[0]
                    continue
            entry = nxt[entry]
        else:                                    # a return before its operation took effect
            depth = len(stack)
            if depth > best_depth:
                best_depth, best_op, best_states = depth, ops[i], {state}
            elif depth == best_depth and ops[i] is best_op:
                best_states.add(state)
            if not stack:
                return Result(False, best_op, tuple(sorted(best_states, key=repr)), len(cache), n)
            entry, state = stack.pop()
            linearized &= ~(1 << ((entry - 1) // 2))
            relink(entry + 1)
            relink(entry)
            entry = nxt[entry]
    return Result(True, explored=len(cache), ops=n,
                  linearized=tuple(ops[(e - 1) // 2] for e, _ in stack))


# ---------------------------------------------------------------- benchmark

def random_history(rng, n: int, clients: int = 5, stale: bool = False) -> list[Op]:
    """A linearizable register history of n operations by `clients` clients (each one
    operation at a time, overlapping the others'), drawn by running a register with a
    random instant inside each operation. With `stale`, one read near the end returns a
    value overwritten before it began (w1 done, then w2 done, then the read: w1's value)."""
    free = [0.0] * clients                     # when each client may invoke again
    planned = []
    for k in range(n):
        c = min(range(clients), key=lambda j: free[j])
        start = free[c] + rng.uniform(0, 5)
        end = start + rng.uniform(1, 30)
        free[c] = end
        planned.append((start + rng.uniform(0, end - start), k, c, start, end, rng.random() < 0.5))
    planned.sort()
    value, history = None, []
    for _, k, c, start, end, write in planned:
        if write:
            value = f"v{k}"
        history.append(Op(f"c{c}", "write" if write else "read", value, start, end))
    history.sort(key=lambda op: op.invoke)
    if stale:
        writes = [op for op in history if op.kind == "write"]
        for i in range(len(history) - 1, -1, -1):
            r = history[i]
            before = [w for w in writes if w.response < r.invoke]
            w2 = max(before, key=lambda w: w.response, default=None) if r.kind == "read" else None
            w1 = w2 and max((w for w in before if w.response < w2.invoke), key=lambda w: w.response, default=None)
            if w1 is not None:
                history[i] = Op(r.client, "read", w1.value, r.invoke, r.response)
                break
    return history


def bench(sizes=(100, 1000, 2000), repeat: int = 3) -> list[dict]:
    """Seconds for one check of a linearizable history, and of the same with a stale read at its end."""
    import random
    import time
    rows = []
    for n in sizes:
        for stale in (False, True):
            rng = random.Random(f"linearizability:{n}")
            history = random_history(rng, n, stale=stale)
            best = None
            for _ in range(repeat):
                t0 = time.perf_counter()
                result = check(history)
                dt = time.perf_counter() - t0
                best = dt if best is None else min(best, dt)
            rows.append({"ops": n, "stale_read": stale, "linearizable": result.ok, "seconds": round(best, 4),
                         "configurations": result.explored})
    return rows


if __name__ == "__main__":
    for row in bench():
        print(row)
