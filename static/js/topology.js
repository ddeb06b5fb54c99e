// The topology canvas: nodes placed from layout hints, messages flying from
// send time to deliver time, drops, partitions, crashes, violations.
// draw(scene, ui) is a pure function of the scene and UI selection; the only
// state kept here is geometry (canvas size; node positions and room for labels,
// from layout.js) and text-width caches.
//
// Legibility rules (the hard case: a projector at 1024x768 with 9 nodes):
//  - every node owns a label column of half-width hw, sized at layout time by
//    the free space to its neighbours; labels are cut with "…" to fit it;
//  - a message's text pill is drawn only where it covers no node, label, timer
//    badge or other pill; anywhere else the message is a small coloured dot
//    (same position, same hit test);
//  - timer badges and drop marks keep off other nodes' labels, and there is at
//    most one drop mark per spot (drops at a dead node do not pile up).

import { progress, dropsAt, timersAt } from './model.js';
import { t, tn } from './i18n.js';
import { FONT_STACK, COLORS, GROUP_COLORS, kindColor, fmtShort, tint, clamp } from './format.js';
import { PAD, labelMetrics, layoutNodes } from './layout.js';
import { hasRow, rowItems, rowWant, rowFrame, drawRow, ringsOf, drawRings } from './pictures.js';
import {
  drawCross, fitCanvas, roundRect, fitText, textWidth, boxesOverlap, circleHitsBox, hitsAny,
} from './canvas.js';

export { roundRect };

// A reader who asked for less motion gets a steady violation halo (no pulsing).
const REDUCED_MOTION = typeof matchMedia === 'function' ? matchMedia('(prefers-reduced-motion: reduce)') : null;

const FALLBACK_ROLE_COLORS = ['#2563eb', '#7c3aed', '#0891b2', '#ea580c', '#059669', '#db2777'];
const MSG_HIT_RADIUS = 24;
const BADGE_ROOM = 14;  // above the top node: its timer badge pokes out that far past the padding
const MAX_PILLS = 48;   // text pills per frame at most (the rest are dots): bounds the overlap tests
const DOT_R = 5;
const DROP_R = 13;      // a drop mark's disc
const MAX_DROP_MARKS = 40; // mid-flight drop marks per frame at most

export class Topology {
  constructor(canvas) {
    this.canvas = canvas;
    this.ctx = canvas.getContext('2d');
    this.w = 0;
    this.h = 0;
    this.dpr = 0;
    this.cw = 0;            // the canvas's CSS size; w, h are that over `scale`, what layout and drawing use
    this.ch = 0;
    this.scale = 1;         // presenter mode draws everything bigger (store.canvasScale())
    this.minFont = Infinity; // the smallest font (px on screen) the last frame wrote with
    this.R = 30;
    this.lm = labelMetrics(30);
    this.pos = new Map();
    this.hw = new Map();
    this.room = new Map();
    this.barBox = null;
    this.ids = [];
    this.layout = {};
    this.protocol = null;
    this.roleColorCache = new Map();
    this.resizeObserver = new ResizeObserver(() => this.resize());
    this.resizeObserver.observe(canvas);
    // Every text goes through fillText: note the smallest font a frame used (the presenter's
    // back-row check reads it through window.__pp.fontPx()).
    const fill = this.ctx.fillText.bind(this.ctx);
    this.ctx.fillText = (...args) => {
      const px = /(\d+(?:\.\d+)?)px/.exec(this.ctx.font);
      if (px) this.minFont = Math.min(this.minFont, Number(px[1]) * this.scale);
      fill(...args);
    };
  }

  /** Draw `s` times bigger (labels, discs, pills): the layout works in the canvas's size over s. */
  setScale(s) {
    if (s === this.scale) return;
    this.scale = s;
    this.cw = 0;   // size again on the next resize or frame
    this.resize();
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
    const box = { w: this.cw, h: this.ch, dpr: this.dpr };
    if (!fitCanvas(this.canvas, box) && this.w) return;
    this.cw = box.w;
    this.ch = box.h;
    this.dpr = box.dpr;
    this.w = Math.round(box.w / this.scale);
    this.h = Math.round(box.h / this.scale);
    this.placeNodes();
  }

  placeNodes() {
    const { w, h } = this;
    this.pos = new Map();
    this.hw = new Map();
    this.room = new Map();
    if (!w || !h || !this.ids.length) return;
    // The fault buttons sit at the top right; on a narrow canvas (a projector) they reach the
    // top of the ring: keep their band free then. Timer badges steer around them either way.
    const wrap = this.canvas.parentElement;
    const bar = wrap ? wrap.querySelector('.fault-bar') : null;
    const k = this.scale;
    this.barBox = bar && bar.offsetWidth
      ? { x: (bar.offsetLeft - 4) / k, y: (bar.offsetTop - 4) / k, w: (bar.offsetWidth + 8) / k, h: (bar.offsetHeight + 8) / k }
      : null;
    // (Reserved when the bar reaches within a node and a label of the middle, or when a node's
    // disc would sit under it: no control may cover a node, at any size.)
    const strip = !!(this.protocol && this.protocol.log_strip);
    const pics = hasRow(this.protocol);
    const place = (top) => layoutNodes({ w, h, ids: this.ids, layout: this.layout, top, bottom: h - PAD, strip, pics });
    const bb = this.barBox;
    const reserve = bb && bb.x < w / 2 + 100;
    let g = place(reserve ? bb.y + bb.h + 2 : PAD + BADGE_ROOM);
    if (bb && !reserve && [...g.pos.values()].some((p) => circleHitsBox(p.x, p.y, g.R + 4, bb))) {
      g = place(bb.y + bb.h + 2);
    }
    this.R = g.R;
    this.lm = g.lm;
    this.pos = g.pos;
    this.hw = g.hw;
    this.room = g.room;
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

  /** A node's centre in canvas CSS pixels (the scale applied), or null. */
  nodePos(id) {
    const p = this.pos.get(id);
    return p ? { x: p.x * this.scale, y: p.y * this.scale } : null;
  }

  /** A node disc's radius in canvas CSS pixels. */
  nodeRadius() {
    return this.R * this.scale;
  }

  /** The log strip cells drawn for a node in the last frame (their texts), or null: for tests. */
  stripCells(id) {
    const nd = this.lastFrame && this.lastFrame.nodes.find((n) => n.id === id);
    return nd && nd.strip ? nd.strip.cells.map((c) => c.text) : null;
  }

  /** What the last frame drew for a node's state (for tests): its log strip's cells, its row
   *  of pictures (tallies, values, locks) and its timer rings; null for an unknown node. */
  pictures(id) {
    const nd = this.lastFrame && this.lastFrame.nodes.find((n) => n.id === id);
    if (!nd) return null;
    const strip = nd.strip
      ? { cells: nd.strip.cells.map((c) => ({ text: c.text, committed: c.committed, empty: c.empty, group: c.group })),
        more: nd.strip.moreAt !== null }
      : null;
    const row = nd.row ? nd.row.chips.map(({ kind, field, key, text, count, quorum, value, share }) => (
      { kind, field, key, text, count, quorum, value, share })) : [];
    // Boxes in canvas CSS pixels (the scale applied): the labels, the strip and the row (overlap tests).
    const k = this.scale;
    const boxes = [...nd.lines.filter((l) => l.text).map((l) => l.box), ...[nd.strip, nd.row].filter(Boolean).map((x) => x.box)];
    return {
      strip, row, rowMore: !!(nd.row && nd.row.moreAt !== null), rings: nd.rings.map((r) => ({ ...r })),
      disc: { x: nd.p.x * k, y: nd.p.y * k, r: this.R * k },
      boxes: boxes.map((b) => ({ x: b.x * k, y: b.y * k, w: b.w * k, h: b.h * k })), canvas: { w: this.w * k, h: this.h * k },
    };
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

  /** The node at (x, y), canvas CSS pixels. */
  nodeAt(x, y) {
    x /= this.scale;
    y /= this.scale;
    let best = null, bestD = Infinity;
    const R = this.R, lm = this.lm;
    for (const [id, p] of this.pos) {
      const d = Math.hypot(x - p.x, y - p.y);
      const hw = Math.max(R, this.hw.get(id) || R);
      const inLabel = Math.abs(x - p.x) < hw && y > p.y && y < p.y + R + lm.bottom;
      if ((d <= R + 8 || inLabel) && d < bestD) {
        best = id;
        bestD = d;
      }
    }
    return best;
  }

  /** Is (x, y) (canvas CSS pixels) on a node's disc? Such a point is that node's, even when a
   *  message is just leaving it. */
  onNode(x, y) {
    x /= this.scale;
    y /= this.scale;
    const inner = this.R - 2;
    for (const p of this.pos.values()) if ((x - p.x) ** 2 + (y - p.y) ** 2 < inner * inner) return true;
    return false;
  }

  /** How far from a message's centre a press still takes it (canvas CSS pixels). */
  get hitRadius() {
    return MSG_HIT_RADIUS * this.scale;
  }

  /** Where each message in flight in `scene` is drawn: [[id, x, y], ...] (canvas CSS pixels). */
  messagePositions(scene) {
    const out = [];
    for (const msg of scene.inflight) {
      const p = this.messagePos(msg, scene.t);
      if (p) out.push([msg.id, p.x * this.scale, p.y * this.scale]);
    }
    return out;
  }

  /** The message in flight at (x, y), canvas CSS pixels. */
  messageAt(x, y, scene) {
    if (this.onNode(x, y)) return null;
    x /= this.scale;
    y /= this.scale;
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

  /** Line 2 under a node: the protocol's label (a string or [key, args]), else a few fields. */
  summary(view) {
    const label = view.label;
    if (Array.isArray(label)) {
      if (typeof label[0] === 'string' && label[0]) {
        const args = label[1] && typeof label[1] === 'object' ? label[1] : null;
        return t(label[0], args);
      }
    } else if (label !== undefined && label !== null && label !== '') {
      return String(label);
    }
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
    if (!this.w || (window.devicePixelRatio || 1) !== this.dpr) this.resize();
    // CSS px times the scale to device px (the backing store is rounded: scale by what it is).
    const ctx = this.ctx;
    ctx.setTransform(this.canvas.width / this.w, 0, 0, this.canvas.height / this.h, 0, 0);
    ctx.globalAlpha = 1;
    ctx.clearRect(0, 0, this.w, this.h);
    this.minFont = Infinity;
    if (!scene) return;
    const now = ui.now || 0;
    const frame = this.nodeFrame(scene);
    this.lastFrame = frame;
    this.drawPartitions(scene, ui);
    const msgs = this.messageFrame(scene, frame);
    this.drawTrails(msgs);
    this.drawDots(msgs.under);
    const bad = new Set();
    for (const v of scene.violations) for (const id of v.nodes || []) bad.add(id);
    for (const nd of frame.nodes) this.drawNode(nd, ui, bad, ui.focusViolation, now);
    const badges = this.drawTimers(scene, ui, frame);
    const pills = this.drawMessages(msgs, ui, badges);
    this.drawDrops(scene, ui, frame, pills, badges);
  }

  /**
   * This frame's node labels, cut to their columns, and the boxes they take:
   * everything else (pills, badges, drop marks) keeps off these.
   */
  nodeFrame(scene) {
    const ctx = this.ctx;
    const R = this.R, lm = this.lm;
    const f1 = `700 ${lm.f1}px ${FONT_STACK}`, f2 = `500 ${lm.f2}px ${FONT_STACK}`;
    const nodes = [];
    for (const id of this.ids) {
      const p = this.pos.get(id);
      if (!p) continue;
      const view = scene.nodes[id] || { up: true };
      const up = view.up !== false;
      const color = up ? this.roleColor(view.role) : COLORS.crashed;
      const line1 = up ? (view.role !== undefined && view.role !== null ? tn('role', view.role) : '') : t('node.crashed');
      const line2 = this.summary(view);
      ctx.font = f1;
      const w1 = line1 ? textWidth(ctx, line1) : 0;
      ctx.font = f2;
      const w2 = line2 ? textWidth(ctx, line2) : 0;
      // State pictures in the row under the labels (when the protocol declares any).
      const items = lm.c4 ? rowItems(this.protocol, view, scene.nodes, this.ids) : [];
      // Half-width this node's labels want (chips have 6 px of padding a side), and its row.
      const want = Math.max(Math.max(w1, w2) + 12, rowWant(ctx, items, lm) + 4) / 2;
      nodes.push({ id, p, view, up, color, line1, line2, items, want, half: Math.min(want, this.hw.get(id) || R) });
    }
    // Every label first gets its own column (never overlapping); then, in a fixed order, a
    // label that is still cut grows into room its neighbours leave unused.
    const half = new Map(nodes.map((nd) => [nd.id, nd.half]));
    for (const nd of nodes) {
      if (nd.half >= nd.want) continue;
      const room = this.room.get(nd.id);
      if (!room) continue;
      let lim = room.cap;
      for (const o of room.near) lim = Math.min(lim, o.dx - (half.get(o.id) || 0) - 8);
      nd.half = Math.max(nd.half, Math.min(nd.want, lim));
      half.set(nd.id, nd.half);
    }
    const boxes = []; // label chips of every node
    for (const nd of nodes) {
      const { p } = nd;
      const room = 2 * Math.max(nd.half, 0) - 12; // text width inside a chip
      nd.lines = [];
      let cy = p.y + R + lm.c1;
      if (nd.line1) {
        ctx.font = f1;
        nd.lines.push(this.chip(fitText(ctx, nd.line1, room), f1, p.x, cy, lm.h1, true));
        cy = p.y + R + lm.c2;
      }
      if (nd.line2) {
        ctx.font = f2;
        nd.lines.push(this.chip(fitText(ctx, nd.line2, room), f2, p.x, cy, lm.h2, false));
      }
      for (const l of nd.lines) if (l.text) boxes.push(l.box);
      const col = Math.max(nd.half, this.hw.get(nd.id) || 0);
      nd.strip = this.stripFrame(nd.view, p, col);
      if (nd.strip) boxes.push(nd.strip.box);
      // State pictures: a row of chips under the strip; timer rings on the rim (live nodes).
      // The row takes the strip's place when this node has no log to show (no gap under it).
      nd.row = rowFrame(ctx, nd.items, p.x, p.y + R + (nd.strip || !lm.c3 ? lm.c4 : lm.c3 - lm.h3 / 2 + lm.h4 / 2), col, lm);
      if (nd.row) boxes.push(nd.row.box);
      nd.rings = nd.up ? ringsOf(this.protocol, scene.model && scene.model.deadlines, nd.id, scene.t) : [];
    }
    return { nodes, boxes };
  }

  /**
   * The protocol's log strip under a node (protocol.log_strip): the newest entries that
   * fit its column, one cell each, coloured by the entry's term/ballot/view (the part
   * before its first ":"); committed entries filled, the rest outlined, empty slots
   * dashed; "…" when older entries are left out. Null when there is nothing to draw.
   */
  stripFrame(view, p, half) {
    const spec = this.protocol && this.protocol.log_strip;
    const entries = spec && Array.isArray(view[spec.field]) ? view[spec.field] : null;
    if (!entries || !entries.length) return null;
    const ctx = this.ctx, lm = this.lm;
    const start = spec.start && Number.isFinite(view[spec.start]) ? view[spec.start] : 1;
    const commit = spec.commit && Number.isFinite(view[spec.commit]) ? view[spec.commit] : 0;
    const font = `600 ${lm.f3}px ${FONT_STACK}`;
    ctx.font = font;
    const GAP = 3, MORE = 14, room = 2 * half - 4;
    const cells = [];
    let used = 0;
    for (let i = entries.length - 1; i >= 0; i--) {
      const e = entries[i];
      const full = e === null || e === undefined ? '' : String(e);
      const cut = full.indexOf(':');
      const group = cut < 0 ? full : full.slice(0, cut);
      // A ballot "2.n3" shows as its round; its colour tells the proposers apart.
      const text = cut < 0 ? full : `${group.split('.')[0]}${full.slice(cut)}`;
      const w = clamp(textWidth(ctx, text) + 8, 16, 64);
      if (used + w + (i > 0 || start > 1 ? MORE : 0) > room) break;
      const index = start + i;
      cells.unshift({ text, w, empty: !full, committed: index <= commit, group });
      used += w + GAP;
    }
    if (!cells.length) return null;
    const cut = cells.length < entries.length || start > 1;
    const total = used - GAP + (cut ? MORE : 0);
    let x = p.x - total / 2;
    const y = p.y + this.R + lm.c3, h = lm.h3;
    const box = { x, y: y - h / 2, w: total, h };
    const moreAt = cut ? x + MORE / 2 - 2 : null;
    if (cut) x += MORE;
    for (const c of cells) {
      c.x = x;
      x += c.w + GAP;
    }
    return { cells, moreAt, y, h, font, box };
  }

  drawStrip(st, up) {
    const ctx = this.ctx;
    ctx.font = st.font;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    if (st.moreAt !== null) {
      ctx.fillStyle = COLORS.muted;
      ctx.fillText('…', st.moreAt, st.y);
    }
    for (const c of st.cells) {
      const top = st.y - st.h / 2;
      roundRect(ctx, c.x, top, c.w, st.h, 4);
      const col = up ? groupColor(c.group) : COLORS.muted;
      if (c.empty) {
        ctx.setLineDash([3, 3]);
        ctx.lineWidth = 1.5;
        ctx.strokeStyle = COLORS.muted;
        ctx.stroke();
        ctx.setLineDash([]);
        continue;
      }
      ctx.fillStyle = c.committed ? col : '#ffffff';
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = col;
      ctx.stroke();
      ctx.fillStyle = c.committed ? '#ffffff' : col;
      ctx.fillText(fitText(ctx, c.text, c.w - 6), c.x + c.w / 2, st.y + 0.5);
    }
  }

  chip(text, font, x, y, h, role) {
    const w = textWidth(this.ctx, text) + 12;
    return { text, font, x, y, role, box: { x: x - w / 2, y: y - h / 2, w, h } };
  }

  /** Does box b cover a node disc (with a margin) or a node label? O(nodes). */
  coversNode(b, frame, margin = 3) {
    const r = this.R + margin;
    for (const p of this.pos.values()) if (circleHitsBox(p.x, p.y, r, b)) return true;
    return hitsAny(b, frame.boxes, 2);
  }

  drawPartitions(scene, ui) {
    const ctx = this.ctx;
    const groups = [];
    if (scene.partition) scene.partition.forEach((g, i) => groups.push({ ids: g, i, dashed: false }));
    if (ui.partitionMode) {
      // The groups being picked, then the nodes left over: the group they will form.
      groups.length = 0;
      const picked = ui.partitionGroups.filter((g) => g.length);
      picked.forEach((g, i) => groups.push({ ids: g, i, dashed: true }));
      const rest = this.ids.filter((id) => !picked.some((g) => g.includes(id)));
      if (picked.length && rest.length) groups.push({ ids: rest, i: picked.length, dashed: true });
    }
    if (!groups.length) return;
    const pad = this.R + 18;
    const down = Math.max(0, this.lm.bottom - 14); // reach down so the labels sit inside the hull
    for (const g of groups) {
      const pts = [];
      for (const id of g.ids) {
        const p = this.pos.get(id);
        if (!p) continue;
        for (let k = 0; k < 20; k++) {
          const a = (2 * Math.PI * k) / 20;
          const dy = Math.sin(a) > 0 ? down : 0;
          pts.push({ x: p.x + pad * Math.cos(a), y: p.y + (pad + dy) * Math.sin(a) });
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
      this.groupBadge(label, topP.x, Math.max(12, topP.y), col.stroke);
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
    const tw = textWidth(ctx, label) + 14;
    roundRect(ctx, x - tw / 2, y - 11, tw, 22, 11);
    ctx.fillStyle = color;
    ctx.fill();
    ctx.fillStyle = '#fff';
    ctx.fillText(label, x, y + 0.5);
    ctx.globalAlpha = a;
  }

  /**
   * Where each message in flight is this frame and whether it can show its pill:
   * `under` are near a node (dots, drawn beneath the nodes), `clear` may get a pill.
   */
  messageFrame(scene, frame) {
    const ctx = this.ctx;
    const many = scene.inflight.length > 40;
    const font = `700 ${many ? 11 : 13}px ${FONT_STACK}`;
    const ph = many ? 16 : 21;
    ctx.font = font;
    const all = [], under = [], clear = [];
    const kinds = new Map(); // kind -> {label, color, pw}: once per kind, not per message
    for (const msg of scene.inflight) {
      const p = this.messagePos(msg, scene.t);
      if (!p) continue;
      let k = kinds.get(msg.kind);
      if (!k) {
        const label = tn('kind', msg.kind);
        k = { label, color: kindColor(msg.kind), pw: Math.min(textWidth(ctx, label), 150) + (many ? 10 : 14) };
        kinds.set(msg.kind, k);
      }
      const m = { msg, p, label: k.label, color: k.color, box: { x: p.x - k.pw / 2, y: p.y - ph / 2, w: k.pw, h: ph } };
      all.push(m);
      (this.coversNode(m.box, frame) ? under : clear).push(m);
    }
    return { all, under, clear, font, ph };
  }

  // Trails and dots are batched per colour (a dozen kinds at most): one path each
  // instead of one per message keeps a few thousand messages in flight cheap.
  drawTrails(msgs) {
    const ctx = this.ctx;
    ctx.lineCap = 'round';
    ctx.lineWidth = 3;
    ctx.globalAlpha = 0.28;
    for (const [color, list] of byColor(msgs.all)) {
      ctx.strokeStyle = color;
      ctx.beginPath();
      for (const { p } of list) {
        ctx.moveTo(p.ax, p.ay);
        ctx.lineTo(p.x, p.y);
      }
      ctx.stroke();
    }
    ctx.globalAlpha = 1;
  }

  drawDots(list) {
    if (!list.length) return;
    const ctx = this.ctx;
    ctx.lineWidth = 1.5;
    ctx.strokeStyle = '#ffffff';
    for (const [color, group] of byColor(list)) {
      ctx.beginPath();
      for (const { p } of group) {
        ctx.moveTo(p.x + DOT_R, p.y);
        ctx.arc(p.x, p.y, DOT_R, 0, 2 * Math.PI);
      }
      ctx.fillStyle = color;
      ctx.fill();
      ctx.stroke();
    }
  }

  /**
   * Pills for the messages in the clear, in send order, each only where it overlaps
   * no badge and no pill drawn before it; the others stay dots. The message under
   * the pointer (or with its menu open) is drawn last, highlighted.
   * Returns the pill boxes (drop labels keep off them).
   */
  drawMessages(msgs, ui, badges) {
    const ctx = this.ctx;
    const isHot = (m) => ui.hoverMsg === m.msg.id || ui.menuMsg === m.msg.id;
    const pills = [], pilled = [], dots = [];
    let hot = null;
    for (const m of msgs.clear) {
      if (isHot(m)) hot = m;
      else if (pills.length < MAX_PILLS && !hitsAny(m.box, pills, 3) && !hitsAny(m.box, badges, 2)) {
        pills.push(m.box);
        pilled.push(m);
      } else dots.push(m);
    }
    // Dots first, so no dot covers a pill's text.
    this.drawDots(dots);
    ctx.font = msgs.font;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (const m of pilled) this.pill(m);
    if (!hot) hot = msgs.under.find(isHot) || null;
    if (hot) {
      // Under the pointer: a pill if it is in the clear, else a ringed dot (the tooltip names it).
      const asPill = msgs.clear.includes(hot) && !hitsAny(hot.box, badges, 2);
      const b = asPill ? hot.box : { x: hot.p.x - DOT_R, y: hot.p.y - DOT_R, w: 2 * DOT_R, h: 2 * DOT_R };
      roundRect(ctx, b.x - 4, b.y - 4, b.w + 8, b.h + 8, (b.h + 8) / 2);
      ctx.fillStyle = 'rgba(37, 99, 235, 0.25)';
      ctx.fill();
      if (asPill) {
        this.pill(hot);
        pills.push(hot.box);
      } else this.drawDots([hot]);
    }
    return pills;
  }

  pill(m) {
    const ctx = this.ctx;
    const b = m.box;
    roundRect(ctx, b.x, b.y, b.w, b.h, b.h / 2);
    ctx.fillStyle = m.color;
    ctx.fill();
    ctx.lineWidth = 2;
    ctx.strokeStyle = '#ffffff';
    ctx.stroke();
    ctx.fillStyle = '#ffffff';
    ctx.fillText(m.label, m.p.x, m.p.y + 0.5, 150);
  }

  drawNode(nd, ui, bad, focus, now) {
    const { id, p, up, color } = nd;
    const ctx = this.ctx;
    const R = this.R;

    // Violation halo (pulsing, unless motion is reduced), selection ring, partition-mode ring.
    if (bad.has(id)) {
      const strong = focus && (focus.nodes || []).includes(id);
      const pulse = REDUCED_MOTION && REDUCED_MOTION.matches ? 1 : 0.55 + 0.45 * Math.sin(now / 220);
      ctx.beginPath();
      ctx.arc(p.x, p.y, R + 12, 0, 2 * Math.PI);
      ctx.fillStyle = `rgba(220, 38, 38, ${strong ? 0.22 : 0.12})`;
      ctx.fill();
      ctx.lineWidth = strong ? 6 : 4;
      ctx.strokeStyle = `rgba(220, 38, 38, ${0.5 + 0.5 * pulse})`;
      ctx.stroke();
    }
    const group = ui.partitionMode ? ui.partitionGroups.filter((g) => g.length).findIndex((g) => g.includes(id)) : -1;
    if (group >= 0) {
      ctx.beginPath();
      ctx.arc(p.x, p.y, R + 7, 0, 2 * Math.PI);
      ctx.lineWidth = 4;
      ctx.setLineDash([6, 5]);
      ctx.strokeStyle = GROUP_COLORS[group % GROUP_COLORS.length].stroke;
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
    if (nd.rings.length) drawRings(ctx, nd.rings, p, R, !!(REDUCED_MOTION && REDUCED_MOTION.matches));

    // The id, as big as fits the disc (not below 11 px: a projector must read it).
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    let fs = Math.max(11, Math.round(R * 0.58));
    ctx.font = `700 ${fs}px ${FONT_STACK}`;
    while (fs > 11 && textWidth(ctx, id) > R * 1.65) {
      fs -= 1;
      ctx.font = `700 ${fs}px ${FONT_STACK}`;
    }
    ctx.fillStyle = up ? '#ffffff' : COLORS.muted;
    ctx.fillText(fitText(ctx, id, R * 1.8), p.x, p.y + 1);

    if (!up) drawCross(ctx, p.x, p.y, R * 0.62, 'rgba(75, 85, 99, 0.85)', 5);
    // Not colour alone: a node named by a violation wears a warning sign on its rim.
    if (bad.has(id)) this.warnSign(p.x + R * 0.74, p.y - R * 0.74, Math.max(10, R * 0.4));

    // Labels: role (or "crashed"), then the node's label or a short summary; cut to fit already.
    for (const l of nd.lines) {
      if (!l.text) continue;
      ctx.font = l.font;
      const b = l.box;
      roundRect(ctx, b.x, b.y, b.w, b.h, 6);
      if (l.role) {
        ctx.fillStyle = up ? tint(color, 0.86) : '#f3f4f6';
        ctx.fill();
        ctx.fillStyle = up ? shade(color) : COLORS.danger;
      } else {
        ctx.fillStyle = 'rgba(255,255,255,0.92)';
        ctx.fill();
        ctx.fillStyle = up ? COLORS.ink : COLORS.muted;
      }
      ctx.fillText(l.text, l.x, l.y + 0.5);
    }
    if (nd.strip) this.drawStrip(nd.strip, up);
    if (nd.row) drawRow(ctx, nd.row, up);
  }

  /** A warning triangle with "!" centred on (x, y), half-size s. */
  warnSign(x, y, s) {
    const ctx = this.ctx;
    ctx.beginPath();
    ctx.moveTo(x, y - s);
    ctx.lineTo(x + s * 1.1, y + s * 0.85);
    ctx.lineTo(x - s * 1.1, y + s * 0.85);
    ctx.closePath();
    ctx.lineJoin = 'round';
    ctx.lineWidth = 3;
    ctx.strokeStyle = '#ffffff';
    ctx.stroke();
    ctx.fillStyle = COLORS.danger;
    ctx.fill();
    ctx.fillStyle = '#ffffff';
    ctx.font = `800 ${Math.round(s * 1.2)}px ${FONT_STACK}`;
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    ctx.fillText('!', x, y + s * 0.2);
  }

  /**
   * A drop stays marked for ui.flashWindow virtual ms (a function of scene.t only).
   * Drops at a node's rim (to a crashed node, cut by a partition at the sender) get
   * one mark per node, beside it on the side they came from, with a count; drops in
   * mid-flight one mark per spot. Marks keep off nodes, labels and badges; the newest
   * drop's reason is written under its mark where that is clear.
   */
  drawDrops(scene, ui, frame, pills, badges) {
    const win = ui.flashWindow || 1000;
    const drops = dropsAt(scene.model, scene.t, win);
    if (!drops.length) return;
    const R = this.R, r = DROP_R;
    const atNode = new Map(); // node id -> {msg (newest), from, count}
    const loose = [];
    for (const msg of drops) { // newest first
      const p = this.messagePos(msg, msg.end_t);
      if (!p) continue;
      const node = this.nodeNear(p.x, p.y, R + 2 * r);
      if (node) {
        const m = atNode.get(node);
        if (m) m.count++;
        else atNode.set(node, { msg, from: p, node, count: 1 });
      } else if (loose.length < MAX_DROP_MARKS && !loose.some((m) => (m.x - p.x) ** 2 + (m.y - p.y) ** 2 < (2 * r) ** 2)) {
        loose.push({ msg, x: p.x, y: p.y, p, count: 1 });
      }
    }
    const marks = [];
    const clear = (x, y) => {
      if (x < r + 2 || y < r + 2 || x > this.w - r - 2 || y > this.h - r - 2) return false;
      for (const q of this.pos.values()) if ((x - q.x) ** 2 + (y - q.y) ** 2 < (R + r + 2) ** 2) return false;
      for (const b of frame.boxes) if (circleHitsBox(x, y, r + 2, b)) return false;
      for (const b of badges) if (circleHitsBox(x, y, r + 1, b)) return false;
      for (const m of marks) if ((x - m.x) ** 2 + (y - m.y) ** 2 < (2 * r + 2) ** 2) return false;
      return true;
    };
    for (const m of atNode.values()) {
      // Around the node, starting where the messages met it, swinging either way.
      const c = this.pos.get(m.node);
      const a0 = Math.atan2(m.from.y - c.y, m.from.x - c.x);
      const d = R + r + 3;
      let x = c.x + d * Math.cos(a0), y = c.y + d * Math.sin(a0);
      for (const da of [0, 0.45, -0.45, 0.9, -0.9, 1.35, -1.35, 1.8, -1.8, 2.4, -2.4, Math.PI]) {
        const tx = c.x + d * Math.cos(a0 + da), ty = c.y + d * Math.sin(a0 + da);
        if (clear(tx, ty)) {
          x = tx;
          y = ty;
          break;
        }
      }
      marks.push({ ...m, x, y });
    }
    for (const m of loose) {
      // Slide along the path (either way) off any label it landed on.
      const { p } = m;
      const len = Math.hypot(p.x - p.ax, p.y - p.ay);
      for (const d of [0, r, -r, 2 * r, -2 * r, 3 * r, -3 * r]) {
        const tx = p.x + p.ux * d, ty = p.y + p.uy * d;
        if (-d <= len && clear(tx, ty)) {
          m.x = tx;
          m.y = ty;
          break;
        }
      }
      if (!marks.some((o) => (o.x - m.x) ** 2 + (o.y - m.y) ** 2 < (1.6 * r) ** 2)) marks.push(m);
    }
    const ctx = this.ctx;
    const labels = [];
    ctx.textAlign = 'center';
    ctx.textBaseline = 'middle';
    for (const m of marks) {
      const age = clamp((scene.t - m.msg.end_t) / win, 0, 1);
      ctx.globalAlpha = 1 - age;
      ctx.beginPath();
      ctx.arc(m.x, m.y, r, 0, 2 * Math.PI);
      ctx.fillStyle = 'rgba(254, 226, 226, 0.95)';
      ctx.fill();
      ctx.lineWidth = 1.5;
      ctx.strokeStyle = 'rgba(220, 38, 38, 0.5)';
      ctx.stroke();
      drawCross(ctx, m.x, m.y, r * 0.45, COLORS.danger, 4);
      if (m.count > 1) {
        // How many were dropped there within the window.
        ctx.font = `700 11px ${FONT_STACK}`;
        const s = `×${m.count}`;
        const w = textWidth(ctx, s) + 8;
        roundRect(ctx, m.x + r * 0.55, m.y - r - 4, w, 15, 7.5);
        ctx.fillStyle = COLORS.danger;
        ctx.fill();
        ctx.fillStyle = '#fff';
        ctx.fillText(s, m.x + r * 0.55 + w / 2, m.y - r + 3.5);
      }
      if (age > 0.5) continue;
      ctx.globalAlpha = clamp(1 - age * 2, 0, 1);
      ctx.font = `700 12px ${FONT_STACK}`;
      const label = `${tn('kind', m.msg.kind)} · ${tn('reason', m.msg.reason || 'user')}`;
      const w = textWidth(ctx, label) + 10;
      // Under the mark, else beside it; nowhere if that would cover something.
      const box = [[m.x - w / 2, m.y + r + 3], [m.x + r + 4, m.y - 9], [m.x - r - 4 - w, m.y - 9]]
        .map(([x, y]) => ({ x, y, w, h: 18 }))
        .find((b) => b.x >= 2 && b.x + w <= this.w - 2 && b.y >= 2 && b.y + 18 <= this.h - 2
          && !this.coversNode(b, frame) && !hitsAny(b, labels, 2) && !hitsAny(b, pills, 2) && !hitsAny(b, badges, 2)
          && !marks.some((o) => circleHitsBox(o.x, o.y, r + 2, b)));
      if (!box) continue;
      labels.push(box);
      roundRect(ctx, box.x, box.y, w, 18, 5);
      ctx.fillStyle = 'rgba(255, 255, 255, 0.95)';
      ctx.fill();
      ctx.fillStyle = COLORS.danger;
      ctx.fillText(label, box.x + w / 2, box.y + 9.5);
    }
    ctx.globalAlpha = 1;
  }

  /** The node whose centre is within `d` px of (x, y), nearest first; null if none. */
  nodeNear(x, y, d) {
    let best = null, bestD = d * d;
    for (const [id, q] of this.pos) {
      const dd = (x - q.x) ** 2 + (y - q.y) ** 2;
      if (dd < bestD) {
        best = id;
        bestD = dd;
      }
    }
    return best;
  }

  /**
   * A timer firing shows a badge above its node for ui.flashWindow virtual ms. It may
   * slide sideways or lose text to keep off other nodes, their labels, other badges and
   * the fault buttons. Returns the badge boxes (pills keep off them).
   */
  drawTimers(scene, ui, frame) {
    const ctx = this.ctx;
    const win = ui.flashWindow || 1000;
    const R = this.R;
    const seen = new Set();
    const badges = [];
    const font = `600 12px ${FONT_STACK}`;
    ctx.font = font;
    for (const e of timersAt(scene.model, scene.t, win)) {
      if (seen.has(e.node)) continue; // newest firing per node only
      seen.add(e.node);
      const p = this.pos.get(e.node);
      if (!p) continue;
      const y = p.y - R - 16;
      const full = tn('timer', e.name);
      const fits = (b) => b.x >= 2 && b.x + b.w <= this.w - 2 && b.y >= 0
        && !(this.barBox && boxesOverlap(b, this.barBox))
        && !hitsAny(b, badges, 2)
        && !this.coversOthers(b, e.node, frame);
      let placed = null;
      // Full text, then shorter, then the clock alone; above the node (centred, then slid
      // either way), else beside it (the fault buttons may sit right above a top node).
      for (const maxW of [Infinity, 90, 56, 0]) {
        ctx.font = font;
        const text = maxW === 0 ? '' : fitText(ctx, full, maxW);
        if (maxW && (!text || text === '…')) continue;
        const w = text ? textWidth(ctx, text) + 30 : 22;
        const slide = Math.max(0, w / 2 - 12);
        const spots = [
          [p.x - w / 2, y - 11], [p.x - slide - w / 2, y - 11], [p.x + slide - w / 2, y - 11],
          [p.x + R * 0.7, p.y - R - 6], [p.x - R * 0.7 - w, p.y - R - 6],
          [p.x + R + 6, p.y - 11], [p.x - R - 6 - w, p.y - 11],
        ];
        for (const [bx, by] of spots) {
          const b = { x: bx, y: by, w, h: 22 };
          if (fits(b)) {
            placed = { b, text };
            break;
          }
        }
        if (placed) break;
      }
      if (!placed) placed = { b: { x: p.x - 11, y: y - 11, w: 22, h: 22 }, text: '' };
      badges.push(placed.b);
      ctx.globalAlpha = clamp(1 - (scene.t - e.t) / win, 0, 1);
      this.badge(placed.b, placed.text, font);
      ctx.globalAlpha = 1;
    }
    return badges;
  }

  /** Does box b cover a node other than `own`, or any node's labels? */
  coversOthers(b, own, frame) {
    for (const [id, p] of this.pos) if (id !== own && circleHitsBox(p.x, p.y, this.R + 3, b)) return true;
    return hitsAny(b, frame.boxes, 2);
  }

  badge(b, text, font) {
    const ctx = this.ctx;
    const y = b.y + b.h / 2;
    roundRect(ctx, b.x, b.y, b.w, b.h, b.h / 2);
    ctx.fillStyle = '#fef3c7';
    ctx.fill();
    ctx.strokeStyle = '#d97706';
    ctx.lineWidth = 1.5;
    ctx.stroke();
    // A small clock face, then the timer's name.
    const cx = text ? b.x + 13 : b.x + b.w / 2;
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
    if (!text) return;
    ctx.font = font;
    ctx.fillStyle = '#92400e';
    ctx.textAlign = 'left';
    ctx.textBaseline = 'middle';
    ctx.fillText(text, cx + 10, y + 0.5);
    ctx.textAlign = 'center';
  }
}

/** Messages grouped by their kind's colour, in order. */
function byColor(list) {
  const groups = new Map();
  for (const m of list) {
    const g = groups.get(m.color);
    if (g) g.push(m);
    else groups.set(m.color, [m]);
  }
  return groups;
}

function shade(color) {
  // Darker text colour for a role chip: fall back to ink for non-hex colours.
  const m = /^#?([0-9a-f]{6})$/i.exec(color || '');
  if (!m) return COLORS.ink;
  const n = parseInt(m[1], 16);
  const f = (c) => Math.round(c * 0.55);
  return `rgb(${f((n >> 16) & 255)}, ${f((n >> 8) & 255)}, ${f(n & 255)})`;
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

/** A stable colour per term / ballot / view ("3", "3.1", "v2"): neighbours get distant hues. */
const groupColors = new Map();
function groupColor(g) {
  let c = groupColors.get(g);
  if (!c) {
    // "3" (a term) or "3.n1" (a ballot: its round, then who made it): rounds far apart in
    // hue, a ballot's maker nudging it; anything else hashed.
    const m = /^(\d+)(?:\.(.+))?$/.exec(String(g));
    let k = 0;
    if (m) {
      let h = 0;
      for (const ch of m[2] || '') h = (h * 31 + ch.charCodeAt(0)) % 9973;
      k = Number(m[1]) * 10 + (m[2] ? 1 + (h % 7) : 0);
    } else {
      for (const ch of String(g)) k = (k * 31 + ch.charCodeAt(0)) % 9973;
    }
    c = `hsl(${(k * 47 + 210) % 360}, 62%, 38%)`;   // term 0 blue, not an alarming red
    if (groupColors.size < 500) groupColors.set(g, c);
  }
  return c;
}
