"""Security headers on every HTTP response: pages, error pages, /api, /vendor,
static files and Socket.IO's own (Engine.IO polling) responses.

The pages load only their own scripts, styles and sockets: no inline script (the
data a page boots from sits in <script type="application/json"> blocks, which are
never run), no style attributes in the HTML (scripts set styles through the CSSOM,
e.g. `el.style.setProperty`, which a CSP does not restrict). Images may be data:
URLs (the favicon) and blob: URLs (exports drawn in the page). 'self' in
connect-src covers the websocket to the same host (ws: and wss:, CSP Level 3).
A share link carries the run (?s=token) and a live link the session id
(?session=...): no-referrer keeps both from leaking to any site the page links to.
"""

from __future__ import annotations

CSP = (
    "default-src 'self'; "
    "script-src 'self'; "
    "style-src 'self'; "
    "img-src 'self' data: blob:; "
    "font-src 'self'; "
    "connect-src 'self'; "
    "object-src 'none'; "
    "base-uri 'self'; "
    "form-action 'self'; "
    "frame-ancestors 'none'"
)

HEADERS = (
    ("Content-Security-Policy", CSP),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "DENY"),
    ("Referrer-Policy", "no-referrer"),
)

# A play page opened with embed=1 is a frame of the side-by-side page (/compare): it may be
# framed by this site's own pages, never by another site's.
FRAMEABLE = {
    "Content-Security-Policy": CSP.replace("frame-ancestors 'none'", "frame-ancestors 'self'"),
    "X-Frame-Options": "SAMEORIGIN",
}


def add_headers(headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
    """A WSGI header list with ours added where the response did not set its own."""
    have = {name.lower() for name, _ in headers}
    return headers + [(name, value) for name, value in HEADERS if name.lower() not in have]


def with_headers(wsgi_handler):
    """A WSGI callable whose responses carry HEADERS."""
    def handler(environ, start_response):
        def start(status, headers, exc_info=None):
            return start_response(status, add_headers(list(headers)), exc_info)
        return wsgi_handler(environ, start)
    return handler


def install(app, socketio) -> None:
    """Flask's responses get the headers after each request; Socket.IO's are answered by
    Engine.IO before Flask sees the request, so its request handler is wrapped too."""
    @app.after_request
    def security_headers(response):
        for name, value in HEADERS:
            response.headers.setdefault(name, value)
        return response

    server = socketio.server
    server.handle_request = with_headers(server.handle_request)
