// The session's lifecycle: connect, create or join a session (or resume or rebuild a gone one),
// and fold what the server sends (snapshots, event batches, seeks, playback, refusals) into the
// store. With actions.js, the only module that changes the store: this one for what the server
// says, that one for what a person does. It tells the views through the store's topics
// (protocol, run, seek, role, connection, relabel).

import { addStrings, translatePage, t } from './i18n.js';
import { Net, newRoute, routeOf } from './net.js';
import { fromSnapshot, setArmed, applyEvents, advanceTo, truncate } from './model.js';
import { RunKeeper, RebuiltNotice, recallRun, forgetRun } from './restore.js';
import { errorText } from './toasts.js';

const $ = (id) => document.getElementById(id);
// Refusals that only say there is nothing to do: shown plainly, not as errors.
const NOTICES = new Set(['refused.idle', 'refused.quiet']);
// A watcher whose session's process died waits this long for the owner to bring it back.
const REJOIN_TRIES = 12;
const REJOIN_GAP_MS = 1000;

const CONTROL_KEY = (session) => `pp.control.${session}`;
function rememberControl(session, control) {
  try {
    if (control) sessionStorage.setItem(CONTROL_KEY(session), control);
  } catch {
    /* storage unavailable: a reload just watches */
  }
}
function recallControl(session) {
  try {
    return sessionStorage.getItem(CONTROL_KEY(session));
  } catch {
    return null;
  }
}

export class Session {
  /** `swallows(p)`: true for a refusal another part of the page reports itself (a file being opened). */
  constructor(store, actions, { swallows = () => false } = {}) {
    this.store = store;
    this.actions = actions;
    this.swallows = swallows;
    this.boot = store.boot;
    this.rejoining = false;     // a join whose refusal is expected: no error toast
    this.goneSession = null;    // a session that vanished: nobody to leave
    // The run kept in the address bar and sessionStorage, so a reload after a server restart
    // rebuilds it (restore.js); the banner that says a reload did.
    this.keeper = new RunKeeper(() => this.keptRun());
    this.rebuiltNotice = new RebuiltNotice($('rebuilt-notice'));
    store.on('relabel', () => {
      this.setDocTitle();
      this.rebuiltNotice.render();
    });
    if (store.proto) this.setProtocol(store.proto);
    const b = this.boot;
    this.net = new Net({
      onConnect: (again) => this.onConnect(again),
      onDisconnect: () => this.setConnected(false),
      onOffline: () => actions.toast(t('conn.down'), 'warn'),   // a request refused: not sent, not kept
      onSnapshot: (p) => this.onSnapshot(p),
      onEvents: (p) => this.onEvents(p),
      onSeek: (p) => this.onSeek(p),
      onPlayback: (p) => this.onPlayback(p),
      onError: (p) => this.onError(p),
    }, b.session || b.rebuilt ? routeOf(b.session || b.rebuilt) : newRoute());
  }

  // ------------------------------------------------------------ connection

  setConnected(on) {
    const st = this.store.state;
    st.connected = on;
    // Losing the server mid-run: stop the clock (nothing plays without it) and close the menus
    // (the cover takes the canvas's clicks until the server is back); the reconnect rejoins and
    // its snapshot takes the cover off again.
    if (!on && st.ready) {
      this.store.clock.playing = false;
      this.actions.closeMenus();
    }
    this.store.emit('connection', on);
    if (st.snapshotSeen) this.store.emit('role');
  }

  /** The first frame with a run is drawn: the cover comes off. */
  markReady() {
    this.store.state.ready = true;
    $('canvas-overlay').hidden = true;
    document.body.classList.add('ready');
  }

  createSpec() {
    const b = this.boot;
    let spec;
    if (b.token) spec = { token: b.token };
    else if (b.preset) spec = { protocol: b.protocol, preset: b.preset };
    else spec = { scenario: { protocol: b.protocol } };
    if (typeof b.t === 'number') spec.t = b.t; // ?t= opens any run paused at that moment
    return spec;
  }

  async onConnect(again) {
    this.setConnected(true);
    const st = this.store.state;
    if (again && st.session) {
      // Reconnected: re-join the same session (the server sends a fresh snapshot).
      this.rejoining = true;
      let resp;
      try {
        resp = await this.net.join(st.session, st.control);
      } finally {
        this.rejoining = false;
      }
      if (!resp.ok && !resp.timeout) {
        // The session is gone: its process died (a cluster), or the server restarted or expired
        // it. The owner brings the run back from its share token under the same id, which
        // another process of a cluster accepts (docs/scale-out.md); a watcher waits a little for
        // that. Otherwise the owner goes on with a new session, and a watcher gets its own copy
        // and is told the live link is gone (the owner's rebuilt run has a new one).
        const owner = st.role === 'controller';
        if (!owner && resp.resumable && await this.rejoin()) return;
        this.goneSession = st.session;
        const resume = owner && st.control ? { resume: { session: st.session, control: st.control } } : {};
        const spec = st.token ? { token: st.token, t: Math.round(this.store.m.t), ...resume }
          : { scenario: { protocol: this.boot.protocol } };
        const made = await this.createFrom(spec);
        if (made.resumed) this.goneSession = null;
        this.actions.toast(t(made.resumed ? 'session.moved' : owner ? 'session.rebuilt' : 'session.watch_lost'),
          owner ? 'ok' : 'warn');
      }
      return;
    }
    if (this.boot.rebuilt) {
      // The live session was gone when the page was asked for: rebuild its run (docs/socket-api.md).
      if (!(await this.rebuild(this.boot.rebuilt))) {
        location.replace(`${location.pathname}?session=${encodeURIComponent(this.boot.rebuilt)}`);   // "ended"
      }
      return;
    }
    if (this.boot.session) {
      const control = recallControl(this.boot.session);
      st.session = this.boot.session;
      const resp = await this.net.join(this.boot.session, control);
      if (!resp.ok && !resp.timeout && !st.snapshotSeen && !(await this.rebuild(this.boot.session))) {
        this.goneSession = this.boot.session;
        this.actions.toast(t('error.session.gone'), 'warn');
        this.createFrom({ scenario: { protocol: this.boot.protocol } });
      }
      return;
    }
    this.createFrom(this.createSpec());
  }

  /** A watcher, reconnected to a process that does not hold the session, which says sessions
   *  can come back (a cluster, docs/scale-out.md): its owner may be bringing it back. Try again
   *  for a few seconds. True when it came back. */
  async rejoin() {
    for (let i = 0; i < REJOIN_TRIES; i++) {
      await new Promise((r) => setTimeout(r, REJOIN_GAP_MS));
      if (!this.net.connected) return false;     // the next connect starts over
      this.rejoining = true;                     // its refusals are expected: no error toast
      let resp;
      try {
        resp = await this.net.join(this.store.state.session, null);
      } finally {
        this.rejoining = false;
      }
      if (resp.ok) {
        this.actions.toast(t('session.moved'), 'ok');
        return true;
      }
      if (resp.timeout) return false;
    }
    return false;
  }

  /** A live session that is gone (the server restarted, or it ended): its run as a new session
   *  of this page's own, paused where it was, from this tab's sessionStorage (never behind the
   *  address bar: written with it and on pagehide) or else the link's s= and t=. The old control
   *  token means nothing now; whoever reloads owns the copy, a watcher included (the teacher's
   *  run is no more: each gets its own). False when nothing was kept. */
  async rebuild(gone) {
    const b = this.boot;
    const stored = recallRun(gone);
    const kept = stored && stored.protocol === b.protocol ? stored
      : b.token ? { token: b.token, t: typeof b.t === 'number' ? b.t : 0 } : null;
    if (!kept) return false;
    this.goneSession = gone;
    // The owner of a run whose process died may get it back under the same id (a cluster).
    const control = recallControl(gone);
    const resp = await this.createFrom({ token: kept.token, t: kept.t,
      ...(control ? { resume: { session: gone, control } } : {}) });
    if (resp.ok && resp.resumed) {
      this.goneSession = null;
      forgetRun(gone);
      this.actions.toast(t('session.moved'), 'ok');
    } else if (resp.ok) {
      forgetRun(gone);
      this.rebuiltNotice.show(kept.t);
    }
    return true;
  }

  /** What a reload needs to rebuild this page's run (restore.js). */
  keptRun() {
    const st = this.store.state;
    if (!st.snapshotSeen || !st.session) return null;
    const protocol = this.store.protocolName();
    return { protocol, session: st.session, token: st.token, t: Math.max(0, Math.floor(this.store.m.t)) };
  }

  async createFrom(spec) {
    // The snapshot that follows (before or after the ack) carries the session.
    const st = this.store.state;
    st.awaitingCreate = true;
    const resp = await this.net.create(spec);
    if (!resp.ok && !resp.timeout) st.awaitingCreate = false;
    return resp;
  }

  setProtocol(proto) {
    const store = this.store;
    store.proto = proto;
    addStrings(proto.strings);
    if (this.stringsFor !== proto.name) {
      // The page was translated before these strings existed (the header's protocol title):
      // translate it again, once per protocol (it resets labels the views set, so they redraw).
      this.stringsFor = proto.name;
      translatePage();
      store.langTick++;
      this.setDocTitle();
    }
    store.emit('protocol', proto);
  }

  setDocTitle() {
    const proto = this.store.proto;
    if (proto) document.title = `${t('title', null, proto.title)} · ${t('app.name')}`;
  }

  // ------------------------------------------------------------ what the server sends

  onSnapshot(p) {
    if (!p || typeof p !== 'object') return;
    const store = this.store;
    const st = store.state;
    if (st.session && p.session !== st.session && !st.awaitingCreate) return;
    const old = st.session;
    if (old && old !== p.session) {
      if (old !== this.goneSession) this.net.leave(old); // a vanished session has nobody to leave
      st.focusViolation = null;
      st.dismissedViolation = null;
    }
    st.awaitingCreate = false;
    st.session = p.session;
    st.role = p.role === 'controller' ? 'controller' : 'viewer';
    if (p.control) st.control = p.control;
    else if (st.role !== 'controller') st.control = null;
    if (st.control) rememberControl(st.session, st.control);
    this.net.setSession(st.session, st.control);
    st.token = p.token || st.token;
    st.scenario = p.scenario || st.scenario;
    st.viewers = p.viewers || 0;
    if (p.protocol && p.protocol.name) this.setProtocol(p.protocol);

    store.m = fromSnapshot(p);
    setArmed(store.m, p);
    store.clock.reset(p.playback || {});
    store.clock.until = (st.scenario && st.scenario.until) || Infinity;
    // "Continue" at the end plays on as long again as the run first was on this page.
    if (!store.firstUntil.has(p.session) && st.scenario && st.scenario.until) store.firstUntil.set(p.session, st.scenario.until);
    if (!st.selected || !store.m.ids.includes(st.selected)) st.selected = store.m.ids[0] || null;
    st.partitionGroups = [[]];
    st.preview = null;
    st.snapshotSeen = true;
    // The views take the new run (its nodes, layout, scenario), then draw their words again.
    store.emit('run', p);
    store.emit('playback', p.playback || {});
    store.emit('role');
    store.emit('relabel');
    // Every page's address bar names its session and run (owner's and watcher's alike): a reload
    // joins it again (the owner with the control token kept in sessionStorage), and after a
    // server restart rebuilds the run from it (restore.js).
    this.keeper.touch();
  }

  onEvents(p) {
    const store = this.store;
    const m = store.m;
    if (!p || p.session !== store.state.session) return;
    const evs = p.events || [];
    if (evs.length && typeof evs[0].seq === 'number' && evs[0].seq !== m.events.length) {
      // A gap or an overlap: ask for a fresh snapshot instead of guessing.
      if (evs[0].seq > m.events.length) this.net.join(store.state.session, store.state.control);
      const fresh = evs.filter((e) => e.seq >= m.events.length);
      if (!fresh.length || fresh[0].seq !== m.events.length) return;
      applyEvents(m, fresh);
    } else {
      applyEvents(m, evs);
    }
    this.landAt(p, 'apply');
  }

  /** What a batch and a seek end with: the model and the clock at the server's time (`move`,
   *  the clock's `apply` for a batch or `reset` for a jump), the viewers, the share token and
   *  the timer rings; then the panels hear the playback. */
  landAt(p, move) {
    const store = this.store;
    if (p.playback) {
      advanceTo(store.m, p.playback.t);
      store.clock[move](p.playback);
      if (typeof p.playback.viewers === 'number') store.state.viewers = p.playback.viewers;
    }
    if (p.token) store.state.token = p.token;
    setArmed(store.m, p);
    if (p.playback) store.emit('playback', p.playback);
    this.keeper.touch();
  }

  /** A seek (docs/socket-api.md): keep the first `seq` events, rewind the model there from its
   *  own checkpoints, then fold the new events (none for a seek back) and jump to the time. */
  onSeek(p) {
    const store = this.store;
    const m = store.m;
    if (!p || p.session !== store.state.session) return;
    if (typeof p.seq !== 'number' || p.seq > m.events.length) {
      this.net.join(store.state.session, store.state.control);   // a gap: ask for a snapshot
      return;
    }
    truncate(m, p.seq);
    applyEvents(m, p.events || []);
    store.emit('seek');               // the log and the timeline marks are drawn again
    store.state.preview = null;
    this.landAt(p, 'reset');
  }

  onPlayback(p) {
    const store = this.store;
    if (!p || p.session !== store.state.session) return;
    advanceTo(store.m, p.t);
    store.clock.apply(p);
    if (typeof p.viewers === 'number') store.state.viewers = p.viewers;
    store.emit('playback', p);
    this.keeper.touch();
  }

  onError(p) {
    if (this.swallows(p)) return;   // a scenario file refused: the import says why, once
    const msg = errorText(p);
    // A vanished session is handled by the join fallback (a fresh run, a rebuilt one or a
    // watcher's own copy), which says so itself.
    if (p && p.code === 'unknown_session' && (!this.store.state.snapshotSeen || this.rejoining)) return;
    // "Nothing is scheduled" and the like are notices, not failures.
    this.actions.toast(msg, p && NOTICES.has(p.key) ? 'info' : 'error');
  }
}
