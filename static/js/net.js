// The socket: create / join / control / action / configure / leave
// (docs/socket-api.md). Uses the global `io` from /vendor/socket.io.min.js.
// Every request resolves to the server's ack ({ok, ...}) or {ok: false, error}.

const ACK_TIMEOUT_MS = 15000;
const ROUTE_CHARS = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';

/** The routing key of a session id: the part before its first dot ('K7x.abc' -> 'K7x'). */
export function routeOf(session) {
  return String(session).split('.')[0];
}

/** A fresh routing key for a page that starts a run of its own. */
export function newRoute() {
  const bytes = crypto.getRandomValues(new Uint8Array(8));
  return Array.from(bytes, (b) => ROUTE_CHARS[b & 63]).join('');
}

export class Net {
  // `route` rides on every request of the connection (?route=...): a proxy in front of several
  // server processes hashes on it, so all the connections to one session reach the process that
  // holds it, and the sessions this connection creates carry it in their ids (docs/scale-out.md).
  constructor(handlers = {}, route = newRoute()) {
    this.h = handlers;
    this.session = null;
    this.control = null;
    this.connectedOnce = false;
    if (typeof window.io !== 'function') {
      this.socket = null;
      queueMicrotask(() => this.h.onError && this.h.onError({ message: 'socket.io client missing', code: 'client' }));
      return;
    }
    this.route = route;
    const socket = window.io({ reconnectionDelayMax: 4000, query: { route } });
    this.socket = socket;
    socket.on('connect', () => {
      const again = this.connectedOnce;
      this.connectedOnce = true;
      if (this.h.onConnect) this.h.onConnect(again);
    });
    socket.on('disconnect', (reason) => this.h.onDisconnect && this.h.onDisconnect(reason));
    socket.on('connect_error', () => this.h.onDisconnect && this.h.onDisconnect('connect_error'));
    socket.on('snapshot', (p) => this.h.onSnapshot && this.h.onSnapshot(p));
    socket.on('events', (p) => this.h.onEvents && this.h.onEvents(p));
    socket.on('seek', (p) => this.h.onSeek && this.h.onSeek(p));
    socket.on('playback', (p) => this.h.onPlayback && this.h.onPlayback(p));
    socket.on('error', (p) => this.h.onError && this.h.onError(p || {}));
  }

  get connected() {
    return !!(this.socket && this.socket.connected);
  }

  setSession(session, control) {
    this.session = session;
    this.control = control || null;
  }

  request(event, payload) {
    return new Promise((resolve) => {
      if (!this.socket) {
        resolve({ ok: false, error: 'no socket' });
        return;
      }
      if (!this.socket.connected) {
        // socket.io would buffer it and send it after the reconnect, to a run that has moved
        // on (or is gone): a key pressed while offline must do nothing, not act later.
        if (this.h.onOffline) this.h.onOffline(event);
        resolve({ ok: false, error: 'offline', offline: true });
        return;
      }
      this.socket.timeout(ACK_TIMEOUT_MS).emit(event, payload, (err, resp) => {
        if (err) resolve({ ok: false, error: 'timeout', timeout: true });
        else resolve(resp && typeof resp === 'object' ? resp : { ok: true });
      });
    });
  }

  create(spec) {
    return this.request('create', spec);
  }

  join(session, control) {
    const p = { session };
    if (control) p.control = control;
    return this.request('join', p);
  }

  leave(session = this.session) {
    if (this.socket && this.socket.connected && session) this.socket.emit('leave', { session });
  }

  cmd(cmd, value) {
    const p = { session: this.session, control: this.control, cmd };
    if (value !== undefined) p.value = value;
    return this.request('control', p);
  }

  action(action) {
    return this.request('action', { session: this.session, control: this.control, action });
  }

  configure(scenario) {
    return this.request('configure', { session: this.session, control: this.control, scenario });
  }
}
