"""Rules for collection names and file paths.

Paths arrive from URLs and end up in catalogs, search indexes, exports and, on gateway backends,
in real file systems. They are therefore checked strictly once, at capture, so nothing downstream
has to defend against traversal or invisible characters again.
"""

from __future__ import annotations

import re
import unicodedata

from datoferum.errors import InvalidName

COLLECTION_PATTERN = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")
MAX_PATH_BYTES = 1024
MAX_SEGMENT_BYTES = 255


def check_collection(name: str) -> str:
    """Return ``name`` if it is a valid collection name, else raise :class:`InvalidName`."""
    if not COLLECTION_PATTERN.fullmatch(name):
        raise InvalidName(
            f"invalid collection name {name!r}: use 1-63 characters of lowercase letters, digits, "
            "'.', '_' or '-', starting with a letter or digit"
        )
    return name


def check_path(path: str) -> str:
    """Return ``path`` if it is a safe relative file path, else raise :class:`InvalidName`."""
    if not path:
        raise InvalidName("the file path is empty: add it after the collection, e.g. /videos/a.mp4")
    if len(path.encode("utf-8", "surrogatepass")) > MAX_PATH_BYTES:
        raise InvalidName(f"the file path is longer than {MAX_PATH_BYTES} bytes")
    if path.startswith("/"):
        raise InvalidName(
            "absolute paths are not allowed: give the path relative to the collection"
        )
    if "\\" in path:
        raise InvalidName("backslashes are not allowed in paths: separate folders with '/'")
    for char in path:
        if unicodedata.category(char) in ("Cc", "Cf", "Cs", "Zl", "Zp"):
            raise InvalidName(
                f"the path contains the control or invisible character U+{ord(char):04X}, "
                "which is not allowed"
            )
    for segment in path.split("/"):
        if segment in ("", ".", ".."):
            shown = segment or "an empty segment ('//' or a trailing '/')"
            raise InvalidName(
                f"the path contains {shown!s}: each folder and the file name must be a real name"
            )
        if len(segment.encode("utf-8")) > MAX_SEGMENT_BYTES:
            raise InvalidName(f"a path segment is longer than {MAX_SEGMENT_BYTES} bytes")
    return path


def split_location(location: str) -> tuple[str, str]:
    """Split ``collection/path`` (the form the CLI accepts) and check both parts."""
    collection, sep, path = location.partition("/")
    if not sep:
        raise InvalidName(f"{location!r} has no path: write it as COLLECTION/PATH")
    return check_collection(collection), check_path(path)
