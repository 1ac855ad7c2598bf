"""JSON records streamed from bytes: JSON Lines, concatenated (even pretty-printed) documents, or
one top-level array, never holding more than the record being decoded.

Billing exports (``services/focus/reading.py``) and telemetry files (``services/telemetry/``)
both arrive in these shapes; each caller turns a problem into its own error type, naming its
file, through ``fail``.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Callable, Iterable, Iterator
from typing import Any

#: The largest single JSON record accepted; a bigger one is a broken file, not a record.
MAX_RECORD_BYTES = 16 << 20

Fail = Callable[[str], Exception]


def records(
    chunks: Iterable[bytes], fail: Fail, *, max_record_bytes: int = MAX_RECORD_BYTES
) -> Iterator[tuple[int, Any]]:
    """(record number from 1, decoded record) for each record of the byte ``chunks``.

    ``fail(message)`` builds the exception raised for malformed, truncated or non-UTF-8 input;
    the message names the record.
    """
    decoder = json.JSONDecoder()
    utf8 = codecs.getincrementaldecoder("utf-8-sig")()
    source = iter(chunks)
    buffer = ""
    number = 0
    in_array: bool | None = None
    done = False
    while True:
        position = 0
        while True:
            while position < len(buffer) and buffer[position] in " \t\r\n,":
                position += 1
            if in_array is None and position < len(buffer):
                in_array = buffer[position] == "["
                if in_array:
                    position += 1
                    continue
            if position < len(buffer) and buffer[position] == "]" and in_array:
                return
            if position >= len(buffer):
                break
            try:
                record, end = decoder.raw_decode(buffer, position)
            except json.JSONDecodeError as error:
                if not done and len(buffer) - position < max_record_bytes:
                    break  # possibly an incomplete record: read more
                if done and error.pos >= len(buffer.rstrip()):
                    raise fail(f"record {number + 1}: truncated JSON") from None
                raise fail(f"record {number + 1}: malformed JSON: {error.msg}") from None
            except RecursionError:
                raise fail(f"record {number + 1}: JSON nested too deeply") from None
            number += 1
            yield number, record
            position = end
        buffer = buffer[position:]
        if done:
            if buffer.strip() or in_array:
                raise fail(f"record {number + 1}: truncated JSON")
            return
        chunk = next(source, b"")
        try:
            buffer += utf8.decode(chunk, final=not chunk)
        except UnicodeDecodeError:
            raise fail(f"record {number + 1}: not UTF-8 text") from None
        done = not chunk
