"""Actions: what a policy does to the files it selects, as typed immutable records.

The records only say what to do; services carry it out (tagging, retention, purges, ...).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, ClassVar

from datoferum.domain.policies.facts import FileFacts, parse_instant
from datoferum.domain.policies.filters import duration_data


class Action(ABC):
    kind: ClassVar[str]

    @abstractmethod
    def body(self) -> Any:
        """The action as the language writes it, without its key."""

    def data(self) -> dict[str, Any]:
        return {self.kind: self.body()}


@dataclass(frozen=True)
class TagAction(Action):
    """Set these tags on the file (sorted by key, so equal actions compare equal)."""

    kind: ClassVar[str] = "tag"
    tags: tuple[tuple[str, str], ...]

    def body(self) -> Any:
        return dict(self.tags)


RETENTION_BASES = ("capture", "metadata", "signal")
RETENTION_MODES = ("compliance", "governance")
RETENTION_THEN = ("purge", "transition", "notify")


@dataclass(frozen=True)
class RetentionAction(Action):
    """Keep the file for ``period`` counted from ``basis`` (the capture, the date in metadata
    ``basis_name``, or the newest ``basis_name`` signal), then do ``then``. Compliance retention
    can only be extended; governance retention an admin may shorten."""

    kind: ClassVar[str] = "retention"
    period: timedelta
    basis: str
    basis_name: str | None
    mode: str
    then: str

    @property
    def counted_from(self) -> str:
        """The basis as written after ``from:``."""
        return self.basis if self.basis_name is None else f"{self.basis}:{self.basis_name}"

    def body(self) -> Any:
        return {
            **duration_data(self.period),
            "from": self.counted_from,
            "mode": self.mode,
            "then": self.then,
        }


@dataclass(frozen=True)
class StoragePolicyAction(Action):
    kind: ClassVar[str] = "storage-policy"
    name: str

    def body(self) -> Any:
        return self.name


@dataclass(frozen=True)
class PersonalAction(Action):
    """These metadata keys hold personal data: a purge erases their values too."""

    kind: ClassVar[str] = "personal"
    keys: tuple[str, ...]

    def body(self) -> Any:
        return list(self.keys)


@dataclass(frozen=True)
class RejectAction(Action):
    """Refuse the upload (capture mode only) with this message for the producer."""

    kind: ClassVar[str] = "reject"
    message: str

    def body(self) -> Any:
        return self.message


@dataclass(frozen=True)
class PurgeAction(Action):
    kind: ClassVar[str] = "purge"

    def body(self) -> Any:
        return {}


@dataclass(frozen=True)
class NotifyAction(Action):
    kind: ClassVar[str] = "notify"
    message: str | None = None

    def body(self) -> Any:
        return {} if self.message is None else {"message": self.message}


@dataclass(frozen=True)
class TransitionAction(Action):
    """Move the file's bytes to another storage policy (tier)."""

    kind: ClassVar[str] = "transition"
    to: str

    def body(self) -> Any:
        return {"to": self.to}


def retention_deadline(action: RetentionAction, facts: FileFacts) -> datetime | None:
    """When ``action``'s retention ends for this file, or ``None`` while its basis is missing
    (the signal has not come, the metadata value is absent or not a date). A deadline past the
    calendar's end is ``datetime.max``: never."""
    start: datetime | None
    if action.basis == "capture":
        start = facts.captured_at
    elif action.basis == "metadata":
        given = facts.metadata.get(action.basis_name or "")
        start = None if given is None else parse_instant(given)
    else:
        start = facts.signals.get(action.basis_name or "")
    if start is None:
        return None
    try:
        return start + action.period
    except OverflowError:
        return datetime.max
