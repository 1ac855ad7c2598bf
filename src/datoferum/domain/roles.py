"""Roles and what each may do (least privilege: a producer cannot read bytes back)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    ADMIN = "admin"
    PRODUCER = "producer"
    CONSUMER = "consumer"
    AUDITOR = "auditor"


class Permission(StrEnum):
    WRITE_DATA = "data:write"
    READ_DATA = "data:read"
    READ_CATALOG = "catalog:read"
    READ_EVENTS = "events:read"
    VERIFY_AUDIT = "audit:verify"
    MANAGE_TOKENS = "tokens:manage"
    READ_JOBS = "jobs:read"
    MANAGE_JOBS = "jobs:manage"
    READ_LIFECYCLE = "lifecycle:read"  # policies, holds, certificates, retention
    MANAGE_LIFECYCLE = "lifecycle:manage"  # policies, holds, purge, erasure
    SEND_SIGNALS = "signals:send"
    SHARE = "links:manage"
    MANAGE_WEBHOOKS = "webhooks:manage"
    MANAGE_STORAGE = "storage:manage"  # scrubs, dark-data reports
    QUERY_LAKE = "lake:query"  # cost queries, lake SQL, partitions and their lineage
    MANAGE_LAKE = "lake:manage"  # normalize files again, write the own storage cost now


GRANTS: dict[Role, frozenset[Permission]] = {
    Role.ADMIN: frozenset(Permission),
    Role.PRODUCER: frozenset(
        {Permission.WRITE_DATA, Permission.READ_CATALOG, Permission.SEND_SIGNALS}
    ),
    Role.CONSUMER: frozenset(
        {
            Permission.READ_DATA,
            Permission.READ_CATALOG,
            Permission.SEND_SIGNALS,
            Permission.SHARE,
            Permission.QUERY_LAKE,
        }
    ),
    Role.AUDITOR: frozenset(
        {
            Permission.READ_CATALOG,
            Permission.READ_EVENTS,
            Permission.VERIFY_AUDIT,
            Permission.READ_JOBS,
            Permission.READ_LIFECYCLE,
            Permission.QUERY_LAKE,
        }
    ),
}


@dataclass(frozen=True)
class Principal:
    """Who is acting. ``subject`` is what the event log records as the actor."""

    subject: str
    name: str
    role: Role

    def can(self, permission: Permission) -> bool:
        return permission in GRANTS[self.role]


#: The actor recorded for work the server does on its own (sweeps, start-up).
SYSTEM = Principal(subject="system", name="datoferum", role=Role.ADMIN)
