// Small drawing helpers shared by the topology and space-time canvases.

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
