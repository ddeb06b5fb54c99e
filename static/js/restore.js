// A run that survives its server (docs/socket-api.md, "Reloading after a restart").
//
// Sessions live in the server's memory: after a restart `?session=ID` names nothing. So every
// play page, owner's or watcher's, keeps the run it shows where a reload finds it:
//   - in its address bar: /play/<p>?session=ID&s=TOKEN&t=T (history.replaceState), so a
//     reload, or the link copied from the address bar into another browser, carries the run;
//     the server joins the live session when there is one and ignores s= and t=, and when
//     there is none it serves the page to rebuild the run from them;
//   - in sessionStorage under `pp.run.<ID>` ({protocol, token, t}): always, and on `pagehide`
//     too, so it is never behind the address bar. It is the fallback when the link would be too
//     long for a request line (a share token may take 7,900 of the 8 KiB servers accept) and the
//     fresher copy on a reload in the same tab. sessionStorage, not localStorage: one tab's runs,
//     gone with the tab, like the control token beside it; nothing piles up across visits.
// The control token is never in the link: a watcher who reloads joins the live session as a
// watcher again, and after a restart rebuilds a copy of its own.

import { t } from './i18n.js';
import { fmtMs } from './format.js';

const KEY = (session) => `pp.run.${session}`;
// The whole address (it is also sent as the Referer header of every request the page makes)
// stays under the 8,192-byte request and header lines eventlet and nginx accept by default.
export const MAX_URL_CHARS = 8000;
const URGENT_MS = 200;     // a new token (an action, a fork): written almost at once
const CALM_MS = 1000;      // time moving on while it plays: at most once a second

export function recallRun(session) {
  if (!session) return null;
  try {
    const kept = JSON.parse(sessionStorage.getItem(KEY(session)) || 'null');
    if (kept && typeof kept.token === 'string' && kept.token && Number.isInteger(kept.t) && kept.t >= 0) return kept;
  } catch {
    /* storage unavailable or unreadable: nothing kept */
  }
  return null;
}

export function forgetRun(session) {
  try {
    sessionStorage.removeItem(KEY(session));
  } catch {
    /* nothing to forget */
  }
}

function storeRun(session, run) {
  try {
    sessionStorage.setItem(KEY(session), JSON.stringify(run));
  } catch {
    /* storage full or unavailable: the address bar still has the run when it fits */
  }
}

/** The address that reopens this run: ?session=ID&s=TOKEN&t=T, or only ?session=ID when the
 *  token would make it too long (sessionStorage has it then). */
export function runSearch(session, token, tt) {
  // A frame of the side-by-side page stays one when the browser brings it back (embed.js).
  const embed = new URLSearchParams(location.search).get('embed') === '1' ? '&embed=1' : '';
  const short = `?session=${encodeURIComponent(session)}${embed}`;
  if (!token) return short;
  const long = `${short}&s=${encodeURIComponent(token)}&t=${tt}`;
  return location.origin.length + location.pathname.length + long.length <= MAX_URL_CHARS ? long : short;
}

/** Writes the page's run (session, token, time) to the address bar and sessionStorage. */
export class RunKeeper {
  constructor(current) {
    this.current = current;   // () => {protocol, session, token, t} | null
    this.written = null;
    this.lastAt = -Infinity;
    this.timer = null;
    window.addEventListener('pagehide', () => this.flush());
  }

  /** Something changed: write it soon (a new token sooner than time moving on). */
  touch() {
    const run = this.current();
    if (!run || !run.session || this.timer) return;
    const urgent = !this.written || this.written.session !== run.session || this.written.token !== run.token;
    const wait = Math.max(0, this.lastAt + (urgent ? URGENT_MS : CALM_MS) - performance.now());
    this.timer = setTimeout(() => this.flush(), wait);
  }

  flush() {
    clearTimeout(this.timer);
    this.timer = null;
    const run = this.current();
    if (!run || !run.session) return;
    const w = this.written;
    if (w && w.session === run.session && w.token === run.token && w.t === run.t) return;
    this.written = run;
    this.lastAt = performance.now();
    if (run.token) storeRun(run.session, { protocol: run.protocol, token: run.token, t: run.t });
    const search = runSearch(run.session, run.token, run.t);
    if (location.search === search) return;
    try {
      history.replaceState(history.state, '', `${location.pathname}${search}`);
    } catch {
      /* a sandboxed page: sessionStorage alone keeps the run */
    }
  }
}

/** The banner that says the live session was gone and the run was rebuilt from its link. */
export class RebuiltNotice {
  constructor(root) {
    this.root = root;
    this.text = root.querySelector('.bn-text');
    this.at = null;
    root.querySelector('.bn-dismiss').addEventListener('click', () => this.hide());
  }

  show(at) {
    this.at = at;
    this.render();
  }

  hide() {
    const hadFocus = this.root.contains(document.activeElement);
    this.at = null;
    this.render();
    // Focus would fall to the page's start: keep it near, on the run's main control.
    const play = document.getElementById('play');
    if (hadFocus && play && !play.disabled) play.focus();
  }

  render() {
    if (this.at === null) {
      this.root.hidden = true;
      return;
    }
    this.text.textContent = t('session.restored', { t: fmtMs(this.at) });
    this.root.hidden = false;
  }
}
