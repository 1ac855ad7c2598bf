"""Standard Webhooks signatures (https://www.standardwebhooks.com), symmetric scheme ``v1``.

The signed content is ``{webhook-id}.{webhook-timestamp}.{body}`` and the key is the base64
decoding of the secret after its ``whsec_`` prefix. Signing the id and the time as well as the
body is what lets a receiver refuse replays (stale timestamps) and duplicates (a seen id).
:func:`verify_signature` is the receiver's side, for anyone who builds one in Python and for the
tests; it depends on nothing but the standard library and the product's errors.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping

from datoferum.errors import InvalidInput, InvalidSignature

PREFIX = "whsec_"
#: The spec asks for 24 to 64 random bytes; generated secrets use 32.
MIN_KEY_BYTES, MAX_KEY_BYTES, NEW_KEY_BYTES = 24, 64, 32
VERSION = "v1"


def new_secret() -> str:
    """A fresh signing secret in the Standard Webhooks format ``whsec_<base64>``."""
    return PREFIX + base64.b64encode(secrets.token_bytes(NEW_KEY_BYTES)).decode("ascii")


def secret_key(secret: str) -> bytes:
    """The HMAC key inside ``secret`` (with or without its ``whsec_`` prefix)."""
    encoded = secret.removeprefix(PREFIX)
    try:
        key = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidInput(
            "a webhook secret must be 'whsec_' followed by base64; leave it out to get one"
        ) from None
    if not MIN_KEY_BYTES <= len(key) <= MAX_KEY_BYTES:
        raise InvalidInput(
            f"a webhook secret must hold {MIN_KEY_BYTES} to {MAX_KEY_BYTES} random bytes, "
            f"this one holds {len(key)}"
        )
    return key


def check_secret(secret: str) -> str:
    """``secret`` if it is a usable ``whsec_`` secret, else :class:`InvalidInput`."""
    if not secret.startswith(PREFIX):
        raise InvalidInput("a webhook secret must start with 'whsec_'; leave it out to get one")
    secret_key(secret)
    return secret


def hint(secret: str) -> str:
    """What listings show of a secret: enough to tell two apart, too little to use."""
    return f"{PREFIX}…{secret[-4:]}"


def signature(secret: str, message_id: str, timestamp: int, body: bytes) -> str:
    """The ``webhook-signature`` value: ``v1,<base64 HMAC-SHA256>``."""
    signed = f"{message_id}.{timestamp}.".encode() + body
    digest = hmac.new(secret_key(secret), signed, hashlib.sha256).digest()
    return f"{VERSION},{base64.b64encode(digest).decode('ascii')}"


def signed_headers(
    secret: str, message_id: str, body: bytes, *, now: float | None = None
) -> dict[str, str]:
    """The three Standard Webhooks headers for one attempt (the timestamp is the attempt's)."""
    timestamp = int(time.time() if now is None else now)
    return {
        "webhook-id": message_id,
        "webhook-timestamp": str(timestamp),
        "webhook-signature": signature(secret, message_id, timestamp, body),
    }


def verify_signature(
    secret: str,
    headers: Mapping[str, str],
    body: bytes,
    tolerance: int = 300,
    *,
    now: float | None = None,
) -> None:
    """Check a received webhook; raise :class:`InvalidSignature` saying why it is refused.

    ``headers`` may use any letter case. The timestamp must be within ``tolerance`` seconds of
    ``now`` either way (an old one is a replay, one from the future a wrong clock), and one of
    the space-separated ``v1`` signatures must match, compared in constant time.
    """
    given = {name.lower(): value for name, value in headers.items()}
    message_id = given.get("webhook-id")
    stamp = given.get("webhook-timestamp")
    signatures = given.get("webhook-signature")
    if not message_id or not stamp or not signatures:
        raise InvalidSignature(
            "the webhook-id, webhook-timestamp and webhook-signature headers are all needed"
        )
    if not (stamp.isascii() and stamp.isdigit()):
        raise InvalidSignature(f"webhook-timestamp must be unix seconds, got {stamp!r}")
    skew = abs((time.time() if now is None else now) - int(stamp))
    if skew > tolerance:
        raise InvalidSignature(
            f"webhook-timestamp is {skew:.0f} s away from now (tolerance {tolerance} s): "
            "a replay or a wrong clock"
        )
    expected = signature(secret, message_id, int(stamp), body).encode()
    for candidate in signatures.split():
        if hmac.compare_digest(candidate.encode(), expected):
            return
    raise InvalidSignature("no webhook-signature matches the body with this secret")
