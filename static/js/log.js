// Event log: one readable, translated line per trace event, newest at the
// bottom, up to the displayed time. Only the tail is rendered.

import { has, t, tn } from './i18n.js';
import { invName, violationText } from './invariants.js';
import { el, fmtBody, fmtReadable, fmtValue } from './format.js';

const MAX_LINES = 250;
const APPEND_EVERY_MS = 100; // while a run streams, new lines are added in small bursts, not every frame
// ... and at most this many per burst: a busy run streams thousands of events a second, more than
// anyone reads and more than the page can lay out; the rest are counted ("… 120 more"), never drawn.
const APPEND_MAX = 30;

// Filters: which events a view shows.
const QUIET = new Set(['state', 'crash', 'restart', 'request', 'reply', 'violation', 'note', 'partition', 'heal',
  'set', 'drop', 'duplicate', 'timer']);
const STORY = new Set(['crash', 'restart', 'request', 'reply', 'violation', 'note', 'partition', 'heal', 'set',
  'duplicate']);
const FILTERS = {
  all: null,
  quiet: (ev) => QUIET.has(ev.type),
  // The narration and every fault, the ones a person made included (a drop, a forced timer).
  story: (ev) => STORY.has(ev.type) || (ev.type === 'drop' && ev.reason === 'user') || (ev.type === 'timer' && ev.forced),
};

// Not worth a word in the log: `up` (the crash or restart line says it), the canvas label (derived).
const UNLOGGED_FIELDS = new Set(['up', 'label']);

function fmtChanges(changes) {
  return Object.entries(changes || {})
    .filter(([k]) => !UNLOGGED_FIELDS.has(k))
    .map(([k, v]) => `${tn('field', k)}=${k === 'role' && typeof v === 'string' ? tn('role', v) : fmtField(v)}`)
    .join(', ');
}

/** A field's value for a log line: {tx1: PREPARED}, not JSON. */
function fmtField(v) {
  return fmtReadable(v, v && typeof v === 'object' ? 60 : 40);
}

/** A state event that changed only unlogged fields (a crash's `up`) gets no line of its own. */
function worthALine(ev) {
  return ev.type !== 'state' || Object.keys(ev.changes || {}).some((k) => !UNLOGGED_FIELDS.has(k));
}

/** One line of text for a trace event (translated). */
export function describeEvent(ev, model) {
  const msg = ev.id !== undefined && model ? model.byId.get(ev.id) : null;
  const m = msg || {};
  const kind = m.kind !== undefined ? tn('kind', m.kind) : '?';
  switch (ev.type) {
    case 'send':
      return t('log.send', { src: ev.src, dst: ev.dst, kind: tn('kind', ev.kind), id: ev.id, body: fmtBody(ev.body) });
    case 'deliver':
      return t('log.deliver', { src: m.src, dst: m.dst, kind, id: ev.id });
    case 'drop':
      return t('log.drop', { src: m.src, dst: m.dst, kind, id: ev.id, reason: tn('reason', ev.reason || 'user') });
    case 'duplicate':
      return t('log.duplicate', { src: m.src, dst: m.dst, kind, id: ev.id, new_id: ev.new_id });
    case 'timer':
      return t('log.timer', { node: ev.node, name: tn('timer', ev.name) });
    case 'state':
      return t('log.state', { node: ev.node, changes: fmtChanges(ev.changes) });
    case 'crash':
      return t('log.crash', { node: ev.node });
    case 'restart':
      return t('log.restart', { node: ev.node });
    case 'request':
      return t('log.request', { node: ev.node, op: tn('op', ev.op), arg: ev.arg ? ` “${ev.arg}”` : '' });
    case 'reply':
      return t('log.reply', { node: ev.node, op: tn('op', ev.op), result: fmtValue(ev.result, 60) });
    case 'violation':
      return t('log.violation', { invariant: invName(ev.invariant), message: violationText(ev) });
    case 'note': {
      const args = { ...(ev.args || {}) };
      let key = ev.key;
      if (key === 'engine.skipped') {
        if (args.do) args.do = tn('action', args.do);
        // A translated reason when the engine gives its code; else the English reason as is.
        if (args.why && has(`engine.skipped.${args.why}`)) {
          if (args.timer) args.timer = tn('timer', args.timer);
          key = `engine.skipped.${args.why}`;
        }
      }
      const text = t(key, args, `${ev.key} ${fmtBody(ev.args)}`);
      return ev.node ? `${ev.node}: ${text}` : text;
    }
    case 'partition':
      return t('log.partition', { groups: (ev.groups || []).map((g) => g.join(' ')).join('  |  ') });
    case 'heal':
      return t('log.heal');
    case 'set':
      return t('log.set', { param: tn('net', ev.param), value: fmtValue(ev.value, 30) });
    default:
      return fmtBody(Object.fromEntries(Object.entries(ev).filter(([k]) => !['seq', 't', 'type'].includes(k))));
  }
}

export class EventLog {
  constructor(root, filterSelect) {
    this.root = root;
    this.filter = 'all';
    this.model = null;
    this.count = 0;
    this.shownFilter = null;
    this.stick = true; // follow the newest line unless the user scrolled up
    this.gaps = false; // lines were left out while streaming (see APPEND_MAX)
    this.setTop = null; // the scrollTop we last put the log at
    root.addEventListener('scroll', () => {
      const top = root.scrollTop;
      if (top + root.clientHeight >= root.scrollHeight - 24) {
        this.stick = true;
        return;
      }
      // Our own scrolling (and layout settling after it) leaves the log at or below where we put
      // it; only the reader moves it up. Judging by position alone lost the tail under load.
      if (this.setTop !== null && top >= this.setTop - 4) return;
      this.stick = false;
    });
    if (filterSelect) {
      filterSelect.addEventListener('change', () => {
        this.filter = filterSelect.value in FILTERS ? filterSelect.value : 'all';
      });
    }
  }

  line(ev, model) {
    const text = describeEvent(ev, model);
    return el('li', { class: `ev ev-${ev.type}`, dataset: { seq: ev.seq, type: ev.type }, title: text }, [
      el('span', { class: 'ev-t', text: String(Math.round(ev.t)) }),
      el('span', { class: 'ev-type', text: tn('event', ev.type) }),
      el('span', { class: 'ev-text', text }),
    ]);
  }

  /** Render the tail of model.events[0 .. count): appended to while the run goes on, rebuilt otherwise. */
  render(model, count, force = false) {
    const filter = FILTERS[this.filter];
    const only = (ev) => worthALine(ev) && (!filter || filter(ev));
    const evs = model.events;
    count = Math.min(count, evs.length);
    if (!force && model === this.model && this.filter === this.shownFilter && count === this.count) return;
    const append = !force && model === this.model && this.filter === this.shownFilter && count > this.count
      && count - this.count < MAX_LINES
      && this.root.firstChild && !this.root.firstChild.classList.contains('ev-empty');
    const now = performance.now();
    if (append && now - (this.appendedAt || 0) < APPEND_EVERY_MS) return;
    this.appendedAt = now;
    const frag = document.createDocumentFragment();
    let added = 0;
    if (append) {
      const fresh = [];
      for (let i = this.count; i < count; i++) if (only(evs[i])) fresh.push(evs[i]);
      const skipped = fresh.length - APPEND_MAX;
      if (skipped > 0) {
        frag.append(el('li', { class: 'ev-skipped', text: t('log.skipped', { count: skipped }) }));
        this.gaps = true;   // filled in by the next full render (when the run pauses)
      }
      for (const ev of skipped > 0 ? fresh.slice(skipped) : fresh) {
        frag.append(this.line(ev, model));
        added++;
      }
      if (added) {
        this.root.append(frag);
        while (this.root.childElementCount > MAX_LINES) this.root.firstChild.remove();
      }
    } else {
      const lines = [];
      for (let i = count - 1; i >= 0 && lines.length < MAX_LINES; i--) {
        if (!only(evs[i])) continue;
        lines.push(evs[i]);
      }
      lines.reverse();
      this.gaps = false;
      for (const ev of lines) frag.append(this.line(ev, model));
      if (!lines.length) frag.append(el('li', { class: 'muted ev-empty', text: t('log.empty') }));
      this.root.replaceChildren(frag);
    }
    this.model = model;
    this.count = count;
    this.shownFilter = this.filter;
    if (this.stick) {
      this.root.scrollTop = this.root.scrollHeight;
      this.setTop = this.root.scrollTop; // clamped to the real bottom
    }
  }
}
