"""Signed bearer tokens for the API, CSRF tokens for the pages, and the per-address sign-in limit.

A bearer token, like the page cookie, only carries the secret of a server-side session
(``store.sessions``); both are signed with ``Settings.secret_key`` (itsdangerous), so a client
cannot forge one. Whether the session is still valid (not logged out, not revoked by a password
change or a deactivation, not expired) is decided by the database on every request.
"""

from __future__ import annotations

import hmac
import secrets
import threading
import time
from collections import deque

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_TOKEN_SALT = "xinfang.api-token.v2"


class TokenSigner:
    """Issue and check bearer tokens.

    Args:
        secret_key: the installation's secret.
        max_age: seconds a token stays valid (the session row expires at the same time).
    """

    def __init__(self, secret_key: str, max_age: int) -> None:
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_TOKEN_SALT)

    def issue(self, session_secret: str) -> str:
        return str(self._serializer.dumps({"s": session_secret}))

    def check(self, token: str) -> str | None:
        """The session secret of a genuine, unexpired token, or None (the caller refuses the request)."""
        try:
            data = self._serializer.loads(token, max_age=self.max_age)
        except (SignatureExpired, BadSignature):
            return None
        if not isinstance(data, dict) or not isinstance(data.get("s"), str) or not data["s"]:
            return None
        return str(data["s"])


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: object, given: object) -> bool:
    """Constant-time comparison of the session's CSRF token with the one a form sent."""
    if not isinstance(expected, str) or not isinstance(given, str) or not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


class LoginLimiter:
    """Sign-in attempts per client address in a sliding window, in memory.

    The store locks an *account* for one address after repeated failures; this stops one address
    from trying many accounts. Only failed attempts count: an office behind one address signs in
    its whole shift at once. It is per process, which is what a single-office installation runs.

    Args:
        attempts: failed attempts allowed per address within ``window`` seconds.
        window: the window in seconds.
    """

    def __init__(self, attempts: int, window: int) -> None:
        self.attempts = attempts
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def hit(self, address: str, now: float | None = None) -> int:
        """Record an attempt; returns 0 if allowed, else the seconds to wait.

        The attempt is counted before the password is checked, so that concurrent guesses cannot
        all slip under the limit; call ``forgive`` when it succeeds.
        """
        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._seen.setdefault(address, deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.attempts:
                return int(seen[0] + self.window - now) + 1
            seen.append(now)
            if len(self._seen) > 10_000:  # forget idle addresses rather than grow without bound
                for key in [k for k, v in self._seen.items() if not v][:5_000]:
                    del self._seen[key]
            return 0

    def forgive(self, address: str) -> None:
        """Take back one attempt of ``address``: it was a successful sign-in."""
        with self._lock:
            seen = self._seen.get(address)
            if seen:
                seen.pop()
