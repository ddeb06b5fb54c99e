// Presenter mode: the run on a projector. The canvas takes the screen (full screen where the
// browser allows it, else the window), the side panels, the space-time diagram and the control
// bar go, and what stays is sized for the back row: the lesson's chapter (the lesson panel, n /
// total and its title), the narration, and the topology drawn store.canvasScale() times bigger.
// Keyboard only: Space plays or pauses, the arrows step (controls.js), N / B or Page Down / Up
// turn chapters (lesson.js), J shows the join code and its QR code big, Esc leaves. Leaving puts
// every panel back as it was: presenter mode is one class on <body> and one store flag.

import { t } from './i18n.js';
import { el } from './format.js';
import { errorText } from './toasts.js';
import { requestJoinCode, renderJoinCode } from './joincode.js';

const $ = (id) => document.getElementById(id);

export class Presenter {
  /** net: the session's requests (for the join code). */
  constructor(store, actions, { net }) {
    this.store = store;
    this.actions = actions;
    this.net = net;
    this.button = $('presenter-btn');
    this.join = $('presenter-join');
    this.joinBox = $('presenter-join-box');
    this.fullscreen = false;      // this mode asked for the browser's full screen (and got it)
    this.joinToken = 0;           // the latest join code request (an older answer is dropped)
    this.button.addEventListener('click', () => actions.setPresenter());
    document.addEventListener('keydown', (ev) => this.onKey(ev));
    // Esc in the browser's full screen leaves it before the page sees the key: leave with it.
    document.addEventListener('fullscreenchange', () => {
      if (!document.fullscreenElement && this.fullscreen) {
        this.fullscreen = false;
        actions.setPresenter(false);
      }
    });
    store.on('presenter', (on) => this.apply(on));
  }

  onKey(ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    const tag = ev.target && ev.target.tagName;
    if (tag === 'INPUT' || tag === 'TEXTAREA' || tag === 'SELECT' || (ev.target && ev.target.isContentEditable)) return;
    if (!$('help').hidden) return;   // the help dialog is modal
    const on = this.store.state.presenter;
    if (ev.key === 'f' || ev.key === 'F') {
      this.actions.setPresenter();
    } else if (on && (ev.key === 'j' || ev.key === 'J')) {
      this.toggleJoin();
    } else if (on && ev.key === 'Escape') {
      this.actions.setPresenter(false);
    } else {
      return;
    }
    ev.preventDefault();
  }

  apply(on) {
    document.body.classList.toggle('presenter', on);
    this.button.setAttribute('aria-pressed', on ? 'true' : 'false');
    if (on) {
      this.actions.closeMenus();
      // The header button is gone from sight: nothing focused may keep Space from play/pause.
      if (document.activeElement && document.activeElement !== document.body) document.activeElement.blur();
      const root = document.documentElement;
      if (root.requestFullscreen && document.fullscreenEnabled && !document.fullscreenElement) {
        // Allowed only in a person's gesture (a key, a click): refused, the window is the screen.
        root.requestFullscreen({ navigationUI: 'hide' })
          .then(() => { this.fullscreen = this.store.state.presenter; })
          .catch(() => { this.fullscreen = false; });
      }
      this.actions.toast(t('presenter.hint'));
    } else {
      this.showJoin(false);
      if (this.fullscreen && document.fullscreenElement) document.exitFullscreen().catch(() => {});
      this.fullscreen = false;
      this.button.focus({ preventScroll: true });
    }
  }

  toggleJoin() {
    this.showJoin(this.join.hidden);
  }

  /** The join code and its QR code big over the canvas (asked of the server each time: a fork
   *  or a new run is another session, with another code). */
  async showJoin(show) {
    const token = ++this.joinToken;
    if (!show) {
      this.join.hidden = true;
      return;
    }
    const resp = await requestJoinCode(this.net);
    if (token !== this.joinToken || !this.store.state.presenter) return;
    if (resp.ok) {
      renderJoinCode(this.joinBox, resp, { big: true });
    } else {
      this.joinBox.replaceChildren(el('p', { class: 'joincode-how' }, t('joincode.failed', { reason: errorText(resp) })));
      this.joinBox.hidden = false;
    }
    this.join.hidden = false;
  }
}
