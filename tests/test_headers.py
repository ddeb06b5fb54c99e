"""Security headers on every kind of response (playground/headers.py), and pages
that a policy without 'unsafe-inline' does not break."""

import re
from pathlib import Path

import pytest

from playground import create_app
from playground.headers import CSP

ROOT = Path(__file__).resolve().parent.parent


def directives(csp: str) -> dict[str, list[str]]:
    out = {}
    for part in csp.split(";"):
        words = part.split()
        if words:
            out[words[0]] = words[1:]
    return out


def assert_secured(r, what: str) -> None:
    h = r.headers
    assert h.get("Content-Security-Policy") == CSP, what
    assert h.get("X-Content-Type-Options") == "nosniff", what
    assert h.get("X-Frame-Options") == "DENY", what
    assert h.get("Referrer-Policy") == "no-referrer", what


def test_the_policy_allows_only_the_sites_own_scripts_styles_and_sockets():
    d = directives(CSP)
    assert d["default-src"] == ["'self'"]
    assert d["script-src"] == ["'self'"]                 # no 'unsafe-inline', no 'unsafe-eval'
    assert d["style-src"] == ["'self'"]
    assert d["connect-src"] == ["'self'"]
    assert d["img-src"] == ["'self'", "data:", "blob:"]
    assert d["object-src"] == ["'none'"]
    assert d["frame-ancestors"] == ["'none'"]
    assert d["base-uri"] == ["'self'"] and d["form-action"] == ["'self'"]
    assert "unsafe" not in CSP and "*" not in CSP


ROUTES = [
    ("/", 200, "gallery"),
    ("/play/raft", 200, "play page"),
    ("/play/2pc?preset=commit", 200, "lesson"),
    ("/play/no-such-protocol", 404, "unknown protocol (error page)"),
    ("/play/raft?s=not-a-token", 400, "damaged share link (error page)"),
    ("/play/raft?t=oops", 400, "bad t (error page)"),
    ("/play/raft?session=gone", 404, "no such session (error page)"),
    ("/nowhere", 404, "not found (error page)"),
    ("/api/protocols", 200, "api"),
    ("/static/js/main.js", 200, "static script"),
    ("/static/css/app.css", 200, "static stylesheet"),
    ("/static/i18n/en.json", 200, "static json"),
    ("/static/nothing.js", 404, "missing static file"),
    ("/vendor/not-vendored.js", 404, "unknown vendor file"),
    ("/j", 200, "join code box"),
    ("/j/ABC234", 404, "unknown join code (join page)"),
    ("/j/ABC234.svg", 404, "QR code of an unknown join code"),
    ("/compare", 200, "side-by-side page"),
    ("/compare?protocols=2pc", 400, "side-by-side refusal (error page)"),
    ("/api/compare/plan?protocols=2pc", 400, "side-by-side api refusal"),
]


@pytest.mark.parametrize("path,status,what", ROUTES)
def test_every_kind_of_route_carries_the_headers(http, path, status, what):
    r = http.get(path)
    assert r.status_code == status, (path, r.status_code)
    assert_secured(r, what)


def test_a_wrong_method_and_a_crashing_page_carry_them_too(app, http, monkeypatch):
    assert_secured(http.post("/"), "405")
    from playground import pages
    monkeypatch.setattr(pages.registry, "all", lambda **_: (_ for _ in ()).throw(RuntimeError("boom")))
    r = http.get("/")
    assert r.status_code == 500
    assert_secured(r, "500 page")


def test_the_vendored_socket_io_client_carries_them(http, app):
    dist = Path(app.config["PLAYGROUND_NODE_MODULES"]) / "socket.io-client" / "dist" / "socket.io.min.js"
    if not dist.is_file():
        pytest.skip("socket.io-client is not installed (npm ci)")
    r = http.get("/vendor/socket.io.min.js")
    assert r.status_code == 200
    assert_secured(r, "vendor file")
    r.close()


def test_socket_io_s_own_polling_responses_carry_them(http):
    """Engine.IO answers /socket.io/ before Flask sees the request."""
    r = http.get("/socket.io/?EIO=4&transport=polling")
    assert r.status_code == 200 and r.get_data(as_text=True).startswith("0{")   # the handshake
    assert_secured(r, "socket.io handshake")
    assert_secured(http.get("/socket.io/?EIO=4&transport=polling&sid=nope"), "socket.io bad sid")


def test_a_header_a_response_sets_itself_is_kept():
    app = create_app({"TESTING": True, "PLAYGROUND_ASYNC_MODE": "threading", "PLAYGROUND_TICKER": False})

    @app.get("/framed")
    def framed():
        return "ok", 200, {"X-Frame-Options": "SAMEORIGIN"}

    r = app.test_client().get("/framed")
    assert r.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert r.headers["Content-Security-Policy"] == CSP


# ---------------------------------------------------------------- what the policy forbids, the pages do not use

def page_html(http) -> dict[str, str]:
    return {path: http.get(path).get_data(as_text=True)
            for path in ("/", "/play/raft", "/play/2pc?preset=commit", "/play/no-such-protocol", "/j",
                         "/j/ABC234", "/compare", "/play/2pc?embed=1")}


def test_the_pages_have_no_inline_script_handlers_or_style_attributes(http):
    for path, html in page_html(http).items():
        for tag in re.findall(r"<script\b[^>]*>", html):
            # Either a file of this site, or data that is never run.
            assert re.search(r'\bsrc="/', tag) or 'type="application/json"' in tag, (path, tag)
        for m in re.finditer(r"<script\b(?![^>]*\bsrc=)([^>]*)>(.*?)</script>", html, re.DOTALL):
            assert 'type="application/json"' in m.group(1), (path, m.group(0)[:80])
        assert not re.search(r"\son[a-z]+\s*=", html), path               # onclick= and friends
        assert not re.search(r"\sstyle\s*=", html), path                  # style attributes
        assert "<style" not in html, path
        assert "javascript:" not in html, path


def test_no_template_or_script_reaches_for_what_the_policy_forbids():
    for f in sorted((ROOT / "templates").glob("*.html")):
        text = f.read_text(encoding="utf-8")
        assert not re.search(r"\sstyle\s*=", text), f.name
        assert not re.search(r"<script>", text), f.name
    for f in sorted((ROOT / "static" / "js").glob("*.js")):
        text = f.read_text(encoding="utf-8")
        assert "eval(" not in text and "new Function" not in text, f.name
        assert not re.search(r"setAttribute\(\s*['\"](style|on[a-z]+)['\"]", text), f.name
        assert not re.search(r"\bstyle=", text), f.name
