"""Running the app under socketio.run, with TCP_NODELAY on every connection.

Without it a short reply written right after another frame (an ack after an
`events` batch, a `playback` after a snapshot) waits for the client's delayed
ACK: a steady ~40 ms added to every paused action. Each async mode's server
takes its own per-connection hook; imported only after monkey-patching.
"""

from __future__ import annotations

import socket


def _nodelay(sock) -> None:
    try:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    except (OSError, AttributeError):   # not TCP (a unix socket, a test double)
        pass


class _HeaderTimeout(Exception):
    """A request's line and headers did not arrive within header_timeout_s."""


RESPONSE_503 = (b"HTTP/1.1 503 Service Unavailable\r\nConnection: close\r\nContent-Length: 0\r\n"
                b"Retry-After: 5\r\n\r\n")


def _apply_mask(data, mask, length=None, offset=0) -> bytes:
    """RFC 6455 unmasking of a websocket frame's bytes, in one XOR of two integers
    (eventlet's own does it a byte at a time in Python: 20 MiB stalled every client)."""
    n = len(data) if length is None else length
    if n <= 0:
        return b""
    key = bytes(mask[(offset + i) % 4] for i in range(4)) * (n // 4 + 1)
    return (int.from_bytes(data[:n], "big") ^ int.from_bytes(key[:n], "big")).to_bytes(n, "big")


def bound_websocket(ws, limit: int):
    """Make an eventlet RFC6455WebSocket refuse a message over `limit` bytes as it
    arrives: the fragments of one message are counted as they are read (eventlet only
    checks each frame), and past the limit the connection closes with status 1009
    before any more is buffered. Also swaps in the fast unmasking."""
    from eventlet import websocket

    class Message(websocket.RFC6455WebSocket.Message):
        size = 0

        def push(self, data, final=False):
            self.size += len(data)
            if self.size > limit:
                raise websocket.FailedConnectionError(1009, f"message over {limit} bytes")
            super().push(data, final)

    ws.Message = Message
    ws._apply_mask = _apply_mask
    return ws


def _bounded_websockets(socketio) -> None:
    """Engine.IO's eventlet websocket class, with bound_websocket on each connection."""
    eio = socketio.server.eio
    base = eio._async["websocket"]

    class WebSocket(base):
        def _handle_hybi_request(self, environ):
            ws = bound_websocket(super()._handle_hybi_request(environ), int(self.max_frame_length))
            # Engine.IO's writer takes a packet off its queue, then blocks in send() until the
            # socket takes it all: count that packet as not yet written (see _count_in_flight).
            owner = getattr(self.handler, "__self__", None)     # the engine.io Socket
            if owner is not None:
                owner.ws = ws          # fairness.py shuts it to drop a flooding connection
                send = ws.send

                def counted_send(*args, **kwargs):
                    owner.in_flight = getattr(owner, "in_flight", 0) + 1
                    try:
                        return send(*args, **kwargs)
                    finally:
                        owner.in_flight -= 1

                ws.send = counted_send
            return ws

    eio._async = {**eio._async, "websocket": WebSocket}


def _count_in_flight(pg) -> None:
    """The manager's backlog of a client, plus the packet its websocket is still writing
    (a megabyte snapshot to a reader that stopped sits there, not in the queue)."""
    io, server = pg.manager.io, pg.socketio.server
    queued = io.backlog

    def backlog(sid: str) -> int:
        n = queued(sid)
        try:
            sock = server.eio.sockets.get(server.manager.eio_sid_from_sid(sid, "/"))
        except (AttributeError, KeyError, TypeError):
            return n
        return n + getattr(sock, "in_flight", 0)

    io.backlog = backlog


def _eventlet_protocol(limits, per_address: bool):
    """eventlet's HttpProtocol with TCP_NODELAY, a deadline for a request's line and
    headers (an idle keep-alive connection included), and a cap on one address's open
    connections (off behind a proxy, where every connection comes from the proxy)."""
    import eventlet
    from eventlet import wsgi

    open_by_address: dict[str, int] = {}
    cap = limits.max_http_connections_per_address
    deadline_s = limits.header_timeout_s

    class Protocol(wsgi.HttpProtocol):
        def setup(self):
            super().setup()
            _nodelay(self.connection)
            self._deadline = None
            addr = self.client_address[0] if isinstance(self.client_address, tuple) else str(self.client_address)
            self._addr = addr if per_address else None
            self._admitted = True
            if self._addr is not None:
                n = open_by_address.get(addr, 0)
                self._admitted = n < cap
                if self._admitted:
                    open_by_address[addr] = n + 1

        def handle(self):
            if not self._admitted:
                try:
                    self.wfile.write(RESPONSE_503)
                    self.wfile.flush()
                except OSError:
                    pass
                self.close_connection = 1
                return
            super().handle()

        def finish(self):
            self._cancel()
            if self._addr is not None and self._admitted:
                n = open_by_address.get(self._addr, 1) - 1
                if n > 0:
                    open_by_address[self._addr] = n
                else:
                    open_by_address.pop(self._addr, None)
            super().finish()

        def _cancel(self):
            if self._deadline is not None:
                self._deadline.cancel()
                self._deadline = None

        def _read_request_line(self):
            self._cancel()
            self._deadline = eventlet.Timeout(deadline_s, _HeaderTimeout())
            try:
                line = super()._read_request_line()
            except _HeaderTimeout:
                self._deadline = None
                return b""                     # closes the connection
            if not line:
                self._cancel()
            return line

        def parse_request(self):
            try:
                return super().parse_request()
            except _HeaderTimeout:
                self._deadline = None
                self.close_connection = 1
                return False
            finally:
                self._cancel()

    return Protocol


def _server_options(mode: str, limits=None, per_address: bool = True) -> dict:
    if mode == "eventlet":
        from .limits import Limits
        limits = limits or Limits()
        # socket_timeout: a read or write that makes no progress for this long ends its request
        # (a client that stops reading a response); the header deadline is the Protocol's.
        return {"protocol": _eventlet_protocol(limits, per_address),
                "socket_timeout": max(60.0, limits.header_timeout_s)}
    from werkzeug.serving import WSGIRequestHandler

    class RequestHandler(WSGIRequestHandler):
        disable_nagle_algorithm = True

    # The Werkzeug server is what the threading mode has; fine for a classroom.
    return {"request_handler": RequestHandler, "allow_unsafe_werkzeug": True}


def _run_gevent(app, host: str, port: int) -> None:
    """gevent's server with gevent-websocket's handler, as socketio.run would start it
    (which offers no way to add TCP_NODELAY to that handler). Without gevent-websocket,
    websockets fall back to simple-websocket, which under gevent can cut a large frame short."""
    from gevent import pywsgi
    from geventwebsocket.handler import WebSocketHandler

    class Handler(WebSocketHandler):
        def __init__(self, sock, *args, **kwargs):
            _nodelay(sock)
            super().__init__(sock, *args, **kwargs)

    pywsgi.WSGIServer((host, port), app, handler_class=Handler, log=None).serve_forever()


def run(app, host: str, port: int, mode: str) -> None:
    if mode == "gevent":
        _run_gevent(app, host, port)
        return
    pg = app.extensions["playground"]
    if mode == "eventlet":
        _bounded_websockets(pg.socketio)
        _count_in_flight(pg)
    per_address = not app.config.get("PLAYGROUND_PROXY_HOPS")   # behind a proxy: the proxy's job
    pg.socketio.run(app, host=host, port=port, **_server_options(mode, pg.limits, per_address))
