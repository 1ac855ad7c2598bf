"""The project's own error tree.

Services raise these; interfaces translate them in one place (HTTP: ``interfaces/http/problems.py``,
CLI: one line on stderr). Each class carries a stable ``code`` that becomes the problem ``type``,
and says whether retrying can help (``transient``), so workers and clients know what to do.
"""

from __future__ import annotations

from typing import Any


class DatoferumError(Exception):
    """Base of every error the product reports to a person."""

    code = "error"
    title = "Error"
    transient = False

    def __init__(self, detail: str, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        self.extra = extra


class InvalidInput(DatoferumError):
    code = "invalid-input"
    title = "Invalid input"


class InvalidName(InvalidInput):
    code = "invalid-name"
    title = "Invalid collection or path"


class InvalidMetadata(InvalidInput):
    code = "invalid-metadata"
    title = "Invalid metadata"


class InvalidDigestHeader(InvalidInput):
    code = "invalid-digest-header"
    title = "Invalid digest header"


class DigestMismatch(DatoferumError):
    code = "digest-mismatch"
    title = "Content digest mismatch"


class PayloadTooLarge(DatoferumError):
    code = "payload-too-large"
    title = "Body too large"


class IncompleteBody(DatoferumError):
    code = "incomplete-body"
    title = "Body does not match its declared length"


class NotFound(DatoferumError):
    code = "not-found"
    title = "Not found"


class RangeNotSatisfiable(DatoferumError):
    code = "range-not-satisfiable"
    title = "Range not satisfiable"

    def __init__(self, detail: str, *, size: int) -> None:
        super().__init__(detail, size=size)
        self.size = size


class Unauthenticated(DatoferumError):
    code = "unauthenticated"
    title = "Authentication required"


class Forbidden(DatoferumError):
    code = "forbidden"
    title = "Not allowed"


class StorageUnavailable(DatoferumError):
    code = "storage-unavailable"
    title = "Storage unavailable"
    transient = True


class CatalogUnavailable(DatoferumError):
    code = "catalog-unavailable"
    title = "Catalog unavailable"
    transient = True
