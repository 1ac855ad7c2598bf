"""Deletion certificates: the signed document's format, and checking one offline.

A certificate is exported as ``{"certificate": <document>, "signature": <base64>, "key_id": ...,
"algorithm": "Ed25519", "batch": {"index": ..., "size": ..., "path": [...]}}``. The document's
bytes are its UTF-8 canonical JSON (:func:`datoferum.domain.canonical.canonical_json`). A purge
signs its batch of certificates once (:mod:`datoferum.domain.merkle`): the signature covers the
batch's size and the root of the Merkle tree over the documents' bytes, and ``batch`` holds this
document's position and audit path, from which a verifier rebuilds the root. A certificate without
``batch`` (as the first releases issued) is signed over the document's bytes directly. Verification
canonicalizes the document it parsed, so an exported file may be pretty-printed or have its keys
reordered and still verify: only a change of content breaks it. For documents without
floating-point numbers (every field the server fills is a string, an integer or a boolean) the
canonical form is RFC 8785's, so verifiers in other languages can use a JCS library.

Nothing here touches the catalog: ``datoferum certificate verify`` runs where there is no server,
and loads only this module, the JSON library and ``cryptography``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from datoferum.domain import merkle
from datoferum.domain.canonical import canonical_json
from datoferum.errors import CertificateInvalid, InvalidInput

FORMAT = "datoferum.deletion-certificate/1"
_FORMAT_FAMILY = "datoferum.deletion-certificate/"
ALGORITHM = "Ed25519"
_SIGNATURE_BYTES = 64

_EXPORT_FIELDS = {"certificate", "signature", "key_id", "algorithm"}
_BATCH_FIELDS: dict[str, type] = {"index": int, "size": int, "path": list}
#: What a batch signature covers: this prefix, the batch size, a newline, the root in hex.
_BATCH_MESSAGE = "datoferum.deletion-certificate-batch/1\n"
#: Every field of a version-1 document and its JSON type; no others are allowed, so a signed
#: document can never carry something a verifier of this version would silently ignore.
_FIELDS: dict[str, type] = {
    "format": str,
    "id": str,
    "issued_at": str,
    "issuer": str,
    "file": dict,
    "version": int,
    "sha256": str,
    "size": int,
    "replicas": list,
    "cause": dict,
    "actor": str,
    "purged_at": str,
    "chain": dict,
}
_NESTED: dict[str, dict[str, type]] = {
    "file": {"id": str, "collection": str, "path": str},
    "chain": {"seq": int, "hash": str},
}
_REPLICA: dict[str, type] = {"backend": str, "key": str, "deleted_at": str, "verified": bool}
_JSON_TYPES = {
    str: "a string",
    int: "an integer",
    bool: "true or false",
    dict: "an object",
    list: "an array",
}


def key_id_of(raw_public_key: bytes) -> str:
    """The name of an Ed25519 key: ``ed25519:`` and 16 hex digits of its SHA-256."""
    return "ed25519:" + hashlib.sha256(raw_public_key).hexdigest()[:16]


def load_public_key(pem: bytes) -> Ed25519PublicKey:
    """An Ed25519 public key from PEM; anything else is refused (it is not the certificate's
    fault, hence :class:`InvalidInput` rather than :class:`CertificateInvalid`)."""
    try:
        key = serialization.load_pem_public_key(pem)
    except (ValueError, TypeError, UnsupportedAlgorithm):
        raise InvalidInput("the key is not a public key in PEM form") from None
    if not isinstance(key, Ed25519PublicKey):
        raise InvalidInput("the key is not an Ed25519 public key")
    return key


def signed_bytes(document: Mapping[str, Any]) -> bytes:
    """Exactly the bytes a certificate's signature covers."""
    return canonical_json(document).encode("utf-8")


def batch_message(size: int, root: bytes) -> bytes:
    """Exactly the bytes a batch's signature covers."""
    return f"{_BATCH_MESSAGE}{size}\n{root.hex()}".encode("ascii")


def _signed_message(exported: Mapping[str, Any], document: Mapping[str, Any]) -> bytes:
    """The bytes the export's signature must cover: the document's own, or its batch's."""
    if "batch" not in exported:
        return signed_bytes(document)
    batch = exported["batch"]
    _check_fields("batch", batch, _BATCH_FIELDS)
    path = batch["path"]
    if not all(isinstance(node, str) and _is_hex_digest(node) for node in path):
        raise CertificateInvalid(
            "batch: path must list SHA-256 hashes in lowercase hex", reason="malformed"
        )
    if batch["size"] < 1:
        raise CertificateInvalid("batch: size must be 1 or more", reason="malformed")
    root = merkle.root_from_path(
        merkle.leaf_hash(signed_bytes(document)), batch["index"], batch["size"],
        [bytes.fromhex(node) for node in path],
    )  # fmt: skip
    if root is None:
        raise CertificateInvalid(
            f"batch: an audit path of {len(path)} hashes cannot place a certificate at index "
            f"{batch['index']} of a batch of {batch['size']}",
            reason="malformed",
        )
    return batch_message(batch["size"], root)


def _is_hex_digest(value: str) -> bool:
    return len(value) == 64 and all(c in "0123456789abcdef" for c in value)


def _reject_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for key, value in pairs:
        if key in found:
            # json.loads would keep the last value silently, while a person reading the file may
            # see the first: the certificate would not say what it appears to say.
            raise CertificateInvalid(f"field {key!r} appears twice", reason="malformed")
        found[key] = value
    return found


def _reject_constant(name: str) -> Any:
    raise CertificateInvalid(f"{name} is not a JSON number", reason="malformed")


def parse(text: str | bytes) -> dict[str, Any]:
    """An exported certificate read from JSON text, refusing duplicate keys and NaN."""
    try:
        value = json.loads(
            text, object_pairs_hook=_reject_duplicates, parse_constant=_reject_constant
        )
    except UnicodeDecodeError:
        raise CertificateInvalid("the file is not UTF-8 text", reason="malformed") from None
    except json.JSONDecodeError as error:
        raise CertificateInvalid(f"not JSON: {error}", reason="malformed") from None
    if not isinstance(value, dict):
        raise CertificateInvalid("not a certificate: expected a JSON object", reason="malformed")
    return value


def _is(value: Any, kind: type) -> bool:
    if isinstance(value, bool):  # a bool is an int to Python, never to a certificate
        return kind is bool
    return isinstance(value, kind)


def _check_fields(where: str, value: Any, fields: Mapping[str, type]) -> None:
    if not isinstance(value, Mapping):
        raise CertificateInvalid(f"{where} must be an object", reason="malformed")
    missing = [name for name in fields if name not in value]
    if missing:
        raise CertificateInvalid(f"{where} lacks {', '.join(missing)}", reason="malformed")
    extra = sorted(set(value) - set(fields))
    if extra:
        raise CertificateInvalid(
            f"{where} has unexpected field(s) {', '.join(extra)}", reason="malformed"
        )
    for name, kind in fields.items():
        if not _is(value[name], kind):
            raise CertificateInvalid(
                f"{where}: {name} must be {_JSON_TYPES[kind]}", reason="malformed"
            )


def check_document(document: Any) -> None:
    """Raise :class:`CertificateInvalid` unless ``document`` has the shape of a version-1
    certificate. Only the shape: whether it is genuine is the signature's business."""
    if not isinstance(document, Mapping):
        raise CertificateInvalid("the certificate must be a JSON object", reason="malformed")
    declared = document.get("format")
    if not isinstance(declared, str) or not declared.startswith(_FORMAT_FAMILY):
        raise CertificateInvalid(
            f"not a Datoferum deletion certificate (its format is not {_FORMAT_FAMILY}<version>)",
            reason="malformed",
        )
    if declared != FORMAT:
        raise CertificateInvalid(
            f"certificate format {declared!r} is not supported; this version of Datoferum "
            f"reads {FORMAT!r}",
            reason="unsupported",
        )
    _check_fields("the certificate", document, _FIELDS)
    for name, fields in _NESTED.items():
        _check_fields(name, document[name], fields)
    for number, replica in enumerate(document["replicas"], start=1):
        _check_fields(f"replica {number}", replica, _REPLICA)


def verify(exported: Mapping[str, Any], public_key_pem: bytes) -> dict[str, Any]:
    """The certificate's document, if ``exported`` was signed by the key ``public_key_pem``.

    Raises :class:`CertificateInvalid` naming the first problem found: a malformed export, an
    unsupported format or algorithm, a key id that is not this key's, or a signature that does
    not match the document (any field changed after signing). The ``key_id`` beside the
    certificate is not covered by the signature, so it must equal the signed ``issuer``.
    """
    if not isinstance(exported, Mapping):
        raise CertificateInvalid("not a certificate: expected a JSON object", reason="malformed")
    missing = sorted(_EXPORT_FIELDS - set(exported))
    if missing:
        raise CertificateInvalid(
            f"not an exported certificate: {', '.join(missing)} missing", reason="malformed"
        )
    extra = sorted(set(exported) - _EXPORT_FIELDS - {"batch"})
    if extra:
        raise CertificateInvalid(f"unexpected field(s) {', '.join(extra)}", reason="malformed")
    if exported["algorithm"] != ALGORITHM:
        raise CertificateInvalid(
            f"signature algorithm {exported['algorithm']!r} is not supported (only {ALGORITHM})",
            reason="unsupported",
        )
    document = exported["certificate"]
    check_document(document)
    key = load_public_key(public_key_pem)
    given = key_id_of(key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw))
    if exported["key_id"] != document["issuer"]:
        raise CertificateInvalid(
            f"key id mismatch: key_id {exported['key_id']!r} differs from the signed issuer "
            f"{document['issuer']!r}",
            reason="key-mismatch",
        )
    if document["issuer"] != given:
        raise CertificateInvalid(
            f"key id mismatch: signed by {document['issuer']}, but the key given is {given}",
            reason="key-mismatch",
        )
    signature = exported["signature"]
    try:
        raw = base64.b64decode(signature, validate=True) if isinstance(signature, str) else b""
    except (binascii.Error, ValueError):
        raw = b""
    if len(raw) != _SIGNATURE_BYTES:
        raise CertificateInvalid(
            f"malformed signature: expected the base64 of {_SIGNATURE_BYTES} bytes",
            reason="malformed",
        )
    try:
        key.verify(raw, _signed_message(exported, document))
    except InvalidSignature:
        raise CertificateInvalid(
            "bad signature: the certificate (or its batch proof) was altered after it was signed",
            reason="bad-signature",
        ) from None
    result: dict[str, Any] = json.loads(signed_bytes(document))  # a copy of what was verified
    return result


def summary(document: Mapping[str, Any]) -> str:
    """What a (verified) certificate certifies, in one line."""
    file = document["file"]
    return (
        f"version {document['version']} of {file['collection']}/{file['path']} "
        f"(sha256 {document['sha256']}) purged at {document['purged_at']} by {document['actor']}"
    )
