// Small shared helpers: value formatting, colours, a DOM builder. No state.

export const FONT_STACK =
  'system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial, ' +
  '"PingFang SC", "Hiragino Sans GB", "Microsoft YaHei", "Noto Sans CJK SC", "Noto Sans SC", sans-serif';
export const MONO_STACK = 'ui-monospace, SFMono-Regular, Menlo, Consolas, "Liberation Mono", monospace';

/** Compact one-line rendering of a JSON value, cut to `max` characters. */
export function fmtValue(v, max = 60) {
  let s;
  if (v === null || v === undefined) s = '—';
  else if (typeof v === 'string') s = v;
  else if (typeof v === 'number') s = Number.isInteger(v) ? String(v) : String(Math.round(v * 1000) / 1000);
  else if (typeof v === 'boolean') s = v ? 'true' : 'false';
  else s = JSON.stringify(v);
  if (s.length > max) s = s.slice(0, Math.max(1, max - 1)) + '…';
  return s;
}

/** A value as a person reads it: {tx1: PREPARED}, [1:noop, 1:x=1], not JSON with its quotes. */
export function fmtReadable(v, max = 60) {
  const inner = (x) => {
    if (Array.isArray(x)) return `[${x.map(inner).join(', ')}]`;
    if (x && typeof x === 'object') return `{${Object.entries(x).map(([k, y]) => `${k}: ${inner(y)}`).join(', ')}}`;
    return fmtValue(x, Infinity);
  };
  return fmtValue(inner(v), max);
}

/** Short summary of a value for node labels, or null when it says nothing (empty). */
export function fmtShort(v) {
  if (v === null || v === undefined || v === '') return null;
  if (Array.isArray(v)) {
    if (!v.length) return null;
    if (v.length <= 3 && v.every((x) => x === null || typeof x !== 'object')) return fmtValue(v.join(','), 18);
    return `[${v.length}]`;
  }
  if (typeof v === 'object') {
    const keys = Object.keys(v);
    if (!keys.length) return null;
    if (keys.length === 1) {
      const inner = fmtShort(v[keys[0]]);
      return fmtValue(`${keys[0]}:${inner === null ? '—' : inner}`, 22);
    }
    return `{${keys.length}}`;
  }
  return fmtValue(v, 16);
}

/** Message body as "k=v, k=v". */
export function fmtBody(body, max = 80) {
  if (!body || typeof body !== 'object') return '';
  const parts = Object.keys(body).map((k) => `${k}=${fmtValue(body[k], 24)}`);
  const s = parts.join(', ');
  return s.length > max ? s.slice(0, max - 1) + '…' : s;
}

export function fmtMs(ms) {
  // Thin-space thousands groups, by hand: toLocaleString is slow and this runs per frame.
  const v = String(Math.max(0, Math.round(ms)));
  return `${v.replace(/\B(?=(\d{3})+(?!\d))/g, '\u2009')} ms`;
}

export function fmtSpeed(s) {
  if (s >= 1) return `${Math.round(s * 10) / 10}×`;
  if (s >= 0.1) return `${Math.round(s * 100) / 100}×`;
  return `${Math.round(s * 1000) / 1000}×`;
}

const KIND_PALETTE = ['#2563eb', '#7c3aed', '#0891b2', '#c2410c', '#059669', '#db2777', '#4f46e5', '#b45309',
  '#0d9488', '#9333ea', '#be123c', '#15803d'];

/** Stable colour per message kind (FNV-1a hash of the name). */
export function kindColor(kind) {
  let h = 2166136261;
  for (let i = 0; i < kind.length; i++) {
    h ^= kind.charCodeAt(i);
    h = Math.imul(h, 16777619);
  }
  return KIND_PALETTE[(h >>> 0) % KIND_PALETTE.length];
}

/** Partition group colours: fill and stroke. */
export const GROUP_COLORS = [
  { fill: 'rgba(37, 99, 235, 0.07)', stroke: '#2563eb' },
  { fill: 'rgba(234, 88, 12, 0.07)', stroke: '#ea580c' },
  { fill: 'rgba(5, 150, 105, 0.07)', stroke: '#059669' },
  { fill: 'rgba(147, 51, 234, 0.07)', stroke: '#9333ea' },
];

export const COLORS = {
  ink: '#1f2937',
  muted: '#6b7280',
  faint: '#e5e7eb',
  line: '#cbd5e1',
  accent: '#2563eb',
  danger: '#dc2626',
  ok: '#16a34a',
  crashed: '#9ca3af',
  bg: '#ffffff',
  fallbackRole: '#64748b',
};

/** Tiny DOM builder: el('div', {class: 'x', dataset: {a: 1}, onclick}, [children]). */
export function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'class') node.className = v;
    else if (k === 'text') node.textContent = v;
    else if (k === 'dataset') Object.assign(node.dataset, v);
    else if (k.startsWith('on') && typeof v === 'function') node.addEventListener(k.slice(2), v);
    else if (v === true) node.setAttribute(k, '');
    else node.setAttribute(k, String(v));
  }
  for (const c of [].concat(children)) {
    if (c === null || c === undefined || c === false) continue;
    node.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return node;
}

/** The JSON a server embedded in element `id` (a <script type="application/json">), or null. */
export function readJSON(id) {
  const node = document.getElementById(id);
  if (!node) return null;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return null;
  }
}

export function clamp(v, lo, hi) {
  return Math.min(hi, Math.max(lo, v));
}

/** Mix a #rrggbb colour with white; amount 0..1 of white. */
export function tint(hex, amount) {
  const m = /^#?([0-9a-f]{6})$/i.exec(hex || '');
  if (!m) return hex;
  const n = parseInt(m[1], 16);
  const mix = (c) => Math.round(c + (255 - c) * amount);
  const r = mix((n >> 16) & 255), g = mix((n >> 8) & 255), b = mix(n & 255);
  return `rgb(${r}, ${g}, ${b})`;
}

const SVG_NS = 'http://www.w3.org/2000/svg';

/** An icon from the sprite in base.html: <svg class="ic"><use href="#i-name"/></svg>. */
export function icon(name, cls = '') {
  const svg = document.createElementNS(SVG_NS, 'svg');
  svg.setAttribute('class', `ic ${cls}`.trim());
  svg.setAttribute('aria-hidden', 'true');
  const use = document.createElementNS(SVG_NS, 'use');
  use.setAttribute('href', `#i-${name}`);
  svg.append(use);
  return svg;
}
