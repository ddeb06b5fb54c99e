// The client model: a pure fold over trace events, starting from a snapshot.
// No DOM, no clock. Views render a "scene" (the model at a virtual time);
// messages carry their send and deliver times, so a renderer computes where a
// message is at any time t and nothing is stored per frame (as in RaftScope).

const CHECKPOINT_EVERY = 1000; // events between node-view checkpoints (for scrubbing)

/**
 * A fresh model. info: {ids, layout, protocol (describe()), scenario}.
 */
export function createModel(info = {}) {
  const ids = [...(info.ids || [])];
  const m = {
    ids,
    layout: info.layout || {},
    protocol: info.protocol || null,
    scenario: info.scenario || null,
    nodes: {},           // id -> view (role, fields..., up)
    inflight: {},        // msg id -> message record (in flight now)
    messages: [],        // every message record, in send order
    byId: new Map(),     // msg id -> message record
    drops: [],           // dropped message records, in drop order
    partition: null,     // [[ids], [ids]] or null
    partitions: [],      // [{t, groups|null}] history, for scrubbing and the space-time diagram
    violations: [],      // violation events (+ t, seq)
    notes: [],           // note events (the narration caption)
    faults: [],          // crash, restart, partition, heal events (the caption flags one after its note)
    timers: [],          // timer events (node, name, t)
    armed: null,         // live {node: [armed timer names]} when the server sends it, else null (unknown)
    deadlines: null,     // live {node: {timer: [set at, due at]}} (the timer rings), else null
    events: [],          // every trace event, in order (the log)
    history: {},         // id -> [{t, up, role}] whenever up or role changes
    changedAt: {},       // id -> {field: t of last change}
    network: info.scenario && info.scenario.network ? { ...info.scenario.network } : {},
    maxLatency: 1,
    checkpoints: [],     // [{index, t, nodes, ...}] the fold after `index` events (scrubbing, rewind)
    ids0: ids.length,    // how many ids the run started with (rewinding to 0 keeps these)
    t: 0,                // virtual time the model has reached
    version: 0,          // bumps on every change (views re-render on change)
  };
  for (const id of ids) {
    m.nodes[id] = { up: true };
    m.history[id] = [{ t: 0, up: true, role: null }];
    m.changedAt[id] = {};
  }
  return m;
}

function ensureNode(m, id) {
  if (!(id in m.nodes)) {
    m.ids.push(id);
    m.nodes[id] = { up: true };
    m.history[id] = [{ t: 0, up: true, role: null }];
    m.changedAt[id] = {};
  }
  return m.nodes[id];
}

function noteHistory(m, id, t) {
  const v = m.nodes[id];
  const h = m.history[id];
  const last = h[h.length - 1];
  const up = v.up !== false;
  const role = v.role === undefined ? null : v.role;
  if (last.up === up && last.role === role) return;
  if (last.t === t) {
    last.up = up;
    last.role = role;
  } else {
    h.push({ t, up, role });
  }
}

function newMessage(m, id, src, dst, kind, body, sentAt, deliverAt, dupOf) {
  const msg = {
    id, src, dst, kind, body: body || {}, sent_at: sentAt, deliver_at: deliverAt,
    status: 'inflight', end_t: null, reason: null,
  };
  if (dupOf !== undefined) msg.dup_of = dupOf;
  m.inflight[id] = msg;
  m.messages.push(msg);
  m.byId.set(id, msg);
  const lat = deliverAt - sentAt;
  if (lat > m.maxLatency) m.maxLatency = lat;
  ensureNode(m, src);
  ensureNode(m, dst);
  return msg;
}

/** Apply one trace event (mutates m). Unknown types only join the log. */
export function applyEvent(m, ev) {
  const t = typeof ev.t === 'number' ? ev.t : m.t;
  m.events.push(ev);
  if (t > m.t) m.t = t;
  switch (ev.type) {
    case 'send':
      newMessage(m, ev.id, ev.src, ev.dst, ev.kind, ev.body, t, ev.deliver_at);
      break;
    case 'deliver':
    case 'drop': {
      const msg = m.byId.get(ev.id);
      if (msg) {
        delete m.inflight[ev.id];
        msg.status = ev.type === 'deliver' ? 'delivered' : 'dropped';
        msg.end_t = t;
        msg.end_i = m.events.length - 1; // the event that ended it (a rewind before it revives it)
        if (ev.type === 'drop') {
          msg.reason = ev.reason || null;
          m.drops.push(msg);
        }
      }
      break;
    }
    case 'duplicate': {
      const orig = m.byId.get(ev.id);
      if (orig) {
        const at = typeof ev.deliver_at === 'number' ? ev.deliver_at : t + (orig.deliver_at - orig.sent_at);
        newMessage(m, ev.new_id, orig.src, orig.dst, orig.kind, orig.body, t, at, orig.id);
      }
      break;
    }
    case 'state': {
      const v = ensureNode(m, ev.node);
      const changed = m.changedAt[ev.node];
      for (const [k, val] of Object.entries(ev.changes || {})) {
        v[k] = val;
        changed[k] = t;
      }
      noteHistory(m, ev.node, t);
      break;
    }
    case 'crash': {
      const v = ensureNode(m, ev.node);
      v.up = false;
      m.changedAt[ev.node].up = t;
      noteHistory(m, ev.node, t);
      m.faults.push(ev);
      break;
    }
    case 'restart': {
      const v = ensureNode(m, ev.node);
      v.up = true;
      m.changedAt[ev.node].up = t;
      noteHistory(m, ev.node, t);
      m.faults.push(ev);
      break;
    }
    case 'partition':
      m.partition = (ev.groups || []).map((g) => [...g]);
      m.partitions.push({ t, groups: m.partition });
      m.faults.push(ev);
      break;
    case 'heal':
      m.partition = null;
      m.partitions.push({ t, groups: null });
      m.faults.push(ev);
      break;
    case 'violation':
      m.violations.push({
        invariant: ev.invariant, message: ev.message, key: ev.key, args: ev.args, nodes: ev.nodes || [],
        eventual: !!ev.eventual, t, seq: ev.seq,
      });
      break;
    case 'note':
      m.notes.push(ev);
      break;
    case 'timer':
      m.timers.push({ node: ev.node, name: ev.name, t });
      break;
    case 'set':
      if (ev.param) m.network[ev.param] = ev.value;
      break;
    default:
      break; // request, reply and anything new: log only
  }
  if (m.events.length % CHECKPOINT_EVERY === 0) m.checkpoints.push(checkpointOf(m, t));
  m.version++;
}

/** What a rewind to this point needs: the views, and how long every append-only list was. */
function checkpointOf(m, t) {
  const history = {};
  for (const [id, h] of Object.entries(m.history)) history[id] = { len: h.length, last: { ...h[h.length - 1] } };
  return {
    index: m.events.length, t, nodes: structuredClone(m.nodes), changedAt: structuredClone(m.changedAt),
    history, ids: m.ids.length, network: { ...m.network }, maxLatency: m.maxLatency, partition: m.partition,
    lens: {
      messages: m.messages.length, drops: m.drops.length, partitions: m.partitions.length,
      violations: m.violations.length, notes: m.notes.length, faults: m.faults.length, timers: m.timers.length,
    },
  };
}

/**
 * Rewind the model to its first n events (a `seek` back): from its own nearest checkpoint at
 * or before n, then the events after it folded again, so the result equals a fresh fold of
 * those n events (what a snapshot would give) for far less work than refolding from 0.
 */
export function truncate(m, n) {
  if (!(n >= 0) || n >= m.events.length) return m;
  let ci = m.checkpoints.length - 1;
  while (ci >= 0 && m.checkpoints[ci].index > n) ci--;
  const c = ci >= 0 ? m.checkpoints[ci] : null;
  const from = c ? c.index : 0;
  const tail = m.events.slice(from, n);
  m.checkpoints.length = ci + 1;
  m.events.length = from;
  if (!c) {
    const fresh = createModel({
      ids: m.ids.slice(0, m.ids0), layout: m.layout, protocol: m.protocol, scenario: m.scenario,
    });
    fresh.armed = m.armed;
    fresh.deadlines = m.deadlines;
    fresh.version = m.version + 1;
    Object.assign(m, fresh);
  } else {
    for (const id of m.ids.slice(c.ids)) {
      delete m.history[id];
      delete m.changedAt[id];
    }
    m.ids.length = c.ids;
    m.nodes = structuredClone(c.nodes);
    m.changedAt = structuredClone(c.changedAt);
    for (const [id, h] of Object.entries(c.history)) {
      const hist = m.history[id];
      hist.length = h.len;
      hist[h.len - 1] = { ...h.last };
    }
    for (const msg of m.messages.slice(c.lens.messages)) m.byId.delete(msg.id);
    m.messages.length = c.lens.messages;
    m.inflight = {};
    for (const msg of m.messages) {
      if (msg.end_i !== undefined && msg.end_i >= from) {   // ended after the checkpoint: in flight again
        msg.status = 'inflight';
        msg.end_t = null;
        msg.reason = null;
        delete msg.end_i;
      }
      if (msg.status === 'inflight') m.inflight[msg.id] = msg;
    }
    for (const k of Object.keys(c.lens)) if (k !== 'messages') m[k].length = c.lens[k];
    m.network = { ...c.network };
    m.maxLatency = c.maxLatency;
    m.partition = c.partition;
    m.t = c.t;
    m.version++;
  }
  return applyEvents(m, tail);
}

export function applyEvents(m, events) {
  for (const ev of events || []) applyEvent(m, ev);
  return m;
}

/** Build the model from a `snapshot` payload (docs/socket-api.md). */
export function fromSnapshot(snap) {
  const m = createModel({
    ids: snap.nodes || [],
    layout: snap.layout || {},
    protocol: snap.protocol || null,
    scenario: snap.scenario || null,
  });
  applyEvents(m, snap.events || []);
  setArmed(m, snap);
  const pt = snap.playback && typeof snap.playback.t === 'number' ? snap.playback.t : 0;
  if (pt > m.t) m.t = pt;
  return m;
}

/** The timers armed now, from a snapshot or batch (payload `timers` and `deadlines`). */
export function setArmed(m, p) {
  if (p.timers && typeof p.timers === 'object') m.armed = p.timers;
  if (p.deadlines && typeof p.deadlines === 'object') m.deadlines = p.deadlines;
}

/** The run reached virtual time t (playback.t from the server). */
export function advanceTo(m, t) {
  if (typeof t === 'number' && t > m.t) {
    m.t = t;
    m.version++;
  }
}

/** Fraction 0..1 of the way a message has travelled at time t. */
export function progress(msg, t) {
  const span = msg.deliver_at - msg.sent_at;
  if (span <= 0) return 1;
  return Math.min(1, Math.max(0, (t - msg.sent_at) / span));
}

function applyNodeEvent(nodes, ev) {
  if (ev.type === 'state') {
    const v = nodes[ev.node] || (nodes[ev.node] = { up: true });
    Object.assign(v, ev.changes || {});
  } else if (ev.type === 'crash' || ev.type === 'restart') {
    const v = nodes[ev.node] || (nodes[ev.node] = { up: true });
    v.up = ev.type === 'restart';
  }
}

function lastIndexAtOrBefore(arr, t, key) {
  // arr sorted by key ascending; index of the last element with key <= t, or -1
  let lo = 0, hi = arr.length - 1, ans = -1;
  while (lo <= hi) {
    const mid = (lo + hi) >> 1;
    if (arr[mid][key] <= t) {
      ans = mid;
      lo = mid + 1;
    } else hi = mid - 1;
  }
  return ans;
}

/** Node views at virtual time t (t < m.t), from the nearest checkpoint. */
export function nodesAt(m, t) {
  let nodes, start;
  const ci = lastIndexAtOrBefore(m.checkpoints, t, 't');
  if (ci >= 0) {
    nodes = structuredClone(m.checkpoints[ci].nodes);
    start = m.checkpoints[ci].index;
  } else {
    nodes = {};
    for (const id of m.ids) nodes[id] = { up: true };
    start = 0;
  }
  const evs = m.events;
  for (let i = start; i < evs.length && evs[i].t <= t; i++) applyNodeEvent(nodes, evs[i]);
  return nodes;
}

/** Messages in flight at time t: sent at or before t, not yet delivered or dropped at t. */
export function inflightAt(m, t) {
  const out = [];
  const msgs = m.messages;
  const last = lastIndexAtOrBefore(msgs, t, 'sent_at');
  const from = lastIndexAtOrBefore(msgs, t - m.maxLatency - 1, 'sent_at') + 1;
  for (let i = Math.max(0, from); i <= last; i++) {
    const msg = msgs[i];
    if (msg.end_t === null || msg.end_t > t) out.push(msg);
  }
  return out;
}

export function partitionAt(m, t) {
  const i = lastIndexAtOrBefore(m.partitions, t, 't');
  return i >= 0 ? m.partitions[i].groups : null;
}

/** Messages dropped in (t - window, t]. */
export function dropsAt(m, t, window) {
  const out = [];
  for (let i = m.drops.length - 1; i >= 0; i--) {
    const d = m.drops[i];
    if (d.end_t > t) continue;
    if (d.end_t < t - window) break;
    out.push(d);
  }
  return out;
}

let liveCache = { m: null, version: -1, inflight: [] };

/**
 * The scene at display time `t`: what the views draw. Live (t >= m.t) reuses
 * the model's own state; an earlier t (scrubbing) is rebuilt from checkpoints.
 */
export function sceneAt(m, t) {
  if (t >= m.t) {
    if (liveCache.m !== m || liveCache.version !== m.version) {
      liveCache = { m, version: m.version, inflight: Object.values(m.inflight) };
    }
    return {
      live: true, t, model: m, nodes: m.nodes, inflight: liveCache.inflight,
      partition: m.partition, violations: m.violations, eventCount: m.events.length,
    };
  }
  const n = lastIndexAtOrBefore(m.events, t, 't') + 1;
  return {
    live: false, t, model: m, nodes: nodesAt(m, t), inflight: inflightAt(m, t),
    partition: partitionAt(m, t), violations: m.violations.filter((v) => v.t <= t), eventCount: n,
  };
}

/** The most recent note at or before time t (narration caption). */
export function lastNoteAt(m, t) {
  const i = lastIndexAtOrBefore(m.notes, t, 't');
  return i >= 0 ? m.notes[i] : null;
}

/** The most recent fault (crash, restart, partition, heal) at or before time t. */
export function lastFaultAt(m, t) {
  const i = lastIndexAtOrBefore(m.faults, t, 't');
  return i >= 0 ? m.faults[i] : null;
}

/** Timer firings in (t - window, t]. */
export function timersAt(m, t, window) {
  const out = [];
  for (let i = m.timers.length - 1; i >= 0; i--) {
    const e = m.timers[i];
    if (e.t > t) continue;
    if (e.t < t - window) break;
    out.push(e);
  }
  return out;
}

/** The time of the last event strictly before t (step back), or 0. */
export function prevEventTime(m, t) {
  const i = lastIndexAtOrBefore(m.events, t - 1, 't');
  return i >= 0 ? m.events[i].t : 0;
}
