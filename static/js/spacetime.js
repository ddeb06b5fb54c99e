// Lamport space-time diagram: one lane per node, time to the right; messages
// as arrows from (src, send time) to (dst, deliver time); crashes, restarts,
// partitions and violations marked. A pure function of the model and the
// display time; the only state is the canvas size and the zoom.

import { progress } from './model.js';
import { t as tr } from './i18n.js';
import { FONT_STACK, COLORS, kindColor, clamp } from './format.js';
import { drawCross, fitCanvas } from './canvas.js';

const GUTTER = 62;
const AXIS = 24;

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
  }

  resize() {
    fitCanvas(this.canvas, this);
  }

  laneY(i) {
    const n = Math.max(1, this.ids.length);
    const top = 16, bottom = this.h - AXIS - 10;
    if (n === 1) return (top + bottom) / 2;
    return top + ((bottom - top) * i) / (n - 1);
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
    if (!this.w) this.resize();
    if ((window.devicePixelRatio || 1) !== this.dpr) this.resize();
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, this.w, this.h);
    if (!scene) return;
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

    // Partition periods: shaded bands.
    const parts = m.partitions;
    for (let i = 0; i < parts.length; i++) {
      if (!parts[i].groups) continue;
      const a = parts[i].t;
      if (a > now) break;
      const b = i + 1 < parts.length ? Math.min(parts[i + 1].t, now) : now;
      if (b < t0 || a > t1) continue;
      ctx.fillStyle = 'rgba(234, 88, 12, 0.08)';
      ctx.fillRect(X(a), laneTop, Math.max(2, X(b) - X(a)), laneBottom - laneTop);
      ctx.fillStyle = '#c2410c';
      ctx.font = `600 11px ${FONT_STACK}`;
      ctx.textAlign = 'left';
      ctx.textBaseline = 'bottom';
      ctx.fillText(tr('st.partition'), Math.max(X(a), x0) + 4, laneBottom - 2);
    }

    // Selected lane.
    if (ui.selected && idx.has(ui.selected)) {
      ctx.fillStyle = 'rgba(37, 99, 235, 0.07)';
      ctx.fillRect(x0 - 4, Y(ui.selected) - 11, x1 - x0 + 8, 22);
    }

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
          ctx.lineWidth = 4;
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
    ctx.lineCap = 'round';
    for (let i = lo; i < msgs.length; i++) {
      const msg = msgs[i];
      if (msg.sent_at > now || msg.sent_at > t1) break;
      const ended = msg.end_t !== null && msg.end_t <= now;
      const endT = ended ? msg.end_t : now;
      if (endT < t0) continue;
      const ya = Y(msg.src), yb = Y(msg.dst);
      const p = progress(msg, endT);
      const xa = X(msg.sent_at), xb = X(endT);
      const yEnd = ended && msg.status === 'delivered' ? yb : ya + (yb - ya) * p;
      const color = kindColor(msg.kind);
      const hot = ui.hoverMsg === msg.id || ui.menuMsg === msg.id;
      ctx.strokeStyle = color;
      ctx.globalAlpha = hot ? 1 : 0.7;
      ctx.lineWidth = hot ? 3.5 : 2;
      ctx.beginPath();
      ctx.moveTo(xa, ya);
      ctx.lineTo(xb, yEnd);
      ctx.stroke();
      if (ended && msg.status === 'delivered') {
        if (!dense) arrowHead(ctx, xa, ya, xb, yEnd, color);
      } else if (ended) {
        ctx.globalAlpha = 1;
        drawCross(ctx, xb, yEnd, 5, COLORS.danger, 3);
      } else {
        ctx.globalAlpha = 1;
        ctx.beginPath();
        ctx.arc(xb, yEnd, 3.5, 0, 2 * Math.PI);
        ctx.fillStyle = color;
        ctx.fill();
      }
      ctx.globalAlpha = 1;
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

    // Lane labels.
    ctx.textAlign = 'right';
    ctx.textBaseline = 'middle';
    for (const id of this.ids) {
      const view = scene.nodes[id] || {};
      const up = view.up !== false;
      ctx.font = `700 13px ${FONT_STACK}`;
      ctx.fillStyle = up ? this.roleColor(view.role) : COLORS.crashed;
      const y = Y(id);
      ctx.beginPath();
      ctx.arc(12, y, 5, 0, 2 * Math.PI);
      ctx.fill();
      ctx.fillStyle = ui.selected === id ? COLORS.accent : up ? COLORS.ink : COLORS.muted;
      ctx.fillText(id, GUTTER - 10, y);
    }

    // Time axis.
    const axisY = this.h - AXIS + 4;
    ctx.strokeStyle = COLORS.line;
    ctx.lineWidth = 1;
    ctx.beginPath();
    ctx.moveTo(x0, axisY);
    ctx.lineTo(x1, axisY);
    ctx.stroke();
    const step = niceStep((t1 - t0) / 8);
    ctx.font = `500 11px ${FONT_STACK}`;
    ctx.fillStyle = COLORS.muted;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'top';
    for (let tt = Math.ceil(t0 / step) * step; tt <= t1; tt += step) {
      const x = X(tt);
      ctx.beginPath();
      ctx.moveTo(x, axisY);
      ctx.lineTo(x, axisY + 4);
      ctx.stroke();
      ctx.fillText(`${Math.round(tt)}`, x, axisY + 6);
    }
    ctx.textAlign = 'left';
    ctx.fillText(tr('st.ms'), 8, axisY + 6);
  }
}

function niceStep(raw) {
  const p = Math.pow(10, Math.floor(Math.log10(Math.max(raw, 1e-9))));
  for (const k of [1, 2, 5, 10]) if (raw <= k * p) return k * p;
  return 10 * p;
}

function arrowHead(ctx, xa, ya, xb, yb, color) {
  const a = Math.atan2(yb - ya, xb - xa);
  const k = 8;
  ctx.fillStyle = color;
  ctx.beginPath();
  ctx.moveTo(xb, yb);
  ctx.lineTo(xb - k * Math.cos(a - 0.4), yb - k * Math.sin(a - 0.4));
  ctx.lineTo(xb - k * Math.cos(a + 0.4), yb - k * Math.sin(a + 0.4));
  ctx.closePath();
  ctx.fill();
}
