"""Screenshots of the side-by-side page and the guide (not a test), for docs/.

    .venv/bin/python bench/compare_shots.py [--out docs]

  - docs/compare-2pc-3pc.png: 2PC and 3PC under one coordinator crash, the shared timeline
    released at 1.6 s: 2PC's participants still in doubt and locked, 3PC's aborted;
  - docs/compare-consensus.png: Raft, ZAB and Multi-Paxos under one leader crash, at 4.2 s;
  - docs/guide-zh.png: the top of /guide in Chinese (which pattern when).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shots import ROOT, server_and_browser

SIDE_BY_SIDE = (("compare-2pc-3pc.png", "/compare?protocols=2pc,3pc&faults=coordinator_crash&run=0", 2, 1600),
                ("compare-consensus.png", "/compare?protocols=raft,zab,multipaxos&faults=coordinator_crash&run=0",
                 3, 4200))


def side_by_side(browser, base: str, out: Path) -> None:
    for name, path, frames, t in SIDE_BY_SIDE:
        ctx = browser.new_context(viewport={"width": 1600, "height": 1000}, bypass_csp=True)
        page = ctx.new_page()
        page.goto(base + path)
        for i in range(frames):
            page.locator(f'iframe[data-frame="{i}"]').element_handle().content_frame().wait_for_function(
                "window.__pp && window.__pp.ready && window.__pp.role === 'controller'", timeout=30_000)
        page.evaluate("""(t) => { const el = document.getElementById('cmp-time');
                         el.value = String(t); el.dispatchEvent(new Event('change')); }""", t)
        for i in range(frames):
            page.locator(f'iframe[data-frame="{i}"]').element_handle().content_frame().wait_for_function(
                "([t]) => window.__pp.t === t && !window.__pp.playing", arg=[t], timeout=20_000)
        page.wait_for_timeout(800)
        page.screenshot(path=str(out / name), full_page=True)
        print(f"{name}: {path} at t={t} ms")
        ctx.close()


def guide(browser, base: str, out: Path) -> None:
    ctx = browser.new_context(viewport={"width": 1400, "height": 1100})
    page = ctx.new_page()
    page.goto(base + "/guide")
    page.select_option("#lang", "zh")
    page.wait_for_function("document.documentElement.lang === 'zh-CN'")
    page.wait_for_timeout(500)
    page.screenshot(path=str(out / "guide-zh.png"))
    print("guide-zh.png: /guide in Chinese")
    ctx.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"))
    out = Path(ap.parse_args().out)
    with server_and_browser("compare_shots.log") as (base, browser):
        side_by_side(browser, base, out)
        guide(browser, base, out)


if __name__ == "__main__":
    main()
