"""The one JSON rendering used wherever bytes are hashed or signed.

Sorted keys, no spaces, UTF-8 left unescaped. It lives in the domain layer, apart from the event
log that first needed it, so that code which only checks hashes or signatures (the offline
``datoferum certificate verify``) need not load the catalog and SQLAlchemy to get it.
"""

from __future__ import annotations

import json
from typing import Any

# One encoder for every call: json.dumps with any non-default option builds a new encoder each
# time, which cost more than encoding an event's details.
_ENCODER = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def canonical_json(value: Any) -> str:
    """The one JSON rendering used wherever bytes are hashed."""
    return _ENCODER.encode(value)
