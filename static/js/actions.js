// What a person can do on the play page, as named actions: the one place (with session.js for
// what the server says) that changes the store. Each updates the store and tells its topic,
// and/or sends a request through net.js. Views and components call these; they never write the
// store or call one another.

import { t } from './i18n.js';
import { fmtMs, clamp, GROUP_COLORS } from './format.js';
import { prevEventTime } from './model.js';
import { toast } from './toasts.js';

export class Actions {
  /** `net` is the Net (net.js) requests go through; main.js gives it once the session made it. */
  constructor(store, net) {
    this.store = store;
    this.net = net;
    this.holds = new Set();     // why the run holds still now: 'menu', 'pointer'
    this.held = null;           // {play: the owner's run was playing, preview: the time frozen}
    store.on('run', () => {     // a new run holds nothing of the old one's
      this.holds.clear();
      this.held = null;
    });
  }

  toast(text, kind = 'info') {
    toast(text, kind);
  }

  // ------------------------------------------------------------ requests

  /** A playback command (play, pause, step, restart, speed, seek): the owner's only. */
  cmd(cmd, value) {
    if (!this.store.isController()) {
      this.toast(t('viewer.cannot'), 'warn');
      return Promise.resolve({ ok: false });
    }
    return this.net.cmd(cmd, value).then((r) => {
      if (r.timeout) this.toast(t('error.timeout'), 'error');
      return r;
    });
  }

  /** An action on the live run (crash, request, drop, partition...): the owner's only. */
  act(action) {
    if (!this.store.isController()) {
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

  /** Restart the session with another scenario (a lesson, bugs, parameters): the owner's only.
   *  Refused: topic `scenario`, so the panel shows the server's values again. */
  configure(scenario) {
    if (!this.store.isController()) return;
    this.net.configure(scenario).then((r) => {
      if (!r.ok) this.store.emit('scenario');
    });
  }

  /** Open a scenario (a file) as a new session; its snapshot, before or after the ack, replaces
   *  the run on screen when `replaces` (the same protocol), else another page opens it. */
  async create(spec, replaces) {
    const st = this.store.state;
    if (replaces) st.awaitingCreate = true;
    const resp = await this.net.create(spec);
    if (replaces && !resp.ok) st.awaitingCreate = false;
    return resp;
  }

  /** Whether requests can reach the server now. */
  online() {
    return this.net.connected;
  }

  /** A watcher's own copy of the run, from the moment on screen; the old session is left. */
  async fork() {
    const st = this.store.state;
    if (!st.token) return;
    const old = st.session;
    // The very moment on screen (the server keeps ms fractions): the fork's first picture is it.
    const tt = Math.round(this.store.displayTime() * 1000) / 1000;
    st.awaitingCreate = true;
    const resp = await this.net.create({ token: st.token, t: tt });
    if (resp.ok) {
      if (old && old !== resp.session) this.net.leave(old);
      this.toast(t('fork.done'), 'ok');
    } else {
      st.awaitingCreate = false;
    }
  }

  // ------------------------------------------------------------ time

  /** Jump the run to virtual time `tt` (shown at once, undone when refused). */
  seek(tt) {
    const st = this.store.state;
    const until = this.store.clock.until;
    tt = clamp(Math.round(tt), 0, until === Infinity ? tt : until);
    st.preview = tt;
    st.previewUntil = performance.now() + 5000;
    this.cmd('seek', tt).then((r) => {
      if (!r.ok) st.preview = null;
    });
  }

  // ------------------------------------------------------------ holding still

  /** The run holds still while a menu is open or the pointer is down on the canvas: the picture
   *  freezes at once where it is (a local preview), and the owner's run pauses on the server too
   *  (so the whole class holds); the last release lets it go, playing again if it was. */
  hold(reason) {
    if (!this.store.state.snapshotSeen) return;
    if (!this.holds.size) {
      const st = this.store.state;
      const clock = this.store.clock;
      const play = this.store.isController() && clock.playing && !clock.done;
      this.held = { play, preview: this.store.displayTime() };
      st.preview = this.held.preview;
      st.previewUntil = Infinity;
      if (play) this.cmd('pause');
    }
    this.holds.add(reason);
  }

  release(reason) {
    if (!this.holds.delete(reason) || this.holds.size || !this.held) return;
    const held = this.held;
    this.held = null;
    const st = this.store.state;
    // The frozen picture goes (unless a seek has taken its place: its answer clears it).
    if (st.preview === held.preview && st.previewUntil === Infinity) st.preview = null;
    if (held.play && this.store.isController() && !this.store.clock.done) this.cmd('play');
  }

  /** A click that found a message the person saw a moment ago (recent.js): show that moment.
   *  The owner's run goes back there (a seek: the message is in flight again, so it can be
   *  dropped; an action in the past forks the run); a watcher looks at it held still. */
  lookBack(tt, msg = null) {
    const st = this.store.state;
    // The picture may run a little ahead of the events the server has sent: a message drawn at
    // `tt` may have been delivered by then. Show a moment it was truly in flight.
    if (msg && tt >= msg.deliver_at) tt = Math.max(msg.sent_at, msg.deliver_at - 1);
    if (this.held) this.held.preview = Math.floor(tt);
    if (this.store.isController()) {
      this.seek(Math.floor(tt));
      st.previewUntil = Infinity;     // until the seek's answer, then the paused run itself
    } else {
      st.preview = tt;
      st.previewUntil = Infinity;
      if (this.held) this.held.preview = tt;
    }
  }

  /** Back to the previous event's time. */
  stepBack() {
    const now = Math.round(this.store.displayTime());
    if (now <= 0) return;
    this.seek(prevEventTime(this.store.m, now));
  }

  /** Show virtual time `tt` while the scrubber is dragged (the run itself does not move). */
  preview(tt) {
    this.store.state.preview = tt;
    this.store.state.previewUntil = Infinity;
  }

  /** Drop a preview whose time is up (a seek's answer never came; a watcher's look back). */
  expirePreview(now) {
    const st = this.store.state;
    if (st.preview !== null && now > st.previewUntil) st.preview = null;
  }

  // ------------------------------------------------------------ selection and violations

  select(id) {
    this.store.state.selected = id;
  }

  hoverMessage(id) {
    this.store.state.hoverMsg = id;
  }

  /** Show a violation: its nodes picked out, at the moment it happened (the owner rewinds the
   *  run there; a watcher looks back locally for a while). */
  focusViolation(v) {
    const st = this.store.state;
    st.focusViolation = v;
    st.dismissedViolation = null;
    if (v.nodes && v.nodes.length) st.selected = v.nodes[0];
    if (typeof v.t !== 'number' || Math.abs(this.store.displayTime() - v.t) < 1) return;
    if (this.store.isController()) this.seek(v.t);
    else {
      st.preview = v.t;
      st.previewUntil = performance.now() + 8000;
    }
  }

  /** Close the violation banner (until a newer violation). */
  dismissViolation() {
    const v = this.store.latestViolation();
    this.store.state.dismissedViolation = v ? v.seq : null;
    this.store.state.focusViolation = null;
  }

  // ------------------------------------------------------------ menus

  /** Open node `id`'s menu at client (x, y); `opener` (a button) gets focus back when it closes. */
  openNodeMenu(id, x, y, opener = null) {
    const st = this.store.state;
    this.hold('menu');
    st.menu = { kind: 'node', id, x, y, opener };
    st.menuMsg = null;
    this.store.emit('menu', st.menu);
  }

  /** Open message `id`'s menu (drop, duplicate) at client (x, y). */
  openMessageMenu(id, x, y, opener = null) {
    const st = this.store.state;
    this.hold('menu');
    st.menu = { kind: 'msg', id, x, y, opener };
    st.menuMsg = id;
    this.store.emit('menu', st.menu);
  }

  closeMenus() {
    const st = this.store.state;
    st.menu = null;
    st.menuMsg = null;
    this.store.emit('menu', null);
    this.release('menu');
  }

  /** A node's button in the node list: select it and open its menu under the button. */
  openNodeFromList(id, button) {
    if (!this.store.currentScene()) return;
    this.select(id);
    const r = button.getBoundingClientRect();
    this.openNodeMenu(id, r.left - 12, r.bottom - 6, button);
  }

  /** A message's button in the list of messages in flight: its menu (drop, duplicate). */
  openMessageFromList(id, button) {
    const msg = this.store.m.byId.get(id);
    if (!msg || !this.store.currentScene()) return;
    const r = button.getBoundingClientRect();
    this.openMessageMenu(msg.id, r.left - 12, r.bottom - 6, button);
  }

  // ------------------------------------------------------------ partitions

  // Partition mode: click nodes into group A; "+ Group" starts B, C...; the nodes left
  // over form one more group; "Cut" sends the partition.

  /** Partition mode on or off (toggled without `force`); the groups start over. */
  setPartitionMode(force) {
    const st = this.store.state;
    st.partitionMode = force !== undefined ? force : !st.partitionMode;
    st.partitionGroups = [[]];
    if (st.partitionMode) this.closeMenus();
    this.store.emit('partition');
  }

  /** A click on a node: into the group being picked, or out of it if it was there. */
  pickForGroup(id) {
    const groups = this.store.state.partitionGroups;
    const cur = groups[groups.length - 1];
    const had = cur.includes(id);
    for (const g of groups) {
      const i = g.indexOf(id);
      if (i >= 0) g.splice(i, 1);
    }
    if (!had) cur.push(id);
    this.store.emit('partition');
  }

  /** Start picking the next group. */
  nextGroup() {
    const groups = this.store.state.partitionGroups;
    if (!groups[groups.length - 1].length || groups.length >= GROUP_COLORS.length - 1) return;
    groups.push([]);
    this.store.emit('partition');
  }

  /** Cut the network into the groups picked, and leave partition mode. */
  applyPartition() {
    const groups = this.store.chosenGroups();
    if (!groups) return;
    this.act({ do: 'partition', groups });
    this.setPartitionMode(false);
  }

  // ------------------------------------------------------------ language

  /** The language changed: every view drawn in words draws again. */
  languageChanged() {
    this.store.langTick++;
    this.store.emit('relabel');
  }

  // ------------------------------------------------------------ presenter mode

  /** Presenter mode on or off (`on` omitted: the other way). */
  setPresenter(on = !this.store.state.presenter) {
    if (on === this.store.state.presenter) return;
    this.store.state.presenter = on;
    this.store.emit('presenter', on);
  }
}
