"""Seeking back and forth in a long run, in real Chromium: the owner seeks, a
watcher follows through `seek` messages (its model rewound from its own
checkpoints), and both show exactly what a fresh page opened at that moment
shows.
"""

from engine import from_dict
from tests.e2e.test_browser import ready

# Raft, five nodes: ~98,000 trace events by t=290 s.
LONG = {"protocol": "raft", "nodes": 5, "seed": 4, "until": 300_000}
END = 290_000

# What a person sees, as data: the fold's state at the model's time.
SUMMARY = """() => {
  const m = window.__pp.model;
  return JSON.stringify({
    n: m.events.length, t: m.t, last: m.events.length ? m.events[m.events.length - 1].seq : null,
    nodes: m.nodes, inflight: Object.keys(m.inflight), drops: m.drops.map((d) => d.id),
    partition: m.partition, violations: m.violations.map((v) => v.seq), notes: m.notes.length,
    faults: m.faults.length, history: m.history, changedAt: m.changedAt,
  });
}"""


def seek(page, t):
    """Release the scrubber at t, as a person does."""
    page.evaluate("""(t) => { const el = document.getElementById('timeline');
                     el.value = String(t); el.dispatchEvent(new Event('change')); }""", t)


def settled(page, t):
    page.wait_for_function("([t]) => window.__pp.t === t && window.__pp.model.t === t", arg=[t], timeout=30_000)


def test_seeking_back_and_forth_keeps_every_watcher_on_the_owners_picture(open_page):
    token = from_dict(LONG).to_token()
    owner = ready(open_page(f"/play/raft?s={token}&t={END}"))
    owner.wait_for_function(f"window.__pp.model.t === {END}", timeout=30_000)
    total = owner.evaluate("window.__pp.model.events.length")
    assert total > 80_000
    session = owner.evaluate("window.__pp.session")
    watcher = ready(open_page(f"/play/raft?session={session}"))
    assert watcher.evaluate("window.__pp.role") == "viewer"
    assert watcher.evaluate(SUMMARY) == owner.evaluate(SUMMARY)

    for i, t in enumerate((29_000, 145_000, 261_000, 1_000, END, 150_001)):
        seek(owner, t)
        settled(owner, t)
        settled(watcher, t)
        mine, theirs = owner.evaluate(SUMMARY), watcher.evaluate(SUMMARY)
        assert theirs == mine, t
        if i in (1, 5):   # and what a fresh page opened at that moment shows
            fresh = ready(open_page(f"/play/raft?s={owner.evaluate('window.__pp.token')}&t={t}"))
            fresh.wait_for_function(f"window.__pp.model.t === {t}", timeout=30_000)
            assert fresh.evaluate(SUMMARY) == mine, t
            fresh.context.close()


def test_rewinding_the_model_in_the_page_is_quick_and_equals_a_fresh_fold(open_page):
    """The page's own rewind (model.truncate) against folding the same events from scratch."""
    token = from_dict(LONG).to_token()
    page = ready(open_page(f"/play/raft?s={token}&t={END}"))
    page.wait_for_function(f"window.__pp.model.t === {END}", timeout=30_000)
    got = page.evaluate("""async () => {
      const M = await import('/static/js/model.js');
      const events = window.__pp.model.events.slice();
      const info = { nodes: window.__pp.model.ids.slice(0, window.__pp.model.ids0) };
      const key = (m) => JSON.stringify([m.events.length, m.t, m.nodes, Object.keys(m.inflight),
        m.drops.length, m.partitions, m.violations.length, m.history, m.changedAt, m.maxLatency]);
      const out = { n: events.length, rewind_ms: {}, fold_ms: {}, equal: {} };
      for (const frac of [0.9, 0.5, 0.1]) {
        const m = M.fromSnapshot({ ...info, events });
        const n = Math.floor(events.length * frac);
        const a = performance.now();
        M.truncate(m, n);
        out.rewind_ms[frac] = performance.now() - a;
        const b = performance.now();
        const fresh = M.fromSnapshot({ ...info, events: events.slice(0, n) });
        out.fold_ms[frac] = performance.now() - b;
        out.equal[frac] = key(m) === key(fresh);
      }
      return out;
    }""")
    print("browser rewind", got)
    assert all(got["equal"].values()), got
    assert max(got["rewind_ms"].values()) < 100, got
