"""Guided lessons in a real browser: a preset told in chapters stops at each one, Next and Back
move the teacher and the class together, and "pause on violation" stops the run at the
violation (static/js/lesson.js, docs/socket-api.md "Lessons")."""

from playwright.sync_api import expect

READY = "window.__pp && window.__pp.ready"
FIGURE8_TIMES = [50, 440, 600, 940, 1020, 1161, 1341, 1441]


def ready(page):
    page.wait_for_function(READY)
    return page


def paused_at(page, chapter: int, timeout=30000):
    page.wait_for_function(f"document.getElementById('guide').dataset.chapter === '{chapter}' "
                           "&& !window.__pp.playing", timeout=timeout)


def test_figure8_stops_at_each_chapter_and_next_and_back_move_the_class(open_page):
    teacher = ready(open_page("/play/raft?preset=figure8"))
    guide = teacher.locator("#guide")
    expect(guide).to_be_visible()
    expect(teacher.locator("#guide-progress")).to_have_text("0 / 8")
    session = teacher.evaluate("window.__pp.session")
    student = ready(open_page(f"/play/raft?session={session}"))
    expect(student.locator("#guide-next")).to_be_disabled()          # a watcher follows, read-only

    teacher.click("#guide-stops summary")           # the pauses dropdown
    teacher.check("#guide-stop-chapters")
    teacher.wait_for_function("window.__pp.t === 0")
    for i, t in enumerate(FIGURE8_TIMES[:3]):
        teacher.click("#play")
        paused_at(teacher, i)
        assert teacher.evaluate("window.__pp.t") == t
        expect(teacher.locator("#guide-progress")).to_have_text(f"{i + 1} / 8")
        paused_at(student, i)                                          # the class paused with it
        assert student.evaluate("window.__pp.t") == t
    expect(teacher.locator("#guide-title")).to_have_text("(b) n5 leads term 2, alone with x=3")
    expect(student.locator("#guide-title")).to_have_text("(b) n5 leads term 2, alone with x=3")

    teacher.click("#guide-next")                                       # Next: on to chapter 4
    paused_at(teacher, 3)
    assert teacher.evaluate("window.__pp.t") == 940
    expect(teacher.locator("#guide-title")).to_have_text("(c) n1 is back and leads term 3")
    paused_at(student, 3)
    teacher.keyboard.press("n")                                        # the key does the same
    paused_at(teacher, 4)
    expect(teacher.locator("#guide-title")).to_have_text("x=2 is on a majority, yet not committed")

    teacher.click("#guide-back")                                       # Back: chapter 4 again
    paused_at(teacher, 3)
    assert teacher.evaluate("window.__pp.t") == 940
    paused_at(student, 3)
    teacher.keyboard.press("PageUp")
    paused_at(teacher, 2)
    assert teacher.evaluate("window.__pp.t") == 600
    expect(student.locator("#guide-title")).to_have_text("(b) n5 leads term 2, alone with x=3")

    # The link keeps the stops: opened elsewhere it pauses at chapters too.
    token = teacher.evaluate("window.__pp.token")
    other = ready(open_page(f"/play/raft?s={token}"))
    expect(other.locator("#guide-stop-chapters")).to_be_checked()


def test_pause_on_violation_stops_figure8_bug_at_the_violation(open_page):
    page = ready(open_page("/play/raft?preset=figure8_bug"))
    page.click("#guide-stops summary")
    page.check("#guide-stop-violation")
    page.wait_for_function("document.getElementById('guide-stop-violation').checked")
    page.click("#play")
    page.wait_for_function("document.getElementById('guide').dataset.stopped === 'violation'", timeout=30000)
    assert page.evaluate("window.__pp.t") == 1020
    assert page.evaluate("window.__pp.model.violations.length") == 1
    expect(page.locator("#guide-status")).to_have_text("Paused: an invariant was violated.")


def test_a_preset_without_chapters_offers_its_key_moments(open_page):
    page = ready(open_page("/play/2pc?preset=commit"))
    expect(page.locator("#guide")).to_be_hidden()                      # nothing in the way by default
    page.click("#guide-open")
    expect(page.locator("#guide")).to_be_visible()
    page.click("#guide-next")
    page.wait_for_function("document.getElementById('guide').dataset.chapter === '0'", timeout=30000)
    expect(page.locator("#guide-progress")).to_have_text("Key moment 1")
    assert page.locator("#guide-title").inner_text().strip()


def test_a_teachers_own_lesson_opens_from_a_file_and_travels_in_the_link(open_page, tmp_path):
    """A teacher writes chapters in both languages into a scenario file; opening it tells the run
    in those chapters, and the share link carries them to a student in the other language."""
    import json

    lesson = {"chapters": [
        {"at": 100, "title": {"en": "The prepare goes out", "zh": "准备消息发出"},
         "body": {"en": "Watch c ask every participant.", "zh": "看协调者询问每个参与者。"}},
        {"on": {"note": "2pc.blocked"}, "title": {"en": "Stuck", "zh": "卡住了"},
         "body": {"en": "Nobody may decide alone.", "zh": "谁也不能独自决定。"}},
    ], "stops": {"chapters": True}}
    scenario = {"protocol": "2pc", "preset": "coordinator_crash", "lesson": lesson}
    path = tmp_path / "my-lesson.json"
    path.write_text(json.dumps(scenario, ensure_ascii=False), encoding="utf-8")

    teacher = ready(open_page("/play/2pc"))
    teacher.set_input_files("#import-file", str(path))
    teacher.wait_for_function("document.getElementById('guide-progress').textContent === '0 / 2'")
    teacher.click("#play")
    paused_at(teacher, 0)
    expect(teacher.locator("#guide-title")).to_have_text("The prepare goes out")
    expect(teacher.locator("#guide-body")).to_have_text("Watch c ask every participant.")
    teacher.click("#play")
    paused_at(teacher, 1)
    expect(teacher.locator("#guide-title")).to_have_text("Stuck")

    # The share link keeps the lesson: a student who reads Chinese opens it at the same moment.
    t = int(teacher.evaluate("window.__pp.t"))
    token = teacher.evaluate("window.__pp.token")
    student = open_page(f"/play/2pc?s={token}&t={t}")
    student.evaluate("localStorage.setItem('pp.lang', 'zh')")
    student.reload()
    ready(student)
    expect(student.locator("#guide-progress")).to_have_text("2 / 2")
    expect(student.locator("#guide-title")).to_have_text("卡住了")
    expect(student.locator("#guide-body")).to_have_text("谁也不能独自决定。")
