"""The Protocol Playground server: Flask pages + Socket.IO sessions around engine/.

create_app() builds everything and starts nothing: the ticker starts with the
first socket connection. Monkey-patching (eventlet/gevent) belongs to the
entry point (app.py), never here.
"""

from __future__ import annotations

import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

from flask import Flask
from flask_socketio import SocketIO

from .limits import Limits
from .manager import SessionManager
from .ticker import Ticker

ROOT = Path(__file__).resolve().parent.parent
ASYNC_MODES = ("eventlet", "gevent", "threading")


@dataclass
class Playground:
    """What the app keeps in app.extensions["playground"]."""

    socketio: SocketIO
    manager: SessionManager
    ticker: Ticker
    limits: Limits


def detect_async_mode() -> str:
    """eventlet/gevent only if the process was monkey-patched for it, else threading.

    Flask-SocketIO's own detection picks eventlet whenever it is installed, which
    breaks code (tests, scripts) that imports the app without patching.
    """
    if "eventlet.patcher" in sys.modules and sys.modules["eventlet.patcher"].is_monkey_patched("socket"):
        return "eventlet"
    if "gevent.monkey" in sys.modules and sys.modules["gevent.monkey"].is_module_patched("socket"):
        return "gevent"
    return "threading"


def _limits_from_env() -> dict | None:
    raw = os.environ.get("PLAYGROUND_LIMITS")
    if not raw:
        return None
    try:
        data = json.loads(raw)
    except ValueError as e:
        raise ValueError(f"PLAYGROUND_LIMITS is not JSON: {e}") from None
    if not isinstance(data, dict):
        raise TypeError('PLAYGROUND_LIMITS must be a JSON object, e.g. {"max_sessions": 100}')
    return data


def create_app(config: dict | None = None) -> Flask:
    app = Flask(__name__, template_folder=str(ROOT / "templates"), static_folder=str(ROOT / "static"))
    app.config.update(
        PLAYGROUND_ASYNC_MODE=os.environ.get("PLAYGROUND_ASYNC_MODE") or None,
        PLAYGROUND_TICKER=True,            # False: tests drive manager.tick() themselves
        # dict of playground.limits.Limits overrides; from the environment as JSON
        PLAYGROUND_LIMITS=_limits_from_env(),
        PLAYGROUND_NODE_MODULES=str(ROOT / "node_modules"),
        # Reverse proxies in front of the server: their X-Forwarded-* headers are trusted, so
        # per-address limits see the client's address, not the proxy's.
        PLAYGROUND_PROXY_HOPS=int(os.environ.get("PLAYGROUND_PROXY_HOPS") or 0),
        # Several processes behind one proxy (docs/scale-out.md): the Socket.IO message queue they
        # share (a redis:// URL), and the secret that makes a control token valid in all of them.
        PLAYGROUND_REDIS=os.environ.get("PLAYGROUND_REDIS") or None,
        # False: PLAYGROUND_REDIS serves "Find a bug"'s job queue only, not Socket.IO (whose
        # test client refuses a message queue; tests of the job queue need both).
        PLAYGROUND_SOCKETIO_QUEUE=True,
        PLAYGROUND_SECRET=os.environ.get("PLAYGROUND_SECRET") or None,
    )
    app.config.update(config or {})
    mode = app.config["PLAYGROUND_ASYNC_MODE"] or detect_async_mode()
    if mode not in ASYNC_MODES:
        raise ValueError(f"PLAYGROUND_ASYNC_MODE must be one of {', '.join(ASYNC_MODES)}, not {mode!r}")
    limits = Limits.from_config(app.config["PLAYGROUND_LIMITS"])

    from .headers import install as install_headers
    from .pages import bp
    from .sockets import SocketIOAdapter, register
    from .wire import JsonPacket

    redis = app.config["PLAYGROUND_REDIS"] if app.config["PLAYGROUND_SOCKETIO_QUEUE"] else None
    socketio = SocketIO(app, async_mode=mode, max_http_buffer_size=limits.max_payload_bytes,
                        serializer=JsonPacket, logger=False, engineio_logger=False,
                        **({"message_queue": redis, "channel": "protocol-playground"} if redis else {}))

    secret = app.config["PLAYGROUND_SECRET"]
    if secret is not None and len(secret) < 16:
        raise ValueError("PLAYGROUND_SECRET must be at least 16 characters (it signs control tokens)")
    manager = SessionManager(SocketIOAdapter(socketio), limits, secret=secret.encode() if secret else None)
    ticker = Ticker(socketio, manager, limits.tick_s, enabled=app.config["PLAYGROUND_TICKER"])
    register(socketio, manager, ticker)
    from .comparepages import compare_bp
    from .guide import guide_bp
    from .joincodes import JoinCodes, redis_client
    from .joinpages import join_bp
    manager.join_codes = JoinCodes(limits.idle_expiry_s, redis_client(redis) if redis else None)
    app.register_blueprint(bp)
    app.register_blueprint(join_bp)
    app.register_blueprint(guide_bp)     # /guide: which pattern when, from measured runs
    app.register_blueprint(compare_bp)   # /compare: one fault schedule, protocols side by side
    install_headers(app, socketio)     # CSP, nosniff, frame and referrer policies on every response
    hops = app.config["PLAYGROUND_PROXY_HOPS"]
    if hops:
        # Outside the Socket.IO middleware, so websocket handlers see the fixed addresses too.
        from werkzeug.middleware.proxy_fix import ProxyFix
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops, x_port=hops)
    app.extensions["playground"] = Playground(socketio, manager, ticker, limits)
    return app
