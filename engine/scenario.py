"""Scenario: protocol + parameters + seed + bug toggles + actions.

A scenario is plain data. It round-trips through JSON and through a compact,
URL-safe share token. Validation happens here, once: anything a client or a
file can send is checked against the protocol's declarations and the limits
in engine.limits, and bad input raises ScenarioError with one clear line.

A scenario also records the behaviour version of its protocol it was made with
("v", Protocol.behaviour): a link made before the protocol's behaviour changed
replays under today's rules, and whoever opens it can be told so. "v" is
written only when it is not 1, so a link with no "v" was made with version 1:
every link made before versions existed, and every link of a protocol still at 1.
Text (a token, scenario JSON) without "v" is such a link; a dict built in code
without "v" (`from_dict`) is a scenario made now, with the current version.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import zlib
from dataclasses import dataclass, field

from . import limits

ACTION_KINDS = ("crash", "restart", "drop", "duplicate", "partition", "heal",
                "request", "timeout", "set")
NETWORK_KEYS = ("latency", "loss", "duplicate")
SCENARIO_KEYS = ("protocol", "preset", "seed", "nodes", "params", "network", "bugs",
                 "actions", "until", "v", "lesson")
# What a chapter waits for (a trigger): the first such event after the previous chapter's.
TRIGGER_KINDS = ("note", "violation", "send", "at")
LESSON_KEYS = ("chapters", "stops")
STOP_KEYS = ("chapters", "violation", "send", "state")
LANGS = ("en", "zh")
# The highest behaviour version a scenario may claim (a link from a newer server is
# accepted up to this; beyond it the number is garbage, not a version).
MAX_BEHAVIOUR = 10_000


class ScenarioError(ValueError):
    """Bad scenario input; str(e) is one line naming what is wrong."""


@dataclass
class Scenario:
    protocol: str
    seed: int = 1
    nodes: int = 3
    params: dict = field(default_factory=dict)
    network: dict = field(default_factory=dict)
    bugs: list = field(default_factory=list)
    actions: list = field(default_factory=list)
    until: int = 10_000
    preset: str | None = None
    behaviour: int = 1          # the protocol's behaviour version this was made with ("v")
    # A teacher's lesson: {"chapters": [...], "stops": {...}} (validate_lesson). It changes
    # where playback pauses and what the page says, never the run: no trace depends on it.
    lesson: dict | None = None

    def to_dict(self) -> dict:
        d = {"protocol": self.protocol, "seed": self.seed, "nodes": self.nodes,
             "params": dict(self.params), "network": dict(self.network),
             "bugs": list(self.bugs), "actions": [dict(a) for a in self.actions],
             "until": self.until}
        if self.preset:
            d["preset"] = self.preset
        if self.behaviour != 1:     # no "v" means 1: links made today stay the bytes they were
            d["v"] = self.behaviour
        if self.lesson:             # likewise: a link without a lesson keeps its bytes
            d["lesson"] = json.loads(json.dumps(self.lesson))
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=True, separators=(",", ":"))

    def to_token(self) -> str:
        return encode_token(self.to_dict())

    def with_actions(self, actions: list) -> Scenario:
        d = self.to_dict()
        d["actions"] = actions
        return from_dict(d, unversioned=self.behaviour)


# ---------------------------------------------------------------- tokens

def encode_token(data: dict) -> str:
    raw = json.dumps(data, sort_keys=True, separators=(",", ":")).encode()
    packed = zlib.compress(raw, 9)
    return base64.urlsafe_b64encode(packed).decode().rstrip("=")


def decode_token(token: str) -> dict:
    if not isinstance(token, str) or not token:
        raise ScenarioError("share token is empty")
    if len(token) > limits.MAX_TOKEN_CHARS:
        raise ScenarioError(f"share token is too long ({len(token)} > {limits.MAX_TOKEN_CHARS} characters)")
    try:
        packed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        d = zlib.decompressobj()
        raw = d.decompress(packed, limits.MAX_SCENARIO_BYTES + 1)
        if len(raw) > limits.MAX_SCENARIO_BYTES or d.unconsumed_tail:
            raise ScenarioError("share token expands to too much data")
        if not d.eof:   # the stream (and its checksum) stops early: the link was cut short
            raise ScenarioError("share token is malformed: it is cut short")
        data = json.loads(raw.decode())
    except ScenarioError:
        raise
    except binascii.Error:
        raise ScenarioError("share token is malformed: not URL-safe base64") from None
    except zlib.error:
        raise ScenarioError("share token is malformed: its data does not decompress (cut short or changed?)") from None
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise ScenarioError("share token is malformed: it does not hold a JSON scenario") from None
    if not isinstance(data, dict):
        raise ScenarioError("share token does not hold a scenario object")
    return data


def from_token(token: str, registry=None) -> Scenario:
    """A share link's scenario; a token with no "v" was made with behaviour version 1."""
    return from_dict(decode_token(token), registry, unversioned=1)


def from_json(text: str, registry=None) -> Scenario:
    if len(text) > limits.MAX_SCENARIO_BYTES:
        raise ScenarioError(f"scenario is too large ({len(text)} bytes > {limits.MAX_SCENARIO_BYTES})")
    try:
        data = json.loads(text)
    except ValueError as e:
        raise ScenarioError(f"scenario is not valid JSON: {e}") from None
    except RecursionError:
        raise ScenarioError("scenario is nested too deeply") from None
    if not isinstance(data, dict):
        raise ScenarioError("scenario must be a JSON object")
    return from_dict(data, registry, unversioned=1)


# ---------------------------------------------------------------- validation

def _int(name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, int):
        raise ScenarioError(f"{name} must be an integer, got {v!r}"[:200])
    if not lo <= v <= hi:
        raise ScenarioError(f"{name}={v} is out of range [{lo}, {hi}]")
    return v


def _num(name, v, lo, hi):
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and math.isnan(v)):
        raise ScenarioError(f"{name} must be a number, got {v!r}"[:200])
    if not lo <= v <= hi:
        raise ScenarioError(f"{name}={v} is out of range [{lo}, {hi}]")
    return v


def _str(name, v, max_len=limits.MAX_STRING):
    if not isinstance(v, str):
        raise ScenarioError(f"{name} must be a string, got {v!r}"[:200])
    if len(v) > max_len:
        raise ScenarioError(f"{name} is too long ({len(v)} > {max_len} characters)")
    try:
        v.encode("utf-8")  # JSON allows lone surrogates; nothing downstream can encode them
    except UnicodeEncodeError:
        raise ScenarioError(f"{name} is not valid text") from None
    return v


def _known(what, keys, allowed):
    for k in keys:
        if k not in allowed:
            raise ScenarioError(f"unknown {what} {k!r}; expected one of: {', '.join(allowed)}"[:300])


def validate_network(net: dict, base: dict) -> dict:
    if not isinstance(net, dict):
        raise ScenarioError("network must be an object")
    _known("network field", net, NETWORK_KEYS)
    out = dict(base)
    out.update(net)
    lat = out["latency"]
    if not isinstance(lat, list) or len(lat) != 2:
        raise ScenarioError("network.latency must be [min, max] in milliseconds")
    lo = _int("network.latency[0]", lat[0], 1, limits.MAX_LATENCY_MS)
    hi = _int("network.latency[1]", lat[1], 1, limits.MAX_LATENCY_MS)
    if lo > hi:
        raise ScenarioError(f"network.latency min {lo} is above max {hi}")
    out["latency"] = [lo, hi]
    out["loss"] = _num("network.loss", out["loss"], 0.0, 0.9)
    out["duplicate"] = _num("network.duplicate", out["duplicate"], 0.0, 0.9)
    return out


def validate_param(proto, name, value):
    for p in proto.params:
        if p.name == name:
            if p.kind == "choice":
                if value not in p.choices:
                    raise ScenarioError(f"param {name}={value!r} must be one of {', '.join(p.choices)}")
                return value
            if p.kind == "float":
                return _num(f"param {name}", value, p.min, p.max)
            return _int(f"param {name}", value, p.min, p.max)
    names = ", ".join(p.name for p in proto.params) or "(none)"
    raise ScenarioError(f"unknown parameter {name!r} for {proto.name}; expected one of: {names}")


def validate_action(a, proto, ids: list[str], until: int) -> dict:
    """Check one action against the protocol and node ids; return a clean copy."""
    if not isinstance(a, dict):
        raise ScenarioError(f"action must be an object, got {a!r}"[:200])
    do = a.get("do")
    if do not in ACTION_KINDS:
        raise ScenarioError(f"unknown action {do!r}; expected one of: {', '.join(ACTION_KINDS)}"[:200])
    allowed = {"at", "do"}
    out = {"at": _int("action.at", a.get("at"), 0, until), "do": do}

    def node(key="node"):
        allowed.add(key)
        n = a.get(key)
        if n not in ids:
            raise ScenarioError(f"{do}: unknown node {n!r}; nodes are {', '.join(ids)}"[:300])
        out[key] = n

    if do in ("crash", "restart"):
        node()
    elif do in ("drop", "duplicate"):
        allowed.add("msg")
        out["msg"] = _int(f"{do}.msg", a.get("msg"), 1, 2**53)
    elif do == "partition":
        allowed.add("groups")
        groups = a.get("groups")
        if not isinstance(groups, list) or not groups:
            raise ScenarioError("partition.groups must be a non-empty list of node lists")
        seen = []
        clean = []
        for g in groups:
            if not isinstance(g, list) or not g:
                raise ScenarioError("partition.groups must be a list of non-empty node lists")
            for n in g:
                if n not in ids:
                    raise ScenarioError(f"partition: unknown node {n!r}"[:200])
                if n in seen:
                    raise ScenarioError(f"partition: node {n} is in two groups")
                seen.append(n)
            clean.append(list(g))
        if len(clean) < 2 and len(seen) == len(ids):
            raise ScenarioError("partition needs at least two groups")
        out["groups"] = clean
    elif do == "heal":
        pass
    elif do == "request":
        node()
        allowed.update(("op", "arg"))
        op = a.get("op")
        ops = [o for o in proto.operations if o.name == op]
        if not ops:
            names = ", ".join(o.name for o in proto.operations) or "(none)"
            raise ScenarioError(f"request: unknown operation {op!r}; expected one of: {names}"[:300])
        out["op"] = op
        arg = a.get("arg")
        if ops[0].arg is None:
            if arg not in (None, ""):
                raise ScenarioError(f"request: operation {op} takes no argument")
            out["arg"] = None
        else:
            out["arg"] = _str("request.arg", "" if arg is None else arg)
    elif do == "timeout":
        node()
        allowed.add("timer")
        t = a.get("timer")
        if t not in proto.timers:
            names = ", ".join(proto.timers) or "(none)"
            raise ScenarioError(f"timeout: unknown timer {t!r}; expected one of: {names}"[:200])
        out["timer"] = t
    elif do == "set":
        allowed.update(("param", "value"))
        p = a.get("param")
        if p not in NETWORK_KEYS:
            raise ScenarioError(f"set: unknown network setting {p!r}; expected one of: {', '.join(NETWORK_KEYS)}")
        out["param"] = p
        out["value"] = validate_network({p: a.get("value")}, proto.default_network)[p]
    _known(f"field in {do} action", a, sorted(allowed))
    return out


def validate_trigger(name: str, t, proto, ids: list[str] | None, until: int) -> dict:
    """A chapter's trigger: {"note": key, "node"?: id} | {"violation": true} | {"send": kind}
    | {"at": ms}. `ids` None: node ids are not known yet (a preset's declaration)."""
    if not isinstance(t, dict) or not t:
        raise ScenarioError(f"{name} must be an object with one of: {', '.join(TRIGGER_KINDS)}")
    kinds = [k for k in TRIGGER_KINDS if k in t]
    if len(kinds) != 1:
        raise ScenarioError(f"{name} needs exactly one of: {', '.join(TRIGGER_KINDS)}")
    kind = kinds[0]
    if kind == "note":
        _known(f"field in {name}", t, ["node", "note"])
        key = _str(f"{name}.note", t["note"], 80)
        if key not in proto.strings:
            raise ScenarioError(f"{name}.note: {proto.name} has no note {key!r}"[:200])
        out = {"note": key}
        if "node" in t:
            if not isinstance(t["node"], str) or (ids is not None and t["node"] not in ids):
                raise ScenarioError(f"{name}.node: unknown node {t['node']!r}"[:200])
            out["node"] = t["node"]
        return out
    _known(f"field in {name}", t, [kind])
    if kind == "violation":
        if t["violation"] is not True:
            raise ScenarioError(f"{name}.violation must be true")
        return {"violation": True}
    if kind == "send":
        return {"send": _str(f"{name}.send", t["send"], 40)}
    return {"at": _int(f"{name}.at", t["at"], 0, until)}


def _texts(name: str, v, max_len: int) -> dict:
    """{"en": ..., "zh": ...}: a lesson's text in both languages the page speaks."""
    if not isinstance(v, dict):
        raise ScenarioError(f"{name} must be an object {{\"en\": ..., \"zh\": ...}}")
    _known(f"language in {name}", v, LANGS)
    if not any(isinstance(v.get(lang), str) and v[lang].strip() for lang in LANGS):
        raise ScenarioError(f"{name} needs a text in en or zh")
    return {lang: _str(f"{name}.{lang}", v.get(lang, ""), max_len) for lang in LANGS}


def validate_stops(s, name: str = "stops") -> dict:
    """Where playback pauses: {"chapters": bool, "violation": bool, "send": [kinds],
    "state": [{"field", "value", "node"?}]}; every key optional."""
    if not isinstance(s, dict):
        raise ScenarioError(f"{name} must be an object with any of: {', '.join(STOP_KEYS)}")
    _known(f"field in {name}", s, STOP_KEYS)
    out: dict = {}
    for k in ("chapters", "violation"):
        if k in s:
            if not isinstance(s[k], bool):
                raise ScenarioError(f"{name}.{k} must be true or false")
            out[k] = s[k]
    if "send" in s:
        kinds = s["send"]
        if not isinstance(kinds, list) or len(kinds) > limits.MAX_STOP_ITEMS:
            raise ScenarioError(f"{name}.send must be a list of at most {limits.MAX_STOP_ITEMS} message kinds")
        out["send"] = sorted({_str(f"{name}.send[]", k, 40) for k in kinds})
    if "state" in s:
        states = s["state"]
        if not isinstance(states, list) or len(states) > limits.MAX_STOP_ITEMS:
            raise ScenarioError(f"{name}.state must be a list of at most {limits.MAX_STOP_ITEMS} "
                                '{"field", "value", "node"?} objects')
        clean = []
        for st in states:
            if not isinstance(st, dict) or "field" not in st or "value" not in st:
                raise ScenarioError(f'{name}.state entries must be {{"field", "value", "node"?}}')
            _known(f"field in {name}.state", st, ["field", "node", "value"])
            v = st["value"]
            if isinstance(v, str):
                _str(f"{name}.state.value", v, 80)
            elif v is not None and not isinstance(v, (bool, int, float)):
                raise ScenarioError(f"{name}.state.value must be a string, number, true, false or null")
            item = {"field": _str(f"{name}.state.field", st["field"], 40), "value": v}
            if "node" in st:
                item["node"] = _str(f"{name}.state.node", st["node"], 40)
            clean.append(item)
        out["state"] = clean
    return out


def validate_lesson(lesson, proto, ids: list[str], until: int) -> dict | None:
    """A teacher's lesson: {"chapters": [{"at": ms} or {"on": trigger}, "title": {en, zh},
    "body"?: {en, zh}], "stops": {...}}; None when it holds nothing."""
    if lesson is None:
        return None
    if not isinstance(lesson, dict):
        raise ScenarioError('lesson must be an object {"chapters": [...], "stops": {...}}')
    _known("lesson field", lesson, LESSON_KEYS)
    out: dict = {}
    if "chapters" in lesson:
        chapters = lesson["chapters"]
        if not isinstance(chapters, list):
            raise ScenarioError("lesson.chapters must be a list")
        if len(chapters) > limits.MAX_CHAPTERS:
            raise ScenarioError(f"too many chapters ({len(chapters)} > {limits.MAX_CHAPTERS})")
        clean = []
        for i, c in enumerate(chapters, 1):
            name = f"lesson chapter {i}"
            if not isinstance(c, dict):
                raise ScenarioError(f"{name} must be an object")
            _known(f"field in {name}", c, ["at", "body", "on", "title"])
            if ("at" in c) == ("on" in c):
                raise ScenarioError(f'{name} needs exactly one of "at" (ms) or "on" (a trigger)')
            on = validate_trigger(f"{name}.on", {"at": c["at"]} if "at" in c else c["on"], proto, ids, until)
            item = {"on": on, "title": _texts(f"{name}.title", c.get("title"), limits.MAX_CHAPTER_TITLE)}
            if "body" in c:
                item["body"] = _texts(f"{name}.body", c["body"], limits.MAX_CHAPTER_BODY)
            clean.append(item)
        if clean:
            out["chapters"] = clean
    if "stops" in lesson:
        stops = validate_stops(lesson["stops"], "lesson.stops")
        if stops:
            out["stops"] = stops
    return out or None


def from_dict(data: dict, registry=None, *, unversioned: int | None = None) -> Scenario:
    """Validate a scenario dict against its protocol; fill in defaults.

    `unversioned`: the behaviour version of a dict with no "v" (1 for text made in
    the past: tokens, JSON files); None = the protocol's current version (made now).
    """
    if registry is None:
        from .protocols import registry as default_registry
        registry = default_registry
    if not isinstance(data, dict):
        raise ScenarioError("scenario must be an object")
    _known("scenario field", data, SCENARIO_KEYS)
    name = data.get("protocol")
    if not isinstance(name, str):
        raise ScenarioError("scenario needs a protocol name")
    proto = registry.get(name)  # raises ScenarioError for unknown names
    if "v" in data:
        behaviour = data["v"]
        if isinstance(behaviour, bool) or not isinstance(behaviour, int):
            raise ScenarioError(f"v (the version of {name}'s behaviour the link was made with) must be "
                                f"a whole number, got {behaviour!r}"[:200])
        if not 1 <= behaviour <= MAX_BEHAVIOUR:
            raise ScenarioError(f"v={behaviour} is not a version of {name}'s behaviour "
                                f"(versions count from 1, at most {MAX_BEHAVIOUR})"[:200])
    else:
        behaviour = proto.behaviour if unversioned is None else unversioned

    merged: dict = {}
    preset = data.get("preset")
    if preset is not None:
        found = [p for p in proto.presets if p.name == preset]
        if not found:
            names = ", ".join(p.name for p in proto.presets) or "(none)"
            raise ScenarioError(f"unknown preset {preset!r} for {name}; expected one of: {names}"[:300])
        merged.update(found[0].scenario)
    for k, v in data.items():
        if k in ("params", "network") and isinstance(v, dict) and isinstance(merged.get(k), dict):
            merged[k] = {**merged[k], **v}
        else:
            merged[k] = v

    seed = _int("seed", merged.get("seed", 1), 0, limits.MAX_SEED)
    nodes = _int("nodes", merged.get("nodes", proto.nodes_default), proto.nodes_min,
                 min(proto.nodes_max, limits.MAX_NODES))
    until = _int("until", merged.get("until", proto.default_until), limits.MIN_UNTIL_MS, limits.MAX_UNTIL_MS)

    params_in = merged.get("params", {})
    if not isinstance(params_in, dict):
        raise ScenarioError("params must be an object")
    params = {p.name: p.default for p in proto.params}
    for k in sorted(params_in):
        params[k] = validate_param(proto, k, params_in[k])

    problem = proto.validate(nodes, params)
    if problem:
        raise ScenarioError(problem)

    network = validate_network(merged.get("network", {}), proto.default_network)

    bugs_in = merged.get("bugs", [])
    if not isinstance(bugs_in, list):
        raise ScenarioError("bugs must be a list of bug names")
    known_bugs = [b.name for b in proto.bugs]
    bugs = []
    for b in bugs_in:
        if b not in known_bugs:
            raise ScenarioError(f"unknown bug {b!r} for {name}; expected one of: {', '.join(known_bugs) or '(none)'}"[:300])
        if b not in bugs:
            bugs.append(b)
    bugs.sort()

    actions_in = merged.get("actions", [])
    if not isinstance(actions_in, list):
        raise ScenarioError("actions must be a list")
    if len(actions_in) > limits.MAX_ACTIONS:
        raise ScenarioError(f"too many actions ({len(actions_in)} > {limits.MAX_ACTIONS})")
    ids = proto.node_ids(nodes)
    actions = [validate_action(a, proto, ids, until) for a in actions_in]
    # Stable sort: actions at the same time keep their listed order.
    actions.sort(key=lambda a: a["at"])

    lesson = validate_lesson(data.get("lesson"), proto, ids, until)

    return Scenario(protocol=name, seed=seed, nodes=nodes, params=params, network=network,
                    bugs=bugs, actions=actions, until=until, preset=preset, behaviour=behaviour,
                    lesson=lesson)
