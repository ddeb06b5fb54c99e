"""The public protocol API.

A protocol is one module that defines a subclass of `Protocol` and exposes an
instance as `PROTOCOL`. It declares what the page and the checker need to know
(roles, parameters, bug toggles, presets, inspector fields, client operations,
translations) and builds its nodes. Nodes are sans-I/O state machines: they
react to `on_start`, `on_message`, `on_timer`, `on_request` and, after a
restart, `on_recover`, and act only through the `Context` they are given.

Durable state lives in `node.disk` (a dict the engine keeps across crashes);
every other attribute of a node is volatile and is lost when it crashes: a
restart builds a fresh node object around the same disk and calls
`on_recover`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field, replace
from typing import Any


@dataclass(frozen=True)
class Param:
    """A numeric protocol parameter the user may set (integers or floats)."""

    name: str
    default: int | float
    min: int | float
    max: int | float
    help: str = ""        # English; empty = strings["param.<name>.help"]
    kind: str = "int"  # "int" | "float" | "choice"
    choices: tuple[str, ...] = ()

    def describe(self) -> dict:
        d = {"name": self.name, "default": self.default, "min": self.min, "max": self.max,
             "help": self.help, "kind": self.kind}
        if self.choices:
            d["choices"] = list(self.choices)
        return d


@dataclass(frozen=True)
class Bug:
    """A named way to break a rule the real protocol needs."""

    name: str
    help: str = ""  # English; empty = strings["bug.<name>"]

    def describe(self) -> dict:
        return {"name": self.name, "help": self.help}


@dataclass(frozen=True)
class Operation:
    """A client request a person can send to a node (menu entry)."""

    name: str
    roles: tuple[str, ...] = ()   # roles that accept it; empty = any node
    arg: str | bool | None = None  # a free-text argument's placeholder (True: strings["op.<name>.arg"]), None = none
    help: str = ""                # English; empty = strings["op.<name>.help"]
    default: str | None = None    # the argument the menu suggests (pre-filled, editable)

    def describe(self) -> dict:
        return {"name": self.name, "roles": list(self.roles), "arg": self.arg, "help": self.help,
                "default": self.default}


@dataclass(frozen=True)
class Field:
    """A field of a node's view, shown in the inspector."""

    name: str
    durable: bool = False
    help: str = ""   # English; empty = strings["field.<name>.help"] (or none)

    def describe(self) -> dict:
        return {"name": self.name, "durable": self.durable, "help": self.help}


@dataclass(frozen=True)
class Picture:
    """A piece of a node's view the canvas draws with the node, by generic code that
    knows no protocol (static/js/pictures.js; docs/architecture.md, "State pictures").

    kind "tally": view[field] counts votes or acks (a list or dict: its length; a number:
      itself); `per` = it is a dict of such tallies keyed by an item (2PC's votes per
      transaction), of which the newest item's is drawn. Drawn as "count/quorum", where
      the quorum is `quorum` ("majority", "all", or "f+1": floor((n - 1) / 2) + 1, as in
      Viewstamped Replication) of the n nodes whose role is in `among` (every node when
      empty), or a fixed number.
    kind "values": view[field] is a dict of business values (balance, stock), each drawn
      as a chip labelled strings["value.<key>"]; `keys` lists every key it may hold (so
      each has its strings).
    kind "locks": view[field] is a dict resource -> holder, each drawn as a lock chip.
    kind "timers": the armed timers in `names` are drawn as rings round the node that
      close as each nears firing.
    `when` {view key: [values]}: drawn only while each key's value is one of these.
    """

    kind: str
    field: str = ""
    quorum: str | int = "majority"
    among: tuple[str, ...] = ()
    per: bool = False
    names: tuple[str, ...] = ()
    keys: tuple[str, ...] = ()
    when: dict = dataclasses.field(default_factory=dict)   # (`field` is a name here)

    def describe(self) -> dict:
        d = {"kind": self.kind}
        if self.field:
            d["field"] = self.field
        if self.kind == "tally":
            d.update(quorum=self.quorum, among=list(self.among), per=self.per)
        if self.names:
            d["names"] = list(self.names)
        if self.keys:
            d["keys"] = list(self.keys)
        if self.when:
            d["when"] = {k: [v] if isinstance(v, str) else list(v) for k, v in self.when.items()}
        return d


@dataclass(frozen=True)
class Preset:
    """A named scenario that shows one lesson.

    `scenario` holds scenario fields (nodes, params, network, bugs, actions,
    until, seed) that override the protocol's defaults. `lesson` says in one
    English sentence what the run shows. Both texts live in the protocol's
    strings under "preset.<name>" and "preset.<name>.lesson"; left empty
    here, the protocol fills them in from there (write English once).
    """

    name: str
    title: str = ""
    lesson: str = ""
    scenario: dict = field(default_factory=dict)
    # Invariants the lesson shows breaking with no bug toggle on: the protocol's own
    # limits (3PC under a partition). A preset with neither bugs nor expects breaks none.
    expects: tuple[str, ...] = ()
    # The story in chapters: each a trigger (engine.scenario.TRIGGER_KINDS: {"note": key,
    # "node"?: id}, {"violation": True}, {"send": kind} or {"at": ms}), found in the trace
    # after the previous chapter's. Chapter i's text is strings["preset.<name>.chapter.<i>.title"]
    # and ".body" (i from 1). Empty: the protocol's key_notes are the chapters.
    chapters: tuple[dict, ...] = ()

    def describe(self) -> dict:
        d = {"name": self.name, "title": self.title, "lesson": self.lesson, "scenario": self.scenario}
        if self.expects:
            d["expects"] = list(self.expects)
        if self.chapters:
            d["chapters"] = [{"on": dict(c), "key": f"preset.{self.name}.chapter.{i}"}
                             for i, c in enumerate(self.chapters, 1)]
        return d

    def chapter_texts(self, strings: dict) -> list[dict]:
        """The chapters as a lesson holds them: {"on", "title": {en, zh}, "body": {en, zh}}."""
        out = []
        for i, c in enumerate(self.chapters, 1):
            key = f"preset.{self.name}.chapter.{i}"
            out.append({"on": dict(c), "title": dict(strings.get(key + ".title", {})),
                        "body": dict(strings.get(key + ".body", {}))})
        return out


@dataclass(frozen=True)
class Comparison:
    """How a protocol takes part in side-by-side runs (engine/schedule.py, engine/costs.py,
    docs/compare.md): one fault schedule written in shared role and step names drives
    every protocol, and the same costs are read from every trace.

    `roles`: shared role -> the view roles ("role" in a node's view) that hold it, e.g.
    {"coordinator": ("coordinator",), "participant": ("participant",)}; a role left out
    is one this protocol does not have (the schedule says so on its canvas).
    `steps`: shared step -> the message kinds that carry it ("decision": ("Commit",
    "Abort")). `request`: (shared role, op, arg) a client sends to start one unit of
    work ("{i}" in arg is replaced by its number from 1). `decided`: note keys that say
    a unit's outcome is fixed (the first after a request is its decision). `served`:
    given a reply's result, was the client served? (None: a unit is served when decided).
    `fail`: how "this participant's next step fails" is done here: ("request", op) sent to
    the node, or ("param", name) set to its number (2PC's no_voter). The rest says where
    costs live: `in_doubt` (view field, states: the node may not decide alone), `locks`
    (view field of held locks), `books` (kit.business books: frozen funds, undo moves),
    `duplicates` and `stale` (note keys: a duplicate absorbed, a stale or dirty read).
    `family`: whose fault classes (engine/compare.py) fit it, "transactions" or "consensus";
    None: read from the protocol's category."""

    roles: dict
    steps: dict
    request: tuple
    decided: tuple[str, ...]
    served: Any = None
    fail: tuple | None = None
    in_doubt: tuple | None = None
    locks: str | None = None
    books: bool = False
    duplicates: tuple[str, ...] = ()
    stale: tuple[str, ...] = ()
    family: str | None = None

    def describe(self) -> dict:
        return {"roles": {r: list(v) for r, v in self.roles.items()},
                "steps": {s: list(v) for s, v in self.steps.items()}}


def replied_ok(result) -> bool:
    """A reply that says the client's request took effect ({"ok": true, ...}): the
    `served` test of every protocol that answers that way."""
    return isinstance(result, dict) and result.get("ok") is True


@dataclass
class Violation:
    """A broken invariant. `message` is English (CLI output, fallback); `key`
    names a protocol string ({"en", "zh"} with {placeholders}) and `args`
    fills it, so the page can show the message in the reader's language."""

    invariant: str
    message: str
    nodes: tuple[str, ...] = ()
    eventual: bool = False
    key: str | None = None
    args: dict | None = None

    def as_dict(self) -> dict:
        d = {"invariant": self.invariant, "message": self.message, "nodes": list(self.nodes)}
        if self.eventual:
            d["eventual"] = True
        if self.key is not None:
            d["key"] = self.key
        if self.args is not None:
            d["args"] = dict(self.args)
        return d


class Message:
    """A message on the wire. `body` is a plain dict of JSON values.

    The body is shared by the trace, duplicated copies and the receiver:
    a protocol must never mutate a body (or a list inside it) after sending
    it or on receipt.
    """

    __slots__ = ("body", "deliver_at", "dst", "id", "kind", "sent_at", "src")

    def __init__(self, id: int, src: str, dst: str, kind: str, body: dict, sent_at: int, deliver_at: int):
        self.id = id
        self.src = src
        self.dst = dst
        self.kind = kind
        self.body = body
        self.sent_at = sent_at
        self.deliver_at = deliver_at

    def as_dict(self) -> dict:
        return {"id": self.id, "src": self.src, "dst": self.dst, "kind": self.kind,
                "body": self.body, "sent_at": self.sent_at, "deliver_at": self.deliver_at}

    def __repr__(self) -> str:
        return f"Message({self.id} {self.src}->{self.dst} {self.kind} {self.body})"


class Context:
    """What a node may do. Implemented by the simulator; documented here.

    send(dst, kind, **body)      put a message on the network (the body is never copied: do not mutate it)
    set_timer(name, delay_ms)    (re)arm a named timer; re-arming replaces it
    cancel_timer(name)
    timer_armed(name)            is this timer set?
    persist(**fields)            write fields to the node's disk (same as node.disk.update)
    note(key, /, **args)         narration, translated in the browser via strings[key]
    reply(op, result)            answer a client request
    observe(fact, /, **args)     tell the checker what just happened (e.g. "log_changed", index=3);
                                 a no-op when nothing checks the run
    rng                          this node's seeded random.Random
    now                          virtual time in ms (data, not a clock)
    node_ids                     every node id in the run, in order
    """


class Node:
    """Base class for a protocol node. Override the handlers you need."""

    role = "node"

    def __init__(self, node_id: str, node_ids: list[str], params: dict, bugs: frozenset, disk: dict):
        self.id = node_id
        self.node_ids = node_ids
        self.peers = [n for n in node_ids if n != node_id]
        self.params = params
        self.bugs = bugs
        self.disk = disk

    def on_start(self, ctx) -> None:
        """First boot, with an empty disk."""

    def on_recover(self, ctx) -> None:
        """Boot after a crash: rebuild volatile state from self.disk only."""
        self.on_start(ctx)

    def on_message(self, ctx, msg: Message) -> None:
        pass

    def on_timer(self, ctx, name: str) -> None:
        pass

    def on_request(self, ctx, op: str, arg: str | None) -> None:
        pass

    def view(self) -> dict:
        """The fields a person should see; JSON values only.

        Views are diffed by value after every event: return new objects when
        content changes, never a cached object mutated in place. An optional
        "label" key is shown under the node on the canvas.
        """
        return {"role": self.role}

    def observe(self) -> dict:
        """What a checker may read of this node now: its public facts.

        Checkers read this (through `sim.observe(node_id)`) or the engine-owned
        disk, never a node's attributes, so one checker serves every protocol
        that reports the same facts. By default it is the view; a protocol
        whose checker needs more (a full log, an in-memory lock table) returns
        those here. Read-only for the checker.
        """
        return self.view()


class Checker:
    """Invariants of one run. Subclass it; the simulator calls it.

    `after_event(sim, node_id, msg)` runs after every event (node_id is the node
    whose handler ran, or None) and returns safety violations. `on_quiet(sim)`
    runs at the end of a run whose nodes are all up and whose network is healed,
    and returns eventual-property violations. The simulator reports each
    distinct (invariant, message) once.
    """

    # Names, each described in the protocol's strings as "inv.<name>" (a one-line
    # statement) and "invariant.<name>" (a short heading). A (name, English) pair
    # is accepted too, for a protocol without strings.
    invariants: tuple[str | tuple[str, str], ...] = ()
    # The protocol's strings, set by the simulator when it builds the checker.
    strings: dict[str, dict[str, str]] = {}

    def __init__(self, params: dict, bugs: frozenset, node_ids: list[str]):
        self.params = params
        self.bugs = bugs
        self.node_ids = node_ids

    def violation(self, invariant: str, key: str, nodes, **args) -> Violation:
        """A violation whose English message is strings[key]["en"] filled with args; the key
        and args travel along, so the page shows the same message in the reader's language."""
        return Violation(invariant, self.strings[key]["en"].format(**args), tuple(nodes), key=key, args=args)

    def observe(self, node_id: str, fact: str, args: dict) -> None:
        """A fact a node reported with ctx.observe while its handler ran.

        Record it; judge it in after_event (which runs once the handler is
        done), so a violation is reported after the event that caused it.
        """

    def on_reply(self, sim, node_id: str, op: str, result) -> list[Violation] | None:
        """Observe what a client is told (ctx.reply), as it is told: an acknowledged write
        is a promise the checker can hold the protocol to."""
        return None

    def on_send(self, sim, msg: Message) -> list[Violation] | None:
        """Observe a message as it is sent (for history-based invariants)."""
        return None

    def after_event(self, sim, node_id: str | None, msg: Message | None) -> list[Violation]:
        return []

    def on_quiet(self, sim) -> list[Violation]:
        return []


class Protocol:
    """Declarations of one protocol. Subclass, fill in, expose as PROTOCOL.

    English is written once, in `strings`: a declaration whose text is left
    empty (a Param's help, a Bug's help, a Preset's title and lesson...) takes
    it from strings when the protocol is built (key scheme: docs/architecture.md).
    """

    name = ""
    title = ""
    category = "demo"         # transactions | consensus | concepts | demo
    summary = ""              # one English sentence; zh under strings["summary"]
    nodes_default = 3
    nodes_min = 1
    nodes_max = 9
    params: tuple[Param, ...] = ()
    bugs: tuple[Bug, ...] = ()
    operations: tuple[Operation, ...] = ()
    fields: tuple[Field, ...] = ()
    roles: dict[str, str] = {}         # role -> CSS colour
    timers: tuple[str, ...] = ()       # timers a person may force to fire
    # A log (or accepted values) the canvas draws under every node as a strip of cells:
    # {"field": view key of a list of entries, "start": view key of the 1-based index of
    # the first entry shown (optional), "commit": view key of the last committed index
    # (optional)}. An entry is "G:text" (G, its term, ballot or view, picks the colour)
    # or None (an empty slot). None = no strip. docs/architecture.md, "The log strip".
    log_strip: dict[str, str] | None = None
    # Tallies, business values, locks and timer rings the canvas draws with every node
    # (Picture); the drawing code knows no protocol. docs/architecture.md, "State pictures".
    pictures: tuple[Picture, ...] = ()
    presets: tuple[Preset, ...] = ()
    # The note keys that mark a real step of the protocol (elected, committed, decided,
    # blocked...): a guided run of a preset without chapters of its own stops at each.
    key_notes: tuple[str, ...] = ()
    # Shared role and step names, the unit of work and where its costs live, for
    # side-by-side runs and `python -m engine compare`; None = not comparable.
    compare: Comparison | None = None
    strings: dict[str, dict[str, str]] = {}  # key -> {"en": ..., "zh": ...}
    default_network = {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0}
    default_until = 10_000
    # Playback starts at this speed (virtual ms per real ms): slow enough that a
    # 10-30 ms message flight is visible on screen.
    default_speed = 0.1
    checker_class: type[Checker] = Checker
    # The fault kinds (engine.fuzz.FAULTS) the correct protocol claims to survive with
    # no safety violation; None = all of them. 3PC, safe only with bounded delays,
    # survives crashes but not partitions, loss or early timeouts.
    tolerates: tuple[str, ...] | None = None
    # The version of this protocol's behaviour: a share link records the version it was
    # made with, and opening it under another version says so (docs/architecture.md,
    # "Behaviour versions and lasting links"). Bump it in the same commit as any change
    # that alters a trace of this protocol, engine and kit changes included, and add
    # strings["behaviour.<N>"] (en + zh): one sentence on what changed in version N.
    # tests/test_behaviour_versions.py fails when a preset's trace changes without a bump.
    behaviour = 1

    def __init__(self):
        if isinstance(self.behaviour, bool) or not isinstance(self.behaviour, int) or self.behaviour < 1:
            raise ValueError(f"{type(self).__name__}.behaviour must be a positive integer, got {self.behaviour!r}")
        t = self.text
        self.params = tuple(p if p.help else replace(p, help=t(f"param.{p.name}.help")) for p in self.params)
        self.bugs = tuple(b if b.help else replace(b, help=t(f"bug.{b.name}")) for b in self.bugs)
        self.operations = tuple(replace(o, help=o.help or t(f"op.{o.name}.help"),
                                        arg=t(f"op.{o.name}.arg") if o.arg is True else o.arg)
                                for o in self.operations)
        self.fields = tuple(f if f.help else replace(f, help=t(f"field.{f.name}.help")) for f in self.fields)
        self.presets = tuple(replace(p, title=p.title or t(f"preset.{p.name}"),
                                     lesson=p.lesson or t(f"preset.{p.name}.lesson")) for p in self.presets)
        if not self.title:
            self.title = t("title")
        if not self.summary:
            self.summary = t("summary")
        self.invariants = tuple(i if isinstance(i, tuple) else (i, t(f"inv.{i}"))
                                for i in self.checker_class.invariants)

    def text(self, key: str, lang: str = "en") -> str:
        """A translated string ("" when the protocol has none under `key`)."""
        return self.strings.get(key, {}).get(lang, "")

    def behaviour_changes(self, made: int) -> list[str]:
        """The strings keys saying what changed since behaviour version `made`, oldest
        first ("behaviour.<N>" for each N after it, up to the current version); none for
        a version that is current or newer than this one."""
        return [f"behaviour.{n}" for n in range(made + 1, self.behaviour + 1)]

    def node_ids(self, n: int) -> list[str]:
        """Ids for a run with n nodes (n as the user set it)."""
        return [f"n{i}" for i in range(1, n + 1)]

    def layout(self, ids: list[str]) -> dict[str, dict]:
        """Placement hints per node: {"place": "ring" | "center" | "top" | "bottom"}."""
        return {i: {"place": "ring"} for i in ids}

    def create_node(self, node_id: str, node_ids: list[str], params: dict, bugs: frozenset, disk: dict) -> Node:
        raise NotImplementedError

    def validate(self, nodes: int, params: dict) -> str | None:
        """What is wrong with this combination of node count and (each valid) parameters, or None."""
        return None

    def random_request(self, rng, node_ids: list[str]) -> tuple[str, str, str | None] | None:
        """A client request for random fault schedules: (node, op, arg) or None."""
        return None

    def fuzz_action(self, rng, sim, at: int) -> dict | list[dict] | None:
        """A protocol-aware fault for random schedules (weight "protocol" in fuzz_weights).

        Return an ordinary action dict stamped `at`, or a short list of them
        stamped `at` or later (e.g. crash now, restart 1 ms later); they are
        recorded and replay like any other action. `sim` may be read, never changed.
        """
        return None

    def may_crash(self, sim, node_id: str) -> bool:
        """May a random schedule crash this node now? (`sim` is read, never changed.) A
        protocol whose safety claim bounds simultaneous crashes (VR without a disk: at most
        f replicas down at once) says no past the bound, so `check --faults crash` tests
        what the protocol promises. Default: any node, any time."""
        return True

    def settle_ms(self, params: dict, network: dict) -> int:
        """How long `check` runs on after its faults stop (network healed, loss and
        duplication off, every crashed node restarted) before the checker's eventual
        properties are judged, in ms; 0 = judge none. Override it with a bound the
        protocol's own timers justify. Default: generous, 10x the largest numeric
        parameter or 20x the slowest message, at least 20 s and at most 120 s.
        """
        numbers = [v for v in params.values() if isinstance(v, (int, float)) and not isinstance(v, bool)]
        return int(min(120_000, max(20_000, 10 * max(numbers, default=0), 20 * network["latency"][1])))

    def describe(self) -> dict[str, Any]:
        """Everything the page needs, as JSON."""
        return {
            "name": self.name,
            "title": self.title,
            "category": self.category,
            "summary": self.summary,
            "behaviour": self.behaviour,
            "nodes": {"default": self.nodes_default, "min": self.nodes_min, "max": self.nodes_max},
            "params": [p.describe() for p in self.params],
            "bugs": [b.describe() for b in self.bugs],
            "operations": [o.describe() for o in self.operations],
            "fields": [f.describe() for f in self.fields],
            "roles": dict(self.roles),
            "timers": list(self.timers),
            "log_strip": dict(self.log_strip) if self.log_strip else None,
            "pictures": [p.describe() for p in self.pictures],
            "presets": [p.describe() for p in self.presets],
            "key_notes": list(self.key_notes),
            "compare": self.compare.describe() if self.compare else None,
            "invariants": [{"name": n, "help": h} for n, h in self.invariants],
            "network": dict(self.default_network),
            "until": self.default_until,
            "speed": self.default_speed,
            "strings": self.strings,
        }
