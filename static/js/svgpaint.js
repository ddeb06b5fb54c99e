// An SVG painter: the part of the canvas 2D API the space-time diagram draws with
// (paths, rects, arcs, clip, dashes, alpha, text), recorded as SVG elements. The same
// drawing routine paints the screen through the canvas's context and a download
// through this, so the file shows what the page shows. Text stays text (<text>, in the
// reader's language), in the generic sans-serif family; widths are measured on a real
// canvas context (`measure`), so text cut to fit on screen is cut the same here.

const NS = 'http://www.w3.org/2000/svg';
const ALIGN = { left: 'start', start: 'start', right: 'end', end: 'end', center: 'middle' };
const BASELINE = { top: 'hanging', hanging: 'hanging', middle: 'central', bottom: 'text-after-edge',
  ideographic: 'ideographic', alphabetic: 'alphabetic' };

/** Round to 2 decimals: smaller files, no visible difference. */
const n = (v) => String(Math.round(v * 100) / 100);

function esc(s) {
  return String(s).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]);
}

/** A CSS colour as [colour, opacity]: rgba() split, so strict SVG 1.1 readers draw it too. */
function paint(c) {
  const m = /^rgba\(\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*,\s*([\d.]+)\s*\)$/.exec(String(c));
  if (m) return [`rgb(${m[1]},${m[2]},${m[3]})`, Number(m[4])];
  return [String(c), 1];
}

/** "700 12px Inter, system-ui" -> {weight, size}. */
function parseFont(font) {
  const m = /(?:^|\s)(\d{3}|bold|normal)?\s*([\d.]+)px/.exec(font);
  return { weight: m && m[1] ? m[1] : '400', size: m ? Number(m[2]) : 10 };
}

export class SvgPainter {
  constructor(w, h, measure) {
    this.w = w;
    this.h = h;
    this.measure = measure;   // a canvas 2D context, for text widths
    this.out = [];
    this.defs = [];
    this.clips = 0;
    this.st = {
      fillStyle: '#000', strokeStyle: '#000', lineWidth: 1, lineCap: 'butt', dash: [],
      globalAlpha: 1, font: '10px sans-serif', textAlign: 'start', textBaseline: 'alphabetic', clip: null,
    };
    this.stack = [];
    this.d = [];
    this.cur = null;   // the current point, or null before a subpath starts
  }

  // ---- state (the properties the drawing sets, as on a CanvasRenderingContext2D)
  get fillStyle() { return this.st.fillStyle; }
  set fillStyle(v) { this.st.fillStyle = v; }
  get strokeStyle() { return this.st.strokeStyle; }
  set strokeStyle(v) { this.st.strokeStyle = v; }
  get lineWidth() { return this.st.lineWidth; }
  set lineWidth(v) { this.st.lineWidth = v; }
  get lineCap() { return this.st.lineCap; }
  set lineCap(v) { this.st.lineCap = v; }
  get globalAlpha() { return this.st.globalAlpha; }
  set globalAlpha(v) { this.st.globalAlpha = v; }
  get font() { return this.st.font; }
  set font(v) { this.st.font = v; }
  get textAlign() { return this.st.textAlign; }
  set textAlign(v) { this.st.textAlign = v; }
  get textBaseline() { return this.st.textBaseline; }
  set textBaseline(v) { this.st.textBaseline = v; }
  setLineDash(d) { this.st.dash = [...d]; }
  save() { this.stack.push({ ...this.st, dash: [...this.st.dash] }); }
  restore() { if (this.stack.length) this.st = this.stack.pop(); }
  setTransform() { /* the file is in CSS px already */ }
  clearRect() { /* a fresh file is empty */ }

  measureText(text) {
    this.measure.font = this.st.font;
    return this.measure.measureText(text);
  }

  // ---- paths
  beginPath() {
    this.d = [];
    this.cur = null;
  }

  moveTo(x, y) {
    this.d.push(`M${n(x)} ${n(y)}`);
    this.cur = [x, y];
  }

  lineTo(x, y) {
    if (!this.cur) return this.moveTo(x, y);
    this.d.push(`L${n(x)} ${n(y)}`);
    this.cur = [x, y];
    return undefined;
  }

  closePath() {
    this.d.push('Z');
  }

  rect(x, y, w, h) {
    this.d.push(`M${n(x)} ${n(y)}h${n(w)}v${n(h)}h${n(-w)}Z`);
    this.cur = [x, y];
  }

  arc(x, y, r, a0, a1) {
    const sx = x + r * Math.cos(a0), sy = y + r * Math.sin(a0);
    if (this.cur) this.lineTo(sx, sy);
    else this.moveTo(sx, sy);
    const sweep = a1 - a0;
    if (sweep >= 2 * Math.PI - 1e-9) {
      // A whole circle: two half arcs (one SVG arc cannot end where it starts).
      const mx = x - r * Math.cos(a0), my = y - r * Math.sin(a0);
      this.d.push(`A${n(r)} ${n(r)} 0 1 1 ${n(mx)} ${n(my)}A${n(r)} ${n(r)} 0 1 1 ${n(sx)} ${n(sy)}`);
      this.cur = [sx, sy];
      return;
    }
    const ex = x + r * Math.cos(a1), ey = y + r * Math.sin(a1);
    this.d.push(`A${n(r)} ${n(r)} 0 ${Math.abs(sweep) > Math.PI ? 1 : 0} ${sweep >= 0 ? 1 : 0} ${n(ex)} ${n(ey)}`);
    this.cur = [ex, ey];
  }

  clip() {
    const id = `clip${++this.clips}`;
    const inner = this.st.clip ? ` clip-path="url(#${this.st.clip})"` : '';
    this.defs.push(`<clipPath id="${id}"><path d="${this.d.join('')}"${inner}/></clipPath>`);
    this.st.clip = id;
  }

  // ---- painting
  common(opacity) {
    const a = opacity * this.st.globalAlpha;
    return (a < 1 ? ` opacity="${n(a)}"` : '') + (this.st.clip ? ` clip-path="url(#${this.st.clip})"` : '');
  }

  fill() {
    if (!this.d.length) return;
    const [c, o] = paint(this.st.fillStyle);
    this.out.push(`<path d="${this.d.join('')}" fill="${esc(c)}"${this.common(o)}/>`);
  }

  stroke() {
    if (!this.d.length) return;
    const [c, o] = paint(this.st.strokeStyle);
    const dash = this.st.dash.length ? ` stroke-dasharray="${this.st.dash.map(n).join(' ')}"` : '';
    this.out.push(`<path d="${this.d.join('')}" fill="none" stroke="${esc(c)}" stroke-width="${n(this.st.lineWidth)}"`
      + ` stroke-linecap="${this.st.lineCap}"${dash}${this.common(o)}/>`);
  }

  fillRect(x, y, w, h) {
    const [c, o] = paint(this.st.fillStyle);
    this.out.push(`<rect x="${n(x)}" y="${n(y)}" width="${n(w)}" height="${n(h)}" fill="${esc(c)}"${this.common(o)}/>`);
  }

  fillText(text, x, y) {
    const [c, o] = paint(this.st.fillStyle);
    const f = parseFont(this.st.font);
    this.out.push(`<text x="${n(x)}" y="${n(y)}" font-size="${n(f.size)}" font-weight="${f.weight}"`
      + ` text-anchor="${ALIGN[this.st.textAlign] || 'start'}"`
      + ` dominant-baseline="${BASELINE[this.st.textBaseline] || 'alphabetic'}" fill="${esc(c)}"${this.common(o)}>`
      + `${esc(text)}</text>`);
  }

  /** The whole file: a white page the size of the canvas (CSS px), then the drawing. */
  toString() {
    return `<?xml version="1.0" encoding="UTF-8"?>\n`
      + `<svg xmlns="${NS}" width="${this.w}" height="${this.h}" viewBox="0 0 ${this.w} ${this.h}"`
      + ` font-family="sans-serif">\n`
      + (this.defs.length ? `<defs>${this.defs.join('')}</defs>\n` : '')
      + `<rect width="100%" height="100%" fill="#ffffff"/>\n`
      + this.out.join('\n') + '\n</svg>\n';
  }
}
