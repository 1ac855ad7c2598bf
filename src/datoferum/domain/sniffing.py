"""The media type of a file, judged from its first bytes rather than taken on trust.

Policies filter on what a file is, not on what its uploader said it is, so a PDF uploaded as
``video/mp4`` is seen as a PDF. The judgement, in order:

1. A magic number from puremagic's signature table. Signatures of three bytes or fewer (``BM``,
   ``MZ``) also occur at the start of ordinary text, so they count only when the head is not
   text. A signature that several types share (``PK\\x03\\x04``: zip, docx, jar, ...) gives the
   generic type when there is one (``application/zip``) and nothing otherwise.
2. UTF-8 text: JSON when it parses as JSON, else the declared type when that is a text type (the
   bytes cannot tell Markdown from plain text), else CSV when the first lines split into the same
   number of fields, else ``text/plain``.
3. The declared type, unless it is a text type (binary bytes disprove it); then
   ``application/octet-stream``.

puremagic checks its 1,400 signatures one by one (about 250 µs a call); here they are indexed
once by offset and first byte, so a call costs a few microseconds.
"""

from __future__ import annotations

import json
import re

import puremagic

HEAD_BYTES = 8192
OCTET_STREAM = "application/octet-stream"

# Types puremagic lacks, written as puremagic writes its rows.
_EXTRA = ((0, b"PAR1", "application/vnd.apache.parquet"),)
_ALIASES = {"application/x-gzip": "application/gzip", "audio/wave": "audio/wav"}
# When one signature names several types, the container format if the bytes can only say that.
_GENERIC = frozenset(
    {
        "application/zip",
        "application/pdf",
        "application/xml",
        "application/gzip",
        "application/ogg",
        "application/postscript",
        "application/x-archive",
        "application/x-rar-compressed",
        "application/zstd",
        "application/x-lz4",
        "video/mpeg",
        "video/webm",
        "image/x-icon",
    }
)
_WEAK = 3  # signatures this short are easily text by chance
_TEXT_TYPES = ("application/json", "application/xml", "application/yaml", "application/sql")
# Bytes that may appear in text: all but the C0 controls other than tab, line breaks, form feed
# and escape (coloured logs), and DEL. Deleting them with bytes.translate leaves only the
# controls, ten times faster than a regular expression searching for those.
_TEXT_BYTES = bytes(sorted(set(range(256)) - set(range(0x20)) - {0x7F} | {9, 10, 12, 13, 27}))
_QUOTED = re.compile(r'"(?:[^"]|"")*"')
_JSON_START = re.compile(r'\{\s*["}]|\[\s*(?:[\[\]{"\-\d]|true|false|null)')
_MEDIA_TYPE = re.compile(r"[a-z0-9][a-z0-9!#$&^_.+-]*/[a-z0-9][a-z0-9!#$&^_.+-]*")

Signatures = dict[int, dict[int, list[tuple[bytes, str]]]]  # offset -> first byte -> rows


def _one_type(types: list[str]) -> str | None:
    distinct = list(dict.fromkeys(_ALIASES.get(name, name) for name in types))
    if len(distinct) == 1:
        return distinct[0]
    generic = [name for name in distinct if name in _GENERIC]
    return generic[0] if len(generic) == 1 else None


def _index(rows: list[tuple[int, bytes, str]]) -> Signatures:
    grouped: dict[tuple[int, bytes], list[str]] = {}
    for offset, signature, media_type in rows:
        if media_type and offset >= 0 and signature and media_type != "application/json":
            grouped.setdefault((offset, signature), []).append(media_type)
    index: Signatures = {}
    for (offset, signature), types in grouped.items():
        chosen = _one_type(types)
        if chosen is not None:
            index.setdefault(offset, {}).setdefault(signature[0], []).append((signature, chosen))
    for by_byte in index.values():
        for candidates in by_byte.values():
            candidates.sort(key=lambda row: len(row[0]), reverse=True)
    return index


def _rows(entries: list[puremagic.PureMagic]) -> list[tuple[int, bytes, str]]:
    return [(row.offset, row.byte_match, row.mime_type) for row in entries]


# JSON is left to the text checks below: puremagic takes any '{' for JSON.
_HEADERS = _index([*_rows(puremagic.magic_header_array), *_EXTRA])
_SECOND_PARTS = {first: _index(_rows(rows)) for first, rows in puremagic.multi_part_dict.items()}


def _by_magic(head: bytes) -> tuple[str, int] | None:
    """The type of the longest signature found, and how many bytes it spans."""
    best: tuple[str, int] | None = None
    size = len(head)
    for offset, by_byte in _HEADERS.items():
        if offset >= size:
            continue
        for signature, media_type in by_byte.get(head[offset], ()):
            if not head.startswith(signature, offset):
                continue
            found = (media_type, len(signature))
            for part_offset, part_by_byte in _SECOND_PARTS.get(signature, {}).items():
                if part_offset >= size:
                    continue
                for part, part_type in part_by_byte.get(head[part_offset], ()):
                    spans = part_offset + len(part) - offset
                    if spans > found[1] and head.startswith(part, part_offset):
                        found = (part_type, spans)
            if best is None or found[1] > best[1]:
                best = found
    return best


def _decoded(head: bytes, complete: bool) -> str | None:
    """``head`` as text if it is UTF-8 without control characters, else ``None``."""
    data = head.removeprefix(b"\xef\xbb\xbf")
    if data.translate(None, _TEXT_BYTES):
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        # A head cut inside a multi-byte character is still text.
        if complete or exc.end != len(data) or exc.reason != "unexpected end of data":
            return None
        return data[: exc.start].decode("utf-8")


def _is_json(text: str, complete: bool) -> bool:
    start = text.lstrip()[:1]
    if start not in ("{", "["):
        return False
    if not complete:
        return _JSON_START.match(text.lstrip()) is not None
    try:
        json.loads(text)
    except ValueError:
        return False
    return True


def _is_csv(text: str, complete: bool) -> bool:
    """The first lines (up to eight) split on ',' or ';' into the same number of fields."""
    parts = text.split("\n", 8)
    if not complete or len(parts) > 8:
        parts = parts[:-1]  # the last part may be cut short
    lines = [_QUOTED.sub("", line) for line in parts if line.strip()]
    if len(lines) < 2:
        return False
    for delimiter in (",", ";"):
        counts = {line.count(delimiter) for line in lines}
        if len(counts) == 1 and counts.pop() > 0:
            return True
    return False


def _clean(declared: str | None) -> str | None:
    """The declared type without parameters, if it is a well-formed media type."""
    if not declared:
        return None
    media_type = declared.split(";", 1)[0].strip().lower()
    return media_type if _MEDIA_TYPE.fullmatch(media_type) else None


def _is_text_type(media_type: str) -> bool:
    return (
        media_type.startswith("text/")
        or media_type in _TEXT_TYPES
        or media_type.endswith(("+json", "+xml", "+yaml"))
    )


def sniff(head: bytes, declared: str | None) -> str:
    """The media type of a file from its first bytes (up to ``HEAD_BYTES``; a shorter head is
    taken to be the whole file) and the type its uploader declared, which may be ``None``."""
    head = head[:HEAD_BYTES]
    declared = _clean(declared)
    if not head:
        return declared or OCTET_STREAM
    complete = len(head) < HEAD_BYTES
    magic = _by_magic(head)
    if magic is not None and magic[1] > _WEAK:
        return magic[0]
    text = _decoded(head, complete)
    if text is None:
        if magic is not None:
            return magic[0]
        # Binary bytes contradict a declared text type; any other declared type may be right.
        return declared if declared is not None and not _is_text_type(declared) else OCTET_STREAM
    if _is_json(text, complete):
        return "application/json"
    if declared is not None and _is_text_type(declared) and declared != "text/plain":
        return declared
    return "text/csv" if _is_csv(text, complete) else "text/plain"
