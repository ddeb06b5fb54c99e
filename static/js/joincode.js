// Join code and QR code of a live session: a class types /j/ABC-123 or scans the code to
// watch. The server hands the code to the session's controller (socket `code`) and draws the
// QR code (/j/CODE.svg); this module shows both, in the share popover or big (presenter mode).

import { t, onLangChange } from './i18n.js';
import { el } from './format.js';
import { errorText } from './toasts.js';

/** ABC234 -> ABC-234: read aloud in two halves. */
export const prettyCode = (code) => `${code.slice(0, 3)}-${code.slice(3)}`;

/** Ask the server for the session's code: {ok, code, path, qr, watch} or a refusal. */
export function requestJoinCode(net) {
  return net.request('code', { session: net.session, control: net.control });
}

/** Draw a code and its QR code into `box` (emptied first); `big` for a projector. */
export function renderJoinCode(box, info, { big = false } = {}) {
  box.replaceChildren(
    el('p', { class: 'joincode-code', 'aria-label': t('joincode.button') }, prettyCode(info.code)),
    el('img', { class: 'joincode-qr', src: info.qr, alt: t('joincode.qr'), width: 240, height: 240 }),
    el('p', { class: 'joincode-how' }, t('joincode.how', { host: location.host })),
  );
  box.classList.toggle('joincode-big', big);
  box.hidden = false;
}

/** The "Join code" button of the share popover. */
export class JoinCodeButton {
  /** net: the session's requests (its `session` is the run on screen). */
  constructor(net) {
    this.net = net;
    this.button = document.getElementById('joincode-btn');
    this.box = document.getElementById('joincode-box');
    this.info = null;      // the last code shown, and for which session
    if (!this.button || !this.box) return;
    this.button.addEventListener('click', () => this.show());
    // A fork or a new run is another session, with another code: the old one goes.
    document.getElementById('share')?.addEventListener('click', () => {
      if (this.info && this.info.session !== this.net.session) {
        this.info = null;
        this.box.hidden = true;
      }
    });
    onLangChange(() => this.info && this.info.session === this.net.session && renderJoinCode(this.box, this.info));
  }

  async show() {
    const net = this.net;
    const resp = await requestJoinCode(net);
    if (!resp.ok) {
      this.box.replaceChildren(el('p', { class: 'joincode-how' },
        t('joincode.failed', { reason: errorText(resp) })));
      this.box.hidden = false;
      return;
    }
    this.info = { ...resp, session: net.session };
    renderJoinCode(this.box, this.info);
  }
}
