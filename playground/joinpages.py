"""Join-code pages: /j (a box to type a code), /j/CODE (to the session's watch link),
/j/CODE.svg and /j/CODE.png (a QR code of that link, for a projector).

Guessing is budgeted per client address (a token bucket on the manager's clock,
spent only by unknown codes): a class typing codes is never held up, a script
trying codes gets a 429 page after `join_miss_burst` misses, then one try every
1 / `join_miss_rate` seconds. See docs/socket-api.md, "Join codes".
"""

from __future__ import annotations

import functools
import io

from flask import Blueprint, Response, current_app, redirect, render_template, request

from .fairness import Bucket
from .joincodes import normalize, pretty

join_bp = Blueprint("join", __name__)
QR_KINDS = {"svg": "image/svg+xml", "png": "image/png"}
MAX_BUCKETS = 4096           # addresses remembered; full buckets are forgotten first


def _playground():
    return current_app.extensions["playground"]


def _page(state: str, status: int, typed: str = "", retry_s: int | None = None):
    body = render_template("join.html", state=state, typed=typed[:16],
                           shown=pretty(normalize(typed)) if normalize(typed) else typed[:16])
    resp = Response(body, status=status, mimetype="text/html")
    if retry_s is not None:
        resp.headers["Retry-After"] = str(retry_s)
    return resp


def _misses() -> dict:
    return current_app.extensions.setdefault("playground_join_misses", {})


def _can_try(addr: str) -> bool:
    """Has this address a guess left? (Only misses spend one.)"""
    pg = _playground()
    lim, now = pg.limits, pg.manager.clock()
    b = _misses().get(addr)
    return b is None or b.refill(now, lim.join_miss_rate, lim.join_miss_burst) >= 1


def _missed(addr: str) -> None:
    pg = _playground()
    lim, now = pg.limits, pg.manager.clock()
    buckets = _misses()
    if len(buckets) >= MAX_BUCKETS:
        for a in [a for a, b in buckets.items() if b.refill(now, lim.join_miss_rate, lim.join_miss_burst)
                  >= lim.join_miss_burst]:
            del buckets[a]
    b = buckets.setdefault(addr, Bucket(lim.join_miss_burst, now))
    b.take(now, lim.join_miss_rate, lim.join_miss_burst)


def _busy(typed: str):
    rate = _playground().limits.join_miss_rate
    return _page("busy", 429, typed, retry_s=max(1, round(1 / rate)))


@join_bp.get("/j")
@join_bp.get("/j/")
def join_form():
    typed = request.args.get("code", "")
    if not typed:
        return _page("enter", 200)
    code = normalize(typed)
    if code is None:
        return _page("unknown", 404, typed)
    return redirect(f"/j/{code}", 302)


@join_bp.get("/j/<raw>")
def join(raw: str):
    kind = None
    stem, dot, ext = raw.rpartition(".")
    if dot and ext.lower() in QR_KINDS:
        raw, kind = stem, ext.lower()
    addr = request.remote_addr or "?"
    if not _can_try(addr):
        return _busy(raw)
    code = normalize(raw)
    manager = _playground().manager
    found = manager.join_codes.lookup(code, manager.sessions) if code and manager.join_codes else None
    if found is None:
        _missed(addr)
        return _page("unknown", 404, raw)
    session_id, protocol = found
    watch = f"/play/{protocol}?session={session_id}"
    if kind is None:
        resp = redirect(watch, 302)
        resp.headers["Cache-Control"] = "no-store"     # the code is re-used once the session ends
        return resp
    return qr_response(request.host_url.rstrip("/") + watch, kind)


def qr_response(url: str, kind: str) -> Response:
    """A QR code of `url`: SVG (sharp at any size on a projector) or PNG."""
    resp = Response(qr_bytes(url, kind), mimetype=QR_KINDS[kind])
    resp.headers["Cache-Control"] = "private, max-age=60"
    return resp


@functools.lru_cache(maxsize=256)
def qr_bytes(url: str, kind: str) -> bytes:
    """Drawn once per link (segno picks the best of 8 masks in pure Python: tens of ms):
    a class loading the same QR code costs one drawing."""
    import segno
    qr = segno.make(url, error="m", micro=False)
    buf = io.BytesIO()
    if kind == "svg":
        # No XML declaration, no inline style: plain shapes an <img> shows under the page's CSP.
        qr.save(buf, kind="svg", scale=8, border=4, xmldecl=False, svgclass="qr", lineclass=None, omitsize=True,
                dark="#000", light="#fff", title="QR code")
    else:
        qr.save(buf, kind="png", scale=8, border=4)
    return buf.getvalue()
