"""User metadata: the ``X-Meta-*`` key/value pairs a producer attaches to a file."""

from __future__ import annotations

import re
from collections.abc import Iterable

from datoferum.errors import InvalidMetadata

KEY_PATTERN = re.compile(r"[a-z0-9][a-z0-9_.-]{0,63}")
MAX_KEYS = 64
MAX_TOTAL_BYTES = 8 * 1024


def check_metadata(pairs: Iterable[tuple[str, str]]) -> dict[str, str]:
    """Validate and collect metadata; keys are case-insensitive (stored lowercase)."""
    result: dict[str, str] = {}
    total = 0
    for raw_key, value in pairs:
        key = raw_key.lower()
        if not KEY_PATTERN.fullmatch(key):
            raise InvalidMetadata(
                f"metadata key {raw_key!r} is invalid: use up to 64 letters, digits, '.', '_' "
                "or '-', starting with a letter or digit"
            )
        if key in result:
            raise InvalidMetadata(f"metadata key {key!r} is given twice")
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise InvalidMetadata(f"metadata {key!r} contains control characters")
        result[key] = value
        total += len(key) + len(value.encode("utf-8"))
    if len(result) > MAX_KEYS:
        raise InvalidMetadata(f"at most {MAX_KEYS} metadata keys are allowed, got {len(result)}")
    if total > MAX_TOTAL_BYTES:
        raise InvalidMetadata(f"metadata totals {total} bytes; the limit is {MAX_TOTAL_BYTES}")
    return result
