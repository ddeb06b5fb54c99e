// Small drawing helpers shared by the topology and space-time canvases:
// high-DPI sizing, text fitting, boxes and their overlaps. No DOM beyond the canvas.

/**
 * Size a canvas's backing store to its CSS box times devicePixelRatio, so it
 * stays crisp on high-DPI screens. `view` keeps w, h (CSS px) and dpr; returns
 * true when anything changed.
 */
export function fitCanvas(canvas, view) {
  const rect = canvas.getBoundingClientRect();
  const dpr = window.devicePixelRatio || 1;
  const w = Math.max(1, Math.round(rect.width));
  const h = Math.max(1, Math.round(rect.height));
  if (w === view.w && h === view.h && dpr === view.dpr) return false;
  view.w = w;
  view.h = h;
  view.dpr = dpr;
  canvas.width = Math.round(w * dpr);
  canvas.height = Math.round(h * dpr);
  return true;
}

/**
 * Start a frame: resize when the box or the pixel ratio changed (browser zoom, a
 * window moved to another screen), map CSS px to device px, clear.
 * Returns true when the canvas was resized (callers redo their geometry).
 */
export function beginFrame(canvas, ctx, view) {
  const resized = !view.w || (window.devicePixelRatio || 1) !== view.dpr ? fitCanvas(canvas, view) : false;
  // The backing store is rounded to whole device pixels: scale by what it really is.
  ctx.setTransform(canvas.width / view.w, 0, 0, canvas.height / view.h, 0, 0);
  ctx.globalAlpha = 1;
  ctx.clearRect(0, 0, view.w, view.h);
  return resized;
}

/** An X of half-size k centred on (x, y): crashed nodes, dropped messages. */
export function drawCross(ctx, x, y, k, color, width) {
  ctx.strokeStyle = color;
  ctx.lineWidth = width;
  ctx.lineCap = 'round';
  ctx.beginPath();
  ctx.moveTo(x - k, y - k);
  ctx.lineTo(x + k, y + k);
  ctx.moveTo(x + k, y - k);
  ctx.lineTo(x - k, y + k);
  ctx.stroke();
}

export function roundRect(ctx, x, y, w, h, r) {
  const rr = Math.max(0, Math.min(r, w / 2, h / 2));
  ctx.beginPath();
  ctx.moveTo(x + rr, y);
  ctx.arcTo(x + w, y, x + w, y + h, rr);
  ctx.arcTo(x + w, y + h, x, y + h, rr);
  ctx.arcTo(x, y + h, x, y, rr);
  ctx.arcTo(x, y, x + w, y, rr);
  ctx.closePath();
}

// measureText is the hot spot of a busy frame (every pill, every label, 60 times a
// second): widths and cut strings are cached per font. The caches only grow with
// distinct strings (kinds, labels, languages) and are dropped when they get big.
const widthCache = new Map();
const fitCache = new Map();
const CACHE_MAX = 4000;

/** Width of `text` in the context's current font (cached). */
export function textWidth(ctx, text) {
  const key = `${ctx.font}\u0000${text}`;
  let w = widthCache.get(key);
  if (w === undefined) {
    if (widthCache.size > CACHE_MAX) widthCache.clear();
    w = ctx.measureText(text).width;
    widthCache.set(key, w);
  }
  return w;
}

/** `text` cut with "…" to at most maxW px in the current font (cached); '' when not even "…" fits. */
export function fitText(ctx, text, maxW) {
  const s = String(text);
  if (maxW <= 0) return '';
  const key = `${ctx.font}\u0000${Math.floor(maxW)}\u0000${s}`;
  let out = fitCache.get(key);
  if (out !== undefined) return out;
  if (textWidth(ctx, s) <= maxW) out = s;
  else {
    // Binary search on the prefix length: log(n) measurements instead of n.
    let lo = 0, hi = s.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (textWidth(ctx, s.slice(0, mid).trimEnd() + '…') <= maxW) lo = mid;
      else hi = mid - 1;
    }
    out = lo > 0 ? s.slice(0, lo).trimEnd() + '…' : textWidth(ctx, '…') <= maxW ? '…' : '';
  }
  if (fitCache.size > CACHE_MAX) fitCache.clear();
  fitCache.set(key, out);
  return out;
}

/** Do boxes {x, y, w, h} a and b overlap (with `pad` px of air between them)? */
export function boxesOverlap(a, b, pad = 0) {
  return a.x < b.x + b.w + pad && b.x < a.x + a.w + pad && a.y < b.y + b.h + pad && b.y < a.y + a.h + pad;
}

/** Does the circle (cx, cy, r) touch box b? */
export function circleHitsBox(cx, cy, r, b) {
  const nx = Math.max(b.x, Math.min(cx, b.x + b.w));
  const ny = Math.max(b.y, Math.min(cy, b.y + b.h));
  return (cx - nx) * (cx - nx) + (cy - ny) * (cy - ny) < r * r;
}

/** Does box a touch any box in `list` (the first `n` of them)? */
export function hitsAny(a, list, pad = 0, n = list.length) {
  for (let i = 0; i < n; i++) if (boxesOverlap(a, list[i], pad)) return true;
  return false;
}
