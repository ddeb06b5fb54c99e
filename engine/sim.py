"""The discrete-event simulator.

Virtual time in integer milliseconds; a heap of (time, priority, seq) entries;
one seeded random.Random for the network and one per node. The same scenario
always produces the same trace: nothing here reads a clock, draws unseeded
randomness or iterates in hash order.

Ordering rule that makes live runs and replays agree: an action stamped at
time t runs before every other event at time t (priority 0 against 1), and a
live action may only be stamped after every event already processed
(`min_action_at`).
"""

from __future__ import annotations

import gc
import heapq
import random

from . import limits
from .network import Network
from .protocol import Checker, Message, Violation
from .protocols import registry
from .scenario import Scenario, ScenarioError, validate_action

_ACTION, _EVENT = 0, 1

# Why an action cannot take effect now (Simulation.why_not), in English; the page
# translates the same codes ("refused.<code>" when a live action is refused).
WHY_NOT = {
    "already_crashed": "{node} is already crashed",
    "not_crashed": "{node} is not crashed",
    "node_crashed": "{node} is crashed",
    "timer_not_armed": "timer {timer} is not armed on {node}",
    "not_in_flight": "message {msg} is not in flight",
    "not_partitioned": "the network is not partitioned",
}
_START, _DELIVER, _TIMER, _DO = range(4)
_ALL = 1 << 62      # a budget of heap entries that never runs out


class ProtocolError(RuntimeError):
    """A protocol handler raised: a bug in the protocol, reported with context."""


class _NodeContext:
    """The Context a node acts through (see engine.protocol.Context)."""

    __slots__ = ("_sim", "node_id", "node_ids", "rng")

    def __init__(self, sim: Simulation, node_id: str):
        self._sim = sim
        self.node_id = node_id
        self.rng = sim.node_rng[node_id]
        self.node_ids = sim.ids

    @property
    def now(self) -> int:
        return self._sim.now

    def send(self, dst: str, kind: str, **body) -> int:
        return self._sim._send(self.node_id, dst, kind, body)

    def set_timer(self, name: str, delay: int) -> None:
        self._sim._set_timer(self.node_id, name, delay)

    def cancel_timer(self, name: str) -> None:
        self._sim.timers[self.node_id].pop(name, None)

    def timer_armed(self, name: str) -> bool:
        return name in self._sim.timers[self.node_id]

    def persist(self, **fields) -> None:
        self._sim.disk[self.node_id].update(fields)
        self._sim.writes += 1

    def note(self, key: str, /, **args) -> None:
        if self._sim.tracing:
            self._sim._emit({"type": "note", "node": self.node_id, "key": key, "args": args})

    def observe(self, fact: str, /, **args) -> None:
        hook = self._sim._observe
        if hook is not None:
            hook(self.node_id, fact, args)

    def reply(self, op: str, result) -> None:
        sim = self._sim
        if sim.tracing:
            sim._emit({"type": "reply", "node": self.node_id, "op": op, "result": result})
        if sim._on_reply is not None:
            found = sim._on_reply(sim, self.node_id, op, result)
            if found:
                sim._report(found)


class Simulation:
    def __init__(self, scenario: Scenario, *, trace: bool = True, check: bool = True, protocol=None):
        self.scenario = scenario
        self.proto = protocol or registry.get(scenario.protocol)
        self.ids: list[str] = self.proto.node_ids(scenario.nodes)
        self.params = dict(scenario.params)
        self.bugs = frozenset(scenario.bugs)
        self.until = scenario.until
        self._max_events = limits.MAX_EVENTS   # read once: step_entry checks it for every entry
        self.tracing = trace
        self.trace: list[dict] = []
        self.seq = 0                    # trace events emitted (stays 0 when not tracing)
        self.handled = 0                # heap entries processed (events, traced or not)
        self.delivered = 0              # messages delivered to a live node
        self.writes = 0                 # forced writes (ctx.persist calls): a cost, engine/costs.py
        self.now = 0
        self.min_action_at = 0
        self.done = False
        self.stopped_reason: str | None = None
        self.actions: list[dict] = []   # actions applied or scheduled, in order
        self.violations: list[dict] = []
        self._seen_violations: set[tuple[str, str]] = set()
        self._heap: list = []
        self._hseq = 0
        self._next_msg_id = 1

        seed = scenario.seed
        net = scenario.network
        self.network = Network(random.Random(f"net:{seed}"), net["latency"], net["loss"], net["duplicate"])
        self.node_rng = {n: random.Random(f"node:{seed}:{n}") for n in self.ids}
        self.disk: dict[str, dict] = {n: {} for n in self.ids}
        self.timers: dict[str, dict[str, int]] = {n: {} for n in self.ids}
        # When each timer was last set and when it is due (the page's timer rings); an entry
        # outlives its timer and is read only for timers still armed.
        self.timer_spans: dict[str, dict[str, tuple[int, int]]] = {n: {} for n in self.ids}
        self.up: dict[str, bool] = {n: True for n in self.ids}
        self.nodes = {n: self._new_node(n) for n in self.ids}
        self.ctx = {n: _NodeContext(self, n) for n in self.ids}
        # Views appear with each node's on_start (the first state event is the full view).
        self.views: dict[str, dict] = {n: {"up": True} for n in self.ids}
        self.checker = self.proto.checker_class(self.params, self.bugs, self.ids) if check else None
        if self.checker is not None:
            self.checker.strings = self.proto.strings
        # Hooks a checker does not override are skipped: they run once per message or event.
        self._on_send = self._hook("on_send")
        self._after_event = self._hook("after_event")
        self._observe = self._hook("observe")
        self._on_reply = self._hook("on_reply")

        # One boot event starts every node, so checkers never see a half-started cluster.
        # It has an action's priority and is pushed first: it precedes even actions at t=0.
        self._push(0, _ACTION, _START, None)
        for a in scenario.actions:
            self._schedule_action(a)

    # ------------------------------------------------------------ plumbing

    def _hook(self, name: str):
        c = self.checker
        if c is None or getattr(type(c), name) is getattr(Checker, name):
            return None
        return getattr(c, name)

    def _new_node(self, n: str):
        return self.proto.create_node(n, self.ids, self.params, self.bugs, self.disk[n])

    def _push(self, t: int, prio: int, kind: int, payload) -> int:
        self._hseq += 1
        heapq.heappush(self._heap, (t, prio, self._hseq, kind, payload))
        return self._hseq

    def _emit(self, ev: dict) -> None:
        ev["seq"] = self.seq
        ev["t"] = self.now
        self.seq += 1
        self.trace.append(ev)

    def _view(self, n: str) -> dict:
        node = self.nodes[n]
        if node is None:
            v = dict(self.views[n])
        else:
            try:
                v = node.view()
            except Exception as e:
                raise self._view_failed(n, e) from e
        v["up"] = self.up[n]
        return v

    def _view_failed(self, n: str, e: Exception) -> ProtocolError:
        return ProtocolError(f"{self.proto.name}: node {n} failed in view() at t={self.now}: "
                             f"{type(e).__name__}: {e}")

    def _send(self, src: str, dst: str, kind: str, body: dict, may_copy: bool = True) -> int:
        """A new message in flight (and, when the network duplicates, its copy). The
        hottest path of the simulator: ctx.send calls it directly, for every message."""
        if dst not in self.disk:
            raise ProtocolError(f"{src} sent {kind} to unknown node {dst!r}")
        net = self.network
        now = self.now
        mid = self._next_msg_id
        self._next_msg_id = mid + 1
        at = now + net.draw_latency()
        msg = Message(mid, src, dst, kind, body, now, at)
        if net.loss and net.draw_loss():
            net.lost.add(mid)
        net.inflight[mid] = msg
        self._hseq += 1                  # _push, inlined: this runs for every message
        heapq.heappush(self._heap, (at, _EVENT, self._hseq, _DELIVER, msg))
        if self._on_send is not None:
            found = self._on_send(self, msg)
            if found:
                self._report(found)
        if self.tracing:
            seq = self.seq      # _emit, inlined
            self.seq = seq + 1
            self.trace.append({"type": "send", "id": mid, "src": src, "dst": dst, "kind": kind,
                               "body": body, "deliver_at": at, "seq": seq, "t": now})
        if may_copy and net.duplicate and net.draw_duplicate():
            self._send(src, dst, kind, body, False)
        return mid

    def _set_timer(self, n: str, name: str, delay: int) -> None:
        if not isinstance(delay, int) or delay < 0:
            raise ProtocolError(f"{n} set timer {name} with bad delay {delay!r}")
        token = self._push(self.now + delay, _EVENT, _TIMER, (n, name))
        self.timers[n][name] = token
        self.timer_spans[n][name] = (self.now, self.now + delay)

    def _after(self, n: str | None, msg: Message | None) -> None:
        """Diff the view of the node that acted, then check safety."""
        if n is not None and self.tracing:
            node = self.nodes[n]
            if node is None:
                new = self._view(n)
            else:
                try:        # _view, inlined: it runs after nearly every event
                    new = node.view()
                except Exception as e:
                    raise self._view_failed(n, e) from e
                new["up"] = self.up[n]
            old = self.views[n]
            if new != old:
                changes = {k: v for k, v in new.items() if old.get(k, _MISSING) != v}
                if len(old) != len(new) or old.keys() != new.keys():
                    for k in old:
                        if k not in new:
                            changes[k] = None
                self.views[n] = new
                seq = self.seq      # _emit, inlined: one state event per event that changes a view
                self.seq = seq + 1
                self.trace.append({"type": "state", "node": n, "changes": changes, "seq": seq, "t": self.now})
        if self._after_event is not None:
            try:
                found = self._after_event(self, n, msg)
            except Exception as e:
                raise ProtocolError(f"{self.proto.name}: checker failed after an event at {n} "
                                    f"t={self.now}: {type(e).__name__}: {e}") from e
            if found:
                self._report(found)

    def _report(self, found: list[Violation]) -> None:
        for v in found:
            key = (v.invariant, v.message)
            if key in self._seen_violations:
                continue
            self._seen_violations.add(key)
            d = v.as_dict()
            d["t"] = self.now
            self.violations.append(d)
            if self.tracing:
                self._emit({"type": "violation", **v.as_dict()})

    def _call(self, n: str, what: str, detail, fn, *args) -> None:
        """fn(ctx, *args) for node n; a handler that raises becomes a ProtocolError naming
        `what(detail)` (formatted only then: this runs for every event)."""
        try:
            fn(self.ctx[n], *args)
        except ProtocolError:
            raise
        except Exception as e:
            raise self._handler_failed(n, what, detail, e) from e

    def _handler_failed(self, n: str, what: str, detail, e: Exception) -> ProtocolError:
        where = what if detail is None else f"{what}({detail})"
        return ProtocolError(f"{self.proto.name}: node {n} failed in {where} at t={self.now}: "
                             f"{type(e).__name__}: {e}")

    # ------------------------------------------------------------ running

    def step_entry(self) -> bool:
        """Process one heap entry. Returns False when the run is over."""
        return self._advance(self.until, 1)

    def step_entries(self, n: int) -> bool:
        """Process up to n heap entries. Returns False when the run is over (a reader
        that streams the trace takes sim.trace between calls and clears it)."""
        return self._advance(self.until, n)

    def _advance(self, t: int, budget: int) -> bool:
        """Process up to `budget` heap entries due at or before virtual time t (<= until).

        Returns False when nothing more is due by t (and, when t is the end of the
        run, finishes it) or the run is over; True when the budget ran out first.
        One loop for step_entry, run and run_until: a call per event is a fifth of
        an untraced run's cost.
        """
        heap = self._heap
        timers = self.timers
        pop = heapq.heappop
        limit, entry_limit = self._max_events, 4 * self._max_events
        while budget > 0:
            if self.done:
                return False
            while heap:     # discard cancelled or replaced timers unseen
                head = heap[0]
                if head[3] == _TIMER and timers[head[4][0]].get(head[4][1]) != head[2]:
                    pop(heap)
                    continue
                break
            if not heap or heap[0][0] > t:
                if t >= self.until:
                    self._finish()
                return False
            now, _prio, _token, kind, payload = pop(heap)
            self.now = now
            self.handled += 1
            if now >= self.min_action_at:
                self.min_action_at = now + 1
            if kind == _DELIVER:
                self._deliver(payload)
            elif kind == _TIMER:
                n, name = payload
                del timers[n][name]
                self._fire_timer(n, name)
            elif kind == _DO:
                self._apply(payload)
            else:  # _START
                up = [n for n in self.ids if self.up[n]]
                for n in up:
                    self._call(n, "on_start", None, self.nodes[n].on_start)
                for n in up:
                    self._after(n, None)
            # The trace limit; untraced runs are bounded by heap entries instead (a protocol
            # that re-arms a zero-delay timer forever must not hang a check or a server).
            if self.seq >= limit or self.handled >= entry_limit:
                self.stopped_reason = f"event limit {limits.MAX_EVENTS} reached"
                if self.tracing:
                    self._emit({"type": "note", "key": "engine.event_limit", "args": {"limit": limits.MAX_EVENTS}})
                self._finish()
                return False
            budget -= 1
        return True

    def _peek_time(self) -> int | None:
        """Time of the next live entry; cancelled or replaced timers are discarded unseen."""
        heap = self._heap
        timers = self.timers
        while heap:
            head = heap[0]
            if head[3] == _TIMER and timers[head[4][0]].get(head[4][1]) != head[2]:
                heapq.heappop(heap)
                continue
            return head[0]
        return None

    def _deliver(self, msg: Message) -> None:
        net = self.network
        if net.inflight.pop(msg.id, None) is None:
            return  # dropped by a person while in flight
        reason = None
        if net.lost and msg.id in net.lost:
            net.lost.discard(msg.id)
            reason = "loss"
        elif net.group_of is not None and net.separated(msg.src, msg.dst):
            reason = "partition"
        elif not self.up[msg.dst]:
            reason = "crashed"
        if reason is not None:
            if self.tracing:
                self._emit({"type": "drop", "id": msg.id, "reason": reason})
            return
        if self.tracing:
            seq = self.seq      # _emit, inlined
            self.seq = seq + 1
            self.trace.append({"type": "deliver", "id": msg.id, "seq": seq, "t": self.now})
        self.delivered += 1
        n = msg.dst
        try:        # _call, inlined: deliveries are most of the events
            self.nodes[n].on_message(self.ctx[n], msg)
        except ProtocolError:
            raise
        except Exception as e:
            raise self._handler_failed(n, "on_message", msg.kind, e) from e
        if self.tracing or self._after_event is not None:
            self._after(n, msg)

    def _fire_timer(self, n: str, name: str, forced: bool = False) -> None:
        if self.tracing:
            ev = {"type": "timer", "node": n, "name": name}
            if forced:           # a person's "timeout" action, not the clock
                ev["forced"] = True
            self._emit(ev)
        self._call(n, "on_timer", name, self.nodes[n].on_timer, name)
        self._after(n, None)

    def run(self) -> Simulation:
        """Run to the end. The cyclic garbage collector is paused meanwhile: a kept
        trace is hundreds of thousands of young dicts, and collecting them over and
        over cost a third of a traced run while finding nothing to free (trace
        events hold no cycles; reference counting frees whatever dies)."""
        paused = gc.isenabled()
        if paused:
            gc.disable()
        try:
            self._advance(self.until, _ALL)
        finally:
            if paused:
                gc.enable()
        return self

    def run_until(self, t: int) -> None:
        """Process every event at or before virtual time t."""
        t = min(t, self.until)
        self._advance(t, _ALL)
        self.min_action_at = max(self.min_action_at, t + 1)

    def step_event(self) -> bool:
        """Advance until at least one trace event is produced (for 'step')."""
        start = self.seq
        while self.seq == start:
            if not self.step_entry():
                return False
        return True

    def next_event_time(self) -> int | None:
        return None if self.done else self._peek_time()

    def _finish(self) -> None:
        if self.done:
            return
        self.done = True
        # Eventual properties only for a run that ended quietly, not one cut off at the event limit.
        if (self.checker is not None and self.stopped_reason is None and all(self.up.values())
                and self.network.group_of is None):
            found = self.checker.on_quiet(self)
            for v in found:
                v.eventual = True
            if found:
                self._report(found)

    # ------------------------------------------------------------ actions

    @property
    def last_action_at(self) -> int | None:
        """Time of the last action (fault or request) scheduled so far; for eventual checks."""
        return self.actions[-1]["at"] if self.actions else None

    def _schedule_action(self, a: dict) -> None:
        self.actions.append(a)
        self._push(a["at"], _ACTION, _DO, a)

    def add_action(self, action: dict, strict: bool = False) -> dict:
        """Validate and schedule a live action; it must lie after every processed event.

        With strict=True the action must also make sense right now (crash an up
        node, drop a message that is in flight...), so a person gets a clear
        error instead of a silently skipped action.
        """
        a = validate_action(action, self.proto, self.ids, self.until)
        if a["at"] < self.min_action_at:
            raise ScenarioError(f"action at t={a['at']} is in the past (earliest {self.min_action_at}); fork instead")
        if len(self.actions) >= limits.MAX_ACTIONS:
            raise ScenarioError(f"too many actions (limit {limits.MAX_ACTIONS})")
        if strict:
            problem = self.live_problem(a)
            if problem:
                raise ScenarioError(problem)
        self._schedule_action(a)
        return a

    def why_not(self, a: dict) -> tuple[str, dict] | None:
        """Why action `a` would be skipped if applied now: (code, args) for WHY_NOT, or None."""
        do = a["do"]
        n = a.get("node")
        if do == "crash" and not self.up[n]:
            return "already_crashed", {"node": n}
        if do == "restart" and self.up[n]:
            return "not_crashed", {"node": n}
        if do in ("request", "timeout") and not self.up[n]:
            return "node_crashed", {"node": n}
        if do == "timeout" and a["timer"] not in self.timers[n]:
            return "timer_not_armed", {"node": n, "timer": a["timer"]}
        if do in ("drop", "duplicate") and a["msg"] not in self.network.inflight:
            return "not_in_flight", {"msg": a["msg"]}
        if do == "heal" and self.network.groups is None:
            return "not_partitioned", {}
        return None

    def live_problem(self, a: dict) -> str | None:
        """Why action `a` would be skipped if applied now, in English, or None."""
        why = self.why_not(a)
        return WHY_NOT[why[0]].format(**why[1]) if why else None

    def _skip(self, a: dict, reason: str, why: str, **args) -> None:
        """Note a skipped action: `reason` in English, `why` a code the page
        translates as "engine.skipped.<why>" with `args` (node, msg, timer)."""
        if self.tracing:
            self._emit({"type": "note", "key": "engine.skipped",
                        "args": {"do": a["do"], "reason": reason, "why": why, **args}})

    def _apply(self, a: dict) -> None:
        do = a["do"]
        net = self.network
        if do == "crash":
            n = a["node"]
            if not self.up[n]:
                return self._skip(a, "already crashed", "already_crashed", node=n)
            if not self.tracing:          # keep its last view to show (greyed) while it is down
                self.views[n] = self._view(n)
            self.up[n] = False
            self.nodes[n] = None          # volatile state is gone
            self.timers[n] = {}           # and so are its timers
            if self.tracing:
                self._emit({"type": "crash", "node": n})
            self._after(n, None)
        elif do == "restart":
            n = a["node"]
            if self.up[n]:
                return self._skip(a, "not crashed", "not_crashed", node=n)
            self.up[n] = True
            self.nodes[n] = self._new_node(n)   # rebuilt from disk only
            if self.tracing:
                self._emit({"type": "restart", "node": n})
            self._call(n, "on_recover", None, self.nodes[n].on_recover)
            self._after(n, None)
        elif do == "drop":
            msg = net.inflight.pop(a["msg"], None)
            if msg is None:
                return self._skip(a, f"message {a['msg']} is not in flight", "not_in_flight", msg=a["msg"])
            net.lost.discard(msg.id)
            if self.tracing:
                self._emit({"type": "drop", "id": msg.id, "reason": "user"})
            self._after(None, None)
        elif do == "duplicate":
            msg = net.inflight.get(a["msg"])
            if msg is None:
                return self._skip(a, f"message {a['msg']} is not in flight", "not_in_flight", msg=a["msg"])
            tracing = self.tracing
            self.tracing = False    # the copy is announced as one duplicate event
            new_id = self._send(msg.src, msg.dst, msg.kind, msg.body, False)
            self.tracing = tracing
            if tracing:
                self._emit({"type": "duplicate", "id": msg.id, "new_id": new_id,
                            "deliver_at": net.inflight[new_id].deliver_at})
        elif do == "partition":
            groups = net.partition(a["groups"], self.ids)
            if self.tracing:
                self._emit({"type": "partition", "groups": groups})
        elif do == "heal":
            net.heal()
            if self.tracing:
                self._emit({"type": "heal"})
        elif do == "request":
            n = a["node"]
            if self.tracing:
                self._emit({"type": "request", "node": n, "op": a["op"], "arg": a.get("arg")})
            if not self.up[n]:
                return self._skip(a, f"{n} is crashed", "node_crashed", node=n)
            self._call(n, "on_request", a["op"], self.nodes[n].on_request, a["op"], a.get("arg"))
            self._after(n, None)
        elif do == "timeout":
            n, name = a["node"], a["timer"]
            if not self.up[n] or name not in self.timers[n]:
                return self._skip(a, f"timer {name} is not armed on {n}", "timer_not_armed", node=n, timer=name)
            del self.timers[n][name]
            self._fire_timer(n, name, forced=True)
        elif do == "set":
            p, v = a["param"], a["value"]
            setattr(net, p, list(v) if p == "latency" else v)
            if self.tracing:
                self._emit({"type": "set", "param": p, "value": v})

    # ------------------------------------------------------------ reading

    def armed_spans(self) -> dict[str, dict[str, list[int]]]:
        """Timers armed now on each live node: {node: {timer: [set at, due at]}} (virtual ms)."""
        return {n: {name: list(self.timer_spans[n][name]) for name in sorted(self.timers[n])}
                for n in self.ids if self.up[n]}

    def node_view(self, n: str) -> dict:
        return self._view(n)

    def observe(self, n: str):
        """What a checker may read of node n now (Node.observe), or None while it is down."""
        node = self.nodes[n]
        return None if node is None else node.observe()

    def snapshot(self) -> dict:
        """The whole visible state now (what a joining client needs)."""
        return {
            "t": self.now,
            "nodes": {n: self._view(n) for n in self.ids},
            "inflight": [m.as_dict() for m in self.network.inflight.values()],
            "partition": self.network.groups,
            "timers": {n: sorted(self.timers[n]) for n in self.ids},
            "violations": list(self.violations),
            "done": self.done,
        }

    def summary(self) -> dict:
        return {"type": "summary", "events": self.seq if self.tracing else self.handled, "t": self.now,
                "violations": list(self.violations),
                "nodes": {n: self._view(n) for n in self.ids}}


_MISSING = object()


def run_scenario(scenario: Scenario, *, trace: bool = True, check: bool = True) -> Simulation:
    return Simulation(scenario, trace=trace, check=check).run()
