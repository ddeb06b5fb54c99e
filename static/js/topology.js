// The topology canvas: nodes placed from layout hints, messages flying from
// send time to deliver time, drops, partitions, crashes, violations.
// draw(scene, ui) is a pure function of the scene and UI selection; the only
// state kept here is geometry (canvas size, node positions).

import { progress, dropsAt, timersAt } from './model.js';
import { t, tn } from './i18n.js';
import { FONT_STACK, COLORS, GROUP_COLORS, kindColor, fmtShort, tint, clamp } from './format.js';
import { drawCross, fitCanvas } from './canvas.js';

const FALLBACK_ROLE_COLORS = ['#2563eb', '#7c3aed', '#0891b2', '#ea580c', '#059669', '#db2777'];
const MSG_HIT_RADIUS = 24;

export class Topology {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.w = 0;
    this.h = 0;
    this.dpr = 0;
    this.R = 30;
    this.pos = new Map();
    this.ids = [];
    this.layout = {};
    this.protocol = null;
    this.roleColorCache = new Map();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(canvas);
  }

  /** Nodes, layout hints and the protocol description of the current run. */
  setRun(ids, layout, protocol) {
    this.ids = [...ids];
    this.layout = layout || {};
    this.protocol = protocol || null;
    this.roleColorCache.clear();
    this.placeNodes();
  }

  resize() {
    if (!fitCanvas(this.canvas, this)) return;
    this.placeNodes();
  }

  placeNodes() {
    const { w, h } = this;
    this.pos.clear();
    if (!w || !h || !this.ids.length) return;
    const groups = { ring: [], center: [], top: [], bottom: [] };
    for (const id of this.ids) {
      const place = (this.layout[id] && this.layout[id].place) || 'ring';
      (groups[place] || groups.ring).push(id);
    }
    const n = this.ids.length;
    const R = clamp(Math.min(w, h) / (n > 6 ? 15 : 12.5), 20, 42);
    this.R = R;
    const pad = 16;
    const labelH = 50; // two label lines under a node
    const rowH = 2 * R + labelH + 12;
    const placeRow = (ids, y) => {
      const step = w / (ids.length + 1);
      ids.forEach((id, i) => this.pos.set(id, { x: step * (i + 1), y }));
    };
    const caption = 46; // the narration caption sits at the bottom of the canvas
    // The fault buttons sit at the top right; on a narrow canvas (a projector) they reach the
    // top node of the ring: keep their band free then.
    const bar = this.canvas.parentElement ? this.canvas.parentElement.querySelector('.fault-bar') : null;
    const toolbar = bar && bar.offsetLeft < w / 2 + R + 70 ? bar.offsetTop + bar.offsetHeight - pad + 4 : 0;
    let top = pad + toolbar;
    let bottom = h - pad - caption;
    if (groups.top.length) {
      placeRow(groups.top, top + R + 4);
      top += rowH;
    }
    if (groups.bottom.length) {
      placeRow(groups.bottom, h - pad - caption - labelH - R);
      bottom -= rowH;
    }
    const cx = w / 2;
    // The ring's centre sits a little high: labels hang below each node.
    const cy = (top + bottom) / 2 - labelH / 2 + R / 2;
    const ring = groups.ring;
    const centers = groups.center;
    if (ring.length === 1 && !centers.length) {
      this.pos.set(ring[0], { x: cx, y: cy });
    } else if (ring.length) {
      const rx = Math.max(R * 2, w / 2 - pad - R - 56);
      const ry = Math.max(R * 2, (bottom - top) / 2 - R - labelH / 2 - 4);
      // A gentle ellipse uses a wide canvas better than a circle would.
      // (On a short canvas, at least half the width: a ring squeezed by height alone piles up.)
      const rr = Math.min(Math.max(ry * (centers.length ? 2.4 : 2.2), rx * 0.7), rx);
      // With a node in the middle, turn the ring half a step so nobody sits right above it.
      const start = ring.length === 2 ? Math.PI : -Math.PI / 2 + (centers.length ? Math.PI / ring.length : 0);
      ring.forEach((id, i) => {
        const a = start + (2 * Math.PI * i) / ring.length;
        this.pos.set(id, { x: cx + rr * Math.cos(a), y: cy + ry * Math.sin(a) });
      });
    }
    if (centers.length) {
      const step = 3 * R;
      centers.forEach((id, i) => {
        // Raised by half a label, so its own labels clear a ring node below it.
        this.pos.set(id, { x: cx + (i - (centers.length - 1) / 2) * step, y: cy - labelH / 2 });
      });
    }
  }

  roleColor(role) {
    if (role === null || role === undefined) return COLORS.fallbackRole;
    const roles = (this.protocol && this.protocol.roles) || {};
    if (roles[role]) return roles[role];
    if (!this.roleColorCache.has(role)) {
      this.roleColorCache.set(role, FALLBACK_ROLE_COLORS[this.roleColorCache.size % FALLBACK_ROLE_COLORS.length]);
    }
    return this.roleColorCache.get(role);
  }

  nodePos(id) {
    return this.pos.get(id) || null;
  }

  /** Where a message is at time tt (canvas CSS pixels), offset to the right of its path. */
  messagePos(msg, tt) {
    const a = this.pos.get(msg.src);
    const b = this.pos.get(msg.dst);
    if (!a || !b) return null;
    const dx = b.x - a.x, dy = b.y - a.y;
    const len = Math.hypot(dx, dy) || 1;
    const ux = dx / len, uy = dy / len;
    const off = Math.min(this.R * 0.35, 9);
    const ax = a.x + ux * this.R - uy * off, ay = a.y + uy * this.R + ux * off;
    const bx = b.x - ux * this.R - uy * off, by = b.y - uy * this.R + ux * off;
    const p = progress(msg, tt);
    return { x: ax + (bx - ax) * p, y: ay + (by - ay) * p, ax, ay, ux, uy };
  }

  nodeAt(x, y) {
    let best = null, bestD = Infinity;
    for (const [id, p] of this.pos) {
      const d = Math.hypot(x - p.x, y - p.y);
      const inLabel = Math.abs(x - p.x) < this.R * 1.6 && y > p.y && y < p.y + this.R + 44;
      if ((d <= this.R + 8 || inLabel) && d < bestD) {
        best = id;
        bestD = d;
      }
    }
    return best;
  }

  messageAt(x, y, scene) {
    let best = null, bestD = MSG_HIT_RADIUS;
    for (const msg of scene.inflight) {
      const p = this.messagePos(msg, scene.t);
      if (!p) continue;
      const d = Math.hypot(x - p.x, y - p.y);
      if (d <= bestD) {
        best = msg;
        bestD = d;
      }
    }
    return best;
  }

  summary(view) {
    if (view.label !== undefined && view.label !== null && view.label !== '') return String(view.label);
    const fields = (this.protocol && this.protocol.fields) || [];
    const names = fields.length ? fields.map((f) => f.name) : Object.keys(view);
    const parts = [];
    for (const name of names) {
      if (name === 'role' || name === 'up' || name === 'label' || !(name in view)) continue;
      const v = fmtShort(view[name]);
      if (v === null) continue;
      parts.push(`${tn('field', name)} ${v}`);
      if (parts.length === 2) break;
    }
    return parts.join(' · ');
  }

  // ------------------------------------------------------------ drawing

  draw(scene, ui) {
    if (!this.w) this.resize();
    this.ctx.globalAlpha = 1;
    if ((window.devicePixelRatio || 1) !== this.dpr) this.resize();
    const ctx = this.ctx;
    ctx.setTransform(this.dpr, 0, 0, this.dpr, 0, 0);
    ctx.clearRect(0, 0, this.w, this.h);
    if (!scene) return;
    const now = ui.now || 0;
    this.drawPartitions(scene, ui);
    this.drawTrails(scene);
    const bad = new Set();
    for (const v of scene.violations) for (const n of v.nodes || []) bad.add(n);
    const focus = ui.focusViolation;
    for (const id of this.ids) this.drawNode(id, scene, ui, bad, focus, now);
    this.drawTimers(scene, ui);
    this.drawMessages(scene, ui);
    this.drawDrops(scene, ui);
  }

  drawPartitions(scene, ui) {
    const ctx = this.ctx;
    const groups = [];
    if (scene.partition) scene.partition.forEach((g, i) => groups.push({ ids: g, i, dashed: false }));
    if (ui.partitionMode) {
      groups.length = 0;
      const a = [...ui.partitionSel];
      if (a.length) groups.push({ ids: a, i: 0, dashed: true });
      const rest = this.ids.filter((id) => !ui.partitionSel.has(id));
      if (a.length && rest.length) groups.push({ ids: rest, i: 1, dashed: true });
    }
    if (!groups.length) return;
    const pad = this.R + 18;
    for (const g of groups) {
      const pts = [];
      for (const id of g.ids) {
        const p = this.pos.get(id);
        if (!p) continue;
        for (let k = 0; k < 20; k++) {
          const a = (2 * Math.PI * k) / 20;
          // Reach down a little further so the labels sit inside the hull.
          const down = Math.sin(a) > 0 ? 34 : 0;
          pts.push({ x: p.x + pad * Math.cos(a), y: p.y + (pad + down) * Math.sin(a) });
        }
      }
      const hull = convexHull(pts);
      if (hull.length < 3) continue;
      const col = GROUP_COLORS[g.i % GROUP_COLORS.length];
      const label = String.fromCharCode(65 + g.i);
      ctx.globalAlpha = g.dashed ? 0.55 : 0.9;
      // A hull that would swallow a node of another group lies: draw one halo per node instead.
      const others = this.ids.filter((id) => !g.ids.includes(id)).map((id) => this.pos.get(id)).filter(Boolean);
      const r = this.R * 0.8;
      const touches = (q) => [[0, 0], [1, 0], [-1, 0], [0, 1], [0, -1], [0.7, 0.7], [-0.7, 0.7], [0.7, -0.7], [-0.7, -0.7]]
        .some(([dx, dy]) => insidePolygon({ x: q.x + dx * r, y: q.y + dy * r }, hull));
      if (others.some(touches)) {
        for (const id of g.ids) {
          const p = this.pos.get(id);
          if (!p) continue;
          ctx.beginPath();
          ctx.arc(p.x, p.y, this.R + 14, 0, 2 * Math.PI);
          ctx.fillStyle = col.fill;
          ctx.fill();
          this.dashedStroke(col.stroke);
          this.groupBadge(label, p.x - (this.R + 10) * 0.72, p.y - (this.R + 10) * 0.72, col.stroke);
        }
        ctx.globalAlpha = 1;
        continue;
      }
      ctx.beginPath();
      hull.forEach((p, k) => (k ? ctx.lineTo(p.x, p.y) : ctx.moveTo(p.x, p.y)));
      ctx.closePath();
      ctx.fillStyle = col.fill;
      ctx.fill();
      this.dashedStroke(col.stroke);
      ctx.globalAlpha = 1;
      // Group letter at the hull's top.
      let topP = hull[0];
      for (const p of hull) if (p.y < topP.y) topP = p;
      this.groupBadge(label, topP.x, topP.y, col.stroke);
    }
  }

  dashedStroke(color) {
    const ctx = this.ctx;
    ctx.setLineDash([10, 7]);
    ctx.lineWidth = 3;
    ctx.strokeStyle = color;
    ctx.stroke();
    ctx.setLineDash([]);
  }

  groupBadge(label, x, y, color) {
    const ctx = this.ctx;
    const a = ctx.globalAlpha;
    ctx.globalAlpha = 1;
    ctx.font = `700 14px ${FONT_STACK}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    const tw = ctx.measureText(label).width + 14;
    roundRect(ctx, x - tw / 2, y - 11, tw, 22, 11);
    ctx.fillStyle = color;
    ctx.fill();
    ctx.fillStyle = '#fff';
    ctx.fillText(label, x, y + 0.5);
    ctx.globalAlpha = a;
  }

  drawTrails(scene) {
    const ctx = this.ctx;
    ctx.lineCap = 'round';
    for (const msg of scene.inflight) {
      const p = this.messagePos(msg, scene.t);
      if (!p) continue;
      ctx.strokeStyle = kindColor(msg.kind);
      ctx.globalAlpha = 0.28;
      ctx.lineWidth = 3;
      ctx.beginPath();
      ctx.moveTo(p.ax, p.ay);
      ctx.lineTo(p.x, p.y);
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  drawNode(id, scene, ui, bad, focus, now) {
    const p = this.pos.get(id);
    if (!p) return;
    const ctx = this.ctx;
    const R = this.R;
    const view = scene.nodes[id] || { up: true };
    const up = view.up !== false;
    const color = up ? this.roleColor(view.role) : COLORS.crashed;

    // Violation halo (pulsing), selection ring, partition-mode ring.
    if (bad.has(id)) {
      const strong = focus && (focus.nodes || []).includes(id);
      const pulse = 0.55 + 0.45 * Math.sin(now / 220);
      ctx.beginPath();
      ctx.arc(p.x, p.y, R + 12, 0, 2 * Math.PI);
      ctx.fillStyle = `rgba(220, 38, 38, ${strong ? 0.22 : 0.12})`;
      ctx.fill();
      ctx.lineWidth = strong ? 6 : 4;
      ctx.strokeStyle = `rgba(220, 38, 38, ${0.5 + 0.5 * pulse})`;
      ctx.stroke();
    }
    if (ui.partitionMode && ui.partitionSel.has(id)) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, R + 7, 0, 2 * Math.PI);
      ctx.lineWidth = 4;
      ctx.setLineDash([6, 5]);
      ctx.strokeStyle = GROUP_COLORS[0].stroke;
      ctx.stroke();
      ctx.setLineDash([]);
    }
    if (ui.selected === id && !ui.partitionMode) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, R + 6, 0, 2 * Math.PI);
      ctx.lineWidth = 4;
      ctx.strokeStyle = COLORS.accent;
      ctx.stroke();
    }

    // Body.
    ctx.save();
    ctx.shadowColor = 'rgba(15, 23, 42, 0.18)';
    ctx.shadowBlur = 10;
    ctx.shadowOffsetY = 3;
    ctx.beginPath();
    ctx.arc(p.x, p.y, R, 0, 2 * Math.PI);
    ctx.fillStyle = up ? color : '#e5e7eb';
    ctx.fill();
    ctx.restore();
    ctx.lineWidth = 3;
    ctx.strokeStyle = up ? tint(color, 0.55) : COLORS.crashed;
    if (!up) ctx.setLineDash([6, 4]);
    ctx.beginPath();
    ctx.arc(p.x, p.y, R - 1.5, 0, 2 * Math.PI);
    ctx.stroke();
    ctx.setLineDash([]);

    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    let fs = Math.round(R * 0.58);
    ctx.font = `700 ${fs}px ${FONT_STACK}`;
    while (fs > 9 && ctx.measureText(id).width > R * 1.65) {
      fs -= 1;
      ctx.font = `700 ${fs}px ${FONT_STACK}`;
    }
    ctx.fillStyle = up ? '#ffffff' : COLORS.muted;
    ctx.fillText(id, p.x, p.y + 1);

    if (!up) {
      drawCross(ctx, p.x, p.y, R * 0.62, 'rgba(75, 85, 99, 0.85)', 5);
    }

    // Labels: role (or "crashed"), then the node's label or a short summary.
    const line1 = up ? (view.role !== undefined ? tn('role', view.role) : '') : t('node.crashed');
    const line2 = this.summary(view);
    let y = p.y + R + 16;
    if (line1) {
      ctx.font = `700 15px ${FONT_STACK}`;
      this.labelBox(line1, p.x, y, up ? tint(color, 0.86) : '#f3f4f6', up ? shade(color) : COLORS.danger);
      y += 22;
    }
    if (line2) {
      ctx.font = `500 13px ${FONT_STACK}`;
      this.labelBox(line2, p.x, y, 'rgba(255,255,255,0.92)', up ? COLORS.ink : COLORS.muted, 230);
    }
  }

  labelBox(text, x, y, bg, fg, maxW = 200) {
    const ctx = this.ctx;
    let s = text;
    while (s.length > 3 && ctx.measureText(s).width > maxW) s = s.slice(0, -2);
    if (s !== text) s = s.slice(0, -1) + '…';
    const w = ctx.measureText(s).width + 12;
    roundRect(ctx, x - w / 2, y - 10, w, 20, 6);
    ctx.fillStyle = bg;
    ctx.fill();
    ctx.fillStyle = fg;
    ctx.fillText(s, x, y + 0.5);
  }

  drawMessages(scene, ui) {
    const ctx = this.ctx;
    const many = scene.inflight.length > 40;
    ctx.font = `700 ${many ? 11 : 13}px ${FONT_STACK}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (const msg of scene.inflight) {
      const p = this.messagePos(msg, scene.t);
      if (!p) continue;
      const hot = ui.hoverMsg === msg.id || ui.menuMsg === msg.id;
      const label = tn('kind', msg.kind);
      const tw = Math.min(ctx.measureText(label).width, 150);
      const w = tw + (many ? 10 : 14);
      const h = many ? 16 : 21;
      const color = kindColor(msg.kind);
      if (hot) {
        roundRect(ctx, p.x - w / 2 - 4, p.y - h / 2 - 4, w + 8, h + 8, (h + 8) / 2);
        ctx.fillStyle = 'rgba(37, 99, 235, 0.25)';
        ctx.fill();
      }
      roundRect(ctx, p.x - w / 2, p.y - h / 2, w, h, h / 2);
      ctx.fillStyle = color;
      ctx.fill();
      ctx.lineWidth = 2;
      ctx.strokeStyle = '#ffffff';
      ctx.stroke();
      ctx.fillStyle = '#ffffff';
      ctx.fillText(label, p.x, p.y + 0.5, 150);
    }
  }

  drawDrops(scene, ui) {
    const ctx = this.ctx;
    const win = ui.flashWindow || 1000;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    // One reason label per spot (drops at a dead node pile up), and none over a node or its labels.
    const R = this.R || 30;
    const labelled = [...this.pos.values()].map((q) => ({ x: q.x - R - 6, y: q.y - R - 6, w: 2 * R + 12, h: 2 * R + 50 }));
    for (const msg of dropsAt(scene.model, scene.t, win)) {
      const p = this.messagePos(msg, msg.end_t);
      if (!p) continue;
      const age = (scene.t - msg.end_t) / win;
      const alpha = clamp(1 - age, 0, 1);
      const k = 11;
      ctx.globalAlpha = alpha;
      ctx.beginPath();
      ctx.arc(p.x, p.y, k + 8, 0, 2 * Math.PI);
      ctx.fillStyle = 'rgba(254, 226, 226, 0.95)';
      ctx.fill();
      drawCross(ctx, p.x, p.y, k, COLORS.danger, 5);
      ctx.globalAlpha = 1;
      if (age > 0.5) continue;
      ctx.globalAlpha = clamp(1 - age * 2, 0, 1);
      ctx.font = `700 12px ${FONT_STACK}`;
      const label = `${tn('kind', msg.kind)} · ${tn('reason', msg.reason || 'user')}`;
      const w = ctx.measureText(label).width + 10;
      const box = { x: p.x - w / 2, y: p.y + k + 12, w, h: 18 };
      const overlaps = labelled.some((q) => box.x < q.x + q.w && q.x < box.x + box.w && box.y < q.y + q.h && q.y < box.y + box.h);
      if (overlaps) continue;
      labelled.push(box);
      roundRect(ctx, box.x, box.y, w, 18, 5);
      ctx.fillStyle = 'rgba(255, 255, 255, 0.95)';
      ctx.fill();
      ctx.fillStyle = COLORS.danger;
      ctx.fillText(label, p.x, p.y + k + 21.5);
    }
    ctx.globalAlpha = 1;
  }

  drawTimers(scene, ui) {
    const ctx = this.ctx;
    const win = ui.flashWindow || 1000;
    const seen = new Set();
    ctx.font = `600 12px ${FONT_STACK}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (const e of timersAt(scene.model, scene.t, win)) {
      if (seen.has(e.node)) continue; // newest firing per node only
      seen.add(e.node);
      const p = this.pos.get(e.node);
      if (!p) continue;
      const alpha = clamp(1 - (scene.t - e.t) / win, 0, 1);
      const label = tn('timer', e.name);
      const w = ctx.measureText(label).width + 30;
      ctx.globalAlpha = alpha;
      const y = p.y - this.R - 16;
      roundRect(ctx, p.x - w / 2, y - 11, w, 22, 11);
      ctx.fillStyle = '#fef3c7';
      ctx.fill();
      ctx.strokeStyle = '#d97706';
      ctx.lineWidth = 1.5;
      ctx.stroke();
      // A small clock face, then the timer's name.
      const cx = p.x - w / 2 + 13;
      ctx.beginPath();
      ctx.arc(cx, y, 6, 0, 2 * Math.PI);
      ctx.strokeStyle = '#b45309';
      ctx.lineWidth = 1.8;
      ctx.stroke();
      ctx.beginPath();
      ctx.moveTo(cx, y - 3.5);
      ctx.lineTo(cx, y);
      ctx.lineTo(cx + 2.8, y + 1.6);
      ctx.stroke();
      ctx.fillStyle = '#92400e';
      ctx.textAlign = 'left';
      ctx.fillText(label, cx + 10, y + 0.5);
      ctx.textAlign = 'center';
      ctx.globalAlpha = 1;
    }
  }
}

function shade(color) {
  // Darker text colour for a role chip: fall back to ink for non-hex colours.
  const m = /^#?([0-9a-f]{6})$/i.exec(color || '');
  if (!m) return COLORS.ink;
  const n = parseInt(m[1], 16);
  const f = (c) => Math.round(c * 0.55);
  return `rgb(${f((n >> 16) & 255)}, ${f((n >> 8) & 255)}, ${f(n & 255)})`;
}

export function roundRect(ctx, x, y, w, h, r) {
  const rr = Math.min(r, w / 2, h / 2);
  ctx.beginPath();
  ctx.moveTo(x + rr, y);
  ctx.arcTo(x + w, y, x + w, y + h, rr);
  ctx.arcTo(x + w, y + h, x, y + h, rr);
  ctx.arcTo(x, y + h, x, y, rr);
  ctx.arcTo(x, y, x + w, y, rr);
  ctx.closePath();
}

/** Is point p inside the polygon (ray casting)? */
export function insidePolygon(p, poly) {
  let inside = false;
  for (let i = 0, j = poly.length - 1; i < poly.length; j = i++) {
    const a = poly[i], b = poly[j];
    if ((a.y > p.y) !== (b.y > p.y) && p.x < ((b.x - a.x) * (p.y - a.y)) / (b.y - a.y) + a.x) inside = !inside;
  }
  return inside;
}

/** Convex hull (monotone chain) of points {x, y}. */
export function convexHull(points) {
  const pts = [...points].sort((a, b) => a.x - b.x || a.y - b.y);
  if (pts.length < 3) return pts;
  const cross = (o, a, b) => (a.x - o.x) * (b.y - o.y) - (a.y - o.y) * (b.x - o.x);
  const lower = [];
  for (const p of pts) {
    while (lower.length >= 2 && cross(lower[lower.length - 2], lower[lower.length - 1], p) <= 0) lower.pop();
    lower.push(p);
  }
  const upper = [];
  for (let i = pts.length - 1; i >= 0; i--) {
    const p = pts[i];
    while (upper.length >= 2 && cross(upper[upper.length - 2], upper[upper.length - 1], p) <= 0) upper.pop();
    upper.push(p);
  }
  upper.pop();
  lower.pop();
  return lower.concat(upper);
}
