// Lamport space-time diagram: one lane per node, time to the right; messages
// as arrows from (src, send time) to (dst, deliver time); crashes, restarts,
// partitions and violations marked. A pure function of the model and the
// display time; the only state is the canvas size and the zoom.
// Legibility: the canvas asks for the height its lanes need (LANE_PITCH apart, so
// 9 lanes get as much room as a name needs; the stylesheet caps it so the topology
// keeps most of the stage); lane names sit in one column, each on its lane, a size
// smaller only when the cap squeezes the lanes; time-axis labels are never clipped.

import { progress } from './model.js';
import { t as tr } from './i18n.js';
import { FONT_STACK, COLORS, kindColor, clamp } from './format.js';
import { drawCross, fitCanvas, beginFrame, fitText, textWidth } from './canvas.js';
import { SvgPainter } from './svgpaint.js';

const AXIS = 24;          // the time axis under the lanes
const LANE_TOP = 10;
const LANE_BOTTOM = AXIS + 6; // from the last lane to the canvas's bottom edge
const LANE_PITCH = 16;    // px between lanes the canvas asks for (its CSS height, --lanes-h)
const LANE_FONT = 12;     // lane names: readable on a projector
const LANE_LINE = 14;     // px a 12 px name needs; closer lanes (a capped panel) get smaller names
const TICK_FONT = 11;

export class SpaceTime {
  constructor(canvas, { roleColor, onSelectNode } = {}) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.roleColor = roleColor || (() => COLORS.fallbackRole);
    this.onSelectNode = onSelectNode || (() => {});
    this.w = 0;
    this.h = 0;
    this.dpr = 0;
    this.zoom = 1;
    this.ids = [];
    this.lastSpan = 1000;
    new ResizeObserver(() => this.resize()).observe(canvas);
    canvas.addEventListener('wheel', (e) => {
      e.preventDefault();
      this.zoom = clamp(this.zoom * (e.deltaY > 0 ? 1.2 : 1 / 1.2), 0.02, 200);
    }, { passive: false });
    canvas.addEventListener('click', (e) => {
      const rect = canvas.getBoundingClientRect();
      const y = e.clientY - rect.top;
      const id = this.laneAt(y);
      if (id) this.onSelectNode(id);
    });
  }

  setRun(ids) {
    this.ids = [...ids];
    // The height these lanes need, for the stylesheet to clamp (the wrap's min/max height):
    // a new node count resizes the canvas, and the ResizeObserver redraws it.
    const need = LANE_TOP + Math.max(0, this.ids.length - 1) * LANE_PITCH + LANE_BOTTOM;
    this.canvas.style.setProperty('--lanes-h', `${need}px`);
  }

  resize() {
    // Redrawn at once with the last frame's input: resizing clears the canvas, and the next
    // frame (which redraws because the size is in its key) would come one paint too late.
    if (fitCanvas(this.canvas, this) && this.last) this.draw(this.last.scene, this.last.ui);
  }

  /** A lane's y, on a whole CSS px (4 px lanes stay crisp at 1x and 2x). */
  laneY(i) {
    const n = Math.max(1, this.ids.length);
    const top = LANE_TOP, bottom = this.h - LANE_BOTTOM;
    if (n === 1) return Math.round((top + bottom) / 2);
    return Math.round(top + ((bottom - top) * i) / (n - 1));
  }

  /**
   * Lane-name layout, one column right next to the lanes: the font (12 px, smaller only when
   * the lanes are closer than a name's height), the width a name may take, and the gutter
   * (where the lanes start).
   */
  laneNames(ctx = this.ctx) {
    const n = this.ids.length;
    const gap = n > 1 ? (this.h - LANE_TOP - LANE_BOTTOM) / (n - 1) : LANE_LINE;
    const size = gap >= LANE_LINE ? LANE_FONT : clamp(Math.floor(gap - 2), 9, LANE_FONT);
    const font = `700 ${size}px ${FONT_STACK}`;
    ctx.font = font;
    let wmax = 0;
    for (const id of this.ids) wmax = Math.max(wmax, textWidth(ctx, String(id)));
    // Role dot (10) + name + air (8); long ids are cut to keep the lanes wide.
    const nameW = Math.min(wmax, Math.max(40, this.w * 0.2));
    return { font, dot: size >= LANE_FONT ? 4 : 3, nameW, gutter: Math.max(48, 26 + nameW) };
  }

  laneAt(y) {
    let best = null, bestD = Infinity;
    this.ids.forEach((id, i) => {
      const d = Math.abs(this.laneY(i) - y);
      if (d < bestD) {
        bestD = d;
        best = id;
      }
    });
    return bestD < 20 ? best : null;
  }

  baseSpan(m) {
    const net = m.network || {};
    const lat = Array.isArray(net.latency) ? net.latency[1] : m.maxLatency;
    const until = (m.scenario && m.scenario.until) || 10000;
    return clamp(Math.max(lat, m.maxLatency) * 30, 200, Math.max(200, until));
  }

  draw(scene, ui) {
    this.last = { scene, ui };
    beginFrame(this.canvas, this.ctx, this);
    if (scene) this.paint(this.ctx, scene, ui);
  }

  /** The last frame drawn, as a standalone SVG file (the same drawing, through an SVG painter). */
  toSVG() {
    const svg = new SvgPainter(this.w, this.h, this.ctx);
    if (this.last && this.last.scene) this.paint(svg, this.last.scene, this.last.ui);
    return svg.toString();
  }

  /**
   * The drawing itself, on any painter with the canvas 2D API this uses: the canvas's own
   * context on screen, an SvgPainter (svgpaint.js) for a download. Sizes are CSS px.
   */
  paint(ctx, scene, ui) {
    const names = this.laneNames(ctx);
    const GUTTER = names.gutter;
    const m = scene.model;
    const now = scene.t;
    const span = Math.max(10, this.baseSpan(m) * this.zoom);
    this.lastSpan = span;
    const t0 = Math.max(0, now - span * 0.94);
    const t1 = t0 + span;
    const x0 = GUTTER, x1 = this.w - 10;
    const X = (tt) => x0 + ((tt - t0) / (t1 - t0)) * (x1 - x0);
    const idx = new Map(this.ids.map((id, i) => [id, i]));
    const Y = (id) => this.laneY(idx.get(id) ?? 0);
    const laneTop = 6, laneBottom = this.h - AXIS;

    ctx.save();
    ctx.beginPath();
    ctx.rect(x0 - 4, 0, x1 - x0 + 8, this.h);
    ctx.clip();

    // Partition periods: shaded bands (named once the arrows are drawn).
    const parts = m.partitions;
    const partNames = [];
    for (let i = 0; i < parts.length; i++) {
      if (!parts[i].groups) continue;
      const a = parts[i].t;
      if (a > now) break;
      const b = i + 1 < parts.length ? Math.min(parts[i + 1].t, now) : now;
      if (b < t0 || a > t1) continue;
      ctx.fillStyle = 'rgba(234, 88, 12, 0.08)';
      ctx.fillRect(X(a), laneTop, Math.max(2, X(b) - X(a)), laneBottom - laneTop);
      partNames.push([Math.max(X(a), x0) + 2, Math.min(X(b), x1)]);
    }

    // Selected lane (a band no taller than the lane spacing).
    const laneGap = this.ids.length > 1 ? this.laneY(1) - this.laneY(0) : 22;
    if (ui.selected && idx.has(ui.selected)) {
      const bh = Math.min(22, Math.max(6, laneGap));
      ctx.fillStyle = 'rgba(37, 99, 235, 0.09)';
      ctx.fillRect(x0 - 4, Y(ui.selected) - bh / 2, x1 - x0 + 8, bh);
    }
    const laneW = laneGap < 10 ? 3 : 4;

    // Lanes coloured by role; dashed grey while crashed.
    for (const id of this.ids) {
      const y = Y(id);
      const h = m.history[id] || [{ t: 0, up: true, role: null }];
      for (let i = 0; i < h.length; i++) {
        const a = h[i].t;
        if (a > now) break;
        const b = i + 1 < h.length ? Math.min(h[i + 1].t, now) : now;
        if (b < t0) continue;
        ctx.beginPath();
        ctx.moveTo(X(Math.max(a, t0)), y);
        ctx.lineTo(X(Math.max(b, a)), y);
        if (h[i].up) {
          ctx.strokeStyle = this.roleColor(h[i].role);
          ctx.lineWidth = laneW;
          ctx.setLineDash([]);
        } else {
          ctx.strokeStyle = COLORS.crashed;
          ctx.lineWidth = 2;
          ctx.setLineDash([5, 5]);
        }
        ctx.stroke();
        ctx.setLineDash([]);
        if (i > 0 && a >= t0) {
          if (!h[i].up && h[i - 1].up) drawCross(ctx, X(a), y, 7, '#4b5563', 3);
          else if (h[i].up && !h[i - 1].up) {
            ctx.beginPath();
            ctx.arc(X(a), y, 6, 0, 2 * Math.PI);
            ctx.fillStyle = '#fff';
            ctx.fill();
            ctx.lineWidth = 3;
            ctx.strokeStyle = COLORS.ok;
            ctx.stroke();
          }
        }
      }
    }

    // Messages.
    const msgs = m.messages;
    let lo = 0, hi = msgs.length;
    const from = t0 - m.maxLatency - 1;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (msgs[mid].sent_at < from) lo = mid + 1;
      else hi = mid;
    }
    const dense = msgs.length - lo > 1500;
    // Collected first, then drawn batched per colour (one path per kind, a dozen at most):
    // thousands of arrows in view stay cheap. The hovered message is drawn last, on top.
    const lines = new Map(), heads = new Map(), tips = new Map(), crosses = [];
    const colorOf = new Map(); // kind -> colour, hashed once per frame
    let hot = null;
    const add = (map, color, ...v) => {
      const a = map.get(color);
      if (a) a.push(...v);
      else map.set(color, v);
    };
    for (let i = lo; i < msgs.length; i++) {
      const msg = msgs[i];
      if (msg.sent_at > now || msg.sent_at > t1) break;
      const ended = msg.end_t !== null && msg.end_t <= now;
      const endT = ended ? msg.end_t : now;
      if (endT < t0) continue;
      const ya = Y(msg.src), yb = Y(msg.dst);
      const p = progress(msg, endT);
      const xa = X(msg.sent_at), xb = X(endT);
      const delivered = ended && msg.status === 'delivered';
      const yEnd = delivered ? yb : ya + (yb - ya) * p;
      let color = colorOf.get(msg.kind);
      if (!color) colorOf.set(msg.kind, (color = kindColor(msg.kind)));
      if (ui.hoverMsg === msg.id || ui.menuMsg === msg.id) hot = { xa, ya, xb, yEnd, color, delivered, ended };
      else add(lines, color, xa, ya, xb, yEnd);
      if (delivered) {
        if (!dense) add(heads, color, xa, ya, xb, yEnd);
      } else if (ended) crosses.push(xb, yEnd);
      else add(tips, color, xb, yEnd);
    }
    ctx.lineCap = 'round';
    ctx.lineWidth = 2;
    ctx.globalAlpha = 0.7;
    for (const [color, v] of lines) {
      ctx.strokeStyle = color;
      ctx.beginPath();
      for (let k = 0; k < v.length; k += 4) {
        ctx.moveTo(v[k], v[k + 1]);
        ctx.lineTo(v[k + 2], v[k + 3]);
      }
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
    if (hot) {
      ctx.strokeStyle = hot.color;
      ctx.lineWidth = 3.5;
      ctx.beginPath();
      ctx.moveTo(hot.xa, hot.ya);
      ctx.lineTo(hot.xb, hot.yEnd);
      ctx.stroke();
    }
    for (const [color, v] of heads) {
      ctx.fillStyle = color;
      ctx.beginPath();
      for (let k = 0; k < v.length; k += 4) arrowHead(ctx, v[k], v[k + 1], v[k + 2], v[k + 3]);
      ctx.fill();
    }
    for (const [color, v] of tips) {
      ctx.fillStyle = color;
      ctx.beginPath();
      for (let k = 0; k < v.length; k += 2) {
        ctx.moveTo(v[k] + 3.5, v[k + 1]);
        ctx.arc(v[k], v[k + 1], 3.5, 0, 2 * Math.PI);
      }
      ctx.fill();
    }
    if (crosses.length) {
      ctx.strokeStyle = COLORS.danger;
      ctx.lineWidth = 3;
      ctx.beginPath();
      for (let k = 0; k < crosses.length; k += 2) {
        const x = crosses[k], y = crosses[k + 1];
        ctx.moveTo(x - 5, y - 5);
        ctx.lineTo(x + 5, y + 5);
        ctx.moveTo(x + 5, y - 5);
        ctx.lineTo(x - 5, y + 5);
      }
      ctx.stroke();
    }

    // Partition names on a light chip: they sit on the last lane, among the arrows.
    ctx.font = `600 11px ${FONT_STACK}`;
    ctx.textAlign = 'left';
    ctx.textBaseline = 'bottom';
    const pname = tr('st.partition');
    const pw = textWidth(ctx, pname) + 8;
    for (const [nx, end] of partNames) {
      if (nx + pw > end) continue;
      ctx.fillStyle = 'rgba(255, 255, 255, 0.9)';
      ctx.fillRect(nx, laneBottom - 15, pw, 14);
      ctx.fillStyle = '#c2410c';
      ctx.fillText(pname, nx + 4, laneBottom - 2);
    }

    // Violations.
    for (const v of scene.violations) {
      if (v.t < t0 || v.t > t1) continue;
      const x = X(v.t);
      ctx.strokeStyle = COLORS.danger;
      ctx.lineWidth = 2;
      ctx.setLineDash([4, 3]);
      ctx.beginPath();
      ctx.moveTo(x, laneTop);
      ctx.lineTo(x, laneBottom);
      ctx.stroke();
      ctx.setLineDash([]);
      ctx.beginPath();
      ctx.arc(x, laneTop + 8, 8, 0, 2 * Math.PI);
      ctx.fillStyle = COLORS.danger;
      ctx.fill();
      ctx.fillStyle = '#fff';
      ctx.font = `800 11px ${FONT_STACK}`;
      ctx.textAlign = 'center';
      ctx.textBaseline = 'middle';
      ctx.fillText('!', x, laneTop + 8.5);
    }

    // Now.
    const xn = X(now);
    ctx.strokeStyle = COLORS.accent;
    ctx.lineWidth = 2;
    ctx.beginPath();
    ctx.moveTo(xn, laneTop);
    ctx.lineTo(xn, laneBottom);
    ctx.stroke();
    ctx.restore();

    // Lane names, right-aligned next to their lanes, each on its lane's line.
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    ctx.font = names.font;
    const right = GUTTER - 8;
    for (const id of this.ids) {
      const view = scene.nodes[id] || {};
      const up = view.up !== false;
      const y = Y(id);
      const text = fitText(ctx, String(id), names.nameW);
      const tw = textWidth(ctx, text);
      ctx.fillStyle = up ? this.roleColor(view.role) : COLORS.crashed;
      ctx.beginPath();
      ctx.arc(right - tw - 4 - names.dot, y, names.dot, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = ui.selected === id ? COLORS.accent : up ? COLORS.ink : COLORS.muted;
      ctx.fillText(text, right, y + 0.5);
    }

    // Time axis: ticks at least ~70 px apart; a label that would run off the right edge is
    // pulled in, or left out when that would crowd its neighbour.
    const axisY = this.h - AXIS + 4;
    ctx.strokeStyle = COLORS.line;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x0, axisY);
    ctx.lineTo(x1, axisY);
    ctx.stroke();
    const step = niceStep(Math.max((t1 - t0) / 8, ((t1 - t0) * 70) / Math.max(1, x1 - x0)));
    ctx.font = `500 ${TICK_FONT}px ${FONT_STACK}`;
    ctx.fillStyle = COLORS.muted;
    ctx.textBaseline = 'top';
    ctx.textAlign = 'left';
    const unit = tr('st.ms');
    ctx.fillText(unit, 8, axisY + 6);
    let lastRight = 8 + textWidth(ctx, unit) + 8;
    for (let tt = Math.ceil(t0 / step) * step; tt <= t1; tt += step) {
      const x = X(tt);
      ctx.beginPath();
      ctx.moveTo(x, axisY);
      ctx.lineTo(x, axisY + 4);
      ctx.stroke();
      const label = fmtTick(tt);
      const w = textWidth(ctx, label);
      const left = Math.min(x - w / 2, this.w - 2 - w);
      if (left < lastRight + 6) continue;
      ctx.fillText(label, left, axisY + 6);
      lastRight = left + w;
    }
  }
}

/** A tick label: whole ms with thin-space thousands groups ("10 000"), like the timeline's. */
function fmtTick(ms) {
  return String(Math.round(ms)).replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009');
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  for (const k of [1, 2, 5, 10]) if (raw <= k * p) return k * p;
  return 10 * p;
}

/** Adds an arrow head at (xb, yb), pointing along a -> b, to the current path. */
function arrowHead(ctx, xa, ya, xb, yb) {
  const a = Math.atan2(yb - ya, xb - xa);
  const k = 8;
  ctx.moveTo(xb, yb);
  ctx.lineTo(xb - k * Math.cos(a - 0.4), yb - k * Math.sin(a - 0.4));
  ctx.lineTo(xb - k * Math.cos(a + 0.4), yb - k * Math.sin(a + 0.4));
  ctx.closePath();
}
