"""Screenshots of the state pictures (not a test): the canvas at two lesson moments.

    .venv/bin/python bench/picture_shots.py [--out docs]

Starts the real server as a subprocess on loopback, opens each lesson's link at a
fixed moment (?t=, as a share link does) in system Chromium at 1280x800 and saves
the page:
  - docs/pictures-raft.png: Raft's Figure 8 at 1030 ms, the old term-1 entry x=2
    on a majority of logs (outlined: not committed) while n5 holds term 2's x=3;
  - docs/pictures-raft-election.png: the same lesson at 835 ms, n1 back from its
    crash campaigning for term 2: its tally short of the quorum (n3 and n4 voted
    for n5), the followers' election timer rings;
  - docs/pictures-2pc.png: 2PC with the coordinator down at 1000 ms, every
    participant holding its lock (the lock chips) with nobody to release it;
  - docs/pictures-tcc.png: TCC at 300 ms, both Tries done: 30 frozen on the
    account, 1 reserved in stock, before the coordinator confirms.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from shots import ROOT, open_page, server_and_browser

SHOTS = (("pictures-raft.png", "/play/raft?preset=figure8&t=1030"),
         ("pictures-raft-election.png", "/play/raft?preset=figure8&t=835"),
         ("pictures-2pc.png", "/play/2pc?preset=coordinator_crash&t=1000"),
         ("pictures-tcc.png", "/play/tcc?preset=happy&t=300"))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(ROOT / "docs"))
    args = ap.parse_args()
    with server_and_browser("picture_shots.log") as (base, browser):
        for name, path in SHOTS:
            ctx, page = open_page(browser, base + path, 1280, 800)
            page.wait_for_function("window.__pp.t > 0")
            page.wait_for_timeout(500)           # frames drawn, fonts settled
            page.screenshot(path=str(Path(args.out) / name))
            print(f"{name}: t={page.evaluate('window.__pp.t')} ms")
            ctx.close()

if __name__ == "__main__":
    main()
