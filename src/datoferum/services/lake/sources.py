"""What the lake needs from anything that turns captured files into lake rows.

A source recognises its files from their first bytes and reads them into bounded Arrow batches,
each tagged with the Hive partition it belongs to. Billing exports (``billing.py``) are sources;
so is anything else that lands in the lake. The normalization job knows only this Protocol and
the registry (``registry.py``), so adding a kind of input is adding a source there.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Protocol

import pyarrow as pa

#: How much of a file ``recognises`` is shown.
HEAD_BYTES = 64 * 1024
#: The most rows a source may put in one batch: keeps the memory of a normalization bounded.
MAX_BATCH_ROWS = 65_536


class LakeSource(Protocol):
    """Recognises one kind of input and reads it as partitioned rows of one lake dataset."""

    #: Recorded in lineage events, e.g. ``aws-cur``, ``otlp-traces``.
    name: str
    #: The lake dataset the rows belong to, e.g. ``focus``, ``otel_spans``.
    dataset: str

    def recognises(self, head: bytes, path: str, content_type: str) -> bool:
        """Whether this source reads the file. ``head``: its first :data:`HEAD_BYTES`;
        ``path``: its catalog path; ``content_type``: as declared at capture."""
        ...

    def read(self, source: Path) -> Iterator[tuple[Mapping[str, str], pa.RecordBatch]]:
        """The file's rows, in batches of at most :data:`MAX_BATCH_ROWS`, each with the Hive
        partition keys of its rows. Raises a :mod:`datoferum.errors` error whose detail a
        person can act on when the input is bad."""
        ...
