// Scenario panel: preset picker (#preset loads the lesson into this session), bug toggles
// (#bugs, data-bug) and parameters (#params, data-param); bug and parameter
// changes send `configure` with the current scenario minus its actions.

import { has, t, tn } from './i18n.js';
import { el } from './format.js';

/**
 * A bug toggle's title and help line. Protocols declare one description per bug ("bug.<name>");
 * with no "bug.<name>.title" the title is the description's head before a colon ("Heuristic
 * abort: ..."), else the whole description: never the raw name.
 */
export function bugText(bug) {
  const desc = t(`bug.${bug.name}`, null, bug.help || '');
  if (has(`bug.${bug.name}.title`)) return { title: t(`bug.${bug.name}.title`), help: desc };
  const cap = (s) => (/^[a-z]+\b/.test(s) ? s[0].toUpperCase() + s.slice(1) : s); // not "votedFor"
  const m = /^([^:：]{3,60})[:：]\s*(\S[\s\S]*)$/.exec(desc);
  if (m) return { title: cap(m[1].trim()), help: cap(m[2]) };
  return { title: cap(desc) || bug.name.replace(/[_-]+/g, ' '), help: '' };
}

export class ScenarioPanel {
  constructor(store, actions) {
    this.store = store;
    this.actions = actions;
    // A configure the server refused: put its values back, the lesson picker's included.
    store.on('scenario', () => {
      this.buildPresets();
      this.render();
    });
    this.preset = document.getElementById('preset');
    this.lesson = document.getElementById('lesson');
    this.bugs = document.getElementById('bugs');
    this.params = document.getElementById('params');
    this.protocol = null;
    this.scenario = null;
    this.enabled = false;
    this.inUse = null; // JSON of collect() while every field shows the scenario in use
    this.bugCount = document.getElementById('bug-count');
    this.lessonMore = document.getElementById('lesson-more');
    const toggleLesson = () => {
      this.lesson.parentElement.classList.toggle('expanded');
      this.updateLessonMore();
    };
    this.lesson.addEventListener('click', toggleLesson);
    this.lessonMore.addEventListener('click', toggleLesson);
    window.addEventListener('resize', () => this.updateLessonMore());
    this.tabs = [...document.querySelectorAll('.side-tab')];
    for (const tab of this.tabs) {
      tab.addEventListener('click', () => this.showTab(tab.dataset.tab));
      tab.addEventListener('keydown', (e) => {
        if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
        e.preventDefault();
        e.stopPropagation(); // the page's arrows step the run; on a tab they move between tabs
        const next = this.tabs[(this.tabs.indexOf(tab) + (e.key === 'ArrowRight' ? 1 : this.tabs.length - 1)) % this.tabs.length];
        this.showTab(next.dataset.tab);
        next.focus();
      });
    }
    // A lesson chosen with the mouse loads at once. With the keyboard the arrows only browse
    // (Chromium fires `change` on each one, and each load restarts the class's run): Enter or
    // leaving the picker loads the one shown.
    this.presetKeys = false;
    this.preset.addEventListener('keydown', (e) => {
      if (e.key === 'Enter') {
        this.presetKeys = false;
        this.loadLesson();
      } else if (e.key.startsWith('Arrow') || ['Home', 'End', 'PageUp', 'PageDown'].includes(e.key)
                 || e.key.length === 1) {
        this.presetKeys = true;   // browsing (a letter jumps to a lesson too)
      }
    });
    this.preset.addEventListener('change', () => {
      if (this.presetKeys) return;
      this.loadLesson();
      // Hand the keys back to the page: a focused <select> takes the arrows (the next → would
      // show the next lesson instead of stepping the run).
      this.preset.blur();
    });
    this.preset.addEventListener('blur', () => {
      if (!this.presetKeys) return;
      this.presetKeys = false;
      this.loadLesson();
    });
  }

  /** Load the lesson the picker shows into this session (the class follows), if it is another. */
  loadLesson() {
    const name = this.protocol ? this.protocol.name : this.store.boot.protocol;
    const p = this.preset.value;
    if (p === this.currentPreset()) return;
    this.actions.configure(p ? { protocol: name, preset: p } : { protocol: name });
  }

  /** The lesson the session runs ('' for free play): the snapshot's, or the link's before it. */
  currentPreset() {
    return this.scenario ? this.scenario.preset || '' : this.store.boot.preset || '';
  }

  /** The side column shows either the run (inspector, invariants, log) or its setup. */
  showTab(name) {
    for (const tab of this.tabs) {
      const on = tab.dataset.tab === name;
      tab.setAttribute('aria-selected', String(on));
      tab.tabIndex = on ? 0 : -1;
      document.getElementById(tab.getAttribute('aria-controls')).hidden = !on;
    }
  }

  setProtocol(protocol) {
    this.protocol = protocol;
    this.buildPresets();
  }

  buildPresets() {
    const proto = this.protocol;
    if (!proto) return;
    const current = this.currentPreset();
    const opts = [el('option', { value: '', 'data-i18n': 'preset.none', text: t('preset.none') })];
    for (const p of proto.presets || []) {
      opts.push(el('option', { value: p.name, text: t(`preset.${p.name}`, null, p.title) }));
    }
    this.preset.replaceChildren(...opts);
    this.preset.value = current;
    const p = (proto.presets || []).find((x) => x.name === current);
    this.lesson.textContent = p ? t(`preset.${p.name}.lesson`, null, p.lesson) : t('preset.free');
    this.lesson.title = this.lesson.textContent;
    this.updateLessonMore();
  }

  /** "More" shows only when the lesson is cut short (or opened: then "Less"). */
  updateLessonMore() {
    const open = this.lesson.parentElement.classList.contains('expanded');
    const clipped = this.lesson.scrollHeight > this.lesson.clientHeight + 1;
    this.lessonMore.hidden = !open && !clipped;
    this.lessonMore.textContent = t(open ? 'lesson.less' : 'lesson.more');
    this.lessonMore.setAttribute('aria-expanded', String(open));
  }

  /** A snapshot arrived: show its scenario. */
  setScenario(scenario) {
    this.scenario = scenario;
    this.buildPresets();
    this.render();
  }

  setEnabled(on, { viewer = false } = {}) {
    this.enabled = on;
    // Only the owner picks the lesson (a watcher forks to try their own); nobody while offline.
    this.preset.disabled = !on;
    this.preset.title = viewer ? t('preset.viewer') : '';
    if (!this.rows) return;
    for (const input of this.bugs.querySelectorAll('input')) input.disabled = !on;
    for (const input of this.params.querySelectorAll('input, select')) input.disabled = !on;
  }

  /** Build the bug and parameter controls for this protocol (once), then fill them in. */
  build() {
    const proto = this.protocol;
    this.rows = [];     // {label, small, key, input, text(), help()}
    const bugs = (proto.bugs || []).map((b) => {
      const input = el('input', { type: 'checkbox', dataset: { bug: b.name }, disabled: !this.enabled });
      input.addEventListener('change', () => this.send());
      const strong = el('strong');
      const small = el('small');
      this.rows.push({
        input, label: strong, small,
        text: () => bugText(b).title,
        help: () => bugText(b).help,
      });
      return el('label', { class: 'bug' }, [input, el('span', { class: 'bug-text' }, [strong, small])]);
    });
    this.bugsEmpty = el('p', { class: 'muted' });
    this.bugs.replaceChildren(...(bugs.length ? bugs : [this.bugsEmpty]));

    const nodes = proto.nodes || { min: 1, max: 9 };
    const rows = [
      this.numRow('nodes', () => t('params.nodes'), nodes.min, nodes.max, 1, () => t('params.nodes.help')),
      this.numRow('latency.0', () => t('params.latency.min'), 1, 10000, 1, () => t('params.latency.help')),
      this.numRow('latency.1', () => t('params.latency.max'), 1, 10000, 1, () => t('params.latency.help')),
      this.numRow('loss', () => t('params.loss'), 0, 0.9, 0.05, () => t('params.loss.help')),
      this.numRow('duplicate', () => t('params.duplicate'), 0, 0.9, 0.05, () => t('params.duplicate.help')),
      this.numRow('seed', () => t('params.seed'), 0, 4294967295, 1, () => t('params.seed.help')),
    ];
    for (const p of proto.params || []) {
      // Sentence case beside the page's own rows (Nodes, Latency min): protocols write "vote timeout".
      const label = () => {
        const s = tn('param', p.name);
        return s.charAt(0).toUpperCase() + s.slice(1);
      };
      const help = () => t(`param.${p.name}.help`, null, p.help || '');
      if (p.kind === 'choice') {
        const sel = el('select', { dataset: { param: `p.${p.name}` }, disabled: !this.enabled },
          (p.choices || []).map((c) => el('option', { value: c, text: c })));
        const span = el('span');
        const row = el('label', { class: 'param' }, [span, sel]);
        this.rows.push({ input: sel, label: span, row, text: label, help, choices: p.choices || [], pname: p.name });
        rows.push(row);
      } else {
        rows.push(this.numRow(`p.${p.name}`, label, p.min, p.max, p.kind === 'float' ? 'any' : 1, help));
      }
    }
    this.params.replaceChildren(...rows);
    for (const r of this.rows) {
      if (!r.input.dataset.param) continue;
      // A field being typed in keeps its text when a snapshot arrives; once committed (Enter,
      // blur) it shows the server's value again (a value that cannot be used is refused with a message).
      r.input.addEventListener('input', () => (r.dirty = true));
      r.input.addEventListener('change', () => {
        r.dirty = false;
        this.send();
      });
      r.input.addEventListener('keydown', (e) => {
        if (e.key !== 'Escape') return;
        // Escape abandons the edit: back to the value in use, nothing sent (the page's
        // Escape handler then blurs the field, and with the value restored no change fires).
        r.dirty = false;
        this.showValue(r, this.valuesInUse());
      });
    }
  }

  numRow(key, label, min, max, step, help) {
    const input = el('input', {
      type: 'number', dataset: { param: key }, min, max, step, disabled: !this.enabled, inputmode: 'decimal',
    });
    const span = el('span');
    const row = el('label', { class: 'param' }, [span, input]);
    this.rows.push({ input, label: span, row, text: label, help });
    return row;
  }

  /** The value of every parameter field in the scenario in use. */
  valuesInUse() {
    const proto = this.protocol;
    const sc = this.scenario || {};
    const net = sc.network || proto.network || {};
    const lat = Array.isArray(net.latency) ? net.latency : [10, 30];
    const values = {
      nodes: sc.nodes, 'latency.0': lat[0], 'latency.1': lat[1], loss: net.loss ?? 0,
      duplicate: net.duplicate ?? 0, seed: sc.seed ?? 1,
    };
    for (const p of proto.params || []) values[`p.${p.name}`] = sc.params && p.name in sc.params ? sc.params[p.name] : p.default;
    return values;
  }

  showValue(r, values) {
    const sc = this.scenario || {};
    if (r.input.type === 'checkbox') r.input.checked = (sc.bugs || []).includes(r.input.dataset.bug);
    else if (r.input.dataset.param in values) r.input.value = String(values[r.input.dataset.param]);
  }

  /** Labels in the current language; values from the scenario (except a field being typed in). */
  render() {
    const proto = this.protocol;
    const sc = this.scenario;
    if (!proto || !sc) return;
    // Snapshots carry a fresh describe() each time: rebuild only if the controls would differ.
    const shape = JSON.stringify([proto.name, proto.nodes, proto.params, proto.bugs]);
    if (this.builtFor !== shape) {
      this.build();
      this.builtFor = shape;
    }
    if (this.bugsEmpty) this.bugsEmpty.textContent = t('bugs.none');
    const on = (sc.bugs || []).length;
    this.bugCount.hidden = !on;
    this.bugCount.textContent = String(on);
    this.bugCount.title = on ? t('bugs.on', { count: on }) : '';
    const values = this.valuesInUse();
    let all = true;
    for (const r of this.rows) {
      r.label.textContent = r.text();
      const help = r.help();
      if (r.small) r.small.textContent = help;
      else if (r.row) r.row.title = help || '';
      if (r.choices) {
        r.choices.forEach((c, i) => {
          r.input.options[i].textContent = t(`param.${r.pname}.${c}`, null, c);
        });
      }
      if (r.dirty) all = false;
      else this.showValue(r, values);
    }
    // What the panel sends when nothing was changed: send() compares against it.
    this.inUse = all ? JSON.stringify(this.collect()) : null;
  }

  /** The scenario the panel describes now (actions left out: configure clears them).
   *  Throws a translated message naming the first field whose value cannot be used. */
  collect() {
    const proto = this.protocol;
    const sc = this.scenario || {};
    const out = {
      protocol: proto.name,
      seed: sc.seed,
      nodes: sc.nodes,
      params: { ...(sc.params || {}) },
      network: { ...(sc.network || proto.network || {}) },
      bugs: [],
      until: sc.until,
    };
    if (sc.preset) out.preset = sc.preset;
    if (sc.lesson) out.lesson = sc.lesson;   // a teacher's chapters and stops outlive a bug toggle
    for (const input of this.bugs.querySelectorAll('input[data-bug]')) if (input.checked) out.bugs.push(input.dataset.bug);
    const lat = [...(out.network.latency || [10, 30])];
    for (const input of this.params.querySelectorAll('[data-param]')) {
      const key = input.dataset.param;
      if (input.tagName === 'SELECT') {
        out.params[key.slice(2)] = input.value;
        continue;
      }
      if (input.value.trim() === '') continue; // an emptied field keeps the value in use (Number('') is 0)
      const v = Number(input.value);
      const min = Number(input.min), max = Number(input.max);
      const row = this.rows.find((r) => r.input === input);
      const name = row ? row.text() : key;
      if (!Number.isFinite(v) || v < min || v > max) {
        throw new Error(t('params.out_of_range', { name, min, max, value: input.value.trim() }));
      }
      const isInt = input.step !== 'any' && Number(input.step) === 1;
      if (isInt && !Number.isInteger(v)) throw new Error(t('params.not_whole', { name, value: input.value.trim() }));
      if (key === 'nodes') out.nodes = v;
      else if (key === 'seed') out.seed = v;
      else if (key === 'latency.0') lat[0] = v;
      else if (key === 'latency.1') lat[1] = v;
      else if (key === 'loss' || key === 'duplicate') out.network[key] = Math.round(v * 1000) / 1000;
      else if (key.startsWith('p.')) out.params[key.slice(2)] = v;
    }
    if (lat[0] > lat[1]) throw new Error(t('params.latency_order', { min: lat[0], max: lat[1] }));
    out.network.latency = lat;
    for (const k of Object.keys(out)) if (out[k] === undefined) delete out[k];
    return out;
  }

  send() {
    if (!this.enabled) return;
    let sc;
    try {
      sc = this.collect();
    } catch (e) {
      // Nothing is sent: say what is wrong and show the values in use again.
      this.actions.toast(e.message, 'error');
      for (const r of this.rows) r.dirty = false;
      this.render();
      return;
    }
    if (this.inUse !== null && JSON.stringify(sc) === this.inUse) {
      // Nothing to change (an emptied field, a value that rounds to the current one): configure
      // would restart the run and clear its actions for nothing. Just show the values in use.
      this.render();
      return;
    }
    this.actions.configure(sc);
  }
}
