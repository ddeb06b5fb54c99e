// What the viewer just saw: the frames drawn in the last moments (their virtual time and where
// each message in flight was drawn), so a press that lands a little after a message arrived
// still finds it where the eye saw it.
//
// At 1x a message flies for 10-30 ms; a person needs ~250 ms to see it and press. So a press on
// the canvas is matched against the frames of the last REACH_MS of real time: of the messages
// drawn under the pointer there, the one drawn about AIM_MS before the press is what the person
// went for. Frames are kept as drawn, not recomputed: the picture may run a little ahead of the
// events the server has sent, and a message that arrives late was never on screen at that time.
// The page then holds the run at that moment (the owner's run seeks back to it, so a drop is
// still possible: an action in the past forks the run).

export const REACH_MS = 400;     // real ms a press reaches back (250 ms to react, and some slack)
// How long a person takes from seeing a message to pressing on it: when several messages crossed
// the spot in the last moments, the one on screen about this long before the press is taken.
export const AIM_MS = 250;
const KEEP = 64;                 // frames remembered (at 60 fps, about a second)

export class RecentFrames {
  constructor() {
    this.frames = [];            // {real, t, msgs: [[id, x, y], ...]}, oldest first
  }

  /** A frame drawn at real time `now` showing virtual time `t`, with `msgs` ([id, x, y] in
   *  canvas pixels) where it drew the messages in flight. */
  saw(now, t, msgs) {
    const last = this.frames[this.frames.length - 1];
    if (last && last.t === t) {
      last.real = now;           // the same picture again: it was still on screen at `now`
      return;
    }
    this.frames.push({ real: now, t, msgs });
    if (this.frames.length > KEEP) this.frames.shift();
  }

  /** Is `t` the picture of the last frame (its messages need not be found again)? */
  same(t) {
    const last = this.frames[this.frames.length - 1];
    return !!last && last.t === t;
  }

  clear() {
    this.frames = [];
  }

  /** What a press at (x, y) at real time `now` aimed at: of the messages drawn within `radius`
   *  of it in the frames of the last REACH_MS, the one drawn closest to AIM_MS before the press
   *  (the nearest, between two in one frame): {id, t} (t the frame's virtual time), or null. */
  pick(x, y, now, radius) {
    let best = null, bestOff = Infinity, bestD = Infinity;
    for (let i = this.frames.length - 1; i >= 0; i--) {
      const f = this.frames[i];
      const age = now - f.real;
      if (age > REACH_MS) break;
      const off = Math.abs(age - AIM_MS);
      if (off > bestOff) continue;
      for (const [id, mx, my] of f.msgs) {
        const d = Math.hypot(x - mx, y - my);
        if (d > radius || (off === bestOff && d >= bestD)) continue;
        best = { id, t: f.t };
        bestOff = off;
        bestD = d;
      }
    }
    return best;
  }
}
