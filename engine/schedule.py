"""Fault schedules written in roles and steps, so one schedule drives many protocols.

A scenario's actions name node ids and message ids ("crash c at 300", "drop message
14"): they mean something only to the protocol they were written for. A schedule
names shared roles and steps instead ("crash the coordinator right after the last
vote arrives", "drop the first decision message"), and `plan` turns it into an
ordinary scenario for any protocol that declares a `Comparison`
(engine.protocol): a role becomes the node that holds it at that moment, read from
the views of the run at that moment, and a step becomes the message kinds that
carry it. What a protocol lacks (no coordinator in the outbox pattern, no vote step
in a saga) is reported, never guessed, so the page can say so on its canvas.

A schedule (JSON; docs/compare.md):

    {"until": 6000,
     "items": [
       {"at": 100, "do": "request"},                             one unit of work
       {"after": "vote", "nth": "all", "delay": 1,               right after the last vote
        "do": "crash", "role": "coordinator"},                   arrives (all = one per
       {"at": 2300, "do": "restart", "role": "coordinator"},     holder of "participant")
       {"at": 500, "do": "partition", "isolate": "leader"},      [[leader], everyone else]
       {"at": 900, "do": "heal"},
       {"do": "drop", "step": "decision", "nth": 1},             the first decision message
       {"at": 2100, "do": "drop", "step": "replicate"},         the first sent from t=2100
       {"do": "duplicate", "step": "decision", "nth": 1, "to": "participant:2"},
       {"at": 50, "do": "fail", "role": "participant:2"}]}       its next step fails

A role reference is "name" (the first holder, in node order) or "name:k" (the k-th).
It binds to a node the first time it is used and keeps that node afterwards, so the
coordinator that crashed is the one that restarts; "rebind": true reads it afresh
(the new leader). A request goes to its role's holder afresh, but stays with the node
it went to last while that node still runs and holds the role, as a client keeps the
leader it found (a deposed leader cut off in a minority may still hold the role: its
clients are the ones not served); a crash aims at whoever holds the role at that moment.
Items are applied in order and must not go back in time.

Determinism: planning runs an ordinary scenario, adding each action live as it is placed
(the same trace as replaying the final scenario), so the plan is a pure function of
(protocol, schedule, seed): the same scenario comes out in any process.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from . import limits
from .protocols import registry
from .scenario import ScenarioError, _int, from_dict
from .sim import Simulation

ITEM_KINDS = ("request", "crash", "restart", "partition", "heal", "drop", "duplicate", "fail")
ITEM_KEYS = ("at", "after", "nth", "delay", "do", "role", "isolate", "groups", "step", "to",
             "from", "rebind", "arg")
MAX_ITEMS = 40
MAX_UNTIL = 120_000


@dataclass
class Outcome:
    """What became of one schedule item in one protocol's plan."""

    index: int
    do: str
    status: str                     # applied | no_role | no_step | unresolved
    at: int | None = None
    nodes: list[str] = field(default_factory=list)
    what: str = ""                  # the role or step it lacked, or why it could not be placed

    def as_dict(self) -> dict:
        d = {"index": self.index, "do": self.do, "status": self.status}
        if self.at is not None:
            d["at"] = self.at
        if self.nodes:
            d["nodes"] = list(self.nodes)
        if self.what:
            d["what"] = self.what
        return d


@dataclass
class Plan:
    """One protocol's run of a schedule: the scenario to replay and what each item became."""

    protocol: str
    scenario: dict
    outcomes: list[Outcome]
    starts: list[int]               # when each unit of work was requested (ms)
    sim: Simulation | None = None   # the scenario's finished, traced, checked run

    @property
    def missing(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.status != "applied"]


# ---------------------------------------------------------------- validation

def _ref(where: str, v) -> str:
    if not isinstance(v, str) or not v or len(v) > 40:
        raise ScenarioError(f"{where} must be a role name such as \"coordinator\" or \"participant:2\"")
    name, _, k = v.partition(":")
    if not name.replace("_", "").isalnum() or (k and not (k.isdigit() and 1 <= int(k) <= 99)):
        raise ScenarioError(f"{where} {v!r} is not a role name such as \"coordinator\" or \"participant:2\"")
    return v


def validate(schedule) -> dict:
    """A schedule checked field by field (ScenarioError with one clear sentence)."""
    if not isinstance(schedule, dict):
        raise ScenarioError("a schedule must be a JSON object with \"items\"")
    unknown = sorted(set(schedule) - {"until", "items", "name"})
    if unknown:
        raise ScenarioError(f"unknown schedule field {unknown[0]!r}; expected until, items")
    until = _int("until", schedule.get("until", 10_000), 100, MAX_UNTIL)
    items = schedule.get("items", [])
    if not isinstance(items, list) or len(items) > MAX_ITEMS:
        raise ScenarioError(f"items must be a list of at most {MAX_ITEMS} faults and requests")
    out = []
    for i, it in enumerate(items):
        where = f"item {i + 1}"
        if not isinstance(it, dict):
            raise ScenarioError(f"{where} must be an object")
        bad = sorted(set(it) - set(ITEM_KEYS))
        if bad:
            raise ScenarioError(f"{where}: unknown field {bad[0]!r}")
        do = it.get("do")
        if do not in ITEM_KINDS:
            raise ScenarioError(f"{where}: do must be one of {', '.join(ITEM_KINDS)}, got {do!r}"[:200])
        a = {"do": do}
        if do in ("drop", "duplicate"):
            if "after" in it:
                raise ScenarioError(f"{where}: a {do} names its message by step and nth (and at: "
                                    "counting from that time), not by another step")
            if "at" in it:
                a["at"] = _int(f"{where} at", it["at"], 0, until)
            a["step"] = _ref(f"{where} step", it.get("step"))
            a["nth"] = _int(f"{where} nth", it.get("nth", 1), 1, 1000)
            for k in ("to", "from"):
                if k in it:
                    a[k] = _ref(f"{where} {k}", it[k])
        else:
            if ("at" in it) == ("after" in it):
                raise ScenarioError(f"{where}: give exactly one of at (ms) or after (a step)")
            if "at" in it:
                a["at"] = _int(f"{where} at", it["at"], 0, until)
            else:
                a["after"] = _ref(f"{where} after", it["after"])
                nth = it.get("nth", 1)
                a["nth"] = nth if nth == "all" else _int(f"{where} nth", nth, 1, 1000)
                a["delay"] = _int(f"{where} delay", it.get("delay", 1), 1, until)
        if do in ("crash", "restart", "fail") or (do == "request" and "role" in it):
            a["role"] = _ref(f"{where} role", it.get("role"))
        if do == "partition":
            if ("isolate" in it) == ("groups" in it):
                raise ScenarioError(f"{where}: a partition gives isolate (a role) or groups (lists of roles)")
            if "isolate" in it:
                a["isolate"] = _ref(f"{where} isolate", it["isolate"])
            else:
                g = it["groups"]
                if (not isinstance(g, list) or not 1 <= len(g) <= 9
                        or not all(isinstance(x, list) and 1 <= len(x) <= 9 for x in g)):
                    raise ScenarioError(f"{where}: groups must be lists of role names")
                a["groups"] = [[_ref(f"{where} groups", r) for r in x] for x in g]
        if "rebind" in it:
            if not isinstance(it["rebind"], bool):
                raise ScenarioError(f"{where}: rebind must be true or false")
            a["rebind"] = it["rebind"]
        if "arg" in it:
            if not isinstance(it["arg"], str) or len(it["arg"]) > 40:
                raise ScenarioError(f"{where}: arg must be a short text")
            a["arg"] = it["arg"]
        out.append(a)
    return {"until": until, "items": out}


# ---------------------------------------------------------------- planning

class _Planner:
    """Turns one validated schedule into one protocol's scenario, item by item."""

    def __init__(self, proto, schedule: dict, seed: int, base: dict | None):
        if proto.compare is None:
            raise ScenarioError(f"{proto.name} declares no comparison (roles and steps); it cannot run a schedule")
        self.proto = proto
        self.cmp = proto.compare
        self.schedule = schedule
        self.base = {"protocol": proto.name, "seed": seed, "until": schedule["until"], **(base or {})}
        self.actions: list[dict] = []
        self.params: dict = dict(self.base.get("params", {}))
        self.bound: dict[str, str] = {}
        self.unplaced: dict[str, Outcome] = {}    # role reference -> the item that could not bind it
        self.clients: dict[str, str] = {}     # role reference -> the node requests go to
        self.units = 0
        self.starts: list[int] = []
        self.last_at = 0
        self.sim: Simulation | None = None

    def scenario(self) -> dict:
        return {**self.base, "params": dict(self.params), "actions": [dict(a) for a in self.actions]}

    # -- the planner's run
    #
    # One run serves the whole plan: it advances item by item, each action is added live
    # the moment it is placed (as a person's action joins a live session), and it runs on
    # to the end as the plan's finished run. Live actions make the same trace as a replay
    # of the final scenario (tests/test_compare.py holds that), so costs read it directly.
    # It is rebuilt, replaying the actions so far, only when a search ran it to its end
    # or a parameter changed from t=0 (2PC's no_voter).

    def _run(self) -> Simulation:
        if self.sim is None or self.sim.done:
            self.sim = Simulation(from_dict(self.scenario()), protocol=self.proto)
            self.sim.step_entry()         # boot: every node's first view
        return self.sim

    def _state_at(self, t: int) -> Simulation:
        """The run holding the state an action stamped t meets (everything before t)."""
        sim = self._run()
        if sim.now >= t and sim.handled > 1:      # it went past t (a search): replay to t
            self.sim = None
            sim = self._run()
        if t > 0:
            sim.run_until(t - 1)
        return sim

    def _add(self, action: dict) -> None:
        if len(self.actions) >= limits.MAX_ACTIONS:
            raise ScenarioError(f"too many actions (limit {limits.MAX_ACTIONS})")
        self.actions.append(action)
        if self.sim is not None and not self.sim.done:
            self.sim.add_action(action)

    def _search(self, match) -> dict | None:
        """Run on until `match(sim, event)` holds for a trace event (from the run's start,
        so counts include what has already happened); None when the run ended first."""
        sim = self._run()
        mark = 0
        while True:
            trace = sim.trace
            for ev in trace[mark:]:
                if match(sim, ev):
                    return ev
            mark = len(trace)
            if not sim.step_entry():
                self.sim = None           # ran to its end: rebuilt on next use
                return None

    # -- roles

    def _holders(self, sim: Simulation, name: str, want_up: bool | None) -> list[str]:
        kinds = self.cmp.roles.get(name, ())
        out = []
        for n in sim.ids:
            if want_up is not None and sim.up[n] != want_up:
                continue
            if sim.views[n].get("role") in kinds:     # the last view (a crashed node keeps its own)
                out.append(n)
        return out

    def _kth_holder(self, sim: Simulation, ref: str, want_up: bool | None) -> str | None:
        """The node "name" (the first holder, in node order) or "name:k" (the k-th) means now."""
        name, _, k = ref.partition(":")
        holders = self._holders(sim, name, want_up)
        i = int(k) - 1 if k else 0
        return holders[i] if i < len(holders) else None

    def _node(self, sim: Simulation, ref: str, want_up: bool | None, rebind: bool = False) -> str | None:
        """The node a role reference means now, binding it on first use."""
        if ref in self.bound and not rebind:
            return self.bound[ref]
        node = self._kth_holder(sim, ref, want_up)
        if node is not None:
            self.bound[ref] = node
        return node

    def _holds(self, sim: Simulation, node: str | None, ref: str) -> bool:
        kinds = self.cmp.roles.get(ref.partition(":")[0], ())
        return node is not None and sim.up[node] and sim.views[node].get("role") in kinds

    def _still(self, sim: Simulation, ref: str) -> bool:
        """Does the node a reference was bound to still run and hold that role? (A crash
        aims at whoever holds the role now; a restart at the node that crashed.)"""
        return self._holds(sim, self.bound.get(ref), ref)

    def _client_target(self, sim: Simulation, ref: str, rebind: bool) -> str | None:
        """Where a request goes: the node the last one went to while it still runs and
        holds the role, else the first running holder. Kept apart from the bindings of
        crashes and restarts, so a write to the new leader does not move a restart."""
        node = None if rebind else self.clients.get(ref)
        if not self._holds(sim, node, ref):
            node = self._kth_holder(sim, ref, True)
            if node is not None:
                self.clients[ref] = node
        return node

    def _has_role(self, ref: str) -> bool:
        return ref.partition(":")[0] in self.cmp.roles

    # -- time

    def _step_time(self, step: str, nth) -> tuple[int | None, str]:
        """When the nth message of a step is delivered ("all": one per participant)."""
        kinds = set(self.cmp.steps[step])
        if nth == "all":
            nth = max(1, len(self._holders(self._run(), "participant", None)))
        sent: set[int] = set()
        seen = [0]

        def match(sim, ev):
            if ev["type"] == "send" and ev["kind"] in kinds:
                sent.add(ev["id"])
            elif ev["type"] == "deliver" and ev["id"] in sent:
                seen[0] += 1
                return seen[0] == nth
            return False
        ev = self._search(match)
        return (ev["t"], "") if ev else (None, f"only {seen[0]} {step} message(s) arrived")

    def _message(self, item: dict) -> tuple[dict | None, str]:
        """The nth message of a step (from/to a role, sent at `at` or later), as its send event."""
        kinds = set(self.cmp.steps[item["step"]])
        seen = [0]

        def match(sim, ev):
            if ev["type"] != "send" or ev["kind"] not in kinds or ev["t"] < item.get("at", 0):
                return False
            if not self._matches(sim, ev, item):
                return False
            seen[0] += 1
            return seen[0] == item["nth"]
        ev = self._search(match)
        return (ev, "") if ev else (None, f"only {seen[0]} {item['step']} message(s) were sent")

    def _matches(self, sim: Simulation, ev: dict, item: dict) -> bool:
        for key, end in (("to", "dst"), ("from", "src")):
            if key in item:
                node = self._node(sim, item[key], None)
                if node != ev[end]:
                    return False
        return True

    # -- items

    def run(self) -> Plan:
        outcomes = []
        for i, it in enumerate(self.schedule["items"]):
            o = self._item(i, it)
            if o.status != "applied":
                for ref in self._refs(it):
                    if ref not in self.bound:
                        self.unplaced.setdefault(ref, o)
            outcomes.append(o)
        sim = self._run()
        sim.run()
        return Plan(self.proto.name, self.scenario(), outcomes, self.starts, sim)

    def _item(self, i: int, it: dict) -> Outcome:
        do = it["do"]
        if do == "restart" and it["role"] in self.unplaced and it["role"] not in self.bound:
            # Its crash could not be placed: the restart falls with it, for the same reason.
            first = self.unplaced[it["role"]]
            return Outcome(i, do, first.status, what=first.what)
        for ref in self._refs(it):
            if not self._has_role(ref):
                return Outcome(i, do, "no_role", what=ref.partition(":")[0])
        for key in ("step", "after"):
            if key in it and it[key] not in self.cmp.steps:
                return Outcome(i, do, "no_step", what=it[key])
        if do == "fail" and self.cmp.fail is None:
            return Outcome(i, do, "no_step", what="fail")
        if do in ("drop", "duplicate"):
            return self._message_item(i, it)
        if "at" in it:
            at = it["at"]
        else:
            t, why = self._step_time(it["after"], it["nth"])
            if t is None:
                return Outcome(i, do, "unresolved", what=why)
            at = t + it["delay"]
        self._in_order(i, at)
        if at > self.base["until"]:
            return Outcome(i, do, "unresolved", what=f"t={at} is after the end of the run")
        self.last_at = at
        sim = self._state_at(at)
        action, nodes, why = self._action(sim, it, at)
        if action is None:
            return Outcome(i, do, "unresolved", at=at, what=why)
        if action:
            self._add(action)
        return Outcome(i, do, "applied", at=at, nodes=nodes)

    def _in_order(self, i: int, at: int) -> None:
        """Items are placed in time order: item i may not fall before the one above it."""
        if at < self.last_at:
            raise ScenarioError(f"item {i + 1} falls at t={at}, before the item above it (t={self.last_at}); "
                                "list items in time order")

    def _refs(self, it: dict) -> list[str]:
        refs = [it[k] for k in ("role", "isolate", "to", "from") if k in it]
        for g in it.get("groups", []):
            refs.extend(g)
        if it["do"] == "request" and "role" not in it:
            refs.append(self.cmp.request[0])
        return refs

    def _action(self, sim: Simulation, it: dict, at: int) -> tuple[dict | None, list[str], str]:
        do = it["do"]
        if do == "heal":
            return {"at": at, "do": "heal"}, [], ""
        if do == "partition":
            if "isolate" in it:
                node = self._node(sim, it["isolate"], True, it.get("rebind", False))
                if node is None:
                    return None, [], f"no node is {it['isolate']} at t={at}"
                groups = [[node], [n for n in sim.ids if n != node]]
            else:
                groups = []
                for g in it["groups"]:
                    nodes = [self._node(sim, r, None, it.get("rebind", False)) for r in g]
                    if None in nodes:
                        return None, [], f"no node holds every role of {g} at t={at}"
                    groups.append(nodes)
            return {"at": at, "do": "partition", "groups": groups}, sorted({n for g in groups for n in g}), ""
        ref = it.get("role", self.cmp.request[0])
        want = {"crash": True, "restart": False, "fail": None, "request": True}[do]
        if do == "request":
            node = self._client_target(sim, ref, it.get("rebind", False))
        else:
            fresh = do == "crash" and not self._still(sim, ref)
            node = self._node(sim, ref, want, it.get("rebind", False) or fresh)
        if node is None and do == "request":
            self.starts.append(at)        # a unit nobody could take: the client is not served
            return None, [], f"no running node is {ref} at t={at}"
        if node is None:
            return None, [], f"no {'running ' if want else ''}node is {ref} at t={at}"
        if do in ("crash", "restart"):
            return {"at": at, "do": do, "node": node}, [node], ""
        if do == "fail":
            how, name = self.cmp.fail
            takers = next((op.roles for op in self.proto.operations if op.name == name), ())
            role = sim.views[node].get("role")
            if how == "request" and takers and role not in takers:
                # Only the roles the operation is for can refuse; a refusal elsewhere is not faked.
                return None, [node], f"{node} ({role}) cannot {name}: only a {' or '.join(takers)} can"
            if how == "param":       # a number picked before the run (2PC's no_voter)
                self.params[name] = sim.ids.index(node)
                self.sim = None      # the run so far had another setting: replay it
                return {}, [node], ""
            return {"at": at, "do": "request", "node": node, "op": name}, [node], ""
        _role, op, arg = self.cmp.request
        self.units += 1
        self.starts.append(at)
        a = {"at": at, "do": "request", "node": node, "op": op}
        arg = it.get("arg", arg)
        if arg is not None:
            a["arg"] = arg.replace("{i}", str(self.units))
        return a, [node], ""

    def _message_item(self, i: int, it: dict) -> Outcome:
        ev, why = self._message(it)
        if ev is None:
            return Outcome(i, it["do"], "unresolved", what=why)
        at = ev["t"] + 1
        if at > ev["deliver_at"]:
            return Outcome(i, it["do"], "unresolved", what="the message arrives the moment it is sent")
        self._in_order(i, at)
        self.last_at = at
        self._add({"at": at, "do": it["do"], "msg": ev["id"]})
        return Outcome(i, it["do"], "applied", at=at, nodes=[ev["src"], ev["dst"]])


def plan(protocol: str, schedule: dict, seed: int = 1, base: dict | None = None) -> Plan:
    """One protocol's scenario for a schedule (validated here), and what each item became.
    `base` holds scenario fields (nodes, params, network) to start from."""
    proto = registry.get(protocol)
    return _Planner(proto, validate(schedule), seed, base).run()
