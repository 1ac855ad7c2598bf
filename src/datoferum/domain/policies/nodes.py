"""YAML read into a small tree of values that remember their line, with hostile input bounded.

PyYAML's own composer is not used: its C version crashes the process on deeply nested input and
both versions let aliases multiply a small text into billions of values ("billion laughs"). This
composer works from libyaml's event stream without recursion, and stops as soon as the text nests
too deep or its values, counted with every alias expanded, pass a budget. Only the YAML core
types are understood; a value under any other explicit tag becomes a bare tagged value, which
the validator refuses where it finds it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.constructor import SafeConstructor
from yaml.resolver import Resolver

MAX_CHARACTERS = 1024 * 1024
MAX_DEPTH = 64
MAX_VALUES = 200_000

_CORE = "tag:yaml.org,2002:"
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_RESOLVER = Resolver()
_CONSTRUCTOR = SafeConstructor()


class UnreadableYaml(Exception):
    """The text cannot be turned into values; carries the 1-based line to blame."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(eq=False)
class Scalar:
    """A plain value. ``kind`` is the YAML core type (str, int, float, bool, null, timestamp) or
    the full tag when the text names another (then ``value`` is ``None``, also for a collection
    under such a tag); ``value`` is the Python value, except that timestamps keep their text (the
    policy language reads dates itself)."""

    line: int
    kind: str
    text: str
    value: Any


@dataclass(eq=False)
class Sequence:
    line: int
    items: list[Node] = field(default_factory=list)
    kind: str = "seq"


@dataclass(eq=False)
class Mapping:
    line: int
    pairs: list[tuple[Node, Node]] = field(default_factory=list)
    kind: str = "map"


Node = Scalar | Sequence | Mapping


def _short(tag: str) -> str:
    return tag[len(_CORE) :] if tag.startswith(_CORE) else tag


def _line(event: yaml.Event) -> int:
    return event.start_mark.line + 1 if event.start_mark is not None else 1


def _scalar(event: yaml.ScalarEvent) -> Scalar:
    line = _line(event)
    tag = event.tag
    if tag is None or tag == "!":
        tag = str(_RESOLVER.resolve(yaml.ScalarNode, event.value, event.implicit))  # type: ignore[no-untyped-call]
    kind = _short(tag)
    value: Any = event.value
    if kind in ("int", "float", "bool", "null"):
        value = _CONSTRUCTOR.construct_object(yaml.ScalarNode(tag, event.value))
    return Scalar(line, kind, event.value, value)


@dataclass
class _Open:
    node: Sequence | Mapping
    anchor: str | None
    tag: str | None  # an explicit tag other than seq/map: the validator refuses it
    size: int = 1
    key: Node | None = None


class _Composer:
    def __init__(self) -> None:
        self.stack: list[_Open] = []
        self.anchors: dict[str, tuple[Node, int]] = {}
        self.root: Node | None = None
        self.total = 0
        self.documents = 0

    def count(self, values: int, line: int) -> None:
        self.total += values
        if self.total > MAX_VALUES:
            raise UnreadableYaml(
                line,
                f"the document holds more than {MAX_VALUES} values once aliases are expanded; "
                "policy files are far smaller (is this an alias bomb?)",
            )

    def attach(self, node: Node, size: int) -> None:
        if not self.stack:
            self.root = node
            return
        top = self.stack[-1]
        top.size += size
        if isinstance(top.node, Sequence):
            top.node.items.append(node)
        elif top.key is None:
            top.key = node
        else:
            top.node.pairs.append((top.key, node))
            top.key = None

    def feed(self, event: yaml.Event) -> None:
        line = _line(event)
        if isinstance(event, yaml.DocumentStartEvent):
            self.documents += 1
            if self.documents > 1:
                raise UnreadableYaml(line, "a policy file holds one YAML document; remove '---'")
        elif isinstance(event, yaml.ScalarEvent):
            node = _scalar(event)
            self.count(1, line)
            self.remember(event.anchor, node, 1)
            self.attach(node, 1)
        elif isinstance(event, yaml.AliasEvent):
            if event.anchor not in self.anchors:
                raise UnreadableYaml(
                    line, f"alias *{event.anchor} refers to no anchor defined before it"
                )
            target, size = self.anchors[event.anchor]
            self.count(size, line)
            self.attach(target, size)
        elif isinstance(event, yaml.CollectionStartEvent):
            if len(self.stack) >= MAX_DEPTH:
                raise UnreadableYaml(line, f"values nest deeper than {MAX_DEPTH} levels")
            foreign = event.tag not in (None, "!") and _short(str(event.tag)) not in ("seq", "map")
            opened: Sequence | Mapping = (
                Sequence(line) if isinstance(event, yaml.SequenceStartEvent) else Mapping(line)
            )
            self.count(1, line)
            self.stack.append(_Open(opened, event.anchor, str(event.tag) if foreign else None))
        elif isinstance(event, yaml.CollectionEndEvent):
            done = self.stack.pop()
            # A collection under a foreign tag stands as a bare tagged value, never read.
            closed: Node = done.node
            if done.tag is not None:
                closed = Scalar(done.node.line, _short(done.tag), "", None)
            self.remember(done.anchor, closed, done.size)
            self.attach(closed, done.size)

    def remember(self, anchor: str | None, node: Node, size: int) -> None:
        if anchor is not None:
            self.anchors[anchor] = (node, size)


def compose(text: str) -> Node | None:
    """The value tree of ``text`` (``None`` for an empty document), or :class:`UnreadableYaml`."""
    if len(text) > MAX_CHARACTERS:
        raise UnreadableYaml(
            1, f"the file has {len(text)} characters; policy files are limited to {MAX_CHARACTERS}"
        )
    composer = _Composer()
    try:
        for event in yaml.parse(text, Loader=_LOADER):
            composer.feed(event)
    except yaml.MarkedYAMLError as exc:
        raise _syntax_error(text, exc) from None
    except yaml.reader.ReaderError as exc:
        # libyaml counts bytes of UTF-8 here, where its other errors give lines.
        line = text.encode("utf-8", "surrogatepass")[: exc.position].count(b"\n") + 1
        code = ord(exc.character) if isinstance(exc.character, str) else exc.character
        raise UnreadableYaml(line, f"invalid YAML: {exc.reason} (character #x{code:04x})") from None
    except yaml.YAMLError as exc:
        raise UnreadableYaml(1, f"invalid YAML: {exc}") from None
    except UnicodeEncodeError as exc:
        line = text.count("\n", 0, exc.start) + 1
        raise UnreadableYaml(line, "the text contains an unpaired surrogate character") from None
    return composer.root


def _syntax_error(text: str, exc: yaml.MarkedYAMLError) -> UnreadableYaml:
    mark = exc.problem_mark or exc.context_mark
    line = mark.line + 1 if mark is not None else 1
    message = f"invalid YAML: {exc.problem or exc.context}"
    if exc.context and exc.problem:
        message += f" ({exc.context}"
        if exc.context_mark is not None and exc.context_mark.line + 1 != line:
            message += f" started on line {exc.context_mark.line + 1}"
        message += ")"
    lines = text.splitlines()
    if 0 < line <= len(lines) and "\t" in lines[line - 1]:
        message += "; indent with spaces, not tabs"
    return UnreadableYaml(line, message)
