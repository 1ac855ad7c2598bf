"""Sign-in through an OpenID Connect provider: Keycloak's access tokens on the API.

The tests against Keycloak use a real one (``tests/keycloak.py``). The forged-token tests sign
tokens with a key of their own, published by an in-process stand-in for the provider's key
endpoint: that is fault injection (an expired token, a token signed with ``none`` or with a
shared secret), which a real provider would never issue.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from datoferum.adapters.identity import OidcSettings, OidcVerifier
from datoferum.domain.roles import Role
from datoferum.errors import Forbidden, IdentityUnavailable, Unauthenticated
from keycloak import OTHER_CLIENT, WEB_CLIENT, Realm

from conftest import LiveServer

ISSUER = "https://sso.example.test/realms/acme"


@pytest.fixture
def oidc_server(tmp_path: Path, make_realm: Any) -> Iterator[tuple[LiveServer, Realm]]:
    server = LiveServer(tmp_path / "home")
    realm: Realm = make_realm(server.url)
    server.env["DATOFERUM_OIDC_ISSUER"] = realm.issuer
    server.start()
    yield server, realm
    server.stop()


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_keycloak_user_acts_with_the_role_the_realm_grants(
    oidc_server: tuple[LiveServer, Realm],
) -> None:
    server, realm = oidc_server
    producer = _bearer(realm.token("paula"))
    me = httpx.get(f"{server.url}/api/v1/whoami", headers=producer).json()
    subject = f"oidc:{realm.user_id('paula')}"
    assert me == {"subject": subject, "name": "paula", "role": "producer"}
    put = httpx.put(
        f"{server.url}/api/v1/data/sso/by-paula.txt", content=b"hello", headers=producer
    )
    assert put.status_code == 201, put.text
    # The file's record names her, as the subject the provider gave her.
    events = httpx.get(
        f"{server.url}/api/v1/files/{put.json()['id']}/events", headers=_bearer(server.token)
    ).json()["items"]
    assert {event["actor"] for event in events} == {subject}
    # A producer may not read bytes back; the provider's role is enforced like a token's.
    read = httpx.get(f"{server.url}/api/v1/data/sso/by-paula.txt", headers=producer)
    assert read.status_code == 403
    assert "producer role may not download" in read.json()["detail"]
    consumer = _bearer(realm.token("carl"))
    assert httpx.get(f"{server.url}/api/v1/data/sso/by-paula.txt", headers=consumer).content == (
        b"hello"
    )
    admin = httpx.get(f"{server.url}/api/v1/tokens", headers=_bearer(realm.token("alice")))
    assert admin.status_code == 200
    # API tokens keep working beside the provider's.
    assert (
        httpx.get(f"{server.url}/api/v1/whoami", headers=_bearer(server.token)).json()["role"]
        == "admin"
    )


def test_tokens_the_server_must_refuse(oidc_server: tuple[LiveServer, Realm]) -> None:
    server, realm = oidc_server

    def refusal(token: str) -> tuple[int, str]:
        answer = httpx.get(f"{server.url}/api/v1/whoami", headers=_bearer(token))
        assert answer.headers["content-type"].startswith("application/problem+json")
        return answer.status_code, answer.json()["detail"]

    status, detail = refusal(realm.token("nina"))  # signed in, but no Datoferum role
    assert status == 403 and "datoferum-producer" in detail
    status, detail = refusal(realm.token("paula", client=OTHER_CLIENT))
    assert status == 401 and f"issued to {OTHER_CLIENT}" in detail
    header, payload, signature = realm.token("paula").split(".")
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    claims["realm_access"] = {"roles": ["datoferum-admin"]}  # promoting oneself
    forged = base64.urlsafe_b64encode(json.dumps(claims).encode()).rstrip(b"=").decode()
    status, detail = refusal(f"{header}.{forged}.{signature}")
    assert status == 401 and "Signature verification failed" in detail
    status, detail = refusal("eyJhbGciOiJSUzI1NiJ9.e30")  # two parts: an API-token lookup
    assert status == 401


def test_a_token_of_another_realm_is_refused(
    oidc_server: tuple[LiveServer, Realm], make_realm: Any
) -> None:
    server, _realm = oidc_server
    elsewhere: Realm = make_realm(server.url)
    answer = httpx.get(f"{server.url}/api/v1/whoami", headers=_bearer(elsewhere.token("alice")))
    assert answer.status_code == 401
    assert "key the identity provider does not publish" in answer.json()["detail"]


def test_the_web_ui_page_names_the_provider(oidc_server: tuple[LiveServer, Realm]) -> None:
    server, realm = oidc_server
    page = httpx.get(f"{server.url}/")
    if page.status_code == 404:
        pytest.skip("the web UI is not built (make web)")
    assert 'name="datoferum-oidc"' in page.text
    assert realm.issuer in page.text and WEB_CLIENT in page.text
    policy = page.headers["content-security-policy"]
    assert f"connect-src 'self' {realm.keycloak.url}" in policy


# -- forged tokens (fault injection) ------------------------------------------------------------


class _Provider:
    """Publishes one RSA key the way a provider does, and signs what a test asks it to."""

    def __init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key()))
        self.jwks = {"keys": [{**public, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    def handler(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/.well-known/openid-configuration"):
            return httpx.Response(200, json={"jwks_uri": f"{ISSUER}/certs"})
        return httpx.Response(200, json=self.jwks)

    def sign(self, **overrides: Any) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER, "sub": "u-1", "iat": now, "exp": now + 300, "azp": WEB_CLIENT,
            "typ": "Bearer", "preferred_username": "pat",
            "realm_access": {"roles": ["datoferum-consumer", "datoferum-auditor"]},
        }  # fmt: skip
        claims.update(overrides)
        return jwt.encode(claims, self.key, algorithm="RS256", headers={"kid": "k1"})


@pytest.fixture
def provider() -> _Provider:
    return _Provider()


@pytest.fixture
def verifier(provider: _Provider) -> Iterator[OidcVerifier]:
    client = httpx.Client(transport=httpx.MockTransport(provider.handler))
    checker = OidcVerifier(OidcSettings(ISSUER, WEB_CLIENT), client)
    yield checker
    checker.close()


def test_a_valid_token_maps_to_its_strongest_role(
    provider: _Provider, verifier: OidcVerifier
) -> None:
    principal, expires = verifier.verify(provider.sign())
    assert (principal.subject, principal.name) == ("oidc:u-1", "pat")
    assert principal.role is Role.CONSUMER  # consumer comes before auditor in precedence
    assert expires > time.time()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"exp": int(time.time()) - 120}, "expired"),
        ({"iss": "https://evil.example.test/realms/acme"}, "another provider"),
        ({"typ": "ID"}, "send the access token"),
        ({"azp": "someone-else"}, "issued to someone-else"),
    ],
)
def test_forged_or_misused_tokens_are_refused(
    provider: _Provider, verifier: OidcVerifier, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(Unauthenticated, match=message):
        verifier.verify(provider.sign(**overrides))


def test_unsigned_and_shared_secret_tokens_are_refused(
    provider: _Provider, verifier: OidcVerifier
) -> None:
    claims = jwt.decode(provider.sign(), options={"verify_signature": False})
    # "none" takes no key; PyJWT reads the empty string as none.
    unsigned = jwt.encode(claims, "", algorithm="none", headers={"kid": "k1"})
    with pytest.raises(Unauthenticated, match="not one this server accepts"):
        verifier.verify(unsigned)
    # The classic confusion: the public key used as an HMAC secret. PyJWT itself refuses to
    # make such a token, so it is put together by hand.
    public_pem = provider.key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    signed = b".".join(
        _b64(json.dumps(part).encode()) for part in ({"alg": "HS256", "kid": "k1"}, claims)
    )
    shared = signed + b"." + _b64(hmac.new(public_pem, signed, hashlib.sha256).digest())
    with pytest.raises(Unauthenticated, match="not one this server accepts"):
        verifier.verify(shared.decode())


def _b64(data: bytes) -> bytes:
    return base64.urlsafe_b64encode(data).rstrip(b"=")


def test_a_user_without_a_datoferum_role_is_forbidden(
    provider: _Provider, verifier: OidcVerifier
) -> None:
    with pytest.raises(Forbidden, match="datoferum-admin"):
        verifier.verify(provider.sign(realm_access={"roles": ["offline_access"]}))


def test_an_unreachable_provider_is_a_transient_error() -> None:
    checker = OidcVerifier(
        OidcSettings("http://127.0.0.1:9/realms/gone", WEB_CLIENT), httpx.Client(timeout=2)
    )
    token = _Provider().sign()
    try:
        with pytest.raises(IdentityUnavailable, match="did not answer"):
            checker.verify(token)
    finally:
        checker.close()
