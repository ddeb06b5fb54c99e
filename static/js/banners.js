// What the page says about the run around the canvas, drawn from the store: the violation
// banner (#violation-banner, read out once through #sr-alert), the status line (#status), the
// connection light and the cover over a lost canvas (#conn, #canvas-overlay), and who you are
// (#role-badge, the watcher's #viewer-banner).

import { t } from './i18n.js';
import { fmtMs } from './format.js';
import { invName, violationText } from './invariants.js';

const $ = (id) => document.getElementById(id);

export class ViolationBanner {
  constructor(store, actions) {
    this.store = store;
    this.key = null;
    this.said = new Set();   // session|seq of the violations read out already
    store.on('relabel', () => (this.key = null));
    $('violation-close').addEventListener('click', () => actions.dismissViolation());
    $('violation-banner').addEventListener('click', (e) => {
      if (e.target.closest('#violation-close')) return;
      const v = store.latestViolation();
      if (v) actions.focusViolation(v);
    });
  }

  render(scene) {
    const st = this.store.state;
    const vs = scene.violations;
    let v = st.focusViolation && vs.some((x) => x.seq === st.focusViolation.seq) ? st.focusViolation : null;
    if (!v && vs.length && vs[vs.length - 1].seq !== st.dismissedViolation) v = vs[vs.length - 1];
    const key = `${v ? v.seq : ''}|${this.store.langTick}`;
    if (key === this.key) return;
    this.key = key;
    const box = $('violation-banner');
    if (!v) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    // Read out once, assertively: each violation the first time it shows (not again on a rewind).
    const said = `${st.session}|${v.seq}`;
    if (!this.said.has(said)) {
      this.said.add(said);
      $('sr-alert').textContent = `${t('violation.title', { invariant: invName(v.invariant) })}. ${violationText(v)}`;
    }
    $('violation-title').textContent = t('violation.title', { invariant: invName(v.invariant) });
    $('violation-text').textContent = violationText(v);
    const nodes = v.nodes && v.nodes.length ? t('invariants.nodes', { nodes: v.nodes.join(', ') }) : '';
    $('violation-meta').textContent = [fmtMs(v.t), v.eventual ? t('invariants.eventual') : '', nodes]
      .filter(Boolean).join(' · ');
  }
}

export class StatusLine {
  constructor(store) {
    this.store = store;
    this.key = null;
  }

  render(scene) {
    const st = this.store.state;
    const clock = this.store.clock;
    const key = `${st.viewers}|${st.role}|${scene.inflight.length}|${st.preview !== null}|${this.store.langTick}|${clock.done}`;
    if (key === this.key) return;
    this.key = key;
    const parts = [t('status.inflight', { count: scene.inflight.length })];
    // The owner sees how many others watch (the class); a watcher has the banner instead.
    if (st.role === 'controller' && st.viewers > 1) parts.push(t('status.viewers', { count: st.viewers - 1 }));
    if (st.preview !== null) parts.push(t('status.preview'));
    if (clock.done) parts.push(t('status.done'));
    $('status').textContent = parts.join(' · ');
  }
}

/** The connection light, and the cover over the canvas while the server is lost mid-run. */
export class ConnectionLight {
  constructor(store) {
    this.store = store;
    store.on('connection', () => this.render());
    store.on('relabel', () => this.render());
  }

  render() {
    const st = this.store.state;
    const on = st.connected;
    const dot = $('conn');
    dot.dataset.state = on ? 'on' : 'off';
    // Before the first snapshot "connecting"; after it, the connection was lost.
    const text = on ? t('conn.on') : t(st.ready ? 'conn.down' : 'conn.off');
    dot.title = text;
    const label = dot.querySelector('.conn-label');
    if (label) label.textContent = text;
    const cover = $('canvas-overlay');
    if (!on && st.ready) {
      cover.querySelector('[data-i18n]').textContent = t('conn.lost');
      cover.hidden = false;
    } else if (on && st.ready) {
      cover.hidden = true;
    }
  }
}

/** Who this page is: the owner (controller) or a watcher (the banner that says so). */
export function renderRole(store) {
  const role = store.state.role;
  const controller = role === 'controller';
  document.body.dataset.role = role || '';
  $('viewer-banner').hidden = controller;
  $('role-badge').textContent = controller ? t('session.controller') : t('session.viewer');
  $('role-badge').dataset.role = role || '';
}
