"""The playground in real Chromium against the real server (a subprocess).

Each test drives the page the way a person does (mouse on the canvas, menus,
buttons, keyboard) and checks what the page shows and what the server holds.
"""

import re

import pytest
from playwright.sync_api import expect

from tests.e2e.conftest import ROOT, free_port, start_server, stop_server

READY = "window.__pp && window.__pp.ready"


def ready(page):
    page.wait_for_function(READY)
    return page


def model(page, expr):
    return page.evaluate(f"(() => {{ const m = window.__pp.model; return {expr}; }})()")


def set_speed(page, speed_log10: float):
    page.fill("#speed", str(speed_log10))


def click_node_at(page, node):
    pos = page.evaluate(f"window.__pp.nodeScreenPos({node!r})")
    page.mouse.click(pos["x"], pos["y"])


def click_node(page, node):
    click_node_at(page, node)
    expect(page.locator("#node-menu")).to_be_visible()


def node_action(page, node, action):
    click_node(page, node)
    page.click(f'#node-menu [data-action="{action}"]')


def canvas_png(page):
    return page.locator("#canvas").screenshot()


def step_until_in_flight(page, kind=None, steps=60):
    """Step the run until a message (of this kind) is in flight; return its id."""
    find = "Object.values(m.inflight).find(x => {})".format("true" if kind is None else f"x.kind === {kind!r}")
    for _ in range(steps):
        mid = model(page, f"({find} || {{}}).id")
        if mid is not None:
            return mid
        page.click("#step")
        page.wait_for_timeout(30)
    raise AssertionError(f"no {kind or 'message'} in flight after {steps} steps")


def drop_by_click(page, mid):
    pos = page.evaluate(f"window.__pp.messageScreenPos({mid})")
    page.mouse.click(pos["x"], pos["y"])
    expect(page.locator("#msg-menu")).to_be_visible()
    page.click('#msg-menu [data-action="drop"]')
    page.wait_for_function(f"!({mid} in window.__pp.model.inflight)")


def test_gallery_lists_protocols_and_their_presets(open_page):
    page = open_page("/")
    expect(page.get_by_text("Two-phase commit").first).to_be_visible()
    expect(page.get_by_text("Raft").first).to_be_visible()
    assert page.locator('a[href="/play/2pc?preset=coordinator_crash"]').count() == 1
    assert page.locator('a[href="/play/raft?preset=figure8"]').count() == 1
    page.locator('a[href="/play/raft?preset=figure8"]').click()
    ready(page)
    assert model(page, "Object.keys(m.nodes).length") == 5


def test_2pc_run_shows_nodes_and_moving_messages(open_page):
    page = ready(open_page("/play/2pc?preset=commit"))
    assert model(page, "Object.keys(m.nodes).sort()") == ["c", "p1", "p2", "p3"]
    before = canvas_png(page)
    set_speed(page, -1.5)                 # 0.03x: a 20 ms flight takes most of a second
    page.click("#play")
    page.wait_for_function("Object.keys(window.__pp.model.inflight).length > 0")
    # The message with the longest way to go, watched while the page's clock moves on 1 ms.
    mid = model(page, "Object.values(m.inflight).sort((a, b) => b.deliver_at - a.deliver_at)[0].id")
    t0 = page.evaluate("window.__pp.t")
    p1 = page.evaluate(f"window.__pp.messageScreenPos({mid})")
    page.wait_for_function(f"window.__pp.t >= {t0} + 1")
    p2 = page.evaluate(f"window.__pp.messageScreenPos({mid})")
    assert p1 is not None and p2 is not None and (p1["x"], p1["y"]) != (p2["x"], p2["y"])
    assert canvas_png(page) != before     # the messages are drawn
    page.click("#play")                   # pause


def test_crash_coordinator_after_votes_blocks_participants_and_server_agrees(open_page):
    """The newcomer's path: crash a 2PC coordinator after the votes, see the participants block."""
    page = ready(open_page("/play/2pc?preset=commit"))
    set_speed(page, -1.7)                 # 0.02x: the 50 ms COMMIT write lasts 2.5 s
    page.click("#play")
    page.wait_for_function("(window.__pp.model.nodes.c.phase || {}).tx1 === 'LOGGING'", timeout=30000)
    node_action(page, "c", "crash")
    page.wait_for_function("window.__pp.model.nodes.c.up === false")
    # The caption no longer tells of the COMMIT being written as if c were still at work.
    expect(page.locator("#narration .narr-fault")).to_have_text(re.compile(r"· c crashed$"))
    set_speed(page, 1)                    # 10x to the end of the run (4 s virtual)
    page.wait_for_function("window.__pp.done", timeout=30000)
    for p in ("p1", "p2", "p3"):
        assert model(page, f"m.nodes.{p}.status.tx1") == "PREPARED"
        assert model(page, f"m.nodes.{p}.locks") == {"x": "tx1"}
    # The server holds the same state: a fresh watcher of this session gets it in its snapshot.
    session = page.evaluate("window.__pp.session")
    watcher = ready(open_page(f"/play/2pc?session={session}"))
    assert watcher.evaluate("window.__pp.role") == "viewer"
    assert model(watcher, "m.nodes.c.up") is False
    assert model(watcher, "m.nodes.p2.status.tx1") == "PREPARED"
    expect(watcher.locator("#fork")).to_be_visible()


def test_drop_a_message_in_flight_by_clicking_it(open_page):
    page = ready(open_page("/play/2pc?preset=commit"))
    mid = step_until_in_flight(page)
    drop_by_click(page, mid)
    drops = page.evaluate(
        f"window.__pp.model.events.filter(e => e.type === 'drop' && e.id === {mid}).map(e => e.reason)")
    assert drops == ["user"]
    expect(page.locator("#log")).to_contain_text(re.compile("drop", re.IGNORECASE))


def test_partition_by_picking_groups_is_drawn_and_healed(open_page):
    page = ready(open_page("/play/raft?preset=first_election"))
    before = canvas_png(page)
    page.click("#partition-btn")
    click_node_at(page, "n1")
    page.click("#partition-next")                     # a second group; the rest form a third
    for n in ("n2", "n3"):
        click_node_at(page, n)
    page.click("#partition-apply")
    page.wait_for_function("window.__pp.model.partition !== null")
    groups = model(page, "m.partition")
    assert sorted(map(sorted, groups)) == [["n1"], ["n2", "n3"], ["n4", "n5"]]
    page.wait_for_timeout(100)
    cut = canvas_png(page)
    assert cut != before
    page.click("#heal-btn")
    page.wait_for_function("window.__pp.model.partition === null")


def test_while_picking_groups_every_node_stays_clickable(open_page):
    """The picking hint sits under the canvas, never over a node (at a laptop's 1280x800)."""
    page = ready(open_page("/play/raft?preset=first_election", width=1280, height=800))
    ids = model(page, "m.ids")
    page.click("#partition-btn")

    def uncovered():
        return page.evaluate("""(ids) => ids.filter((id) => {
            const p = window.__pp.nodeScreenPos(id);
            return document.elementFromPoint(p.x, p.y) !== document.getElementById('canvas');
        })""", ids)

    assert uncovered() == []
    for n in ("n1", "n2"):
        click_node_at(page, n)
        expect(page.locator("#partition-hint")).to_be_visible()
        assert uncovered() == [], f"covered after picking {n}"
    page.click("#partition-next")
    click_node_at(page, "n3")
    assert uncovered() == []
    page.click("#partition-apply")
    page.wait_for_function("window.__pp.model.partition !== null")
    assert sorted(map(sorted, model(page, "m.partition"))) == [["n1", "n2"], ["n3"], ["n4", "n5"]]


def test_share_url_reproduces_the_same_run(open_page):
    page = ready(open_page("/play/2pc?preset=commit"))
    node_action(page, "p2", "crash")
    page.wait_for_function("window.__pp.model.nodes.p2.up === false")
    set_speed(page, 0)                    # 1x
    page.click("#play")
    page.wait_for_function("window.__pp.model.t >= 1500", timeout=30000)
    page.click("#play")                   # pause
    page.wait_for_timeout(200)
    page.click("#share")
    url = page.input_value("#share-url")
    assert "?s=" in url and "t=" in url
    t_here = model(page, "m.t")
    nodes_here = model(page, "m.nodes")
    other = ready(open_page(url[url.index("/play/"):]))
    assert int(model(other, "m.t")) == int(t_here)     # the link carries whole milliseconds
    assert model(other, "m.nodes") == nodes_here
    assert model(other, "m.violations") == model(page, "m.violations")
    assert nodes_here["p2"]["up"] is False


def test_switching_to_chinese_translates_and_is_remembered(open_page):
    page = ready(open_page("/play/raft"))
    english = page.inner_text("#play")
    page.select_option("#lang", "zh")
    page.wait_for_function(f"document.querySelector('#play').innerText !== {english!r}")
    chinese = page.inner_text("#play")
    assert re.search(r"[\u4e00-\u9fff]", chinese)
    assert re.search(r"[\u4e00-\u9fff]", page.inner_text("#invariants"))
    page.reload()
    ready(page)
    assert page.inner_text("#play") == chinese
    page.select_option("#lang", "en")


def test_keyboard_space_plays_and_pauses(open_page):
    page = ready(open_page("/play/raft?preset=first_election"))
    page.keyboard.press("Space")
    page.wait_for_function("window.__pp.model.t > 0")
    page.keyboard.press("Space")
    page.wait_for_timeout(300)
    t1 = model(page, "m.t")
    page.wait_for_timeout(300)
    assert model(page, "m.t") == t1


def test_a_focused_control_keeps_its_own_keys(open_page):
    page = ready(open_page("/play/raft?preset=first_election"))
    page.click("#tab-scenario")
    box = page.locator("#bugs input[type=checkbox]").first
    for _ in range(40):                            # reach it the keyboard's way
        page.keyboard.press("Tab")
        if box.evaluate("(b) => b === document.activeElement"):
            break
    page.keyboard.press("Space")                   # ticks the bug toggle, does not play
    expect(box).to_be_checked()
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pp.playing") is False and model(page, "m.t") == 0
    speed = page.locator("#speed")
    before = speed.input_value()
    page.keyboard.press("Shift+Tab")               # a key press first: the focus below is the keyboard's
    speed.focus()
    page.keyboard.press("ArrowRight")              # moves the slider, does not step the run
    assert speed.input_value() != before
    page.wait_for_timeout(300)
    assert model(page, "m.t") == 0
    page.keyboard.press("Shift+Tab")
    page.locator("#tab-run").focus()
    page.keyboard.press("Space")                   # a tab reached by keyboard: Space picks it, no play
    page.wait_for_timeout(300)
    assert page.evaluate("window.__pp.playing") is False


def test_after_a_mouse_click_on_a_control_space_still_plays(open_page):
    page = ready(open_page("/play/raft?preset=first_election"))
    page.click("#tab-scenario")                    # the mouse leaves focus on the tab...
    page.keyboard.press("Space")                   # ...but Space is still play/pause
    page.wait_for_function("window.__pp.playing === true")
    page.keyboard.press("Space")
    page.wait_for_function("window.__pp.playing === false")


def test_the_lesson_picker_browses_with_the_arrows_and_loads_on_enter(open_page):
    page = ready(open_page("/play/raft?preset=first_election"))
    session = page.evaluate("window.__pp.session")
    lesson = page.locator("#lesson").inner_text()
    page.keyboard.press("Tab")                     # keyboard focus, as a keyboard user gets there
    page.focus("#preset")
    page.keyboard.press("ArrowDown")               # browsing: the lesson is not loaded yet
    page.wait_for_timeout(400)
    assert page.input_value("#preset") != "first_election"
    assert page.locator("#lesson").inner_text() == lesson
    page.keyboard.press("Enter")                   # now it loads, into the same session
    page.wait_for_function(f"document.getElementById('lesson').textContent !== {lesson!r}")
    assert page.evaluate("window.__pp.session") == session


def test_choosing_a_lesson_keeps_the_class_in_the_same_session(open_page):
    teacher = ready(open_page("/play/raft?preset=first_election"))
    session = teacher.evaluate("window.__pp.session")
    student = ready(open_page(f"/play/raft?session={session}"))
    teacher.select_option("#preset", "figure8")
    student.wait_for_function("document.getElementById('preset').value === 'figure8'")
    assert teacher.evaluate("window.__pp.session") == session
    assert student.evaluate("window.__pp.session") == session
    assert student.evaluate("window.__pp.role") == "viewer"
    teacher.click("#play")                        # the student follows the new lesson live
    student.wait_for_function("window.__pp.model.t > 0")
    teacher.click("#play")


def test_bad_links_show_a_clear_page_with_a_way_back(browser, server):
    ctx = browser.new_context()
    page = ctx.new_page()
    for path, status in (("/play/2pc?s=garbage!!", 400), ("/play/nope", 404)):
        resp = page.goto(server + path)
        assert resp.status == status
        expect(page.locator('a[href="/"]').first).to_be_visible()
    ctx.close()


def test_bug_toggle_and_node_count_reconfigure_the_run(open_page):
    page = ready(open_page("/play/raft?preset=first_election"))
    expect(page.locator("#params")).to_be_hidden()         # a tab of its own, next to the inspector
    page.click("#tab-scenario")
    expect(page.locator("#inspector")).to_be_hidden()
    # A value out of range is refused with a message naming the field, and nothing changes.
    page.fill('#params [data-param="nodes"]', "99")
    page.locator('#params [data-param="nodes"]').dispatch_event("change")
    expect(page.locator("#toasts")).to_contain_text("between 3 and 9")
    expect(page.locator('#params [data-param="nodes"]')).to_have_value("5")
    assert model(page, "Object.keys(m.nodes).length") == 5
    page.fill('#params [data-param="nodes"]', "7")
    page.locator('#params [data-param="nodes"]').dispatch_event("change")
    page.wait_for_function("Object.keys(window.__pp.model.nodes).length === 7")
    before = page.evaluate("window.__pp.token")
    page.check('#bugs input[data-bug="volatile_vote"]')
    page.wait_for_function(f"window.__pp.token !== {before!r}")   # the server sent the new scenario back
    expect(page.locator("#bug-count")).to_have_text("1")
    # The server's scenario now carries the bug: a watcher's snapshot shows it checked too.
    session = page.evaluate("window.__pp.session")
    watcher = ready(open_page(f"/play/raft?session={session}"))
    expect(watcher.locator('#bugs input[data-bug="volatile_vote"]')).to_be_checked()
    assert model(watcher, "Object.keys(m.nodes).length") == 7


def test_violation_is_shown_on_the_page_in_both_languages(open_page):
    page = ready(open_page("/play/2pc?preset=heuristic_abort"))
    set_speed(page, 1)
    page.click("#play")
    page.wait_for_function("window.__pp.model.violations.length > 0", timeout=30000)
    row = page.locator('#invariants [data-invariant="atomicity"]')
    expect(row).to_have_attribute("data-status", "violated")
    page.select_option("#lang", "zh")
    expect(page.locator("#invariants")).to_contain_text("原子性")
    page.select_option("#lang", "en")


def test_a_drop_during_a_lesson_keeps_the_lessons_own_faults(open_page):
    """Acting now is not a fork: the coordinator still crashes at 300 ms as the lesson says."""
    page = ready(open_page("/play/2pc?preset=coordinator_crash"))
    drop_by_click(page, step_until_in_flight(page, "Vote"))
    expect(page.locator("#toasts")).not_to_contain_text("Forked")
    set_speed(page, 1)
    page.click("#play")
    page.wait_for_function("window.__pp.model.events.some(e => e.type === 'crash' && e.node === 'c')",
                           timeout=30000)
    assert model(page, "m.events.find(e => e.type === 'crash').t") == 300
    page.click("#play")


def test_refusals_and_error_pages_speak_chinese(open_page, browser, server):
    page = ready(open_page("/play/2pc"))          # free play: nothing is scheduled yet
    page.select_option("#lang", "zh")
    page.click("#step")                            # the server refuses, in the reader's language
    expect(page.locator("#toasts")).to_contain_text("还没有安排任何事件")
    page.select_option("#lang", "en")
    # A Chinese browser gets Chinese error pages, title included (a 404 page logs its own status:
    # not through open_page, which counts console errors).
    ctx = browser.new_context(locale="zh-CN")
    missing = ctx.new_page()
    assert missing.goto(server + "/play/nosuch").status == 404
    expect(missing.locator(".error-message")).to_have_text("没有名为“nosuch”的协议。")
    assert re.search(r"[\u4e00-\u9fff]", missing.title())
    ctx.close()


def test_after_a_server_restart_the_owner_goes_on_and_a_watcher_gets_its_own_copy(browser, errors):
    """A server of its own, stopped and started again on the same port mid-run."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    pages = []

    def page_at(path):
        ctx = browser.new_context()
        page = ctx.new_page()
        # While the server is down the socket's reconnect attempts fail: expected, not errors.
        page.on("pageerror", lambda e: errors.append(f"{path}: {e}"))
        page.goto(base + path)
        pages.append(ctx)
        return ready(page)

    with open(ROOT / "test-results" / "server-restart.log", "w") as log:
        proc = start_server(port, log)
        try:
            teacher = page_at("/play/2pc?preset=coordinator_crash")
            session = teacher.evaluate("window.__pp.session")
            student = page_at(f"/play/2pc?session={session}")
            teacher.click("#play")
            student.wait_for_function("window.__pp.model.nodes.c.up === false", timeout=30000)
            stop_server(proc)
            teacher.wait_for_function("!document.getElementById('canvas-overlay').hidden")
            expect(teacher.locator("#play")).to_be_disabled()     # nothing plays without the server
            proc = start_server(port, log)
            teacher.wait_for_function(f"window.__pp.session !== {session!r}", timeout=30000)
            student.wait_for_function(f"window.__pp.session !== {session!r}", timeout=30000)
            assert teacher.evaluate("window.__pp.role") == "controller"
            # The watcher is not left on a session that is gone: the run is its own now, and it is told.
            assert student.evaluate("window.__pp.role") == "controller"
            assert student.evaluate("window.__pp.session") != teacher.evaluate("window.__pp.session")
            expect(student.locator("#toasts")).to_contain_text("new live link")
            expect(teacher.locator("#toasts")).to_contain_text("rebuilt")
            # ...and nothing contradicts it ("that session no longer exists").
            for page_ in (teacher, student):
                page_.wait_for_timeout(500)
                expect(page_.locator(".toast-error")).to_have_count(0)
            expect(student.locator(".viewer-banner")).to_be_hidden()
            assert model(student, "m.nodes.c.up") is False      # the same run, where it was
        finally:
            for ctx in pages:
                ctx.close()
            stop_server(proc)


def test_a_long_lesson_says_it_has_more_and_opens(open_page):
    page = ready(open_page("/play/raft?preset=figure8", width=1280, height=800))
    more = page.locator("#lesson-more")
    expect(more).to_be_visible()                   # the lesson is cut to one line here
    clipped = page.evaluate("(() => { const p = document.getElementById('lesson'); return p.scrollHeight > p.clientHeight + 1; })()")
    assert clipped
    more.click()
    expect(more).to_have_text("Less")
    assert page.evaluate("(() => { const p = document.getElementById('lesson'); return p.scrollHeight <= p.clientHeight + 1; })()")
    more.click()
    expect(more).to_have_text("More")


def test_nodes_stay_put_whatever_the_caption_says(open_page):
    """Captions come, wrap to two lines and go, the partition hint takes their place: the
    canvas keeps its size, so no node ever moves under the pointer."""
    page = ready(open_page("/play/2pc?preset=coordinator_crash", width=1024, height=768))
    ids = model(page, "m.ids")

    def where():
        return [page.evaluate(f"window.__pp.nodeScreenPos({n!r})") for n in ids]

    home = where()
    captions = set()
    for _ in range(40):
        page.click("#step")
        page.wait_for_timeout(20)
        captions.add(page.locator("#narration").inner_text())
        assert where() == home
    assert len(captions) > 3                       # the caption did change along the way
    page.click("#partition-btn")
    assert where() == home
    page.keyboard.press("Escape")
    assert where() == home


def test_3pc_decides_where_2pc_blocks_in_both_languages(open_page):
    """The same coordinator crash: 2PC's participants stay PREPARED, 3PC's decide and let go."""
    page = ready(open_page("/play/3pc?preset=coordinator_crash"))
    assert model(page, "Object.keys(m.nodes).sort()") == ["c", "p1", "p2", "p3"]
    set_speed(page, 1)                    # 10x
    page.click("#play")
    # Before the coordinator returns at 2165 ms, every participant has decided on its own.
    page.wait_for_function("window.__pp.t >= 1800", timeout=30000)
    page.click("#play")                   # pause
    for p in ("p1", "p2", "p3"):
        assert model(page, f"m.nodes.{p}.status.tx1") == "ABORTED"
        decided = model(page, f"m.events.find(e => e.type === 'state' && e.node === {p!r} && "
                              "((e.changes.status || {}).tx1 === 'ABORTED')).t")
        assert decided < 2165                 # while c was still down
    page.select_option("#lang", "zh")
    expect(page.locator("#lesson")).to_contain_text(re.compile(r"[\u4e00-\u9fff]"))
    expect(page.locator("#log")).to_contain_text("能否提交")      # kind.CanCommit, translated
    page.select_option("#lang", "en")
    expect(page.locator("#log")).to_contain_text("CanCommit")


def test_message_names_are_translated_in_raft_too(open_page):
    """Raft's message kinds are looked up as kind.<Kind>, like every protocol's."""
    page = ready(open_page("/play/raft?preset=replication"))
    step_until_in_flight(page, "RequestVote")
    page.select_option("#lang", "zh")
    expect(page.locator("#log")).to_contain_text("请求投票")
    page.select_option("#lang", "en")


def test_tcc_drop_a_try_and_watch_the_empty_rollback_in_both_languages(open_page):
    """A viewer starts an order, drops a Try in flight, and sees the Cancel find nothing to release."""
    page = ready(open_page("/play/tcc"))
    assert model(page, "Object.keys(m.nodes).sort()") == ["app", "pay", "stock", "tc"]
    node_action(page, "app", "request:order")
    mid = step_until_in_flight(page, "Try", steps=120)
    dst = model(page, f"m.inflight[{mid}].dst")
    drop_by_click(page, mid)
    set_speed(page, 1)                    # 10x
    page.click("#play")
    page.wait_for_function(f"(window.__pp.model.nodes[{dst!r}].fence || {{}}).g1 === 'SUSPENDED'", timeout=30000)
    page.wait_for_function("(window.__pp.model.nodes.tc.globals || {}).g1 === 'FAILED'", timeout=30000)
    page.click("#play")                   # pause
    # The money and stock are back where they started.
    assert model(page, "m.nodes.pay.books") == {"balance": 100, "frozen": 0, "spent": 0}
    assert model(page, "m.nodes.stock.books") == {"stock": 10, "reserved": 0, "sold": 0}
    assert model(page, "m.violations.length") == 0
    expect(page.locator("#log")).to_contain_text(f"{dst} gets a Cancel for g1 but never ran its Try: empty rollback")
    page.select_option("#lang", "zh")
    expect(page.locator("#log")).to_contain_text(f"{dst} 收到 g1 的 Cancel，但从未执行过它的 Try：空回滚")
    expect(page.locator("#log")).to_contain_text("取消")                  # kind.Cancel, translated
    page.select_option("#lang", "en")


@pytest.mark.parametrize("protocol,starter,over,refund", [
    ("saga", "orch", "(m.nodes.orch.sagas || {}).g1 === 'failed'", ("pay refunds 30 for g1", "pay 退还 g1 的 30")),
    ("saga_choreo", "order", "(m.nodes.order.orders || {}).g1 === 'CANCELLED'",
     ("g1: payment of 30 refunded", "g1：退款 30")),
])
def test_a_saga_whose_shipment_fails_gives_the_money_and_stock_back(open_page, protocol, starter, over, refund):
    """From the menus: make ship's next step fail, start an order, watch the compensations."""
    page = ready(open_page(f"/play/{protocol}"))
    node_action(page, "ship", "request:fail_next")
    node_action(page, starter, "request:order")
    set_speed(page, 1)                    # 10x
    page.click("#play")
    page.wait_for_function(f"(() => {{ const m = window.__pp.model; return {over}; }})()", timeout=30000)
    page.wait_for_function("window.__pp.model.nodes.pay.books.balance === 100", timeout=30000)
    page.click("#play")                   # pause
    assert model(page, "m.nodes.stock.books") == {"stock": 10, "reserved": 0, "sold": 0}
    assert model(page, "m.violations.length") == 0
    expect(page.locator("#log")).to_contain_text(refund[0])     # the refund, told in business words
    page.select_option("#lang", "zh")
    expect(page.locator("#log")).to_contain_text(refund[1])
    page.select_option("#lang", "en")


NEW_PROTOCOLS = ["tcc", "saga", "saga_choreo", "outbox", "mq_tx", "cap", "paxos", "multipaxos", "vr", "zab",
                 "humming"]


@pytest.mark.parametrize("protocol", NEW_PROTOCOLS)
def test_every_lesson_plays_to_its_end_in_chinese(open_page, protocol):
    """Each preset of each protocol added since 3PC opens, plays to its end at 10x and speaks Chinese,
    with no page error (and a lesson with no bug and nothing expected shows no violation)."""
    from engine import registry
    for preset in registry.get(protocol).presets:
        page = ready(open_page(f"/play/{protocol}?preset={preset.name}"))
        page.select_option("#lang", "zh")
        expect(page.locator("#lesson")).to_contain_text(re.compile(r"[\u4e00-\u9fff]"))
        set_speed(page, 1)
        page.click("#play")
        page.wait_for_function("window.__pp.done", timeout=30000)
        expected = {v for v in preset.expects} | ({"any"} if preset.scenario.get("bugs") else set())
        if not expected:
            assert model(page, "m.violations.filter(v => !v.eventual).length") == 0, preset.name
        page.context.close()


def test_the_log_strip_shows_agreement_under_every_replica_on_a_small_screen(open_page):
    """VR's logs, drawn from the declared log field: the new primary and its backup hold the
    same ops, the crashed old primary its shorter log; all fit on a 1024x768 projector."""
    page = ready(open_page("/play/vr?preset=lagging_primary", width=1024, height=768))
    set_speed(page, 1)
    page.click("#play")
    page.wait_for_function("window.__pp.done", timeout=30000)
    page.wait_for_timeout(200)                       # one more frame drawn
    r2, r3 = (page.evaluate(f"window.__pp.stripCells({n!r})") for n in ("r2", "r3"))
    assert r2 == r3 and r2[-1] == "1:y=4", (r2, r3)
    assert page.evaluate("window.__pp.stripCells('r1')") == ["0:x=1", "0:y=2", "0:x=3"]
    for n in ("r1", "r2", "r3"):                     # the strip is on the canvas, not cut off below it
        pos = page.evaluate(f"window.__pp.nodeScreenPos({n!r})")
        box = page.locator("#canvas").bounding_box()
        assert pos["y"] + 85 < box["y"] + box["height"], n   # disc radius and three label rows
