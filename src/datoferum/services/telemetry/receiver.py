"""The OTLP receiver's domain side: an export request, once decoded, becomes a captured file.

Each accepted request is one file in the telemetry collection
(``otlp/<signal>/YYYY/MM/DD/<id>.binpb|json``), captured through the same service as any upload,
so it is catalogued, classified, placed, retained and purged like every other file and has its
events. The payload is kept as it arrived (uncompressed): protobuf stays protobuf, OTLP/JSON stays
JSON. Nothing is stored unless the whole request decodes, and the caller answers only after the
capture has committed.
"""

from __future__ import annotations

from dataclasses import dataclass

from datoferum.domain.ids import new_id, utcnow
from datoferum.domain.records import FileRecord
from datoferum.domain.roles import Principal
from datoferum.services.capture import CaptureRequest, CaptureService
from datoferum.services.telemetry.payloads import EXTENSIONS, Encoding, Signal


@dataclass(frozen=True, slots=True)
class Accepted:
    """What became of one export request: how many items it held, and its file (``None`` for a
    request with no items, which there is nothing to keep of)."""

    items: int
    record: FileRecord | None


class TelemetryReceiver:
    def __init__(self, capture: CaptureService, collection: str) -> None:
        self.capture = capture
        self.collection = collection

    def path_for(self, signal: Signal, encoding: Encoding) -> str:
        """Where a new payload goes: by signal and UTC day of arrival, under a fresh id."""
        return f"otlp/{signal.name}/{utcnow():%Y/%m/%d}/{new_id()}.{EXTENSIONS[encoding]}"

    def accept(
        self,
        signal: Signal,
        encoding: Encoding,
        body: bytes,
        actor: Principal,
        correlation_id: str = "",
    ) -> Accepted:
        """Decode ``body`` (``TelemetryError`` if it does not decode) and capture it. Blocking:
        call it from a worker thread."""
        items = signal.count(signal.decode(body, encoding))
        if items == 0:
            return Accepted(0, None)
        request = CaptureRequest(
            collection=self.collection,
            path=self.path_for(signal, encoding),
            actor=actor,
            content_type=signal.media_type(encoding),
            metadata={"otlp.signal": signal.name, "otlp.items": str(items)},
            declared_length=len(body),
            correlation_id=correlation_id,
        )
        return Accepted(items, self.capture.start(request).finish(body))
