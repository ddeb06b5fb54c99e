// The caption under the canvas (#narration): the latest protocol note, and a fault the note
// knows nothing of; and what a screen reader hears of the run (#sr-status, politely, at most
// once a second). Drawn from the store each frame.

import { t, tn } from './i18n.js';
import { el, fmtMs } from './format.js';
import { lastNoteAt, lastFaultAt } from './model.js';
import { describeEvent } from './log.js';

// The screen reader's summary of the run changes at most this often (real ms): the newest wins.
const ANNOUNCE_EVERY_MS = 1000;

export class Narration {
  constructor(store) {
    this.store = store;
    this.box = document.getElementById('narration');
    this.key = null;
    store.on('relabel', () => (this.key = null));
  }

  render(scene) {
    const m = this.store.m;
    const note = lastNoteAt(m, scene.t);
    // A fault after the latest note (a crash the note knows nothing of) is flagged before it,
    // so the caption never tells of a node at work that the canvas shows dead.
    let fault = lastFaultAt(m, scene.t);
    if (fault && note && fault.seq < note.seq) fault = null;
    const drop = this.lastUserDrop(scene.t, note);
    const key = `${note ? note.seq : ''}|${fault ? fault.seq : ''}|${drop ? drop.id : ''}|${this.store.langTick}`;
    if (key === this.key) return;
    this.key = key;
    const box = this.box;
    box.classList.toggle('empty', !note && !fault);
    const parts = [];
    const whole = [];
    if (fault) {
      // The latest fault, and how many more came since the note (a cut, then a crash).
      let more = 0;
      for (let i = m.faults.indexOf(fault) - 1; i >= 0; i--) {
        if (note && m.faults[i].seq < note.seq) break;
        more++;
      }
      const what = t(`narr.${fault.type}`, { node: fault.node }) + (more ? t('narr.more', { count: more }) : '');
      parts.push(el('span', { class: 'narr-fault', text: `${fmtMs(fault.t)} · ${what}` }));
      whole.push(`${fmtMs(fault.t)} · ${what}`);
    }
    if (note) {
      const text = describeEvent(note, m);
      parts.push(el('span', { class: 'narr-t', text: fmtMs(note.t) }), el('span', { text }));
      whole.push(`${fmtMs(note.t)} ${text}`);
    }
    box.replaceChildren(...parts);
    box.title = whole.join('\n'); // a caption cut at two lines reads whole on hover
    // A screen reader hears the caption, and a message the reader dropped since the note.
    const said = drop ? [`${fmtMs(drop.end_t)} · ${t('log.drop', {
      src: drop.src, dst: drop.dst, kind: tn('kind', drop.kind), id: drop.id, reason: tn('reason', 'user'),
    })}`, ...whole] : whole;
    if (said.length) this.announce(said.join('. '));
  }

  /** The newest message dropped by a person at or before `tt`, if no newer than `note`. */
  lastUserDrop(tt, note) {
    const drops = this.store.m.drops;
    for (let i = drops.length - 1; i >= 0; i--) {
      const d = drops[i];
      if (note && d.end_t < note.t) return null;
      if (d.end_t <= tt && d.reason === 'user') return d;
    }
    return null;
  }

  /** Tell a screen reader what just happened: `text` politely, at most once a second (the
   *  newest wins, so a fast run never floods it). */
  announce(text) {
    this.srPending = text;
    if (this.srTimer) return;
    const wait = Math.max(0, (this.srAt || -Infinity) + ANNOUNCE_EVERY_MS - performance.now());
    this.srTimer = setTimeout(() => {
      this.srTimer = null;
      this.srAt = performance.now();
      const box = document.getElementById('sr-status');
      if (box.textContent !== this.srPending) box.textContent = this.srPending;
    }, wait);
  }
}
