"""Reading the ``actions:`` of a policy into action records, reporting every problem."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

from datoferum.domain.metadata import KEY_PATTERN
from datoferum.domain.policies.actions import (
    RETENTION_MODES,
    RETENTION_THEN,
    Action,
    NotifyAction,
    PersonalAction,
    PurgeAction,
    RejectAction,
    RetentionAction,
    StoragePolicyAction,
    TagAction,
    TransitionAction,
)
from datoferum.domain.policies.filter_syntax import KEY_RULE, MAX_DAYS, NAME, NAME_RULE
from datoferum.domain.policies.nodes import Mapping, Node
from datoferum.domain.policies.reader import Reader, fits, join

MAX_TEXT = 4096
RETENTION_UNITS = {"years": 365 * 24, "days": 24, "hours": 1}  # in hours

ActionReader = Callable[[Reader, Node, str], Action | None]


def read_action(reader: Reader, node: Node, field: str) -> tuple[str, Action | None]:
    """One ``{kind: body}`` item; the kind is '' when the item has no usable kind."""
    kind, body = reader.single_key(node, field, tuple(_READERS), "action")
    if not kind:
        return "", None
    return kind, _READERS[kind](reader, body, join(field, kind))


def _message(value: str) -> str | None:
    if not value.strip():
        return "the message is empty"
    if len(value) > MAX_TEXT:
        return f"the message is longer than {MAX_TEXT} characters"
    return None


def _tag(reader: Reader, body: Node, field: str) -> Action | None:
    if not isinstance(body, Mapping):
        reader.expected(body, field, "tags as a mapping such as {tier: raw}")
        return None
    if not body.pairs:
        reader.report(body.line, field, "give at least one tag, such as {tier: raw}")
        return None
    tags: dict[str, str] = {}
    valid = True
    for key_node, value_node in body.pairs:
        key = reader.text(key_node, field, "a tag key", check=fits(KEY_PATTERN, KEY_RULE))
        where = join(field, key or "?")
        value = reader.text(value_node, where, "a tag value as text", check=_tag_value)
        if key is not None and key in tags:
            reader.report(key_node.line, where, f"tag {key!r} is given twice")
            key = None
        if key is None or value is None:
            valid = False
        else:
            tags[key] = value
    return TagAction(tuple(sorted(tags.items()))) if valid else None


def _tag_value(value: str) -> str | None:
    if len(value) > 1024:
        return "tag values are limited to 1024 characters"
    if any(ord(char) < 0x20 or ord(char) == 0x7F for char in value):
        return "tag values cannot contain control characters"
    return None


def _retention(reader: Reader, body: Node, field: str) -> Action | None:
    keys = reader.mapping(
        body,
        field,
        required=("mode", "then"),
        optional=(*RETENTION_UNITS, "from"),
        what="a mapping such as {days: 30, mode: governance, then: purge}",
    )
    if keys is None:
        return None
    hours = 0
    valid = True
    for unit, per_unit in RETENTION_UNITS.items():
        if unit in keys:
            count = reader.integer(
                keys[unit], join(field, unit), minimum=0, maximum=MAX_DAYS * 24 // per_unit
            )
            valid = valid and count is not None
            hours += (count or 0) * per_unit
    if not any(unit in keys for unit in RETENTION_UNITS):
        reader.report(body.line, field, "give how long to keep the file: years, days or hours")
        valid = False
    if hours > MAX_DAYS * 24:
        reader.report(body.line, field, f"retention is limited to {MAX_DAYS} days")
        valid = False
    basis: tuple[str, str | None] | None = ("capture", None)
    if "from" in keys:
        basis = _basis(reader, keys["from"], join(field, "from"))
    mode = then = None
    if "mode" in keys:
        mode = reader.choice(keys["mode"], join(field, "mode"), RETENTION_MODES, "mode")
    if "then" in keys:
        then = reader.choice(keys["then"], join(field, "then"), RETENTION_THEN, "step")
    if not valid or basis is None or mode is None or then is None:
        return None
    return RetentionAction(timedelta(hours=hours), basis[0], basis[1], mode, then)


def _basis(reader: Reader, node: Node, field: str) -> tuple[str, str | None] | None:
    """``capture``, ``metadata:<key>`` or ``signal:<name>``."""
    value = reader.text(node, field, "capture, metadata:<key> or signal:<name>")
    if value is None:
        return None
    if value == "capture":
        return "capture", None
    kind, _, name = value.partition(":")
    if kind == "metadata" and KEY_PATTERN.fullmatch(name):
        return kind, name
    if kind == "signal" and NAME.fullmatch(name):
        return kind, name
    reader.report(
        node.line,
        field,
        f"{value!r} is not a retention start; use capture, metadata:<key> (a key holding an "
        "ISO date) or signal:<name>",
    )
    return None


def _storage_policy(reader: Reader, body: Node, field: str) -> Action | None:
    name = reader.text(body, field, "a storage policy name", check=fits(NAME, NAME_RULE))
    return None if name is None else StoragePolicyAction(name)


def _personal(reader: Reader, body: Node, field: str) -> Action | None:
    keys = reader.texts(body, field, "a metadata key", check=fits(KEY_PATTERN, KEY_RULE))
    return None if keys is None else PersonalAction(tuple(dict.fromkeys(keys)))


def _reject(reader: Reader, body: Node, field: str) -> Action | None:
    message = reader.text(body, field, "a message for the producer", check=_message)
    return None if message is None else RejectAction(message)


def _purge(reader: Reader, body: Node, field: str) -> Action | None:
    keys = reader.mapping(body, field, what="{} (purge takes no settings)")
    return None if keys is None or (isinstance(body, Mapping) and body.pairs) else PurgeAction()


def _notify(reader: Reader, body: Node, field: str) -> Action | None:
    keys = reader.mapping(body, field, optional=("message",), what="a mapping such as {}")
    if keys is None:
        return None
    if "message" not in keys:
        return NotifyAction()
    message = reader.text(keys["message"], join(field, "message"), check=_message)
    return None if message is None else NotifyAction(message)


def _transition(reader: Reader, body: Node, field: str) -> Action | None:
    keys = reader.mapping(body, field, required=("to",), what="a mapping such as {to: archive}")
    if keys is None or "to" not in keys:
        return None
    to = reader.text(keys["to"], join(field, "to"), check=fits(NAME, NAME_RULE))
    return None if to is None else TransitionAction(to)


_READERS: dict[str, ActionReader] = {
    "tag": _tag,
    "retention": _retention,
    "storage-policy": _storage_policy,
    "personal": _personal,
    "reject": _reject,
    "purge": _purge,
    "notify": _notify,
    "transition": _transition,
}
