"""A real Keycloak for the tests of sign-in through OpenID Connect.

``scripts/servers/keycloak start DIR`` starts one (CI does, and exports the variables of
``DIR/env``); the tests here use it through ``DATOFERUM_TEST_KEYCLOAK_URL`` and its admin account,
and skip without it. Each test that asks for a realm gets a new one, made in one call to the
admin API with the four Datoferum roles, the web UI's client, another application's client and
one user per role (plus one with no Datoferum role), and deleted afterwards.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

#: Users of every test realm: name -> realm roles.
USERS = {
    "alice": ["datoferum-admin"],
    "paula": ["datoferum-producer"],
    "carl": ["datoferum-consumer"],
    "ana": ["datoferum-auditor"],
    "nina": [],
}
WEB_CLIENT = "datoferum-web"
OTHER_CLIENT = "payroll-app"


@dataclass(frozen=True)
class Keycloak:
    url: str
    admin: str
    admin_password: str = field(repr=False)

    def admin_token(self) -> str:
        response = httpx.post(
            f"{self.url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password", "client_id": "admin-cli", "username": self.admin,
                "password": self.admin_password,
            },
            timeout=30,
        )  # fmt: skip
        response.raise_for_status()
        return str(response.json()["access_token"])

    def admin_call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        headers = {"Authorization": f"Bearer {self.admin_token()}"}
        response = httpx.request(
            method, f"{self.url}/admin/realms{path}", headers=headers, timeout=60, **kwargs
        )
        response.raise_for_status()
        return response


@dataclass(frozen=True)
class Realm:
    keycloak: Keycloak
    name: str
    password: str = field(repr=False)

    @property
    def issuer(self) -> str:
        return f"{self.keycloak.url}/realms/{self.name}"

    def token(self, user: str, client: str = WEB_CLIENT) -> str:
        """An access token for ``user``, by the password grant (enabled in test realms only)."""
        response = httpx.post(
            f"{self.issuer}/protocol/openid-connect/token",
            data={
                "grant_type": "password", "client_id": client, "username": user,
                "password": self.password, "scope": "openid",
            },
            timeout=30,
        )  # fmt: skip
        response.raise_for_status()
        return str(response.json()["access_token"])

    def user_id(self, user: str) -> str:
        found = self.keycloak.admin_call(
            "GET", f"/{self.name}/users", params={"username": user, "exact": "true"}
        ).json()
        return str(found[0]["id"])


def _representation(
    name: str, password: str, web_origin: str, token_seconds: int
) -> dict[str, Any]:
    return {
        "realm": name,
        "enabled": True,
        "accessTokenLifespan": token_seconds,
        "roles": {
            "realm": [{"name": role} for role in sorted({r for v in USERS.values() for r in v})]
        },
        "clients": [
            {
                "clientId": WEB_CLIENT,
                "publicClient": True,
                "standardFlowEnabled": True,
                # Only so the API tests can get tokens without a browser; the web UI uses the
                # code flow with PKCE, which is all a real deployment should allow.
                "directAccessGrantsEnabled": True,
                "redirectUris": [f"{web_origin}/*"],
                "webOrigins": [web_origin],
                "attributes": {
                    "pkce.code.challenge.method": "S256",
                    "post.logout.redirect.uris": f"{web_origin}/*",
                },
            },
            {"clientId": OTHER_CLIENT, "publicClient": True, "directAccessGrantsEnabled": True},
        ],
        "users": [
            {
                "username": user,
                "enabled": True,
                "email": f"{user}@example.test",
                "emailVerified": True,
                "firstName": user.title(),
                "lastName": "Tester",
                "credentials": [{"type": "password", "value": password, "temporary": False}],
                "realmRoles": roles,
            }
            for user, roles in USERS.items()
        ],
    }


@pytest.fixture(scope="session")
def keycloak() -> Keycloak:
    url = os.environ.get("DATOFERUM_TEST_KEYCLOAK_URL")
    if not url:
        pytest.skip(
            "no Keycloak: run `scripts/servers/keycloak start DIR` and export the variables "
            "it writes to DIR/env (DATOFERUM_TEST_KEYCLOAK_URL, ...)"
        )
    return Keycloak(
        url.rstrip("/"),
        os.environ.get("DATOFERUM_TEST_KEYCLOAK_ADMIN", "admin"),
        os.environ["DATOFERUM_TEST_KEYCLOAK_ADMIN_PASSWORD"],
    )


@pytest.fixture
def make_realm(keycloak: Keycloak) -> Iterator[Any]:
    """``make_realm(web_origin, token_seconds=300)``: a new realm whose web client may return
    to ``web_origin``, issuing access tokens valid for ``token_seconds``."""
    made: list[str] = []

    def make(web_origin: str, token_seconds: int = 300) -> Realm:
        name = f"datoferum-{secrets.token_hex(4)}"
        password = secrets.token_urlsafe(12)
        realm = _representation(name, password, web_origin, token_seconds)
        keycloak.admin_call("POST", "", json=realm)
        made.append(name)
        return Realm(keycloak, name, password)

    yield make
    for name in made:
        keycloak.admin_call("DELETE", f"/{name}")
