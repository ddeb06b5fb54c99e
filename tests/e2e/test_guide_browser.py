"""/guide in real Chromium: it reads in English and in Chinese (the header's switch
changes it in place, with no console error), and every run it links to opens its
play page with that lesson loaded, never an error page."""

import json
import re

from playwright.sync_api import expect

from tests.e2e.conftest import ROOT
from tests.e2e.test_a11y_browser import assert_clean
from tests.e2e.test_browser import READY


def words(lang: str) -> dict:
    return json.loads((ROOT / "static" / "i18n" / f"guide.{lang}.json").read_text(encoding="utf-8"))


def untranslated(page) -> list[str]:
    """Elements still showing a key instead of words."""
    return page.evaluate("""() => [...document.querySelectorAll('[data-i18n]')]
        .filter((el) => el.textContent.trim() === el.getAttribute('data-i18n'))
        .map((el) => el.getAttribute('data-i18n'))""")


def test_the_guide_reads_in_english_and_in_chinese(open_page):
    page = open_page("/guide")
    expect(page.locator("h1")).to_have_text(words("en")["guide.title"])
    expect(page.locator('[data-case="transfer"] h3')).to_have_text(words("en")["guide.case.transfer.title"])
    expect(page.locator('#tx-table tr[data-protocol="2pc"] th a')).to_have_text("Two-phase commit")
    assert untranslated(page) == []
    assert_clean(page, "the guide [en]")

    page.select_option("#lang", "zh")
    expect(page.locator("h1")).to_have_text(words("zh")["guide.title"])
    expect(page.locator("html")).to_have_attribute("lang", "zh-CN")
    expect(page.locator('[data-case="booking"] .pick')).to_have_text(words("zh")["guide.case.booking.pick"])
    expect(page.locator('#cons-table tr[data-protocol="raft"] td').first).to_contain_text("随机的选举超时")
    # Lesson names and protocol titles come in Chinese too, from each protocol's own strings.
    first = page.locator('#tx-table tr[data-protocol="2pc"] th a')
    assert re.search(r"[\u4e00-\u9fff]", first.inner_text()), first.inner_text()
    assert untranslated(page) == []
    assert_clean(page, "the guide [zh]")

    # The choice is remembered: a fresh load opens in Chinese, and the gallery's link says 指南.
    page.goto(page.url.replace("/guide", "/"))
    expect(page.locator('a[href="/guide"]')).to_have_text("指南")
    page.click('a[href="/guide"]')
    expect(page.locator("h1")).to_have_text(words("zh")["guide.title"])


def test_every_run_the_guide_links_to_opens_with_its_lesson(open_page, errors):
    page = open_page("/guide")
    hrefs = page.evaluate("() => [...new Set([...document.querySelectorAll('a[data-guide-run]')]"
                          ".map((a) => a.getAttribute('href')))]")
    assert len(hrefs) >= 60
    play = page.context.new_page()           # one tab, each run in turn
    play.on("console", lambda m: m.type == "error" and errors.append(f"{play.url}: {m.text}"))
    play.on("pageerror", lambda e: errors.append(f"{play.url}: {e}"))
    for href in hrefs:
        name, preset = re.fullmatch(r"/play/([a-z0-9_]+)\?preset=([a-z0-9_]+)", href).groups()
        play.goto(page.url.replace("/guide", href))
        assert play.locator(".error-message").count() == 0, href
        play.wait_for_function(READY, timeout=15000)
        assert play.evaluate("document.getElementById('preset').value") == preset, href
        assert play.evaluate("window.__pp.model.protocol && window.__pp.model.protocol.name") == name, href


def test_on_a_phone_the_guide_fits_the_screen(open_page):
    """The cases' tables wrap within their cards; the wide tables scroll inside their own region."""
    page = open_page("/guide", width=390, height=844)
    assert page.evaluate("document.documentElement.scrollWidth") <= 390
    for region in page.locator(".table-wrap").all():
        box = region.bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390


def test_a_fault_not_applied_is_said_in_the_readers_language(open_page):
    page = open_page("/guide")
    note = page.locator('[data-case="event"] .not-applied').first
    expect(note).to_have_text("no coordinator role: fault not applied")
    page.select_option("#lang", "zh")
    expect(note).to_have_text("没有协调者角色：故障未施加")      # the role's name too, not "coordinator"
