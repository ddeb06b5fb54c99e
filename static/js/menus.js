// Faults by mouse: click a node -> #node-menu (crash / restart, client
// operations for its role, force a timer); click a message in flight ->
// #msg-menu (drop / duplicate); partition mode (#partition-btn,
// #partition-next, #partition-apply, #heal-btn). Every choice becomes an `action`.
// By keyboard: the node list (nodelist.js) opens the same node menu; an open menu
// takes focus, the arrows move through it, Escape closes it and focus goes back.
// Which menu is open, partition picking and the hovered message live in the store
// (store.js) and change through actions.js; this module draws them.
// Clickable time: a press on the canvas holds the run still (actions.hold) and is answered at
// once (pointerdown, not click); a press where a message flew a moment ago (recent.js: the
// frames of the last 400 ms) opens that message, the run shown back at that moment.

import { t, tn } from './i18n.js';
import { el, fmtBody, fmtMs, kindColor, icon, GROUP_COLORS } from './format.js';

export class Menus {
  /** `canvas` takes the clicks; `topology` (read only) finds the node or message under the
   *  pointer; `recent` (recent.js) remembers the frames just drawn. */
  constructor(store, actions, { canvas, topology, recent }) {
    this.store = store;
    this.actions = actions;
    this.canvas = canvas;
    this.topology = topology;
    this.recent = recent;
    this.nodeMenu = document.getElementById('node-menu');
    this.msgMenu = document.getElementById('msg-menu');
    this.tooltip = document.getElementById('tooltip');
    this.partBtn = document.getElementById('partition-btn');
    this.partApply = document.getElementById('partition-apply');
    this.partNext = document.getElementById('partition-next');
    this.healBtn = document.getElementById('heal-btn');
    this.partHint = document.getElementById('partition-hint');
    this.openNodeId = null;
    this.openNodeKey = null;
    this.openMsgId = null;
    this.openMsgKey = null;
    this.returnFocus = null; // the control that opened a menu by keyboard gets focus back

    for (const menu of [this.nodeMenu, this.msgMenu]) menu.addEventListener('keydown', (e) => this.onMenuKey(e, menu));
    // A press on the canvas opens a menu or picks a partition group; while it is down the run
    // holds still.
    canvas.addEventListener('pointerdown', (e) => this.onCanvasDown(e));
    const up = () => actions.release('pointer');
    window.addEventListener('pointerup', up);
    window.addEventListener('pointercancel', up);
    canvas.addEventListener('mousemove', (e) => this.onCanvasMove(e));
    canvas.addEventListener('mouseleave', () => {
      actions.hoverMessage(null);
      this.hideTooltip();
      canvas.style.cursor = '';
    });
    document.addEventListener('pointerdown', (e) => {
      if (this.nodeMenu.contains(e.target) || this.msgMenu.contains(e.target) || e.target === canvas) return;
      actions.closeMenus();
    });
    this.partBtn.addEventListener('click', () => actions.setPartitionMode());
    this.partApply.addEventListener('click', () => actions.applyPartition());
    this.partNext.addEventListener('click', () => actions.nextGroup());
    this.healBtn.addEventListener('click', () => actions.act({ do: 'heal' }));
    // The store says which menu is open; this draws it (or closes both).
    store.on('menu', (menu) => {
      if (!menu) this.closeAll();
      else if (menu.kind === 'node') this.openNode(menu.id, menu.x, menu.y, menu.opener);
      else this.openMsg(menu.id, menu.x, menu.y, menu.opener);
    });
    store.on('partition', () => this.updatePartitionControls(store.currentScene()));
  }

  canvasXY(e) {
    const r = this.canvas.getBoundingClientRect();
    return { x: e.clientX - r.left, y: e.clientY - r.top };
  }

  onCanvasDown(e) {
    if (e.button !== 0) return;
    const { x, y } = this.canvasXY(e);
    const actions = this.actions;
    const topo = this.topology;
    const scene = this.store.currentScene();
    if (!scene) return;
    if (this.store.state.partitionMode) {
      const id = topo.nodeAt(x, y);
      if (id) actions.pickForGroup(id);
      return;
    }
    actions.hold('pointer');
    // What the person aimed at: maybe gone by now (at 1x a message flies for 10-30 ms), but on
    // screen a moment ago; then the run is shown back at that moment.
    let msg = topo.messageAt(x, y, scene);
    const hit = this.recent && !topo.onNode(x, y) ? this.recent.pick(x, y, performance.now(), topo.hitRadius) : null;
    if (hit && (!msg || msg.id !== hit.id)) {
      msg = this.store.m.byId.get(hit.id) || msg;
      if (msg && msg.id === hit.id) actions.lookBack(hit.t, msg);
    }
    if (msg) {
      actions.openMessageMenu(msg.id, e.clientX, e.clientY);
      return;
    }
    const id = topo.nodeAt(x, y);
    if (id) {
      actions.select(id);
      actions.openNodeMenu(id, e.clientX, e.clientY);
      return;
    }
    actions.closeMenus();
  }

  onCanvasMove(e) {
    const { x, y } = this.canvasXY(e);
    const scene = this.store.currentScene();
    if (!scene) return;
    const msg = this.store.state.partitionMode ? null : this.topology.messageAt(x, y, scene);
    this.actions.hoverMessage(msg ? msg.id : null);
    const node = msg ? null : this.topology.nodeAt(x, y);
    this.canvas.style.cursor = msg || node ? 'pointer' : '';
    if (msg && this.openMsgId !== msg.id) {
      const body = fmtBody(msg.body, 160);
      this.showTooltip(e.clientX, e.clientY,
        `#${msg.id} ${tn('kind', msg.kind)}  ${msg.src} → ${msg.dst}${body ? '\n' + body : ''}\n` +
        t('msg.times', { sent: fmtMs(msg.sent_at), due: fmtMs(msg.deliver_at) }));
    } else {
      this.hideTooltip();
    }
  }

  showTooltip(x, y, text) {
    const tip = this.tooltip;
    tip.textContent = text;
    tip.hidden = false;
    const w = tip.offsetWidth, h = tip.offsetHeight;
    tip.style.left = `${Math.min(window.innerWidth - w - 8, x + 14)}px`;
    tip.style.top = `${Math.min(window.innerHeight - h - 8, y + 14)}px`;
  }

  hideTooltip() {
    this.tooltip.hidden = true;
  }

  place(menu, x, y) {
    this.hideTooltip();
    menu.hidden = false;
    const w = menu.offsetWidth, h = menu.offsetHeight;
    const left = Math.max(8, Math.min(window.innerWidth - w - 8, x + 12));
    const top = Math.max(8, Math.min(window.innerHeight - h - 8, y + 12));
    menu.style.left = `${left}px`;
    menu.style.top = `${top}px`;
  }

  /** Close both menus (the store says none is open); focus inside one goes back to the
   *  control that opened it. */
  closeAll() {
    const back = this.returnFocus;
    const a = document.activeElement;
    const inMenu = a && (this.nodeMenu.contains(a) || this.msgMenu.contains(a));
    this.returnFocus = null;
    if (back && back.isConnected && (inMenu || a === document.body)) back.focus({ preventScroll: true });
    this.nodeMenu.hidden = true;
    this.msgMenu.hidden = true;
    this.openNodeId = null;
    this.openMsgId = null;
  }

  // ------------------------------------------------------------ node menu

  /** Arrows move through a menu's enabled controls; Escape closes it (focus goes back). */
  onMenuKey(e, menu) {
    if (e.key === 'Escape') {
      e.preventDefault();
      e.stopPropagation();
      this.actions.closeMenus();
      return;
    }
    if (e.key !== 'ArrowDown' && e.key !== 'ArrowUp') return;
    if (e.target.tagName === 'INPUT') return;
    const items = [...menu.querySelectorAll('button:not([disabled]), input:not([disabled])')];
    if (!items.length) return;
    e.preventDefault();
    e.stopPropagation();   // not a step of the run
    const i = items.indexOf(document.activeElement);
    const next = e.key === 'ArrowDown' ? (i + 1) % items.length : (i - 1 + items.length) % items.length;
    items[next].focus();
  }

  focusFirst(menu) {
    const first = menu.querySelector('button:not([disabled])') || menu.querySelector('input:not([disabled])');
    if (first) first.focus({ preventScroll: true });
    else {
      menu.tabIndex = -1; // nothing to press (a watcher): the menu itself takes focus, Escape closes it
      menu.focus({ preventScroll: true });
    }
  }

  openNode(id, x, y, opener = null) {
    this.returnFocus = opener;
    this.msgMenu.hidden = true;
    this.openMsgId = null;
    this.openNodeId = id;
    this.buildNodeMenu(this.store.currentScene());
    this.place(this.nodeMenu, x, y);
    this.focusFirst(this.nodeMenu);
  }

  nodeKey(scene) {
    const v = scene.nodes[this.openNodeId] || {};
    return `${v.up !== false}|${v.role}|${this.store.state.role}|${this.timersFor(this.openNodeId).join(',')}`;
  }

  /** Timers a person may force on node `id`: the protocol's, narrowed to those armed there when
   *  the server says which are (payload `timers`, live: an action applies to the live run). */
  timersFor(id) {
    const all = (this.store.protocol() || {}).timers || [];
    const armed = this.store.model().armed;
    if (!armed) return all;
    const on = armed[id] || [];
    return all.filter((name) => on.includes(name));
  }

  buildNodeMenu(scene) {
    const id = this.openNodeId;
    const view = scene.nodes[id] || { up: true };
    const up = view.up !== false;
    const viewer = !this.store.isController();
    const proto = this.store.protocol() || {};
    this.openNodeKey = this.nodeKey(scene);
    // A rebuild (the node crashed, a timer armed) keeps keyboard focus on the same choice.
    const had = document.activeElement && this.nodeMenu.contains(document.activeElement)
      ? document.activeElement.dataset.action || null : undefined;
    this.nodeMenu.setAttribute('aria-label', t('menu.node.label', { node: id }));
    const items = [];
    const btn = (action, label, cls = '', extra = {}) =>
      el('button', { type: 'button', class: `menu-item ${cls}`, dataset: { action }, disabled: viewer, ...extra }, label);

    items.push(el('div', { class: 'menu-head' }, [
      el('strong', { text: id }),
      el('span', { class: 'muted', text: up ? (view.role !== undefined ? tn('role', view.role) : '') : t('node.crashed') }),
    ]));
    if (up) items.push(btn('crash', [icon('power', 'mi-icon'), t('menu.crash')], 'danger'));
    else items.push(btn('restart', [icon('restart', 'mi-icon'), t('menu.restart')], 'good'));

    if (up) {
      const ops = (proto.operations || []).filter((o) => !o.roles || !o.roles.length || o.roles.includes(view.role));
      if (ops.length) items.push(el('div', { class: 'menu-sep', text: t('menu.requests') }));
      for (const op of ops) {
        const label = [icon('mail', 'mi-icon'), tn('op', op.name)];
        const help = t(`op.${op.name}.help`, null, op.help || '');
        if (op.arg) {
          const input = el('input', {
            type: 'text', class: 'menu-arg', placeholder: t(`op.${op.name}.arg`, null, op.arg),
            dataset: { argFor: op.name }, maxlength: 200, disabled: viewer,
            'aria-label': t(`op.${op.name}.arg`, null, op.arg),
          });
          // The protocol's suggested argument is filled in, so one click sends a request.
          if (op.default) input.value = op.default;
          // Nothing is sent for an empty box (the protocol would get ""): the button waits for text.
          const b = btn(`request:${op.name}`, label, '', { title: help || null, disabled: viewer || !input.value.trim() });
          input.addEventListener('input', () => (b.disabled = viewer || !input.value.trim()));
          input.addEventListener('keydown', (e) => {
            if (e.key === 'Enter') {
              e.preventDefault();
              if (!b.disabled) b.click();
            }
          });
          items.push(el('div', { class: 'menu-row' }, [b, input]));
        } else {
          items.push(btn(`request:${op.name}`, label, '', { title: help || null }));
        }
      }
      const timers = this.timersFor(id);
      if (timers.length) items.push(el('div', { class: 'menu-sep', text: t('menu.timers') }));
      for (const name of timers) {
        items.push(btn(`timeout:${name}`, [icon('timer', 'mi-icon'), t('menu.fire', { timer: tn('timer', name) })]));
      }
    }
    if (viewer) items.push(el('p', { class: 'menu-note', text: t('viewer.menu') }));
    this.nodeMenu.replaceChildren(...items);
    for (const b of this.nodeMenu.querySelectorAll('button[data-action]')) {
      b.addEventListener('click', () => this.nodeAction(b.dataset.action));
    }
    if (had !== undefined) {
      const same = had && [...this.nodeMenu.querySelectorAll('button[data-action]')].find((b) => b.dataset.action === had);
      if (same && !same.disabled) same.focus({ preventScroll: true });
      else this.focusFirst(this.nodeMenu);
    }
  }

  nodeAction(action) {
    const id = this.openNodeId;
    if (!id) return;
    let a;
    if (action === 'crash' || action === 'restart') a = { do: action, node: id };
    else if (action.startsWith('request:')) {
      const op = action.slice('request:'.length);
      const input = this.nodeMenu.querySelector(`input[data-arg-for="${CSS.escape(op)}"]`);
      a = { do: 'request', node: id, op };
      if (input) {
        if (!input.value.trim()) return;
        a.arg = input.value.trim();
      }
    } else if (action.startsWith('timeout:')) {
      a = { do: 'timeout', node: id, timer: action.slice('timeout:'.length) };
    }
    if (a) this.actions.act(a);
    this.actions.closeMenus();
  }

  // ------------------------------------------------------------ message menu

  openMsg(id, x, y, opener = null) {
    this.returnFocus = opener;
    this.nodeMenu.hidden = true;
    this.openNodeId = null;
    this.openMsgId = id;
    this.buildMsgMenu(this.store.currentScene());
    this.place(this.msgMenu, x, y);
    if (opener) this.focusFirst(this.msgMenu);
  }

  msgKey(scene) {
    const inflight = scene.inflight.some((m) => m.id === this.openMsgId);
    return `${inflight}|${this.store.state.role}`;
  }

  buildMsgMenu(scene) {
    const msg = this.store.model().byId.get(this.openMsgId);
    if (!msg) {
      this.actions.closeMenus();
      return;
    }
    const inflight = scene.inflight.some((m) => m.id === msg.id);
    const viewer = !this.store.isController();
    this.openMsgKey = this.msgKey(scene);
    const hadFocus = this.msgMenu.contains(document.activeElement);
    this.msgMenu.setAttribute('aria-label', t('menu.msg.label', { id: msg.id }));
    const kind = el('span', { class: 'kind-chip', text: tn('kind', msg.kind) });
    kind.style.setProperty('--kind', kindColor(msg.kind));
    const body = fmtBody(msg.body, 200);
    const items = [
      el('div', { class: 'menu-head' }, [kind, el('span', { text: `${msg.src} → ${msg.dst}` }), el('span', { class: 'muted', text: `#${msg.id}` })]),
      body ? el('code', { class: 'menu-body', text: body }) : null,
      el('div', { class: 'menu-meta muted', text: t('msg.times', { sent: fmtMs(msg.sent_at), due: fmtMs(msg.deliver_at) }) }),
    ];
    const b = (action, name, label, cls) => el('button', {
      type: 'button', class: `menu-item ${cls}`, dataset: { action }, disabled: viewer || !inflight,
    }, [icon(name, 'mi-icon'), label]);
    items.push(b('drop', 'x', t('menu.drop'), 'danger'));
    items.push(b('duplicate', 'copy', t('menu.duplicate'), ''));
    if (!inflight) {
      const status = msg.status === 'dropped' ? t('msg.dropped') : t('msg.delivered');
      items.push(el('p', { class: 'menu-note', text: status }));
    } else if (viewer) items.push(el('p', { class: 'menu-note', text: t('viewer.menu') }));
    this.msgMenu.replaceChildren(...items.filter(Boolean));
    for (const btn of this.msgMenu.querySelectorAll('button[data-action]')) {
      btn.addEventListener('click', () => {
        this.actions.act({ do: btn.dataset.action, msg: msg.id });
        this.actions.closeMenus();
      });
    }
    if (hadFocus) this.focusFirst(this.msgMenu);
  }

  // ------------------------------------------------------------ partitions

  updatePartitionControls(scene) {
    const st = this.store.state;
    const controller = st.role === 'controller' && st.connected;
    const groups = st.partitionGroups;
    const cur = groups[groups.length - 1];
    const picked = groups.reduce((k, g) => k + g.length, 0);
    const left = this.store.model().ids.length - picked;
    this.partBtn.setAttribute('aria-pressed', st.partitionMode ? 'true' : 'false');
    this.partBtn.classList.toggle('active', st.partitionMode);
    this.partBtn.disabled = !controller;
    this.partApply.disabled = !controller || !st.partitionMode || !this.store.chosenGroups();
    this.partNext.hidden = !st.partitionMode;
    this.partNext.disabled = !controller || !cur.length || left < 2 || groups.length >= GROUP_COLORS.length - 1;
    this.healBtn.disabled = !controller || !(scene && scene.partition);
    this.partHint.hidden = !st.partitionMode;
    this.partHint.parentElement.classList.toggle('partitioning', st.partitionMode);
    if (st.partitionMode) {
      const letter = String.fromCharCode(65 + groups.length - 1);
      // Only what can be done next: Cut needs two groups, + Group a node left over for it.
      let key = groups.length > 1 && this.store.chosenGroups() ? 'partition.hint.next' : 'partition.hint';
      if (cur.length && left >= 2) key = this.partNext.disabled ? 'partition.hint.cut' : 'partition.hint.count';
      else if (cur.length && left === 1) key = 'partition.hint.last';
      else if (cur.length) key = this.store.chosenGroups() ? 'partition.hint.all' : 'partition.hint.one_group';
      const text = t(key, { group: letter, count: cur.length, left });
      if (this.partHint.textContent !== text) {
        this.partHint.textContent = text;
        this.partHint.title = text;   // cut at two lines on a narrow canvas: the whole hint on hover
      }
    }
  }

  /** Per frame: keep open menus in step with the scene. */
  update(scene) {
    if (this.openNodeId && !this.nodeMenu.hidden && this.nodeKey(scene) !== this.openNodeKey) {
      const focused = document.activeElement && this.nodeMenu.contains(document.activeElement)
        && document.activeElement.tagName === 'INPUT';
      if (!focused) this.buildNodeMenu(scene);
    }
    if (this.openMsgId !== null && !this.msgMenu.hidden && this.msgKey(scene) !== this.openMsgKey) {
      this.buildMsgMenu(scene);
    }
    this.updatePartitionControls(scene);
  }

  relabel() {
    const scene = this.store.currentScene();
    if (!scene) return;
    if (this.openNodeId && !this.nodeMenu.hidden) this.buildNodeMenu(scene);
    if (this.openMsgId !== null && !this.msgMenu.hidden) this.buildMsgMenu(scene);
    this.updatePartitionControls(scene);
  }
}
