"""A share link made with another version of a protocol's behaviour, in real Chromium:
the page says so plainly, in English and in Chinese, the notice can be dismissed,
and the run opens and plays (docs/architecture.md, "Behaviour versions and lasting links")."""

import re

from playwright.sync_api import expect

from engine import registry
from engine.scenario import encode_token
from tests.e2e.test_a11y_browser import in_both_languages
from tests.e2e.test_browser import ready, set_speed

NOW = registry.get("raft").behaviour
# A link from a server that runs a newer Raft than this one.
NEWER = {"protocol": "raft", "preset": "leader_crash", "v": NOW + 1}


def test_a_link_from_a_newer_version_says_so_and_still_plays(open_page):
    page = ready(open_page(f"/play/raft?s={encode_token(NEWER)}"))
    notice = page.locator("#behaviour-notice")
    expect(notice).to_be_visible()
    assert notice.get_attribute("role") == "status"
    expect(notice).to_contain_text(f"This link was made with a newer version of Raft (version {NOW + 1}) "
                                   f"than this server runs (version {NOW})")
    expect(notice).to_contain_text("may differ from what its author saw")
    expect(notice.locator(".bn-changes-head")).to_be_hidden()      # nothing this server knows changed
    dismiss = notice.get_by_role("button", name="Dismiss the notice about this link")
    expect(dismiss).to_be_visible()
    in_both_languages(page, "the page with a link-version notice")   # axe: the notice is readable by all

    page.select_option("#lang", "zh")
    expect(notice).to_contain_text(f"（链接为版本 {NOW + 1}，本服务器运行版本 {NOW}）")
    assert re.search(r"Raft.*可能与作者当时看到的不同。", notice.inner_text(), re.DOTALL)
    dismiss = notice.get_by_role("button", name="关闭关于此链接版本的提示")
    expect(dismiss).to_have_text("关闭")
    dismiss.click()
    expect(notice).to_be_hidden()
    page.select_option("#lang", "en")
    expect(notice).to_be_hidden()                 # dismissed stays dismissed

    # The run opens and plays: the lesson's own leader crash happens.
    set_speed(page, 1)
    page.click("#play")
    page.wait_for_function("window.__pp.t > 2000", timeout=30000)
    assert page.evaluate("window.__pp.model.events.some((e) => e.type === 'crash')")
    expect(notice).to_be_hidden()
