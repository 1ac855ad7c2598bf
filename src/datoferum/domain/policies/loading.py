"""``load_policies``: policy YAML in, validated policies out, or every problem with its line."""

from __future__ import annotations

import re
from datetime import datetime

from cronsim import CronSim, CronSimError

from datoferum.domain.policies.action_syntax import MAX_TEXT, read_action
from datoferum.domain.policies.actions import Action, RetentionAction
from datoferum.domain.policies.filter_syntax import NAME, NAME_RULE, read_filters
from datoferum.domain.policies.model import MODES, RESOURCES, Mode, Policy
from datoferum.domain.policies.nodes import Node, UnreadableYaml, compose
from datoferum.domain.policies.reader import Reader, fits, join

POLICY_NAME = re.compile(r"[a-z0-9][a-z0-9-]{0,127}")
POLICY_NAME_RULE = "a policy name (up to 128 lowercase letters, digits or '-')"


def load_policies(text: str, source: str = "<text>") -> list[Policy]:
    """Parse and validate a policy file. ``source`` names it in problems (a path, a URL).

    Raises :class:`~datoferum.errors.PolicyError` listing every problem found.
    """
    reader = Reader(source)
    try:
        root = compose(text)
    except UnreadableYaml as exc:
        reader.report(exc.line, "", exc.message)
        raise reader.error() from None
    if root is None:
        reader.report(1, "", "the file is empty; a policy file starts with 'policies:'")
        raise reader.error()
    top = reader.mapping(root, "", required=("policies",), what="a mapping with a 'policies' list")
    items = None
    if top is not None and "policies" in top:
        items = reader.items(top["policies"], "policies", "a list of policies")
    policies: list[Policy] = []
    first_use: dict[str, int] = {}
    for index, node in enumerate(items or ()):
        policy = _read_policy(reader, node, f"policies[{index}]", first_use)
        if policy is not None:
            policies.append(policy)
    if reader.problems:
        raise reader.error()
    return policies


def _read_policy(
    reader: Reader, node: Node, field: str, first_use: dict[str, int]
) -> Policy | None:
    keys = reader.mapping(
        node,
        field,
        required=("name", "resource", "mode", "filters", "actions"),
        optional=("description",),
        what="a policy (a mapping with name, resource, mode, filters, actions)",
    )
    if keys is None:
        return None
    name = description = resource = mode = mode_type = filters = actions = None
    if "name" in keys:
        name_node = keys["name"]
        check = fits(POLICY_NAME, POLICY_NAME_RULE)
        name = reader.text(name_node, join(field, "name"), POLICY_NAME_RULE, check=check)
        if name is not None and name in first_use:
            reader.report(
                name_node.line,
                join(field, "name"),
                f"the policy name {name!r} is used twice (first on line {first_use[name]}); "
                "names must be unique",
            )
        elif name is not None:
            first_use[name] = name_node.line
    if "description" in keys:
        description = reader.text(
            keys["description"], join(field, "description"), check=_description
        )
    if "resource" in keys:
        resource = reader.choice(keys["resource"], join(field, "resource"), RESOURCES, "resource")
    if "mode" in keys:
        mode_type, mode = _read_mode(reader, keys["mode"], join(field, "mode"))
    if "filters" in keys:
        filters = read_filters(reader, keys["filters"], join(field, "filters"))
    if "actions" in keys:
        actions = _read_actions(reader, keys["actions"], join(field, "actions"), mode_type)
    if name is None or resource is None or mode is None or filters is None or actions is None:
        return None
    if "description" in keys and description is None:
        return None
    return Policy(name, description, resource, mode, filters, actions, reader.source)


def _description(value: str) -> str | None:
    return (
        f"the description is longer than {MAX_TEXT} characters" if len(value) > MAX_TEXT else None
    )


def _read_mode(reader: Reader, node: Node, field: str) -> tuple[str | None, Mode | None]:
    """The mode, and its type alone (known even when its settings are wrong)."""
    keys = reader.mapping(
        node,
        field,
        required=("type",),
        optional=("schedule", "signal"),
        what="a mapping such as {type: capture}",
    )
    if keys is None or "type" not in keys:
        return None, None
    kind = reader.choice(keys["type"], join(field, "type"), MODES, "mode")
    if kind is None:
        return None, None
    settings: dict[str, str | None] = {"schedule": None, "signal": None}
    valid = True
    for setting, owner, check in (
        ("schedule", "periodic", _cron_problem),
        ("signal", "signal", fits(NAME, NAME_RULE)),
    ):
        if setting in keys and kind != owner:
            reader.report(
                keys[setting].line,
                join(field, setting),
                f"{setting!r} only applies to mode {owner}; this mode is {kind}",
            )
            valid = False
        elif setting in keys:
            settings[setting] = reader.text(keys[setting], join(field, setting), check=check)
            valid = valid and settings[setting] is not None
        elif kind == owner:
            example = "'0 3 * * *'" if setting == "schedule" else "consumed"
            reader.report(
                node.line, field, f"mode {owner} needs {setting!r}, such as {setting}: {example}"
            )
            valid = False
    return kind, Mode(kind, settings["schedule"], settings["signal"]) if valid else None


def _cron_problem(cron: str) -> str | None:
    fields = cron.split()
    if len(fields) != 5:
        return (
            f"cron {cron!r} has {len(fields)} fields; use five (minute hour day-of-month month "
            "day-of-week), such as '0 3 * * *'"
        )
    try:
        next(CronSim(cron, datetime(2000, 1, 1)))
    except (CronSimError, StopIteration) as exc:
        return f"cron {cron!r} is invalid: {exc}; use five fields, such as '0 3 * * *'"
    return None


def _read_actions(
    reader: Reader, node: Node, field: str, mode: str | None
) -> tuple[Action, ...] | None:
    """The actions, checked against each other and against the mode they run in."""
    items = reader.items(node, field, "a list of actions")
    if items is None:
        return None
    if not items:
        reader.report(node.line, field, "the list is empty; a policy needs at least one action")
        return None
    actions: list[Action] = []
    seen: dict[str, tuple[int, str]] = {}  # kind -> where it is: line, field
    valid = True
    for index, item in enumerate(items):
        where = f"{field}[{index}]"
        kind, action = read_action(reader, item, where)
        valid = valid and action is not None
        if not kind:
            continue
        if kind in seen:
            again = f"{kind!r} is given twice (also on line {seen[kind][0]}); merge them"
            reader.report(item.line, where, again)
            valid = False
            continue
        seen[kind] = (item.line, where)
        problem = _mode_problem(kind, mode)
        if problem:
            reader.report(item.line, where, problem)
            valid = False
        if action is not None:
            actions.append(action)
    if not valid:
        return None
    return _combined(reader, actions, seen)


def _mode_problem(kind: str, mode: str | None) -> str | None:
    if kind == "reject" and mode not in (None, "capture"):
        return f"'reject' is only allowed in mode capture; this policy's mode is {mode}"
    if kind == "purge" and mode == "capture":
        return (
            "'purge' is not allowed in mode capture: nothing is stored yet; "
            "use 'reject' to refuse the file"
        )
    return None


def _combined(
    reader: Reader, actions: list[Action], where: dict[str, tuple[int, str]]
) -> tuple[Action, ...] | None:
    """The actions, unless some cannot go together."""
    valid = True
    if "reject" in where:
        for action in actions:
            if action.kind not in ("reject", "notify"):
                line, field = where[action.kind]
                message = "'reject' refuses the file, so only 'notify' can go with it; remove it"
                reader.report(line, field, message)
                valid = False
    retention = next((a for a in actions if isinstance(a, RetentionAction)), None)
    if retention is not None and retention.then == "transition" and "transition" not in where:
        line, field = where["retention"]
        reader.report(
            line,
            join(field, "retention.then"),
            "'then: transition' needs a 'transition' action in this policy to say where to, "
            "such as {transition: {to: archive}}",
        )
        valid = False
    return tuple(actions) if valid else None
