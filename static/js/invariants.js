// Invariants panel: every invariant the protocol declares with its status at
// the displayed time (ok / violated), each violation explained.

import { t } from './i18n.js';
import { el, fmtMs } from './format.js';

/** Display name: strings["invariant.<name>"], else the name made readable. */
export function invName(name) {
  const plain = String(name).replace(/[_-]+/g, ' ');
  return t(`invariant.${name}`, null, plain.charAt(0).toUpperCase() + plain.slice(1));
}

/** Explanation: strings["inv.<name>"] (the protocol's translation), else the English help. */
export function invHelp(name, help) {
  return t(`inv.${name}`, null, help || '');
}

/** A violation's message in the reader's language: strings[v.key] filled with v.args, else the English message. */
export function violationText(v) {
  return v.key ? t(v.key, v.args, v.message) : v.message;
}

const MAX_SHOWN = 2; // violations listed under one invariant (one can break hundreds of times)

export class Invariants {
  constructor(root, { onFocus }) {
    this.root = root;
    this.onFocus = onFocus || (() => {});
    this.protocol = null;
    this.key = null;
  }

  setProtocol(protocol) {
    this.protocol = protocol;
    this.key = null;
  }

  render(violations, focus, force = false) {
    const key = `${violations.length}|${focus ? focus.seq : ''}`;
    if (!force && key === this.key) return;
    this.key = key;
    const declared = (this.protocol && this.protocol.invariants) || [];
    const byName = new Map();
    for (const v of violations) {
      if (!byName.has(v.invariant)) byName.set(v.invariant, []);
      byName.get(v.invariant).push(v);
    }
    const list = declared.map((d) => ({ name: d.name, help: d.help }));
    for (const name of byName.keys()) {
      if (!declared.some((d) => d.name === name)) list.push({ name, help: '' });
    }
    this.root.replaceChildren();
    if (!list.length) {
      this.root.append(el('li', { class: 'muted', text: t('invariants.none') }));
      return;
    }
    // Broken ones first, so they are in view in a short panel; the rest keep their order.
    list.sort((a, b) => Number(byName.has(b.name)) - Number(byName.has(a.name)));
    for (const inv of list) {
      const all = byName.get(inv.name) || [];
      // The first violation (where it began) and the focused one; the rest are counted.
      let vs = all.slice(0, MAX_SHOWN);
      const f = focus && all.find((v) => v.seq === focus.seq);
      if (f && !vs.includes(f)) vs = [...vs.slice(0, MAX_SHOWN - 1), f];
      const bad = vs.length > 0;
      const help = invHelp(inv.name, inv.help);
      // Compact while it holds (help on hover); explained in full once violated.
      const li = el('li', {
        class: `inv ${bad ? 'violated' : 'ok'}`,
        title: help || null,
        dataset: { invariant: inv.name, status: bad ? 'violated' : 'ok' },
      }, [
        el('div', { class: 'inv-head' }, [
          // Holding: a check mark (the chip's name and tooltip say the rest); broken: the word.
          bad ? el('span', { class: 'inv-badge', text: t('invariants.violated') })
            : el('span', { class: 'inv-badge', text: '✓', role: 'img', 'aria-label': t('invariants.ok') }),
          el('span', { class: 'inv-name', text: invName(inv.name) }),
        ]),
        help && bad ? el('div', { class: 'inv-help', text: help }) : null,
      ]);
      for (const v of vs) {
        const focused = focus && focus.seq === v.seq;
        const item = el('button', {
          type: 'button',
          class: `inv-violation${focused ? ' focused' : ''}`,
          title: t('invariants.focus'),
          onclick: () => this.onFocus(v),
        }, [
          el('span', { class: 'inv-when', text: `${v.eventual ? t('invariants.eventual') + ' · ' : ''}${fmtMs(v.t)}` }),
          el('span', { class: 'inv-msg', text: violationText(v) }),
          v.nodes && v.nodes.length
            ? el('span', { class: 'inv-nodes', text: t('invariants.nodes', { nodes: v.nodes.join(', ') }) })
            : null,
        ]);
        li.append(item);
      }
      if (all.length > vs.length) {
        li.append(el('div', { class: 'inv-more muted', text: t('invariants.more', { count: all.length - vs.length }) }));
      }
      this.root.append(li);
    }
  }
}
