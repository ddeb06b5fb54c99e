"""Page routes: gallery, play page, protocol list, vendored socket.io client,
and the error page every bad request ends on. Contexts: docs/socket-api.md."""

from __future__ import annotations

import logging
import math
import re
from pathlib import Path

from flask import Blueprint, Response, current_app, jsonify, render_template, request, send_from_directory
from werkzeug.exceptions import HTTPException

from engine import ScenarioError, from_dict, from_token, registry

from .headers import FRAMEABLE

bp = Blueprint("pages", __name__)
log = logging.getLogger(__name__)

VENDOR_FILES = ("socket.io.min.js", "socket.io.min.js.map")
_ID = re.compile(r"(?:[A-Za-z0-9_-]{1,24}\.)?[A-Za-z0-9_-]{1,39}")   # [route.]random
_T = re.compile(r"[0-9]{1,9}")        # virtual ms; the engine caps runs far below 10^9


def title_arg(proto) -> dict:
    """A protocol's title as a page argument the page translates ({key, text})."""
    return {"key": f"p:{proto.name}:title", "text": proto.title}


def open_in(proto, href: str) -> dict:
    """An error page's way on: the same run opened under the protocol it belongs to."""
    return {"href": href, "key": "error.page.open_there", "text": f"Open it in {proto.title}",
            "args": {"name": title_arg(proto)}}


def error_page(status: int, title: str, message: str, key: str | None = None, args: dict | None = None,
               detail: str | None = None, links: list[dict] | None = None, protocols=()):
    """The error page; `key` and `args` name the page's translation of `message` (English).

    `detail` is the engine's own (English) wording, shown folded away for whoever reports
    the problem; `links` ({href, key, text, args}) offer the ways on, e.g. the lessons there
    are. `protocols` lend the page their strings (titles and lesson names in both languages).
    """
    return render_template("error.html", title=title, message=message, key=key, args=args or {},
                           detail=detail, links=links or [],
                           protocols=[p.describe() for p in protocols]), status


@bp.get("/")
def gallery():
    return render_template("gallery.html", protocols=[p.describe() for p in registry.all()])


@bp.get("/api/protocols")
def api_protocols():
    # Everything, demo included: clients filter by "category".
    return jsonify([p.describe() for p in registry.all(include_hidden=True)])


@bp.get("/play/<name>")
def play(name: str):
    try:
        proto = registry.get(name)
    except ScenarioError:
        return error_page(404, "Unknown protocol", f"There is no protocol called {name[:60]!r}.",
                          "error.page.unknown_protocol", {"name": name[:60]})
    args = request.args
    preset, token, t_raw, session = args.get("preset"), args.get("s"), args.get("t"), args.get("session")
    if preset is not None and token is not None:
        return error_page(400, "Cannot open this run", "Use either preset= or s= in the link, not both.",
                          "error.page.preset_and_token")
    if preset is not None and not any(p.name == preset for p in proto.presets):
        lessons = [{"href": f"/play/{proto.name}?preset={p.name}", "key": f"p:{proto.name}:preset.{p.name}",
                    "text": p.title} for p in proto.presets]
        return error_page(404, "Cannot open this run",
                          f"{proto.title} has no lesson called “{preset[:60]}”. Its lessons:",
                          "error.page.bad_preset", {"name": preset[:60], "protocol": title_arg(proto)},
                          links=lessons, protocols=[proto])
    try:
        if token is not None:
            scenario = from_token(token)
        else:
            scenario = from_dict({"protocol": proto.name, "preset": preset})
    except ScenarioError as e:
        detail = str(e)[:300]
        if token is not None:
            return error_page(400, "Cannot open this run",
                              "This shared run's link is damaged or incomplete: perhaps it was cut short "
                              "when it was copied. Ask for the link again.",
                              "error.page.bad_token", detail=detail)
        return error_page(400, "Cannot open this run", "This lesson cannot be opened.",
                          "error.page.bad_lesson", detail=detail)
    if scenario.protocol != proto.name:
        other = registry.get(scenario.protocol)
        there = f"/play/{other.name}?s={token}" + (f"&t={t_raw}" if t_raw and _T.fullmatch(t_raw) else "")
        return error_page(400, "Cannot open this run", f"This shared run is a run of {other.title}, "
                          f"not of {proto.title}.", "error.page.token_other_protocol",
                          {"other": title_arg(other), "name": title_arg(proto)},
                          links=[open_in(other, there)],
                          protocols=[proto, other])
    t = None
    if t_raw is not None:
        if not _T.fullmatch(t_raw) or int(t_raw) > scenario.until:
            return error_page(400, "Cannot open this run",
                              f"t must be a whole number of milliseconds from 0 to {scenario.until}.",
                              "error.page.bad_t", {"until": scenario.until})
        t = int(t_raw)
    rebuilt = None
    if session is not None:
        manager = current_app.extensions["playground"].manager
        valid = _ID.fullmatch(session) is not None
        live = manager.sessions.get(session) if valid else None
        if live is None and valid and (token is not None or args.get("kept") == "1"):
            # Gone (the server restarted, or the session ended), but the page kept its run: the
            # link's s= and t=, or (kept=1) the tab's sessionStorage. The page rebuilds the run as
            # a new session of whoever reloaded, paused at t, and says so (docs/socket-api.md).
            rebuilt, session = session, None
        elif live is None:
            return error_page(404, "Session not found", "This live session has ended or never existed.",
                              "error.page.no_session")
        elif live.base.protocol != proto.name:
            other = registry.get(live.base.protocol)
            return error_page(400, "Cannot open this run",
                              f"This live session runs {other.title}, not {proto.title}.",
                              "error.page.other_protocol", {"other": title_arg(other), "name": title_arg(proto)},
                              links=[open_in(other, f"/play/{other.name}?session={session}")],
                              protocols=[proto, other])
    speed = None
    if args.get("speed") is not None:
        limits = current_app.extensions["playground"].limits
        try:
            speed = float(args["speed"])
        except ValueError:
            speed = math.nan
        if not (math.isfinite(speed) and limits.min_speed <= speed <= limits.max_speed):
            return error_page(400, "Cannot open this run",
                              f"speed must be a number from {limits.min_speed:g} to {limits.max_speed:g}.",
                              "error.page.bad_speed", {"min": f"{limits.min_speed:g}", "max": f"{limits.max_speed:g}"})
    boot = {"protocol": proto.name, "preset": preset, "token": token, "t": t, "session": session,
            "rebuilt": rebuilt, "speed": speed}
    embed = args.get("embed") == "1"      # a frame of /compare (static/js/embed.js)
    if embed:
        boot["embed"] = True
    page = render_template("play.html", protocol=proto.describe(), boot=boot)
    return (page, 200, FRAMEABLE) if embed else page


@bp.get("/vendor/<name>")
def vendor(name: str):
    dist = Path(current_app.config["PLAYGROUND_NODE_MODULES"]) / "socket.io-client" / "dist"
    if name not in VENDOR_FILES:
        return error_page(404, "Page not found", "No such vendored file.", "error.page.no_file")
    if not (dist / name).is_file():
        return Response("socket.io-client is not installed: run `npm ci` in the project root.\n",
                        status=404, mimetype="text/plain")
    return send_from_directory(dist, name, max_age=3600)


@bp.app_errorhandler(HTTPException)
def http_error(e: HTTPException):
    titles = {404: "Page not found", 405: "Method not allowed"}
    keys = {404: "error.page.not_found", 405: "error.page.method"}
    return error_page(e.code or 500, titles.get(e.code, e.name), e.description or "", keys.get(e.code))


@bp.app_errorhandler(Exception)
def internal_error(e: Exception):
    log.exception("request failed", exc_info=e)
    return error_page(500, "Something broke", "The server hit an error; nothing you did caused it.",
                      "error.page.internal")

