"""The one background task that drives every playing session.

Started lazily (on the first socket connection), so importing or creating the
app starts nothing; tests turn it off (PLAYGROUND_TICKER=False) and call
SessionManager.tick() themselves.
"""

from __future__ import annotations

import logging
import threading
import time

log = logging.getLogger(__name__)


class Ticker:
    def __init__(self, socketio, manager, period_s: float, enabled: bool = True):
        self.socketio = socketio
        self.manager = manager
        self.period_s = period_s
        self.enabled = enabled
        self.running = False
        self._lock = threading.Lock()

    def ensure_started(self) -> None:
        if not self.enabled:
            return
        with self._lock:
            if self.running:
                return
            self.running = True
        self.socketio.start_background_task(self._run)

    def stop(self) -> None:
        self.running = False

    def _run(self) -> None:
        next_at = time.monotonic()
        while self.running:
            try:
                self.manager.tick()
            except Exception:   # a bug in one tick must not stop playback for everyone
                log.exception("tick failed")
            next_at += self.period_s
            delay = next_at - time.monotonic()
            if delay < 0:        # overloaded: skip the missed ticks rather than bursting
                next_at = time.monotonic()
                delay = 0
            self.socketio.sleep(delay)
