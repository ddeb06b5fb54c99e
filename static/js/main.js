// Boot the play page: read #boot, connect, create or join a session, fold
// snapshots and event batches into the model, render every animation frame.
//
// Modules, one job each:
//   model.js      pure fold over trace events (no DOM); scenes at any virtual time
//   clock.js      the client's virtual clock between server batches
//   net.js        Socket.IO requests (create/join/control/action/configure/leave)
//   i18n.js       t(key, args), en/zh dictionaries + protocol strings, data-i18n
//   topology.js   canvas: nodes, flying messages, drops, partitions, violations
//   spacetime.js  canvas: Lamport space-time diagram
//   inspector.js, invariants.js, log.js, timeline.js   side panels and scrubber
//   menus.js      node / message menus, partition mode (faults by mouse)
//   nodelist.js   the nodes as buttons with their state in words (the canvas by keyboard)
//   controls.js   playback buttons, speed, share, fork, help, keyboard
//   export.js     downloads (trace, scenario, pictures) and opening a scenario file
//   scenario.js   presets, bug toggles, parameters (configure)
//   hunt.js       "Find a bug": a server-side search of this setup, its progress, opening its finding
//   restore.js    the run kept in the address bar and sessionStorage: a reload after a restart rebuilds it

import { initI18n, addStrings, onLangChange, translatePage, t, tn, has } from './i18n.js';
import { Net, newRoute, routeOf } from './net.js';
import { Clock } from './clock.js';
import {
  createModel, fromSnapshot, setArmed, applyEvents, advanceTo, truncate, sceneAt, lastNoteAt, lastFaultAt, prevEventTime,
} from './model.js';
import { Topology } from './topology.js';
import { SpaceTime } from './spacetime.js';
import { Inspector } from './inspector.js';
import { Invariants, invName, violationText } from './invariants.js';
import { EventLog, describeEvent } from './log.js';
import { Timeline } from './timeline.js';
import { Controls } from './controls.js';
import { Menus } from './menus.js';
import { NodeList, MessageList } from './nodelist.js';
import { ScenarioPanel } from './scenario.js';
import { HuntPanel } from './hunt.js';
import { el, fmtMs, clamp } from './format.js';
import { BehaviourNotice } from './notice.js';
import { Exporter } from './export.js';
import { RunKeeper, RebuiltNotice, recallRun, forgetRun } from './restore.js';
import { Classroom } from './classroom.js';
import { JoinCodeButton } from './joincode.js';
import { LessonPanel } from './lesson.js';

const $ = (id) => document.getElementById(id);
// Refusals that only say there is nothing to do: shown plainly, not as errors.
const NOTICES = new Set(['refused.idle', 'refused.quiet']);
// The screen reader's summary of the run changes at most this often (real ms): the newest wins.
const ANNOUNCE_EVERY_MS = 1000;
// A watcher whose session's process died waits this long for the owner to bring it back.
const REJOIN_TRIES = 12;
const REJOIN_GAP_MS = 1000;

function readJSON(id) {
  const node = $(id);
  if (!node) return null;
  try {
    return JSON.parse(node.textContent);
  } catch {
    return null;
  }
}

/** A server refusal in the reader's language: its translation key when the page has it, else its English. */
function errorText(p) {
  if (!p) return t('error.unknown');
  if (p.key && has(p.key)) {
    const args = { ...(p.args || {}) };
    if (args.timer !== undefined) args.timer = tn('timer', args.timer);
    return t(p.key, args);
  }
  return p.message || t('error.unknown');
}

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

class App {
  constructor() {
    this.boot = readJSON('boot') || {};
    this.pageProtocol = readJSON('protocol-data');
    this.canvas = $('canvas');
    this.state = {
      session: null,
      control: null,
      role: null,
      token: this.boot.token || null,
      scenario: null,
      viewers: 0,
      selected: null,
      focusViolation: null,
      dismissedViolation: null,
      partitionMode: false,
      partitionGroups: [[]],   // partition mode: the groups being picked (node ids); the rest form the last
      hoverMsg: null,
      menuMsg: null,
      preview: null,       // virtual time shown while scrubbing, else null
      previewUntil: 0,     // real time after which a stale preview is dropped
      ready: false,
      snapshotSeen: false,
      awaitingCreate: false,
      connected: false,
    };
    this.proto = this.pageProtocol;
    this.m = createModel({ ids: [], protocol: this.proto });
    this.clock = new Clock();
    this.langTick = 0;
    this.scene = null;

    this.topology = new Topology(this.canvas);
    const roleColor = (r) => this.topology.roleColor(r);
    this.spacetime = new SpaceTime($('spacetime'), { roleColor, onSelectNode: (id) => this.select(id) });
    this.inspector = new Inspector($('inspector'), { roleColor });
    this.invariants = new Invariants($('invariants'), { onFocus: (v) => this.focusViolation(v) });
    this.log = new EventLog($('log'), $('log-filter'));
    this.timeline = new Timeline({
      input: $('timeline'),
      marks: $('timeline-marks'),
      readout: $('time-readout'),
      onPreview: (tt) => this.preview(tt),
      onSeek: (tt) => this.seek(tt),
    });
    this.menus = new Menus(this);
    this.nodeList = new NodeList($('node-list'), {
      roleColor,
      onOpen: (id, button) => this.openNodeFromList(id, button),
    });
    this.msgList = new MessageList($('msg-list'), { onOpen: (id, button) => this.openMsgFromList(id, button) });
    this.controls = new Controls(this);
    this.exporter = new Exporter(this);   // downloads (trace, scenario, pictures); a scenario file opens
    this.scenarioPanel = new ScenarioPanel(this);
    this.notice = new BehaviourNotice($('behaviour-notice'));   // a link from another version
    // The run kept in the address bar and sessionStorage, so a reload after a server restart
    // rebuilds it (restore.js); the banner that says a reload did.
    this.keeper = new RunKeeper(() => this.keptRun());
    this.rebuiltNotice = new RebuiltNotice($('rebuilt-notice'));
    this.lessonPanel = new LessonPanel({ cmd: (c, v) => this.cmd(c, v), model: () => this.m });   // chapters, stops
    if (this.proto) this.setProtocol(this.proto);

    $('violation-close').addEventListener('click', () => {
      const v = this.latestViolation();
      this.state.dismissedViolation = v ? v.seq : null;
      this.state.focusViolation = null;
    });
    $('violation-banner').addEventListener('click', (e) => {
      if (e.target.closest('#violation-close')) return;
      const v = this.latestViolation();
      if (v) this.focusViolation(v);
    });

    onLangChange(() => {
      this.langTick++;
      this.relabel();
    });

    this.net = new Net({
      onConnect: (again) => this.onConnect(again),
      onDisconnect: () => this.setConnected(false),
      onOffline: () => this.toast(t('conn.down'), 'warn'),   // a request refused: not sent, not kept
      onSnapshot: (p) => this.onSnapshot(p),
      onEvents: (p) => this.onEvents(p),
      onSeek: (p) => this.onSeek(p),
      onPlayback: (p) => this.onPlayback(p),
      onError: (p) => this.onError(p),
    }, this.boot.session || this.boot.rebuilt ? routeOf(this.boot.session || this.boot.rebuilt) : newRoute());
    this.hunt = new HuntPanel(this);      // "Find a bug" in the bugs-and-parameters tab
    this.classroom = new Classroom(this);        // teacher left / back, speed=, continue
    this.joinCode = new JoinCodeButton(this);    // the share popover's join code and QR code
    this.installTestHook();
    requestAnimationFrame((now) => this.frame(now));
  }

  // ------------------------------------------------------------ accessors

  model() {
    return this.m;
  }

  protocol() {
    return this.proto;
  }

  /** A server refusal in the reader's language. */
  errorText(p) {
    return errorText(p);
  }

  /** The scene now (fresh: events may have arrived since the last frame). */
  currentScene() {
    if (!this.state.snapshotSeen) return null;
    const sc = this.scene;
    const tt = this.displayTime();
    if (sc && sc.model === this.m && sc.t === tt && (!sc.live || sc.eventCount === this.m.events.length)) return sc;
    return sceneAt(this.m, tt);
  }

  /** The virtual time on screen: the playback clock, or the scrubbed time (never past what is known). */
  displayTime(now = performance.now()) {
    const live = this.clock.now(now);
    const pv = this.state.preview;
    return pv !== null ? Math.min(pv, Math.max(this.m.t, live)) : live;
  }

  latestViolation() {
    const vs = this.scene ? this.scene.violations : this.m.violations;
    return vs.length ? vs[vs.length - 1] : null;
  }

  // ------------------------------------------------------------ session

  setConnected(on) {
    this.state.connected = on;
    const dot = $('conn');
    dot.dataset.state = on ? 'on' : 'off';
    // Before the first snapshot "connecting"; after it, the connection was lost.
    const text = on ? t('conn.on') : t(this.state.ready ? 'conn.down' : 'conn.off');
    dot.title = text;
    const label = dot.querySelector('.conn-label');
    if (label) label.textContent = text;
    // Losing the server mid-run: say so over the canvas and stop the clock (nothing plays
    // without it); the reconnect rejoins and its snapshot takes the cover off again.
    if (this.state.snapshotSeen) this.applyRole();
    const cover = $('canvas-overlay');
    if (!on && this.state.ready) {
      this.clock.playing = false;
      this.menus.closeAll();   // the cover takes the canvas's clicks until the server is back
      cover.querySelector('[data-i18n]').textContent = t('conn.lost');
      cover.hidden = false;
    } else if (on && this.state.ready) {
      cover.hidden = true;
    }
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
    if (again && this.state.session) {
      // Reconnected: re-join the same session (the server sends a fresh snapshot).
      this.rejoining = true;
      let resp;
      try {
        resp = await this.net.join(this.state.session, this.state.control);
      } finally {
        this.rejoining = false;
      }
      if (!resp.ok && !resp.timeout) {
        // The session is gone: its process died (a cluster), or the server restarted or expired
        // it. The owner brings the run back from its share token under the same id, which
        // another process of a cluster accepts (docs/scale-out.md); a watcher waits a little for
        // that. Otherwise the owner goes on with a new session, and a watcher gets its own copy
        // and is told the live link is gone (the owner's rebuilt run has a new one).
        const st = this.state;
        const owner = st.role === 'controller';
        if (!owner && resp.resumable && await this.rejoin()) return;
        this.goneSession = st.session;
        const resume = owner && st.control ? { resume: { session: st.session, control: st.control } } : {};
        const spec = st.token ? { token: st.token, t: Math.round(this.m.t), ...resume }
          : { scenario: { protocol: this.boot.protocol } };
        const made = await this.createFrom(spec);
        if (made.resumed) this.goneSession = null;
        this.toast(t(made.resumed ? 'session.moved' : owner ? 'session.rebuilt' : 'session.watch_lost'),
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
      this.state.session = this.boot.session;
      const resp = await this.net.join(this.boot.session, control);
      if (!resp.ok && !resp.timeout && !this.state.snapshotSeen && !(await this.rebuild(this.boot.session))) {
        this.goneSession = this.boot.session;
        this.toast(t('error.session.gone'), 'warn');
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
        resp = await this.net.join(this.state.session, null);
      } finally {
        this.rejoining = false;
      }
      if (resp.ok) {
        this.toast(t('session.moved'), 'ok');
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
      this.toast(t('session.moved'), 'ok');
    } else if (resp.ok) {
      forgetRun(gone);
      this.rebuiltNotice.show(kept.t);
    }
    return true;
  }

  /** What a reload needs to rebuild this page's run (restore.js). */
  keptRun() {
    const st = this.state;
    if (!st.snapshotSeen || !st.session) return null;
    const protocol = this.proto ? this.proto.name : this.boot.protocol;
    return { protocol, session: st.session, token: st.token, t: Math.max(0, Math.floor(this.m.t)) };
  }

  async createFrom(spec) {
    // The snapshot that follows (before or after the ack) carries the session.
    this.state.awaitingCreate = true;
    const resp = await this.net.create(spec);
    if (!resp.ok && !resp.timeout) this.state.awaitingCreate = false;
    return resp;
  }

  async fork() {
    if (!this.state.token) return;
    const old = this.state.session;
    // The very moment on screen (the server keeps ms fractions): the fork's first picture is it.
    const tt = Math.round(this.displayTime() * 1000) / 1000;
    this.state.awaitingCreate = true;
    const resp = await this.net.create({ token: this.state.token, t: tt });
    if (resp.ok) {
      if (old && old !== resp.session) this.net.leave(old);
      this.toast(t('fork.done'), 'ok');
    } else {
      this.state.awaitingCreate = false;
    }
  }

  onSnapshot(p) {
    if (!p || typeof p !== 'object') return;
    const st = this.state;
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

    this.m = fromSnapshot(p);
    setArmed(this.m, p);
    this.topology.setRun(this.m.ids, this.m.layout, this.proto);
    this.nodeList.setIds(this.m.ids);
    this.spacetime.setRun(this.m.ids);
    this.clock.reset(p.playback || {});
    this.clock.until = (st.scenario && st.scenario.until) || Infinity;
    if (!st.selected || !this.m.ids.includes(st.selected)) st.selected = this.m.ids[0] || null;
    st.partitionGroups = [[]];
    st.preview = null;
    st.snapshotSeen = true;
    this.notice.show(p.behaviour, this.proto && this.proto.name);
    this.scenarioPanel.setScenario(st.scenario);
    this.applyRole();
    this.relabel();
    this.lessonPanel.setRun(p);
    // Every page's address bar names its session and run (owner's and watcher's alike): a reload
    // joins it again (the owner with the control token kept in sessionStorage), and after a
    // server restart rebuilds the run from it (restore.js).
    this.keeper.touch();
  }

  onEvents(p) {
    if (!p || p.session !== this.state.session) return;
    const evs = p.events || [];
    if (evs.length && typeof evs[0].seq === 'number' && evs[0].seq !== this.m.events.length) {
      // A gap or an overlap: ask for a fresh snapshot instead of guessing.
      if (evs[0].seq > this.m.events.length) this.net.join(this.state.session, this.state.control);
      const fresh = evs.filter((e) => e.seq >= this.m.events.length);
      if (!fresh.length || fresh[0].seq !== this.m.events.length) return;
      applyEvents(this.m, fresh);
    } else {
      applyEvents(this.m, evs);
    }
    if (p.playback) {
      advanceTo(this.m, p.playback.t);
      this.clock.apply(p.playback);
      if (typeof p.playback.viewers === 'number') this.state.viewers = p.playback.viewers;
      this.lessonPanel.setPlayback(p.playback);
    }
    if (p.token) this.state.token = p.token;
    setArmed(this.m, p);
    this.keeper.touch();
  }

  /** A seek (docs/socket-api.md): keep the first `seq` events, rewind the model there from its
   *  own checkpoints, then fold the new events (none for a seek back) and jump to the time. */
  onSeek(p) {
    if (!p || p.session !== this.state.session) return;
    if (typeof p.seq !== 'number' || p.seq > this.m.events.length) {
      this.net.join(this.state.session, this.state.control);   // a gap: ask for a snapshot
      return;
    }
    truncate(this.m, p.seq);
    applyEvents(this.m, p.events || []);
    this.log.model = null;            // the log and the timeline marks are drawn again
    this.timeline.markModel = null;
    if (p.playback) {
      advanceTo(this.m, p.playback.t);
      this.clock.reset(p.playback);
      if (typeof p.playback.viewers === 'number') this.state.viewers = p.playback.viewers;
      this.lessonPanel.setPlayback(p.playback);
    }
    this.state.preview = null;
    if (p.token) this.state.token = p.token;
    setArmed(this.m, p);
    this.keeper.touch();
  }

  onPlayback(p) {
    if (!p || p.session !== this.state.session) return;
    advanceTo(this.m, p.t);
    this.clock.apply(p);
    if (typeof p.viewers === 'number') this.state.viewers = p.viewers;
    this.lessonPanel.setPlayback(p);
    this.keeper.touch();
  }

  onError(p) {
    if (this.exporter.swallows(p)) return;   // a scenario file refused: the import says why, once
    const msg = errorText(p);
    // A vanished session is handled by the join fallback (a fresh run, a rebuilt one or a
    // watcher's own copy), which says so itself.
    if (p && p.code === 'unknown_session' && (!this.state.snapshotSeen || this.rejoining)) return;
    // "Nothing is scheduled" and the like are notices, not failures.
    this.toast(msg, p && NOTICES.has(p.key) ? 'info' : 'error');
  }

  applyRole() {
    const controller = this.state.role === 'controller';
    // Nothing is sent while the server is unreachable: the controls wait for it.
    const canAct = controller && this.state.connected;
    document.body.dataset.role = this.state.role || '';
    $('viewer-banner').hidden = controller;
    $('role-badge').textContent = controller ? t('session.controller') : t('session.viewer');
    $('role-badge').dataset.role = this.state.role || '';
    this.timeline.setEnabled(canAct);
    this.scenarioPanel.setEnabled(canAct, { viewer: !controller });
    if (!canAct && this.state.partitionMode) this.menus.togglePartitionMode(false);
    this.menus.updatePartitionControls(this.currentScene());
  }

  setProtocol(proto) {
    this.proto = proto;
    addStrings(proto.strings);
    if (this.stringsFor !== proto.name) {
      // The page was translated before these strings existed (the header's protocol title):
      // translate it again, once per protocol (it resets labels the views set, so they redraw).
      this.stringsFor = proto.name;
      translatePage();
      this.langTick++;
      this.setDocTitle();
    }
    this.inspector.setProtocol(proto);
    this.invariants.setProtocol(proto);
    this.scenarioPanel.setProtocol(proto);
  }

  // ------------------------------------------------------------ commands

  cmd(cmd, value) {
    if (this.state.role !== 'controller') {
      this.toast(t('viewer.cannot'), 'warn');
      return Promise.resolve({ ok: false });
    }
    return this.net.cmd(cmd, value).then((r) => {
      if (r.timeout) this.toast(t('error.timeout'), 'error');
      return r;
    });
  }

  act(action) {
    if (this.state.role !== 'controller') {
      this.toast(t('viewer.cannot'), 'warn');
      return Promise.resolve({ ok: false });
    }
    return this.net.action(action).then((r) => {
      if (r.timeout) this.toast(t('error.timeout'), 'error');
      if (r.ok && Array.isArray(r.cut) && r.cut.length) {
        const list = r.cut.map((a) => `${t(`action.${a.do}`)}${a.node ? ` ${a.node}` : ''} @ ${fmtMs(a.at)}`);
        this.toast(t('fork.cut', { t: fmtMs(r.action.at), list: list.join(', ') }), 'warn');
      }
      return r;
    });
  }

  configure(scenario) {
    if (this.state.role !== 'controller') return;
    this.net.configure(scenario).then((r) => {
      if (!r.ok) {
        // Put the server's values back, the lesson picker's included.
        this.scenarioPanel.buildPresets();
        this.scenarioPanel.render();
      }
    });
  }

  seek(tt) {
    tt = clamp(Math.round(tt), 0, this.clock.until === Infinity ? tt : this.clock.until);
    this.state.preview = tt;
    this.state.previewUntil = performance.now() + 5000;
    this.cmd('seek', tt).then((r) => {
      if (!r.ok) this.state.preview = null;
    });
  }

  stepBack() {
    const now = Math.round(this.displayTime());
    if (now <= 0) return;
    this.seek(prevEventTime(this.m, now));
  }

  preview(tt) {
    this.state.preview = tt;
    this.state.previewUntil = Infinity;
  }

  select(id) {
    this.state.selected = id;
  }

  /** A node's button in the node list: select it and open its menu under the button. */
  openNodeFromList(id, button) {
    if (!this.currentScene()) return;
    this.select(id);
    const r = button.getBoundingClientRect();
    this.menus.openNode(id, r.left - 12, r.bottom - 6, button);
  }

  /** A message's button in the list of messages in flight: its menu (drop, duplicate). */
  openMsgFromList(id, button) {
    const msg = this.m.byId.get(id);
    if (!msg || !this.currentScene()) return;
    const r = button.getBoundingClientRect();
    this.menus.openMsg(msg, r.left - 12, r.bottom - 6, button);
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
      const box = $('sr-status');
      if (box.textContent !== this.srPending) box.textContent = this.srPending;
    }, wait);
  }

  /** Show a violation: its nodes picked out, at the moment it happened (the owner rewinds the
   *  run there; a watcher looks back locally for a while). */
  focusViolation(v) {
    this.state.focusViolation = v;
    this.state.dismissedViolation = null;
    if (v.nodes && v.nodes.length) this.state.selected = v.nodes[0];
    if (typeof v.t !== 'number' || Math.abs(this.displayTime() - v.t) < 1) return;
    if (this.state.role === 'controller') this.seek(v.t);
    else {
      this.state.preview = v.t;
      this.state.previewUntil = performance.now() + 8000;
    }
  }

  toast(text, kind = 'info') {
    const box = $('toasts');
    // The same message again (a key held down) renews the one on screen instead of stacking.
    const same = [...box.children].find((n) => n.textContent === text && !n.classList.contains('leaving'));
    const node = same || el('div', { class: `toast toast-${kind}`, role: 'status' }, text);
    if (!same) box.append(node);
    while (box.children.length > 2) box.firstChild.remove(); // two at most: the stage stays in view
    clearTimeout(node.leaveTimer);
    clearTimeout(node.removeTimer);
    node.leaveTimer = setTimeout(() => node.classList.add('leaving'), 4200);
    node.removeTimer = setTimeout(() => node.remove(), 4700);
  }

  setDocTitle() {
    const proto = this.proto;
    if (proto) document.title = `${t('title', null, proto.title)} · ${t('app.name')}`;
  }

  relabel() {
    this.setDocTitle();
    this.inspector.key = null;
    this.invariants.key = null;
    this.log.model = null; // re-render in the new language
    this.timeline.relabel();
    this.scenarioPanel.buildPresets();
    this.scenarioPanel.render();
    this.menus.relabel();
    this.applyRole();
    this.setConnected(this.state.connected);
    this.narrationKey = null;
    this.bannerKey = null;
    this.rebuiltNotice.render();
  }

  // ------------------------------------------------------------ rendering

  /** How long (virtual ms) a drop or a timer firing stays marked on the canvas: a function
   * of virtual time only, so a moment looks the same at any speed and in a shared link. */
  flashWindow() {
    return clamp(this.m.maxLatency * 4, 80, 400);
  }

  frame(now) {
    try {
      this.render(now);
    } finally {
      requestAnimationFrame((n) => this.frame(n));
    }
  }

  render(now) {
    const st = this.state;
    if (st.preview !== null && now > st.previewUntil) st.preview = null;
    const tt = this.displayTime(now);
    const scene = sceneAt(this.m, tt);
    this.scene = scene;
    const ui = {
      now,
      selected: st.selected,
      partitionMode: st.partitionMode,
      partitionGroups: st.partitionGroups,
      hoverMsg: st.hoverMsg,
      menuMsg: st.menuMsg,
      focusViolation: st.focusViolation,
      flashWindow: this.flashWindow(),
    };
    // Both canvases are pure functions of what is in this key: when none of it changed, the frame
    // is not redrawn (an idle page costs nothing, and a click's answer is not kept waiting behind
    // a redundant frame). Violation halos pulse with real time, so they always redraw.
    const sp = this.spacetime, topo = this.topology;
    const drawKey = [tt, this.m.version, st.snapshotSeen, st.selected, st.partitionMode,
      st.partitionGroups.map((g) => g.join(' ')).join('|'), st.hoverMsg, st.menuMsg,
      st.focusViolation ? st.focusViolation.seq : '', this.langTick, window.devicePixelRatio,
      topo.w, topo.h, sp.w, sp.h, sp.zoom].join(',');
    if (drawKey !== this.drawKey || scene.violations.length) {
      this.drawKey = drawKey;
      topo.draw(st.snapshotSeen ? scene : null, ui);
      sp.draw(st.snapshotSeen ? scene : null, ui);
    }
    if (!st.snapshotSeen) return;

    this.inspector.render(st.selected, st.selected ? scene.nodes[st.selected] : null);
    this.nodeList.render(scene, { selected: st.selected, langTick: this.langTick });
    this.msgList.render(scene, { langTick: this.langTick });
    this.invariants.render(scene.violations, st.focusViolation);
    // Paused with lines left out while it streamed: show them all now.
    this.log.render(this.m, scene.eventCount, this.log.gaps && !(this.clock.playing && !this.clock.done));
    this.timeline.update(tt, this.m.t, this.clock.until === Infinity ? 0 : this.clock.until, this.m);
    this.menus.update(scene);
    this.renderNarration(scene);
    this.renderBanner(scene);
    this.renderStatus(scene);
    if (!st.ready) {
      st.ready = true;
      $('canvas-overlay').hidden = true;
      document.body.classList.add('ready');
    }
    this.controls.update();
  }

  renderNarration(scene) {
    const note = lastNoteAt(this.m, scene.t);
    // A fault after the latest note (a crash the note knows nothing of) is flagged before it,
    // so the caption never tells of a node at work that the canvas shows dead.
    let fault = lastFaultAt(this.m, scene.t);
    if (fault && note && fault.seq < note.seq) fault = null;
    const drop = this.lastUserDrop(scene.t, note);
    const key = `${note ? note.seq : ''}|${fault ? fault.seq : ''}|${drop ? drop.id : ''}|${this.langTick}`;
    if (key === this.narrationKey) return;
    this.narrationKey = key;
    const box = $('narration');
    box.classList.toggle('empty', !note && !fault);
    const parts = [];
    const whole = [];
    if (fault) {
      // The latest fault, and how many more came since the note (a cut, then a crash).
      let more = 0;
      for (let i = this.m.faults.indexOf(fault) - 1; i >= 0; i--) {
        if (note && this.m.faults[i].seq < note.seq) break;
        more++;
      }
      const what = t(`narr.${fault.type}`, { node: fault.node }) + (more ? t('narr.more', { count: more }) : '');
      parts.push(el('span', { class: 'narr-fault', text: `${fmtMs(fault.t)} · ${what}` }));
      whole.push(`${fmtMs(fault.t)} · ${what}`);
    }
    if (note) {
      const text = describeEvent(note, this.m);
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
    const drops = this.m.drops;
    for (let i = drops.length - 1; i >= 0; i--) {
      const d = drops[i];
      if (note && d.end_t < note.t) return null;
      if (d.end_t <= tt && d.reason === 'user') return d;
    }
    return null;
  }

  renderBanner(scene) {
    const st = this.state;
    const vs = scene.violations;
    let v = st.focusViolation && vs.some((x) => x.seq === st.focusViolation.seq) ? st.focusViolation : null;
    if (!v && vs.length && vs[vs.length - 1].seq !== st.dismissedViolation) v = vs[vs.length - 1];
    const key = `${v ? v.seq : ''}|${this.langTick}`;
    if (key === this.bannerKey) return;
    this.bannerKey = key;
    const box = $('violation-banner');
    if (!v) {
      box.hidden = true;
      return;
    }
    box.hidden = false;
    // Read out once, assertively: each violation the first time it shows (not again on a rewind).
    const said = `${st.session}|${v.seq}`;
    this.saidViolations = this.saidViolations || new Set();
    if (!this.saidViolations.has(said)) {
      this.saidViolations.add(said);
      $('sr-alert').textContent = `${t('violation.title', { invariant: invName(v.invariant) })}. ${violationText(v)}`;
    }
    $('violation-title').textContent = t('violation.title', { invariant: invName(v.invariant) });
    $('violation-text').textContent = violationText(v);
    const nodes = v.nodes && v.nodes.length ? t('invariants.nodes', { nodes: v.nodes.join(', ') }) : '';
    $('violation-meta').textContent = [fmtMs(v.t), v.eventual ? t('invariants.eventual') : '', nodes]
      .filter(Boolean).join(' · ');
  }

  renderStatus(scene) {
    const st = this.state;
    const key = `${st.viewers}|${st.role}|${scene.inflight.length}|${st.preview !== null}|${this.langTick}|${this.clock.done}`;
    if (key === this.statusKey) return;
    this.statusKey = key;
    const parts = [t('status.inflight', { count: scene.inflight.length })];
    // The owner sees how many others watch (the class); a watcher has the banner instead.
    if (st.role === 'controller' && st.viewers > 1) parts.push(t('status.viewers', { count: st.viewers - 1 }));
    if (st.preview !== null) parts.push(t('status.preview'));
    if (this.clock.done) parts.push(t('status.done'));
    $('status').textContent = parts.join(' · ');
  }

  // ------------------------------------------------------------ test hook

  installTestHook() {
    const app = this;
    const screenOf = (p) => {
      if (!p) return null;
      const r = app.canvas.getBoundingClientRect();
      return { x: r.left + p.x, y: r.top + p.y };
    };
    window.__pp = {
      get ready() {
        return app.state.ready;
      },
      get model() {
        return app.m;
      },
      get session() {
        return app.state.session;
      },
      get role() {
        return app.state.role;
      },
      get connected() {
        return app.state.connected;
      },
      get token() {
        return app.state.token;
      },
      get t() {
        return app.displayTime();
      },
      get done() {
        return app.clock.done;
      },
      get playing() {
        return app.clock.playing;
      },
      nodeScreenPos(id) {
        return screenOf(app.topology.nodePos(id));
      },
      stripCells(id) {
        return app.topology.stripCells(id);
      },
      pictures(id) {
        return app.topology.pictures(id);
      },
      messageScreenPos(id) {
        // From the model itself (not the last frame), so a message is clickable as soon as it exists.
        const scene = app.currentScene();
        if (!scene) return null;
        const msg = scene.inflight.find((m) => m.id === id || String(m.id) === String(id));
        return msg ? screenOf(app.topology.messagePos(msg, scene.t)) : null;
      },
    };
  }
}

await initI18n();
new App();
