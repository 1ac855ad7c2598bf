"""What capture-mode policies decided about an arriving file."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from datoferum.domain.ids import isoformat
from datoferum.domain.records import Lifecycle
from datoferum.domain.retention import RetentionRule


@dataclass
class Classification:
    """What capture-mode policies decided for an arriving file."""

    tags: dict[str, str] = field(default_factory=dict)
    personal: set[str] = field(default_factory=set)
    storage_policy: str | None = None
    retention: RetentionRule | None = None
    rejected: str | None = None
    applied: list[str] = field(default_factory=list)  # name@version of each matching policy
    sniffed_type: str | None = None

    def lifecycle(self) -> Lifecycle:
        rule = self.retention
        return Lifecycle(
            self.sniffed_type, dict(self.tags), tuple(sorted(self.personal)), self.storage_policy,
            rule.until if rule else None, rule.mode if rule else None, rule.then if rule else None,
        )  # fmt: skip

    def version_columns(self) -> dict[str, Any]:
        """The catalog columns of the new version that carry these decisions."""
        rule = self.retention
        return {
            "sniffed_type": self.sniffed_type,
            "tags": json.dumps(self.tags, ensure_ascii=False),
            "personal_keys": json.dumps(sorted(self.personal)),
            "storage_policy": self.storage_policy,
            "retain_until": rule.until if rule else None,
            "retention_mode": rule.mode if rule else None,
            "expiry_action": rule.then if rule else None,
            "expiry_policy": rule.transition_to if rule else None,
            "retention_cause": rule.cause[:255] if rule else None,
        }

    def as_details(self) -> dict[str, Any]:
        details: dict[str, Any] = {"policies": self.applied}
        if self.tags:
            details["tags"] = self.tags
        if self.personal:
            details["personal"] = sorted(self.personal)
        if self.storage_policy:
            details["storage_policy"] = self.storage_policy
        if self.retention:
            details["retention"] = {
                "until": isoformat(self.retention.until), "mode": self.retention.mode,
                "then": self.retention.then,
            }  # fmt: skip
            if self.retention.transition_to:
                details["retention"]["transition_to"] = self.retention.transition_to
        return details
