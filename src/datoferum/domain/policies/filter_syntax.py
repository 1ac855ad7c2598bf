"""Reading the ``filters:`` of a policy into filter records, reporting every problem."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from datoferum.domain.metadata import KEY_PATTERN
from datoferum.domain.names import COLLECTION_PATTERN
from datoferum.domain.policies.facts import parse_instant
from datoferum.domain.policies.filters import (
    OPS_WITHOUT_VALUE,
    SIZE_OPS,
    VALUE_OPS,
    AgeBounds,
    AgeFilter,
    AllOf,
    AnyOf,
    CollectionFilter,
    ContentTypeFilter,
    Filter,
    MetadataFilter,
    Not,
    PathFilter,
    SignalFilter,
    SizeFilter,
    SourceFilter,
    StateFilter,
    TagFilter,
    duration_data,
)
from datoferum.domain.policies.globs import GlobError, compile_globs
from datoferum.domain.policies.nodes import Node, Sequence
from datoferum.domain.policies.reader import Check, Reader, fits, join
from datoferum.domain.records import State

NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,63}")
NAME_RULE = "a name of up to 64 lowercase letters, digits, '.', '_' or '-'"
KEY_RULE = "a key of up to 64 lowercase letters, digits, '.', '_' or '-'"
MAX_NESTING = 16
MAX_DAYS = 1000 * 365
DURATION_UNITS = {"days": 1440, "hours": 60, "minutes": 1}  # in minutes

FilterReader = Callable[[Reader, Node, str, int], Filter | None]


def read_filters(reader: Reader, node: Node, field: str) -> AllOf | None:
    """The ``filters:`` list: all must match (an empty list selects every file)."""
    items = reader.items(node, field, "a list of filters")
    if items is None:
        return None
    parsed = [read_filter(reader, item, f"{field}[{index}]", 0) for index, item in enumerate(items)]
    return AllOf(tuple(item for item in parsed if item is not None)) if None not in parsed else None


def read_filter(reader: Reader, node: Node, field: str, depth: int) -> Filter | None:
    kind, body = reader.single_key(node, field, tuple(_READERS), "filter")
    if not kind:
        return None
    return _READERS[kind](reader, body, join(field, kind), depth)


def _glob_check(*, path: bool = False, media: bool = False) -> Check:
    def check(glob: str) -> str | None:
        if not glob:
            return "a glob cannot be empty"
        if path and glob.startswith("/"):
            return f"paths are relative to their collection: write {glob.lstrip('/')!r}"
        if media and "/" not in glob:
            return f"{glob!r} is not a media type glob; write it like 'video/*' or 'text/csv'"
        try:
            compile_globs([glob])
        except GlobError as exc:
            return str(exc)
        return None

    return check


def _collection(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
    rule = "a collection name (up to 63 lowercase letters, digits, '.', '_' or '-')"
    names = reader.texts(body, field, "a collection name", check=fits(COLLECTION_PATTERN, rule))
    return None if names is None else CollectionFilter(names)


def _path(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
    globs = reader.texts(body, field, "a path glob", check=_glob_check(path=True))
    return None if globs is None else PathFilter(globs)


def _content_type(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
    globs = reader.texts(body, field, "a media type glob", check=_glob_check(media=True))
    return None if globs is None else ContentTypeFilter(globs)


def _source(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
    globs = reader.texts(body, field, "an actor glob such as 'token:*'", check=_glob_check())
    return None if globs is None else SourceFilter(globs)


def _state(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
    def known(state: str) -> str | None:
        if state in State.ALL:
            return None
        return f"unknown state {state!r}; known states: {', '.join(State.ALL)}"

    states = reader.texts(body, field, "a state", check=known)
    return None if states is None else StateFilter(states)


def _size(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
    ops = reader.mapping(body, field, optional=SIZE_OPS, what="comparisons such as {gt: 1048576}")
    if ops is None:
        return None
    if not reader.given(ops, body, field, f"give at least one of {', '.join(SIZE_OPS)}"):
        return None
    bounds = {
        op: reader.integer(value, join(field, op), minimum=0, maximum=2**63 - 1)
        for op, value in ops.items()
    }
    if None in bounds.values():
        return None
    size = SizeFilter(tuple((op, value) for op, value in bounds.items() if value is not None))
    low, high = size.range()
    if high is not None and low > high:
        reader.report(body.line, field, "no size satisfies all of these comparisons")
        return None
    return size


def _duration(reader: Reader, node: Node, field: str) -> timedelta | None:
    what = "a duration such as {days: 30} (days, hours, minutes)"
    units = reader.mapping(node, field, optional=tuple(DURATION_UNITS), what=what)
    if units is None:
        return None
    if not reader.given(units, node, field, "give at least one of days, hours, minutes"):
        return None
    minutes = 0
    for unit, value in units.items():
        top = MAX_DAYS * 1440 // DURATION_UNITS[unit]
        count = reader.integer(value, join(field, unit), minimum=0, maximum=top)
        if count is None:
            return None
        minutes += count * DURATION_UNITS[unit]
    if minutes > MAX_DAYS * 1440:
        reader.report(node.line, field, f"durations are limited to {MAX_DAYS} days")
        return None
    return timedelta(minutes=minutes)


def _age_bounds(reader: Reader, node: Node, field: str) -> AgeBounds | None:
    what = "age comparisons such as {gt: {days: 30}} (gt, lt)"
    ops = reader.mapping(node, field, optional=("gt", "lt"), what=what)
    if ops is None:
        return None
    if not reader.given(ops, node, field, "give gt, lt or both"):
        return None
    spans = {op: _duration(reader, value, join(field, op)) for op, value in ops.items()}
    if None in spans.values():
        return None
    bounds = AgeBounds(gt=spans.get("gt"), lt=spans.get("lt"))
    if bounds.gt is not None and bounds.lt is not None and bounds.gt >= bounds.lt:
        reader.report(
            node.line,
            field,
            f"nothing is older than {duration_data(bounds.gt)} and younger than "
            f"{duration_data(bounds.lt)}",
        )
        return None
    return bounds


def _age(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
    bounds = _age_bounds(reader, body, field)
    return None if bounds is None else AgeFilter(bounds)


def _signal(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
    what = "a mapping such as {name: consumed}"
    keys = reader.mapping(body, field, required=("name",), optional=("age",), what=what)
    if keys is None:
        return None
    name = age = None
    if "name" in keys:
        name = reader.text(keys["name"], join(field, "name"), check=fits(NAME, NAME_RULE))
    if "age" in keys:
        age = _age_bounds(reader, keys["age"], join(field, "age"))
        if age is None:
            return None
    return None if name is None else SignalFilter(name, age)


def _value_filter(kind: type[MetadataFilter | TagFilter]) -> FilterReader:
    def read(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
        keys = reader.mapping(
            body, field, required=("key",), optional=("op", "value"), what="{key, op, value}"
        )
        if keys is None:
            return None
        key = None
        if "key" in keys:
            key = reader.text(keys["key"], join(field, "key"), check=fits(KEY_PATTERN, KEY_RULE))
        op: str | None = "eq"
        if "op" in keys:
            op = reader.choice(keys["op"], join(field, "op"), VALUE_OPS, "op")
        if op is None:
            return None
        ok, value = _op_value(reader, keys, op, field, body)
        return kind(key, op, value) if ok and key is not None else None

    return read


def _op_value(
    reader: Reader, keys: dict[str, Node], op: str, field: str, body: Node
) -> tuple[bool, str | tuple[str, ...] | None]:
    """Whether the ``value`` suits ``op``, and the value (``None`` for ops that take none)."""
    node = keys.get("value")
    where = join(field, "value")
    if op in OPS_WITHOUT_VALUE:
        if node is not None:
            reader.report(node.line, where, f"op {op!r} takes no value; remove it")
        return node is None, None
    if node is None:
        reader.report(body.line, field, f"op {op!r} needs a value")
        return False, None
    if op == "in":
        if not isinstance(node, Sequence):
            reader.report(node.line, where, "op 'in' takes a list of values, such as [a, b]")
            return False, None
        values = reader.texts(node, where, "a value")
        return values is not None, values
    check: Check | None = None
    if op == "glob":
        check = _glob_check()
    elif op in ("before", "after"):
        check = _instant_check
    value = reader.text(node, where, "a value", check=check)
    return value is not None, value


def _instant_check(text: str) -> str | None:
    if parse_instant(text) is not None:
        return None
    return f"{text!r} is not an ISO date or time, such as 2024-01-31 or 2024-01-31T12:00:00Z"


def _group(kind: type[AllOf | AnyOf]) -> FilterReader:
    def read(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
        if depth + 1 > MAX_NESTING:
            reader.report(body.line, field, f"filters nest deeper than {MAX_NESTING} levels")
            return None
        items = reader.items(body, field, "a list of filters")
        if items is None:
            return None
        if not items:
            reader.report(body.line, field, "the list is empty; give at least one filter")
            return None
        parsed = [
            read_filter(reader, item, f"{field}[{index}]", depth + 1)
            for index, item in enumerate(items)
        ]
        if None in parsed:
            return None
        return kind(tuple(item for item in parsed if item is not None))

    return read


def _not(reader: Reader, body: Node, field: str, depth: int) -> Filter | None:
    if depth + 1 > MAX_NESTING:
        reader.report(body.line, field, f"filters nest deeper than {MAX_NESTING} levels")
        return None
    inner = read_filter(reader, body, field, depth + 1)
    return None if inner is None else Not(inner)


_READERS: dict[str, FilterReader] = {
    "collection": _collection,
    "path": _path,
    "content-type": _content_type,
    "size": _size,
    "metadata": _value_filter(MetadataFilter),
    "tag": _value_filter(TagFilter),
    "age": _age,
    "signal": _signal,
    "source": _source,
    "state": _state,
    "or": _group(AnyOf),
    "and": _group(AllOf),
    "not": _not,
}
