"""What a policy can know about a file, and what a catalog query can use to narrow the search."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import MappingProxyType
from typing import TypeVar

_NOTHING: Mapping[str, str] = MappingProxyType({})
_NO_SIGNALS: Mapping[str, datetime] = MappingProxyType({})
_Bound = TypeVar("_Bound", int, datetime)


@dataclass(slots=True, kw_only=True)
class FileFacts:
    """One file as policies see it: its newest version, plus the signals the file received.

    ``content_type`` is the type sniffed from the bytes (``None`` if they were never sniffed);
    times are naive UTC, as the catalog stores them; ``signals`` maps each signal name to the
    newest time the file received it.
    """

    collection: str
    path: str
    content_type: str | None
    declared_content_type: str | None = None
    size: int
    metadata: Mapping[str, str] = field(default_factory=lambda: _NOTHING)
    tags: Mapping[str, str] = field(default_factory=lambda: _NOTHING)
    captured_at: datetime
    source: str
    state: str
    signals: Mapping[str, datetime] = field(default_factory=lambda: _NO_SIGNALS)


def parse_instant(text: str) -> datetime | None:
    """An ISO 8601 date or date-time as naive UTC (a bare date is its midnight), else ``None``.

    Times without an offset are taken as UTC, the way the catalog keeps every time.
    """
    if len(text) > 64:
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return moment


@dataclass(frozen=True)
class SqlHints:
    """Conservative bounds for a catalog query: every file a policy matches satisfies them
    (bounds are inclusive; ``None`` means no bound), so a query may use them to skip rows, but
    the policy's own ``matches`` still decides. Compute them with the ``now`` you match with.
    """

    collections: frozenset[str] | None = None
    path_prefix: str = ""
    min_size: int | None = None
    max_size: int | None = None
    captured_after: datetime | None = None
    captured_before: datetime | None = None
    states: frozenset[str] | None = None

    def admits(self, facts: FileFacts) -> bool:
        """The query's view of ``facts``: what a ``WHERE`` built from these hints would keep."""
        return (
            (self.collections is None or facts.collection in self.collections)
            and facts.path.startswith(self.path_prefix)
            and (self.min_size is None or facts.size >= self.min_size)
            and (self.max_size is None or facts.size <= self.max_size)
            and (self.captured_after is None or facts.captured_at >= self.captured_after)
            and (self.captured_before is None or facts.captured_at <= self.captured_before)
            and (self.states is None or facts.state in self.states)
        )

    def both(self, other: SqlHints) -> SqlHints:
        """Hints for files that satisfy ``self`` and ``other``."""
        longer, shorter = sorted((self.path_prefix, other.path_prefix), key=len, reverse=True)
        return SqlHints(
            collections=_meet(self.collections, other.collections),
            # Prefixes that disagree admit no file at all; keeping either one stays correct.
            path_prefix=longer if longer.startswith(shorter) else self.path_prefix,
            min_size=_pick(max, self.min_size, other.min_size),
            max_size=_pick(min, self.max_size, other.max_size),
            captured_after=_pick(max, self.captured_after, other.captured_after),
            captured_before=_pick(min, self.captured_before, other.captured_before),
            states=_meet(self.states, other.states),
        )

    def either(self, other: SqlHints) -> SqlHints:
        """Hints for files that satisfy ``self`` or ``other``."""
        return SqlHints(
            collections=_join(self.collections, other.collections),
            path_prefix=_common_prefix(self.path_prefix, other.path_prefix),
            min_size=_loosest(min, self.min_size, other.min_size),
            max_size=_loosest(max, self.max_size, other.max_size),
            captured_after=_loosest(min, self.captured_after, other.captured_after),
            captured_before=_loosest(max, self.captured_before, other.captured_before),
            states=_join(self.states, other.states),
        )


ANY = SqlHints()


def _common_prefix(a: str, b: str) -> str:
    for index, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return a[:index]
    return a if len(a) < len(b) else b


def _meet(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    return b if a is None else a if b is None else a & b


def _join(a: frozenset[str] | None, b: frozenset[str] | None) -> frozenset[str] | None:
    return None if a is None or b is None else a | b


def _pick(
    choose: Callable[[_Bound, _Bound], _Bound], a: _Bound | None, b: _Bound | None
) -> _Bound | None:
    """Both bounds hold: the tighter one, or whichever exists."""
    return b if a is None else a if b is None else choose(a, b)


def _loosest(
    choose: Callable[[_Bound, _Bound], _Bound], a: _Bound | None, b: _Bound | None
) -> _Bound | None:
    """Either bound may hold: the looser one, and none if either side is unbounded."""
    return None if a is None or b is None else choose(a, b)
