"""Export and import in real Chromium: the files the page downloads reopen or replay exactly.

A run with a person's fault is exported (trace JSONL, scenario JSON, space-time SVG and PNG,
the network canvas PNG); the trace must be what `python -m engine run <scenario> --jsonl`
prints for the exported scenario, up to the page's time; the scenario, opened on a fresh page
(with the file picker, and by dropping it), opens the same run; a bad file is refused with
the server's reason and leaves the run on screen alone.
"""

import io
import json
import re
import struct
import xml.etree.ElementTree as ET

from playwright.sync_api import expect

from engine.cli import main as cli_main
from tests.e2e.test_a11y_browser import assert_clean, set_lang
from tests.e2e.test_browser import model, node_action, ready, set_speed

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
SVG = "{http://www.w3.org/2000/svg}"


def play_until(page, t):
    page.click("#play")
    page.wait_for_function(f"window.__pp.t >= {t} || window.__pp.done", timeout=30000)
    page.click("#play")
    page.wait_for_function("window.__pp.playing === false")


def export(page, kind, tmp_path):
    """Open the Export menu, download one file; its name and bytes."""
    if page.locator("#export-pop").is_hidden():
        page.click("#export")
    expect(page.locator("#export-pop")).to_be_visible()
    with page.expect_download() as d:
        page.click(f'#export-pop [data-export="{kind}"]')
    dl = d.value
    path = tmp_path / dl.suggested_filename
    dl.save_as(path)
    return dl.suggested_filename, path.read_bytes()


def cli_jsonl(scenario_path, until_t):
    """`python -m engine run FILE --jsonl`, in this process: the events with t <= until_t."""
    out, err = io.StringIO(), io.StringIO()
    assert cli_main(["run", str(scenario_path), "--jsonl"], out, err) == 0, err.getvalue()
    lines = out.getvalue().splitlines()
    assert json.loads(lines[-1])["type"] == "summary"
    return [ln for ln in lines[:-1] if json.loads(ln)["t"] <= until_t]


def png_size(data):
    assert data[:8] == PNG_SIGNATURE
    assert data[12:16] == b"IHDR"
    return struct.unpack(">II", data[16:24])


def page_events_upto(page, tt):
    return page.evaluate(f"window.__pp.model.events.filter((e) => e.t <= {tt})")


def drop_file(page, name, text):
    """A file dropped on the page, as a browser delivers one (a DataTransfer with a File)."""
    page.evaluate("""([name, text]) => {
        const dt = new DataTransfer();
        dt.items.add(new File([text], name, {type: 'application/json'}));
        const target = document.querySelector('#canvas');
        for (const type of ['dragenter', 'dragover', 'drop']) {
            target.dispatchEvent(new DragEvent(type, {dataTransfer: dt, bubbles: true, cancelable: true}));
        }
    }""", [name, text])


def test_export_then_import_replays_the_same_run(open_page, tmp_path):
    page = ready(open_page("/play/2pc?preset=coordinator_crash"))
    set_speed(page, 1)                       # 10x
    play_until(page, 1000)
    node_action(page, "p2", "crash")         # a person's fault, on top of the lesson's
    page.wait_for_function("window.__pp.model.nodes.p2.up === false")
    play_until(page, 2500)                   # the coordinator is back (2165) and begins again
    tt = int(page.evaluate("Math.floor(Math.min(window.__pp.t, window.__pp.model.t))"))
    token = page.evaluate("window.__pp.token")

    name, jsonl = export(page, "jsonl", tmp_path)
    assert re.fullmatch(rf"2pc-coordinator_crash-t{tt}\.jsonl", name)
    sname, scenario_bytes = export(page, "scenario", tmp_path)
    assert sname == f"2pc-coordinator_crash-t{tt}.json"
    scenario = json.loads(scenario_bytes)
    assert scenario["protocol"] == "2pc" and scenario["preset"] == "coordinator_crash"
    assert any(a["do"] == "crash" and a["node"] == "p2" for a in scenario["actions"])

    # The trace is the CLI's, byte for byte, up to the page's time; nothing more, nothing less.
    lines = jsonl.decode("utf-8").splitlines()
    assert jsonl.endswith(b"\n") and len(lines) > 50
    assert lines == cli_jsonl(tmp_path / sname, tt)
    assert any(json.loads(ln) == {**json.loads(ln), "type": "crash", "node": "p2"} for ln in lines)

    # Pictures: a standalone SVG whose lane names are text; PNGs the canvases' size.
    _, svg = export(page, "svg", tmp_path)
    root = ET.fromstring(svg)
    assert root.tag == f"{SVG}svg"
    texts = {el.text for el in root.iter(f"{SVG}text")}
    assert {"c", "p1", "p2", "p3", "ms"} <= texts
    for kind, canvas in (("spacetime-png", "#spacetime"), ("canvas-png", "#canvas")):
        pname, png = export(page, kind, tmp_path)
        assert pname.endswith(".png")
        want = page.evaluate(f"[document.querySelector('{canvas}').width, document.querySelector('{canvas}').height]")
        assert list(png_size(png)) == want

    # Opened with the file picker on a fresh page of the same protocol: the same run.
    fresh = ready(open_page("/play/2pc"))
    before = fresh.evaluate("window.__pp.session")
    fresh.set_input_files("#import-file", str(tmp_path / sname))
    fresh.wait_for_function(f"window.__pp.token === {token!r} && window.__pp.session !== {before!r}")
    expect(fresh.locator(".toast-ok").last).to_contain_text(sname)
    set_speed(fresh, 1)
    play_until(fresh, tt)
    assert [json.dumps(e, sort_keys=True) for e in page_events_upto(fresh, tt)] == \
        [json.dumps(json.loads(ln), sort_keys=True) for ln in lines]

    # Dropped on a page of another protocol: it opens under its own protocol, same run.
    other = ready(open_page("/play/raft"))
    drop_file(other, sname, scenario_bytes.decode("utf-8"))
    other.wait_for_url(re.compile(r"/play/2pc\?session="))
    ready(other)
    other.wait_for_function(f"window.__pp.token === {token!r}")
    assert other.evaluate("window.__pp.role") == "controller"
    assert model(other, "Object.keys(m.nodes).sort()") == ["c", "p1", "p2", "p3"]


def test_a_bad_scenario_file_is_refused_and_the_run_stays(open_page, tmp_path):
    page = ready(open_page("/play/raft?preset=figure8"))
    session, token = page.evaluate("[window.__pp.session, window.__pp.token]")
    bad = {
        "notes.txt": ("this is not JSON", "is not a JSON file"),
        "list.json": ("[1, 2, 3]", "does not hold a scenario"),
        "extra.json": (json.dumps({"protocol": "raft", "colour": "red"}), "unknown scenario field 'colour'"),
        "range.json": (json.dumps({"protocol": "raft", "nodes": 99}), "nodes=99 is out of range"),
        "huge.json": ("{" + " " * (300 * 1024) + "}", "too big"),
    }
    for name, (text, says) in bad.items():
        page.set_input_files("#import-file", files=[{"name": name, "mimeType": "application/json",
                                                      "buffer": text.encode()}])
        toast = page.locator(".toast-error", has_text=name)
        expect(toast).to_be_visible()
        expect(toast).to_contain_text(says)
        assert page.evaluate("[window.__pp.session, window.__pp.token]") == [session, token]
    # Dropped, too: refused the same way.
    drop_file(page, "dropped.json", json.dumps({"protocol": "raft", "seed": -1}))
    expect(page.locator(".toast-error", has_text="dropped.json")).to_contain_text("seed")
    assert page.evaluate("[window.__pp.session, window.__pp.token]") == [session, token]
    assert page.evaluate("window.__pp.model.ids.length") == 5


def test_the_export_menu_by_keyboard_in_chinese_passes_axe(open_page, tmp_path):
    # Opened paused just after Raft's figure-8 bug breaks Leader Completeness (t ~ 1.16 s).
    page = ready(open_page("/play/raft?preset=figure8_bug&t=1500", 1280, 800))
    page.locator("#export").focus()
    page.keyboard.press("Enter")
    expect(page.locator("#export-pop")).to_be_visible()
    assert page.evaluate("document.activeElement.dataset.export") == "jsonl"   # focus moved into the menu
    assert_clean(page, "the export menu [en]")
    page.keyboard.press("Escape")
    expect(page.locator("#export-pop")).to_be_hidden()
    assert page.evaluate("document.activeElement.id") == "export"

    set_lang(page, "zh")
    expect(page.locator("#export")).to_contain_text("导出")
    page.keyboard.press("Enter")
    expect(page.locator("#export-pop")).to_be_visible()
    expect(page.locator('#export-pop [data-export="jsonl"]')).to_have_text("轨迹（JSONL）")
    expect(page.locator("#import-open")).to_have_text("打开场景文件…")
    expect(page.locator("#export-note")).to_contain_text(re.compile(r"1\u2009500 ms"))
    assert_clean(page, "the export menu [zh]")
    # Space presses a button in the menu (the bar's Space would play): a download, not a play.
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.dataset.export") == "scenario"
    with page.expect_download() as d:
        page.keyboard.press(" ")
    assert d.value.suggested_filename == "raft-figure8_bug-t1500.json"
    d.value.save_as(tmp_path / "raft.json")
    assert page.evaluate("window.__pp.playing") is False
    expect(page.locator(".toast-ok").last).to_contain_text("已保存")
    # The trace, violation included, is the CLI's for that scenario.
    _, jsonl = export(page, "jsonl", tmp_path)
    lines = jsonl.decode("utf-8").splitlines()
    assert any(json.loads(ln)["type"] == "violation" for ln in lines)
    assert lines == cli_jsonl(tmp_path / "raft.json", 1500)
    # The SVG speaks the page's language too.
    _, svg = export(page, "svg", tmp_path)
    assert "毫秒" in {el.text for el in ET.fromstring(svg).iter(f"{SVG}text")}
    # A refused file, in Chinese.
    page.set_input_files("#import-file", files=[{"name": "x.json", "mimeType": "application/json",
                                                  "buffer": b"{nope"}])
    expect(page.locator(".toast-error", has_text="x.json")).to_contain_text("不是 JSON 文件")


def test_a_hand_written_scenario_opens_and_its_trace_matches_the_cli(open_page, tmp_path):
    """The README's scenario format, written by hand (loss set to 0.0 mid-run: the engine keeps it
    a float and writes 0.0): the page opens it as the CLI reads it, and exports the same trace."""
    from engine.scenario import from_json
    text = json.dumps({
        "protocol": "2pc", "seed": 7, "params": {"vote_timeout": 500},
        "network": {"latency": [10, 30], "loss": 0.0, "duplicate": 0.0},
        "actions": [{"at": 100, "do": "request", "node": "c", "op": "begin", "arg": "x"},
                    {"at": 120, "do": "set", "param": "loss", "value": 0.0},
                    {"at": 125, "do": "set", "param": "duplicate", "value": 0.25},
                    {"at": 130, "do": "set", "param": "latency", "value": [5, 5]},
                    {"at": 150, "do": "crash", "node": "p1"}],
        "until": 3000}, indent=2)
    path = tmp_path / "by-hand.json"
    path.write_text(text)
    page = ready(open_page("/play/2pc"))
    page.set_input_files("#import-file", str(path))
    want = from_json(text).to_token()
    page.wait_for_function(f"window.__pp.token === {want!r}")
    set_speed(page, 1)
    play_until(page, 800)
    tt = int(page.evaluate("Math.floor(Math.min(window.__pp.t, window.__pp.model.t))"))
    _, jsonl = export(page, "jsonl", tmp_path)
    lines = jsonl.decode("utf-8").splitlines()
    assert '"param":"loss","seq"' in "".join(lines) and '"value":0.0}' in "".join(lines)
    assert lines == cli_jsonl(path, tt)
    # The exported scenario is the same scenario (the same token), pretty-printed.
    _, exported = export(page, "scenario", tmp_path)
    assert b'"loss": 0.0' in exported and exported.count(b"\n") > 5
    assert from_json(exported.decode("utf-8")).to_token() == want
