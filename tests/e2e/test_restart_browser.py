"""A run survives its server: reloading the owner's page or a watcher's page after the server
restarted rebuilds the run from the share token the page kept (docs/socket-api.md, "Reloading
after a restart"), where it was, and says so."""

import re

from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, free_port, start_server, stop_server
from tests.e2e.test_browser import model, node_action, ready, set_speed

NOTICE = "#rebuilt-notice"
RUN = """() => {
  const m = window.__pp.model;
  return { t: m.t, crashes: m.events.filter((e) => e.type === 'crash').map((e) => [e.node, e.t]),
           n: m.events.length };
}"""


def test_reloading_owner_and_watcher_pages_after_a_restart_rebuilds_the_run(browser, errors):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    contexts = []

    def page_at(path):
        ctx = browser.new_context()
        contexts.append(ctx)
        page = ctx.new_page()
        # Requests refused while the server is down are expected: only script errors count.
        page.on("pageerror", lambda e: errors.append(f"{path}: {e}"))
        page.goto(base + path)
        return ready(page)

    (ROOT / "test-results").mkdir(exist_ok=True)
    with open(ROOT / "test-results" / "server-reload.log", "w") as log:
        proc = start_server(port, log)
        try:
            owner = page_at("/play/raft?preset=first_election")
            session = owner.evaluate("window.__pp.session")
            set_speed(owner, 0)
            owner.click("#play")
            owner.wait_for_function("window.__pp.model.t >= 600", timeout=30000)
            owner.click("#play")                                   # pause
            owner.wait_for_function("window.__pp.playing === false")
            victim = model(owner, "m.ids[1]")
            node_action(owner, victim, "crash")
            owner.wait_for_function(f"window.__pp.model.nodes[{victim!r}].up === false")
            token = owner.evaluate("window.__pp.token")
            before = owner.evaluate(RUN)
            assert before["crashes"] and before["crashes"][-1][0] == victim
            at = int(before["t"])

            watcher = page_at(f"/play/raft?session={session}")
            assert watcher.evaluate("window.__pp.role") == "viewer"
            assert watcher.evaluate(RUN) == before
            # Both address bars carry the session and its run (not the control token).
            for page in (owner, watcher):
                page.wait_for_function(
                    "([s, tok, t]) => { const q = new URLSearchParams(location.search);"
                    " return q.get('session') === s && q.get('s') === tok && q.get('t') === String(t); }",
                    arg=[session, token, at])
                assert "control" not in page.url
            # While the server lives, a watcher who reloads watches the same session again.
            watcher.reload()
            ready(watcher)
            assert watcher.evaluate("[window.__pp.session, window.__pp.role]") == [session, "viewer"]

            # A third tab whose run was too long for its address bar: only sessionStorage has it.
            kept = page_at(f"/play/raft?session={session}")
            kept.wait_for_function("new URLSearchParams(location.search).has('s')")
            kept.evaluate(f"history.replaceState(null, '', location.pathname + '?session={session}')")

            # The server dies and a new one starts on the same port. The pages reload before
            # their sockets find it (a page left open rebuilds on its own: test_browser.py).
            for page in (owner, watcher, kept):
                page.route("**/socket.io/**", lambda route: route.abort())
            proc.kill()
            proc.wait()
            proc = start_server(port, log)

            rebuilt = {}
            for name, page in (("owner", owner), ("watcher", watcher), ("kept", kept)):
                page.unroute("**/socket.io/**")
                page.reload()
                ready(page)
                page.wait_for_function(f"window.__pp.session && window.__pp.session !== {session!r}")
                rebuilt[name] = page.evaluate("window.__pp.session")
                # Each is the owner of a copy of its own, paused where the run was, crash included.
                assert page.evaluate("window.__pp.role") == "controller", name
                assert page.evaluate("window.__pp.playing") is False, name
                assert page.evaluate(RUN) == {**before, "t": at}, name
                assert page.evaluate("window.__pp.token") == token, name
                notice = page.locator(NOTICE)
                expect(notice).to_be_visible()
                expect(notice).to_contain_text("rebuilt from its link")
                expect(notice).to_contain_text("yours to control")
                expect(page.locator(".viewer-banner")).to_be_hidden()
                # The address bar names the new session now: another reload joins it.
                page.wait_for_function(f"new URLSearchParams(location.search).get('session') === {rebuilt[name]!r}")
            # Nobody got anyone else's run: three sessions, none of them the old one.
            assert len(set(rebuilt.values())) == 3

            # The notice follows the language.
            watcher.select_option("#lang", "zh")
            expect(watcher.locator(NOTICE)).to_contain_text("根据链接重建")
            expect(watcher.locator(NOTICE)).to_contain_text(re.compile(r"暂停在 \S+"))
            watcher.select_option("#lang", "en")
            expect(watcher.locator(NOTICE)).to_contain_text("rebuilt from its link")
            watcher.click(f"{NOTICE} .bn-dismiss")
            expect(watcher.locator(NOTICE)).to_be_hidden()

            # The rebuilt run is a live one: the owner plays it on.
            owner.click("#play")
            owner.wait_for_function(f"window.__pp.model.t > {at}", timeout=30000)
            owner.click("#play")
        finally:
            for ctx in contexts:
                ctx.close()
            stop_server(proc)


def test_a_session_that_is_gone_with_nothing_kept_still_says_so(browser):
    """No s= in the link and nothing in this tab's storage: the "ended" page, as before."""
    port = free_port()
    with open(ROOT / "test-results" / "server-reload-gone.log", "w") as log:
        proc = start_server(port, log)
        ctx = browser.new_context()
        try:
            page = ctx.new_page()
            resp = page.goto(f"http://127.0.0.1:{port}/play/raft?session=NOPE")
            assert resp.status == 404
            expect(page.locator(".error-message")).to_contain_text("ended")
            page.wait_for_timeout(300)
            assert page.url.endswith("/play/raft?session=NOPE")     # no redirect: nothing kept
        finally:
            ctx.close()
            stop_server(proc)
