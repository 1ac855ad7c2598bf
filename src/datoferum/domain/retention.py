"""A retention rule: keep a version until a time, in a mode, then do something."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from datoferum.errors import InvalidInput

MODES = ("compliance", "governance")
EXPIRY_ACTIONS = ("purge", "transition", "notify")


@dataclass(frozen=True)
class RetentionRule:
    until: datetime
    mode: str = "governance"
    then: str | None = None  # purge | transition | notify | None (keep, do nothing)
    cause: str = ""  # what set it, e.g. "policy:raw-video@3"
    #: With ``then: transition``, the storage policy the version moves to.
    transition_to: str | None = None

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise InvalidInput(f"retention mode must be one of {', '.join(MODES)}")
        if self.then is not None and self.then not in EXPIRY_ACTIONS:
            raise InvalidInput(f"'then' must be one of {', '.join(EXPIRY_ACTIONS)}")
        if (self.then == "transition") != (self.transition_to is not None):
            raise InvalidInput(
                "a retention that ends in a transition names the storage policy to move to "
                "('to'), and only such a retention does"
            )
