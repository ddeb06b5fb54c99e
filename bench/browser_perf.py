"""Browser-side measurements (not tests): click-to-visible latency and frame rate.

    .venv/bin/python bench/browser_perf.py [--clicks 40] [--seconds 5]

Starts the real server (eventlet, default mode) as a subprocess on loopback and
drives system Chromium with Playwright:
  1. click to visible change: in a paused 2PC run, crash/restart a participant
     through its menu; time from the click to the first animation frame drawn
     after the server's event arrived (p50/p95 over N clicks);
  2. frame rate: Raft with 9 nodes under a heavy client load (a request every
     20 virtual ms) playing at 1x; requestAnimationFrame callbacks per second
     and the longest frame, over a few seconds. Headless Chromium paces
     frames at 60 Hz, so 60 is the ceiling; the frame times say how much
     room is left.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from engine import from_dict
from tests.e2e.conftest import CHROMIUM_ARGS, chromium_path, free_port


def start_server(port):
    import socket
    import subprocess
    import time
    proc = subprocess.Popen([sys.executable, "app.py", "--port", str(port)], cwd=ROOT,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(300):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return proc
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("server did not start")


CLICK_JS = """async ([node, action]) => {
  const pp = window.__pp;
  const want = action === 'crash' ? false : true;
  const t0 = performance.now();
  document.querySelector(`#node-menu [data-action="${action}"]`).click();
  while (pp.model.nodes[node].up !== want) await new Promise(r => requestAnimationFrame(r));
  await new Promise(r => requestAnimationFrame(r));   // the frame that shows it
  return performance.now() - t0;
}"""

FPS_JS = """async (seconds) => {
  const frames = [];
  const end = performance.now() + seconds * 1000;
  let last = performance.now();
  while (performance.now() < end) {
    await new Promise(r => requestAnimationFrame(r));
    const now = performance.now(); frames.push(now - last); last = now;
  }
  frames.sort((a, b) => a - b);
  return {frames: frames.length, fps: frames.length / seconds,
          p95_frame_ms: frames[Math.floor(frames.length * 0.95)], max_frame_ms: frames[frames.length - 1]};
}"""


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, round(p / 100 * (len(xs) - 1)))]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--clicks", type=int, default=40)
    ap.add_argument("--seconds", type=float, default=5)
    args = ap.parse_args()
    from playwright.sync_api import sync_playwright
    port = free_port()
    proc = start_server(port)
    base = f"http://127.0.0.1:{port}"
    out = {}
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
            page = b.new_page(viewport={"width": 1400, "height": 900})
            page.goto(base + "/play/2pc?preset=commit")
            page.wait_for_function("window.__pp && window.__pp.ready")
            lat = []
            for i in range(args.clicks):
                action = "crash" if i % 2 == 0 else "restart"
                pos = page.evaluate("window.__pp.nodeScreenPos('p2')")
                page.mouse.click(pos["x"], pos["y"])
                page.wait_for_selector(f'#node-menu [data-action="{action}"]', state="visible")
                lat.append(page.evaluate(CLICK_JS, ["p2", action]))
            out["click_to_visible_ms"] = {"n": len(lat), "p50": round(statistics.median(lat), 1),
                                          "p95": round(pct(lat, 95), 1), "max": round(max(lat), 1)}

            reqs = [{"at": t, "do": "request", "node": f"n{1 + (t // 20) % 9}", "op": "put", "arg": f"k{t}=v"}
                    for t in range(500, 500 + 20 * 480, 20)]
            token = from_dict({"protocol": "raft", "nodes": 9, "until": 60000, "actions": reqs}).to_token()
            page.goto(base + f"/play/raft?s={token}")
            page.wait_for_function("window.__pp && window.__pp.ready")
            page.fill("#speed", "0")               # 1x: a request every 20 virtual ms is 50 per second
            page.click("#play")
            page.wait_for_timeout(1000)
            fps = page.evaluate(FPS_JS, args.seconds)
            fps["inflight_at_end"] = page.evaluate("Object.keys(window.__pp.model.inflight).length")
            fps["virtual_t"] = page.evaluate("window.__pp.model.t")
            fps["requests_so_far"] = page.evaluate(
                "window.__pp.model.events.filter(e => e.type === 'request').length")
            fps["messages_so_far"] = page.evaluate(
                "window.__pp.model.events.filter(e => e.type === 'send').length")
            out["raft9_heavy_load_frames"] = fps
            b.close()
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
