"""Every source the lake reads, in the order they are asked whether they recognise a file.

The one place to add a kind of input: the normalization job and the capture watcher dispatch
over :data:`SOURCES` and know nothing of any particular source.
"""

from __future__ import annotations

from collections.abc import Sequence

from datoferum.services.lake import billing
from datoferum.services.lake.sources import LakeSource
from datoferum.services.telemetry import sources as telemetry

SOURCES: tuple[LakeSource, ...] = (*billing.SOURCES, *telemetry.SOURCES)


def recognise(
    head: bytes, path: str, content_type: str, sources: Sequence[LakeSource] = SOURCES
) -> LakeSource | None:
    """The first source that recognises the file, or None."""
    for source in sources:
        if source.recognises(head, path, content_type):
            return source
    return None


def named(name: str, sources: Sequence[LakeSource] = SOURCES) -> LakeSource | None:
    """The source called ``name``, or None."""
    return next((source for source in sources if source.name == name), None)
