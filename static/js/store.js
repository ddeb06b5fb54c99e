// The play page's one store: every fact a view draws from (the session and role, what is
// selected, hovered or open, partition picking, the scrubbed time, the model, the protocol
// description, the playback clock, the language tick) and what is derived from them (the scene
// on screen, the time on screen).
//
// Views and components read it; they never write it. Two modules change it: actions.js (what a
// person does: select, open a menu, seek...) and session.js (what the server says: snapshots,
// event batches, seeks, playback). They tell who listens through `emit(topic)`; most views need
// no topic at all, since the animation frame draws them from the store each time.
//
// Topics (emit/on):
//   protocol  the protocol description changed (store.proto)       payload: the description
//   run       a snapshot replaced the run (ids, layout, scenario)   payload: the snapshot
//   seek      the model was rewound (drawn-from-model caches go)
//   role      role or connection changed: enable or disable controls
//   connection  the connection came or went (store.state.connected)
//   relabel   draw every view in words again (the language changed: store.langTick moved on;
//             or a new run)
//   menu      a menu opened or closed (store.state.menu)
//   partition partition mode or its groups changed
//   scenario  the server refused a configure: show the scenario in use again
//   presenter presenter mode came or went (store.state.presenter; store.canvasScale())
//   playback  the server's playback facts arrived (a snapshot, a batch, a seek, a playback
//             event)                                              payload: the playback object

import { createModel, sceneAt } from './model.js';
import { Clock } from './clock.js';
import { clamp } from './format.js';

export const PRESENTER_SCALE = 2.2;

export class Store {
  constructor({ boot = {}, protocol = null } = {}) {
    this.boot = boot;                 // #boot: what the page was asked for (protocol, preset, s=, t=, session)
    this.state = {
      session: null,
      control: null,
      role: null,
      token: boot.token || null,
      scenario: null,
      viewers: 0,
      selected: null,
      focusViolation: null,
      dismissedViolation: null,
      partitionMode: false,
      partitionGroups: [[]],   // partition mode: the groups being picked (node ids); the rest form the last
      hoverMsg: null,
      menu: null,              // the open menu: {kind: 'node'|'msg', id, x, y, opener} or null
      menuMsg: null,           // the id of the message whose menu is open (drawn ringed), else null
      preview: null,           // virtual time shown while scrubbing, else null
      previewUntil: 0,         // real time after which a stale preview is dropped
      ready: false,
      snapshotSeen: false,
      awaitingCreate: false,
      connected: false,
      presenter: false,        // presenter mode: the canvas full screen, sized for the back row
    };
    this.proto = protocol;            // the protocol description (Protocol.describe())
    this.m = createModel({ ids: [], protocol });
    this.clock = new Clock();         // playback: playing, speed, done, until, now()
    this.langTick = 0;                // moves on when the language or the strings change
    this.scene = null;                // the scene drawn by the last frame (render loop's cache)
    this.firstUntil = new Map();      // session -> the run's length when this page first saw it
    this.listeners = new Map();
  }

  // ------------------------------------------------------------ subscribe

  /** Call `fn(payload)` on each `emit(topic)`; returns a function that stops it. */
  on(topic, fn) {
    if (!this.listeners.has(topic)) this.listeners.set(topic, []);
    this.listeners.get(topic).push(fn);
    return () => {
      const fns = this.listeners.get(topic);
      const i = fns.indexOf(fn);
      if (i >= 0) fns.splice(i, 1);
    };
  }

  emit(topic, payload) {
    for (const fn of [...(this.listeners.get(topic) || [])]) fn(payload);
  }

  // ------------------------------------------------------------ reads

  model() {
    return this.m;
  }

  protocol() {
    return this.proto;
  }

  /** The protocol's name: the description's, or the page's before a snapshot brings one. */
  protocolName() {
    return this.proto ? this.proto.name : this.boot.protocol;
  }

  /** How much bigger the topology draws in a window of w x h: in presenter mode its smallest
   *  text (11 px) becomes 24 px at 1920x1080, what the back row of a lecture hall reads; a smaller
   *  screen on the same wall gets the same share of it (never below 1). */
  canvasScale(w = 1920, h = 1080) {
    if (!this.state.presenter) return 1;
    return Math.max(1, PRESENTER_SCALE * Math.min(1, w / 1920, h / 1080));
  }

  isController() {
    return this.state.role === 'controller';
  }

  /** The virtual time on screen: the playback clock, or the scrubbed time (never past what is known). */
  displayTime(now = performance.now()) {
    const live = this.clock.now(now);
    const pv = this.state.preview;
    return pv !== null ? Math.min(pv, Math.max(this.m.t, live)) : live;
  }

  /** The scene now (fresh: events may have arrived since the last frame). */
  currentScene() {
    if (!this.state.snapshotSeen) return null;
    const sc = this.scene;
    const tt = this.displayTime();
    if (sc && sc.model === this.m && sc.t === tt && (!sc.live || sc.eventCount === this.m.events.length)) return sc;
    return sceneAt(this.m, tt);
  }

  latestViolation() {
    const vs = this.scene ? this.scene.violations : this.m.violations;
    return vs.length ? vs[vs.length - 1] : null;
  }

  /** How long (virtual ms) a drop or a timer firing stays marked on the canvas: a function
   * of virtual time only, so a moment looks the same at any speed and in a shared link. */
  flashWindow() {
    return clamp(this.m.maxLatency * 4, 80, 400);
  }

  /** How much longer "Continue" makes a run that has ended: as long again as it first was. */
  continueBy() {
    const first = this.firstUntil.get(this.state.session);
    const until = this.clock.until;
    return first || (Number.isFinite(until) ? until : 10000);
  }

  /** Partition mode's groups to send (in node order), or null when they would not cut anything. */
  chosenGroups() {
    const ids = this.m.ids;
    const groups = this.state.partitionGroups
      .map((g) => ids.filter((id) => g.includes(id)))
      .filter((g) => g.length);
    const picked = groups.reduce((k, g) => k + g.length, 0);
    const total = groups.length + (picked < ids.length ? 1 : 0); // the rest form one more group
    return total >= 2 ? groups : null;
  }
}
