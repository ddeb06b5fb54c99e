// Node inspector: the selected node's view, durable fields (survive a crash)
// apart from volatile ones (lost on a crash), changed values flashed briefly.

import { labelText, t, tn } from './i18n.js';
import { el, fmtReadable, icon } from './format.js';

const HIDDEN = new Set(['up', 'role', 'label']);
const FLASH_MS = 1600; // keep in step with the .field.changed animation in app.css

export class Inspector {
  constructor(root, { roleColor }) {
    this.root = root;
    this.roleColor = roleColor;
    this.protocol = null;
    this.lastNode = null;
    this.lastValues = new Map(); // field -> rendered string, for change highlighting
    this.flashAt = new Map();    // field -> performance.now() when it last changed
    this.key = null;
  }

  setProtocol(protocol) {
    this.protocol = protocol;
    this.key = null;
  }

  /** Re-render when the node, its view or the language changed. */
  render(nodeId, view, force = false) {
    const key = nodeId ? `${nodeId}|${JSON.stringify(view)}` : '';
    if (!force && key === this.key) return;
    this.key = key;
    const root = this.root;
    root.replaceChildren();
    if (!nodeId || !view) {
      root.append(el('p', { class: 'muted', text: t('inspector.empty') }));
      this.lastNode = null;
      return;
    }
    const sameNode = this.lastNode === nodeId;
    const prev = sameNode ? this.lastValues : new Map();
    if (!sameNode) this.flashAt.clear();
    const now = performance.now();
    const next = new Map();
    const up = view.up !== false;

    const roleName = view.role !== undefined ? tn('role', view.role) : '';
    const chip = el('span', { class: 'role-chip', text: roleName });
    chip.style.setProperty('--role', up ? this.roleColor(view.role) : '#9ca3af');
    root.append(el('div', { class: 'insp-head' }, [
      el('strong', { class: 'insp-id', text: nodeId }),
      roleName ? chip : null,
      el('span', { class: up ? 'status up' : 'status down', text: up ? t('node.up') : t('node.crashed') }),
    ]));
    const label = labelText(view.label);
    if (label) root.append(el('p', { class: 'insp-label', text: label }));

    // Declared fields this node's view has (roles show different fields), then any others.
    const declared = ((this.protocol && this.protocol.fields) || []).filter((f) => f.name in view && !HIDDEN.has(f.name));
    const durable = declared.filter((f) => f.durable);
    const volatile = declared.filter((f) => !f.durable);
    const known = new Set(((this.protocol && this.protocol.fields) || []).map((f) => f.name));
    for (const k of Object.keys(view)) {
      if (!known.has(k) && !HIDDEN.has(k)) volatile.push({ name: k, durable: false, help: '' });
    }

    const section = (fields, durableSec) => {
      if (!fields.length) return;
      const title = durableSec ? t('inspector.durable') : t('inspector.volatile');
      const hint = durableSec ? t('inspector.durable.hint') : t('inspector.volatile.hint');
      const rows = fields.map((f) => {
        const present = f.name in view;
        const text = present ? fmtReadable(view[f.name], 400) : '—';
        next.set(f.name, text);
        if (sameNode && prev.has(f.name) && prev.get(f.name) !== text) this.flashAt.set(f.name, now);
        const age = now - (this.flashAt.get(f.name) ?? -1e9);
        const changed = age < FLASH_MS;
        const lost = !up && !durableSec;
        const help = t(`field.${f.name}.help`, null, f.help || '');
        const row = el('div', {
          class: `field${changed ? ' changed' : ''}${lost ? ' lost' : ''}`,
          dataset: { field: f.name, durable: durableSec ? 'true' : 'false' },
        }, [
          el('span', { class: 'fname', title: help || null, text: tn('field', f.name) }),
          el('code', { class: 'fval', text }),
        ]);
        if (changed) row.style.animationDelay = `${-Math.round(age)}ms`;
        return row;
      });
      root.append(el('section', { class: `insp-sec ${durableSec ? 'durable' : 'volatile'}` }, [
        el('h4', {}, [
          icon(durableSec ? 'disk' : 'bolt', 'sec-icon'),
          title,
          el('small', { text: hint }),
        ]),
        ...rows,
      ]));
    };
    section(durable, true);
    section(volatile, false);
    if (!up) root.append(el('p', { class: 'insp-note', text: t('inspector.crashed.note') }));
    this.lastNode = nodeId;
    this.lastValues = next;
  }
}
