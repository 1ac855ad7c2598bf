"""What every connector shares: the interface, and helpers for values FOCUS constrains.

A connector is small on purpose: it says which source columns it understands (``consumed``;
every other column is carried along as ``x_<name>``) and turns one source row into FOCUS values
(``map_row``). A connector for a large, flat format may also map a whole batch of CSV columns at
once (``map_batch``, see ``columnar``); its row mapping stays the reference the batch mapping
must agree with, and the path for batches it is unsure of. Types, checks, column order and
writing are the converter's job, the same for every source.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

import pyarrow as pa

from datoferum.domain.focus import SUBCATEGORIES
from datoferum.services.focus.columnar import Columns

Row = Mapping[str, Any]


class Connector(Protocol):
    """Turns the rows of one export format into FOCUS 1.2 values."""

    #: Short label of the format, shown in messages and docs (``aws-cur``, ``azure``, ...).
    source: str

    def consumed(self, header: list[str]) -> set[str]:
        """The source columns this connector interprets; the rest are kept as ``x_`` columns."""
        ...

    def map_row(self, row: Row) -> dict[str, Any]:
        """FOCUS column name → value (``str``, ``float``, ``datetime`` or ``None``; ``Tags``
        as a ``dict``). May raise ``ValueError`` for a value it cannot read."""
        ...


@runtime_checkable
class BatchConnector(Connector, Protocol):
    """A connector that also maps a whole CSV batch (every column a string array) at once."""

    def map_batch(self, batch: pa.RecordBatch) -> Columns:
        """FOCUS column name → array, the values ``map_row`` gives row by row (``Tags`` as JSON
        text). Raises ``columnar.Unsure`` when only the row path can tell."""
        ...


def subcategory_for(category: str, hint: str | None = None) -> str:
    """A ServiceSubcategory valid for ``category``: ``hint`` when it is one of the category's
    subcategories, else ``Other (<category>)``."""
    if hint is not None and SUBCATEGORIES.get(hint) == category:
        return hint
    return f"Other ({category})"


def key_value(tags: Mapping[str, Any]) -> dict[str, Any] | None:
    """Tags as FOCUS wants them (a flat JSON object), ``None`` when there are none."""
    result = {str(key): value for key, value in tags.items() if key}
    return result or None


def key_value_text(value: Any) -> str | None:
    """A key-value value (``Tags``), or a nested source value kept as an ``x_`` column, as the
    JSON text files store it; text is kept as it is."""
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, sort_keys=True, default=str)


def parse_tag_text(raw: str) -> dict[str, Any]:
    """Tags written as text: a JSON object, the brace-less ``"k": "v", ...`` some Azure exports
    use, or a BigQuery list of ``{"key": ..., "value": ...}``. ``ValueError`` for anything
    else."""
    stripped = raw.strip()
    if not stripped:
        return {}
    if not stripped.startswith(("{", "[")):
        stripped = "{" + stripped + "}"
    try:
        parsed = json.loads(stripped)
    except json.JSONDecodeError:
        raise ValueError(f"tags are not JSON: {raw[:40]!r}") from None
    return tags_from_value(parsed)


def tags_from_value(value: Any) -> dict[str, Any]:
    """Tags from a decoded JSON value (object, or list of key/value pairs)."""
    if isinstance(value, dict):
        return {str(key): item for key, item in value.items()}
    if isinstance(value, list):
        result: dict[str, Any] = {}
        for item in value:
            if isinstance(item, dict) and "key" in item:
                result[str(item["key"])] = item.get("value")
            else:
                raise ValueError("tags list items must be {key, value} objects")
        return result
    raise ValueError("tags must be a JSON object or a list of key/value pairs")
