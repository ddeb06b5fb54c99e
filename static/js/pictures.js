// State pictures: the tallies, business values, locks and timer rings a protocol
// declares (describe().pictures; engine/protocol.py Picture) drawn with each node.
// Generic: this reads declarations and views, never a protocol's name. The row of
// chips sits under the node's labels (layout.js reserves it); timer rings sit on
// the node's rim, so they take no room of their own. Pure functions of the view,
// the scene and the armed timers' deadlines; topology.js calls them per frame.

import { tn } from './i18n.js';
import { FONT_STACK, COLORS, fmtShort, clamp } from './format.js';
import { roundRect, textWidth, fitText } from './canvas.js';

const ROW_KINDS = ['tally', 'values', 'locks'];
const GAP = 3;
const MORE = 12;        // room for "…" when chips are left out
const PIP = 6;          // a tally pip's diameter
const MAX_PIPS = 9;
const MAX_RINGS = 2;

function declared(proto) {
  return (proto && Array.isArray(proto.pictures)) ? proto.pictures : [];
}

/** Does the protocol declare anything drawn in the row under a node (layout reserves it)? */
export function hasRow(proto) {
  return declared(proto).some((p) => ROW_KINDS.includes(p.kind));
}

/** Is the picture shown for this view (its `when` conditions)? */
function shown(pic, view) {
  for (const [key, values] of Object.entries(pic.when || {})) {
    if (!values.includes(view[key])) return false;
  }
  return true;
}

/** How many a tally value counts: a list's or dict's length, a number itself. */
export function tallyCount(v) {
  if (Array.isArray(v)) return v.length;
  if (v && typeof v === 'object') return Object.keys(v).length;
  return Number.isFinite(v) ? v : 0;
}

/** The quorum a tally needs: a majority, all or f + 1 of the nodes whose role is in `among` (every
 *  node when empty), or a fixed number. Counted from the scene's views (crashed nodes too). */
export function quorumOf(pic, nodes, ids) {
  if (Number.isFinite(pic.quorum)) return pic.quorum;
  const among = pic.among || [];
  const n = among.length ? ids.filter((id) => among.includes((nodes[id] || {}).role)).length : ids.length;
  if (pic.quorum === 'all') return n;
  return pic.quorum === 'f+1' ? Math.floor((n - 1) / 2) + 1 : Math.floor(n / 2) + 1;
}

/** What the row shows for one view: [{kind, field, key?, text, count?, quorum?}], in declaration
 *  order. A crashed node keeps only what is on its disk (durable fields), as the inspector says. */
export function rowItems(proto, view, nodes, ids) {
  const items = [];
  const up = view.up !== false;
  const durable = new Set(((proto && proto.fields) || []).filter((f) => f.durable).map((f) => f.name));
  for (const pic of declared(proto)) {
    if (!ROW_KINDS.includes(pic.kind) || !shown(pic, view) || (!up && !durable.has(pic.field))) continue;
    const v = view[pic.field];
    if (v === undefined || v === null) continue;
    if (pic.kind === 'tally') {
      let tally = v, key = null;
      if (pic.per) {
        const keys = v && typeof v === 'object' ? Object.keys(v) : [];
        if (!keys.length) continue;
        key = keys[keys.length - 1];   // the newest item (dicts keep insertion order)
        tally = v[key];
      }
      const count = tallyCount(tally), quorum = quorumOf(pic, nodes, ids);
      const name = tn('field', pic.field);
      // Numbers first: a chip cut to fit its column loses the name, never the count.
      const text = `${key ? `${key} ` : ''}${count}/${quorum}${count >= quorum ? ' ✓' : ''} ${name}`;
      items.push({ kind: 'tally', field: pic.field, key, text, count, quorum });
    } else if (v && typeof v === 'object' && !Array.isArray(v)) {
      // Business values are parts of a whole (available, held, used add up to what the service
      // opened with): each chip underlines its share, so a frozen amount shows as a length too.
      const nums = Object.values(v).filter((x) => Number.isFinite(x) && x > 0);
      const total = nums.reduce((a, b) => a + b, 0);
      for (const [k, val] of Object.entries(v)) {
        const s = fmtShort(val);
        if (pic.kind === 'values') {
          const share = total && Number.isFinite(val) ? clamp(val / total, 0, 1) : null;
          items.push({ kind: 'values', field: pic.field, key: k, value: val, share, text: `${tn('value', k)} ${s ?? ''}`.trim() });
        } else {
          items.push({ kind: 'locks', field: pic.field, key: k, value: val, text: `${k}·${s ?? ''}` });
        }
      }
    }
  }
  return items;
}

function chipWidth(ctx, it) {
  const pips = it.kind === 'tally' && it.quorum <= MAX_PIPS ? it.quorum : 0;
  const lead = it.kind === 'locks' ? 12 : pips ? pips * (PIP + 2) + 2 : 0;
  return { w: textWidth(ctx, it.text) + 8 + lead, lead, pips };
}

/** The width the whole row wants (every chip), so a node's column may grow to fit it. */
export function rowWant(ctx, items, lm) {
  if (!items.length) return 0;
  ctx.font = `600 ${lm.f4}px ${FONT_STACK}`;
  return items.reduce((sum, it) => sum + chipWidth(ctx, it).w + GAP, -GAP);
}

/**
 * The row of chips under a node: as many items as fit its column (half-width `half`),
 * centred at x, row centre y. Returns {chips, moreAt (x of the "…" or null), y, h, font, box}
 * or null.
 */
export function rowFrame(ctx, items, x, y, half, lm) {
  if (!items.length) return null;
  const font = `600 ${lm.f4}px ${FONT_STACK}`;
  ctx.font = font;
  const room = 2 * half - 4;
  const chips = [];
  let used = 0;
  for (const it of items) {
    const { w: want, lead, pips } = chipWidth(ctx, it);
    const rest = items.length - chips.length - 1;
    const more = rest > 0 ? MORE : 0;
    // The first chip may be cut to fit (its text ends in "…"); later ones fit whole or wait.
    const w = chips.length ? want : Math.min(want, room - more);
    if (w < lead + 20 || used + w + more > room) break;
    chips.push({ ...it, w, lead, pips });
    used += w + GAP;
  }
  if (!chips.length) return null;
  const more = chips.length < items.length;
  const total = used - GAP + (more ? MORE : 0);
  let cx = x - total / 2;
  for (const c of chips) {
    c.x = cx;
    cx += c.w + GAP;
  }
  const h = lm.h4;
  return { chips, moreAt: more ? cx + MORE / 2 - GAP : null, y, h, font, box: { x: x - total / 2, y: y - h / 2, w: total, h } };
}

export function drawRow(ctx, row, up) {
  ctx.font = row.font;
  ctx.textBaseline = 'middle';
  const top = row.y - row.h / 2;
  for (const c of row.chips) {
    const reached = c.kind === 'tally' && c.count >= c.quorum;
    roundRect(ctx, c.x, top, c.w, row.h, row.h / 2);
    ctx.fillStyle = !up ? '#f3f4f6' : reached ? '#dcfce7' : c.kind === 'locks' ? '#fef3c7' : '#f1f5f9';
    ctx.fill();
    ctx.lineWidth = 1.2;
    ctx.strokeStyle = !up ? COLORS.muted : reached ? '#15803d' : c.kind === 'locks' ? '#b45309' : '#94a3b8';
    ctx.stroke();
    const ink = !up ? COLORS.muted : reached ? '#14532d' : c.kind === 'locks' ? '#78350f' : COLORS.ink;
    let x = c.x + 4;
    if (c.pips) {
      // One pip per vote the quorum needs, filled as votes arrive: the tally's shape.
      for (let i = 0; i < c.pips; i++) {
        ctx.beginPath();
        ctx.arc(x + PIP / 2, row.y, PIP / 2, 0, 2 * Math.PI);
        ctx.lineWidth = 1.2;
        ctx.strokeStyle = ink;
        ctx.stroke();
        if (i < c.count) {
          ctx.fillStyle = ink;
          ctx.fill();
        }
        x += PIP + 2;
      }
      x += 2;
    } else if (c.kind === 'locks') {
      lockGlyph(ctx, x + 4, row.y, ink);
      x += 12;
    }
    if (c.share !== null && c.share !== undefined && c.share > 0) {
      ctx.fillStyle = up ? '#64748b' : COLORS.muted;
      ctx.fillRect(c.x + 4, top + row.h - 3.5, Math.max(2, (c.w - 8) * c.share), 2);
    }
    ctx.fillStyle = ink;
    ctx.textAlign = 'left';
    ctx.fillText(fitText(ctx, c.text, c.x + c.w - 4 - x), x, row.y - 0.5);
  }
  if (row.moreAt !== null) {
    ctx.textAlign = 'center';
    ctx.fillStyle = COLORS.muted;
    ctx.fillText('…', row.moreAt, row.y);
  }
  ctx.textAlign = 'center';
}

function lockGlyph(ctx, x, y, ink) {
  ctx.lineWidth = 1.4;
  ctx.strokeStyle = ink;
  ctx.beginPath();
  ctx.arc(x, y - 2, 2.6, Math.PI, 0);
  ctx.stroke();
  ctx.fillStyle = ink;
  ctx.fillRect(x - 3.8, y - 2, 7.6, 5.6);
}

/**
 * The rings of one node at time t: each declared timer armed there (deadlines: the server's
 * {node: {timer: [set at, due at]}}) that was already set at t, with the fraction of its
 * duration gone. A timer set after t (scrubbing back) is not drawn: it was not armed yet.
 */
export function ringsOf(proto, deadlines, id, t) {
  const out = [];
  const mine = deadlines && deadlines[id];
  if (!mine) return out;
  for (const pic of declared(proto)) {
    if (pic.kind !== 'timers') continue;
    for (const name of pic.names || []) {
      const span = mine[name];
      if (!Array.isArray(span) || out.length >= MAX_RINGS) continue;
      const [set, due] = span;
      if (!(t >= set)) continue;
      out.push({ name, set, due, frac: due > set ? clamp((t - set) / (due - set), 0, 1) : 1 });
    }
  }
  return out;
}

/** Rings on the rim, from twelve o'clock clockwise: the arc closes as the timer nears firing.
 *  Each ring's `drawn` fraction: with reduced motion the arc moves in eighths, not sweeping. */
export function drawRings(ctx, rings, p, R, reduced) {
  rings.forEach((r, i) => {
    const rad = R - 2 - i * 6;
    const f = r.drawn = reduced ? Math.floor(r.frac * 8) / 8 : r.frac;
    ctx.beginPath();
    ctx.arc(p.x, p.y, rad, 0, 2 * Math.PI);
    ctx.lineWidth = 5;
    ctx.strokeStyle = 'rgba(255, 255, 255, 0.6)';
    ctx.stroke();
    if (f <= 0) return;
    const a0 = -Math.PI / 2, a1 = a0 + 2 * Math.PI * f;
    ctx.beginPath();
    ctx.arc(p.x, p.y, rad, a0, a1);
    ctx.lineWidth = 5;
    ctx.lineCap = 'round';
    ctx.strokeStyle = i ? 'rgba(17, 24, 39, 0.6)' : '#111827';
    if (i) ctx.setLineDash([4, 3]);
    ctx.stroke();
    ctx.setLineDash([]);
    ctx.lineCap = 'butt';
  });
}

/** Sizes of the chip row (layout.js): font, height. */
export function rowMetrics(R) {
  return R >= 32 ? { f4: 12, h4: 18 } : { f4: 11, h4: 17 };
}
