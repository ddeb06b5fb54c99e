// Export and import (#export, #export-pop, #import-file, a file dropped on the page).
//
// Downloads, made in the page (a Blob and an <a download>, no server round trip):
//   - the trace as JSONL, exactly as `python -m engine run --jsonl` prints it (keys sorted,
//     "," and ":", UTF-8), every event up to the time on screen; no summary line;
//   - the scenario as JSON: the share token the server gave the run (every action so far),
//     decoded and pretty-printed with its numbers as written (0.0 stays 0.0, so the file
//     reopens with the very same token);
//   - the space-time diagram as SVG (the same drawing through an SVG painter) and PNG;
//   - the topology canvas as PNG.
// Import: a scenario JSON file (dropped anywhere, or picked with "Open a scenario file")
// is checked here for size and JSON, then validated by the server (`create`, as a share
// token built from the file's text). On success the run opens in this page (same protocol)
// or on its protocol's page; on failure the server's reason shows and the run on screen
// stays as it was.

import { t } from './i18n.js';
import { fmtMs } from './format.js';
import { errorText } from './toasts.js';

const MAX_FILE_BYTES = 256 * 1024;      // not even read past this
const MAX_SCENARIO_BYTES = 65536;       // engine/limits.py MAX_SCENARIO_BYTES
const MAX_TOKEN_CHARS = 7900;           // engine/limits.py MAX_TOKEN_CHARS
const CONTROL_KEY = (session) => `pp.control.${session}`;   // as session.js keeps a control token

// ------------------------------------------------------------------ Python's JSON, byte for byte

/** A float as Python's repr writes it (shortest digits; exponent below 1e-4 and from 1e16). */
function pyFloat(x) {
  if (!Number.isFinite(x)) return x > 0 ? 'Infinity' : x < 0 ? '-Infinity' : 'NaN';
  const [mant, expStr] = x.toExponential().split('e');
  const exp = Number(expStr);
  if (exp < -4 || exp >= 16) {
    const m = mant.replace(/\.?0+$/, '') || '0';
    return `${m}e${exp < 0 ? '-' : '+'}${String(Math.abs(exp)).padStart(2, '0')}`;
  }
  const s = String(x);   // JS writes positional here too, with the same digits
  return /[.e]/.test(s) ? s : `${s}.0`;
}

/**
 * json.dumps(v, sort_keys=True, separators=(",", ":"), ensure_ascii=False), as engine/cli.py
 * writes a trace line. JSON over the socket cannot tell 1 from 1.0: whole numbers are written
 * as integers unless `float` says the value is one.
 */
export function pyJson(v, float = false) {
  if (v === null || v === undefined) return 'null';
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'number') return Number.isInteger(v) && !float ? String(v) : pyFloat(v);
  if (typeof v === 'string') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map((x) => pyJson(x)).join(',')}]`;
  const keys = Object.keys(v).sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${keys.map((k) => `${JSON.stringify(k)}:${pyJson(v[k])}`).join(',')}}`;
}

/** A trace event as one JSONL line; `float`: a `set` event whose value the engine holds as a float. */
function eventLine(ev, float) {
  if (ev.type === 'set' && float && typeof ev.value === 'number') {
    // "value" sorts after every other key of a set event (param, seq, t, type).
    const rest = { ...ev };
    delete rest.value;
    return `${pyJson(rest).slice(0, -1)},"value":${pyJson(ev.value, true)}}`;
  }
  return pyJson(ev);
}

// ------------------------------------------------------------------ JSON text, literals kept

/** Parse JSON keeping every number and string as written: {k:'o', e:[[rawKey, node]]} | {k:'a', e:[node]} | {k:'l', raw}. */
function parseRaw(text) {
  let i = 0;
  const ws = () => {
    while (i < text.length && ' \t\n\r'.includes(text[i])) i++;
  };
  const LIT = /"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null/y;
  const lit = () => {
    LIT.lastIndex = i;
    const m = LIT.exec(text);
    if (!m) throw new Error('bad JSON');
    i += m[0].length;
    return { k: 'l', raw: m[0] };
  };
  const value = () => {
    ws();
    if (text[i] === '{') {
      i++;
      const e = [];
      ws();
      if (text[i] === '}') { i++; return { k: 'o', e }; }
      for (;;) {
        ws();
        const key = lit().raw;
        ws();
        if (text[i++] !== ':') throw new Error('bad JSON');
        e.push([key, value()]);
        ws();
        const c = text[i++];
        if (c === '}') return { k: 'o', e };
        if (c !== ',') throw new Error('bad JSON');
      }
    }
    if (text[i] === '[') {
      i++;
      const e = [];
      ws();
      if (text[i] === ']') { i++; return { k: 'a', e }; }
      for (;;) {
        e.push(value());
        ws();
        const c = text[i++];
        if (c === ']') return { k: 'a', e };
        if (c !== ',') throw new Error('bad JSON');
      }
    }
    return lit();
  };
  const v = value();
  ws();
  if (i !== text.length) throw new Error('bad JSON');
  return v;
}

function compact(node) {
  if (node.k === 'l') return node.raw;
  if (node.k === 'a') return `[${node.e.map(compact).join(',')}]`;
  return `{${node.e.map(([k, v]) => `${k}:${compact(v)}`).join(',')}}`;
}

/** Two-space indents; a list or object of plain values on one line when it is short. */
function pretty(node, pad = '') {
  if (node.k === 'l') return node.raw;
  const flat = compact(node);
  const simple = node.e.every((x) => (node.k === 'o' ? x[1] : x).k === 'l');
  if (!node.e.length || (simple && flat.length <= 60)) {
    return node.k === 'a' ? `[${node.e.map(compact).join(', ')}]`
      : node.e.length ? `{${node.e.map(([k, v]) => `${k}: ${compact(v)}`).join(', ')}}` : '{}';
  }
  const inner = `${pad}  `;
  const items = node.k === 'a' ? node.e.map((v) => inner + pretty(v, inner))
    : node.e.map(([k, v]) => `${inner}${k}: ${pretty(v, inner)}`);
  const [open, close] = node.k === 'a' ? ['[', ']'] : ['{', '}'];
  return `${open}\n${items.join(',\n')}\n${pad}${close}`;
}

// ------------------------------------------------------------------ share tokens (zlib + base64url)

async function pipeBytes(bytes, stream) {
  const out = new Response(new Blob([bytes]).stream().pipeThrough(stream));
  return new Uint8Array(await out.arrayBuffer());
}

/** The scenario a share token holds, as the JSON text the server wrote (engine/scenario.py). */
export async function tokenText(token) {
  const b64 = token.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (token.length % 4)) % 4);
  const bin = atob(b64);
  const bytes = Uint8Array.from(bin, (c) => c.charCodeAt(0));
  return new TextDecoder().decode(await pipeBytes(bytes, new DecompressionStream('deflate')));
}

async function makeToken(text) {
  const packed = await pipeBytes(new TextEncoder().encode(text), new CompressionStream('deflate'));
  let bin = '';
  for (const b of packed) bin += String.fromCharCode(b);
  return btoa(bin).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

// ------------------------------------------------------------------ files

const safeName = (s) => String(s).replace(/[^A-Za-z0-9._-]+/g, '_').replace(/^[._]+/, '').slice(0, 100) || 'run';
const shortName = (s) => (s.length > 60 ? `${s.slice(0, 57)}…` : s);

function download(blob, name) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement('a');
  a.href = url;
  a.download = name;
  a.hidden = true;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 30000);
}

/** A canvas as PNG, at its own pixel size, on white (the page's cards are white; a file is not). */
function canvasPng(canvas) {
  const c = document.createElement('canvas');
  c.width = canvas.width;
  c.height = canvas.height;
  const g = c.getContext('2d');
  g.fillStyle = '#ffffff';
  g.fillRect(0, 0, c.width, c.height);
  g.drawImage(canvas, 0, 0);
  return new Promise((resolve, reject) => c.toBlob((b) => (b ? resolve(b) : reject(new Error('toBlob'))), 'image/png'));
}

export class Exporter {
  /** `pictures`: the views drawn into files (read only): {spacetime, canvas} (the topology's). */
  constructor(store, actions, pictures) {
    this.store = store;
    this.actions = actions;
    this.pictures = pictures;
    this.button = document.getElementById('export');
    this.pop = document.getElementById('export-pop');
    this.note = document.getElementById('export-note');
    this.input = document.getElementById('import-file');
    this.importing = false;
    this.button.addEventListener('click', () => this.toggle());
    document.getElementById('export-close').addEventListener('click', () => this.close());
    for (const b of this.pop.querySelectorAll('[data-export]')) {
      b.addEventListener('click', () => this.save(b.dataset.export));
    }
    document.getElementById('import-open').addEventListener('click', () => this.input.click());
    this.input.addEventListener('change', () => {
      const f = this.input.files && this.input.files[0];
      this.input.value = '';   // the same file again is a new choice
      if (f) this.open(f);
    });
    // The popover's buttons take Space and Enter themselves (the bar's Space is play/pause);
    // Escape closes it and gives focus back to Export.
    this.pop.addEventListener('keydown', (e) => {
      if (e.key === ' ' || e.key === 'Spacebar') e.stopPropagation();
      if (e.key === 'Escape') this.close();
    });
    document.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') this.close();
    });
    document.addEventListener('pointerdown', (e) => {
      if (!this.pop.hidden && !this.pop.contains(e.target) && !this.button.contains(e.target)) this.close(false);
    });
    // A file dragged over the page: the page takes it (the browser would open it instead).
    const hasFiles = (e) => e.dataTransfer && [...(e.dataTransfer.types || [])].includes('Files');
    document.addEventListener('dragover', (e) => {
      if (!hasFiles(e)) return;
      e.preventDefault();
      e.dataTransfer.dropEffect = 'copy';
      document.body.classList.add('drop-target');
    });
    document.addEventListener('dragleave', (e) => {
      if (!e.relatedTarget) document.body.classList.remove('drop-target');
    });
    document.addEventListener('drop', (e) => {
      document.body.classList.remove('drop-target');
      if (!hasFiles(e)) return;
      e.preventDefault();
      const f = e.dataTransfer.files && e.dataTransfer.files[0];
      if (f) this.open(f);
    });
  }

  toggle(show = this.pop.hidden) {
    if (!show) return this.close();
    this.pop.hidden = false;
    this.button.setAttribute('aria-expanded', 'true');
    this.note.textContent = t('export.note', { t: fmtMs(this.time()) });
    const first = this.pop.querySelector('[data-export]');
    if (first) first.focus({ preventScroll: true });
    return undefined;
  }

  close(refocus = true) {
    if (this.pop.hidden) return;
    const inside = this.pop.contains(document.activeElement);
    this.pop.hidden = true;
    this.button.setAttribute('aria-expanded', 'false');
    if (inside && refocus) this.button.focus({ preventScroll: true });
  }

  /** The virtual time on screen, in whole ms, never past what the page has been told. */
  time() {
    const store = this.store;
    return Math.max(0, Math.floor(Math.min(store.displayTime(), store.model().t)));
  }

  /** The run's scenario as the server wrote it (its share token), or null. */
  async scenarioText() {
    const token = this.store.state.token;
    if (!token) return null;
    return tokenText(token);
  }

  async baseName(tt) {
    const name = this.store.protocolName();
    let preset = null;
    try {
      const sc = JSON.parse(await this.scenarioText());
      preset = sc && sc.preset;
    } catch {
      /* no token: the protocol's name alone */
    }
    return safeName(`${name}${preset ? `-${preset}` : ''}-t${tt}`);
  }

  async build(kind) {
    const { spacetime, canvas } = this.pictures;
    const tt = this.time();
    const base = await this.baseName(tt);
    if (kind === 'jsonl') {
      const text = await this.scenarioText();
      // A `set` of loss/duplicate to a whole number written as a float (0.0): the engine
      // writes it back as 0.0; the socket's JSON cannot say so, the scenario's text can.
      const floats = [];
      if (text) {
        for (const m of text.matchAll(/"do":"set","param":"\w+","value":(\[[^\]]*\]|[^,}]+)/g)) {
          floats.push(!m[1].startsWith('[') && /[.eE]/.test(m[1]));
        }
      }
      const lines = [];
      let nSet = 0;
      for (const ev of this.store.model().events) {
        if (ev.t > tt) break;
        const float = ev.type === 'set' ? floats[nSet++] : false;
        lines.push(eventLine(ev, float) + '\n');
      }
      return [new Blob(lines, { type: 'application/x-ndjson' }), `${base}.jsonl`];
    }
    if (kind === 'scenario') {
      const text = await this.scenarioText();
      if (!text) throw new Error('no scenario yet');
      return [new Blob([`${pretty(parseRaw(text))}\n`], { type: 'application/json' }), `${base}.json`];
    }
    if (kind === 'svg') {
      return [new Blob([spacetime.toSVG()], { type: 'image/svg+xml' }), `${base}-spacetime.svg`];
    }
    if (kind === 'spacetime-png') return [await canvasPng(spacetime.canvas), `${base}-spacetime.png`];
    if (kind === 'canvas-png') return [await canvasPng(canvas), `${base}-network.png`];
    throw new Error(`unknown export ${kind}`);
  }

  async save(kind) {
    if (!this.store.state.snapshotSeen) return;
    try {
      const [blob, name] = await this.build(kind);
      download(blob, name);
      this.actions.toast(t('export.saved', { name }), 'ok');
    } catch {
      this.actions.toast(t('export.failed'), 'error');
    }
  }

  // ---------------------------------------------------------------- import

  /** Open a scenario file: checked here for size and form, validated by the server. */
  async open(file) {
    const actions = this.actions;
    const name = shortName(file.name || 'scenario.json');
    const fail = (text) => actions.toast(text, 'error');
    if (file.size > MAX_FILE_BYTES) {
      fail(t('import.too_big', { name, size: Math.ceil(file.size / 1024), max: MAX_FILE_BYTES / 1024 }));
      return;
    }
    let text, data, raw;
    try {
      text = await file.text();
      data = JSON.parse(text);
      raw = parseRaw(text.replace(/^\uFEFF/, '').trim());
    } catch {
      fail(t('import.not_json', { name }));
      return;
    }
    if (!data || typeof data !== 'object' || Array.isArray(data)) {
      fail(t('import.not_object', { name }));
      return;
    }
    const flat = compact(raw);
    if (new TextEncoder().encode(flat).length > MAX_SCENARIO_BYTES) {
      fail(t('import.too_big', { name, size: Math.ceil(flat.length / 1024), max: MAX_SCENARIO_BYTES / 1024 }));
      return;
    }
    if (!actions.online()) {
      actions.toast(t('conn.down'), 'warn');
      return;
    }
    // As a share token, so the file's numbers reach the engine as written (and a file with
    // no "v" reads as the CLI reads it); a scenario too big for a link goes as an object.
    const token = await makeToken(flat);
    const spec = token.length <= MAX_TOKEN_CHARS ? { token } : { scenario: data };
    const same = data.protocol === this.store.protocolName();
    this.importing = true;
    let resp;
    try {
      resp = await actions.create(spec, same);   // the same protocol: its snapshot replaces the run on screen
    } finally {
      this.importing = false;
    }
    if (!resp.ok) {
      if (resp.timeout) fail(t('error.timeout'));
      else if (!resp.offline) fail(t('import.failed', { name, error: errorText(resp) }));
      return;
    }
    this.close(false);
    if (same) {
      actions.toast(t('import.opened', { name }), 'ok');
      return;
    }
    // Another protocol: its own page joins the session just made, as its owner.
    try {
      if (resp.control) sessionStorage.setItem(CONTROL_KEY(resp.session), resp.control);
    } catch {
      /* no storage: the page opens it as a watcher, who may fork */
    }
    location.assign(`/play/${encodeURIComponent(data.protocol)}?session=${encodeURIComponent(resp.session)}`);
  }

  /** Errors the server also sends as an `error` event while a file is being opened: the
   *  import says them once, with the file's name. */
  swallows(p) {
    return this.importing && p && (p.code === 'bad_request' || p.code === 'limit');
  }
}
