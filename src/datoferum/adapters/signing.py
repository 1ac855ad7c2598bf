"""The server's signing key, behind a small interface.

Deletion certificates are signed with Ed25519: small signatures, deterministic (the same document
always gets the same signature, so nothing depends on a random number generator at purge time),
and verifiable with any common crypto library. ``Signer`` is what services use, so a key kept in
an HSM or a cloud KMS can replace the local file without touching them.

``LocalKeySigner`` keeps the private key unencrypted in ``<home>/keys/signing.pem`` (mode 0600):
the server must sign unattended, so a passphrase would only move the secret into its settings.
Protect the data directory accordingly, and back the key up: certificates remain verifiable with
the public key alone, but new ones signed after a lost key was replaced carry another key id.
"""

from __future__ import annotations

import contextlib
import logging
import os
import stat
from pathlib import Path
from typing import Protocol

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from datoferum.domain.certificates import key_id_of
from datoferum.errors import DatoferumError

log = logging.getLogger(__name__)

PRIVATE_KEY_FILE = "signing.pem"
PUBLIC_KEY_FILE = "signing.pub.pem"


class Signer(Protocol):
    """Signs bytes with the server's key; ``key_id`` names the key inside what it signs."""

    key_id: str

    def sign(self, message: bytes) -> bytes: ...

    def public_key_pem(self) -> bytes: ...


class LocalKeySigner:
    """An Ed25519 key in a PEM file of the data directory, made on first use."""

    def __init__(self, private_key: Ed25519PrivateKey) -> None:
        self._key = private_key
        public = private_key.public_key()
        self._public_pem = public.public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        self.key_id = key_id_of(
            public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
        )

    @classmethod
    def load_or_create(cls, directory: Path) -> LocalKeySigner:
        """The key in ``directory``, created if there is none yet.

        Several server processes may start at once on a new data directory: each writes a
        candidate key to a private temporary file and hard-links it into place, which fails if
        another process got there first; the loser then loads the winner's key. So all processes
        sign with the same key and no process ever reads a half-written file.
        """
        directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        path = directory / PRIVATE_KEY_FILE
        if not path.exists():
            _create(path)
        signer = cls(_load(path))
        _write_public(directory / PUBLIC_KEY_FILE, signer.public_key_pem())
        return signer

    def sign(self, message: bytes) -> bytes:
        return self._key.sign(message)

    def public_key_pem(self) -> bytes:
        return self._public_pem


def _create(path: Path) -> None:
    pem = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    candidate = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(candidate, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(pem)
            handle.flush()
            os.fsync(handle.fileno())
        with contextlib.suppress(FileExistsError):  # another process made the key first
            os.link(candidate, path)
    finally:
        candidate.unlink(missing_ok=True)
    _fsync_directory(path.parent)


def _load(path: Path) -> Ed25519PrivateKey:
    mode = path.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        log.warning(
            "the signing key %s can be read by other users (mode %o): anyone who can read it can "
            "forge deletion certificates; run 'chmod 600 %s'",
            path, stat.S_IMODE(mode), path,
        )  # fmt: skip
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as error:
        raise DatoferumError(
            f"the signing key {path} cannot be read ({error}); restore it from a backup, or move "
            "it away to have a new key made (certificates already issued keep their old key id)"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise DatoferumError(f"the signing key {path} is not an Ed25519 key")
    return key


def _write_public(path: Path, pem: bytes) -> None:
    """Keep ``signing.pub.pem`` equal to the private key's public half (rewritten if not)."""
    try:
        if path.read_bytes() == pem:
            return
    except FileNotFoundError:
        pass
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(pem)
        handle.flush()
        os.fsync(handle.fileno())
    temporary.replace(path)
    _fsync_directory(path.parent)


def _fsync_directory(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
