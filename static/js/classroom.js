// A class around one live session, from the server's `playback.controller` and `until`:
// - a watcher is told when the teacher (the session's last controller) leaves, and that
//   the run goes on; the notice goes when the teacher is back;
// - a link's speed= (boot.speed) is applied once the page controls its run;
// - "Continue" at the end of a run extends it by the run's first length (continueBy).

import { t } from './i18n.js';

export class Classroom {
  constructor(app) {
    this.app = app;
    this.banner = document.getElementById('teacher-left');
    this.speed = app.boot && typeof app.boot.speed === 'number' ? app.boot.speed : null;
    this.firstUntil = new Map();   // session -> its length when this page first saw it
    this.left = false;             // the notice is up
    const socket = app.net && app.net.socket;
    if (!socket) return;
    // Registered after the app's own handlers (net.js): the app's state is up to date here.
    socket.on('snapshot', (p) => this.onSnapshot(p));
    socket.on('playback', (p) => this.onPlayback(p));
    socket.on('events', (p) => p && this.onPlayback({ session: p.session, ...p.playback }));
    socket.on('seek', (p) => p && this.onPlayback({ session: p.session, ...p.playback }));
  }

  onSnapshot(p) {
    if (!p || p.session !== this.app.state.session) return;
    if (!this.firstUntil.has(p.session) && p.scenario && p.scenario.until) {
      this.firstUntil.set(p.session, p.scenario.until);
    }
    if (this.speed !== null && p.role === 'controller') {
      const speed = this.speed;
      this.speed = null;    // once: later speed changes are the teacher's
      if (!p.playback || p.playback.speed !== speed) this.app.cmd('speed', speed);
    }
    this.onPlayback({ session: p.session, ...p.playback });
  }

  onPlayback(p) {
    if (!p || p.session !== this.app.state.session || typeof p.controller !== 'boolean') return;
    const left = !p.controller && this.app.state.role !== 'controller';
    if (left === this.left) return;
    this.left = left;
    if (this.banner) this.banner.hidden = !left;
    document.body.dataset.teacher = left ? 'left' : 'here';
    if (!left && this.app.state.role !== 'controller') this.app.toast(t('teacher.back'), 'ok');
  }

  /** How much longer "Continue" makes a run that has ended: as long again as it first was. */
  continueBy() {
    const first = this.firstUntil.get(this.app.state.session);
    const until = this.app.clock.until;
    return first || (Number.isFinite(until) ? until : 10000);
  }
}
