// The guided lesson panel: the current chapter shown large ("3 / 7"), Next and Back, and
// where playback pauses (at chapters, on a violation, when a message of a kind is sent).
//
// The server owns all of it (docs/socket-api.md, "Lessons"): it pauses the run at a stop and
// moves it between chapters, so a whole class pauses and turns the page together. This panel
// only shows the playback state every batch carries and sends the controller's choices as
// control commands; a watcher sees the same panel, read-only.

import { getLang, onLangChange, t, tn } from './i18n.js';
import { describeEvent } from './log.js';

const $ = (id) => document.getElementById(id);

export class LessonPanel {
  /** cmd(name, value): a control command (a promise); model(): the run's model (events by seq). */
  constructor({ cmd, model }) {
    this.cmd = cmd;
    this.model = model;
    this.root = $('guide');
    this.spec = null;          // the snapshot's `lesson`: {source, chapters | key_notes}
    this.playback = {};
    this.role = 'viewer';
    this.kinds = [];           // message kinds the protocol names (strings "kind.<Kind>")
    this.opened = false;       // a run without chapters of its own: shown once asked for
    this.el = {
      title: $('guide-title'), body: $('guide-body'), progress: $('guide-progress'), status: $('guide-status'),
      back: $('guide-back'), next: $('guide-next'), open: $('guide-open'), close: $('guide-close'),
      chapters: $('guide-stop-chapters'), violation: $('guide-stop-violation'), send: $('guide-stop-send'),
    };
    const e = this.el;
    e.back.addEventListener('click', () => this.go('chapter_prev'));
    e.next.addEventListener('click', () => this.go('chapter_next'));
    e.open.addEventListener('click', () => { this.opened = !this.opened; this.render(); });
    e.close.addEventListener('click', () => { this.opened = false; this.render(); });
    for (const box of [e.chapters, e.violation, e.send]) box.addEventListener('change', () => this.sendStops());
    document.addEventListener('keydown', (ev) => this.onKey(ev));
    // Where playback pauses: a dropdown over the page, closed until asked for (Escape or a click
    // elsewhere closes it), so the panel stays one slim band above the canvas.
    const pauses = $('guide-stops');
    document.addEventListener('pointerdown', (ev) => { if (pauses.open && !pauses.contains(ev.target)) pauses.open = false; });
    pauses.addEventListener('keydown', (ev) => {
      if (ev.key === 'Escape' && pauses.open) {
        pauses.open = false;
        pauses.querySelector('summary').focus();
      }
    });
    onLangChange(() => this.render(true));
  }

  /** A snapshot: a new run, or the same one again (role, protocol, lesson). */
  setRun(p) {
    this.spec = p.lesson || null;
    this.role = p.role === 'controller' ? 'controller' : 'viewer';
    const strings = (p.protocol && p.protocol.strings) || {};
    const kinds = Object.keys(strings).filter((k) => k.startsWith('kind.')).map((k) => k.slice(5));
    if (kinds.join() !== this.kinds.join()) {
      this.kinds = kinds;
      this.fillKinds();
    }
    this.setPlayback(p.playback);
  }

  /** A batch, a seek or a playback event: where the run is in its story. */
  setPlayback(pb) {
    if (!pb || typeof pb !== 'object') return;
    this.playback = pb;
    this.render();
  }

  go(cmd) {
    if (this.role === 'controller') this.cmd(cmd);
  }

  onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey || this.root.hidden) return;
    const tag = ev.target && ev.target.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (ev.target && ev.target.isContentEditable)) return;
    // PageDown / PageUp: what a presenter's clicker sends.
    const cmd = { n: 'chapter_next', PageDown: 'chapter_next', b: 'chapter_prev', PageUp: 'chapter_prev' }[ev.key];
    if (!cmd) return;
    ev.preventDefault();
    this.go(cmd);
  }

  stops() {
    return this.playback.stops || {};
  }

  sendStops() {
    const e = this.el;
    const stops = { chapters: e.chapters.checked, violation: e.violation.checked, send: e.send.value ? [e.send.value] : [] };
    // What stays as it was: node-state stops a teacher's lesson set (no control for them here).
    if (this.stops().state) stops.state = this.stops().state;
    this.cmd('stops', stops);
  }

  fillKinds() {
    const sel = this.el.send;
    sel.textContent = '';
    sel.append(new Option(t('lesson.stop_send_none'), ''));
    for (const k of this.kinds) sel.append(new Option(tn('kind', k), k));
  }

  /** The text of chapter `c` (a found chapter: {index, note?}) in the reader's language. */
  chapterText(c) {
    const list = this.spec && this.spec.chapters;
    if (list && list[c.index]) {
      const pick = (texts) => (texts ? texts[getLang()] || texts.en || texts.zh || '' : '');
      return { title: pick(list[c.index].title), body: pick(list[c.index].body) };
    }
    if (c.note) return { title: describeEvent({ type: 'note', ...c.note }, this.model()), body: '' };
    return { title: '', body: '' };
  }

  stopText(stopped) {
    if (!stopped || stopped.reason === 'chapter') return '';
    const ev = this.model().events[stopped.seq] || {};
    return t(`lesson.stopped.${stopped.reason}`, { kind: tn('kind', ev.kind || '?'), node: ev.node || '?' });
  }

  render(relabel = false) {
    const e = this.el;
    const pb = this.playback;
    const spec = this.spec;
    const guided = !!(spec && spec.source !== 'key_notes');
    const stops = this.stops();
    const stopping = !!(stops.chapters || stops.violation || (stops.send && stops.send.length)
      || (stops.state && stops.state.length));
    const show = !!spec && (guided || stopping || this.opened);
    this.root.hidden = !show;
    e.open.hidden = !spec || guided || stopping;
    e.open.setAttribute('aria-expanded', show ? 'true' : 'false');
    e.close.hidden = guided || stopping;
    document.body.classList.toggle('guided', show);
    if (!show) return;
    if (relabel) this.fillKinds();
    const ch = pb.chapter || { index: -1, found: 0, total: null };
    const controller = this.role === 'controller';
    const text = ch.index >= 0 ? this.chapterText(ch) : { title: t('lesson.none'), body: '' };
    if (e.title.textContent !== text.title) e.title.textContent = text.title;
    if (e.body.textContent !== text.body) e.body.textContent = text.body;
    e.body.hidden = !text.body;
    e.progress.textContent = ch.total !== null && ch.total !== undefined
      ? t('lesson.progress', { n: ch.index + 1, total: ch.total })
      : t('lesson.progress_open', { n: ch.index + 1 });
    const status = this.stopText(pb.stopped) || (controller ? '' : t('lesson.watching'));
    e.status.textContent = status;
    e.status.hidden = !status;
    e.back.disabled = !controller || ch.found === 0;
    e.next.disabled = !controller || pb.done || (ch.total !== null && ch.total !== undefined && ch.found >= ch.total);
    e.chapters.checked = !!stops.chapters;
    e.violation.checked = !!stops.violation;
    e.send.value = (stops.send && stops.send[0]) || '';
    for (const box of [e.chapters, e.violation, e.send]) box.disabled = !controller;
    this.root.dataset.chapter = String(ch.index);
    this.root.dataset.stopped = pb.stopped ? pb.stopped.reason : '';
  }
}
