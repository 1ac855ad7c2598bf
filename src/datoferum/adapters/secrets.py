"""Where backend credentials come from: the environment, or Vault / OpenBao.

Configuration never needs to hold a secret itself. A credential is written as a reference, and
resolved when the backend is built:

* ``{env: NAME}``: the environment variable ``NAME``;
* ``{vault: "path#field"}``: field ``field`` of the KV version 2 secret at ``path`` (under the
  mount ``DATOFERUM_VAULT_MOUNT``, default ``secret``), read with ``hvac`` from the server at
  ``DATOFERUM_VAULT_ADDR`` with the token ``DATOFERUM_VAULT_TOKEN``.

A plain string is accepted too (for trials), and is then as secret as the file that holds it.
Resolved values travel as :class:`pydantic.SecretStr`, whose ``repr`` and ``str`` are masked, so a
log line, an event or an error message that mentions one shows ``**********``.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any, Protocol

from pydantic import SecretStr

from datoferum.errors import InvalidInput, StorageUnavailable


class SecretStore(Protocol):
    """A place secrets are read from by reference."""

    def read(self, path: str, field: str) -> str: ...


class VaultStore:
    """KV version 2 secrets of a Vault or OpenBao server (same API), read with ``hvac``."""

    def __init__(self, url: str, token: SecretStr, mount: str = "secret") -> None:
        import hvac  # imported here: only deployments that use Vault need it loaded

        self._client = hvac.Client(url=url, token=token.get_secret_value(), timeout=10)
        self.url = url
        self.mount = mount

    def read(self, path: str, field: str) -> str:
        import hvac.exceptions
        import requests

        try:
            answer = self._client.secrets.kv.v2.read_secret_version(
                path=path, mount_point=self.mount, raise_on_deleted_version=True
            )
        except hvac.exceptions.Forbidden:
            raise StorageUnavailable(
                f"Vault at {self.url} refused the token for secret {self.mount}/{path}: give "
                "the token a policy that can read it"
            ) from None
        except hvac.exceptions.InvalidPath:
            raise InvalidInput(f"Vault at {self.url} has no secret {self.mount}/{path}") from None
        except (hvac.exceptions.VaultError, requests.RequestException) as error:
            raise StorageUnavailable(
                f"Vault at {self.url} could not be read ({type(error).__name__}); check "
                "DATOFERUM_VAULT_ADDR and that the server is unsealed"
            ) from None
        data: Mapping[str, Any] = answer["data"]["data"]
        if field not in data:
            raise InvalidInput(f"Vault secret {self.mount}/{path} has no field {field!r}")
        return str(data[field])


class SecretResolver:
    """Turns a configured credential (a reference or a literal) into its value."""

    def __init__(
        self, vault: SecretStore | None = None, environ: Mapping[str, str] | None = None
    ) -> None:
        self.vault = vault
        self.environ = os.environ if environ is None else environ

    def resolve(self, value: Any, where: str) -> SecretStr:
        """The secret ``value`` stands for; ``where`` names the setting in error messages."""
        if isinstance(value, str):
            return SecretStr(value)
        if isinstance(value, Mapping) and len(value) == 1:
            ((kind, reference),) = value.items()
            if kind == "env" and isinstance(reference, str):
                return self._from_environment(reference, where)
            if kind == "vault" and isinstance(reference, str):
                return self._from_vault(reference, where)
        raise InvalidInput(
            f'{where}: a credential is a string, {{env: NAME}} or {{vault: "path#field"}}'
        )

    def _from_environment(self, name: str, where: str) -> SecretStr:
        found = self.environ.get(name)
        if found is None:
            raise InvalidInput(f"{where}: the environment variable {name} is not set")
        return SecretStr(found)

    def _from_vault(self, reference: str, where: str) -> SecretStr:
        path, _, field = reference.partition("#")
        if not path or not field:
            raise InvalidInput(f'{where}: a Vault reference is "path#field", got {reference!r}')
        if self.vault is None:
            raise InvalidInput(
                f"{where} is read from Vault, but no Vault is configured: set "
                "DATOFERUM_VAULT_ADDR and DATOFERUM_VAULT_TOKEN"
            )
        return SecretStr(self.vault.read(path, field))
