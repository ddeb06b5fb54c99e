// Node list: every node of the run as a button, its role and state in words
// (running / crashed, its partition group, "violation" when an invariant names
// it). The canvas's click by keyboard: a button selects the node and opens the
// same node menu. Generic: roles, colours and ids come from the model.

import { t, tn } from './i18n.js';
import { el } from './format.js';

export class NodeList {
  constructor(root, { roleColor, onOpen }) {
    this.root = root;
    this.roleColor = roleColor;
    this.onOpen = onOpen;
    this.ids = null;
    this.items = new Map(); // id -> {button, key}
  }

  /** Rebuild the buttons only when the set of nodes changes (a focused one keeps its focus). */
  setIds(ids) {
    if (this.ids && this.ids.join('\n') === ids.join('\n')) return;
    this.ids = ids.slice();
    this.items.clear();
    const lis = ids.map((id) => {
      const button = el('button', {
        type: 'button', class: 'node-item', 'aria-haspopup': 'dialog', dataset: { node: id },
      });
      button.addEventListener('click', () => this.onOpen(id, button));
      this.items.set(id, { button, key: null });
      return el('li', {}, [button]);
    });
    this.root.replaceChildren(...lis);
  }

  /** Per frame: each node's words, rewritten only when they change. */
  render(scene, { selected, langTick }) {
    if (!scene) return;
    const bad = new Set();
    for (const v of scene.violations) for (const id of v.nodes || []) bad.add(id);
    const groupOf = new Map();
    if (scene.partition) scene.partition.forEach((g, i) => g.forEach((id) => groupOf.set(id, i)));
    for (const [id, item] of this.items) {
      const view = scene.nodes[id] || { up: true };
      const up = view.up !== false;
      const group = groupOf.has(id) ? String.fromCharCode(65 + groupOf.get(id)) : '';
      const key = `${up}|${view.role}|${group}|${bad.has(id)}|${selected === id}|${langTick}`;
      if (key === item.key) continue;
      item.key = key;
      const b = item.button;
      const role = view.role !== undefined && view.role !== null ? tn('role', view.role) : '';
      const dot = el('span', { class: 'ni-dot', 'aria-hidden': 'true' });
      if (up) dot.style.setProperty('--role', this.roleColor(view.role));
      const parts = [
        dot,
        el('span', { class: 'ni-id', text: id }),
        role && up ? el('span', { class: 'ni-role', text: role }) : null,
        // "running" is heard, not shown (the chips stay short); "crashed" is shown too.
        el('span', { class: up ? 'ni-state sr-only' : 'ni-state', text: up ? t('node.up') : t('node.crashed') }),
        group ? el('span', { class: 'ni-group', text: t('nodes.group', { group }) }) : null,
        bad.has(id) ? el('span', { class: 'ni-flag', title: t('nodes.violated') }, [
          el('span', { 'aria-hidden': 'true', text: '⚠' }), el('span', { class: 'sr-only', text: t('nodes.violated') }),
        ]) : null,
      ].filter(Boolean);
      b.replaceChildren(...parts);
      b.classList.toggle('down', !up);
      b.setAttribute('aria-current', selected === id ? 'true' : 'false');
    }
  }

  button(id) {
    const item = this.items.get(id);
    return item ? item.button : null;
  }
}

const MAX_MSGS = 40; // buttons at most: a busy run has hundreds in flight, nobody tabs through them

/** Messages in flight as buttons (folded away under a summary): each opens the message menu
 *  (drop, duplicate), the canvas's click on a message by keyboard. Pause first, as with the mouse. */
export class MessageList {
  constructor(details, { onOpen }) {
    this.details = details;
    this.summary = details.querySelector('summary');
    this.list = details.querySelector('ul');
    this.onOpen = onOpen;
    this.key = null;
  }

  render(scene, { langTick }) {
    if (!scene) return;
    const msgs = scene.inflight.slice(0, MAX_MSGS);
    const open = this.details.open;
    // Closed, only the count is kept up to date: a playing run does not rebuild hidden buttons.
    const key = `${scene.inflight.length}|${langTick}|${open ? msgs.map((m) => m.id).join(',') : ''}`;
    if (key === this.key) return;
    this.key = key;
    this.summary.textContent = t('msgs.title', { count: scene.inflight.length });
    if (!open) return;
    const had = this.list.contains(document.activeElement) ? document.activeElement.dataset.msg : null;
    const items = msgs.map((m) => {
      const b = el('button', {
        type: 'button', class: 'msg-item', 'aria-haspopup': 'dialog', dataset: { msg: String(m.id) },
        text: `#${m.id} ${tn('kind', m.kind)} ${m.src} → ${m.dst}`,
      });
      b.addEventListener('click', () => this.onOpen(m.id, b));
      return el('li', {}, [b]);
    });
    if (!items.length) items.push(el('li', { class: 'muted', text: t('msgs.none') }));
    this.list.replaceChildren(...items);
    if (had !== null) {
      const same = this.list.querySelector(`[data-msg="${CSS.escape(had)}"]`) || this.list.querySelector('button');
      (same || this.summary).focus({ preventScroll: true });
    }
  }
}
