"""Access tokens of an OpenID Connect provider (Keycloak), checked locally.

A token is a signed JWT: it is checked against the provider's published keys (its JWKS, fetched
once and again only when a token names a key not seen yet), its issuer, its lifetime and whom it
was issued to, so a request costs one signature check and never a call to the provider. The
user's Datoferum role comes from the provider's role claim (``datoferum-<role>`` by default).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import httpx
import jwt

from datoferum.domain.roles import Principal, Role
from datoferum.errors import Forbidden, IdentityUnavailable, Unauthenticated

#: Signature algorithms a provider's access token may use. Symmetric ones are refused: their key
#: would be a secret shared with the provider, and ``none`` is no signature at all.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
#: Clock difference tolerated between this server and the provider.
LEEWAY_SECONDS = 30
#: A token naming an unknown key makes the keys be fetched again at most this often.
REFRESH_SECONDS = 30.0
#: When one user holds several Datoferum roles, the first of these is the one they act with.
PRECEDENCE = (Role.ADMIN, Role.PRODUCER, Role.CONSUMER, Role.AUDITOR)


@dataclass(frozen=True)
class OidcSettings:
    issuer: str
    client_id: str
    audience: str | None = None
    roles_claim: str = "realm_access.roles"
    role_prefix: str = "datoferum-"


def looks_like_jwt(token: str) -> bool:
    """API tokens are ``dtf_…``; a JWT is three base64url parts, the first a JSON object."""
    return token.startswith("eyJ") and token.count(".") == 2


class OidcVerifier:
    """Checks the provider's access tokens; thread-safe, keys cached for the process."""

    def __init__(self, settings: OidcSettings, client: httpx.Client | None = None) -> None:
        self.settings = settings
        self._client = client or httpx.Client(timeout=10.0)
        self._keys: dict[str, jwt.PyJWK] = {}
        self._fetched_at = float("-inf")
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    # -- keys ------------------------------------------------------------------------------------

    def _get(self, url: str) -> Any:
        try:
            response = self._client.get(url)
            response.raise_for_status()
            return response.json()
        except (httpx.HTTPError, json.JSONDecodeError) as error:
            raise IdentityUnavailable(
                f"the identity provider did not answer at {url} ({error}); sign-in with its "
                "tokens works again once it does (API tokens are not affected)"
            ) from error

    def _refresh(self) -> None:
        discovery = self._get(
            self.settings.issuer.rstrip("/") + "/.well-known/openid-configuration"
        )
        document = self._get(str(discovery["jwks_uri"]))
        keys: dict[str, jwt.PyJWK] = {}
        for entry in document.get("keys", []):
            if entry.get("use", "sig") != "sig" or "kid" not in entry:
                continue
            try:
                keys[entry["kid"]] = jwt.PyJWK(entry)
            except jwt.PyJWKError:
                continue  # a key type this server does not use (e.g. for encryption)
        self._keys = keys
        self._fetched_at = time.monotonic()

    def _key(self, kid: str) -> jwt.PyJWK:
        key = self._keys.get(kid)
        if key is not None:
            return key
        with self._lock:
            if kid not in self._keys and time.monotonic() - self._fetched_at > REFRESH_SECONDS:
                self._refresh()
        key = self._keys.get(kid)
        if key is None:
            raise Unauthenticated(
                "the access token is signed with a key the identity provider does not publish; "
                "sign in again"
            )
        return key

    # -- tokens ----------------------------------------------------------------------------------

    def verify(self, token: str) -> tuple[Principal, float]:
        """The user the token names, and until when (epoch seconds) the token is valid."""
        try:
            header = jwt.get_unverified_header(token)
        except jwt.DecodeError:
            raise Unauthenticated("the bearer token is not a valid JWT: send it whole") from None
        algorithm, kid = header.get("alg"), header.get("kid")
        if algorithm not in ALGORITHMS or not isinstance(kid, str):
            raise Unauthenticated(
                f"the access token's signature ({algorithm}) is not one this server accepts"
            )
        try:
            claims: dict[str, Any] = jwt.decode(
                token,
                self._key(kid),
                algorithms=[algorithm],
                issuer=self.settings.issuer,
                leeway=LEEWAY_SECONDS,
                options={"require": ["exp", "iat", "iss", "sub"], "verify_aud": False},
            )
        except jwt.ExpiredSignatureError:
            raise Unauthenticated("the access token has expired: sign in again") from None
        except jwt.InvalidIssuerError:
            raise Unauthenticated(
                f"the access token was issued by another provider; this server trusts "
                f"{self.settings.issuer}"
            ) from None
        except jwt.InvalidTokenError as error:
            raise Unauthenticated(f"the access token is not valid: {error}") from None
        self._check_use(claims)
        role = self._role(claims)
        name = str(claims.get("preferred_username") or claims["sub"])
        return Principal(subject=f"oidc:{claims['sub']}", name=name, role=role), claims["exp"]

    def _check_use(self, claims: Mapping[str, Any]) -> None:
        """An access token, and one meant for this server (not an ID or refresh token, nor a
        token another application obtained for itself)."""
        if claims.get("typ", "Bearer") != "Bearer":
            raise Unauthenticated(
                f"this is a {claims.get('typ')} token; send the access token instead"
            )
        audience = claims.get("aud") or []
        audiences = [audience] if isinstance(audience, str) else list(audience)
        accepted = {self.settings.client_id, self.settings.audience} - {None}
        if claims.get("azp") in accepted or accepted.intersection(audiences):
            return
        raise Unauthenticated(
            f"the access token was issued to {claims.get('azp') or 'another client'}, not to "
            f"this server ({', '.join(sorted(str(a) for a in accepted))})"
        )

    def _role(self, claims: Mapping[str, Any]) -> Role:
        value: Any = claims
        for part in self.settings.roles_claim.split("."):
            value = value.get(part) if isinstance(value, Mapping) else None
        granted = _roles(value if isinstance(value, Sequence) else [], self.settings.role_prefix)
        for role in PRECEDENCE:
            if role in granted:
                return role
        names = ", ".join(self.settings.role_prefix + role.value for role in PRECEDENCE)
        raise Forbidden(
            f"your account at the identity provider has no Datoferum role; ask an administrator "
            f"to grant one of: {names}"
        )


def _roles(values: Sequence[Any], prefix: str) -> set[Role]:
    known = {role.value for role in Role}
    return {
        Role(value.removeprefix(prefix))
        for value in values
        if isinstance(value, str)
        and value.startswith(prefix)
        and value.removeprefix(prefix) in known
    }
