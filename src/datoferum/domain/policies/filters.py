"""Filters: what a policy selects, as typed records that compile to plain closures.

Each filter is immutable data (compared, dumped, turned into catalog hints) and compiles once,
when its policy is built, to a function of ``(facts, now)``. Globs become one regular expression
per filter and time bounds stay ``timedelta`` arithmetic, so a typical policy judges a file in
about a microsecond.
"""

from __future__ import annotations

import operator
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from datoferum.domain.policies.facts import ANY, FileFacts, SqlHints, parse_instant
from datoferum.domain.policies.globs import compile_globs, literal_prefix

Matcher = Callable[[FileFacts, datetime], bool]


def duration_data(span: timedelta) -> dict[str, int]:
    """A duration as the language writes it, in its largest units."""
    hours, rest = divmod(span.seconds, 3600)
    parts = {"days": span.days, "hours": hours, "minutes": rest // 60}
    return {unit: value for unit, value in parts.items() if value} or {"days": 0}


def _one_or_list(values: tuple[str, ...]) -> str | list[str]:
    return values[0] if len(values) == 1 else list(values)


class Filter(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def matcher(self) -> Matcher:
        """The compiled test; build it once and reuse it."""

    @abstractmethod
    def body(self) -> Any:
        """The filter as the language writes it, without its key."""

    def data(self) -> dict[str, Any]:
        return {self.kind: self.body()}

    def hints(self, now: datetime) -> SqlHints:
        return ANY


@dataclass(frozen=True)
class CollectionFilter(Filter):
    kind: ClassVar[str] = "collection"
    names: tuple[str, ...]

    def matcher(self) -> Matcher:
        names = frozenset(self.names)
        return lambda facts, now: facts.collection in names

    def body(self) -> Any:
        return _one_or_list(self.names)

    def hints(self, now: datetime) -> SqlHints:
        return SqlHints(collections=frozenset(self.names))


@dataclass(frozen=True)
class _GlobFilter(Filter):
    globs: tuple[str, ...]

    def body(self) -> Any:
        return _one_or_list(self.globs)


class PathFilter(_GlobFilter):
    kind = "path"

    def matcher(self) -> Matcher:
        match = compile_globs(self.globs).fullmatch
        return lambda facts, now: match(facts.path) is not None

    def hints(self, now: datetime) -> SqlHints:
        hints = [SqlHints(path_prefix=literal_prefix(glob)) for glob in self.globs]
        first, *rest = hints
        for other in rest:
            first = first.either(other)
        return first


class ContentTypeFilter(_GlobFilter):
    """Media types are case-insensitive; the sniffed type wins over the declared one."""

    kind = "content-type"

    def matcher(self) -> Matcher:
        match = compile_globs(self.globs, ignore_case=True).fullmatch

        def test(facts: FileFacts, now: datetime) -> bool:
            return match(facts.content_type or facts.declared_content_type or "") is not None

        return test


class SourceFilter(_GlobFilter):
    kind = "source"

    def matcher(self) -> Matcher:
        match = compile_globs(self.globs).fullmatch
        return lambda facts, now: match(facts.source) is not None


SIZE_OPS = ("gt", "ge", "lt", "le", "eq")


@dataclass(frozen=True)
class SizeFilter(Filter):
    """Byte-size comparisons, all of which must hold."""

    kind: ClassVar[str] = "size"
    bounds: tuple[tuple[str, int], ...]  # (op, bytes) in the order written

    def range(self) -> tuple[int, int | None]:
        """The inclusive ``(lowest, highest)`` size allowed (``None``: no upper bound)."""
        low, high = 0, None
        for op, value in self.bounds:
            if op in ("gt", "ge", "eq"):
                low = max(low, value + 1 if op == "gt" else value)
            if op in ("lt", "le", "eq"):
                top = value - 1 if op == "lt" else value
                high = top if high is None else min(high, top)
        return low, high

    def matcher(self) -> Matcher:
        low, high = self.range()
        if high is None:
            return lambda facts, now: facts.size >= low
        return lambda facts, now: low <= facts.size <= high

    def body(self) -> Any:
        return dict(self.bounds)

    def hints(self, now: datetime) -> SqlHints:
        low, high = self.range()
        return SqlHints(min_size=low or None, max_size=high)


VALUE_OPS = ("eq", "ne", "in", "present", "absent", "glob", "before", "after")
OPS_WITHOUT_VALUE = ("present", "absent")


@dataclass(frozen=True)
class _ValueFilter(Filter):
    """A test on one key of the file's metadata or tags. A missing key never equals anything,
    so ``ne`` matches it (``ne`` is exactly ``not eq``); ``before``/``after`` match only values
    that are ISO dates or times."""

    key: str
    op: str
    value: str | tuple[str, ...] | None = None
    where: ClassVar[str]  # the FileFacts attribute holding the pairs

    def matcher(self) -> Matcher:
        key, value = self.key, self.value
        values: Callable[[FileFacts], Mapping[str, str]] = operator.attrgetter(self.where)
        if self.op == "present":
            return lambda facts, now: key in values(facts)
        if self.op == "absent":
            return lambda facts, now: key not in values(facts)
        if self.op == "eq":
            return lambda facts, now: values(facts).get(key) == value
        if self.op == "ne":
            return lambda facts, now: values(facts).get(key) != value
        if self.op == "in":
            allowed = frozenset(value or ())
            return lambda facts, now: values(facts).get(key) in allowed
        if self.op == "glob":
            match = compile_globs([str(value)]).fullmatch

            def globbed(facts: FileFacts, now: datetime) -> bool:
                given = values(facts).get(key)
                return given is not None and match(given) is not None

            return globbed
        bound = parse_instant(str(value))
        if bound is None:
            raise ValueError(f"{value!r} is not an ISO date or time")
        compare = operator.lt if self.op == "before" else operator.gt

        def dated(facts: FileFacts, now: datetime) -> bool:
            given = values(facts).get(key)
            moment = parse_instant(given) if given is not None else None
            return moment is not None and compare(moment, bound)

        return dated

    def body(self) -> Any:
        body: dict[str, Any] = {"key": self.key, "op": self.op}
        if self.value is not None:
            body["value"] = list(self.value) if isinstance(self.value, tuple) else self.value
        return body


class MetadataFilter(_ValueFilter):
    kind = "metadata"
    where = "metadata"


class TagFilter(_ValueFilter):
    kind = "tag"
    where = "tags"


@dataclass(frozen=True)
class AgeBounds:
    """How old something must be: older than ``gt`` and younger than ``lt``."""

    gt: timedelta | None = None
    lt: timedelta | None = None

    def limits(self) -> tuple[timedelta, timedelta]:
        """Open bounds ``low < age < high``, with the missing side made unreachable."""
        low = timedelta.min if self.gt is None else self.gt
        return low, timedelta.max if self.lt is None else self.lt

    def body(self) -> dict[str, Any]:
        body = {"gt": self.gt, "lt": self.lt}
        return {op: duration_data(span) for op, span in body.items() if span is not None}


@dataclass(frozen=True)
class AgeFilter(Filter):
    """Time since capture."""

    kind: ClassVar[str] = "age"
    age: AgeBounds

    def matcher(self) -> Matcher:
        low, high = self.age.limits()
        return lambda facts, now: low < now - facts.captured_at < high

    def body(self) -> Any:
        return self.age.body()

    def hints(self, now: datetime) -> SqlHints:
        return SqlHints(
            captured_before=None if self.age.gt is None else now - self.age.gt,
            captured_after=None if self.age.lt is None else now - self.age.lt,
        )


@dataclass(frozen=True)
class SignalFilter(Filter):
    """The file received the signal; with ``age``, counted from the newest time it did."""

    kind: ClassVar[str] = "signal"
    name: str
    age: AgeBounds | None = None

    def matcher(self) -> Matcher:
        name = self.name
        if self.age is None:
            return lambda facts, now: name in facts.signals
        low, high = self.age.limits()

        def test(facts: FileFacts, now: datetime) -> bool:
            received = facts.signals.get(name)
            return received is not None and low < now - received < high

        return test

    def body(self) -> Any:
        body: dict[str, Any] = {"name": self.name}
        if self.age is not None:
            body["age"] = self.age.body()
        return body


@dataclass(frozen=True)
class StateFilter(Filter):
    kind: ClassVar[str] = "state"
    states: tuple[str, ...]

    def matcher(self) -> Matcher:
        states = frozenset(self.states)
        return lambda facts, now: facts.state in states

    def body(self) -> Any:
        return _one_or_list(self.states)

    def hints(self, now: datetime) -> SqlHints:
        return SqlHints(states=frozenset(self.states))


@dataclass(frozen=True)
class AllOf(Filter):
    """Every filter matches; a policy's ``filters`` list is one of these (empty: every file)."""

    kind: ClassVar[str] = "and"
    items: tuple[Filter, ...]

    def matcher(self) -> Matcher:
        tests = tuple(item.matcher() for item in self.items)
        if len(tests) == 1:
            return tests[0]

        def test(facts: FileFacts, now: datetime) -> bool:
            for one in tests:  # noqa: SIM110 - a loop is twice as fast as all() over a generator
                if not one(facts, now):
                    return False
            return True

        return test

    def body(self) -> Any:
        return [item.data() for item in self.items]

    def hints(self, now: datetime) -> SqlHints:
        hints = ANY
        for item in self.items:
            hints = hints.both(item.hints(now))
        return hints


@dataclass(frozen=True)
class AnyOf(Filter):
    kind: ClassVar[str] = "or"
    items: tuple[Filter, ...]

    def matcher(self) -> Matcher:
        tests = tuple(item.matcher() for item in self.items)
        return lambda facts, now: any(one(facts, now) for one in tests)

    def body(self) -> Any:
        return [item.data() for item in self.items]

    def hints(self, now: datetime) -> SqlHints:
        first, *rest = (item.hints(now) for item in self.items)
        for other in rest:
            first = first.either(other)
        return first


@dataclass(frozen=True)
class Not(Filter):
    """The filter does not match (hints: none, since the complement of a bound is unbounded)."""

    kind: ClassVar[str] = "not"
    item: Filter

    def matcher(self) -> Matcher:
        test = self.item.matcher()
        return lambda facts, now: not test(facts, now)

    def body(self) -> Any:
        return self.item.data()
