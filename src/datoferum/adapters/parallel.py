"""Running one blocking call over many items on a few threads, as batch deletes and checks do.

Each thread takes one contiguous slice of the items, so a batch costs a handful of hand-offs
between threads rather than one per item (per-item hand-offs cost more than a local unlink).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

_T = TypeVar("_T")
_R = TypeVar("_R")


def each(
    function: Callable[[_T], _R], items: Sequence[_T], *, threads: int, at_least: int, name: str
) -> list[_R]:
    """``function`` of every item, in order; on up to ``threads`` threads once there are
    ``at_least`` items (fewer are not worth starting threads for)."""
    if len(items) < max(at_least, 2) or threads < 2:
        return [function(item) for item in items]
    step = -(-len(items) // threads)
    slices = [items[first : first + step] for first in range(0, len(items), step)]
    with ThreadPoolExecutor(len(slices), thread_name_prefix=name) as pool:
        done = pool.map(lambda part: [function(item) for item in part], slices)
        return [result for part in done for result in part]
