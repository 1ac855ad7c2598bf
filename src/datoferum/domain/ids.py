"""Identifiers and clocks.

File and version ids are UUIDv7 (RFC 9562): time-ordered, so keyset pagination in id order follows
capture order and B-tree inserts stay local, and random enough to be unguessable.
"""

from __future__ import annotations

import os
import re
import threading
import time
from datetime import UTC, datetime

#: Random bytes are drawn for this many ids at a time: one ``urandom`` call cost more than the
#: rest of ``new_id``, and a purge or an upload makes several ids in a row.
_POOLED_IDS = 256
_RANDOM_BYTES = 10


class _RandomPool(threading.local):
    buffer = b""
    at = 0


_pool = _RandomPool()


def _fresh_pool() -> None:
    """A forked child must not replay its parent's pool (both would issue the same ids)."""
    global _pool
    _pool = _RandomPool()


os.register_at_fork(after_in_child=_fresh_pool)


def _random_bytes() -> bytes:
    pool = _pool
    if pool.at >= len(pool.buffer):
        pool.buffer = os.urandom(_RANDOM_BYTES * _POOLED_IDS)
        pool.at = 0
    start = pool.at
    pool.at = start + _RANDOM_BYTES
    return pool.buffer[start : start + _RANDOM_BYTES]


def new_id() -> str:
    """A new UUIDv7 as 32 lowercase hex digits."""
    millis = time.time_ns() // 1_000_000
    value = (millis & ((1 << 48) - 1)) << 80 | int.from_bytes(_random_bytes(), "big")
    value = (value & ~(0xF << 76)) | (0x7 << 76)  # version 7
    value = (value & ~(0x3 << 62)) | (0x2 << 62)  # RFC 9562 variant
    return f"{value:032x}"  # what uuid.UUID(int=value).hex gives, without building the object


def first_id_since(moment: datetime) -> str:
    """The smallest id ``new_id`` can issue at or after ``moment`` (naive UTC): ids sort by
    time, so "made since" is a range of them."""
    millis = int((moment - datetime(1970, 1, 1)).total_seconds() * 1000)
    return f"{millis:012x}" + "0" * 20


_ID = re.compile(r"[0-9a-f]{32}")


def is_id(value: str) -> bool:
    """True if ``value`` has the shape of an id this product issues."""
    return _ID.fullmatch(value) is not None


def utcnow() -> datetime:
    """The current time as a naive UTC datetime (how the catalog stores time, portably)."""
    return datetime.now(UTC).replace(tzinfo=None)


def isoformat(moment: datetime) -> str:
    """RFC 3339 rendering of a naive UTC datetime, with microseconds."""
    return moment.isoformat(timespec="microseconds") + "Z"
