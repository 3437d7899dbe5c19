"""Signed bearer tokens for the API and CSRF tokens for the pages.

Both are signed with ``Settings.secret_key`` (itsdangerous). A token carries the user id and a
fingerprint of the password hash, so changing a password (or deactivating the account, checked on
every request) ends every token and session issued before.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, SignatureExpired, URLSafeTimedSerializer

_TOKEN_SALT = "xinfang.api-token.v1"


def password_fingerprint(password_hash: str) -> str:
    """A short digest of the stored hash: changes whenever the password does, reveals nothing."""
    return hashlib.sha256(password_hash.encode("utf-8")).hexdigest()[:16]


@dataclass(frozen=True)
class TokenClaims:
    user_id: int
    fingerprint: str


class TokenSigner:
    """Issue and check bearer tokens.

    Args:
        secret_key: the installation's secret.
        max_age: seconds a token stays valid.
    """

    def __init__(self, secret_key: str, max_age: int) -> None:
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(secret_key, salt=_TOKEN_SALT)

    def issue(self, user_id: int, password_hash: str) -> str:
        return str(self._serializer.dumps({"u": user_id, "f": password_fingerprint(password_hash)}))

    def check(self, token: str) -> TokenClaims | None:
        """The claims of a valid, unexpired token, or None (the caller answers 401)."""
        try:
            data = self._serializer.loads(token, max_age=self.max_age)
        except (SignatureExpired, BadSignature):
            return None
        if (
            not isinstance(data, dict)
            or not isinstance(data.get("u"), int)
            or not isinstance(data.get("f"), str)
        ):
            return None
        return TokenClaims(user_id=data["u"], fingerprint=data["f"])


def new_csrf_token() -> str:
    return secrets.token_urlsafe(32)


def csrf_matches(expected: object, given: object) -> bool:
    """Constant-time comparison of the session's CSRF token with the one a form sent."""
    if not isinstance(expected, str) or not isinstance(given, str) or not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


class LoginLimiter:
    """Sign-in attempts per client address in a sliding window, in memory.

    The store locks an *account* after repeated failures; this stops one address from trying many
    accounts. It is per process, which is what a single-office installation runs.

    Args:
        attempts: attempts allowed per address within ``window`` seconds.
        window: the window in seconds.
    """

    def __init__(self, attempts: int, window: int) -> None:
        import threading
        from collections import deque

        self.attempts = attempts
        self.window = window
        self._seen: dict[str, deque[float]] = {}
        self._lock = threading.Lock()
        self._deque = deque

    def hit(self, address: str, now: float | None = None) -> int:
        """Record an attempt; returns 0 if allowed, else the seconds to wait."""
        import time

        now = time.monotonic() if now is None else now
        with self._lock:
            seen = self._seen.setdefault(address, self._deque())
            while seen and seen[0] <= now - self.window:
                seen.popleft()
            if len(seen) >= self.attempts:
                return int(seen[0] + self.window - now) + 1
            seen.append(now)
            if len(self._seen) > 10_000:  # forget idle addresses rather than grow without bound
                for key in [k for k, v in self._seen.items() if not v][:5_000]:
                    del self._seen[key]
            return 0
