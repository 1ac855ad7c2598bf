"""Storage layout: the named backends, and the storage policies that say where copies go.

Written by operators in ``storage.yaml``::

    backends:
      local: {type: local}
      hdfs: {type: hdfs, url: "http://namenode:9870", user: datoferum}
      s3:
        type: s3
        endpoint: "https://s3.example.net"
        bucket: media
        access_key: {env: S3_ACCESS_KEY}
        secret_key: {vault: "datoferum/s3#secret_key"}
    policies:
      hot: [local]
      safe: [local, {backend: hdfs, replication: 3}]
      archive: [s3]
    default: hot

Uploads land on the *ingest* backend, the first copy of the default policy, because a file's
policy may depend on what its bytes turn out to be (classification sniffs them). Copies the
version's policy asks for elsewhere are then made by placement jobs, and copies it does not ask
for are removed; the version is ``stored`` once its policy is satisfied.

This module only checks the shape and the references; the adapters check each backend's options
when they build it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from datoferum.errors import InvalidInput

BACKEND_TYPES = ("local", "hdfs", "s3")
#: Options a policy may set on one of its copies, by backend type.
COPY_OPTIONS: Mapping[str, frozenset[str]] = {
    "local": frozenset(),
    "hdfs": frozenset({"replication"}),
    "s3": frozenset(),
}
#: Backend options that hold credentials: never shown, only said to be set.
SECRET_OPTIONS = frozenset({"access_key", "secret_key"})
_NAME = re.compile(r"[a-z][a-z0-9_-]{0,63}")


@dataclass(frozen=True)
class BackendSpec:
    name: str
    type: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def public(self) -> dict[str, Any]:
        """The spec as it may be shown: credentials replaced by where they come from."""
        shown: dict[str, Any] = {"name": self.name, "type": self.type}
        for key, value in sorted(self.options.items()):
            if key in SECRET_OPTIONS:
                value = f"({next(iter(value))})" if isinstance(value, Mapping) else "(set)"
            shown[key] = value
        return shown


@dataclass(frozen=True)
class Copy:
    """One copy a policy asks for: on ``backend``, written with ``options`` (e.g. replication)."""

    backend: str
    options: Mapping[str, Any] = field(default_factory=dict)

    def describe(self) -> str:
        settings = ", ".join(f"{k}={v}" for k, v in sorted(self.options.items()))
        return f"{self.backend}({settings})" if settings else self.backend


@dataclass(frozen=True)
class StoragePolicy:
    name: str
    copies: tuple[Copy, ...]

    @property
    def backends(self) -> tuple[str, ...]:
        return tuple(copy.backend for copy in self.copies)


@dataclass(frozen=True)
class StorageLayout:
    backends: Mapping[str, BackendSpec]
    policies: Mapping[str, StoragePolicy]
    default: str

    @property
    def ingest(self) -> Copy:
        """Where uploads are written while they arrive."""
        return self.policies[self.default].copies[0]

    def public(self) -> dict[str, Any]:
        return {
            "backends": [spec.public() for spec in self.backends.values()],
            "policies": [
                {"name": p.name, "copies": [c.describe() for c in p.copies]}
                for p in self.policies.values()
            ],
            "default": self.default,
            "ingest": self.ingest.backend,
        }

    def policy(self, name: str | None) -> StoragePolicy:
        """The named policy, or the default one for ``None``."""
        chosen = name or self.default
        found = self.policies.get(chosen)
        if found is None:
            known = ", ".join(sorted(self.policies))
            raise InvalidInput(f"there is no storage policy {chosen!r}; the policies are: {known}")
        return found


def default_layout() -> StorageLayout:
    """The embedded default: one local disk, one policy."""
    local = BackendSpec("local", "local")
    return StorageLayout({"local": local}, {"hot": StoragePolicy("hot", (Copy("local"),))}, "hot")


def _name(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _NAME.fullmatch(value):
        raise InvalidInput(
            f"{where}: {value!r} is not a name (lowercase letters, digits, '-' and '_', "
            "starting with a letter, at most 64)"
        )
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InvalidInput(f"{where} must be a mapping")
    return value


def _backend(name: str, body: Any, where: str) -> BackendSpec:
    options = dict(_mapping(body, where))
    kind = options.pop("type", None)
    if kind not in BACKEND_TYPES:
        raise InvalidInput(f"{where}.type must be one of {', '.join(BACKEND_TYPES)}, not {kind!r}")
    return BackendSpec(name, kind, options)


def _copy(entry: Any, backends: Mapping[str, BackendSpec], where: str) -> Copy:
    if isinstance(entry, str):
        name, options = entry, {}
    else:
        options = dict(_mapping(entry, where))
        name = options.pop("backend", None)
    if name not in backends:
        known = ", ".join(sorted(backends))
        raise InvalidInput(f"{where}: unknown backend {name!r}; the backends are: {known}")
    allowed = COPY_OPTIONS[backends[name].type]
    unknown = sorted(set(options) - allowed)
    if unknown:
        may = ", ".join(sorted(allowed)) or "none"
        raise InvalidInput(
            f"{where}: option(s) {', '.join(unknown)} do not apply to a copy on {name} "
            f"({backends[name].type}); allowed: {may}"
        )
    return Copy(name, options)


def _policy(name: str, body: Any, backends: Mapping[str, BackendSpec], where: str) -> StoragePolicy:
    if not isinstance(body, list) or not body:
        raise InvalidInput(f"{where} must be a non-empty list of backends")
    copies = tuple(_copy(entry, backends, f"{where}[{n}]") for n, entry in enumerate(body))
    doubled = {c.backend for c in copies if [d.backend for d in copies].count(c.backend) > 1}
    if doubled:
        raise InvalidInput(f"{where} names {', '.join(sorted(doubled))} twice: one copy each")
    return StoragePolicy(name, copies)


def parse_layout(document: Any, source: str) -> StorageLayout:
    """Check a parsed ``storage.yaml``; errors name ``source`` and the offending field."""
    body = _mapping(document, source)
    unknown = sorted(set(body) - {"backends", "policies", "default"})
    if unknown:
        raise InvalidInput(f"{source}: unknown field(s) {', '.join(unknown)}")
    backends = {
        _name(name, f"{source}: backends"): _backend(name, spec, f"{source}: backends.{name}")
        for name, spec in _mapping(body.get("backends"), f"{source}: backends").items()
    }
    if not backends:
        raise InvalidInput(f"{source}: backends must name at least one backend")
    policies = {
        _name(name, f"{source}: policies"): _policy(
            name, spec, backends, f"{source}: policies.{name}"
        )
        for name, spec in _mapping(body.get("policies"), f"{source}: policies").items()
    }
    default = body.get("default", next(iter(policies), None))
    if default not in policies:
        raise InvalidInput(f"{source}: default must name one of the policies, not {default!r}")
    return StorageLayout(backends, policies, str(default))
