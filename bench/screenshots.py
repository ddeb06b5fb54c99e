"""Screenshots of presenter mode and the phone layout (not a test), for docs/.

    .venv/bin/python bench/screenshots.py [--out docs]

Starts the real server as a subprocess on loopback and drives system Chromium by keys, as a
teacher would (F: presenter mode, N: next chapter):
  - docs/presenter-figure8.png: Raft's Figure 8 in presenter mode at 1920x1080, chapter 5
    (the old term's entry x=2 on a majority of logs, not yet committed);
  - docs/presenter-2pc.png: 2PC coordinator_crash in presenter mode at 1920x1080, chapter 5
    (the participants blocked: prepared, locked, and no coordinator to answer);
  - docs/phone.png: Raft's Figure 8 on a 390x844 phone (the canvas first, the control bar
    off the nodes).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shots import ROOT, open_page, server_and_browser

# (file, page, viewport, chapters to turn with N (0-based index reached: this minus one), presenter)
SHOTS = (("presenter-figure8.png", "/play/raft?preset=figure8", (1920, 1080), 5, True),
         ("presenter-2pc.png", "/play/2pc?preset=coordinator_crash", (1920, 1080), 5, True),
         ("phone.png", "/play/raft?preset=figure8", (390, 844), 3, False))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"))
    args = ap.parse_args()
    with server_and_browser("screenshots.log") as (base, browser):
        for name, path, (w, h), chapters, presenter in SHOTS:
            ctx, page = open_page(browser, base + path, w, h)
            if presenter:
                page.keyboard.press("f")
                page.wait_for_function("window.__pp.presenter")
            for i in range(chapters):
                page.keyboard.press("n")
                page.wait_for_function(f"document.getElementById('guide').dataset.chapter === '{i}' "
                                       "&& !window.__pp.playing", timeout=30000)
            page.wait_for_timeout(5000 if presenter else 800)   # the hint toast gone, frames drawn
            page.screenshot(path=str(Path(args.out) / name))
            title = page.locator("#guide-title").inner_text()
            print(f"{name}: t={page.evaluate('window.__pp.t')} ms, chapter {chapters}: {title}")
            ctx.close()

if __name__ == "__main__":
    main()
