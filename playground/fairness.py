"""No single connection or address may hurt the others: rate and CPU budgets.

Installed over python-socketio's server by `install()` (one call from
sockets.register), it checks every incoming packet before any handler work:

- events: a token bucket per connection (event_rate/s after event_burst) and a
  larger one per address (a class behind one NAT). An event over budget is
  dropped at once (no green thread, no Flask request context, no handler); if
  it asked for an ack it gets `limit` / "refused.rate", and the first refusal
  of a streak also sends an `error` event. More than max_refusals refusals in
  refusal_window_s and the connection is dropped.
- connections: at most max_connections_per_address Socket.IO connections from
  one address; the next is refused at its handshake.
- CPU: expensive commands (create, configure, action, seek, restart, extend, chapter moves) are timed
  with the manager's clock, less the time their work spent yielded to others
  (manager.waited(), pacing.py), and charged, in milliseconds, to a per-connection
  bucket (cpu_rate_ms/s after cpu_burst_ms) and to its address's (four tabs
  seeking in a loop share one budget); once either is empty they are refused
  with `limit` / "refused.busy" until it refills.

Every clock reading is `manager.clock()`, so tests drive all of it with a fake clock.
"""

from __future__ import annotations

import logging
import socket
import threading

from socketio import packet

from .payloads import ApiError

log = logging.getLogger(__name__)

EXPENSIVE_EVENTS = ("create", "configure", "action")
EXPENSIVE_COMMANDS = ("seek", "restart", "extend", "chapter_next", "chapter_prev")   # they run the engine


class Bucket:
    """A token bucket: `tokens` refill at `rate` per second up to `burst`."""

    __slots__ = ("at", "tokens")

    def __init__(self, burst: float, now: float):
        self.tokens = burst
        self.at = now

    def refill(self, now: float, rate: float, burst: float) -> float:
        if now > self.at:
            self.tokens = min(burst, self.tokens + (now - self.at) * rate)
        self.at = now
        return self.tokens

    def take(self, now: float, rate: float, burst: float, cost: float = 1.0) -> bool:
        if self.refill(now, rate, burst) >= cost:
            self.tokens -= cost
            return True
        return False


class Conn:
    __slots__ = ("addr", "cpu", "events", "refusals", "told", "window")

    def __init__(self, addr: str, now: float, event_burst: float, cpu_burst: float):
        self.addr = addr
        self.events = Bucket(event_burst, now)
        self.cpu = Bucket(cpu_burst, now)
        self.window = now        # start of the current refusal window
        self.refusals = 0
        self.told = False        # an `error` event went out for the current refusal streak


def rate_error(limits) -> ApiError:
    return ApiError("limit", f"too many messages: at most {limits.event_rate:g} a second; slow down",
                    "refused.rate", {"n": f"{limits.event_rate:g}"})


def busy_error() -> ApiError:
    return ApiError("limit", "this connection has used its share of the server for heavy commands "
                             "(seek, restart, configure, fork); wait a few seconds", "refused.busy")


def connections_error(limits) -> ApiError:
    return ApiError("limit", f"this address has {limits.max_connections_per_address} connections open, "
                             "the most it may have", "refused.connections",
                    {"n": limits.max_connections_per_address})


class Fairness:
    def __init__(self, server, manager):
        self.server = server
        self.manager = manager
        self.conns: dict[str, Conn] = {}              # engine.io sid -> its budgets
        self.addresses: dict[str, list] = {}          # address -> [open connections, events, cpu]
        self.disconnected = 0                         # connections dropped for flooding
        self._lock = threading.Lock()

    @property
    def limits(self):
        return self.manager.limits

    # ------------------------------------------------------------ connections

    def on_eio_connect(self, original, eio_sid, environ):
        lim = self.limits
        addr = str(environ.get("REMOTE_ADDR") or "?")
        now = self.manager.clock()
        with self._lock:
            entry = self.addresses.get(addr)
            if entry is not None and entry[0] >= lim.max_connections_per_address:
                log.warning("refused a connection from %s: %d open", addr, entry[0])
                return False
            if entry is None:
                entry = self.addresses[addr] = [0, Bucket(lim.address_event_burst, now),
                                                Bucket(lim.address_cpu_burst_ms, now)]
            entry[0] += 1
            self.conns[eio_sid] = Conn(addr, now, lim.event_burst, lim.cpu_burst_ms)
        return original(eio_sid, environ)

    def on_connect(self, original, eio_sid, namespace, data):
        if eio_sid not in self.conns:   # refused at its handshake (a test client carries on anyway)
            e = connections_error(self.limits)
            self.server._send_packet(eio_sid, self.server.packet_class(
                packet.CONNECT_ERROR, data={"message": e.message, "data": e.payload()},
                namespace=namespace or "/"))
            return None
        return original(eio_sid, namespace, data)

    def on_disconnect(self, original, eio_sid, *args):
        """Socket.IO's or engine.io's disconnect, whichever comes first, frees the place
        (one Socket.IO connection per engine.io one: this server has one namespace)."""
        try:
            return original(eio_sid, *args)
        finally:
            with self._lock:
                conn = self.conns.pop(eio_sid, None)
                if conn is not None:
                    entry = self.addresses.get(conn.addr)
                    if entry is not None:
                        entry[0] -= 1
                        if entry[0] <= 0:
                            del self.addresses[conn.addr]

    # ------------------------------------------------------------ events

    def on_event(self, original, eio_sid, namespace, id, data):
        """Before anything else is done for an event: is it within its budgets?"""
        conn = self.conns.get(eio_sid)
        if conn is None:
            return original(eio_sid, namespace, id, data)
        lim = self.limits
        now = self.manager.clock()
        with self._lock:
            entry = self.addresses.get(conn.addr)
            ok = conn.events.take(now, lim.event_rate, lim.event_burst)
            if ok and entry is not None and not entry[1].take(now, lim.address_event_rate,
                                                              lim.address_event_burst):
                ok = False
                conn.events.tokens += 1        # refused by the address: its own token is kept
            if ok:
                conn.told = False
            else:
                if now - conn.window >= lim.refusal_window_s:
                    conn.window, conn.refusals = now, 0
                conn.refusals += 1
                drop = conn.refusals > lim.max_refusals
                tell = not conn.told
                conn.told = True
        if ok:
            return original(eio_sid, namespace, id, data)
        if drop:
            self._drop(eio_sid, conn)
            return None
        e = rate_error(lim)
        if id is not None:
            self._ack(eio_sid, namespace, id, e)
        if tell:
            self._error(eio_sid, e)
        return None

    def on_event_internal(self, original, server, sid, eio_sid, data, namespace, id):
        """Runs the handler; expensive commands are charged their time, refused when over budget."""
        conn = self.conns.get(eio_sid)
        if conn is None or not _expensive(data):
            return original(server, sid, eio_sid, data, namespace, id)
        lim = self.limits
        clock = self.manager.clock
        start, waited = clock(), self.manager.waited()
        entry = self.addresses.get(conn.addr)
        shared = entry[2] if entry is not None else Bucket(lim.address_cpu_burst_ms, start)
        if (conn.cpu.refill(start, lim.cpu_rate_ms, lim.cpu_burst_ms) <= 0
                or shared.refill(start, lim.address_cpu_rate_ms, lim.address_cpu_burst_ms) <= 0):
            e = busy_error()
            self._error(eio_sid, e)
            if id is not None:
                self._ack(eio_sid, namespace, id, e)
            return None
        try:
            return original(server, sid, eio_sid, data, namespace, id)
        finally:
            # In debt after a long command: the next ones wait until it is paid back. Its own
            # work only: the slices other clients ran while it yielded are theirs to pay.
            spent = max(0.0, clock() - start - (self.manager.waited() - waited)) * 1000.0
            conn.cpu.tokens -= spent
            shared.tokens -= spent

    # ------------------------------------------------------------ replies

    def _ack(self, eio_sid, namespace, id, e: ApiError) -> None:
        reply = {"ok": False, "error": e.message, **e.payload()}
        self.server._send_packet(eio_sid, self.server.packet_class(
            packet.ACK, namespace=namespace or "/", id=id, data=[reply]))

    def _error(self, eio_sid, e: ApiError) -> None:
        self.server._send_packet(eio_sid, self.server.packet_class(
            packet.EVENT, namespace="/", data=["error", e.payload()]))

    def _drop(self, eio_sid, conn: Conn) -> None:
        self.disconnected += 1
        log.warning("connection from %s kept flooding (%d refused): disconnected", conn.addr, conn.refusals)
        sid = self.server.manager.sid_from_eio_sid(eio_sid, "/")
        try:
            if sid is not None:
                self.server.disconnect(sid, namespace="/")
            esock = self.server.eio.sockets.get(eio_sid)
            if esock is not None:
                # Not eio.disconnect(): it waits for the writer, which a flooder that reads
                # nothing can block forever. Then shut its websocket (serving.py keeps it on the
                # socket), or its reader would go on decoding a flood already in the buffers.
                esock.close(wait=False, abort=True)
                ws = getattr(esock, "ws", None)
                if ws is not None:
                    ws.wait = _nothing_more           # its reader reads no more of the flood
                    try:
                        ws.socket.shutdown(socket.SHUT_RDWR)
                    except OSError:
                        pass
        except Exception:
            log.exception("could not drop a flooding connection")


def _nothing_more():
    return None


def _expensive(data) -> bool:
    if not isinstance(data, list) or not data:
        return False
    name = data[0]
    if name in EXPENSIVE_EVENTS:
        return True
    if name == "control" and len(data) > 1 and isinstance(data[1], dict):
        return data[1].get("cmd") in EXPENSIVE_COMMANDS
    return False


def _wrap(original, hook):
    def wrapped(*args):
        return hook(original, *args)
    return wrapped


def install(socketio, manager) -> Fairness:
    """Put the budgets in front of the Socket.IO server's own dispatch (python-socketio 5:
    it calls these through the instance, and engine.io through its handler table)."""
    server = socketio.server
    f = Fairness(server, manager)
    # Engine.IO hands each incoming message to Socket.IO in the connection's own reader, not
    # in a new green thread per message: a flood is decoded and refused there, one message at
    # a time, instead of spawning a thread for each (217,000 of them in 5 s stalled everyone).
    # Socket.IO still runs each accepted event's handler in a thread of its own.
    server.eio.async_handlers = False
    eio_connect = _wrap(server._handle_eio_connect, f.on_eio_connect)
    eio_disconnect = _wrap(server._handle_eio_disconnect, f.on_disconnect)
    server._handle_eio_connect = eio_connect
    server._handle_eio_disconnect = eio_disconnect
    server.eio.on("connect", eio_connect)
    server.eio.on("disconnect", eio_disconnect)
    server._handle_connect = _wrap(server._handle_connect, f.on_connect)
    server._handle_disconnect = _wrap(server._handle_disconnect, f.on_disconnect)
    server._handle_event = _wrap(server._handle_event, f.on_event)
    server._handle_event_internal = _wrap(server._handle_event_internal, f.on_event_internal)
    manager.fairness = f
    return f
