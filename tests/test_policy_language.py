"""The policy language: reading, every validation problem with its line, matching, hints,
retention deadlines, content sniffing, and ``datoferum policy validate``."""

from __future__ import annotations

import json
import random
import re
import subprocess
import sys
import textwrap
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from datoferum.domain.policies import (
    FileFacts,
    NotifyAction,
    PersonalAction,
    Policy,
    PurgeAction,
    RejectAction,
    RetentionAction,
    StoragePolicyAction,
    TagAction,
    TransitionAction,
    load_policies,
    retention_deadline,
)
from datoferum.domain.policies.filters import (
    AgeFilter,
    AllOf,
    AnyOf,
    CollectionFilter,
    ContentTypeFilter,
    MetadataFilter,
    Not,
    PathFilter,
    SignalFilter,
    SizeFilter,
    SourceFilter,
    StateFilter,
    TagFilter,
)
from datoferum.domain.sniffing import HEAD_BYTES, sniff
from datoferum.errors import InvalidInput, PolicyError

NOW = datetime(2025, 6, 1, 12, 0, 0)


def policy_text(
    filters: str = "- collection: videos",
    actions: str = "- purge: {}",
    mode: str = "{type: manual}",
) -> str:
    """One policy whose first filter is on line 6 and first action on line 8."""
    return (
        "policies:\n"
        "  - name: p\n"
        "    resource: file\n"
        f"    mode: {mode}\n"
        "    filters:\n"
        f"{textwrap.indent(filters, '      ')}\n"
        "    actions:\n"
        f"{textwrap.indent(actions, '      ')}\n"
    )


def one(filters: str = "[]", actions: str = "- purge: {}", mode: str = "{type: manual}") -> Policy:
    (policy,) = load_policies(policy_text(filters, actions, mode), "p.yaml")
    return policy


def problems(text: str, source: str = "p.yaml") -> list[tuple[int, str, str]]:
    """Every problem as (line, field, message), in file order."""
    with pytest.raises(PolicyError) as caught:
        load_policies(textwrap.dedent(text), source)
    return [(p["line"], p["field"], p["message"]) for p in caught.value.errors]


def only_problem(text: str) -> tuple[int, str, str]:
    found = problems(text)
    assert len(found) == 1, found
    return found[0]


def facts(**changes: Any) -> FileFacts:
    given: dict[str, Any] = {
        "collection": "videos",
        "path": "raw/2025/a.mov",
        "content_type": "video/quicktime",
        "declared_content_type": "video/quicktime",
        "size": 5_000_000,
        "metadata": {"owner": "studio-b", "shot": "2025-01-10"},
        "tags": {"tier": "raw"},
        "captured_at": NOW - timedelta(days=40),
        "source": "token:cam-1",
        "state": "stored",
        "signals": {"consumed": NOW - timedelta(days=31)},
    }
    given.update(changes)
    return FileFacts(**given)


# --- reading --------------------------------------------------------------------------------

EXAMPLE = """\
policies:
  - name: raw-video-5-years
    description: Raw camera files are kept five years, then purged.
    resource: file
    mode:
      type: periodic
      schedule: "0 3 * * *"
    filters:
      - collection: videos
      - path: "raw/**/*.mov"
      - content-type: "video/*"
      - size: {gt: 1048576}
      - metadata: {key: owner, op: eq, value: studio-b}
      - tag: {key: tier, op: eq, value: raw}
      - age: {gt: {days: 30}}
      - signal: {name: consumed, age: {gt: {days: 30}}}
      - source: "token:*"
      - state: stored
      - or: [{collection: videos}, {collection: photos}]
      - and: [{state: [stored, held]}]
      - not: {path: "raw/tmp/**"}
    actions:
      - tag: {tier: raw}
      - retention: {years: 5, from: capture, mode: compliance, then: purge}
      - storage-policy: safe
      - personal: [cpf, email]
      - notify: {message: "purged a raw video"}
  - name: mp4-only
    resource: file
    mode: {type: capture}
    filters:
      - collection: uploads
      - not: {content-type: video/mp4}
    actions:
      - reject: "Only MP4 is accepted here"
      - notify: {}
  - name: after-consumption
    resource: file
    mode: {type: signal, signal: consumed}
    filters: []
    actions:
      - retention: {days: 7, from: "signal:consumed", mode: governance, then: transition}
      - transition: {to: archive}
"""


def test_example_reads_into_typed_records() -> None:
    raw, mp4, consumed = load_policies(EXAMPLE, "example.yaml")
    assert raw.name == "raw-video-5-years"
    assert raw.description == "Raw camera files are kept five years, then purged."
    assert (raw.resource, raw.mode.type, raw.mode.schedule) == ("file", "periodic", "0 3 * * *")
    assert raw.source == "example.yaml"
    assert [type(item) for item in raw.filters.items] == [
        CollectionFilter, PathFilter, ContentTypeFilter, SizeFilter, MetadataFilter, TagFilter,
        AgeFilter, SignalFilter, SourceFilter, StateFilter, AnyOf, AllOf, Not,
    ]  # fmt: skip
    assert raw.actions == (
        TagAction((("tier", "raw"),)),
        RetentionAction(timedelta(days=5 * 365), "capture", None, "compliance", "purge"),
        StoragePolicyAction("safe"),
        PersonalAction(("cpf", "email")),
        NotifyAction("purged a raw video"),
    )
    assert raw.action(RetentionAction) is raw.actions[1]
    assert raw.action(RejectAction) is None
    assert mp4.actions == (RejectAction("Only MP4 is accepted here"), NotifyAction())
    assert (consumed.mode.type, consumed.mode.signal) == ("signal", "consumed")
    assert consumed.filters == AllOf(())
    retention = consumed.action(RetentionAction)
    assert retention is not None
    assert (retention.basis, retention.basis_name, retention.counted_from) == (
        "signal", "consumed", "signal:consumed",
    )  # fmt: skip
    assert consumed.action(TransitionAction) == TransitionAction("archive")


def test_documented_examples_are_valid() -> None:
    guide = (Path(__file__).resolve().parent.parent / "docs" / "policies.md").read_text()
    blocks = re.findall(r"```yaml\n(.*?)```", guide, flags=re.S)
    assert len(blocks) >= 5
    for block in blocks:
        assert load_policies(block, "docs/policies.md")


def test_dump_round_trips_to_an_equal_policy() -> None:
    for policy in load_policies(EXAMPLE, "example.yaml"):
        (again,) = load_policies(policy.dump(), "stored")
        assert again == policy
        assert again.document == policy.document
        assert again.source == "stored"  # where it came from is not part of the policy


def test_document_is_canonical() -> None:
    """Equivalent spellings give the same document, so a store sees no change."""
    a = one("- collection: [videos]\n- age: {gt: {hours: 48}}", "- retention: {years: 1, "
            "mode: governance, then: purge}")  # fmt: skip
    b = one("- collection: videos\n- age: {gt: {days: 2}}", "- retention: {days: 365, "
            "from: capture, mode: governance, then: purge}")  # fmt: skip
    assert a == b
    assert a.document == b.document
    assert "- age: {gt: {days: 2}}" in a.document
    assert "- retention: {days: 365, from: capture, mode: governance, then: purge}" in a.document
    assert one("- collection: videos") != one("- collection: photos")


def test_unquoted_dates_and_quoted_numbers_stay_text() -> None:
    policy = one("- metadata: {key: shot, op: before, value: 2025-02-01}\n"
                 "- tag: {key: batch, op: eq, value: '7'}")  # fmt: skip
    assert policy.filters.items[0] == MetadataFilter("shot", "before", "2025-02-01")
    assert policy.filters.items[1] == TagFilter("batch", "eq", "7")
    assert load_policies(policy.dump())[0] == policy


def test_policy_error_is_invalid_input_with_serializable_problems() -> None:
    with pytest.raises(PolicyError) as caught:
        load_policies(policy_text("- colection: videos"), "rules/videos.yaml")
    error = caught.value
    assert isinstance(error, InvalidInput)
    assert error.code == "invalid-policy"
    assert error.extra["errors"] == error.errors
    assert json.loads(json.dumps(error.extra))["errors"][0] == {
        "source": "rules/videos.yaml",
        "line": 6,
        "field": "policies[0].filters[0]",
        "message": "unknown filter 'colection' (did you mean 'collection'?); known filters: "
        "collection, path, content-type, size, metadata, tag, age, signal, source, state, or, "
        "and, not",
    }
    assert error.detail.splitlines() == [
        "1 problem in rules/videos.yaml",
        "rules/videos.yaml:6: policies[0].filters[0]: " + error.errors[0]["message"],
    ]


def test_all_problems_are_reported_in_file_order() -> None:
    text = """\
        policies:
          - name: Bad_Name
            resource: files
            mode: {type: periodic, schedule: "61 * * * *"}
            filters:
              - size: {gt: "1k"}
              - path: "/raw/*"
            actions:
              - reject: no
          - name: second
            resource: file
            mode: {type: manual}
            filters: []
            actions: []
            extra: 1
    """
    with pytest.raises(PolicyError) as caught:
        load_policies(textwrap.dedent(text), "many.yaml")
    lines = caught.value.detail.splitlines()
    assert lines[0] == "9 problems in many.yaml"
    assert lines[1:] == [
        "many.yaml:2: policies[0].name: 'Bad_Name' is not a policy name (up to 128 lowercase "
        "letters, digits or '-')",
        "many.yaml:3: policies[0].resource: unknown resource 'files' (did you mean 'file'?); "
        "known resources: file",
        "many.yaml:4: policies[0].mode.schedule: cron '61 * * * *' is invalid: Bad minute; use "
        "five fields, such as '0 3 * * *'",
        "many.yaml:6: policies[0].filters[0].size.gt: expected a whole number, got the text '1k'",
        "many.yaml:7: policies[0].filters[1].path: paths are relative to their collection: "
        "write 'raw/*'",
        "many.yaml:9: policies[0].actions[0].reject: expected a message for the producer, got "
        "'no' (a yes/no value); quote it if you mean the text 'no'",
        "many.yaml:9: policies[0].actions[0]: 'reject' is only allowed in mode capture; this "
        "policy's mode is periodic",
        "many.yaml:14: policies[1].actions: the list is empty; a policy needs at least one action",
        "many.yaml:15: policies[1].extra: unknown key 'extra'; known keys: name, resource, mode, "
        "filters, actions, description",
    ]


# --- validation: every problem, its line and its field ----------------------------------------

FILTER = "policies[0].filters[0]"
ACTION = "policies[0].actions[0]"


@pytest.mark.parametrize(
    ("filters", "field", "message"),
    [
        ("- colection: videos", FILTER, "unknown filter 'colection' (did you mean 'collection'?)"),
        ("- 42", FILTER, "expected a mapping with one filter name as its key, got the number 42"),
        ("- {path: a, state: stored}", FILTER, "each filter is a mapping with exactly one key, "
         "this one has 2 (path, state)"),
        ("- collection: Videos", FILTER + ".collection", "'Videos' is not a collection name"),
        ("- collection: []", FILTER + ".collection", "the list is empty"),
        ("- collection: [a, 7]", FILTER + ".collection[1]", "expected a collection name, got the "
         "number 7; quote it if you mean the text '7'"),
        ("- path: ''", FILTER + ".path", "a glob cannot be empty"),
        ("- path: /raw/*", FILTER + ".path", "paths are relative to their collection"),
        ("- path: 'raw/[ab'", FILTER + ".path", "opens '[' at position 5 and never closes it"),
        ("- path: 'raw/[z-a]'", FILTER + ".path", "bad character range"),
        ("- content-type: video", FILTER + ".content-type", "'video' is not a media type glob"),
        ("- source: {a: b}", FILTER + ".source", "expected an actor glob such as 'token:*', got "
         "a mapping"),
        ("- state: stord", FILTER + ".state", "unknown state 'stord'; known states: receiving, "
         "captured, classified, placing, stored, held, purging, purged"),
        ("- size: 5", FILTER + ".size", "expected comparisons such as {gt: 1048576}"),
        ("- size: {}", FILTER + ".size", "give at least one of gt, ge, lt, le, eq"),
        ("- size: {gte: 5}", FILTER + ".size.gte", "unknown key 'gte' (did you mean 'gt'?); "
         "known keys: gt, ge, lt, le, eq"),
        ("- size: {gt: -1}", FILTER + ".size.gt", "-1 is out of range"),
        ("- size: {gt: 1.5}", FILTER + ".size.gt", "expected a whole number, got the number 1.5"),
        ("- size: {gt: 10, lt: 5}", FILTER + ".size", "no size satisfies all of these"),
        ("- metadata: {op: eq, value: x}", FILTER + ".metadata", "missing required key 'key'"),
        ("- metadata: {key: Owner, value: x}", FILTER + ".metadata.key", "'Owner' is not a key"),
        ("- metadata: {key: a, op: equals, value: x}", FILTER + ".metadata.op",
         "unknown op 'equals'; known ops: eq, ne, in, present, absent, glob, before, after"),
        ("- metadata: {key: a, op: eq}", FILTER + ".metadata", "op 'eq' needs a value"),
        ("- metadata: {key: a, op: present, value: x}", FILTER + ".metadata.value",
         "op 'present' takes no value; remove it"),
        ("- tag: {key: a, op: in, value: x}", FILTER + ".tag.value",
         "op 'in' takes a list of values, such as [a, b]"),
        ("- tag: {key: a, op: glob, value: '[x'}", FILTER + ".tag.value", "never closes it"),
        ("- tag: {key: a, op: before, value: soon}", FILTER + ".tag.value",
         "'soon' is not an ISO date or time, such as 2024-01-31 or 2024-01-31T12:00:00Z"),
        ("- tag: {key: a, op: eq, value: [x]}", FILTER + ".tag.value", "expected a value, got a "
         "list"),
        ("- age: {gt: 30}", FILTER + ".age.gt", "expected a duration such as {days: 30}"),
        ("- age: {gt: {weeks: 2}}", FILTER + ".age.gt.weeks", "unknown key 'weeks'; known keys: "
         "days, hours, minutes"),
        ("- age: {ge: {days: 2}}", FILTER + ".age.ge", "unknown key 'ge'; known keys: gt, lt"),
        ("- age: {}", FILTER + ".age", "give gt, lt or both"),
        ("- age: {gt: {days: 9}, lt: {days: 2}}", FILTER + ".age", "nothing is older than"),
        ("- age: {gt: {days: 400000}}", FILTER + ".age.gt.days", "out of range"),
        ("- signal: consumed", FILTER + ".signal", "expected a mapping such as {name: consumed}, "
         "got the text 'consumed'"),
        ("- signal: {name: Consumed!}", FILTER + ".signal.name", "'Consumed!' is not a name"),
        ("- signal: {name: x, age: {gt: {}}}", FILTER + ".signal.age.gt", "give at least one of "
         "days, hours, minutes"),
        ("- or: []", FILTER + ".or", "the list is empty; give at least one filter"),
        ("- or: {collection: a}", FILTER + ".or", "expected a list of filters, got a mapping"),
        ("- and: [{colour: red}]", FILTER + ".and[0]", "unknown filter 'colour'"),
        ("- not: [{collection: a}]", FILTER + ".not", "expected a mapping with one filter name"),
        ("- not: {not: {sise: {gt: 1}}}", FILTER + ".not.not", "unknown filter 'sise' (did you "
         "mean 'size'?)"),
    ],
)  # fmt: skip
def test_filter_problems(filters: str, field: str, message: str) -> None:
    line, got_field, got_message = only_problem(policy_text(filters))
    assert (line, got_field) == (6, field)
    assert message in got_message


@pytest.mark.parametrize(
    ("actions", "field", "message"),
    [
        ("- delete: {}", ACTION, "unknown action 'delete'; known actions: tag, retention, "
         "storage-policy, personal, reject, purge, notify, transition"),
        ("- purge", ACTION, "expected a mapping with one action name as its key, got the text "
         "'purge'"),
        ("- purge: ", ACTION + ".purge", "expected {} (purge takes no settings), got nothing"),
        ("- purge: {now: true}", ACTION + ".purge.now", "unknown key 'now'; it takes no keys"),
        ("- tag: {}", ACTION + ".tag", "give at least one tag"),
        ("- tag: {Tier: raw}", ACTION + ".tag", "'Tier' is not a key"),
        ("- tag: {tier: 1}", ACTION + ".tag.tier", "expected a tag value as text, got the "
         "number 1; quote it if you mean the text '1'"),
        ("- tag: [tier]", ACTION + ".tag", "expected tags as a mapping such as {tier: raw}"),
        ("- retention: {mode: governance, then: purge}", ACTION + ".retention",
         "give how long to keep the file: years, days or hours"),
        ("- retention: {days: 3, then: purge}", ACTION + ".retention",
         "missing required key 'mode'"),
        ("- retention: {days: x, mode: governance, then: purge}", ACTION + ".retention.days",
         "expected a whole number, got the text 'x'"),
        ("- retention: {years: 1001, mode: governance, then: purge}", ACTION + ".retention.years",
         "1001 is out of range (0 to 1000)"),
        ("- retention: {days: 1, mode: legal, then: purge}", ACTION + ".retention.mode",
         "unknown mode 'legal'; known modes: compliance, governance"),
        ("- retention: {days: 1, mode: governance, then: delete}", ACTION + ".retention.then",
         "unknown step 'delete'; known steps: purge, transition, notify"),
        ("- retention: {days: 1, from: upload, mode: governance, then: purge}",
         ACTION + ".retention.from", "'upload' is not a retention start; use capture, "
         "metadata:<key> (a key holding an ISO date) or signal:<name>"),
        ("- retention: {days: 1, from: 'metadata:', mode: governance, then: purge}",
         ACTION + ".retention.from", "is not a retention start"),
        ("- retention: {days: 1, mode: governance, then: transition}", ACTION + ".retention.then",
         "'then: transition' needs a 'transition' action in this policy"),
        ("- storage-policy: Safe", ACTION + ".storage-policy", "'Safe' is not a name"),
        ("- personal: []", ACTION + ".personal", "the list is empty"),
        ("- personal: [cpf, E-mail]", ACTION + ".personal[1]", "'E-mail' is not a key"),
        ("- notify: {message: ''}", ACTION + ".notify.message", "the message is empty"),
        ("- notify: {text: hi}", ACTION + ".notify.text", "unknown key 'text'; known keys: "
         "message"),
        ("- transition: {}", ACTION + ".transition", "missing required key 'to'"),
        ("- transition: {to: 'cold storage'}", ACTION + ".transition.to", "'cold storage' is not "
         "a name"),
        ("- reject: 'no'", ACTION, "'reject' is only allowed in mode capture; this policy's mode "
         "is manual"),
    ],
)  # fmt: skip
def test_action_problems(actions: str, field: str, message: str) -> None:
    line, got_field, got_message = only_problem(policy_text(actions=actions))
    assert (line, got_field) == (8, field)
    assert message in got_message


def test_mode_rules_for_actions() -> None:
    capture = "{type: capture}"
    assert only_problem(policy_text(actions="- purge: {}", mode=capture)) == (
        8, ACTION, "'purge' is not allowed in mode capture: nothing is stored yet; use 'reject' "
        "to refuse the file",
    )  # fmt: skip
    for mode in ("periodic, schedule: '0 3 * * *'", "signal, signal: consumed", "manual"):
        line, field, message = only_problem(
            policy_text(actions="- reject: nope", mode=f"{{type: {mode}}}")
        )
        assert (line, field) == (8, ACTION)
        assert message.startswith("'reject' is only allowed in mode capture")
    assert only_problem(policy_text(actions="- reject: nope\n- tag: {a: b}", mode=capture)) == (
        9, "policies[0].actions[1]", "'reject' refuses the file, so only 'notify' can go with "
        "it; remove it",
    )  # fmt: skip
    assert one(actions="- reject: nope\n- notify: {}", mode=capture).actions == (
        RejectAction("nope"), NotifyAction(),
    )  # fmt: skip


def test_actions_appear_once() -> None:
    assert only_problem(policy_text(actions="- tag: {a: b}\n- purge: {}\n- tag: {c: d}")) == (
        10, "policies[0].actions[2]", "'tag' is given twice (also on line 8); merge them"
    )  # fmt: skip


@pytest.mark.parametrize(
    ("mode", "field", "message"),
    [
        ("periodic", "policies[0].mode", "expected a mapping such as {type: capture}, got the "
         "text 'periodic'"),
        ("{type: hourly}", "policies[0].mode.type", "unknown mode 'hourly'; known modes: "
         "capture, periodic, signal, manual"),
        ("{type: periodic}", "policies[0].mode", "mode periodic needs 'schedule', such as "
         "schedule: '0 3 * * *'"),
        ("{type: signal}", "policies[0].mode", "mode signal needs 'signal', such as signal: "
         "consumed"),
        ("{type: manual, schedule: '0 3 * * *'}", "policies[0].mode.schedule",
         "'schedule' only applies to mode periodic; this mode is manual"),
        ("{type: periodic, schedule: '0 3 * * *', signal: x}", "policies[0].mode.signal",
         "'signal' only applies to mode signal; this mode is periodic"),
        ("{type: periodic, schedule: '61 * * * *'}", "policies[0].mode.schedule",
         "cron '61 * * * *' is invalid: Bad minute; use five fields, such as '0 3 * * *'"),
        ("{type: periodic, schedule: '0 0 30 2 *'}", "policies[0].mode.schedule",
         "cron '0 0 30 2 *' is invalid: Bad day-of-month"),
        ("{type: periodic, schedule: '0 3 * * * *'}", "policies[0].mode.schedule",
         "cron '0 3 * * * *' has 6 fields; use five (minute hour day-of-month month "
         "day-of-week), such as '0 3 * * *'"),
        ("{type: periodic, schedule: '@daily'}", "policies[0].mode.schedule", "has 1 fields"),
        ("{type: signal, signal: 'not a name'}", "policies[0].mode.signal",
         "'not a name' is not a name"),
    ],
)  # fmt: skip
def test_mode_problems(mode: str, field: str, message: str) -> None:
    line, got_field, got_message = only_problem(policy_text(mode=mode))
    assert (line, got_field) == (4, field)
    assert message in got_message


def test_valid_crons() -> None:
    for cron in ("0 3 * * *", "*/15 * * * 1-5", "0 0 29 2 *", "30 2 1 */3 *"):
        assert one(mode=f"{{type: periodic, schedule: '{cron}'}}").mode.schedule == cron


def test_policy_level_problems() -> None:
    assert problems("""\
        policies:
          - name: a
            description: [x]
            resource: file
            mode: {type: manual}
            filters: {collection: a}
            actions: [{purge: {}}]
          - name: a
            resource: file
            mode: {type: manual}
            filters: []
            actions: [{purge: {}}]
          - - name: b
          - name:
            resource: file
            mode: {type: manual}
            filters: []
            actions: [{purge: {}}]
            actions: [{purge: {}}]
    """) == [
        (3, "policies[0].description", "expected a text, got a list"),
        (6, "policies[0].filters", "expected a list of filters, got a mapping"),
        (8, "policies[1].name", "the policy name 'a' is used twice (first on line 2); names must "
         "be unique"),
        (13, "policies[2]", "expected a policy (a mapping with name, resource, mode, filters, "
         "actions), got a list"),
        (14, "policies[3].name", "expected a policy name (up to 128 lowercase letters, digits or "
         "'-'), got nothing"),
        (19, "policies[3].actions", "'actions' is given twice (also on line 18)"),
    ]  # fmt: skip


def test_missing_keys_are_reported_on_the_policy_line() -> None:
    assert problems("""\
        policies:
          - name: lonely
            description: nothing else
    """) == [
        (2, "policies[0]", f"missing required key {key!r}")
        for key in ("resource", "mode", "filters", "actions")
    ]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", (1, "", "the file is empty; a policy file starts with 'policies:'")),
        ("# only a comment\n", (1, "", "the file is empty; a policy file starts with "
                                   "'policies:'")),
        ("- name: a\n", (1, "", "expected a mapping with a 'policies' list, got a list")),
        ("policy:\n  - name: a\n", (1, "policy", "unknown key 'policy' (did you mean "
                                    "'policies'?); known keys: policies")),
        ("policies: {name: a}\n", (1, "policies", "expected a list of policies, got a mapping")),
        ("policies:\n", (1, "policies", "expected a list of policies, got nothing")),
        ("policies: []\n1: x\n", (2, "", "keys must be text, got the number 1")),
        ("base: &b {a: 1}\npolicies: []\n", (1, "base", "unknown key 'base'; known keys: "
                                                "policies")),
    ],
)  # fmt: skip
def test_document_problems(text: str, expected: tuple[int, str, str]) -> None:
    assert problems(text)[0] == expected


def test_merge_keys_and_foreign_tags_are_refused() -> None:
    text = """\
        policies:
          - <<: {name: a}
            resource: !!python/name:os.system file
            mode: !custom {type: manual}
    """
    found = problems(text)
    assert (2, "policies[0]", "missing required key 'name'") in found
    assert [problem for problem in found if "missing" not in problem[2]] == [
        (2, "policies[0]", "merge keys ('<<') are not supported"),
        (3, "policies[0].resource", "the YAML tag !!python/name:os.system is not supported here"),
        (4, "policies[0].mode", "the YAML tag !custom is not supported here"),
    ]  # fmt: skip
    assert problems("policies: !!binary aGVsbG8=\n") == [
        (1, "policies", "the YAML tag !!binary is not supported here")
    ]


def test_empty_policy_list_is_valid() -> None:
    assert load_policies("policies: []\n", "none.yaml") == []


def test_duplicate_yaml_keys_are_caught() -> None:
    """PyYAML keeps the last of two equal keys silently; a policy author never means that."""
    assert only_problem(policy_text("- size: {gt: 1, gt: 2}")) == (
        6, FILTER + ".size.gt", "'gt' is given twice (also on line 6)",
    )  # fmt: skip


# --- malformed and hostile input ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "line", "fragment"),
    [
        ("policies:\n  - name: a\n\tresource: file\n", 3, "found a tab character that violates "
         "indentation"),
        ("policies:\n  - name: a\n\tresource: file\n", 3, "indent with spaces, not tabs"),
        ("policies:\n  - name: a\n   resource: file\n", 3, "did not find expected '-' indicator"),
        ("policies:\n  - name: a\n      resource: file\n", 3, "mapping values are not allowed"),
        ("policies: [a, b\nnext: 1\n", 2, "did not find expected ',' or ']' (while parsing a "
         "flow sequence started on line 1)"),
        ("policies:\n  - name: 'unterminated\n", 3, "found unexpected end of stream"),
        ("policies: []\n---\npolicies: []\n", 2, "a policy file holds one YAML document"),
        ("policies: [*nowhere]\n", 1, "alias *nowhere refers to no anchor defined before it"),
        ("policies: []\nname: a\x07b\n", 2, "control characters are not allowed"),
        ("a: 1\nb: \ud800\n", 2, "unpaired surrogate"),
    ],
)  # fmt: skip
def test_malformed_yaml_is_located(text: str, line: int, fragment: str) -> None:
    (got_line, field, message) = only_problem(text)
    assert (got_line, field) == (line, "")
    assert fragment in message


@pytest.mark.timeout(10)  # an unguarded parser would run for minutes
def test_alias_bombs_are_refused_quickly() -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for index, name in enumerate("bcdefghij"):
        previous = "abcdefghij"[index]
        levels.append(f"{name}: &{name} [{', '.join([f'*{previous}'] * 10)}]")
    bomb = "\n".join([*levels, "policies: *j"]) + "\n"
    line, _, message = only_problem(bomb)
    assert line == 6  # the first line whose aliases pass the budget: 10**6 values
    assert "more than 200000 values once aliases are expanded" in message


def test_modest_anchors_still_work() -> None:
    text = """\
        policies:
          - name: a
            resource: file
            mode: &manual {type: manual}
            filters: &raw [{path: "raw/**"}]
            actions: [{purge: {}}]
          - name: b
            resource: file
            mode: *manual
            filters: *raw
            actions: [{tag: {a: b}}]
    """
    a, b = load_policies(textwrap.dedent(text))
    assert a.filters == b.filters
    assert a.mode == b.mode


@pytest.mark.timeout(10)  # an unguarded parser would run for minutes
def test_deep_nesting_is_refused_without_crashing() -> None:
    line, _, message = only_problem("policies: " + "[" * 100_000 + "]" * 100_000)
    assert (line, message) == (1, "values nest deeper than 64 levels")
    nested = "{collection: a}"
    for _ in range(17):
        nested = f"{{not: {nested}}}"
    line, field, message = only_problem(policy_text(f"- {nested}"))
    assert line == 6
    assert message == "filters nest deeper than 16 levels"
    assert field == FILTER + ".not" * 17  # the seventeenth level is refused


@pytest.mark.timeout(10)  # an unguarded parser would run for minutes
def test_junk_and_huge_input_fail_fast() -> None:
    rnd = random.Random(7)
    alphabet = "abc:-[]{}#&*!|>'\"%@` \n\t,?"
    junk = "".join(rnd.choice(alphabet) for _ in range(1_000_000))
    with pytest.raises(PolicyError) as caught:
        load_policies(junk, "junk.yaml")
    assert caught.value.errors[0]["line"] >= 1
    too_big = "policies: []\n" + "#" * (1024 * 1024)
    assert only_problem(too_big) == (
        1, "", f"the file has {len(too_big)} characters; policy files are limited to 1048576",
    )  # fmt: skip


def test_problem_lists_stop_at_one_hundred() -> None:
    filters = "\n".join(f"- nope{index}: 1" for index in range(150))
    with pytest.raises(PolicyError) as caught:
        load_policies(policy_text(filters), "p.yaml")
    assert len(caught.value.errors) == 100
    assert caught.value.detail.splitlines()[0] == (
        "100 problems in p.yaml (stopped after the first 100)"
    )


@pytest.mark.timeout(10)  # 2,000 policies take well under a second
def test_a_large_valid_file_loads() -> None:
    text = "policies:\n" + "".join(
        f"  - name: p{index}\n    resource: file\n    mode: {{type: manual}}\n"
        f"    filters: [{{path: 'raw/**'}}, {{size: {{gt: {index}}}}}]\n"
        "    actions: [{purge: {}}]\n"
        for index in range(2000)
    )
    assert len(load_policies(text)) == 2000


# --- matching -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("glob", "path", "matched"),
    [
        ("raw/*.mov", "raw/a.mov", True),
        ("raw/*.mov", "raw/x/a.mov", False),  # '*' stays within a folder
        ("raw/**/*.mov", "raw/a.mov", True),  # '**/' may be no folder at all
        ("raw/**/*.mov", "raw/x/y/a.mov", True),
        ("raw/**/*.mov", "raw/x/a.mp4", False),
        ("raw/**/*.mov", "other/raw/a.mov", False),  # globs match the whole path
        ("raw/**", "raw/x/y", True),
        ("**/*.mov", "a.mov", True),
        ("**/*.mov", "d/e/a.mov", True),
        ("**.mov", "d/a.mov", True),
        ("*", "a.mov", True),
        ("*", "d/a.mov", False),
        ("raw/?.mov", "raw/a.mov", True),
        ("raw/?.mov", "raw/ab.mov", False),
        ("raw/?", "raw//", False),  # '?' is never '/'
        ("take[0-9].mov", "take7.mov", True),
        ("take[!0-9].mov", "take7.mov", False),
        ("take[!0-9].mov", "takeX.mov", True),
        ("a+b (1).mov", "a+b (1).mov", True),  # regex characters are literal
        ("a.mov", "aXmov", False),
        ("RAW/*.mov", "raw/a.mov", False),  # paths are case-sensitive
    ],
)
def test_path_globs(glob: str, path: str, matched: bool) -> None:
    policy = one(f"- path: {json.dumps(glob)}")
    assert policy.matches(facts(path=path), NOW) is matched


def test_glob_lists_match_any() -> None:
    policy = one("- path: ['*.mov', 'edit/**']")
    assert policy.matches(facts(path="a.mov"), NOW)
    assert policy.matches(facts(path="edit/x/y.mp4"), NOW)
    assert not policy.matches(facts(path="raw/a.mp4"), NOW)


def test_collection_state_and_source() -> None:
    assert one("- collection: videos").matches(facts(), NOW)
    assert not one("- collection: photos").matches(facts(), NOW)
    assert one("- collection: [photos, videos]").matches(facts(), NOW)
    assert one("- state: stored").matches(facts(), NOW)
    assert not one("- state: [held, purged]").matches(facts(), NOW)
    assert one("- source: 'token:*'").matches(facts(), NOW)
    assert not one("- source: 'token:*'").matches(facts(source="system"), NOW)
    assert not one("- source: 'token:cam'").matches(facts(), NOW)


def test_content_type_uses_sniffed_then_declared() -> None:
    policy = one("- content-type: 'video/*'")
    assert policy.matches(facts(content_type="video/mp4", declared_content_type="text/plain"), NOW)
    assert not policy.matches(facts(content_type="application/pdf",
                                    declared_content_type="video/mp4"), NOW)  # fmt: skip
    assert policy.matches(facts(content_type=None, declared_content_type="video/mp4"), NOW)
    assert not policy.matches(facts(content_type=None, declared_content_type=None), NOW)
    assert one("- content-type: VIDEO/MP4").matches(facts(content_type="video/mp4"), NOW)
    assert one("- content-type: [text/csv, 'application/*']").matches(
        facts(content_type="application/pdf"), NOW
    )


@pytest.mark.parametrize(
    ("ops", "size", "matched"),
    [
        ("{gt: 100}", 101, True),
        ("{gt: 100}", 100, False),
        ("{ge: 100}", 100, True),
        ("{ge: 100}", 99, False),
        ("{lt: 100}", 99, True),
        ("{lt: 100}", 100, False),
        ("{le: 100}", 100, True),
        ("{le: 100}", 101, False),
        ("{eq: 100}", 100, True),
        ("{eq: 100}", 101, False),
        ("{gt: 10, lt: 20}", 15, True),
        ("{gt: 10, lt: 20}", 20, False),
        ("{ge: 0}", 0, True),
    ],
)
def test_size_ops(ops: str, size: int, matched: bool) -> None:
    assert one(f"- size: {ops}").matches(facts(size=size), NOW) is matched


@pytest.mark.parametrize("kind", ["metadata", "tag"])
@pytest.mark.parametrize(
    ("body", "value", "matched"),
    [
        ("op: eq, value: b", "b", True),
        ("op: eq, value: b", "c", False),
        ("op: eq, value: b", None, False),
        ("value: b", "b", True),  # eq is the default op
        ("op: ne, value: b", "c", True),
        ("op: ne, value: b", "b", False),
        ("op: ne, value: b", None, True),  # a missing key differs from every value
        ("op: in, value: [a, b]", "b", True),
        ("op: in, value: [a, b]", "c", False),
        ("op: in, value: [a, b]", None, False),
        ("op: present", "", True),
        ("op: present", None, False),
        ("op: absent", None, True),
        ("op: absent", "x", False),
        ("op: glob, value: 'studio-*'", "studio-b", True),
        ("op: glob, value: 'studio-*'", "studio/b", False),
        ("op: glob, value: 'studio-*'", None, False),
        ("op: before, value: 2025-02-01", "2025-01-31", True),
        ("op: before, value: 2025-02-01", "2025-02-01", False),
        ("op: before, value: 2025-02-01", "2025-01-31T23:59:59Z", True),
        ("op: before, value: 2025-02-01", "2025-02-01T01:00:00+02:00", True),  # 23:00 UTC
        ("op: before, value: 2025-02-01", "soon", False),
        ("op: before, value: 2025-02-01", None, False),
        ("op: after, value: '2025-02-01T12:00:00Z'", "2025-02-01T12:00:01", True),
        ("op: after, value: '2025-02-01T12:00:00Z'", "2025-02-01", False),
        ("op: after, value: '2025-02-01T12:00:00-03:00'", "2025-02-01T14:00:00Z", False),
    ],
)
def test_value_ops(kind: str, body: str, value: str | None, matched: bool) -> None:
    policy = one(f"- {kind}: {{key: k, {body}}}")
    pairs = {} if value is None else {"k": value}
    field = "metadata" if kind == "metadata" else "tags"
    other = "tags" if kind == "metadata" else "metadata"
    assert policy.matches(facts(**{field: pairs, other: {"k": "b"}}), NOW) is matched


@pytest.mark.parametrize(
    ("ops", "age", "matched"),
    [
        ("{gt: {days: 30}}", timedelta(days=31), True),
        ("{gt: {days: 30}}", timedelta(days=30), False),
        ("{lt: {hours: 1}}", timedelta(minutes=59), True),
        ("{lt: {hours: 1}}", timedelta(hours=1), False),
        ("{gt: {days: 1}, lt: {days: 2, hours: 12}}", timedelta(days=2), True),
        ("{gt: {days: 1}, lt: {days: 2, hours: 12}}", timedelta(days=3), False),
        ("{gt: {minutes: 90}}", timedelta(hours=1, minutes=31), True),
    ],
)
def test_age(ops: str, age: timedelta, matched: bool) -> None:
    assert one(f"- age: {ops}").matches(facts(captured_at=NOW - age), NOW) is matched


def test_signals() -> None:
    got = facts(signals={"consumed": NOW - timedelta(days=10)})
    assert one("- signal: {name: consumed}").matches(got, NOW)
    assert not one("- signal: {name: approved}").matches(got, NOW)
    assert one("- signal: {name: consumed, age: {gt: {days: 9}}}").matches(got, NOW)
    assert not one("- signal: {name: consumed, age: {gt: {days: 10}}}").matches(got, NOW)
    assert one("- signal: {name: consumed, age: {lt: {days: 11}}}").matches(got, NOW)
    assert not one("- signal: {name: approved, age: {lt: {days: 99}}}").matches(got, NOW)


def test_or_and_not() -> None:
    assert one("- or: [{collection: photos}, {collection: videos}]").matches(facts(), NOW)
    assert not one("- or: [{collection: photos}, {state: held}]").matches(facts(), NOW)
    assert one("- and: [{collection: videos}, {state: stored}]").matches(facts(), NOW)
    assert not one("- and: [{collection: videos}, {state: held}]").matches(facts(), NOW)
    assert one("- not: {collection: photos}").matches(facts(), NOW)
    assert not one("- not: {collection: videos}").matches(facts(), NOW)
    nested = one("- or: [{not: {and: [{collection: videos}, {size: {gt: 10}}]}}, {state: held}]")
    assert not nested.matches(facts(), NOW)
    assert nested.matches(facts(size=5), NOW)
    assert nested.matches(facts(state="held"), NOW)


def test_all_filters_must_match_and_no_filters_match_everything() -> None:
    policy = one("- collection: videos\n- size: {gt: 1000}\n- tag: {key: tier, value: raw}")
    assert policy.matches(facts(), NOW)
    assert not policy.matches(facts(size=10), NOW)
    assert not policy.matches(facts(tags={}), NOW)
    assert one("[]").matches(facts(), NOW)
    assert one("[]").actions == (PurgeAction(),)


# --- catalog hints --------------------------------------------------------------------------


def test_sql_hints() -> None:
    policy = one(
        "- collection: [videos, photos]\n- path: 'raw/2025/**/*.mov'\n- size: {gt: 99, le: 500}\n"
        "- age: {gt: {days: 30}, lt: {days: 60}}\n- state: [stored, held]\n"
        "- metadata: {key: a, op: present}"
    )
    hints = policy.sql_hints(NOW)
    assert hints.collections == frozenset({"videos", "photos"})
    assert hints.path_prefix == "raw/2025/"
    assert (hints.min_size, hints.max_size) == (100, 500)
    assert hints.captured_before == NOW - timedelta(days=30)
    assert hints.captured_after == NOW - timedelta(days=60)
    assert hints.states == frozenset({"stored", "held"})


def test_sql_hints_stay_conservative_through_or_and_not() -> None:
    either = one("- or: [{path: 'raw/a/*'}, {path: 'raw/b*'}]").sql_hints(NOW)
    assert either.path_prefix == "raw/"
    assert one("- or: [{collection: a}, {size: {gt: 5}}]").sql_hints(NOW).collections is None
    negated = one("- not: {collection: videos}").sql_hints(NOW)
    assert negated.collections is None
    both = one("- collection: [a, b]\n- and: [{collection: [b, c]}]").sql_hints(NOW)
    assert both.collections == frozenset({"b"})
    assert one("[]").sql_hints(NOW).admits(facts())


_RANDOM_FILTERS: list[Any] = [
    {"collection": ["videos"]},
    {"collection": ["photos", "videos"]},
    {"path": "raw/**"},
    {"path": ["raw/*.mov", "edit/**"]},
    {"path": "**/*.mov"},
    {"path": "ra?/[a-c]*"},
    {"size": {"gt": 1000}},
    {"size": {"ge": 10, "le": 5000}},
    {"size": {"eq": 4000}},
    {"age": {"gt": {"days": 10}}},
    {"age": {"lt": {"days": 20}}},
    {"age": {"gt": {"hours": 1}, "lt": {"days": 5}}},
    {"state": ["stored", "held"]},
    {"state": "captured"},
    {"metadata": {"key": "owner", "op": "eq", "value": "x"}},
    {"tag": {"key": "tier", "op": "absent"}},
    {"signal": {"name": "consumed"}},
    {"content-type": "video/*"},
]


def _random_filter(rnd: random.Random, depth: int = 0) -> Any:
    roll = rnd.random()
    if depth < 3 and roll < 0.15:
        return {"not": _random_filter(rnd, depth + 1)}
    if depth < 3 and roll < 0.35:
        group = [_random_filter(rnd, depth + 1) for _ in range(rnd.randint(1, 3))]
        return {rnd.choice(["or", "and"]): group}
    return rnd.choice(_RANDOM_FILTERS)


def _random_facts(rnd: random.Random) -> FileFacts:
    return facts(
        collection=rnd.choice(["videos", "photos", "docs"]),
        path=rnd.choice(["raw/a.mov", "raw/x/b.mov", "edit/c.mp4", "rab/c.txt", "a.mov"]),
        size=rnd.choice([0, 5, 10, 999, 1000, 1001, 4000, 5000, 5001]),
        captured_at=NOW - timedelta(hours=rnd.randint(0, 24 * 40)),
        state=rnd.choice(["captured", "stored", "held"]),
        metadata=rnd.choice([{}, {"owner": "x"}]),
        tags=rnd.choice([{}, {"tier": "raw"}]),
        signals=rnd.choice([{}, {"consumed": NOW}]),
        content_type=rnd.choice(["video/mp4", "text/plain"]),
    )


def test_hints_admit_every_match() -> None:
    """Property: for random policies and files, a match always passes the policy's hints."""
    rnd = random.Random(20250601)
    matched = 0
    for _ in range(300):
        filters = [_random_filter(rnd) for _ in range(rnd.randint(0, 4))]
        document = {"policies": [{"name": "p", "resource": "file", "mode": {"type": "manual"},
                                  "filters": filters, "actions": [{"purge": {}}]}]}  # fmt: skip
        try:
            (policy,) = load_policies(yaml.safe_dump(document), "random")
        except PolicyError:
            continue  # e.g. random ages that no file can have
        hints = policy.sql_hints(NOW)
        for _ in range(60):
            candidate = _random_facts(rnd)
            if policy.matches(candidate, NOW):
                matched += 1
                assert hints.admits(candidate), (policy.document, candidate, hints)
    assert matched > 1000


# --- retention deadlines --------------------------------------------------------------------


def _retention(basis: str, period: str = "days: 10") -> RetentionAction:
    policy = one(actions=f"- retention: {{{period}, from: '{basis}', mode: governance, "
                 "then: purge}")  # fmt: skip
    action = policy.action(RetentionAction)
    assert action is not None
    return action


def test_retention_deadline_from_each_basis() -> None:
    captured = datetime(2025, 1, 1, 8, 0)
    file = facts(
        captured_at=captured,
        metadata={"due": "2025-03-01", "stamp": "2025-03-01T10:00:00-03:00", "bad": "soon"},
        signals={"consumed": datetime(2025, 2, 1, 9, 30)},
    )
    assert retention_deadline(_retention("capture"), file) == datetime(2025, 1, 11, 8, 0)
    assert retention_deadline(_retention("metadata:due"), file) == datetime(2025, 3, 11)
    assert retention_deadline(_retention("metadata:stamp"), file) == datetime(2025, 3, 11, 13)
    assert retention_deadline(_retention("metadata:bad"), file) is None
    assert retention_deadline(_retention("metadata:missing"), file) is None
    assert retention_deadline(_retention("signal:consumed"), file) == datetime(2025, 2, 11, 9, 30)
    assert retention_deadline(_retention("signal:approved"), file) is None


def test_retention_periods() -> None:
    assert _retention("capture", "years: 2").period == timedelta(days=730)
    assert _retention("capture", "days: 1, hours: 36").period == timedelta(days=2, hours=12)
    assert _retention("capture", "hours: 0").period == timedelta(0)
    far = facts(metadata={"due": "9999-01-01"})
    assert retention_deadline(_retention("metadata:due", "years: 5"), far) == datetime.max


# --- content sniffing -------------------------------------------------------------------------

MAGIC = {
    "mp4": (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00mp42isom", "video/mp4"),
    "mp4-isom": (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41", "video/mp4"),
    "quicktime": (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00qt  ", "video/quicktime"),
    "png": (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x01\x00", "image/png"),
    "jpeg": (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01\x01\x00", "image/jpeg"),
    "pdf": (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "application/pdf"),
    "zip": (b"PK\x03\x04\x14\x00\x00\x00\x08\x00\x00\x00!\x00", "application/zip"),
    "gzip": (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\x03\xed\xbd", "application/gzip"),
    "parquet": (b"PAR1\x15\x04\x15\x80\x01\x15\x80\x01L\x15", "application/vnd.apache.parquet"),
    "webp": (b"RIFF\x24\x00\x00\x00WEBPVP8 \x18\x00\x00\x00", "image/webp"),
    "wav": (b"RIFF\x24\x08\x00\x00WAVEfmt \x10\x00\x00\x00", "audio/wav"),
}


@pytest.mark.parametrize("name", sorted(MAGIC))
def test_sniff_magic_numbers(name: str) -> None:
    head, expected = MAGIC[name]
    body = head + bytes(range(256)) * 40  # binary after the signature, longer than a head
    assert sniff(body, None) == expected
    assert sniff(body, "text/plain") == expected  # the bytes win over the declared type
    assert sniff(head, "application/octet-stream") == expected


@pytest.mark.parametrize(
    ("head", "declared", "expected"),
    [
        (b"hello world\n", None, "text/plain"),
        ("olá, mundo\nsegunda linha".encode(), None, "text/plain"),
        (b'{"a": 1, "b": [true, null]}', None, "application/json"),
        (b'  [1, 2, {"x": "y"}]\n', "text/plain", "application/json"),
        (b'{"a": 1', None, "text/plain"),  # a whole file that is not JSON
        (b'{"a": "' + b"x" * HEAD_BYTES, None, "application/json"),  # a head of a large JSON
        (b"id,name,city\n1,Ana,Rio\n2,\"Lima, J\",Natal\n", None, "text/csv"),
        (b"id;name\n1;Ana\n2;Bia\n", None, "text/csv"),
        (b"id,name\n1,Ana,extra\n", None, "text/plain"),  # uneven fields
        (b"# Title\n\nSome text.\n", "text/markdown; charset=utf-8", "text/markdown"),
        (b"a,b\n1,2\n", "text/markdown", "text/markdown"),  # a declared text type is kept
        (b"a,b\n1,2\n", "text/plain", "text/csv"),
        (b"BMW and MZ are just text\n", None, "text/plain"),  # short signatures need binary
        (b"\xef\xbb\xbfid,name\n1,Ana\n", None, "text/csv"),  # UTF-8 byte order mark
        (("é" * HEAD_BYTES).encode()[:HEAD_BYTES], None, "text/plain"),  # cut mid-character
        (b"plain text", "video/mp4", "text/plain"),  # text is not a video
        (bytes(range(256)) * 8, "video/mp4", "video/mp4"),  # unknown binary: trust the label
        (bytes(range(256)) * 8, "text/plain", "application/octet-stream"),  # binary is not text
        (bytes(range(256)) * 8, None, "application/octet-stream"),
        (bytes(range(256)) * 8, "not a type", "application/octet-stream"),
        (b"", "Video/MP4", "video/mp4"),
        (b"", None, "application/octet-stream"),
    ],
)  # fmt: skip
def test_sniff_text_and_fallbacks(head: bytes, declared: str | None, expected: str) -> None:
    assert sniff(head, declared) == expected


def test_sniff_reads_only_the_head() -> None:
    text_then_binary = b"a" * HEAD_BYTES + b"\x00\x01\x02"
    assert sniff(text_then_binary, None) == "text/plain"


# --- the command line ---------------------------------------------------------------------


def _validate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "datoferum", "policy", "validate", *args],
        cwd=cwd, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_cli_validate(tmp_path: Path) -> None:
    (tmp_path / "good.yaml").write_text(EXAMPLE)
    (tmp_path / "bad.yaml").write_text(policy_text("- colection: videos", "- reject: no"))
    (tmp_path / "latin1.yaml").write_bytes(b"policies: []\n# caf\xe9\n")

    good = _validate("good.yaml", cwd=tmp_path)
    assert (good.returncode, good.stdout, good.stderr) == (0, "ok: 3 policies in good.yaml\n", "")

    bad = _validate("good.yaml", "bad.yaml", "latin1.yaml", cwd=tmp_path)
    assert bad.returncode == 1
    assert bad.stdout.splitlines() == [
        "ok: 3 policies in good.yaml",
        "bad.yaml:6: policies[0].filters[0]: unknown filter 'colection' (did you mean "
        "'collection'?); known filters: collection, path, content-type, size, metadata, tag, "
        "age, signal, source, state, or, and, not",
        "bad.yaml:8: policies[0].actions[0].reject: expected a message for the producer, got "
        "'no' (a yes/no value); quote it if you mean the text 'no'",
        "bad.yaml:8: policies[0].actions[0]: 'reject' is only allowed in mode capture; this "
        "policy's mode is manual",
        "latin1.yaml:2: the file is not UTF-8 text (byte 0xe9)",
    ]
    assert bad.stderr == "datoferum: error: 2 of 3 policy files have problems\n"

    as_json = _validate("--json", "good.yaml", "bad.yaml", cwd=tmp_path)
    assert as_json.returncode == 1
    report = json.loads(as_json.stdout)
    assert report[0] == {
        "file": "good.yaml",
        "policies": ["raw-video-5-years", "mp4-only", "after-consumption"],
        "problems": [],
    }
    assert [(p["line"], p["field"]) for p in report[1]["problems"]] == [
        (6, "policies[0].filters[0]"), (8, "policies[0].actions[0].reject"),
        (8, "policies[0].actions[0]"),
    ]  # fmt: skip

    missing = _validate("nowhere.yaml", cwd=tmp_path)
    assert missing.returncode == 2
    assert "nowhere.yaml" in missing.stderr
