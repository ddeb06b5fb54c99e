"""Join codes: a short code (ABC123) a class types to watch a live session.

A controller asks for its session's code (socket `code`); /j/ABC123 redirects to
the session's watch link. The table lives in this process and, when the app has
PLAYGROUND_REDIS, in Redis too (one key per code, SETEX with the session idle
lifetime, refreshed while the session lives): any process of a cluster answers
/j/, and the redirect reaches the right one by the route in the session id.

Codes are 6 characters from 31 that cannot be mistaken for one another on a
projector (no 0/O, 1/I/L): 31^6 = 887 million codes, so a guesser limited to a
few misses a minute (pages_join.py) finds nothing in the life of a session.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
import threading

log = logging.getLogger(__name__)

try:
    from redis.exceptions import RedisError
except ImportError:          # redis-py is only needed with PLAYGROUND_REDIS
    class RedisError(Exception):
        pass
UNAVAILABLE = (RedisError, OSError)   # Redis down or unreachable: this process's table still answers

ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"
LENGTH = 6
KEY = "pp:join:"            # Redis: pp:join:CODE -> {"session", "protocol"}
_SEPARATORS = re.compile(r"[\s\-_.]+")


def normalize(raw: str) -> str | None:
    """'abc-123', ' ABC 123 ' -> 'ABC123'; None when it cannot be a code at all."""
    if not isinstance(raw, str) or len(raw) > 32:
        return None
    code = _SEPARATORS.sub("", raw).upper()
    if len(code) != LENGTH or any(c not in ALPHABET for c in code):
        return None
    return code


def pretty(code: str) -> str:
    """How a code is shown: ABC-123 reads aloud in two halves."""
    return f"{code[:3]}-{code[3:]}"


class JoinCodes:
    """code -> (session id, protocol) here, and in Redis when given a client.

    `ttl_s` is a session's idle lifetime: a code outlives its session by at most
    that (a Redis key no process refreshes any more), and /j/ of a local session
    that is gone answers "unknown" at once.
    """

    def __init__(self, ttl_s: float, redis=None, clock=None):
        self.ttl = max(1, int(ttl_s))
        self.redis = redis
        self.clock = clock
        self.by_code: dict[str, tuple[str, str]] = {}
        self.by_session: dict[str, str] = {}
        self.refreshed: dict[str, float] = {}     # code -> when its Redis key was last renewed
        self._lock = threading.Lock()

    def _new_code(self) -> str:
        return "".join(secrets.choice(ALPHABET) for _ in range(LENGTH))

    def issue(self, session_id: str, protocol: str, now: float) -> str:
        """The session's code (the same one every time it asks)."""
        with self._lock:
            code = self.by_session.get(session_id)
            if code is not None:
                return code
        for _ in range(8):
            code = self._new_code()
            with self._lock:
                if code in self.by_code:
                    continue
            if not self._store(code, session_id, protocol, fresh=True):
                continue      # taken in Redis by another process's session
            with self._lock:
                self.by_code[code] = (session_id, protocol)
                self.by_session[session_id] = code
                self.refreshed[code] = now
            return code
        raise RuntimeError("no free join code after 8 tries")

    def _store(self, code: str, session_id: str, protocol: str, fresh: bool) -> bool:
        """Write the code to Redis (fresh: only if no other session holds it). A Redis that
        cannot be reached is logged and skipped: the code still works on this process."""
        if self.redis is None:
            return True
        value = json.dumps({"session": session_id, "protocol": protocol})
        try:
            if fresh:
                return bool(self.redis.set(KEY + code, value, ex=self.ttl, nx=True))
            self.redis.set(KEY + code, value, ex=self.ttl)
        except UNAVAILABLE as e:
            log.warning("join codes: Redis unavailable (%s); code %s is known to this process only", e, code)
        return True

    def lookup(self, code: str, local_sessions) -> tuple[str, str] | None:
        """(session id, protocol) for a code, or None. `local_sessions`: the ids this process
        holds; a code of a session made here that is gone is unknown at once."""
        with self._lock:
            found = self.by_code.get(code)
        if found is not None:
            return found if found[0] in local_sessions else None
        if self.redis is None:
            return None
        try:
            raw = self.redis.get(KEY + code)
        except UNAVAILABLE as e:
            log.warning("join codes: Redis unavailable (%s)", e)
            return None
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            return str(data["session"]), str(data["protocol"])
        except (ValueError, KeyError, TypeError):
            return None

    def sweep(self, live_sessions, now: float) -> None:
        """Forget codes of sessions that ended here (and their Redis keys); renew the Redis
        keys of live ones once a third of their lifetime has passed."""
        with self._lock:
            dead = [(c, s) for c, (s, _) in self.by_code.items() if s not in live_sessions]
            for code, session_id in dead:
                del self.by_code[code]
                self.by_session.pop(session_id, None)
                self.refreshed.pop(code, None)
            due = [(c, self.by_code[c]) for c, at in self.refreshed.items() if now - at >= self.ttl / 3]
            for code, _ in due:
                self.refreshed[code] = now
        if self.redis is None or not (dead or due):
            return
        try:
            pipe = self.redis.pipeline(transaction=False)
            for code, _ in dead:
                pipe.delete(KEY + code)
            for code, (session_id, protocol) in due:   # SET, not EXPIRE: a Redis restarted meanwhile
                pipe.set(KEY + code, json.dumps({"session": session_id, "protocol": protocol}), ex=self.ttl)
            pipe.execute()
        except UNAVAILABLE as e:
            log.warning("join codes: Redis unavailable (%s); keys expire on their own", e)


def redis_client(url: str):
    """A redis-py client for PLAYGROUND_REDIS (short timeouts: /j/ must answer quickly)."""
    import redis
    return redis.Redis.from_url(url, socket_timeout=2, socket_connect_timeout=2, decode_responses=True)
