"""API tokens: creation, listing, revocation, and authentication of bearer secrets.

Only a SHA-256 of each secret is stored. Secrets are 256-bit random values, so a fast hash is
enough (there is nothing to brute-force) and lookups stay cheap on every request.
"""

from __future__ import annotations

import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import insert, select, update

from datoferum.adapters.identity import OidcVerifier, looks_like_jwt
from datoferum.domain.ids import isoformat, utcnow
from datoferum.domain.roles import Principal, Role
from datoferum.errors import InvalidInput, NotFound, Unauthenticated
from datoferum.spine import eventlog
from datoferum.spine.catalog.database import Catalog
from datoferum.spine.catalog.schema import Token
from datoferum.spine.eventlog import NewEvent

PREFIX = "dtf_"
_CACHE_LIMIT = 10_000


def hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return PREFIX + secrets.token_urlsafe(32)


@dataclass(frozen=True)
class TokenInfo:
    id: str
    name: str
    role: Role
    created_at: datetime
    created_by: str
    expires_at: datetime | None
    revoked_at: datetime | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "name": self.name,
            "role": self.role.value,
            "created_at": isoformat(self.created_at),
            "created_by": self.created_by,
            "expires_at": isoformat(self.expires_at) if self.expires_at else None,
            "revoked_at": isoformat(self.revoked_at) if self.revoked_at else None,
        }


def _info(row: Any) -> TokenInfo:
    return TokenInfo(
        row.id, row.name, Role(row.role), row.created_at, row.created_by, row.expires_at,
        row.revoked_at,
    )  # fmt: skip


#: How long a checked provider token is trusted without checking it again (it stays valid until
#: it expires whatever this server does; the bound only keeps the cache small).
_PROVIDER_CACHE_SECONDS = 60.0


class TokenService:
    """API tokens, and (when one is configured) the access tokens of an OpenID Connect
    provider: both arrive as ``Authorization: Bearer``."""

    def __init__(
        self,
        catalog: Catalog,
        *,
        cache_seconds: float = 2.0,
        provider: OidcVerifier | None = None,
    ) -> None:
        self.catalog = catalog
        self.cache_seconds = cache_seconds
        self.provider = provider
        self._cache: dict[str, tuple[float, Principal]] = {}
        self._lock = threading.Lock()

    def _remember(self, digest: str, principal: Principal, seconds: float) -> None:
        if seconds <= 0:
            return
        with self._lock:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            self._cache[digest] = (time.monotonic() + seconds, principal)

    def cached(self, secret: str) -> Principal | None:
        """A recent successful authentication of ``secret``, without touching the database."""
        hit = self._cache.get(hash_secret(secret))
        if hit is not None and hit[0] > time.monotonic():
            return hit[1]
        return None

    def authenticate(self, secret: str) -> Principal:
        digest = hash_secret(secret)
        if self.provider is not None and looks_like_jwt(secret):
            principal, expires = self.provider.verify(secret)
            self._remember(digest, principal, min(_PROVIDER_CACHE_SECONDS, expires - time.time()))
            return principal
        with self.catalog.reading() as conn:
            row = conn.execute(select(Token.__table__).where(Token.secret_hash == digest)).first()
        if row is None:
            raise Unauthenticated("the bearer token is not valid: check it was copied whole")
        if row.revoked_at is not None:
            raise Unauthenticated(f"the bearer token was revoked at {isoformat(row.revoked_at)}")
        if row.expires_at is not None and row.expires_at <= utcnow():
            raise Unauthenticated(f"the bearer token expired at {isoformat(row.expires_at)}")
        principal = Principal(subject=f"token:{row.id}", name=row.name, role=Role(row.role))
        trust = self.cache_seconds
        if row.expires_at is not None:
            trust = min(trust, (row.expires_at - utcnow()).total_seconds())
        self._remember(digest, principal, trust)
        return principal

    def create(
        self,
        actor: Principal,
        *,
        name: str,
        role: Role | str,
        expires_in: timedelta | None = None,
        secret: str | None = None,
    ) -> tuple[TokenInfo, str]:
        """Create a token; the secret is returned once and never stored."""
        try:
            role = Role(role)
        except ValueError:
            raise InvalidInput(
                f"unknown role {role!r}; roles are: {', '.join(r.value for r in Role)}"
            ) from None
        name = name.strip()
        if not name or len(name) > 128 or any(ord(c) < 0x20 for c in name):
            raise InvalidInput("a token needs a name of 1 to 128 printable characters")
        if expires_in is not None and expires_in.total_seconds() <= 0:
            raise InvalidInput("a token's lifetime must be positive")
        secret = secret or new_secret()
        now = utcnow()
        token_id = secrets.token_hex(6)
        expires_at = now + expires_in if expires_in else None
        with self.catalog.writing() as conn:
            conn.execute(
                insert(Token).values(
                    id=token_id, name=name, role=role.value, secret_hash=hash_secret(secret),
                    created_at=now, created_by=actor.subject, expires_at=expires_at,
                )
            )  # fmt: skip
            eventlog.append(
                conn,
                [
                    NewEvent(
                        "token.created", actor.subject,
                        details={"token": token_id, "name": name, "role": role.value},
                    )
                ],
            )  # fmt: skip
        return TokenInfo(token_id, name, role, now, actor.subject, expires_at, None), secret

    def list(self) -> list[TokenInfo]:
        with self.catalog.reading() as conn:
            rows = conn.execute(select(Token.__table__).order_by(Token.created_at)).all()
            return [_info(row) for row in rows]

    def revoke(self, actor: Principal, token_id: str) -> TokenInfo:
        with self.catalog.writing() as conn:
            row = conn.execute(select(Token.__table__).where(Token.id == token_id)).first()
            if row is None:
                raise NotFound(
                    f"there is no token with id {token_id!r}: see 'datoferum token list'"
                )
            info = _info(row)
            if info.revoked_at is None:
                info = replace(info, revoked_at=utcnow())
                conn.execute(
                    update(Token).where(Token.id == token_id).values(revoked_at=info.revoked_at)
                )
                eventlog.append(
                    conn, [NewEvent("token.revoked", actor.subject, details={"token": token_id})]
                )
        with self._lock:
            self._cache.clear()
        return info

    def has_admin(self) -> bool:
        with self.catalog.reading() as conn:
            return (
                conn.execute(
                    select(Token.id).where(
                        Token.role == Role.ADMIN.value, Token.revoked_at.is_(None)
                    )
                ).first()
                is not None
            )

    def knows(self, secret: str) -> bool:
        with self.catalog.reading() as conn:
            return (
                conn.execute(
                    select(Token.id).where(Token.secret_hash == hash_secret(secret))
                ).first()
                is not None
            )
