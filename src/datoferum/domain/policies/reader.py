"""Typed reading of the value tree, collecting every problem with its line and field path.

Each accessor returns the value, or ``None`` after recording why it cannot: validation goes on
past the first problem, so one run of ``policy validate`` lists everything there is to fix.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Callable
from collections.abc import Sequence as Seq

from datoferum.domain.policies.nodes import Mapping, Node, Scalar, Sequence
from datoferum.errors import PolicyError, PolicyProblem

MAX_PROBLEMS = 100
Check = Callable[[str], str | None]  # a rule on a string: the problem with it, or None
_TEXT = ("str", "timestamp")  # an unquoted date is still the text the author typed
_CORE = ("str", "timestamp", "int", "float", "bool", "null")


def join(field: str, key: str) -> str:
    return f"{field}.{key}" if field else key


def describe(node: Node) -> str:
    """How a value reads in a message: 'the number 5', 'a list', 'nothing'."""
    if isinstance(node, Sequence):
        return "a list"
    if isinstance(node, Mapping):
        return "a mapping"
    return {
        "str": f"the text {node.text!r}",
        "timestamp": f"the date {node.text}",
        "int": f"the number {node.text}",
        "float": f"the number {node.text}",
        "bool": f"{node.text!r} (a yes/no value)",
        "null": "nothing",
    }.get(node.kind, f"a value tagged {node.kind}")


def fits(pattern: re.Pattern[str], what: str) -> Check:
    """A check that the whole string matches ``pattern``; ``what`` names the rule."""
    return lambda value: None if pattern.fullmatch(value) else f"{value!r} is not {what}"


def format_problem(problem: PolicyProblem) -> str:
    """``FILE:LINE: field: message``, the form editors and people both read."""
    where = f"{problem['source']}:{problem['line']}: "
    return where + (f"{problem['field']}: " if problem["field"] else "") + problem["message"]


def _suggest(word: str, known: Seq[str]) -> str:
    close = difflib.get_close_matches(word, known, n=1, cutoff=0.7)
    return f" (did you mean {close[0]!r}?)" if close else ""


class Reader:
    """Reads one policy file's value tree, collecting problems as it goes."""

    def __init__(self, source: str) -> None:
        self.source = source
        self.problems: list[PolicyProblem] = []
        self.truncated = False

    def report(self, line: int, field: str, message: str) -> None:
        if len(self.problems) >= MAX_PROBLEMS:
            self.truncated = True
            return
        self.problems.append(
            {"source": self.source, "line": line, "field": field, "message": message}
        )

    def error(self) -> PolicyError:
        """Everything reported, in file order, as one error whose detail reads on its own."""
        problems = sorted(self.problems, key=lambda problem: problem["line"])
        count = len(problems)
        head = f"{count} problem{'s' if count != 1 else ''} in {self.source}"
        if self.truncated:
            head += f" (stopped after the first {MAX_PROBLEMS})"
        detail = "\n".join([head, *(format_problem(problem) for problem in problems)])
        return PolicyError(detail, errors=problems)

    def expected(self, node: Node, field: str, what: str, *, text: bool = False) -> None:
        """Report that ``node`` is not ``what``; a scalar where ``text`` was wanted gets a hint
        (YAML reads ``no``, ``7`` or ``2024-01-01`` as other types unless quoted)."""
        if isinstance(node, Scalar) and node.kind not in _CORE:
            # Core-schema tags were shortened when read ('binary'); show them as written.
            tag = node.kind if node.kind.startswith(("!", "tag:")) else f"!!{node.kind}"
            self.report(node.line, field, f"the YAML tag {tag} is not supported here")
            return
        message = f"expected {what}, got {describe(node)}"
        if text and isinstance(node, Scalar) and node.kind != "null":
            message += f"; quote it if you mean the text '{node.text}'"
        self.report(node.line, field, message)

    def mapping(
        self,
        node: Node,
        field: str,
        *,
        required: Seq[str] = (),
        optional: Seq[str] = (),
        what: str = "a mapping",
    ) -> dict[str, Node] | None:
        """The known keys of a mapping; unknown, repeated and missing keys are problems."""
        if not isinstance(node, Mapping):
            self.expected(node, field, what)
            return None
        known = (*required, *optional)
        found: dict[str, Node] = {}
        lines: dict[str, int] = {}
        for key, value in node.pairs:
            if not (isinstance(key, Scalar) and key.kind == "str"):
                if key.kind == "merge":
                    self.report(key.line, field, "merge keys ('<<') are not supported")
                else:
                    self.report(key.line, field, f"keys must be text, got {describe(key)}")
                continue
            name = key.value
            if name in lines:
                again = f"{name!r} is given twice (also on line {lines[name]})"
                self.report(key.line, join(field, name), again)
            elif name not in known:
                listed = f"known keys: {', '.join(known)}" if known else "it takes no keys"
                message = f"unknown key {name!r}{_suggest(name, known)}; {listed}"
                self.report(key.line, join(field, name), message)
            else:
                found[name] = value
            lines.setdefault(name, key.line)
        for name in required:
            if name not in lines:
                self.report(node.line, field, f"missing required key {name!r}")
        return found

    def given(self, found: dict[str, Node], node: Node, field: str, message: str) -> bool:
        """Whether a mapping read by :meth:`mapping` gave any known key; when it was empty,
        ``message`` says what it needs (unknown keys were reported already)."""
        if found:
            return True
        if isinstance(node, Mapping) and not node.pairs:
            self.report(node.line, field, message)
        return False

    def single_key(self, node: Node, field: str, known: Seq[str], noun: str) -> tuple[str, Node]:
        """A ``{kind: body}`` item such as one filter or one action; kind is '' when unusable."""
        if not isinstance(node, Mapping):
            self.expected(node, field, f"a mapping with one {noun} name as its key")
            return "", node
        if len(node.pairs) != 1:
            names = ", ".join(key.text if isinstance(key, Scalar) else "?" for key, _ in node.pairs)
            self.report(
                node.line,
                field,
                f"each {noun} is a mapping with exactly one key, this one has "
                f"{len(node.pairs)} ({names or 'none'}); make each {noun} its own list item",
            )
            return "", node
        key, body = node.pairs[0]
        kind = self.choice(key, field, known, noun)
        return kind or "", body

    def choice(self, node: Node, field: str, known: Seq[str], noun: str) -> str | None:
        value = self.text(node, field, f"a {noun} name")
        if value is None or value in known:
            return value
        self.report(
            node.line,
            field,
            f"unknown {noun} {value!r}{_suggest(value, known)}; known {noun}s: {', '.join(known)}",
        )
        return None

    def text(
        self, node: Node, field: str, what: str = "a text", *, check: Check | None = None
    ) -> str | None:
        """A string that passes ``check``."""
        if not (isinstance(node, Scalar) and node.kind in _TEXT):
            self.expected(node, field, what, text=True)
            return None
        value = node.text if node.kind == "timestamp" else str(node.value)
        problem = check(value) if check is not None else None
        if problem is not None:
            self.report(node.line, field, problem)
            return None
        return value

    def texts(
        self, node: Node, field: str, what: str, *, check: Check | None = None
    ) -> tuple[str, ...] | None:
        """One string or a non-empty list of them, each passing ``check``."""
        if not isinstance(node, Sequence):
            one = self.text(node, field, what, check=check)
            return None if one is None else (one,)
        if not node.items:
            self.report(node.line, field, f"the list is empty; give at least one {what}")
            return None
        values = [
            self.text(item, f"{field}[{index}]", what, check=check)
            for index, item in enumerate(node.items)
        ]
        if None in values:
            return None
        return tuple(value for value in values if value is not None)

    def integer(self, node: Node, field: str, *, minimum: int, maximum: int) -> int | None:
        if not (isinstance(node, Scalar) and node.kind == "int"):
            self.expected(node, field, "a whole number")
            return None
        value = int(node.value)
        if not minimum <= value <= maximum:
            self.report(node.line, field, f"{value} is out of range ({minimum} to {maximum})")
            return None
        return value

    def items(self, node: Node, field: str, what: str) -> list[Node] | None:
        if not isinstance(node, Sequence):
            self.expected(node, field, what)
            return None
        return node.items
