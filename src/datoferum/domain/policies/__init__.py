"""The policy language: YAML policies read, validated and matched, with no I/O of their own.

``load_policies`` turns a policy file into :class:`Policy` records or raises one
:class:`~datoferum.errors.PolicyError` naming every problem by file, line and field;
``Policy.matches`` judges a file from its :class:`FileFacts`. The language itself is described
in ``docs/policies.md``.
"""

from datoferum.domain.policies.actions import (
    Action,
    NotifyAction,
    PersonalAction,
    PurgeAction,
    RejectAction,
    RetentionAction,
    StoragePolicyAction,
    TagAction,
    TransitionAction,
    retention_deadline,
)
from datoferum.domain.policies.facts import FileFacts, SqlHints, parse_instant
from datoferum.domain.policies.filters import AllOf, Filter
from datoferum.domain.policies.loading import load_policies
from datoferum.domain.policies.model import MODES, Mode, Policy
from datoferum.domain.policies.reader import format_problem

__all__ = [
    "MODES",
    "Action",
    "AllOf",
    "FileFacts",
    "Filter",
    "Mode",
    "NotifyAction",
    "PersonalAction",
    "Policy",
    "PurgeAction",
    "RejectAction",
    "RetentionAction",
    "SqlHints",
    "StoragePolicyAction",
    "TagAction",
    "TransitionAction",
    "format_problem",
    "load_policies",
    "parse_instant",
    "retention_deadline",
]
