"""The side-by-side page: /compare (two to four protocols under one fault schedule, each
canvas a live play page in an iframe) and /api/compare/plan (what the schedule became in
each protocol: its share token, what each item became, its costs). docs/socket-api.md,
"Side by side".

A schedule names roles and steps, not nodes (engine/schedule.py), so one schedule drives
every protocol; a fault class of engine/compare.py draws run i's schedule. Everything is
deterministic, so results are kept in a small LRU keyed by the canonical query; the
engine work of a query not cached is charged to the client's address (CPU ms in a token
bucket, as fairness.py budgets commands; a cached answer is free) and, under eventlet, runs
in a real thread so the event loop keeps serving sessions meanwhile.
"""

from __future__ import annotations

import functools
import json
import math
import time
from collections import OrderedDict
from dataclasses import dataclass

from flask import Blueprint, Response, current_app, jsonify, render_template, request

from engine import ScenarioError, registry
from engine.compare import FAMILY_BASE, FAULT_CLASSES, MAX_RUNS, family_of, run_one, schedule_for
from engine.scenario import decode_token, from_dict
from engine.schedule import MAX_ITEMS, validate

from .fairness import Bucket
from .pages import error_page, title_arg

compare_bp = Blueprint("compare", __name__)

MIN_PROTOCOLS, MAX_PROTOCOLS = 2, 4
MAX_CUSTOM_UNTIL = 30_000       # a schedule typed in a link: at most 30 s of virtual time
MAX_SEED = 1_000_000
MAX_QUERY_CHARS = 8_000         # a schedule in the address bar, JSON or token
CACHE_SIZE = 64                 # results kept (each a few KB: tokens, outcomes, costs)
MAX_BUCKETS = 4096              # addresses remembered; full buckets are forgotten first
DEFAULT = {"protocols": "2pc,3pc", "faults": "coordinator_crash", "run": "0", "seed": "1"}


class BadQuery(Exception):
    """A query the page refuses: an English sentence, and the page's key and args for it."""

    def __init__(self, message: str, key: str, args: dict | None = None, detail: str | None = None):
        super().__init__(message)
        self.message, self.key, self.args, self.detail = message, key, args or {}, detail


@dataclass(frozen=True)
class Query:
    protocols: tuple[str, ...]
    faults: str | None          # a fault class, or None for a custom schedule
    run: int
    seed: int
    schedule: dict | None       # the custom schedule, validated

    def key(self) -> str:
        """The same comparison, however the link spelled it."""
        return json.dumps([self.protocols, self.faults, self.run, self.seed, self.schedule],
                          sort_keys=True, separators=(",", ":"))

    def search(self) -> str:
        """The link's query string for this comparison (share this comparison)."""
        q = f"protocols={','.join(self.protocols)}&seed={self.seed}"
        if self.schedule is not None:
            from urllib.parse import quote
            return q + "&schedule=" + quote(json.dumps(self.schedule, separators=(",", ":")), safe="")
        return q + f"&faults={self.faults}&run={self.run}"


def _whole(name: str, raw: str, hi: int, key: str) -> int:
    if not raw.isdigit() or len(raw) > 9 or int(raw) > hi:
        raise BadQuery(f"{name} must be a whole number from 0 to {hi}.", key, {"max": hi})
    return int(raw)


def _read_schedule(raw: str) -> dict:
    """A schedule given as JSON (URL-encoded) or as a share-token-style token of that JSON."""
    if len(raw) > MAX_QUERY_CHARS:
        raise BadQuery(f"This fault schedule is too long (more than {MAX_QUERY_CHARS} characters).",
                       "error.page.compare.schedule_too_long", {"max": MAX_QUERY_CHARS})
    text = raw.strip()
    try:
        data = json.loads(text) if text.startswith("{") else decode_token(text)
    except (ValueError, RecursionError, ScenarioError) as e:
        raise BadQuery("This fault schedule cannot be read: it is neither JSON nor a schedule token.",
                       "error.page.compare.unreadable_schedule", detail=str(e)[:300]) from None
    if isinstance(data, dict) and isinstance(data.get("until"), int) and data["until"] > MAX_CUSTOM_UNTIL:
        raise BadQuery(f"A schedule here may run at most {MAX_CUSTOM_UNTIL // 1000} s "
                       f"(until at most {MAX_CUSTOM_UNTIL} ms).", "error.page.compare.too_long",
                       {"max": MAX_CUSTOM_UNTIL})
    if isinstance(data, dict) and isinstance(data.get("items"), list) and len(data["items"]) > MAX_ITEMS:
        raise BadQuery(f"A schedule may hold at most {MAX_ITEMS} items.", "error.page.compare.too_many_items",
                       {"max": MAX_ITEMS})
    try:
        return validate(data)
    except ScenarioError as e:
        raise BadQuery(f"This fault schedule is not valid: {e}", "error.page.compare.bad_schedule",
                       detail=str(e)[:300]) from None


def parse_query(args) -> Query:
    """The comparison a link asks for (a link with no query: DEFAULT), or BadQuery."""
    if not any(k in args for k in ("protocols", "protocol", "faults", "schedule", "run", "seed")):
        args = DEFAULT
    if "protocol" in args and "protocols" not in args:     # the page's form: one box per protocol
        names = [n.strip() for n in args.getlist("protocol") if n.strip()]
    else:
        names = [n.strip() for n in args.get("protocols", "").split(",") if n.strip()]
    if not MIN_PROTOCOLS <= len(names) <= MAX_PROTOCOLS:
        raise BadQuery(f"Compare {MIN_PROTOCOLS} to {MAX_PROTOCOLS} protocols at once, not {len(names)}.",
                       "error.page.compare.count", {"count": len(names), "min": MIN_PROTOCOLS,
                                                    "max": MAX_PROTOCOLS})
    for i, name in enumerate(names):
        try:
            proto = registry.get(name)
        except ScenarioError:
            raise BadQuery(f"There is no protocol called “{name[:60]}”.", "error.page.unknown_protocol",
                           {"name": name[:60]}) from None
        if name in names[:i]:
            raise BadQuery(f"{proto.title} is listed twice; list each protocol once.",
                           "error.page.compare.twice", {"name": title_arg(proto)})
        if proto.compare is None:
            raise BadQuery(f"{proto.title} cannot be compared yet: it declares no shared roles and steps "
                           "for a fault schedule to name.", "error.page.compare.not_comparable",
                           {"name": title_arg(proto)})
    seed = _whole("seed", args.get("seed", "1"), MAX_SEED, "error.page.compare.bad_seed")
    raw_schedule = args.get("schedule")
    if raw_schedule is not None:
        if args.get("faults"):          # the form sends faults= empty with the link's own schedule
            raise BadQuery("Give either a fault class (faults=) or a schedule (schedule=), not both.",
                           "error.page.compare.faults_and_schedule")
        return Query(tuple(names), None, 0, seed, _read_schedule(raw_schedule))
    faults = args.get("faults", "coordinator_crash")
    if faults not in FAULT_CLASSES:
        raise BadQuery(f"There is no fault class called “{faults[:60]}”; the classes are "
                       f"{', '.join(FAULT_CLASSES)}.", "error.page.compare.bad_faults",
                       {"name": faults[:60], "list": ", ".join(FAULT_CLASSES)})
    run = _whole("run", args.get("run", "0"), MAX_RUNS - 1, "error.page.compare.bad_run")
    return Query(tuple(names), faults, run, seed, None)


# ---------------------------------------------------------------- running it

class PlanCache:
    """The last `size` comparisons computed (deterministic: a hit is the same answer)."""

    def __init__(self, size: int = CACHE_SIZE):
        self.size = size
        self.items: OrderedDict[str, dict] = OrderedDict()

    def get(self, key: str) -> dict | None:
        hit = self.items.get(key)
        if hit is not None:
            self.items.move_to_end(key)
        return hit

    def put(self, key: str, value: dict) -> None:
        self.items[key] = value
        self.items.move_to_end(key)
        while len(self.items) > self.size:
            self.items.popitem(last=False)


def _state() -> dict:
    return current_app.extensions.setdefault("playground_compare", {"cache": PlanCache(), "buckets": {}})


def _bucket(addr: str) -> Bucket:
    """This address's budget of engine work (ms of CPU), refilled to now."""
    pg = current_app.extensions["playground"]
    lim, now = pg.limits, pg.manager.clock()
    buckets = _state()["buckets"]
    if addr not in buckets and len(buckets) >= MAX_BUCKETS:
        for a in [a for a, b in buckets.items()
                  if b.refill(now, lim.compare_cpu_rate_ms, lim.compare_cpu_burst_ms) >= lim.compare_cpu_burst_ms]:
            del buckets[a]
    b = buckets.setdefault(addr, Bucket(lim.compare_cpu_burst_ms, now))
    b.refill(now, lim.compare_cpu_rate_ms, lim.compare_cpu_burst_ms)
    return b


def _plan_one(name: str, schedule: dict, seed: int) -> tuple[dict, float]:
    """One protocol's plan and run (engine.compare.run_one), as the page shows it, and the CPU
    ms it took (this thread's own: others' work is not charged)."""
    cpu = time.thread_time()
    proto = registry.get(name)
    family = family_of(proto)
    r = run_one(name, schedule, seed, FAMILY_BASE.get(family))    # the cluster size compare uses
    scenario = from_dict(r["scenario"])
    out = {"protocol": name, "title": title_arg(proto), "family": family, "schedule": schedule,
           "token": scenario.to_token(), "until": scenario.until,
           "outcomes": r["outcomes"], "costs": r["costs"]}
    return out, (time.thread_time() - cpu) * 1000


def compute(q: Query) -> tuple[dict, float]:
    """Plan and run the schedule in each protocol: what each item became, the share token, the
    costs; and the CPU ms spent. Planning runs the scenario once as it places the items (a long
    schedule: a few hundred ms per protocol), so under eventlet each protocol's work runs in a real thread
    (eventlet.tpool: the loop goes on serving everyone meanwhile), one protocol at a time."""
    socketio = current_app.extensions["playground"].socketio
    run = _plan_one
    if socketio.async_mode == "eventlet":
        from eventlet import tpool
        run = functools.partial(tpool.execute, _plan_one)
    plans, spent = [], 0.0
    for name in q.protocols:
        family = family_of(registry.get(name))
        schedule = q.schedule if q.schedule is not None else schedule_for(q.faults, q.run, family)
        out, ms = run(name, schedule, q.seed + q.run)
        plans.append(out)
        spent += ms
        socketio.sleep(0)
    result = {"schedule": plans[0]["schedule"], "faults": q.faults, "run": q.run, "seed": q.seed,
              "search": q.search(), "plans": plans}
    return result, spent


def comparison(q: Query) -> dict | None:
    """The cached answer, or a new one if this address has engine work left (else None). A
    new answer is charged the CPU it took, after the fact (the budget may go below zero)."""
    state = _state()
    hit = state["cache"].get(q.key())
    if hit is not None:
        return hit
    budget = _bucket(request.remote_addr or "?")
    if budget.tokens <= 0:
        return None
    try:
        result, spent = compute(q)
    except ScenarioError:
        budget.tokens -= 1          # a schedule refused while planning still took some work
        raise
    budget.tokens -= spent
    state["cache"].put(q.key(), result)
    return result


def _retry_s() -> int:
    """Seconds until the address has work left."""
    pg = current_app.extensions["playground"]
    b = _state()["buckets"].get(request.remote_addr or "?")
    short = -b.tokens if b is not None else 0
    return max(1, math.ceil((short + 1) / pg.limits.compare_cpu_rate_ms))


BUSY = ("Too many comparisons from your address just now: wait a few seconds and try again.",
        "error.page.compare.busy")


# ---------------------------------------------------------------- routes

@compare_bp.get("/api/compare/plan")
def api_plan():
    try:
        q = parse_query(request.args)
        result = comparison(q)
    except BadQuery as e:
        return jsonify({"error": e.message, "key": e.key, "args": e.args}), 400
    except ScenarioError as e:      # a schedule that validates but cannot be planned (items out of order)
        return jsonify({"error": str(e)[:300], "key": "error.page.compare.bad_schedule", "args": {}}), 400
    if result is None:
        resp = jsonify({"error": BUSY[0], "key": BUSY[1], "args": {}})
        resp.status_code = 429
        resp.headers["Retry-After"] = str(_retry_s())
        return resp
    return jsonify(result)


@compare_bp.get("/compare")
def compare_page():
    title = "Cannot compare these protocols"
    try:
        q = parse_query(request.args)
        result = comparison(q)
    except BadQuery as e:
        return error_page(400, title, e.message, e.key, e.args, detail=e.detail)
    except ScenarioError as e:
        return error_page(400, title, "This fault schedule is not valid.", "error.page.compare.bad_schedule",
                          detail=str(e)[:300])
    if result is None:
        body, status = error_page(429, title, *BUSY)
        resp = Response(body, status=status, mimetype="text/html")
        resp.headers["Retry-After"] = str(_retry_s())
        return resp
    comparable = [p for p in registry.all() if p.compare is not None]
    choices = [{"name": p.name, "title": p.title} for p in comparable]
    # Their strings (titles in both languages) for the page; the frames bring their own.
    describe = current_app.extensions["playground"].manager.describe      # cached per protocol
    strings = [{"name": p.name, "strings": {"title": describe(p.name)["strings"]["title"]}} for p in comparable]
    return render_template("compare.html", result=result, protocols=strings, choices=choices,
                           chosen=list(q.protocols), faults=list(FAULT_CLASSES), query=q,
                           max_run=MAX_RUNS - 1)
