"""A lesson with the keyboard alone: no mouse, no element.click().

The student Tabs to the controls and steps the run, reaches the node list, opens a node's
menu and crashes the node, then Tabs to Share and copies the link. Every stop shows a
visible focus ring.
"""

from playwright.sync_api import expect

READY = "window.__pp && window.__pp.ready"


def focused(page, selector: str) -> bool:
    return page.evaluate("(s) => document.activeElement !== null && document.activeElement.matches(s)", selector)


def tab_to(page, selector: str, back: bool = False, limit: int = 120) -> None:
    """Press Tab (or Shift+Tab) until `selector` has focus, as a keyboard user would."""
    for _ in range(limit):
        page.keyboard.press("Shift+Tab" if back else "Tab")
        if focused(page, selector):
            assert_focus_is_visible(page)
            return
    raise AssertionError(f"{selector} is not reachable with {'Shift+' if back else ''}Tab")


def assert_focus_is_visible(page) -> None:
    ring = page.evaluate("""() => {
        const s = getComputedStyle(document.activeElement);
        return {style: s.outlineStyle, width: parseFloat(s.outlineWidth), visible: document.activeElement.matches(':focus-visible')};
    }""")
    assert ring["visible"] and ring["style"] != "none" and ring["width"] >= 2, f"no visible focus ring: {ring}"


def events(page) -> int:
    return page.evaluate("window.__pp.model.events.length")


def test_a_lesson_by_keyboard_alone_steps_crashes_a_node_and_shares_the_link(browser, server, errors):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/play/2pc?preset=commit")
        page.wait_for_function(READY)

        # Step the run from the playback bar.
        tab_to(page, "#step")
        before = events(page)
        for _ in range(4):
            page.keyboard.press("Enter")
            page.wait_for_timeout(60)
        page.wait_for_function(f"window.__pp.model.events.length > {before}")
        assert page.evaluate("window.__pp.playing") is False

        # Back to the node list; its buttons say each node's state in words.
        node = '#node-list .node-item[data-node="p1"]'
        tab_to(page, node, back=True)
        expect(page.locator(node)).to_contain_text("running")

        # Enter opens the node's menu with focus in it; Escape closes it and focus comes back.
        page.keyboard.press("Enter")
        expect(page.locator("#node-menu")).to_be_visible()
        assert focused(page, '#node-menu [data-action="crash"]')
        page.keyboard.press("Escape")
        expect(page.locator("#node-menu")).to_be_hidden()
        assert focused(page, node)

        # Again, and crash it: the arrows walk the menu, Enter picks.
        page.keyboard.press("Enter")
        expect(page.locator("#node-menu")).to_be_visible()
        n = events(page)
        page.keyboard.press("ArrowDown")
        page.keyboard.press("ArrowUp")
        assert focused(page, '#node-menu [data-action="crash"]')
        page.wait_for_timeout(300)
        assert events(page) == n   # in the menu the arrows move focus; they do not step the run
        page.keyboard.press("Enter")
        page.wait_for_function("window.__pp.model.nodes.p1.up === false")
        expect(page.locator("#node-menu")).to_be_hidden()
        assert focused(page, node)
        assert page.evaluate(
            "window.__pp.model.events.filter(e => e.type === 'crash' && e.node === 'p1').length") == 1
        expect(page.locator("#log")).to_contain_text("p1")
        expect(page.locator(node)).to_contain_text("crashed")
        expect(page.locator("#sr-status")).to_contain_text("p1 crashed", timeout=3000)

        # Share the link from the keyboard: the popover shows it, ready to copy.
        tab_to(page, "#share")
        page.keyboard.press("Enter")
        expect(page.locator("#share-pop")).to_be_visible()
        url = page.locator("#share-url").input_value()
        assert "/play/2pc?s=" in url and "&t=" in url
        expect(page.locator("#share-status")).not_to_be_empty()
        # In a text field the run's shortcuts stay quiet.
        tab_to(page, "#share-url")
        n = events(page)
        page.keyboard.press("ArrowRight")
        page.wait_for_timeout(300)
        assert events(page) == n
        page.keyboard.press("Escape")
        expect(page.locator("#share-pop")).to_be_hidden()
        assert focused(page, "#share")

        # The help dialog keeps focus while open and gives it back when it closes.
        tab_to(page, "#help-btn")
        page.keyboard.press("Enter")
        expect(page.locator("#help")).to_be_visible()
        page.keyboard.press("Tab")
        assert focused(page, "#help-close")
        page.keyboard.press("Escape")
        expect(page.locator("#help")).to_be_hidden()
        assert focused(page, "#help-btn")

        # The shared link opens the same run, crash included.
        page.goto(url)
        page.wait_for_function(READY)
        assert page.evaluate("window.__pp.model.nodes.p1.up") is False
    finally:
        ctx.close()


def test_a_message_in_flight_is_dropped_from_the_keyboard(browser, server, errors):
    ctx = browser.new_context(viewport={"width": 1280, "height": 800})
    try:
        page = ctx.new_page()
        page.on("pageerror", lambda e: errors.append(str(e)))
        page.goto(server + "/play/2pc?preset=commit")
        page.wait_for_function(READY)
        tab_to(page, "#step")
        for _ in range(40):
            if page.evaluate("Object.keys(window.__pp.model.inflight).length > 0"):
                break
            page.keyboard.press("Enter")
            page.wait_for_timeout(50)
        mid = page.evaluate("Number(Object.keys(window.__pp.model.inflight)[0])")

        # The list of messages in flight unfolds with Enter; each message opens its menu.
        tab_to(page, "#msg-list summary", back=True)
        expect(page.locator("#msg-list summary")).to_contain_text("Messages in flight: ")
        page.keyboard.press("Enter")
        item = f'#msg-list [data-msg="{mid}"]'
        tab_to(page, item)
        page.keyboard.press("Enter")
        expect(page.locator("#msg-menu")).to_be_visible()
        assert focused(page, '#msg-menu [data-action="drop"]')
        page.keyboard.press("Enter")
        page.wait_for_function(f"!({mid} in window.__pp.model.inflight)")
        reasons = page.evaluate(
            f"window.__pp.model.events.filter(e => e.type === 'drop' && e.id === {mid}).map(e => e.reason)")
        assert reasons == ["user"]
        expect(page.locator("#msg-menu")).to_be_hidden()
    finally:
        ctx.close()
