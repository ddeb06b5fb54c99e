// Playback controls (#play, #step, #speed, #restart), sharing (#share,
// #share-url), forking (#fork), the help overlay and the keyboard.

import { t } from './i18n.js';
import { fmtSpeed, clamp } from './format.js';

// Speed ladder for + / - (virtual ms per real ms).
const LADDER = [0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];

export const speedToSlider = (s) => Math.log10(clamp(s, 0.01, 10));
export const sliderToSpeed = (v) => {
  const s = Math.pow(10, clamp(Number(v), -2, 1));
  // Round to 2 significant digits so the server sees tidy values.
  const p = Math.pow(10, Math.floor(Math.log10(s)) - 1);
  return clamp(Math.round(s / p) * p, 0.01, 10);
};

export class Controls {
  constructor(store, actions) {
    this.store = store;
    this.actions = actions;
    this.$ = (id) => document.getElementById(id);
    this.play = this.$('play');
    this.step = this.$('step');
    this.back = this.$('back');
    this.speed = this.$('speed');
    this.speedOut = this.$('speed-out');
    this.restart = this.$('restart');
    this.share = this.$('share');
    this.shareUrl = this.$('share-url');
    this.watchUrl = this.$('watch-url');
    this.sharePop = this.$('share-pop');
    this.shareStatus = this.$('share-status');
    this.fork = this.$('fork');
    this.help = this.$('help');
    this.speedDragging = false;
    this.lastKey = '';

    this.play.addEventListener('click', () => this.togglePlay());
    this.step.addEventListener('click', () => actions.cmd('step'));
    this.back.addEventListener('click', () => actions.stepBack());
    this.restart.addEventListener('click', () => actions.cmd('restart'));
    this.speed.addEventListener('input', () => {
      this.speedDragging = true;
      this.showSpeed(sliderToSpeed(this.speed.value));
    });
    this.speed.addEventListener('change', () => {
      this.speedDragging = false;
      this.setSpeed(sliderToSpeed(this.speed.value));
    });
    this.speed.addEventListener('keydown', (e) => {
      // The arrows move the slider a rung of the speed ladder (0.1x -> 0.2x): its own 0.01 step
      // would round back to the same speed.
      const dir = { ArrowRight: 1, ArrowUp: 1, ArrowLeft: -1, ArrowDown: -1 }[e.key];
      if (!dir) return;
      e.preventDefault();
      this.bumpSpeed(dir);
    });
    this.share.addEventListener('click', () => this.doShare());
    this.$('share-copy').addEventListener('click', () => this.copy(this.shareUrl.value));
    this.$('watch-copy').addEventListener('click', () => this.copy(this.watchUrl.value));
    this.$('share-close').addEventListener('click', () => this.closeShare());
    for (const b of document.querySelectorAll('[data-fork]')) b.addEventListener('click', () => actions.fork());
    this.$('help-btn').addEventListener('click', () => this.toggleHelp());
    this.$('help-close').addEventListener('click', () => this.toggleHelp(false));
    this.help.addEventListener('click', (e) => {
      if (e.target === this.help) this.toggleHelp(false);
    });
    document.addEventListener('pointerdown', (e) => {
      if (!this.sharePop.hidden && !this.sharePop.contains(e.target) && e.target !== this.share
        && !this.share.contains(e.target)) this.sharePop.hidden = true;
    });
    document.addEventListener('keydown', (e) => this.onKey(e));
    // Which control the mouse (not the keyboard) focused last: it does not claim Space.
    // (:focus-visible cannot tell at keydown: the key press itself makes it match.)
    this.pointerAt = -Infinity;
    this.mouseFocused = null;
    document.addEventListener('pointerdown', () => { this.pointerAt = performance.now(); }, true);
    document.addEventListener('keydown', () => { this.pointerAt = -Infinity; }, true); // Tab: keyboard focus
    document.addEventListener('focusin', (e) => {
      this.mouseFocused = performance.now() - this.pointerAt < 500 ? e.target : null;
    }, true);
  }

  togglePlay() {
    const c = this.store.clock;
    const actions = this.actions;
    if (c.done) {
      // The run is over: play on, as long again (Restart, its own button, starts it over).
      actions.cmd('extend', this.store.continueBy());
      return;
    }
    actions.cmd(c.playing ? 'pause' : 'play');
  }

  setSpeed(s) {
    s = clamp(s, 0.01, 10);
    this.pendingSpeed = s; // until the server's playback confirms it
    this.pendingAt = performance.now();
    this.showSpeed(s);
    this.speed.value = String(speedToSlider(s));
    this.actions.cmd('speed', s);
  }

  showSpeed(s) {
    const text = fmtSpeed(s);
    if (this.speedOut.textContent !== text) this.speedOut.textContent = text;
    this.speed.dataset.speed = String(s);
  }

  bumpSpeed(dir) {
    const recent = this.pendingSpeed && performance.now() - this.pendingAt < 1500;
    const cur = recent ? this.pendingSpeed : this.store.clock.speed;
    let next;
    if (dir > 0) next = LADDER.find((s) => s > cur * 1.001) ?? LADDER[LADDER.length - 1];
    else next = [...LADDER].reverse().find((s) => s < cur * 0.999) ?? LADDER[0];
    this.setSpeed(next);
  }

  shareLink() {
    const store = this.store;
    const name = store.protocolName();
    const tt = Math.floor(store.displayTime()); // the server has run every event up to floor(t), no further
    if (!store.state.token) return '';
    return `${location.origin}/play/${encodeURIComponent(name)}?s=${encodeURIComponent(store.state.token)}&t=${tt}${this.speedArg()}`;
  }

  /** `&speed=` when the run plays at another speed than its protocol's: a link keeps it. */
  speedArg() {
    const proto = this.store.protocol();
    const s = this.store.clock.speed;
    return typeof s === 'number' && s !== (proto && proto.speed) ? `&speed=${s}` : '';
  }

  watchLink() {
    const store = this.store;
    const name = store.protocolName();
    if (!store.state.session) return '';
    return `${location.origin}/play/${encodeURIComponent(name)}?session=${encodeURIComponent(store.state.session)}`;
  }

  doShare() {
    const url = this.shareLink();
    this.shareUrl.value = url;
    this.watchUrl.value = this.watchLink();
    this.sharePop.hidden = false;
    if (url) this.copy(url);
  }

  copy(text) {
    if (!text) return;
    const done = (ok) => {
      this.shareStatus.textContent = ok ? t('share.copied') : t('share.manual');
      this.shareStatus.className = ok ? 'share-status ok' : 'share-status';
      if (!ok) {
        this.shareUrl.focus({ preventScroll: true });
        this.shareUrl.select();
      }
    };
    try {
      if (navigator.clipboard && window.isSecureContext) {
        navigator.clipboard.writeText(text).then(() => done(true), () => done(false));
        return;
      }
    } catch {
      /* fall through */
    }
    done(false);
  }

  toggleHelp(force) {
    const show = force !== undefined ? force : this.help.hidden;
    if (show === !this.help.hidden) return;
    const inside = this.help.contains(document.activeElement);
    this.help.hidden = !show;
    if (show) {
      this.helpReturn = document.activeElement; // focus goes back there when the dialog closes
      this.$('help-close').focus({ preventScroll: true });
    } else if (inside && this.helpReturn && this.helpReturn.isConnected) {
      this.helpReturn.focus({ preventScroll: true });
    }
  }

  /** Close the share popover; focus inside it goes back to the Share button. */
  closeShare() {
    if (this.sharePop.hidden) return;
    const inside = this.sharePop.contains(document.activeElement);
    this.sharePop.hidden = true;
    if (inside) this.share.focus({ preventScroll: true });
  }

  onKey(e) {
    if (e.ctrlKey || e.metaKey || e.altKey) return;
    const tag = e.target && e.target.tagName;
    const typing = (tag === 'INPUT' && e.target.type !== 'range' && e.target.type !== 'checkbox')
      || tag === 'TEXTAREA' || tag === 'SELECT' || (e.target && e.target.isContentEditable);
    if (e.key === 'Escape') {
      const inPopup = this.sharePop.contains(e.target) || this.help.contains(e.target);
      this.actions.closeMenus();
      if (this.store.state.partitionMode) this.actions.setPartitionMode(false);
      this.closeShare();
      this.toggleHelp(false);
      if (typing && !inPopup) e.target.blur();
      return;
    }
    if (e.key === 'Tab' && !this.help.hidden) {
      // The help dialog is modal: focus stays on its one control until it closes.
      e.preventDefault();
      this.$('help-close').focus({ preventScroll: true });
      return;
    }
    if (typing) return;
    const key = e.key;
    // A focused control keeps the keys it uses itself: Space presses a button, ticks a checkbox
    // or picks a tab; the arrows move a slider or between tabs. The playback bar's buttons
    // leave Space to play/pause, as a media player's do (a presenter clicks Step, then Space).
    // Only a control reached from the keyboard claims them: one the mouse just clicked (a bug
    // toggle, a tab) leaves Space to play/pause, as before the click.
    let el = e.target && e.target.closest ? e.target.closest('input, button, summary, [role="tab"]') : null;
    if (el && el === this.mouseFocused) el = null;
    const ownsSpace = el && (el.type === 'checkbox' || el.type === 'radio' || el.tagName === 'SUMMARY'
      || (el.tagName === 'BUTTON' && !el.closest('.control-bar')));
    const ownsArrows = el && (el.getAttribute('role') === 'tab' || el.type === 'range' || el.type === 'radio');
    if ((ownsSpace && (key === ' ' || key === 'Spacebar'))
        || (ownsArrows && key.startsWith('Arrow'))) return;
    if (!this.help.hidden) {
      // The help dialog is modal: no shortcut reaches the run behind it (Space stays with the
      // dialog's focused button); only ? and Escape close it.
      if (key === '?') {
        this.toggleHelp(false);
        e.preventDefault();
      }
      return;
    }
    const controller = this.store.isController();
    const actions = this.actions;
    let handled = true;
    if (key === ' ' || key === 'Spacebar') {
      // Space is play/pause (a presenter's habit) wherever no control claims it.
      if (controller) this.togglePlay();
    } else if (key === 'ArrowRight') {
      if (controller) actions.cmd('step');
    } else if (key === 'ArrowLeft') {
      if (controller) actions.stepBack();
    } else if (key === '+' || key === '=') {
      if (controller) this.bumpSpeed(1);
    } else if (key === '-' || key === '_') {
      if (controller) this.bumpSpeed(-1);
    } else if (key === 'r' || key === 'R') {
      if (controller) actions.cmd('restart');
    } else if (key === 's' || key === 'S') {
      this.doShare();
    } else if (key === 'p' || key === 'P') {
      if (controller && this.store.state.connected) actions.setPartitionMode();
    } else if (key === '?') {
      this.toggleHelp();
    } else {
      handled = false;
    }
    if (handled) e.preventDefault();
  }

  /** Per frame: reflect playback and role. */
  update() {
    const store = this.store;
    const c = store.clock;
    const controller = store.isController();
    const atStart = store.displayTime() <= 0;
    const live = store.state.ready && store.state.connected; // nothing plays without the server
    const key = `${c.playing}|${c.done}|${controller}|${live}|${c.speed}|${store.langTick}|${atStart}`;
    if (key === this.lastKey) return;
    this.lastKey = key;
    const playing = c.playing && !c.done;
    this.play.dataset.state = playing ? 'playing' : 'paused';
    this.play.setAttribute('aria-pressed', playing ? 'true' : 'false');
    const label = this.play.querySelector('.label');
    label.textContent = playing ? t('controls.pause') : c.done ? t('controls.continue') : t('controls.play');
    this.play.querySelector('.icon use').setAttribute('href', playing ? '#i-pause' : '#i-play');
    for (const b of [this.play, this.step, this.back, this.restart, this.speed]) b.disabled = !controller || !live;
    if (atStart) this.back.disabled = true; // nothing before t = 0
    if (!this.speedDragging) {
      this.speed.value = String(speedToSlider(c.speed));
      this.showSpeed(c.speed);
    }
    this.fork.hidden = controller || !store.state.ready;
  }
}
