"""Storage backends, built from the storage layout (``storage.yaml``) and the settings."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import yaml

from datoferum.adapters.secrets import SecretResolver, VaultStore
from datoferum.adapters.storage.base import StorageBackend
from datoferum.adapters.storage.local import LocalDiskBackend
from datoferum.config import Settings
from datoferum.domain.storage_layout import (
    BackendSpec,
    Copy,
    StorageLayout,
    default_layout,
    parse_layout,
)
from datoferum.errors import InvalidInput

Factory = Callable[[BackendSpec, Mapping[str, Any], Settings, SecretResolver], StorageBackend]


def load_layout(settings: Settings) -> StorageLayout:
    """The layout of ``settings.storage_file``, or the embedded default when there is none."""
    path = settings.storage_file
    if path is None:
        return default_layout()
    try:
        document = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise InvalidInput(f"cannot read the storage layout {path}: {error.strerror}") from None
    except yaml.YAMLError as error:
        raise InvalidInput(f"{path} is not valid YAML: {error}") from None
    return parse_layout(document, str(path))


def _options(spec: BackendSpec, options: Mapping[str, Any], allowed: set[str]) -> dict[str, Any]:
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise InvalidInput(
            f"backend {spec.name} ({spec.type}): unknown option(s) {', '.join(unknown)}; "
            f"known: {', '.join(sorted(allowed))}"
        )
    return dict(options)


def _local(
    spec: BackendSpec, options: Mapping[str, Any], settings: Settings, _secrets: SecretResolver
) -> StorageBackend:
    given = _options(spec, options, {"root"})
    root = Path(given["root"]).expanduser() if "root" in given else settings.local_storage_root
    return LocalDiskBackend(root, name=spec.name, durable=settings.durability == "full")


def _hdfs(
    spec: BackendSpec, options: Mapping[str, Any], _settings: Settings, _secrets: SecretResolver
) -> StorageBackend:
    from datoferum.adapters.storage.hdfs import WebHdfsBackend

    given = _options(spec, options, {"url", "user", "root", "replication", "timeout"})
    if "url" not in given:
        raise InvalidInput(f"backend {spec.name} (hdfs) needs 'url', the WebHDFS address")
    return WebHdfsBackend(
        str(given["url"]), user=str(given.get("user", "datoferum")),
        root=str(given.get("root", "/datoferum")), replication=int(given.get("replication", 3)),
        name=spec.name, timeout=float(given.get("timeout", 60.0)),
    )  # fmt: skip


def _s3(
    spec: BackendSpec, options: Mapping[str, Any], _settings: Settings, secrets: SecretResolver
) -> StorageBackend:
    from datoferum.adapters.storage.s3 import S3Backend

    allowed = {"endpoint", "bucket", "prefix", "region", "access_key", "secret_key", "part_size"}
    given = _options(spec, options, allowed)
    missing = sorted({"bucket", "access_key", "secret_key"} - set(given))
    if missing:
        raise InvalidInput(f"backend {spec.name} (s3) needs {', '.join(missing)}")
    where = f"backend {spec.name}"
    return S3Backend(
        endpoint_url=given.get("endpoint"), bucket=str(given["bucket"]),
        access_key=secrets.resolve(given["access_key"], f"{where}: access_key").get_secret_value(),
        secret_key=secrets.resolve(given["secret_key"], f"{where}: secret_key").get_secret_value(),
        region=str(given.get("region", "us-east-1")), prefix=str(given.get("prefix", "datoferum/")),
        part_size=int(given.get("part_size", 8 * 1024 * 1024)), name=spec.name,
    )  # fmt: skip


FACTORIES: Mapping[str, Factory] = {"local": _local, "hdfs": _hdfs, "s3": _s3}


def secret_resolver(settings: Settings) -> SecretResolver:
    """Credentials from the environment, and from Vault/OpenBao when one is configured."""
    if settings.vault_addr and settings.vault_token:
        return SecretResolver(
            VaultStore(settings.vault_addr, settings.vault_token, settings.vault_mount)
        )
    return SecretResolver()


class Backends(Mapping[str, StorageBackend]):
    """Every configured backend by name, plus the variants policies ask for (the same backend
    written with other options, e.g. another HDFS replication factor), built once each."""

    def __init__(self, layout: StorageLayout, settings: Settings) -> None:
        self.layout = layout
        self._settings = settings
        self._secrets = secret_resolver(settings)
        self._built: dict[tuple[str, tuple[tuple[str, Any], ...]], StorageBackend] = {}
        # Build (and so check) every backend at start-up; lookups by name, which purges and
        # reads make per replica, then cost one dictionary access.
        self._by_name = {name: self.for_copy(Copy(name)) for name in layout.backends}

    def for_copy(self, copy: Copy) -> StorageBackend:
        """The backend to write ``copy`` with: its own options overridden by the copy's."""
        key = (copy.backend, tuple(sorted(copy.options.items())))
        built = self._built.get(key)
        if built is None:
            spec = self.layout.backends[copy.backend]
            options = {**spec.options, **copy.options}
            built = FACTORIES[spec.type](spec, options, self._settings, self._secrets)
            self._built[key] = built
        return built

    def __getitem__(self, name: str) -> StorageBackend:
        return self._by_name[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self.layout.backends)

    def __len__(self) -> int:
        return len(self.layout.backends)

    def close(self) -> None:
        for backend in self._built.values():
            backend.close()
