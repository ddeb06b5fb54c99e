// "Find a bug" in the bugs-and-parameters tab: asks the server to search random fault
// schedules of this session's setup (`hunt`, docs/socket-api.md), shows its progress and
// its outcome, and opens a counterexample as a new run of one's own (as Fork does).

import { t, onLangChange } from './i18n.js';
import { fmtMs } from './format.js';
import { invName, violationText } from './invariants.js';

const DEFAULT_RUNS = 200;   // the server's default (playground/hunts.py)

export class HuntPanel {
  /** store: the page's store (the session); actions: toast, create; net: requests and `hunt` events. */
  constructor(store, actions, net) {
    this.store = store;
    this.actions = actions;
    this.net = net;
    this.start = document.getElementById('hunt-start');
    this.cancelBtn = document.getElementById('hunt-cancel');
    this.bar = document.getElementById('hunt-progress');
    this.status = document.getElementById('hunt-status');
    this.message = document.getElementById('hunt-message');
    this.openBtn = document.getElementById('hunt-open');
    this.last = null;       // the latest `hunt` event of this page's search
    this.id = null;         // the search in progress (null: none)
    this.start.addEventListener('click', () => this.begin());
    this.cancelBtn.addEventListener('click', () => this.cancel());
    this.openBtn.addEventListener('click', () => this.open());
    const socket = net && net.socket;
    if (socket) {
      socket.on('hunt', (p) => this.onHunt(p));
      // A lost connection ends the search on the server (its child is killed).
      socket.on('disconnect', () => {
        if (this.id) this.onHunt({ ...this.last, id: this.id, state: 'cancelled' });
      });
    }
    onLangChange(() => this.render());
    this.render();
  }

  async begin() {
    const session = this.store.state.session;
    if (!session || this.id) return;
    this.last = { state: 'queued', done: 0, runs: DEFAULT_RUNS };
    this.id = 'pending';
    this.render();
    const resp = await this.net.request('hunt', { session });
    if (!resp.ok) {
      // Refused (its reason is shown by the page's error handler) or offline: nothing runs.
      this.id = null;
      this.last = null;
    } else if (!this.last || this.last.id !== resp.id || ['queued', 'running'].includes(this.last.state)) {
      this.id = resp.id;    // (unless its last event came before this answer: then it is over)
    }
    this.render();
  }

  cancel() {
    if (!this.id || this.id === 'pending') return;
    this.net.request('hunt_cancel', { id: this.id });
  }

  onHunt(p) {
    if (!p || typeof p !== 'object') return;
    if (this.id && this.id !== 'pending' && p.id !== this.id) return;   // an older search's
    this.last = p;
    this.id = ['queued', 'running'].includes(p.state) ? p.id : null;
    this.render();
  }

  async open() {
    const found = this.last && this.last.found;
    if (!found) return;
    // As Fork does: a new session of one's own from the token, paused where it breaks; its
    // snapshot switches the page over (and leaves the old session).
    const resp = await this.actions.create({ token: found.token, t: found.t }, true);
    if (resp.ok) this.actions.toast(t('fork.done'), 'ok');
  }

  render() {
    const p = this.last;
    const busy = !!this.id;
    this.start.hidden = busy;
    this.start.title = t('hunt.start.help', { runs: DEFAULT_RUNS });
    this.cancelBtn.hidden = !busy;
    this.cancelBtn.disabled = this.id === 'pending';
    this.bar.hidden = !busy;
    const found = p && p.state === 'done' && p.found;
    this.openBtn.hidden = !found;
    this.message.hidden = !found;
    if (!p) {
      this.status.textContent = '';
      return;
    }
    this.bar.max = p.runs || DEFAULT_RUNS;
    this.bar.value = p.done || 0;
    if (p.state === 'queued') {
      this.status.textContent = p.position ? t('hunt.queued', { position: p.position })
        : t('hunt.running', { done: p.done || 0, runs: p.runs });
    } else if (p.state === 'running') {
      this.status.textContent = t('hunt.running', { done: p.done || 0, runs: p.runs });
    } else if (found) {
      this.status.textContent = t('hunt.found', { done: p.done, invariant: invName(found.invariant),
        t: fmtMs(found.t) });
      this.message.textContent = violationText(found);
    } else if (p.state === 'done') {
      this.status.textContent = t('hunt.none', { runs: p.done });
    } else if (p.state === 'cancelled') {
      this.status.textContent = t('hunt.cancelled');
    } else {
      this.status.textContent = t('hunt.error', { message: p.message || '' });
    }
  }
}
