// Embed mode (?embed=1): the play page as one frame of the side-by-side page (/compare,
// static/js/compare.js). The header and the side panels go (one `embed` class on <body>), so
// the canvas and its narration fill the frame; the run opens paused, as every run from a link
// does. The parent, on this site only, drives playback with postMessage
//   {type: 'pp-compare', cmd: 'play' | 'pause' | 'seek' | 'speed' | 'lang', t?, play?, speed?, lang?}
// applied through the page's own actions (this page owns its session), and hears
//   {type: 'pp-state', protocol, t, playing, done, until, ready}
// a few times a second.

import { setLang } from './i18n.js';

const STATE_EVERY_MS = 200;

export function installEmbed(store, actions) {
  if (!store.boot || !store.boot.embed || window.parent === window) return;
  document.body.classList.add('embed');
  const parent = window.parent;
  const clock = () => store.clock;
  const ready = () => Boolean(store.state.ready && store.isController() && store.state.connected);

  const commands = {
    play: () => {
      if (!clock().playing && !clock().done) actions.cmd('play');
    },
    pause: () => {
      if (clock().playing) actions.cmd('pause');
    },
    // A seek pauses the run (docs/socket-api.md); `play` plays on once it is done, in order.
    seek: (d) => {
      if (typeof d.t !== 'number' || !Number.isFinite(d.t)) return;
      const until = clock().until;
      const tt = Math.max(0, Math.round(Math.min(d.t, until === Infinity ? d.t : until)));
      actions.cmd('seek', tt).then((r) => {
        if (r.ok && d.play && !clock().done) actions.cmd('play');
      });
    },
    speed: (d) => {
      if (typeof d.speed === 'number' && Number.isFinite(d.speed)) actions.cmd('speed', d.speed);
    },
    lang: (d) => setLang(d.lang, { remember: false }),
  };

  window.addEventListener('message', (e) => {
    if (e.origin !== location.origin || e.source !== parent) return;
    const d = e.data;
    if (!d || d.type !== 'pp-compare' || !Object.hasOwn(commands, d.cmd)) return;
    if (d.cmd !== 'lang' && !ready()) return;     // the parent says it again once it hears ready
    commands[d.cmd](d);
  });

  setInterval(() => {
    const c = clock();
    parent.postMessage({
      type: 'pp-state',
      protocol: store.boot.protocol,
      t: store.displayTime(),
      playing: Boolean(c.playing && !c.done),
      done: Boolean(c.done),
      until: c.until === Infinity ? null : c.until,
      ready: ready(),
    }, location.origin);
  }, STATE_EVERY_MS);
}
