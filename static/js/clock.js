// The client's virtual clock. The server streams batches stamped with the
// virtual time the run has reached (playback.t); between batches the client
// advances by speed x real elapsed time so messages fly smoothly, but never
// more than about one tick beyond the last batch.

export class Clock {
  constructor() {
    this.playing = false;
    this.speed = 1;
    this.done = false;
    this.anchorT = 0;       // playback.t of the last batch
    this.anchorReal = 0;    // performance.now() when it arrived
    this.tickReal = 100;    // estimated real ms between batches (moving average)
    this.display = 0;       // the virtual time shown
    this.until = Infinity;
  }

  /** A new snapshot: jump to its time. */
  reset(playback) {
    this.apply(playback);
    this.display = this.anchorT;
  }

  /** A batch or a playback event. */
  apply(playback, realNow = performance.now()) {
    if (!playback) return;
    if (typeof playback.playing === 'boolean') this.playing = playback.playing;
    if (typeof playback.speed === 'number' && playback.speed > 0) this.speed = playback.speed;
    if (typeof playback.done === 'boolean') this.done = playback.done;
    if (typeof playback.until === 'number') this.until = playback.until;   // a run extended
    if (typeof playback.t === 'number') {
      if (playback.t !== this.anchorT) {
        const gap = realNow - this.anchorReal;
        if (this.anchorReal && gap > 0 && gap < 2000) this.tickReal = this.tickReal * 0.8 + gap * 0.2;
      }
      if (playback.t < this.anchorT) this.display = playback.t; // the run was rebuilt earlier
      this.anchorT = playback.t;
      this.anchorReal = realNow;
    }
    if (!this.playing || this.done) this.display = this.anchorT;
  }

  /** The virtual time to draw now. */
  now(realNow = performance.now()) {
    if (!this.playing || this.done) {
      this.display = this.anchorT;
      return this.display;
    }
    const elapsed = Math.max(0, realNow - this.anchorReal);
    const ahead = this.speed * Math.min(elapsed, this.tickReal * 1.25);
    const target = Math.min(this.anchorT + ahead, this.until);
    this.display = Math.max(this.anchorT, Math.max(this.display, target));
    // Never run more than a tick ahead even if display got there earlier.
    this.display = Math.min(this.display, this.anchorT + this.speed * this.tickReal * 1.25);
    return this.display;
  }
}
