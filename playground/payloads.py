"""Validation of what clients send: garbage in, one clear ApiError out.

Nothing here trusts a payload: every field is type- and range-checked before
the session code sees it, and error messages never echo more than a short
prefix of what was sent.
"""

from __future__ import annotations

import math
import re

from engine import Scenario, ScenarioError, from_dict, from_token
from engine import limits as engine_limits
from engine.scenario import validate_stops

CODES = ("bad_request", "unknown_session", "forbidden", "limit", "engine", "internal")
CONTROL_CMDS = ("play", "pause", "step", "speed", "seek", "restart", "extend", "stops", "chapter_next",
                "chapter_prev")
MAX_MESSAGE = 300
_SURROGATE = re.compile("[\ud800-\udfff]")   # half a UTF-16 pair: no UTF-8, so not text


class ApiError(Exception):
    """A request the server refuses; becomes an `error` event and a failed ack.

    `key` and `args` (optional) name the page's translation of the message
    (static/i18n/*.json), so a person reads it in their language; `message`
    stays the English text for every other client.
    """

    def __init__(self, code: str, message: str, key: str | None = None, args: dict | None = None,
                 extra: dict | None = None):
        assert code in CODES, code
        super().__init__(message)
        self.code = code
        self.message = clip(message)
        self.key = key
        self.fill = dict(args or {})   # (not `args`: Exception owns that name)
        self.extra = extra             # more fields for the page's logic (not for the text)

    def payload(self) -> dict:
        """The `error` event (a failed ack adds "ok": false and "error")."""
        d = {"message": self.message, "code": self.code}
        if self.key:
            d["key"] = self.key
            d["args"] = self.fill
        if self.extra:
            d.update(self.extra)
        return d


def clip(text: str) -> str:
    return text if len(text) <= MAX_MESSAGE else text[: MAX_MESSAGE - 3] + "..."


def bad(message: str, key: str | None = None, args: dict | None = None) -> ApiError:
    return ApiError("bad_request", message, key, args)


def engine_error(detail: str) -> ApiError:
    """A protocol handler raised: the run is paused where it failed."""
    return ApiError("engine", detail, "refused.protocol_error", {"detail": clip(detail)})


def from_scenario_error(e: ScenarioError) -> ApiError:
    return bad(str(e))


def obj(args: tuple, allowed: tuple[str, ...]) -> dict:
    """The handler's arguments must be exactly one object with known keys."""
    if len(args) != 1 or not isinstance(args[0], dict):
        raise bad("payload must be one JSON object")
    data = args[0]
    for k in data:
        if k not in allowed:
            raise bad(f"unknown field {str(k)[:40]!r}; expected: {', '.join(allowed)}")
    return data


def ident(data: dict, key: str, max_chars: int, required: bool = True) -> str | None:
    v = data.get(key)
    if v is None and not required:
        return None
    if not isinstance(v, str) or not v:
        raise bad(f"{key} must be a non-empty string")
    if len(v) > max_chars:
        raise bad(f"{key} is too long ({len(v)} > {max_chars} characters)")
    if _SURROGATE.search(v):
        raise bad(f"{key} is not valid text (it holds a lone surrogate)")
    return v


def number(name: str, v, lo: float, hi: float) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not math.isfinite(v)):
        raise bad(f"{name} must be a number")
    if not lo <= v <= hi:
        raise bad(f"{name}={v} is out of range [{lo}, {hi}]")
    return v


def text(name: str, v, max_chars: int) -> str:
    if not isinstance(v, str) or not v:
        raise bad(f"{name} must be a non-empty string")
    if len(v) > max_chars:
        raise bad(f"{name} is too long ({len(v)} > {max_chars} characters)")
    if _SURROGATE.search(v):
        raise bad(f"{name} is not valid text (it holds a lone surrogate)")
    return v


# ---------------------------------------------------------------- one parser per client event

def parse_create(args: tuple, max_id: int):
    """-> (Scenario, t or None, resume or None). Exactly one of scenario / token / protocol(+preset)."""
    data = obj(args, ("scenario", "token", "protocol", "preset", "t", "resume"))
    given = [k for k in ("scenario", "token", "protocol") if k in data]
    if len(given) != 1:
        raise bad("create needs exactly one of: scenario, token, protocol")
    if "preset" in data and given != ["protocol"]:
        raise bad("preset goes with protocol")
    t = data.get("t")
    if t is not None:
        t = number("t", t, 0, engine_limits.MAX_UNTIL_MS)
    try:
        if given == ["scenario"]:
            if not isinstance(data["scenario"], dict):
                raise bad("scenario must be an object")
            scenario = from_dict(data["scenario"])
        elif given == ["token"]:
            scenario = from_token(text("token", data["token"], engine_limits.MAX_TOKEN_CHARS))
        else:
            spec = {"protocol": text("protocol", data["protocol"], max_id)}
            if data.get("preset") is not None:
                spec["preset"] = text("preset", data["preset"], engine_limits.MAX_STRING)
            scenario = from_dict(spec)
    except ScenarioError as e:
        raise from_scenario_error(e) from None
    return scenario, t, _resume(data.get("resume"), max_id)


def _resume(v, max_id: int) -> tuple[str, str] | None:
    """create's optional {"session", "control"}: bring a gone session back under its id."""
    if v is None:
        return None
    if not isinstance(v, dict) or set(v) - {"session", "control"}:
        raise bad('resume must be {"session": ID, "control": TOKEN}')
    return ident(v, "session", max_id), ident(v, "control", max_id)


def parse_join(args: tuple, max_id: int) -> tuple[str, str | None]:
    data = obj(args, ("session", "control"))
    return ident(data, "session", max_id), ident(data, "control", max_id, required=False)


def parse_leave(args: tuple, max_id: int) -> str:
    return ident(obj(args, ("session",)), "session", max_id)


def parse_control(args: tuple, max_id: int) -> tuple[str, str | None, str, object]:
    data = obj(args, ("session", "control", "cmd", "value"))
    sid = ident(data, "session", max_id)
    control = ident(data, "control", max_id, required=False)
    cmd = data.get("cmd")
    if cmd not in CONTROL_CMDS:
        raise bad(f"cmd must be one of: {', '.join(CONTROL_CMDS)}")
    if cmd in ("speed", "seek", "extend", "stops") and "value" not in data:
        raise bad(f"{cmd} needs a value")
    return sid, control, cmd, data.get("value")


def parse_action(args: tuple, max_id: int) -> tuple[str, str | None, dict]:
    data = obj(args, ("session", "control", "action"))
    sid = ident(data, "session", max_id)
    control = ident(data, "control", max_id, required=False)
    action = data.get("action")
    if not isinstance(action, dict):
        raise bad("action must be an object like {\"do\": \"crash\", \"node\": \"n1\"}")
    return sid, control, action


def parse_code(args: tuple, max_id: int) -> tuple[str, str | None]:
    data = obj(args, ("session", "control"))
    return ident(data, "session", max_id), ident(data, "control", max_id, required=False)


def parse_configure(args: tuple, max_id: int) -> tuple[str, str | None, dict]:
    data = obj(args, ("session", "control", "scenario"))
    sid = ident(data, "session", max_id)
    control = ident(data, "control", max_id, required=False)
    scenario = data.get("scenario")
    if not isinstance(scenario, dict):
        raise bad("scenario must be an object")
    return sid, control, scenario


def stops(value) -> dict:
    """The `stops` command's value: where playback pauses (engine.scenario.validate_stops)."""
    try:
        return validate_stops(value)
    except ScenarioError as e:
        raise bad(str(e), "refused.bad_stops", {"detail": clip(str(e))}) from None


def scenario_for(data: dict, protocol: str) -> Scenario:
    """A configure scenario; the protocol defaults to the session's and may not change."""
    data = {"protocol": protocol, **data}
    if data["protocol"] != protocol:
        raise bad(f"this session runs {protocol}; open /play/{str(data['protocol'])[:40]} for another protocol")
    try:
        return from_dict(data)
    except ScenarioError as e:
        if data.get("preset") and "unknown node" in str(e):
            # A lesson's script names its nodes; fewer nodes would cut it short.
            raise bad(f"the lesson {str(data['preset'])[:40]!r} needs its own node count ({e}); "
                      "choose free play to change the number of nodes") from None
        raise from_scenario_error(e) from None


def parse_hunt(args: tuple, max_id: int, max_runs: int, default_runs: int) -> tuple[str, int]:
    """-> (session id, runs)."""
    data = obj(args, ("session", "runs"))
    session = ident(data, "session", max_id)
    runs = data.get("runs", default_runs)
    if isinstance(runs, float) and runs.is_integer():
        runs = int(runs)
    if not isinstance(runs, int) or isinstance(runs, bool):
        raise bad("runs must be a whole number")
    number("runs", runs, 1, max_runs)
    return session, runs


def parse_hunt_cancel(args: tuple, max_id: int) -> str:
    return ident(obj(args, ("id",)), "id", max_id)
