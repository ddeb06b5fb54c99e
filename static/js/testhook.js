// window.__pp: what the browser tests read of the page (tests/e2e). Every property keeps its
// meaning: ready, model, session, role, connected, token, t (the time on screen), done, playing,
// the screen positions of nodes, strip cells and messages, and the pictures drawn for a node;
// presenter mode, a node's radius and the smallest font the topology drew (fontPx).

export function installTestHook(store, { canvas, topology, recent }) {
  const screenOf = (p) => {
    if (!p) return null;
    const r = canvas.getBoundingClientRect();
    return { x: r.left + p.x, y: r.top + p.y };
  };
  window.__pp = {
    get ready() {
      return store.state.ready;
    },
    get model() {
      return store.m;
    },
    get session() {
      return store.state.session;
    },
    get role() {
      return store.state.role;
    },
    get connected() {
      return store.state.connected;
    },
    get token() {
      return store.state.token;
    },
    get t() {
      return store.displayTime();
    },
    get done() {
      return store.clock.done;
    },
    get playing() {
      return store.clock.playing;
    },
    nodeScreenPos(id) {
      return screenOf(topology.nodePos(id));
    },
    stripCells(id) {
      return topology.stripCells(id);
    },
    pictures(id) {
      return topology.pictures(id);
    },
    /** The messages of the last frame drawn, where they were drawn: [{id, x, y}] (screen px). */
    drawnMessages() {
      const f = recent.frames[recent.frames.length - 1];
      return f ? f.msgs.map(([id, x, y]) => ({ id, ...screenOf({ x, y }) })) : [];
    },
    inflight() {
      const scene = store.currentScene();
      return scene ? scene.inflight.map((m) => m.id) : [];
    },
    /** A node disc's radius on screen (CSS px). */
    nodeRadius() {
      return topology.nodeRadius();
    },
    /** The smallest font (CSS px on screen) the topology's last frame drew text with. */
    fontPx() {
      return topology.minFont;
    },
    get presenter() {
      return store.state.presenter;
    },
    messageScreenPos(id) {
      // From the model itself (not the last frame), so a message is clickable as soon as it exists.
      const scene = store.currentScene();
      if (!scene) return null;
      const msg = scene.inflight.find((m) => m.id === id || String(m.id) === String(id));
      const p = msg ? topology.messagePos(msg, scene.t) : null;
      return p ? screenOf({ x: p.x * topology.scale, y: p.y * topology.scale }) : null;
    },
  };
}
