// Where the topology's nodes go, and how much room each one's labels get:
// pure functions of the canvas size, the node ids and the protocol's layout
// hints ({place: ring | center | top | bottom}). topology.js draws; this places.

import { clamp } from './format.js';
import { rowMetrics } from './pictures.js';

export const PAD = 16;
const HW_MAX = 125;     // widest label half-width: a longer summary is cut with "…"
const HW_OK = 78;       // labels this wide (156 px) everywhere are good enough: then prefer bigger nodes
const HW_GOOD = 100;    // past this, more label room is no reason to change the ring's shape
const R_MIN = 18;

/** The label stack under a node, as offsets from the disc's bottom edge (y + R); with
 *  `strip`, a third row for the protocol's log strip (c3: its centre, h3: its height); with
 *  `pics`, a row for the protocol's state pictures after it (c4, h4; pictures.js). */
export function labelMetrics(R, strip = false, pics = false) {
  // Small nodes get a slightly smaller stack; never below 12 px, readable on a projector.
  const lm = R >= 32
    ? { f1: 15, f2: 13, h1: 20, h2: 20, c1: 16, c2: 38, bottom: 48 }
    : { f1: 14, f2: 12, h1: 19, h2: 18, c1: 14.5, c2: 34.5, bottom: 44 };
  if (strip) {
    lm.f3 = R >= 32 ? 12 : 11;
    lm.h3 = R >= 32 ? 18 : 17;
    lm.c3 = lm.bottom + 2 + lm.h3 / 2;
    lm.bottom += lm.h3 + 4;
  }
  if (pics) {
    Object.assign(lm, rowMetrics(R));
    lm.c4 = lm.bottom + 2 + lm.h4 / 2;
    lm.bottom += lm.h4 + 4;
  }
  return lm;
}

/**
 * Where the nodes go: a pure function of the canvas size, the ids and their
 * layout hints ({place: ring|center|top|bottom}). The ring is a (super)ellipse
 * with nodes at equal arc lengths; a small search over node radius, ring width,
 * squareness and rotation keeps the shape that leaves every label the most room
 * (hw: half-width each label may use), preferring the largest nodes that leave
 * labels HW_OK. `strip`: the label stack has a row for the log strip; `pics`: one for the
 * state pictures (tallies, values, locks).
 * Returns {R, lm (label metrics), pos: Map id -> {x, y}, hw: Map id -> px,
 * room: Map id -> {cap, near} (see labelConflicts)}.
 */
export function layoutNodes({ w, h, ids, layout = {}, top = PAD, bottom = h - PAD, strip = false, pics = false }) {
  const out = { R: 30, lm: labelMetrics(30, strip, pics), pos: new Map(), hw: new Map(), room: new Map() };
  if (!w || !h || !ids.length) return out;
  const groups = { ring: [], center: [], top: [], bottom: [] };
  for (const id of ids) {
    const place = (layout[id] && layout[id].place) || 'ring';
    (groups[place] || groups.ring).push(id);
  }
  const n = ids.length;
  const Rmax = Math.round(clamp(Math.min(w, h) / (n > 6 ? 14 : 11.5), 20, 42));
  let best = null, bestScore = -Infinity;
  for (let R = Rmax; R >= R_MIN; R -= 2) {
    const cand = bestShape(groups, R, w, top, bottom, strip, pics);
    if (!cand) continue;
    if (cand.fits && cand.q >= HW_OK) {
      best = cand;
      break;
    }
    // Nothing roomy yet: trade a little node size for label room. A shape whose lowest
    // labels run past the bottom (a short canvas: a projector, a log strip) is a last resort.
    const score = cand.q + 0.75 * R - (cand.fits ? 0 : 1000 + cand.over);
    if (score > bestScore) {
      best = cand;
      bestScore = score;
    }
  }
  if (!best) return out;
  best.ids.forEach((id, i) => {
    out.pos.set(id, { x: best.xs[i], y: best.ys[i] });
    out.hw.set(id, best.hw[i]);
  });
  out.R = best.R;
  out.lm = best.lm;
  out.room = labelConflicts(best, w);
  return out;
}

function bestShape(groups, R, w, top, bottom, strip, pics) {
  const lm = labelMetrics(R, strip, pics);
  const foot = 2 * R + lm.bottom + 8; // one row of nodes with their labels, and air
  const fixedIds = [], fixedX = [], fixedY = [];
  const row = (list, y) => list.forEach((id, i) => {
    fixedIds.push(id);
    fixedX.push((w * (i + 1)) / (list.length + 1));
    fixedY.push(y);
  });
  let t0 = top, b0 = bottom;
  if (groups.top.length) {
    row(groups.top, t0 + R);
    t0 += foot;
  }
  if (groups.bottom.length) {
    row(groups.bottom, b0 - lm.bottom - R);
    b0 -= foot;
  }
  const ring = groups.ring, centers = groups.center;
  const ids = [...fixedIds, ...ring, ...centers];
  const cx = w / 2;
  // The ring fills the height: its top discs touch t0, its bottom labels touch b0.
  const ry = Math.max(R, (b0 - t0 - 2 * R - lm.bottom) / 2);
  const cy = t0 + R + ry;
  const gentle = Math.max(R * 2, Math.min(ry * (centers.length ? 2.4 : 2.2), w / 2 - R - 40));
  // Ring widths, preferred first: the gentle ellipse, then wider ones (the side labels get less room).
  const rrs = [gentle, w / 2 - 4 - HW_OK, w / 2 - 4 - 48, w / 2 - 4 - 96]
    .filter((rr, i, a) => rr >= R * 2 && a.findIndex((o) => Math.abs(o - rr) < 8) === i);
  if (!rrs.length) rrs.push(Math.max(R * 2, w / 2 - R - 4));
  // With a node in the middle (or two on the ring), turn the ring half a step: nobody right above it.
  const turn = ring.length === 2 || centers.length ? 0.5 : 0;
  const offs = [turn, turn + 0.5, turn + 0.25, turn + 0.75].map((o) => o % 1);
  const cOffs = centers.length ? [-lm.bottom / 2, 0, -lm.bottom / 4, -lm.bottom] : [0];
  const shapes = ring.length > 2 ? [2, 3] : [2]; // 3: a rounder-cornered ring, more room at its ends
  const xs = new Float64Array(ids.length), ys = new Float64Array(ids.length);
  for (let i = 0; i < fixedIds.length; i++) {
    xs[i] = fixedX[i];
    ys[i] = fixedY[i];
  }
  const k0 = fixedIds.length, k1 = k0 + ring.length;
  let best = null;
  for (const rr of rrs) {
    for (const p of shapes) {
      const curve = ring.length > 1 ? sampleCurve(rr, ry, p) : null;
      for (const off of ring.length > 1 ? offs : [0]) {
        if (ring.length === 1) {
          xs[k0] = cx;
          ys[k0] = centers.length ? cy + ry : cy;
        } else if (ring.length) {
          placeOnCurve(curve, ring.length, off, cx, cy, xs, ys, k0);
        }
        for (const cOff of cOffs) {
          centers.forEach((_, i) => {
            xs[k1 + i] = cx + (i - (centers.length - 1) / 2) * 3 * R;
            ys[k1 + i] = (ring.length ? cy : (t0 + b0 - lm.bottom) / 2) + cOff;
          });
          consider();
        }
      }
    }
  }
  return best;

  function consider() {
    const hw = labelRoom(xs, ys, R, lm, w);
    let q = Infinity, low = -Infinity;
    for (const v of hw) q = Math.min(q, v);
    for (const y of ys) low = Math.max(low, y);
    const over = Math.max(0, low + R + lm.bottom - bottom);
    // Keep the first (preferred) shape unless another is clearly better; past HW_GOOD
    // more label room is no better.
    const qq = Math.min(q, HW_GOOD);
    if (!best || qq > best.qq + 2) {
      best = { q, qq, hw: [...hw], xs: [...xs], ys: [...ys], ids, R, lm, fits: over <= 1, over };
    }
  }
}

/** Points along a superellipse |x/a|^p + |y/b|^p = 1 from the top, clockwise, with cumulative lengths. */
function sampleCurve(a, b, p) {
  const K = 240;
  const pts = new Float64Array(2 * (K + 1)), len = new Float64Array(K + 1);
  const e = 2 / p;
  for (let k = 0; k <= K; k++) {
    const th = -Math.PI / 2 + (2 * Math.PI * k) / K;
    const c = Math.cos(th), s = Math.sin(th);
    pts[2 * k] = a * Math.sign(c) * Math.pow(Math.abs(c), e);
    pts[2 * k + 1] = b * Math.sign(s) * Math.pow(Math.abs(s), e);
    if (k) len[k] = len[k - 1] + Math.hypot(pts[2 * k] - pts[2 * k - 2], pts[2 * k + 1] - pts[2 * k - 1]);
  }
  return { pts, len, K };
}

function placeOnCurve({ pts, len, K }, n, off, cx, cy, xs, ys, at) {
  // Equal arc lengths: on a flat ring equal angles would bunch the nodes at its ends.
  const total = len[K];
  let k = 0;
  for (let i = 0; i < n; i++) {
    const s = (total * (i + off)) / n;
    while (k < K - 1 && len[k + 1] < s) k++;
    const f = clamp((s - len[k]) / (len[k + 1] - len[k] || 1), 0, 1);
    xs[at + i] = cx + pts[2 * k] + (pts[2 * k + 2] - pts[2 * k]) * f;
    ys[at + i] = cy + pts[2 * k + 1] + (pts[2 * k + 3] - pts[2 * k + 1]) * f;
  }
}

// Does node i's label band (under its disc) share height with node j's label band /
// with node j's disc? Then they must sit side by side.
const labelsMeet = (yi, yj, R, lm) => yi + R + 4 < yj + R + lm.bottom && yj + R + 4 < yi + R + lm.bottom;
const labelMeetsDisc = (yi, yj, R, lm) => yi + R + 4 < yj + R + 3 && yj - R - 3 < yi + R + lm.bottom;

/**
 * How wide each node's labels may be (half-width): bounded by the canvas edges
 * and by every node whose labels or disc share the label band's height.
 * Two label bands side by side split the gap between them.
 */
function labelRoom(xs, ys, R, lm, w) {
  const n = xs.length;
  const hw = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let v = Math.min(HW_MAX, xs[i] - 4, w - xs[i] - 4);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dx = Math.abs(xs[i] - xs[j]);
      if (dx < 2 * R + 8 && Math.abs(ys[i] - ys[j]) < 2 * R + 8) return hw.fill(-100); // discs touch: unusable
      if (labelsMeet(ys[i], ys[j], R, lm)) v = Math.min(v, dx / 2 - 4);
      if (labelMeetsDisc(ys[i], ys[j], R, lm)) v = Math.min(v, dx - R - 6);
    }
    hw[i] = v;
  }
  return hw;
}

/**
 * For the per-frame label fit: each node's hard limit (canvas edges, discs beside its
 * labels) and the nodes whose labels share its band, with the distance between them.
 * A label may then take room a shorter neighbour leaves unused.
 */
function labelConflicts({ ids, xs, ys, R, lm }, w) {
  const room = new Map();
  ids.forEach((id, i) => {
    let cap = Math.min(HW_MAX, xs[i] - 4, w - xs[i] - 4);
    const near = [];
    ids.forEach((other, j) => {
      if (j === i) return;
      const dx = Math.abs(xs[i] - xs[j]);
      if (labelsMeet(ys[i], ys[j], R, lm)) near.push({ id: other, dx });
      if (labelMeetsDisc(ys[i], ys[j], R, lm)) cap = Math.min(cap, dx - R - 6);
    });
    room.set(id, { cap, near });
  });
  return room;
}
