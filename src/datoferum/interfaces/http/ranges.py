"""Byte ranges (RFC 9110 §14): one range is honoured; anything else gets the whole file."""

from __future__ import annotations

from datoferum.errors import RangeNotSatisfiable


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive ``(first, last)`` byte positions asked for, or None to send everything.

    Malformed headers, other units and multiple ranges are ignored (the server may always answer
    200 with the whole representation); a well-formed range that selects nothing raises.
    """
    if not header:
        return None
    unit, _, spec = header.strip().partition("=")
    if unit.strip().lower() != "bytes" or "," in spec:
        return None
    first_text, dash, last_text = spec.strip().partition("-")
    first_text, last_text = first_text.strip(), last_text.strip()
    if (
        not dash
        or not (first_text.isascii() and (first_text.isdigit() or first_text == ""))
        or not (last_text.isascii() and (last_text.isdigit() or last_text == ""))
    ):
        return None
    if first_text == "":
        if last_text == "":
            return None
        suffix = int(last_text)
        if suffix == 0 or size == 0:
            raise RangeNotSatisfiable(
                f"the range {header!r} selects no bytes of this {size}-byte file", size=size
            )
        return max(0, size - suffix), size - 1
    first = int(first_text)
    last = int(last_text) if last_text else size - 1
    if last_text and last < first:
        return None
    if first >= size:
        valid = f"valid positions 0 to {size - 1}" if size else "an empty file has no range"
        raise RangeNotSatisfiable(
            f"the range {header!r} starts at byte {first} but the file has {size} bytes ({valid})",
            size=size,
        )
    return first, min(last, size - 1)
