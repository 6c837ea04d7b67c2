"""Console sessions: who signed in, until when, and the CSRF token their forms carry."""

from __future__ import annotations

import hmac
import secrets
import time
from dataclasses import dataclass

from findmatches.aws.auth import KeyStore

SESSION_COOKIE = "fm_session"
#: The hidden form field that carries the CSRF token on every POST.
CSRF_FIELD = "csrf_token"
#: Before sign-in there is no session: the sign-in form's token is checked against this cookie instead.
SIGN_IN_COOKIE = "fm_sign_in"
SESSION_LIFETIME_S = 8 * 3600
SIGN_IN_LIFETIME_S = 3600
MAX_SESSIONS = 10_000


@dataclass(frozen=True)
class Session:
    """A signed-in access key: the console acts as its account, in the region chosen at sign-in."""

    token: str
    csrf_token: str
    access_key: str
    account_id: str
    region: str
    expires: float  # time.monotonic()


class SessionStore:
    """Sessions in memory, keyed by a random token (the cookie's value).

    A session ends ``lifetime_s`` after sign-in, at sign-out, or when the server stops: a restart signs
    everyone out, which a console for one server can afford. Only the event loop touches it, so no lock.
    """

    def __init__(self, keys: KeyStore, lifetime_s: float = SESSION_LIFETIME_S) -> None:
        self.keys = keys
        self.lifetime_s = lifetime_s
        self._sessions: dict[str, Session] = {}

    def sign_in(self, access_key: str, secret_key: str, region: str) -> Session | None:
        """A new session if the key exists and the secret is its own, else None."""
        key = self.keys.keys.get(access_key)
        # compare against something even for an unknown key, so that timing does not tell which keys exist
        expected = key.secret_key if key is not None else secrets.token_hex(16)
        matches = hmac.compare_digest(secret_key.encode(), expected.encode())
        if key is None or not matches:
            return None
        self._expire()
        if len(self._sessions) >= MAX_SESSIONS:  # the oldest goes first
            del self._sessions[min(self._sessions.values(), key=lambda s: s.expires).token]
        session = Session(
            token=secrets.token_urlsafe(32),
            csrf_token=secrets.token_urlsafe(32),
            access_key=access_key,
            account_id=key.account_id,
            region=region,
            expires=time.monotonic() + self.lifetime_s,
        )
        self._sessions[session.token] = session
        return session

    def get(self, token: str | None) -> Session | None:
        """The live session for ``token``; an expired one is forgotten."""
        session = self._sessions.get(token or "")
        if session is None:
            return None
        if session.expires <= time.monotonic():
            del self._sessions[session.token]
            return None
        return session

    def sign_out(self, token: str) -> None:
        self._sessions.pop(token, None)

    def _expire(self) -> None:
        now = time.monotonic()
        for token in [t for t, s in self._sessions.items() if s.expires <= now]:
            del self._sessions[token]


def same_token(given: str | None, expected: str) -> bool:
    """Constant-time comparison of a submitted CSRF token with the expected one."""
    return bool(given) and hmac.compare_digest(str(given).encode(), expected.encode())
