"""Socket.IO event handlers: parse the payload, call the manager, turn refusals
into an `error` event plus a failed ack. See docs/socket-api.md."""

from __future__ import annotations

import functools
import logging

from flask import current_app, request
from flask_socketio import emit

from engine import ScenarioError

from . import payloads as p
from . import wire
from .payloads import ApiError

log = logging.getLogger(__name__)


class SocketIOAdapter:
    """The manager's view of Flask-SocketIO (usable outside request context)."""

    def __init__(self, socketio):
        self.socketio = socketio

    def emit(self, event: str, data, to: str, skip=None) -> None:
        # Never through the message queue: every client of a session is connected to the process
        # that holds it (the proxy routes on the session's key), so a batch published to Redis
        # would only come back to this process, slower (docs/scale-out.md).
        self.socketio.emit(event, data, to=to, skip_sid=skip, namespace="/", ignore_queue=True)

    def enter(self, sid: str, room: str) -> None:
        self.socketio.server.enter_room(sid, room, namespace="/")

    def leave(self, sid: str, room: str) -> None:
        self.socketio.server.leave_room(sid, room, namespace="/")

    def connected(self, sid: str) -> bool:
        return self.socketio.server.manager.is_connected(sid, "/")

    def backlog(self, sid: str) -> int:
        """Packets queued for this client and not yet written to its socket (0 if unknown).

        Engine.IO keeps one outgoing queue per client, drained as fast as its socket takes
        them; python-socketio offers no public reading of it, so this reads the queue and
        reports 0 where a version keeps it elsewhere (the manager then sends as before)."""
        server = self.socketio.server
        try:
            sock = server.eio.sockets.get(server.manager.eio_sid_from_sid(sid, "/"))
            return sock.queue.qsize() if sock is not None else 0
        except (AttributeError, KeyError, TypeError, NotImplementedError):
            return 0

    def sleep(self, seconds: float) -> None:
        self.socketio.sleep(seconds)


def _refuse(e: ApiError) -> dict:
    payload = e.payload()
    emit("error", payload)
    return {"ok": False, "error": e.message, **payload}


def guarded(fn):
    """Whatever a client sends, the handler answers; nothing it sends can raise out."""
    @functools.wraps(fn)
    def handler(*args):
        try:
            return fn(*args)
        except ApiError as e:
            return _refuse(e)
        except ScenarioError as e:
            return _refuse(p.from_scenario_error(e))
        except Exception:
            log.exception("socket event %s failed", fn.__name__)
            return _refuse(ApiError("internal", "internal server error; the session goes on", "refused.internal"))
    return handler


def register(socketio, manager, ticker) -> None:
    max_id = manager.limits.max_id_chars
    from . import fairness
    fairness.install(socketio, manager)   # rate, connection and CPU budgets, before any handler
    from .hunts import DEFAULT_RUNS as DEFAULT_HUNT_RUNS
    from .hunts import Hunts
    hunts = manager.hunts = Hunts(socketio, manager)   # "Find a bug": searches off the event loop

    @socketio.on("connect")
    def on_connect(*_args):
        try:
            manager.connected(request.sid, request.args.get("route"))
        except ApiError as e:
            raise ConnectionRefusedError(e.payload()) from None
        ticker.ensure_started()

    @socketio.on("disconnect")
    def on_disconnect(*_args):
        if socketio.server.manager.is_connected(request.sid, "/"):
            # Still connected: a client *sent* an event called "disconnect" (python-socketio
            # routes it here too). A real disconnect is marked before this handler runs.
            return _refuse(p.bad("'disconnect' is not an event a client may send"))
        try:
            manager.disconnect(request.sid)
        except Exception:
            log.exception("disconnect cleanup failed")
        try:
            hunts.disconnect(request.sid)     # its search is cancelled (the child killed)
        except Exception:
            log.exception("hunt cleanup failed")
        return None

    @socketio.on("create")
    @guarded
    def on_create(*args):
        scenario, t, resume = p.parse_create(args, max_id)
        return manager.create(request.sid, scenario, t, request.remote_addr, resume)

    @socketio.on("join")
    @guarded
    def on_join(*args):
        session_id, control = p.parse_join(args, max_id)
        return manager.join(request.sid, session_id, control)

    @socketio.on("leave")
    @guarded
    def on_leave(*args):
        return manager.leave(request.sid, p.parse_leave(args, max_id))

    @socketio.on("control")
    @guarded
    def on_control(*args):
        return manager.control(*p.parse_control(args, max_id))

    @socketio.on("action")
    @guarded
    def on_action(*args):
        return manager.action(*p.parse_action(args, max_id))

    @socketio.on("code")
    @guarded
    def on_code(*args):
        return manager.join_code(*p.parse_code(args, max_id))

    @socketio.on("configure")
    @guarded
    def on_configure(*args):
        return manager.configure(*p.parse_configure(args, max_id))

    @socketio.on("hunt")
    @guarded
    def on_hunt(*args):
        session_id, runs = p.parse_hunt(args, max_id, manager.limits.max_hunt_runs, DEFAULT_HUNT_RUNS)
        return hunts.start(request.sid, request.remote_addr, session_id, runs,
                           current_app.config.get("PLAYGROUND_REDIS"))

    @socketio.on("hunt_cancel")
    @guarded
    def on_hunt_cancel(*args):
        return hunts.cancel(request.sid, p.parse_hunt_cancel(args, max_id))

    @socketio.on("*")
    @guarded
    def on_unknown(event, *args):
        if event == wire.BAD_PACKET:   # only ever made by wire.JsonPacket.decode: its reason follows
            raise p.bad(str(args[0]) if args else "could not read this message")
        raise p.bad(f"unknown event {str(event)[:40]!r}; see docs/socket-api.md")
