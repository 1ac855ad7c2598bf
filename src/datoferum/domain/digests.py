"""Integrity digests a client may send with an upload, and their verification.

``Content-Digest`` (RFC 9530) is a structured-field dictionary such as
``sha-256=:<base64>:, sha-512=:<base64>:``; ``Content-MD5`` (RFC 1864) is the base64 of an MD5.
The server always computes SHA-256 (it is the file's identity); other algorithms are computed only
when a client asks to have them checked.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from datoferum.errors import DigestMismatch, InvalidDigestHeader

#: RFC 9530 algorithm key -> hashlib name.
SUPPORTED = {"sha-256": "sha256", "sha-512": "sha512"}
_SIZES = {"sha256": 32, "sha512": 64, "md5": 16}


def _decode(value: str, algorithm: str, header: str) -> bytes:
    try:
        raw = base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidDigestHeader(f"{header}: the {algorithm} value is not valid base64") from None
    if len(raw) != _SIZES[algorithm]:
        raise InvalidDigestHeader(
            f"{header}: a {algorithm} digest has {_SIZES[algorithm]} bytes, this one has {len(raw)}"
        )
    return raw


def parse_content_digest(header: str) -> dict[str, bytes]:
    """Parse a ``Content-Digest`` header into ``{hashlib name: digest}``."""
    expected: dict[str, bytes] = {}
    unsupported: list[str] = []
    for member in header.split(","):
        key, sep, value = member.strip().partition("=")
        key = key.strip()
        value = value.split(";", 1)[0].strip()
        if not sep or len(value) < 2 or value[0] != ":" or value[-1] != ":":
            raise InvalidDigestHeader(
                "Content-Digest must look like 'sha-256=:<base64>:' (RFC 9530), "
                f"got {member.strip()!r}"
            )
        if key not in SUPPORTED:
            unsupported.append(key)
            continue
        expected[SUPPORTED[key]] = _decode(value[1:-1], SUPPORTED[key], "Content-Digest")
    if not expected:
        raise InvalidDigestHeader(
            f"Content-Digest names no supported algorithm ({', '.join(unsupported) or 'none'}); "
            f"use one of: {', '.join(SUPPORTED)}"
        )
    return expected


def parse_content_md5(header: str) -> bytes:
    """Parse a ``Content-MD5`` header (base64 of the 16-byte MD5)."""
    return _decode(header.strip(), "md5", "Content-MD5")


def content_digest_header(sha256: bytes) -> str:
    """The ``Content-Digest``/``Repr-Digest`` value announcing a SHA-256."""
    return f"sha-256=:{base64.b64encode(sha256).decode()}:"


@dataclass
class Hashes:
    """Running hashes over a byte stream: SHA-256 always, plus whatever the client will check."""

    expected: Mapping[str, bytes] = field(default_factory=dict)
    _running: dict[str, hashlib._Hash] = field(init=False)

    def __post_init__(self) -> None:
        self._running = {name: hashlib.new(name) for name in {"sha256", *self.expected}}

    def update(self, data: bytes) -> None:
        for running in self._running.values():
            running.update(data)

    def sha256(self) -> bytes:
        return self._running["sha256"].digest()

    def verify(self) -> None:
        """Raise :class:`DigestMismatch` naming each algorithm whose digest differs."""
        wrong = [
            name for name, digest in self.expected.items() if self._running[name].digest() != digest
        ]
        if wrong:
            raise DigestMismatch(
                f"the body does not match the {', '.join(sorted(wrong))} digest the client sent; "
                "nothing was stored: check the file and send it again",
                algorithms=sorted(wrong),
            )
