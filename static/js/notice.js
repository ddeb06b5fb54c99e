// The notice for a share link made under another version of the protocol's behaviour.
// The server's snapshot says so (docs/socket-api.md, `behaviour`: {made, now, changes});
// the run still opens, following the server's rules, and this tells the reader plainly
// that it may differ from what the link's author saw, and what changed. It stays until
// dismissed; a dismissed notice does not come back for the same link on this page.

import { t, onLangChange } from './i18n.js';

const MAX_CHANGES = 50;   // a link years old lists every change since; more is noise

function version(v) {
  return Number.isInteger(v) && v >= 1 ? v : null;
}

export class BehaviourNotice {
  constructor(root) {
    this.root = root;
    this.text = root.querySelector('.bn-text');
    this.head = root.querySelector('.bn-changes-head');
    this.list = root.querySelector('.bn-changes');
    this.note = null;
    this.dismissed = new Set();
    root.querySelector('.bn-dismiss').addEventListener('click', () => this.dismiss());
    onLangChange(() => this.render());
  }

  /** A snapshot's `behaviour` (null when the link was made with today's version). */
  show(note, protocolName) {
    const made = note && version(note.made);
    const now = note && version(note.now);
    this.note = made && now && made !== now
      ? { made, now, protocol: String(protocolName || ''),
          changes: (Array.isArray(note.changes) ? note.changes : []).filter((k) => typeof k === 'string').slice(0, MAX_CHANGES) }
      : null;
    this.render();
  }

  key() {
    const n = this.note;
    return n ? `${n.protocol}:${n.made}:${n.now}` : '';
  }

  dismiss() {
    if (this.note) this.dismissed.add(this.key());
    const hadFocus = this.root.contains(document.activeElement);
    this.render();
    // Focus would fall to the page's start: keep it near, on the run's main control.
    const play = document.getElementById('play');
    if (hadFocus && play && !play.disabled) play.focus();
  }

  render() {
    const n = this.note;
    if (!n || this.dismissed.has(this.key())) {
      this.root.hidden = true;
      return;
    }
    // The protocol's own title, in the reader's language (its strings are the page's by now).
    const args = { protocol: t('title', null, n.protocol), made: n.made, now: n.now };
    this.text.textContent = t(n.made < n.now ? 'link.older' : 'link.newer', args);
    this.list.replaceChildren(...n.changes.map((k) => {
      const li = document.createElement('li');
      li.textContent = t(k, null, k);
      return li;
    }));
    this.head.hidden = this.list.hidden = n.changes.length === 0;
    this.root.hidden = false;
  }
}
