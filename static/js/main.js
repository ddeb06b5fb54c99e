// Boot the play page: read #boot, build the store, the views and the session, and draw every
// animation frame from the store (view = function of state).
//
// Modules, one job each:
//   store.js      the page's one store: session, role, selection, menus, preview, the model,
//                 the protocol description, the clock, langTick; derived reads; topics (on/emit)
//   actions.js    what a person does, as named actions: the one place that changes the store
//                 on a person's behalf (select, open a menu, seek, cmd, act, configure, fork...)
//   session.js    connect, create / join / resume / rebuild a session; folds what the server
//                 sends (snapshots, events, seeks, playback, refusals) into the store
//   model.js      pure fold over trace events (no DOM); scenes at any virtual time
//   clock.js      the client's virtual clock between server batches
//   net.js        Socket.IO requests (create/join/control/action/configure/leave)
//   i18n.js       t(key, args), en/zh dictionaries + protocol strings, data-i18n
//   topology.js   canvas: nodes, flying messages, drops, partitions, violations
//   spacetime.js  canvas: Lamport space-time diagram
//   inspector.js, invariants.js, log.js, timeline.js   side panels and scrubber
//   narration.js  the caption under the canvas and what a screen reader hears of the run
//   banners.js    violation banner, status line, connection light, role badge
//   toasts.js     short notes over the stage; a server refusal in words
//   menus.js      node / message menus, partition mode (faults by mouse)
//   recent.js     the frames of the last moments: a click finds the message the eye just saw
//   nodelist.js   the nodes as buttons with their state in words (the canvas by keyboard)
//   controls.js   playback buttons, speed, share, fork, help, keyboard
//   export.js     downloads (trace, scenario, pictures) and opening a scenario file
//   scenario.js   presets, bug toggles, parameters (configure)
//   hunt.js       "Find a bug": a server-side search of this setup, its progress, opening its finding
//   lesson.js     the guided lesson panel: chapter, Next / Back, where playback pauses
//   classroom.js  the teacher left / is back, a link's speed=
//   joincode.js   the share popover's join code and QR code
//   presenter.js  presenter mode: the canvas full screen, sized for the back row, keyboard only
//   pictures.js   state pictures under each node (tallies, values, locks, timer rings), drawn by topology.js
//   restore.js    the run kept in the address bar and sessionStorage: a reload after a restart rebuilds it
//   testhook.js   window.__pp, what the browser tests read
//   embed.js      ?embed=1: a frame of the side-by-side page, driven by its parent's timeline
//
// Views and components get the store (to read) and the actions (to change it); none holds
// another, and none writes the store. The wiring between them is here, through the store's topics.

import { initI18n, onLangChange } from './i18n.js';
import { readJSON } from './format.js';
import { sceneAt } from './model.js';
import { Store } from './store.js';
import { Actions } from './actions.js';
import { Session } from './session.js';
import { Topology } from './topology.js';
import { SpaceTime } from './spacetime.js';
import { Inspector } from './inspector.js';
import { Invariants } from './invariants.js';
import { EventLog } from './log.js';
import { Timeline } from './timeline.js';
import { Controls } from './controls.js';
import { Menus } from './menus.js';
import { NodeList, MessageList } from './nodelist.js';
import { ScenarioPanel } from './scenario.js';
import { BehaviourNotice } from './notice.js';
import { Exporter } from './export.js';
import { Narration } from './narration.js';
import { ViolationBanner, StatusLine, ConnectionLight, renderRole } from './banners.js';
import { installTestHook } from './testhook.js';
import { RecentFrames } from './recent.js';
import { HuntPanel } from './hunt.js';
import { LessonPanel } from './lesson.js';
import { Classroom } from './classroom.js';
import { JoinCodeButton } from './joincode.js';
import { Presenter } from './presenter.js';
import { installEmbed } from './embed.js';

const $ = (id) => document.getElementById(id);

await initI18n();

const store = new Store({ boot: readJSON('boot') || {}, protocol: readJSON('protocol-data') });
const actions = new Actions(store, null);   // its net comes with the session, below
const canvas = $('canvas');

// ---------------------------------------------------------------- views
const topology = new Topology(canvas);
const roleColor = (r) => topology.roleColor(r);
const spacetime = new SpaceTime($('spacetime'), { roleColor, onSelectNode: (id) => actions.select(id) });
const inspector = new Inspector($('inspector'), { roleColor });
const invariants = new Invariants($('invariants'), { onFocus: (v) => actions.focusViolation(v) });
const log = new EventLog($('log'), $('log-filter'));
const timeline = new Timeline({
  input: $('timeline'),
  marks: $('timeline-marks'),
  readout: $('time-readout'),
  onPreview: (tt) => actions.preview(tt),
  onSeek: (tt) => actions.seek(tt),
});
const nodeList = new NodeList($('node-list'), { roleColor, onOpen: (id, button) => actions.openNodeFromList(id, button) });
const msgList = new MessageList($('msg-list'), { onOpen: (id, button) => actions.openMessageFromList(id, button) });
const narration = new Narration(store);
const banner = new ViolationBanner(store, actions);
const status = new StatusLine(store);
new ConnectionLight(store);

// ---------------------------------------------------------------- components
const recent = new RecentFrames();   // what was on screen a moment ago: a late click still finds a message
const menus = new Menus(store, actions, { canvas, topology, recent });
const controls = new Controls(store, actions);
const exporter = new Exporter(store, actions, { spacetime, canvas });   // downloads; a scenario file opens
const scenarioPanel = new ScenarioPanel(store, actions);
const notice = new BehaviourNotice($('behaviour-notice'));   // a link from another version

// ---------------------------------------------------------------- wiring through the store
store.on('protocol', (proto) => {
  inspector.setProtocol(proto);
  invariants.setProtocol(proto);
  scenarioPanel.setProtocol(proto);
});
store.on('run', (p) => {
  const m = store.m;
  topology.setRun(m.ids, m.layout, store.proto);
  nodeList.setIds(m.ids);
  spacetime.setRun(m.ids);
  notice.show(p.behaviour, store.proto && store.proto.name);
  scenarioPanel.setScenario(store.state.scenario);
});
store.on('seek', () => {
  log.model = null;            // the log and the timeline marks are drawn again
  timeline.markModel = null;
});
store.on('role', () => {
  const st = store.state;
  // Nothing is sent while the server is unreachable: the controls wait for it.
  const canAct = st.role === 'controller' && st.connected;
  renderRole(store);
  timeline.setEnabled(canAct);
  scenarioPanel.setEnabled(canAct, { viewer: st.role !== 'controller' });
  if (!canAct && st.partitionMode) actions.setPartitionMode(false);
  menus.updatePartitionControls(store.currentScene());
});
store.on('relabel', () => {
  inspector.key = null;
  invariants.key = null;
  log.model = null; // re-render in the new language
  timeline.relabel();
  scenarioPanel.buildPresets();
  scenarioPanel.render();
  menus.relabel();
  store.emit('role');
});
onLangChange(() => actions.languageChanged());

const session = new Session(store, actions, { swallows: (p) => exporter.swallows(p) });
actions.net = session.net;

// ---------------------------------------------------------------- teaching
const lesson = new LessonPanel({ cmd: (c, v) => actions.cmd(c, v), model: () => store.m });   // chapters, stops
store.on('run', (p) => lesson.setRun(p));
store.on('playback', (pb) => lesson.setPlayback(pb));
new Classroom(store, actions);                  // teacher left / back, speed=
new JoinCodeButton(session.net);                // the share popover's join code and QR code
new HuntPanel(store, actions, session.net);     // "Find a bug" in the bugs-and-parameters tab
new Presenter(store, actions, { net: session.net });   // full screen, back-row text, keys only
const fitScale = () => topology.setScale(store.canvasScale(innerWidth, innerHeight));
store.on('presenter', fitScale);
addEventListener('resize', fitScale);   // full screen came (or went), a window moved
installTestHook(store, { canvas, topology, recent });
installEmbed(store, actions);                   // a frame of /compare (?embed=1)

// ---------------------------------------------------------------- rendering

let drawKey = null;

function render(now) {
  const st = store.state;
  actions.expirePreview(now);
  const tt = store.displayTime(now);
  const scene = sceneAt(store.m, tt);
  store.scene = scene;
  const ui = {
    now,
    selected: st.selected,
    partitionMode: st.partitionMode,
    partitionGroups: st.partitionGroups,
    hoverMsg: st.hoverMsg,
    menuMsg: st.menuMsg,
    focusViolation: st.focusViolation,
    flashWindow: store.flashWindow(),
  };
  // Both canvases are pure functions of what is in this key: when none of it changed, the frame
  // is not redrawn (an idle page costs nothing, and a click's answer is not kept waiting behind
  // a redundant frame). Violation halos pulse with real time, so they always redraw.
  const sp = spacetime, topo = topology;
  const key = [tt, store.m.version, st.snapshotSeen, st.selected, st.partitionMode,
    st.partitionGroups.map((g) => g.join(' ')).join('|'), st.hoverMsg, st.menuMsg,
    st.focusViolation ? st.focusViolation.seq : '', store.langTick, window.devicePixelRatio,
    topo.w, topo.h, sp.w, sp.h, sp.zoom].join(',');
  if (key !== drawKey || scene.violations.length) {
    drawKey = key;
    topo.draw(st.snapshotSeen ? scene : null, ui);
    sp.draw(st.snapshotSeen ? scene : null, ui);
  }
  if (!st.snapshotSeen) return;
  recent.saw(now, tt, recent.same(tt) ? null : topo.messagePositions(scene));

  const clock = store.clock;
  inspector.render(st.selected, st.selected ? scene.nodes[st.selected] : null);
  nodeList.render(scene, { selected: st.selected, langTick: store.langTick });
  msgList.render(scene, { langTick: store.langTick });
  invariants.render(scene.violations, st.focusViolation);
  // Paused with lines left out while it streamed: show them all now.
  log.render(store.m, scene.eventCount, log.gaps && !(clock.playing && !clock.done));
  timeline.update(tt, store.m.t, clock.until === Infinity ? 0 : clock.until, store.m);
  menus.update(scene);
  narration.render(scene);
  banner.render(scene);
  status.render(scene);
  if (!st.ready) session.markReady();
  controls.update();
}

function frame(now) {
  try {
    render(now);
  } finally {
    requestAnimationFrame(frame);
  }
}
requestAnimationFrame(frame);
