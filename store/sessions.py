"""Server-side sessions: what a page cookie or an API bearer token stands for, revocable at once.

A session is a random secret handed to the client (inside the signed cookie or token) and the
sha256 of that secret stored in ``user_sessions``. A request is signed in while its session is
neither revoked nor expired and its account is active, so logout (``end_session``), a password
change and a deactivation (``end_sessions``) take effect on the very next request, even for a
copied cookie.

These functions neither commit nor audit; the sign-in and the account changes that call them do.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from store.errors import InvalidValueError
from store.models import SESSION_KINDS, User, UserSession


def _digest(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def open_session(
    session: Session, user: User, *, kind: str, max_age: dt.timedelta, now: dt.datetime | None = None
) -> str:
    """Start a session for ``user`` and return its secret (give it to the client, never store it).

    Sessions that expired are deleted on the way, so the table holds little more than the live ones.
    """
    if kind not in SESSION_KINDS:
        raise InvalidValueError(f"unknown session kind {kind!r}; allowed: {', '.join(SESSION_KINDS)}")
    now = now or dt.datetime.now(dt.UTC)
    session.execute(delete(UserSession).where(UserSession.expires_at <= now))
    secret = secrets.token_urlsafe(32)
    session.add(
        UserSession(
            token_hash=_digest(secret),
            user_id=user.id,
            kind=kind,
            created_at=now,
            expires_at=now + max_age,
        )
    )
    session.flush()
    return secret


def session_user(
    session: Session, secret: object, *, kind: str, now: dt.datetime | None = None
) -> User | None:
    """The active account of a live session of ``kind``, or None (expired, revoked, unknown, deactivated)."""
    if not isinstance(secret, str) or not secret:
        return None
    now = now or dt.datetime.now(dt.UTC)
    return session.scalar(
        select(User)
        .join(UserSession, UserSession.user_id == User.id)
        .where(
            UserSession.token_hash == _digest(secret),
            UserSession.kind == kind,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
            User.active.is_(True),
        )
    )


def end_session(
    session: Session, secret: object, *, why: str = "logout", now: dt.datetime | None = None
) -> bool:
    """Revoke the session with this secret; True if a live one was ended."""
    if not isinstance(secret, str) or not secret:
        return False
    now = now or dt.datetime.now(dt.UTC)
    result = session.execute(
        update(UserSession)
        .where(UserSession.token_hash == _digest(secret), UserSession.revoked_at.is_(None))
        .values(revoked_at=now, revoked_why=why)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]


def end_sessions(session: Session, user_id: int, *, why: str, now: dt.datetime | None = None) -> int:
    """Revoke every live session of an account (password changed, deactivated); returns how many."""
    now = now or dt.datetime.now(dt.UTC)
    result = session.execute(
        update(UserSession)
        .where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
        .values(revoked_at=now, revoked_why=why)
        .execution_options(synchronize_session=False)
    )
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


def live_sessions(session: Session, user_id: int, *, now: dt.datetime | None = None) -> int:
    """How many sessions of the account are live now."""
    now = now or dt.datetime.now(dt.UTC)
    rows = session.scalars(
        select(UserSession.id).where(
            UserSession.user_id == user_id,
            UserSession.revoked_at.is_(None),
            UserSession.expires_at > now,
        )
    ).all()
    return len(rows)
