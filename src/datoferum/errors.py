"""The project's own error tree.

Services raise these; interfaces translate them in one place (HTTP: ``interfaces/http/problems.py``,
CLI: one line on stderr). Each class carries a stable ``code`` that becomes the problem ``type``,
and says whether retrying can help (``transient``), so workers and clients know what to do.
"""

from __future__ import annotations

from typing import Any, TypedDict


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


class PolicyProblem(TypedDict):
    """One problem in a policy file, located for a person to fix (``FILE:LINE: field: message``).

    A plain mapping rather than a class so that it travels unchanged in problem+json.
    """

    source: str
    line: int
    field: str
    message: str


class PolicyError(InvalidInput):
    """A policy file that cannot be used; ``errors`` lists every problem found, not the first."""

    code = "invalid-policy"
    title = "Invalid policy"

    def __init__(self, detail: str, *, errors: list[PolicyProblem]) -> None:
        super().__init__(detail, errors=errors)
        self.errors = errors


class CertificateInvalid(InvalidInput):
    """A deletion certificate that does not verify. ``reason`` is stable, for programs:
    ``malformed``, ``unsupported`` (format or algorithm), ``key-mismatch`` or ``bad-signature``."""

    code = "certificate-invalid"
    title = "Invalid deletion certificate"

    def __init__(self, detail: str, *, reason: str) -> None:
        super().__init__(detail, reason=reason)
        self.reason = reason


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


class Gone(DatoferumError):
    """Something that existed and no longer serves: a used-up, expired or revoked link."""

    code = "gone"
    title = "Gone"


class RangeNotSatisfiable(DatoferumError):
    code = "range-not-satisfiable"
    title = "Range not satisfiable"

    def __init__(self, detail: str, *, size: int) -> None:
        super().__init__(detail, size=size)
        self.size = size


class RejectedByPolicy(DatoferumError):
    code = "rejected-by-policy"
    title = "Refused by a policy"


class Conflict(DatoferumError):
    code = "conflict"
    title = "Conflicts with the current state"


class Held(Conflict):
    """A legal hold forbids what was asked (purging, shortening retention)."""

    code = "held"
    title = "Under legal hold"


class Retained(Conflict):
    """Retention forbids what was asked before its time."""

    code = "retained"
    title = "Under retention"


class Unauthenticated(DatoferumError):
    code = "unauthenticated"
    title = "Authentication required"


class InvalidSignature(Unauthenticated):
    """A received webhook whose signature or timestamp does not check out."""

    code = "invalid-signature"
    title = "Invalid webhook signature"


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


class IdentityUnavailable(DatoferumError):
    """The OpenID Connect provider could not be asked for its signing keys."""

    code = "identity-provider-unavailable"
    title = "Identity provider unavailable"
    transient = True


class CatalogContention(CatalogUnavailable):
    """The database chose this transaction as a deadlock victim (or could not serialize it):
    running it again is the documented remedy on MariaDB and PostgreSQL alike."""


class BillingFileError(InvalidInput):
    """A billing or cost file that cannot be converted: unknown format, bad encoding, a broken
    row, a value that is not what its column says. ``detail`` names the file and, where it can,
    the row."""

    code = "invalid-billing-file"
    title = "Invalid billing file"


class TelemetryError(InvalidInput):
    """An OpenTelemetry payload or file that cannot be decoded: not protobuf or OTLP/JSON of
    the signal it was sent as, truncated, or holding a malformed id."""

    code = "invalid-telemetry"
    title = "Invalid telemetry"


class UnsupportedMediaType(DatoferumError):
    """A body in a content type or content encoding the endpoint does not read."""

    code = "unsupported-media-type"
    title = "Unsupported media type"
