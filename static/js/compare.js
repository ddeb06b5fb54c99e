// The side-by-side page (/compare): one frame per protocol, each a live play page in embed
// mode (embed.js) running its own session of the same role-based fault schedule, under ONE
// shared timeline. Above each frame, what every schedule item became there (or that the
// pattern has no such role or step); below, the differences told from the runs' costs.
//
// The parent keeps a virtual clock (play / pause / seek / speed) and tells every frame; frames
// report their time a few times a second, and one that drifts from the shared time by more
// than DRIFT_MS (at 1x) is seeked back to it. Nothing here names a protocol: titles and
// numbers come from the page's data (playground/comparepages.py).

import { initI18n, addEmbeddedStrings, onLangChange, getLang, t } from './i18n.js';
import { fmtMs, readJSON } from './format.js';

const DRIFT_MS = 50;            // virtual ms a frame may be off at 1x before it is seeked
const FIX_COOLDOWN_MS = 1000;   // real ms between two corrections of one frame
const MIN_COL = 2;
const MAX_COL = 4;

const $ = (id) => document.getElementById(id);

const data = readJSON('compare-data');
addEmbeddedStrings();                 // the protocols' titles in both languages
await initI18n();

const plans = data.plans;
const longest = Math.max(...plans.map((p) => p.until));
const titleOf = (p) => t(p.title.key, null, p.title.text);
const secs = (ms) => (ms >= 1000 ? `${Math.round(ms / 100) / 10} s` : fmtMs(ms));

// ---------------------------------------------------------------- what each item became

/** A role reference ("participant:2") in the reader's words. */
function roleText(ref) {
  const [name, k] = String(ref).split(':');
  const word = t(`compare.role.${name}`, null, name);
  return k ? t('compare.role.nth', { role: word, k }) : word;
}

function stepText(step) {
  return t(`compare.step.${step}`, null, step);
}

/** What a schedule item asks for: "crash the coordinator", "drop decision message 1". */
function itemText(it) {
  const args = {};
  if (it.role) args.role = roleText(it.role);
  if (it.isolate) args.role = roleText(it.isolate);
  if (it.groups) args.groups = it.groups.map((g) => g.map(roleText).join(', ')).join(' | ');
  if (it.step) args.step = stepText(it.step);
  args.nth = it.nth;
  let key = `compare.do.${it.do}`;
  if (it.do === 'request' && it.role) key = 'compare.do.request_to';
  if (it.do === 'partition' && it.groups) key = 'compare.do.partition_groups';
  return t(key, args, it.do);
}

function outcomeText(o, it) {
  const what = itemText(it);
  if (o.status === 'applied') {
    const at = fmtMs(o.at);
    if ((o.do === 'drop' || o.do === 'duplicate') && o.nodes && o.nodes.length === 2) {
      return t('compare.outcome.message', { what, src: o.nodes[0], dst: o.nodes[1], at });
    }
    return o.nodes && o.nodes.length
      ? t('compare.outcome.applied', { what, nodes: o.nodes.join(', '), at })
      : t('compare.outcome.applied_at', { what, at });
  }
  const nothing = t(`compare.nothing.${it.do}`, null, t('compare.nothing.any'));
  if (o.status === 'no_role') return t('compare.outcome.no_role', { role: roleText(o.what), nothing });
  if (o.status === 'no_step') {
    if (o.what === 'fail') return t('compare.outcome.no_fail', { nothing });
    return t('compare.outcome.no_step', { step: stepText(o.what), nothing });
  }
  return t('compare.outcome.unresolved', { what, why: o.what || '' });
}

function renderItems() {
  for (const [i, p] of plans.entries()) {
    const ul = document.querySelector(`[data-items="${i}"]`);
    ul.replaceChildren();
    for (const o of p.outcomes) {
      const li = document.createElement('li');
      li.className = `compare-item ${o.status}`;
      li.dataset.status = o.status;
      li.dataset.do = o.do;
      li.textContent = outcomeText(o, p.schedule.items[o.index]);
      ul.append(li);
    }
  }
}

// ---------------------------------------------------------------- the differences, told

function costLines(c) {
  const lines = [];
  lines.push(c.decided_ms === null || c.decided_ms === undefined
    ? t('compare.cost.never_decided') : t('compare.cost.decided', { t: secs(c.decided_ms) }));
  if (typeof c.slowest_ms === 'number' && c.slowest_ms !== c.decided_ms) {
    lines.push(t('compare.cost.slowest', { t: secs(c.slowest_ms) }));
  }
  if (c.blocked_ms) lines.push(t('compare.cost.blocked', { t: secs(c.blocked_ms) }));
  if (c.held_ms) lines.push(t('compare.cost.held', { t: secs(c.held_ms) }));
  if (c.compensations !== null && c.compensations !== undefined) {
    lines.push(t('compare.cost.compensations', { n: c.compensations }));
  }
  if (c.leaderless_ms) lines.push(t('compare.cost.leaderless', { t: secs(c.leaderless_ms) }));
  if (c.duplicates) lines.push(t('compare.cost.duplicates', { n: c.duplicates }));
  if (c.stale_reads) lines.push(t('compare.cost.stale', { n: c.stale_reads }));
  if (c.served !== null && c.served !== undefined && c.served < 1) {
    lines.push(t('compare.cost.served', { pct: Math.round(c.served * 100) }));
  }
  if (c.violations) lines.push(t('compare.cost.violations', { n: c.violations }));
  lines.push(t('compare.cost.messages', { n: c.messages }));
  return lines;
}

/** One comparative sentence: who decided first, who never did, who stayed blocked longest. */
function summary() {
  const parts = [];
  const decided = plans.filter((p) => typeof p.costs.decided_ms === 'number');
  const never = plans.filter((p) => typeof p.costs.decided_ms !== 'number');
  if (decided.length) {
    const first = decided.reduce((a, b) => (b.costs.decided_ms < a.costs.decided_ms ? b : a));
    const tie = decided.filter((p) => p.costs.decided_ms === first.costs.decided_ms).length > 1;
    if (!tie) parts.push(t('compare.story.first', { name: titleOf(first), t: secs(first.costs.decided_ms) }));
  }
  if (never.length) parts.push(t('compare.story.never', { names: never.map(titleOf).join(t('compare.and')) }));
  const blocked = plans.filter((p) => p.costs.blocked_ms);
  if (blocked.length) {
    const worst = blocked.reduce((a, b) => (b.costs.blocked_ms > a.costs.blocked_ms ? b : a));
    if (plans.length > 1) parts.push(t('compare.story.blocked', { name: titleOf(worst), t: secs(worst.costs.blocked_ms) }));
  }
  const leaderless = plans.filter((p) => p.costs.leaderless_ms);
  if (leaderless.length) {
    const worst = leaderless.reduce((a, b) => (b.costs.leaderless_ms > a.costs.leaderless_ms ? b : a));
    parts.push(t('compare.story.leaderless', { name: titleOf(worst), t: secs(worst.costs.leaderless_ms) }));
  }
  // A client kept waiting (a write caught in a failover, an order caught in a crash).
  const slow = plans.filter((p) => typeof p.costs.slowest_ms === 'number');
  if (slow.length > 1) {
    const worst = slow.reduce((a, b) => (b.costs.slowest_ms > a.costs.slowest_ms ? b : a));
    const best = slow.reduce((a, b) => (b.costs.slowest_ms < a.costs.slowest_ms ? b : a));
    if (worst.costs.slowest_ms > 2 * best.costs.slowest_ms) {
      parts.push(t('compare.story.slowest', { name: titleOf(worst), t: secs(worst.costs.slowest_ms) }));
    }
  }
  // Undoing work: with resources frozen meanwhile (a cancel), or with nothing frozen (a compensation).
  for (const p of plans.filter((q) => q.costs.compensations > 0)) {
    parts.push(p.costs.held_ms > 0
      ? t('compare.story.undo_frozen', { name: titleOf(p), t: secs(p.costs.held_ms) })
      : t('compare.story.undo_done', { name: titleOf(p) }));
  }
  return parts.join(' ');
}

function renderStory() {
  $('compare-summary').textContent = summary();
  const ul = $('compare-costs');
  ul.replaceChildren();
  for (const p of plans) {
    const li = document.createElement('li');
    li.dataset.protocol = p.protocol;
    const name = document.createElement('strong');
    name.textContent = titleOf(p);
    li.append(name, `${t('compare.colon')}${costLines(p.costs).join(t('compare.sep'))}`);
    ul.append(li);
  }
}

// ---------------------------------------------------------------- the shared timeline

const frames = [...document.querySelectorAll('[data-frame]')].map((el, i) => ({
  el, plan: plans[i], t: 0, playing: false, done: false, ready: false, fixedAt: -Infinity,
}));
const clock = { playing: false, speed: 1, base: 0, since: performance.now() };
const slider = $('cmp-time');
const readout = $('cmp-time-out');
let dragging = false;

function now() {
  return clock.playing ? Math.min(longest, clock.base + (performance.now() - clock.since) * clock.speed) : clock.base;
}

function post(f, msg) {
  if (f.el.contentWindow) f.el.contentWindow.postMessage({ type: 'pp-compare', ...msg }, location.origin);
}

function postAll(msg) {
  for (const f of frames) post(f, msg);
}

/** Where a frame should be now: the shared time, within its own run. */
function target(f) {
  return Math.min(now(), f.plan.until);
}

function bring(f) {
  f.fixedAt = performance.now();
  const tt = target(f);
  post(f, { cmd: 'seek', t: tt, play: clock.playing && tt < f.plan.until });
}

function setPlaying(on) {
  clock.base = now();
  clock.since = performance.now();
  if (on && clock.base >= longest) clock.base = 0;       // played to the end: from the start again
  clock.playing = on;
  const btn = $('cmp-play');
  btn.setAttribute('aria-pressed', String(on));
  btn.querySelector('use').setAttribute('href', on ? '#i-pause' : '#i-play');
  $('cmp-play-label').textContent = t(on ? 'compare.pause' : 'compare.play');
  for (const f of frames) {
    if (!f.ready) continue;
    if (on && clock.base === 0 && f.t > 0) bring(f);
    else if (on) post(f, { cmd: 'play' });
    else bring(f);           // paused: every frame stops at the very same moment
  }
}

function seekAll(tt) {
  clock.base = Math.max(0, Math.min(longest, tt));
  clock.since = performance.now();
  for (const f of frames) if (f.ready) bring(f);
}

$('cmp-play').addEventListener('click', () => setPlaying(!clock.playing));
slider.addEventListener('input', () => {
  dragging = true;
  readout.textContent = fmtMs(Number(slider.value));
});
slider.addEventListener('change', () => {
  dragging = false;
  seekAll(Number(slider.value));
});
$('cmp-speed').addEventListener('change', () => {
  clock.base = now();
  clock.since = performance.now();
  clock.speed = Number($('cmp-speed').value);
  postAll({ cmd: 'speed', speed: clock.speed });
});

window.addEventListener('message', (e) => {
  if (e.origin !== location.origin) return;
  const f = frames.find((x) => x.el.contentWindow === e.source);
  const d = e.data;
  if (!f || !d || d.type !== 'pp-state') return;
  const wasReady = f.ready;
  Object.assign(f, { t: d.t, playing: d.playing, done: d.done, ready: d.ready });
  if (!f.ready) return;
  const recent = performance.now() - f.fixedAt < FIX_COOLDOWN_MS;
  if (!wasReady) {
    // A frame that just came up hears the shared state once.
    post(f, { cmd: 'speed', speed: clock.speed });
    post(f, { cmd: 'lang', lang: getLang() });
    if (clock.playing || clock.base > 0) bring(f);
    return;
  }
  if (recent) return;
  const tt = target(f);
  const off = Math.abs(f.t - tt) > DRIFT_MS * Math.max(1, clock.speed);
  const ended = tt >= f.plan.until && f.t >= f.plan.until - DRIFT_MS;
  if (ended) return;
  if (clock.playing ? off || !f.playing : off || f.playing) bring(f);
});

function tick() {
  const tt = now();
  if (clock.playing && tt >= longest) setPlaying(false);
  if (!dragging) {
    slider.value = String(Math.round(tt));
    readout.textContent = fmtMs(tt);
  }
  requestAnimationFrame(tick);
}
requestAnimationFrame(tick);

// ---------------------------------------------------------------- the form, sharing, language

const form = $('compare-form');
const boxes = [...form.querySelectorAll('input[name="protocol"]')];
const formError = $('cf-error');
function checkCount() {
  const n = boxes.filter((b) => b.checked).length;
  const ok = n >= MIN_COL && n <= MAX_COL;
  formError.hidden = ok;
  formError.textContent = ok ? '' : t('compare.form.count', { min: MIN_COL, max: MAX_COL });
  return ok;
}
for (const b of boxes) b.addEventListener('change', checkCount);
// A link's own schedule (schedule=) stays while "this link's schedule" is picked; a fault
// class replaces it.
const faults = $('cf-faults');
const ownSchedule = $('cf-schedule');
form.addEventListener('submit', (e) => {
  if (!checkCount()) e.preventDefault();
  if (!ownSchedule) return;
  const own = faults.value === '';
  ownSchedule.disabled = !own;
  faults.disabled = own;
  $('cf-run').disabled = own;
});

const share = $('cf-share-url');
share.value = `${location.origin}/compare?${data.search}`;
$('cf-share-copy').addEventListener('click', async () => {
  share.select();
  try {
    await navigator.clipboard.writeText(share.value);
  } catch {
    document.execCommand('copy');
  }
});

function relabel() {
  renderItems();
  renderStory();
  $('cmp-play-label').textContent = t(clock.playing ? 'compare.pause' : 'compare.play');
  document.title = `${t('compare.title')} · ${t('app.name')}`;
  if (!formError.hidden) checkCount();
}
onLangChange((l) => {
  relabel();
  postAll({ cmd: 'lang', lang: l });
});
relabel();
