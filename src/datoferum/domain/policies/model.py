"""A policy: when it runs, which files it selects, and what it does to them."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property
from typing import Any, TypeVar

import yaml

from datoferum.domain.policies.actions import Action
from datoferum.domain.policies.facts import FileFacts, SqlHints
from datoferum.domain.policies.filters import AllOf, Matcher

MODES = ("capture", "periodic", "signal", "manual")
RESOURCES = ("file",)

_A = TypeVar("_A", bound=Action)


class _Flow(dict[str, Any]):
    """A mapping written inline: each filter and action then takes one line of YAML."""


class _FlowList(list[Any]):
    pass


class _Dumper(getattr(yaml, "CSafeDumper", yaml.SafeDumper)):  # type: ignore[misc]
    pass


_Dumper.add_representer(
    _Flow,
    lambda dumper, value: dumper.represent_mapping(
        yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, value, flow_style=True
    ),
)
_Dumper.add_representer(
    _FlowList,
    lambda dumper, value: dumper.represent_sequence(
        yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, value, flow_style=True
    ),
)


def _inline(value: Any) -> Any:
    if isinstance(value, dict):
        return _Flow({key: _inline(item) for key, item in value.items()})
    if isinstance(value, list):
        return _FlowList(_inline(item) for item in value)
    return value


@dataclass(frozen=True)
class Mode:
    """``capture``: judged as each file arrives; ``periodic``: on the cron ``schedule``;
    ``signal``: when a file receives ``signal``; ``manual``: only when someone runs it."""

    type: str
    schedule: str | None = None
    signal: str | None = None

    def data(self) -> dict[str, str]:
        data = {"type": self.type, "schedule": self.schedule, "signal": self.signal}
        return {key: value for key, value in data.items() if value is not None}


@dataclass(frozen=True)
class Policy:
    """One validated policy. Equal policies have equal ``document`` texts, so a store can tell
    a changed policy from one merely loaded again; ``source`` (where it was read) is not part of
    the policy and does not take part in comparisons."""

    name: str
    description: str | None
    resource: str
    mode: Mode
    filters: AllOf
    actions: tuple[Action, ...]
    source: str = field(default="<text>", compare=False)
    _matcher: Matcher = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_matcher", self.filters.matcher())

    def matches(self, facts: FileFacts, now: datetime) -> bool:
        """Whether every filter selects the file, ``now`` being a naive UTC time."""
        return self._matcher(facts, now)

    def sql_hints(self, now: datetime) -> SqlHints:
        """Bounds every matching file satisfies, for a catalog query to pre-filter with."""
        return self.filters.hints(now)

    def action(self, kind: type[_A]) -> _A | None:
        """This policy's action of type ``kind`` (each kind appears at most once)."""
        return next((action for action in self.actions if isinstance(action, kind)), None)

    def as_dict(self) -> dict[str, Any]:
        """The policy as the language writes it, in canonical form."""
        data: dict[str, Any] = {"name": self.name}
        if self.description is not None:
            data["description"] = self.description
        data["resource"] = self.resource
        data["mode"] = self.mode.data()
        data["filters"] = self.filters.body()
        data["actions"] = [action.data() for action in self.actions]
        return data

    @cached_property
    def document(self) -> str:
        """A policy file holding just this policy, in canonical YAML (what a store versions)."""
        data = self.as_dict()
        data["mode"] = _inline(data["mode"])
        for key in ("filters", "actions"):
            data[key] = [{kind: _inline(body) for kind, body in item.items()} for item in data[key]]
        text: str = yaml.dump(
            {"policies": [data]},
            Dumper=_Dumper,
            sort_keys=False,
            default_flow_style=False,
            allow_unicode=True,
            width=100,
        )
        return text

    def dump(self) -> str:
        """The canonical YAML of this policy; ``load_policies`` reads it back as an equal one."""
        return self.document
