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


def _server_options(mode: str) -> dict:
    if mode == "eventlet":
        from eventlet import wsgi

        class Protocol(wsgi.HttpProtocol):
            def setup(self):
                super().setup()
                _nodelay(self.connection)

        return {"protocol": Protocol}
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
    socketio = app.extensions["playground"].socketio
    socketio.run(app, host=host, port=port, **_server_options(mode))
