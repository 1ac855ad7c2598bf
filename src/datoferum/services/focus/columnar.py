"""Reading whole columns of an export at once, the way ``values`` reads single values.

A batch of a CSV export arrives as Arrow string arrays. Calling ``values.number`` a million times
costs a second; one Arrow cast over the same column costs milliseconds. These helpers read a
column with Arrow compute and accept exactly what the per-value helpers accept:

- text and numbers are trimmed with Arrow's Unicode whitespace, which is Python's ``str.strip``;
- a value is looked up or parsed once per distinct value (``per_value``), through the very
  function the row path uses, so rare spellings (``MM/DD/YYYY``, ``UTC`` suffixes) cost nothing
  extra and mean the same;
- where Arrow alone cannot be sure of a value (a number it cannot cast, one that is not finite,
  a timestamp ``values.instant`` refuses), a helper raises ``Unsure``: the caller converts that
  batch row by row, which gives the same values or the per-value error with its row number.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

from datoferum.services.focus import values as v

STRING = pa.string()
DECIMAL = pa.float64()
INSTANT = pa.timestamp("us", tz="UTC")
#: How some exports write "no value" (FOCUS files among them).
_SPELLED_NULL = "NULL"

#: A batch's columns by name, as the connectors and the rules pass them around.
Columns = dict[str, pa.Array]


class Unsure(Exception):
    """A value that only the per-value helpers can judge: the batch goes the row path."""


def nulls(length: int, kind: pa.DataType = STRING) -> pa.Array:
    return pa.nulls(length, kind)


def constant(length: int, value: str) -> pa.Array:
    return pa.repeat(pa.scalar(value, STRING), length)


def has(mask: pa.Array) -> bool:
    """Whether a boolean column is true anywhere (nulls are not true). The array's own count,
    not a compute call: a batch asks this a hundred times, and each call costs microseconds
    whatever the batch's size."""
    return bool(mask.true_count)


def where(mask: pa.Array, column: pa.Array) -> pa.Array:
    """``column`` where ``mask`` is true, null elsewhere (and where ``mask`` is null)."""
    if mask.false_count == 0 and mask.null_count == 0:
        return column
    return pc.if_else(mask, column, pa.scalar(None, column.type))


def unless(mask: pa.Array, column: pa.Array) -> pa.Array:
    """``column`` where ``mask`` is false or null, null where it is true."""
    if not has(mask):
        return column
    return pc.if_else(filled(mask, False), pa.scalar(None, column.type), column)


def coalesce(*columns: pa.Array) -> pa.Array:
    """``pc.coalesce``: the first value that is not null, column by column. Arrow's kernel
    copies every value even when one column decides every row, and most calls here have such
    a column (a CUR 2.0 spelling the file does not have is all null; a column the file always
    fills has no null), so leading columns with no value are passed over and the first column
    with no null is the answer as it is."""
    present = [column for column in columns if column.null_count < len(column)]
    for at, column in enumerate(present):
        if not column.null_count:
            present = present[: at + 1]
            break
    if len(present) > 1:
        return pc.coalesce(*present)
    return present[0] if present else columns[-1]


def filled(column: pa.Array, value: Any) -> pa.Array:
    """``pc.fill_null``, without copying a column that has no null."""
    return pc.fill_null(column, value) if column.null_count else column


def texts(column: pa.Array) -> pa.Array:
    """``values.text`` of every value: trimmed, and null when blank (empty or ``NULL``)."""
    if column.null_count == len(column):
        return column  # a column the export leaves empty: nothing to trim or blank out
    return _unblanked(trim(column))


def trim(column: pa.Array) -> pa.Array:
    """``str.strip`` of every value. Trimming copies every string, and export columns almost
    never have anything to trim, so a string column whose values all begin and end with a
    printable ASCII byte (``_untouched``) is returned as it is."""
    if column.type == STRING and _untouched(column):
        return column
    return pc.utf8_trim_whitespace(column)


def _untouched(column: pa.StringArray) -> bool:
    """Whether no value of ``column`` can begin or end with whitespace, judged from two bytes
    per value read in place from its buffers: ASCII whitespace is at most a space (0x20), and
    every other whitespace character is encoded with bytes of 0x80 and up, so a value whose
    first and last bytes are within 0x21..0x7F keeps its ends. Empty and null values may show
    a neighbour's byte, which can only make the answer a cautious no. Most export columns (ids,
    codes, timestamps) hold no such byte anywhere, which one pass over the bytes shows at a
    fifth of the cost of gathering the ends."""
    _, offsets, data = column.buffers()
    count = len(column)
    if data is None or data.size == 0 or count == 0:
        return True  # every value is empty or null: nothing to trim
    octets = pa.Array.from_buffers(pa.uint8(), data.size, [None, data])
    if _printable(octets):
        return True
    bounds = pa.Array.from_buffers(pa.int32(), count + 1, [None, offsets], offset=column.offset)
    # Int32 scalars: a Python int would widen every offset to int64 first.
    firsts = bounds.slice(0, count)
    lasts = pc.subtract(bounds.slice(1), pa.scalar(1, pa.int32()))
    # Offsets never decrease, so only empty values at the end can start past the data and only
    # empty values at the beginning can end before it: the bounds are clamped only then.
    if bounds[count - 1].as_py() >= data.size:
        firsts = pc.min_element_wise(firsts, pa.scalar(data.size - 1, pa.int32()))
    if bounds[1].as_py() < 1:
        lasts = pc.max_element_wise(lasts, pa.scalar(0, pa.int32()))
    return _printable(pc.take(octets, firsts)) and _printable(pc.take(octets, lasts))


def _printable(octets: pa.Array) -> bool:
    """Whether every byte is within 0x21..0x7F: no whitespace, nothing beyond ASCII."""
    edges = pc.min_max(octets)
    return bool(edges["min"].as_py() >= 0x21 and edges["max"].as_py() <= 0x7F)


def _unblanked(trimmed: pa.Array) -> pa.Array:
    """``trimmed`` with its blank values (empty, or ``NULL``) made null.

    Judged from the values' lengths first, which the offsets give without reading a string:
    most columns have no empty value and no value of four characters, or lengths that rule
    out one of the two, and then no string is compared at all."""
    lengths = pc.binary_length(trimmed)
    bounds = pc.min_max(lengths)
    shortest, longest = bounds["min"].as_py(), bounds["max"].as_py()
    if shortest is None:
        return trimmed  # every value is null
    blank: pa.Array | None = None
    if shortest == 0:
        blank = pc.equal(lengths, 0)
    if shortest <= len(_SPELLED_NULL) <= longest:
        spelled = pc.equal(trimmed, _SPELLED_NULL)
        if has(spelled):
            blank = spelled if blank is None else pc.or_(blank, spelled)
    return trimmed if blank is None else unless(blank, trimmed)


def numbers(column: pa.Array) -> pa.Array:
    """``values.number`` of every value. Arrow's cast accepts a subset of what ``float`` does
    (no spaces, no thousands separators, no ``NULL``) and rounds the same (both are correctly
    rounded), so the plain column is cast first; only a column it refuses is trimmed and
    cleaned, and what is still refused, or is not finite, is ``Unsure``."""
    if column.null_count == len(column):
        return nulls(len(column), DECIMAL)
    try:
        result = pc.cast(column, DECIMAL)
    except pa.ArrowInvalid:
        result = _cleaned_numbers(column)
    if not pc.all(pc.is_finite(result)).as_py():
        raise Unsure
    return result


def _cleaned_numbers(column: pa.Array) -> pa.Array:
    spelled = _unblanked(trim(column))
    if has(pc.match_substring(spelled, ",")):
        spelled = pc.replace_substring(spelled, ",", "")
    try:
        return pc.cast(spelled, DECIMAL)
    except pa.ArrowInvalid:
        raise Unsure from None


def instants(column: pa.Array) -> pa.Array:
    """``values.instant`` of every value, parsed once per distinct spelling."""
    return per_value(column, v.instant, INSTANT)


def per_value(
    column: pa.Array,
    function: Callable[[Any], Any],
    kind: pa.DataType,
    *,
    of_null: bool = False,
) -> pa.Array:
    """``function`` of every non-null value, called once per distinct value; null stays null,
    unless ``of_null``: then null is one more value, passed as ``None`` (cheaper than filling
    the nulls of the result afterwards, which copies it). A ``ValueError`` from ``function``
    makes the batch ``Unsure``."""
    if column.null_count == len(column) and not of_null:
        return nulls(len(column), kind)
    if _same(column):
        value = column[0].as_py()
        try:
            result = function(value)
        except ValueError:
            raise Unsure from None
        if result == value and column.type == kind:
            return column
        return pa.repeat(pa.scalar(result, kind), len(column))
    encoded = pc.dictionary_encode(column, null_encoding="encode" if of_null else "mask")
    given = encoded.dictionary.to_pylist()
    try:
        mapped = [function(value) for value in given]
    except ValueError:
        raise Unsure from None
    if mapped == given and column.type == kind:
        return column  # every value maps to itself (values already canonical, say)
    return pc.take(pa.array(mapped, kind), encoded.indices)


def _same(column: pa.Array) -> bool:
    """Whether every value of ``column`` is one and the same, none null: a batch's billing
    period or currency usually is, and one comparison with the first value costs a fraction of
    hashing every value."""
    if column.null_count or not len(column) or not column[0].equals(column[-1]):
        return False
    return bool(pc.equal(column, column[0]).true_count == len(column))


def per_combination(
    columns: Sequence[pa.Array], function: Callable[..., Any], kind: pa.DataType
) -> pa.Array:
    """``function(*values)`` of every row, called once per distinct combination of values in
    the order the combinations first appear (nulls are passed as ``None``). A ``ValueError``
    from ``function`` makes the batch ``Unsure``."""
    positions, combinations = distinct(columns)
    try:
        mapped = [function(*combination) for combination in combinations]
    except ValueError:
        raise Unsure from None
    last = columns[-1]
    if last.type == kind and mapped == [combination[-1] for combination in combinations]:
        return last  # the last value is kept in every row (a subcategory that fits, say)
    return pc.take(pa.array(mapped, kind), positions)


def distinct(columns: Sequence[pa.Array]) -> tuple[pa.Array, list[tuple[Any, ...]]]:
    """(for each row, the position of its combination of values in the list; the distinct
    combinations, in the order they first appear).

    Each column is dictionary-encoded (a null is one more value) and the codes are combined
    into one integer per row, made dense again after each further column so that it never
    overflows (the first column's codes are dense already); decoding the few distinct integers
    back into values is plain Python."""
    levels: list[tuple[list[Any], int]] = []  # (values, None among them if seen; width)
    dense: list[list[int]] = []  # after each column: the distinct combined codes, in order
    code: pa.Array | None = None
    for column in columns:
        encoded = pc.dictionary_encode(column, null_encoding="encode")
        values = encoded.dictionary.to_pylist()
        index = pc.cast(encoded.indices, pa.int64())
        if code is None:
            code, seen = index, list(range(len(values)))
        else:
            combined = pc.dictionary_encode(pc.add(pc.multiply(code, len(values)), index))
            code, seen = pc.cast(combined.indices, pa.int64()), combined.dictionary.to_pylist()
        levels.append((values, len(values)))
        dense.append(seen)
    if code is None:
        raise ValueError("distinct needs at least one column")
    combinations: list[tuple[Any, ...]] = []
    for found in range(len(dense[-1])):
        parts: list[Any] = []
        at = found
        for level in range(len(levels) - 1, -1, -1):
            values, width = levels[level]
            at, index = divmod(dense[level][at], width) if level else (0, dense[0][at])
            parts.append(values[index])
        combinations.append(tuple(reversed(parts)))
    return pc.cast(code, pa.int32()), combinations


def first_true(mask: pa.Array) -> int | None:
    """The position of the first true value, or None."""
    if not has(mask):
        return None
    return int(pc.index(pc.fill_null(mask, False), True).as_py())
