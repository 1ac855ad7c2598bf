"""Globs, compiled once to one regular expression per list.

The dialect, everywhere a policy takes a glob: ``*`` is any run of characters except ``/``, ``?``
one character except ``/``, ``[abc]``/``[a-z]``/``[!a-z]`` one character of (or not of) a set,
``**`` any run including ``/``, and ``**/`` zero or more whole folders, so ``raw/**/*.mov`` also
matches ``raw/a.mov``. Everything else stands for itself. A glob matches a whole value.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

_SPECIAL = "*?["


class GlobError(ValueError):
    pass


def _translate(glob: str) -> str:
    out: list[str] = []
    i = 0
    while i < len(glob):
        char = glob[i]
        if glob.startswith("**/", i) and (i == 0 or glob[i - 1] == "/"):
            out.append("(?:.*/)?")
            i += 3
        elif glob.startswith("**", i):
            out.append(".*")
            i += 2
        elif char == "*":
            out.append("[^/]*")
            i += 1
        elif char == "?":
            out.append("[^/]")
            i += 1
        elif char == "[":
            # A ']' right after '[' or '[!' is a member, not the end of the set.
            end = glob.find("]", i + (3 if glob.startswith("[!", i) else 2))
            if end == -1:
                raise GlobError(f"glob {glob!r} opens '[' at position {i + 1} and never closes it")
            body = glob[i + 1 : end]
            negate = body.startswith("!")
            members = re.escape(body[1:] if negate else body).replace("\\-", "-")
            out.append(f"[^/{members}]" if negate else f"[{members}]")
            i = end + 1
        else:
            out.append(re.escape(char))
            i += 1
    return "".join(out)


def compile_globs(globs: Sequence[str], *, ignore_case: bool = False) -> re.Pattern[str]:
    """One pattern that fully matches a value matched by any of ``globs``."""
    alternatives = "|".join(f"(?:{_translate(glob)})" for glob in globs)
    try:
        return re.compile(alternatives, re.IGNORECASE if ignore_case else 0)
    except re.error as exc:  # e.g. a reversed range such as [z-a]
        raise GlobError(f"globs {list(globs)!r} are invalid: {exc}") from None


def literal_prefix(glob: str) -> str:
    """The text every match starts with (what a catalog can look up by index)."""
    for index, char in enumerate(glob):
        if char in _SPECIAL:
            return glob[:index]
    return glob
