// Virtual-time scrubber (#timeline, an <input type="range">): dragging
// previews the run locally (the model keeps every event since t=0); releasing
// sends `seek`. Marks show faults and violations along the run.

import { t } from './i18n.js';
import { el, fmtMs } from './format.js';

const MARK_TYPES = new Set(['crash', 'restart', 'partition', 'heal', 'request', 'violation', 'duplicate', 'set']);

export class Timeline {
  constructor({ input, marks, readout, onPreview, onSeek }) {
    this.input = input;
    this.marks = marks;
    this.readout = readout;
    this.onPreview = onPreview;
    this.onSeek = onSeek;
    this.dragging = false;
    this.until = 10000;
    this.markModel = null;
    this.marksCount = null;
    input.min = '0';
    input.step = '1';
    const start = () => {
      if (!input.disabled) this.dragging = true;
    };
    input.addEventListener('pointerdown', start);
    input.addEventListener('input', () => {
      this.dragging = true;
      this.onPreview(Number(input.value));
    });
    input.addEventListener('change', () => {
      this.dragging = false;
      this.onSeek(Number(input.value));
    });
    input.addEventListener('pointerup', () => {
      // A click without movement fires no change event: end the drag anyway.
      setTimeout(() => {
        if (this.dragging) {
          this.dragging = false;
          this.onPreview(null);
        }
      }, 0);
    });
  }

  setEnabled(on) {
    this.input.disabled = !on;
  }

  update(displayT, reachedT, until, model) {
    if (until && until !== this.until) {
      this.until = until;
      this.input.max = String(until);
    }
    if (!this.dragging) this.input.value = String(Math.round(displayT));
    const pct = (v) => `${Math.max(0, Math.min(100, (100 * v) / (this.until || 1)))}%`;
    this.input.style.setProperty('--reached', pct(reachedT));
    this.input.style.setProperty('--pos', pct(this.dragging ? Number(this.input.value) : displayT));
    const shown = this.dragging ? Number(this.input.value) : displayT;
    const text = `${fmtMs(shown)} / ${fmtMs(this.until)}`;
    if (this.readout.textContent !== text) this.readout.textContent = text;
    this.renderMarks(model);
  }

  renderMarks(model) {
    if (model !== this.markModel || this.scanned > model.events.length) {   // a new run, or a rewind
      this.markModel = model;
      this.scanned = 0;
      this.found = [];
      this.marksCount = null;
    }
    const evs = model.events;
    for (; this.scanned < evs.length; this.scanned++) {
      const ev = evs[this.scanned];
      if (MARK_TYPES.has(ev.type) || (ev.type === 'drop' && ev.reason === 'user')) this.found.push(ev);
    }
    const countKey = `${this.found.length}|${this.until}`;
    if (countKey === this.marksCount) return;
    // Under a heavy client load marks arrive dozens a second: redraw them a few times a second.
    const now = performance.now();
    if (this.marksCount !== null && now - (this.marksAt || 0) < 250) return;
    this.marksAt = now;
    this.marksCount = countKey;
    const frag = document.createDocumentFragment();
    for (const ev of this.found.slice(-300)) {
      const m = el('span', {
        class: `mark mark-${ev.type}`,
        title: `${t(`event.${ev.type}`, null, ev.type)} · ${fmtMs(ev.t)}`,
      });
      m.style.left = `${Math.max(0, Math.min(100, (100 * ev.t) / (this.until || 1)))}%`;
      frag.append(m);
    }
    this.marks.replaceChildren(frag);
  }

  relabel() {
    this.marksCount = null;
  }
}
