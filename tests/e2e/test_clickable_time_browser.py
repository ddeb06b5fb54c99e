"""Clickable time (issue: teaching mode): at 1x a message flies for 10-30 ms, a person needs
~300 ms to see it and click. A click on the canvas holds the run still and finds the message
the eye saw (static/js/recent.js), so the owner gets its menu with Drop enabled; a menu open
keeps the run still for the whole class, and closing it lets the run play on."""

from playwright.sync_api import expect

from tests.e2e.test_browser import ready, set_speed

# In the page: wait for a frame drawn with a message in flight clear of every node, and say when
# (performance.now) and where it was drawn. Also note, at the next press on the page (before the
# canvas sees it), the real time and the time on screen.
FIND = """() => new Promise((resolve) => {
  window.__down = null;
  window.addEventListener('pointerdown', () => {
    window.__down = { at: performance.now(), t: window.__pp.t };
  }, { capture: true, once: true });
  const tick = () => {
    const pp = window.__pp;
    for (const m of pp.drawnMessages()) {
      const clear = pp.model.ids.every((n) => {
        const q = pp.nodeScreenPos(n);
        return !q || Math.hypot(q.x - m.x, q.y - m.y) > 40;
      });
      if (clear) {
        resolve({ id: m.id, x: m.x, y: m.y, seen: performance.now(), t: pp.t,
                  due: pp.model.byId.get(m.id).deliver_at });
        return;
      }
    }
    requestAnimationFrame(tick);
  };
  requestAnimationFrame(tick);
})"""

REACTION_MS = 250


def shown_at_spot(page, spot) -> int:
    """The message whose menu is open, checked to be in flight in the picture on screen now
    (held at the moment looked back to) near the pressed spot: within the canvas's hit radius
    (24 px), or a little further when the picture seen had run ahead of the events (the page
    then shows the last moment the message was truly in flight, a few px along its line)."""
    picked = int(page.locator("#msg-menu").get_attribute("aria-label").split("#")[1])
    pos = page.evaluate(f"window.__pp.messageScreenPos({picked})")
    assert pos is not None, f"message {picked} is not in flight in the picture shown"
    assert ((pos["x"] - spot["x"]) ** 2 + (pos["y"] - spot["y"]) ** 2) ** 0.5 <= 80, (pos, spot)
    return picked


def click_late(page):
    """Find a message on screen, wait a person's reaction time, click where it was. Returns the
    message and how late the press came (real ms) and what the run's time was then."""
    for _ in range(5):
        seen = page.evaluate(FIND)
        page.wait_for_timeout(REACTION_MS - 30)   # the round trip to the page takes the rest
        page.mouse.click(seen["x"], seen["y"])
        down = page.evaluate("window.__down")
        late = down["at"] - seen["seen"]
        if 150 <= late <= 300:
            return seen, late, down
        page.keyboard.press("Escape")
        page.wait_for_timeout(300)
    raise AssertionError("could not press within 150-300 ms of seeing a message (machine too busy?)")


def test_a_message_clicked_300ms_after_it_was_seen_at_1x_can_be_dropped(open_page):
    page = ready(open_page("/play/raft", width=1280, height=800))
    set_speed(page, 0)                                   # 1x
    page.click("#play")
    page.wait_for_function("window.__pp.playing && window.__pp.t > 300")
    seen, _, down = click_late(page)
    # By the press the message had arrived: at 1x it flew for at most 30 ms, the press was later.
    assert down["t"] >= seen["due"], (seen, down)
    menu = page.locator("#msg-menu")
    expect(menu).to_be_visible()
    # The message seen, or another that crossed the same spot about then (Raft's replies run
    # back along the same line): the picture is held at a moment it is drawn where the press was.
    picked = shown_at_spot(page, seen)
    due = page.evaluate(f"window.__pp.model.byId.get({picked}).deliver_at")
    assert down["t"] >= due, "it had arrived by the press: only looking back finds it"
    seen = {**seen, "id": picked}
    drop = menu.locator('[data-action="drop"]')
    expect(drop).to_be_enabled()
    # The run holds still while the menu is open: the owner's run went back to that moment, paused.
    page.wait_for_function(f"!window.__pp.playing && window.__pp.model.byId.get({picked}).deliver_at > window.__pp.t")
    held = page.evaluate("window.__pp.t")
    page.wait_for_timeout(400)
    assert page.evaluate("window.__pp.t") == held
    drop.click()
    page.wait_for_function(
        f"window.__pp.model.events.some((e) => e.type === 'drop' && e.id === {seen['id']} && e.reason === 'user')")
    # The menu closed: the run plays on.
    expect(menu).to_be_hidden()
    page.wait_for_function(f"window.__pp.playing && window.__pp.t > {held + 50}")


def test_a_menu_open_holds_the_class_and_a_watcher_can_look_at_a_late_message(open_page):
    owner = ready(open_page("/play/raft", width=1280, height=800))
    session = owner.evaluate("window.__pp.session")
    watcher = ready(open_page(f"/play/raft?session={session}", width=1280, height=800))
    set_speed(owner, 0)
    owner.click("#play")
    watcher.wait_for_function("window.__pp.playing && window.__pp.t > 300")

    # The teacher opens a node's menu: the whole class holds still until it closes.
    pos = owner.evaluate("window.__pp.nodeScreenPos('n1')")
    owner.mouse.click(pos["x"], pos["y"])
    expect(owner.locator("#node-menu")).to_be_visible()
    watcher.wait_for_function("!window.__pp.playing")
    t1 = watcher.evaluate("window.__pp.t")
    watcher.wait_for_timeout(400)
    assert watcher.evaluate("window.__pp.t") == t1
    owner.keyboard.press("Escape")
    watcher.wait_for_function(f"window.__pp.playing && window.__pp.t > {t1 + 50}")

    # A watcher clicks a message late: it opens (to read; Drop is the owner's), the watcher's
    # picture holds at that moment while the run goes on for everyone else.
    spot, _, _ = click_late(watcher)
    menu = watcher.locator("#msg-menu")
    expect(menu).to_be_visible()
    shown_at_spot(watcher, spot)
    expect(menu.locator('[data-action="drop"]')).to_be_disabled()
    frozen = watcher.evaluate("window.__pp.t")
    owner_t = owner.evaluate("window.__pp.t")
    owner.wait_for_function(f"window.__pp.t > {owner_t + 200}")
    assert watcher.evaluate("window.__pp.t") == frozen
    assert owner.evaluate("window.__pp.playing")
    watcher.keyboard.press("Escape")
    watcher.wait_for_function(f"window.__pp.t > {frozen + 200}")
