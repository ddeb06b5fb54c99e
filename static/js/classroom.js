// A class around one live session, from the server's `playback.controller` and `until`:
// - a watcher is told when the teacher (the session's last controller) leaves, and that
//   the run goes on; the notice goes when the teacher is back;
// - a link's speed= (boot.speed) is applied once the page controls its run;
// ("Continue" at the end of a run extends it by the run's first length: store.continueBy().)

import { t } from './i18n.js';

export class Classroom {
  constructor(store, actions) {
    this.store = store;
    this.actions = actions;
    this.banner = document.getElementById('teacher-left');
    this.speed = store.boot && typeof store.boot.speed === 'number' ? store.boot.speed : null;
    this.left = false;             // the notice is up
    store.on('run', (p) => this.onSnapshot(p));
    store.on('playback', (pb) => this.onPlayback(pb));
  }

  onSnapshot(p) {
    if (this.speed !== null && p.role === 'controller') {
      const speed = this.speed;
      this.speed = null;    // once: later speed changes are the teacher's
      if (!p.playback || p.playback.speed !== speed) this.actions.cmd('speed', speed);
    }
  }

  onPlayback(pb) {
    if (!pb || typeof pb.controller !== 'boolean') return;
    const watcher = !this.store.isController();
    const left = !pb.controller && watcher;
    if (left === this.left) return;
    this.left = left;
    if (this.banner) this.banner.hidden = !left;
    document.body.dataset.teacher = left ? 'left' : 'here';
    if (!left && watcher) this.actions.toast(t('teacher.back'), 'ok');
  }
}
